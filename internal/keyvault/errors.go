package keyvault

import (
	"fmt"
	"net/http"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Error codes, Key Vault's where Key Vault has one. Every error this package
// returns is an *armerror.Error with one of them (or a store code passed
// through); Key Vault's "innererror" is carried as the error's single
// detail, whose Code is the inner code (InnerCode reads it).
const (
	CodeBadParameter        = "BadParameter"        // 400
	CodeUnauthorized        = "Unauthorized"        // 401
	CodeForbidden           = "Forbidden"           // 403, with an inner code
	CodeForbiddenByFirewall = "ForbiddenByFirewall" // 403 (the firewall hook's own code)
	CodeSecretNotFound      = "SecretNotFound"      // 404
	CodeNotFound            = "NotFound"            // 404: no such path or vault
	CodeMethodNotAllowed    = "MethodNotAllowed"    // 405
	CodeConflict            = "Conflict"            // 409: too many concurrent writers of one secret
	CodeTooLarge            = "RequestEntityTooLarge"
	// CodeIntegrity: a stored ciphertext failed authentication (altered, or
	// moved from another secret). vnetml's own code; 500.
	CodeIntegrity = "SecretIntegrityCheckFailed"
	// CodeMasterKeyMissing: a value is encrypted under a master key the
	// keyring does not hold. vnetml's own code; 500.
	CodeMasterKeyMissing = "MasterKeyMissing"
	CodeInternal         = "InternalServerError" // 500
)

// Inner codes under CodeForbidden.
const (
	InnerSecretDisabled    = "SecretDisabled"
	InnerSecretExpired     = "SecretExpired"
	InnerSecretNotYetValid = "SecretNotYetValid"
)

// statusOf maps a code to its HTTP status, in one place; unlisted codes
// (the store's validation codes among them) are 400.
var statusOf = map[string]int{
	CodeUnauthorized:        http.StatusUnauthorized,
	CodeForbidden:           http.StatusForbidden,
	CodeForbiddenByFirewall: http.StatusForbidden,
	CodeSecretNotFound:      http.StatusNotFound,
	CodeNotFound:            http.StatusNotFound,
	CodeMethodNotAllowed:    http.StatusMethodNotAllowed,
	CodeConflict:            http.StatusConflict,
	CodeTooLarge:            http.StatusRequestEntityTooLarge,
	CodeIntegrity:           http.StatusInternalServerError,
	CodeMasterKeyMissing:    http.StatusInternalServerError,
	CodeInternal:            http.StatusInternalServerError,
}

func status(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// InnerCode returns the inner code of err (SecretDisabled, …), or "".
func InnerCode(err error) string {
	e, ok := armerror.As(err)
	if !ok || len(e.Details) != 1 {
		return ""
	}
	return e.Details[0].Code
}

func withInner(e *armerror.Error, inner string) *armerror.Error {
	e.Details = []*armerror.Error{{Code: inner}}
	return e
}

// shown bounds a caller-supplied name or version quoted in a message.
func shown(s string) string {
	if len(s) > 140 {
		return s[:140] + "…"
	}
	return s
}

func badParameter(target, format string, args ...any) *armerror.Error {
	return armerror.New(CodeBadParameter, target, format, args...)
}

func errSecretNotFound(name, version string) *armerror.Error {
	what := shown(name)
	if version != "" {
		what += "/" + shown(version)
	}
	return armerror.New(CodeSecretNotFound, "", "A secret with (name/id) %s was not found in this key vault. Check the name and version, or set the secret first (deleted secrets are purged at once: vnetml has no soft delete).", what)
}

func errDisabled(op string) *armerror.Error {
	return withInner(armerror.New(CodeForbidden, "", "Operation %s is not allowed on a disabled secret.", op), InnerSecretDisabled)
}

func errExpired(op string) *armerror.Error {
	return withInner(armerror.New(CodeForbidden, "", "Operation %s is not allowed on an expired secret.", op), InnerSecretExpired)
}

func errNotYetValid(op string) *armerror.Error {
	return withInner(armerror.New(CodeForbidden, "", "Operation %s is not allowed on a secret that is not yet valid (its nbf is in the future).", op), InnerSecretNotYetValid)
}

func errIntegrity(versionID string) *armerror.Error {
	return armerror.New(CodeIntegrity, versionID,
		"The stored value of %s failed its integrity check: it was altered or copied from another secret. Restore the database from a backup or set a new version.", versionID)
}

func errMasterKeyMissing(versionID, keyID string) *armerror.Error {
	return armerror.New(CodeMasterKeyMissing, versionID,
		"The value of %s is encrypted under master key %q, which is not loaded. Restore master-keys/%s.key (or the %s it came from).", versionID, keyID, keyID, EnvMasterKey)
}

func errInternal(what string, err error) *armerror.Error {
	return armerror.New(CodeInternal, "", "%s failed: %s", what, fmt.Sprint(err))
}
