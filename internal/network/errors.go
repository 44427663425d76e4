package network

import (
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// NotFoundError reports a reference that names no resource of a snapshot.
type NotFoundError struct {
	Kind      string
	Ref       string
	Known     []string
	Ambiguous bool
}

func notFound(kind, ref string, known []string) *NotFoundError {
	slices.Sort(known)
	return &NotFoundError{Kind: kind, Ref: ref, Known: known}
}

func (e *NotFoundError) Error() string { return e.ARM().Error() }

// ARM returns the error in ARM's shape (code NotFound).
func (e *NotFoundError) ARM() *armerror.Error {
	if e.Ambiguous {
		return armerror.New("AmbiguousReference", "", "%s name %q matches several resources; give its full resource id", e.Kind, e.Ref)
	}
	hint := "no such resources are loaded"
	if len(e.Known) > 0 {
		k := e.Known
		if len(k) > 10 {
			k = append(k[:10:10], "...")
		}
		hint = "known: " + strings.Join(k, ", ")
	}
	return armerror.New("NotFound", "", "%s %q was not found (%s)", e.Kind, e.Ref, hint)
}

// Unwrap lets errors.As find the ARM form.
func (e *NotFoundError) Unwrap() error { return e.ARM() }
