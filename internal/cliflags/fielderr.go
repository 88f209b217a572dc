package cliflags

import (
	"flag"
	"reflect"
	"strings"

	"github.com/bulwark-ml/bulwark/train"
)

// FlagNames maps the names of the fields of the struct *cfg to "--" and
// the name of the flag of fs bound to each, found by address: the flag's
// value (from fs.StringVar(&cfg.Field, ...) or a flag.Value that points
// at the field) holds the field's address. So no table can go stale.
func FlagNames(fs *flag.FlagSet, cfg any) map[string]string {
	v := reflect.ValueOf(cfg).Elem()
	byAddr := map[uintptr]string{}
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() {
			byAddr[v.Field(i).Addr().Pointer()] = f.Name
		}
	}
	names := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		p := reflect.ValueOf(f.Value)
		if p.Kind() != reflect.Pointer {
			return
		}
		if field, ok := byAddr[p.Pointer()]; ok {
			names[field] = "--" + f.Name
		}
	})
	return names
}

// RenderFieldErrors rewrites every train.FieldError inside err in terms
// of flags: each field named by its flag in names, else as it is.
func RenderFieldErrors(err error, names map[string]string) error {
	if err == nil {
		return nil
	}
	flagOf := func(field string) string {
		if n, ok := names[field]; ok {
			return n
		}
		return field
	}
	msg, found := err.Error(), false
	var walk func(error)
	walk = func(e error) {
		if fe, ok := e.(*train.FieldError); ok {
			msg, found = strings.Replace(msg, fe.Error(), fe.Render(flagOf), 1), true
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				walk(inner)
			}
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		}
	}
	walk(err)
	if !found {
		return err
	}
	return &renderedError{msg, err}
}

// renderedError is an error with its message rewritten for the command
// line; it unwraps to the original.
type renderedError struct {
	msg string
	err error
}

func (e *renderedError) Error() string { return e.msg }
func (e *renderedError) Unwrap() error { return e.err }

// MergeNames returns the union of field-to-flag maps, the earlier ones
// winning.
func MergeNames(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out
}
