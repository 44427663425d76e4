package store

import (
	"fmt"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Error codes of the store, Azure's where Azure has one. The API server maps
// them to HTTP statuses in one place.
const (
	CodeNotFound            = "ResourceNotFound"           // 404
	CodePreconditionFailed  = "PreconditionFailed"         // 412: If-Match or If-None-Match etag did not hold
	CodeConflict            = "Conflict"                   // 409: create-only put of an existing resource
	CodeInvalidResourceID   = "InvalidResourceId"          // 400
	CodeInvalidContent      = "InvalidRequestContent"      // 400: a document that is not a JSON object, a malformed op
	CodeInvalidContinuation = "InvalidContinuationToken"   // 400
	CodeInvalidQuery        = "InvalidQueryParameterValue" // 400: a negative limit
	CodeRevisionCompacted   = "RevisionCompacted"          // 410: Watch from a revision no longer remembered
)

// IsNotFound reports whether err is a ResourceNotFound error.
func IsNotFound(err error) bool { return hasCode(err, CodeNotFound) }

// IsPreconditionFailed reports whether err is a PreconditionFailed error (an
// If-Match or If-None-Match etag that did not hold).
func IsPreconditionFailed(err error) bool { return hasCode(err, CodePreconditionFailed) }

// IsConflict reports whether err is a Conflict error (a create-only put of a
// resource that exists).
func IsConflict(err error) bool { return hasCode(err, CodeConflict) }

// IsInvalid reports whether err rejects the caller's input: a malformed id,
// document, continuation token or list option.
func IsInvalid(err error) bool {
	e, ok := armerror.As(err)
	if !ok {
		return false
	}
	switch e.Code {
	case CodeInvalidResourceID, CodeInvalidContent, CodeInvalidContinuation, CodeInvalidQuery:
		return true
	}
	return false
}

// IsCompacted reports whether err is Watch's RevisionCompacted: List again
// and watch from the page's revision.
func IsCompacted(err error) bool { return hasCode(err, CodeRevisionCompacted) }

func hasCode(err error, code string) bool {
	e, ok := armerror.As(err)
	return ok && e.Code == code
}

// NotFound returns the ResourceNotFound error for id.
func NotFound(id string) *armerror.Error {
	return armerror.New(CodeNotFound, id,
		"The resource %s was not found. Check the subscription, resource group, type and name, or create it first.", id)
}

// Compacted returns the RevisionCompacted error for a Watch from rev when
// the oldest revision still remembered is oldest.
func Compacted(rev, oldest int64) *armerror.Error {
	return armerror.New(CodeRevisionCompacted, "fromRevision",
		"Changes after revision %d are no longer remembered (the oldest is %d). List again and watch from the page's revision.", rev, oldest)
}

// Check decides cond for a write of id whose current state is exists with
// etag, and returns the error to fail the write with, or nil.
func (c Condition) Check(id string, exists bool, etag string) error {
	switch {
	case c.IfMatch == "*" && !exists:
		return armerror.New(CodePreconditionFailed, id,
			"If-Match: * requires the resource %s to exist, and it does not. Drop If-Match to create it.", id)
	case c.IfMatch != "" && c.IfMatch != "*" && !exists:
		return armerror.New(CodePreconditionFailed, id,
			"If-Match %s: the resource %s does not exist (it was deleted or never created). Drop If-Match to create it.", c.IfMatch, id)
	case c.IfMatch != "" && c.IfMatch != "*" && c.IfMatch != etag:
		return armerror.New(CodePreconditionFailed, id,
			"If-Match %s: the resource %s has changed; its etag is now %s. Read it again, reapply your change and retry with the new etag.", c.IfMatch, id, etag)
	case c.IfNoneMatch == "*" && exists:
		return armerror.New(CodeConflict, id,
			"The resource %s already exists (etag %s). Drop If-None-Match: * to replace it, or pass its etag in If-Match to update it.", id, etag)
	case c.IfNoneMatch != "" && c.IfNoneMatch != "*" && exists && c.IfNoneMatch == etag:
		return armerror.New(CodePreconditionFailed, id,
			"If-None-Match %s: the resource %s still has that etag.", c.IfNoneMatch, id)
	}
	return nil
}

// OpError returns err, the error of ops[i] in an Apply, with the op's index
// in its message; code and target are kept.
func OpError(i int, err error) error {
	e, ok := armerror.As(err)
	if !ok {
		return fmt.Errorf("ops[%d]: %w", i, err)
	}
	c := *e
	c.Message = fmt.Sprintf("ops[%d]: %s", i, e.Message)
	return &c
}
