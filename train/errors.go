package train

import (
	"fmt"
	"regexp"
)

// FieldError is an error about one setting. Field is the name of the
// Config or Options field at fault ("LR", "Resume"), and the message may
// mention other fields as {Name}. Error renders every name as it is
// spelled in Go; a command-line front end renders them as its flags with
// Render, so the library's errors never assume a CLI and the CLI's never
// show Go names.
type FieldError struct {
	Field string
	Msg   string // the message, with other fields as {Name}
	Err   error  // the cause, if any
}

// fieldNames matches a {Name} placeholder.
var fieldNames = regexp.MustCompile(`\{([A-Z][A-Za-z]*)\}`)

// Render formats e with every field name, its own and the {Name}s of the
// message, replaced by name(field).
func (e *FieldError) Render(name func(field string) string) string {
	msg := fieldNames.ReplaceAllStringFunc(e.Msg, func(m string) string { return name(m[1 : len(m)-1]) })
	s := name(e.Field)
	if msg != "" {
		s += ": " + msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Error formats e with Go field names: "LR: -1 is not a non-negative
// number".
func (e *FieldError) Error() string { return e.Render(func(f string) string { return f }) }

func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrorf returns a FieldError about field with a formatted message.
func FieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// WrapField returns a FieldError about field caused by err, with an
// optional formatted message before it (format may be "").
func WrapField(field string, err error, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: err}
}
