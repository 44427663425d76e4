package blobstore

import (
	"errors"
	"net/http"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Azure Storage error codes this package returns (x-ms-error-code). Callers
// decide by these, via armerror.As, never by message text.
const (
	CodeContainerNotFound               = "ContainerNotFound"
	CodeContainerAlreadyExists          = "ContainerAlreadyExists"
	CodeBlobNotFound                    = "BlobNotFound"
	CodeBlobAlreadyExists               = "BlobAlreadyExists"
	CodeInvalidResourceName             = "InvalidResourceName"
	CodeInvalidBlockList                = "InvalidBlockList"
	CodeInvalidBlockID                  = "InvalidBlockId"
	CodeInvalidRange                    = "InvalidRange"
	CodeMd5Mismatch                     = "Md5Mismatch"
	CodeInvalidMd5                      = "InvalidMd5"
	CodeConditionNotMet                 = "ConditionNotMet"
	CodeRequestBodyTooLarge             = "RequestBodyTooLarge"
	CodeInvalidQueryParameterValue      = "InvalidQueryParameterValue"
	CodeOutOfRangeQueryParameterValue   = "OutOfRangeQueryParameterValue"
	CodeInvalidHeaderValue              = "InvalidHeaderValue"
	CodeInvalidMetadata                 = "InvalidMetadata"
	CodeMetadataTooLarge                = "MetadataTooLarge"
	CodeInvalidXMLDocument              = "InvalidXmlDocument"
	CodeInvalidInput                    = "InvalidInput"
	CodeInvalidURI                      = "InvalidUri"
	CodeUnsupportedHTTPVerb             = "UnsupportedHttpVerb"
	CodeAuthorizationFailure            = "AuthorizationFailure"
	CodeAuthenticationFailed            = "AuthenticationFailed"
	CodeAuthorizationPermissionMismatch = "AuthorizationPermissionMismatch"
	CodeNoAuthenticationInformation     = "NoAuthenticationInformation"
	CodeInvalidAuthenticationInfo       = "InvalidAuthenticationInfo"
	CodeInternalError                   = "InternalError"
)

// statuses maps every code to its HTTP status: the one place where an error
// becomes a status. Codes not listed (for example from an authorize hook)
// answer 403 if they came from authorize and 500 otherwise.
var statuses = map[string]int{
	CodeContainerNotFound:               http.StatusNotFound,
	CodeContainerAlreadyExists:          http.StatusConflict,
	CodeBlobNotFound:                    http.StatusNotFound,
	CodeBlobAlreadyExists:               http.StatusConflict,
	CodeInvalidResourceName:             http.StatusBadRequest,
	CodeInvalidBlockList:                http.StatusBadRequest,
	CodeInvalidBlockID:                  http.StatusBadRequest,
	CodeInvalidRange:                    http.StatusRequestedRangeNotSatisfiable,
	CodeMd5Mismatch:                     http.StatusBadRequest,
	CodeInvalidMd5:                      http.StatusBadRequest,
	CodeConditionNotMet:                 http.StatusPreconditionFailed,
	CodeRequestBodyTooLarge:             http.StatusRequestEntityTooLarge,
	CodeInvalidQueryParameterValue:      http.StatusBadRequest,
	CodeOutOfRangeQueryParameterValue:   http.StatusBadRequest,
	CodeInvalidHeaderValue:              http.StatusBadRequest,
	CodeInvalidMetadata:                 http.StatusBadRequest,
	CodeMetadataTooLarge:                http.StatusBadRequest,
	CodeInvalidXMLDocument:              http.StatusBadRequest,
	CodeInvalidInput:                    http.StatusBadRequest,
	CodeInvalidURI:                      http.StatusBadRequest,
	CodeUnsupportedHTTPVerb:             http.StatusMethodNotAllowed,
	CodeAuthorizationFailure:            http.StatusForbidden,
	CodeAuthenticationFailed:            http.StatusForbidden,
	CodeAuthorizationPermissionMismatch: http.StatusForbidden,
	CodeNoAuthenticationInformation:     http.StatusUnauthorized,
	CodeInvalidAuthenticationInfo:       http.StatusBadRequest,
	CodeInternalError:                   http.StatusInternalServerError,
}

// errNotModified is the condition failure of a read whose If-None-Match
// matched: HTTP 304, which Azure also labels ConditionNotMet. It is one
// value so the handler can tell it from a 412 by identity, not by text.
var errNotModified = armerror.New(CodeConditionNotMet, "If-None-Match",
	"the blob has not been modified since the ETag given in If-None-Match")

func newErr(code, target, format string, args ...any) *armerror.Error {
	return armerror.New(code, target, format, args...)
}

// isCode reports whether err is an *armerror.Error with the given code.
func isCode(err error, code string) bool {
	e, ok := armerror.As(err)
	return ok && e.Code == code
}

// errTooLarge is returned by copies that exceed their limit; callers turn it
// into RequestBodyTooLarge with the limit in the message.
var errTooLarge = errors.New("body exceeds limit")
