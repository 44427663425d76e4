package storageauth

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Azure Storage error codes this package returns (x-ms-error-code). Callers
// decide by these, via armerror.As, never by message text.
const (
	// CodeAuthenticationFailed: the signature, its date or its validity
	// window is wrong (403).
	CodeAuthenticationFailed = "AuthenticationFailed"
	// CodeAuthorizationPermissionMismatch: the SAS lacks the permission the
	// operation needs (403).
	CodeAuthorizationPermissionMismatch = "AuthorizationPermissionMismatch"
	// CodeAuthorizationResourceTypeMismatch: the SAS does not cover the kind
	// of resource (account, container, object) the operation is on (403).
	CodeAuthorizationResourceTypeMismatch = "AuthorizationResourceTypeMismatch"
	// CodeAuthorizationServiceMismatch: the SAS is for another service (403).
	CodeAuthorizationServiceMismatch = "AuthorizationServiceMismatch"
	// CodeAuthorizationSourceIPMismatch: the caller is outside the SAS's sip
	// (403).
	CodeAuthorizationSourceIPMismatch = "AuthorizationSourceIPMismatch"
	// CodeAuthorizationProtocolMismatch: the SAS allows HTTPS only and the
	// request came over HTTP (403).
	CodeAuthorizationProtocolMismatch = "AuthorizationProtocolMismatch"
	// CodeNoAuthenticationInformation: VerifySharedKey found no
	// Authorization header (401).
	CodeNoAuthenticationInformation = "NoAuthenticationInformation"
	// CodeInvalidAuthenticationInfo: the Authorization header is malformed or
	// uses a scheme this package does not support (400).
	CodeInvalidAuthenticationInfo = "InvalidAuthenticationInfo"
	// CodeInvalidQueryParameterValue: a SAS parameter, or the query string a
	// Shared Key signature covers, is malformed or unsupported (400).
	CodeInvalidQueryParameterValue = "InvalidQueryParameterValue"
	// CodeInvalidHeaderValue: an x-ms-* header cannot be canonicalized (400).
	CodeInvalidHeaderValue = "InvalidHeaderValue"
	// CodeInvalidParameter: a key or signing parameter given to this package
	// by its caller is invalid (400).
	CodeInvalidParameter = "InvalidParameter"
)

// statuses maps every code of the package to its HTTP status: the one place
// where a refusal becomes a status.
var statuses = map[string]int{
	CodeAuthenticationFailed:              http.StatusForbidden,
	CodeAuthorizationPermissionMismatch:   http.StatusForbidden,
	CodeAuthorizationResourceTypeMismatch: http.StatusForbidden,
	CodeAuthorizationServiceMismatch:      http.StatusForbidden,
	CodeAuthorizationSourceIPMismatch:     http.StatusForbidden,
	CodeAuthorizationProtocolMismatch:     http.StatusForbidden,
	CodeNoAuthenticationInformation:       http.StatusUnauthorized,
	CodeInvalidAuthenticationInfo:         http.StatusBadRequest,
	CodeInvalidQueryParameterValue:        http.StatusBadRequest,
	CodeInvalidHeaderValue:                http.StatusBadRequest,
	CodeInvalidParameter:                  http.StatusBadRequest,
}

// Status returns the HTTP status Azure Storage answers code with: 403 for
// the authentication and authorization failures, 401 for
// NoAuthenticationInformation, 400 for malformed input. A code this package
// never returns is answered 403: a refusal, whatever it is.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusForbidden
}

// Azure's messages, verbatim; each error appends why.
const (
	msgAuthenticationFailed = "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature."
	msgPermission           = "This request is not authorized to perform this operation using this permission."
	msgResourceType         = "This request is not authorized to perform this operation using this resource type."
	msgService              = "This request is not authorized to perform this operation using this service."
	msgProtocol             = "This request is not authorized to perform this operation using this protocol."
	msgNoAuthentication     = "Server failed to authenticate the request. Please refer to the information in the www-authenticate header."
	msgInvalidAuthInfo      = "Authentication information is not given in the correct format. Check the value of Authorization header."
	msgInvalidQuery         = "Value for one of the query parameters specified in the request URI is invalid."
	msgInvalidHeader        = "The value for one of the HTTP headers is not in the correct format."
)

// fail returns an error whose message is Azure's text for the code followed
// by the detail, the two formatted together with args.
func fail(code, target, azure, detail string, args ...any) *armerror.Error {
	return armerror.New(code, target, azure+" "+detail, args...)
}

func authFailed(target, detail string, args ...any) *armerror.Error {
	return fail(CodeAuthenticationFailed, target, msgAuthenticationFailed, detail, args...)
}

func badQuery(target, detail string, args ...any) *armerror.Error {
	return fail(CodeInvalidQueryParameterValue, target, msgInvalidQuery, detail, args...)
}

func badAuthInfo(detail string, args ...any) *armerror.Error {
	return fail(CodeInvalidAuthenticationInfo, "Authorization", msgInvalidAuthInfo, detail, args...)
}

// sensitiveHeaders are x-ms-* headers whose values are secrets of the
// client's (a customer-provided encryption key, a copy source's bearer
// token). They are signed like any other header but redacted wherever a
// string-to-sign is shown.
var sensitiveHeaders = []string{
	"x-ms-copy-source-authorization",
	"x-ms-encryption-key",
	"x-ms-source-encryption-key",
}

// showStringToSign renders a string-to-sign for an error message as Azure's
// AuthenticationErrorDetail does, one line with newlines shown as \n, with
// the values of sensitiveHeaders replaced by <redacted>.
func showStringToSign(sts string) string {
	var b strings.Builder
	b.Grow(len(sts) + 16)
	for i, line := range strings.Split(sts, "\n") {
		if i > 0 {
			b.WriteString(`\n`)
		}
		for _, h := range sensitiveHeaders {
			if strings.HasPrefix(line, h+":") {
				line = h + ":<redacted>"
				break
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// quote renders client-supplied text for a message: quoted, and cut to n
// bytes so that a hostile value cannot flood a log line.
func quote(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strconv.Quote(s)
}

// clip cuts client-supplied text to n bytes of valid UTF-8, for a Target.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
