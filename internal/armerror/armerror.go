// Package armerror owns vnetml's one error shape: Azure Resource Manager's
// {"error": {"code", "message", "target", "details"}}.
//
// Every package that rejects input returns an *Error (or a List of them), so
// the API server, the CLI and tests decide by Code, never by matching text.
// The message carries a hint of the fix, as Azure's messages do.
package armerror

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Error is one ARM-shaped error. Code is Azure's error code where Azure has
// one (SecurityRuleConflict, InvalidCIDRNotation, ...); Target is the JSON
// path of the offending field, rooted at the document (for example
// "properties.securityRules[2].priority"); Message says what is wrong and
// how to fix it.
type Error struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Target  string   `json:"target,omitempty"`
	Details []*Error `json:"details,omitempty"`
}

// New returns an error with the given code, target and formatted message.
func New(code, target, format string, args ...any) *Error {
	return &Error{Code: code, Target: target, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Target != "" {
		b.WriteString(" (")
		b.WriteString(e.Target)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	for _, d := range e.Details {
		b.WriteString("\n  ")
		b.WriteString(strings.ReplaceAll(d.Error(), "\n", "\n  "))
	}
	return b.String()
}

// Envelope is the wire form: {"error": {...}}.
type Envelope struct {
	Error *Error `json:"error"`
}

// MarshalEnvelope renders e in ARM's envelope.
func (e *Error) MarshalEnvelope() []byte {
	b, _ := json.Marshal(Envelope{Error: e}) // cannot fail: strings and slices only
	return b
}

// WithPrefix returns a copy of e whose target (and its details' targets) is
// rooted at prefix, e.g. a document's index in a file.
func (e *Error) WithPrefix(prefix string) *Error {
	c := *e
	c.Target = join(prefix, e.Target)
	if len(e.Details) > 0 {
		c.Details = make([]*Error, len(e.Details))
		for i, d := range e.Details {
			c.Details[i] = d.WithPrefix(prefix)
		}
	}
	return &c
}

func join(prefix, target string) string {
	switch {
	case prefix == "":
		return target
	case target == "":
		return prefix
	case strings.HasPrefix(target, "["):
		return prefix + target
	default:
		return prefix + "." + target
	}
}

// List collects every error of a document so that all are reported at once.
// The zero value is ready to use.
type List struct {
	Errs []*Error
}

// Add appends an error.
func (l *List) Add(e *Error) { l.Errs = append(l.Errs, e) }

// Addf appends a new error.
func (l *List) Addf(code, target, format string, args ...any) {
	l.Add(New(code, target, format, args...))
}

// Merge appends every error of o, each rooted at prefix.
func (l *List) Merge(prefix string, o *List) {
	if o == nil {
		return
	}
	for _, e := range o.Errs {
		l.Add(e.WithPrefix(prefix))
	}
}

// Len reports the number of errors collected.
func (l *List) Len() int { return len(l.Errs) }

// Err returns nil when l is empty, the single error when there is one, and
// otherwise an InvalidRequestContent error whose details hold them all (the
// shape ARM uses for multi-error validation responses).
func (l *List) Err() error {
	if e := l.In("the request content"); e != nil {
		return e
	}
	return nil
}

// In is Err as an *Error, saying where the errors are when there are
// several: "3 errors in <where>; see details".
func (l *List) In(where string) *Error {
	switch len(l.Errs) {
	case 0:
		return nil
	case 1:
		return l.Errs[0]
	}
	return &Error{
		Code:    "InvalidRequestContent",
		Message: fmt.Sprintf("%d errors in %s; see details", len(l.Errs), where),
		Details: l.Errs,
	}
}

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Codes lists the codes of err and its details, depth first; handy in tests.
func Codes(err error) []string {
	e, ok := As(err)
	if !ok {
		return nil
	}
	if len(e.Details) == 0 {
		return []string{e.Code}
	}
	var out []string
	for _, d := range e.Details {
		out = append(out, Codes(d)...)
	}
	return out
}
