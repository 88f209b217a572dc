// Package configdiff names the first setting in which two configurations
// differ, for "this run directory holds other settings" errors.
package configdiff

import (
	"reflect"
	"strings"
)

// First returns the JSON name of the first field in which the structs a
// and b (of the same type) differ, or "" if they are equal.
func First(a, b any) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			name, _, _ := strings.Cut(va.Type().Field(i).Tag.Get("json"), ",")
			return name
		}
	}
	return ""
}
