// Package auth owns who may call the vnetml API: bearer tokens, the role
// each one holds and the scope it holds it on.
//
// A token is a random secret ("vnm_" and 43 base64url characters) whose
// SHA-256 is stored as an ARM document under
// /providers/vnetml.Authorization/tokens/{name}; the secret itself is shown
// once, to whoever created it, and kept nowhere else. The first start of a
// server creates the token "admin" (Owner on "/") and writes its secret to
// <data-dir>/admin.token with mode 0600 (Bootstrap).
//
// Authenticate turns an Authorization header into a Principal; Authorize
// decides whether a Principal may do an Action on a resource id. Both are
// on every request's path: neither touches the store, takes a lock or
// allocates when it succeeds. Failures are *armerror.Error with Azure's
// codes, AuthenticationFailed (401) and AuthorizationFailed (403), and a
// message that says what to do about them.
//
// Roles are Azure's three built-in ones, on a scope that is the whole
// deployment ("/"), a subscription or a resource group:
//
//	             Read  Query  Write  Delete  ManageTokens
//	Reader        ✓     ✓
//	Contributor   ✓     ✓      ✓      ✓
//	Owner         ✓     ✓      ✓      ✓         ✓
package auth

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// Error codes of the package, Azure's. The API server answers
// AuthenticationFailed with 401, AuthorizationFailed with 403, Conflict
// (store.CodeConflict) with 409, ResourceNotFound with 404 and the rest
// with 400.
const (
	CodeAuthenticationFailed = "AuthenticationFailed"
	CodeAuthorizationFailed  = "AuthorizationFailed"
	CodeInvalidParameter     = "InvalidParameter"
	CodeInvalidResourceName  = "InvalidResourceName"
	CodeOperationNotAllowed  = "OperationNotAllowed"
)

// Role is what a token may do within its scope: one of Azure's built-in
// roles Owner, Contributor and Reader. The zero value may do nothing.
type Role string

const (
	// Owner may do everything within its scope, managing tokens included.
	Owner Role = "Owner"
	// Contributor may read, write, delete and query within its scope, but
	// not manage tokens.
	Contributor Role = "Contributor"
	// Reader may read and query (POSTs that change nothing) within its
	// scope.
	Reader Role = "Reader"
)

// rank orders the roles: each may do everything the ones below it may. An
// unknown role ranks 0 and may do nothing.
func (r Role) rank() int {
	switch r {
	case Reader:
		return 1
	case Contributor:
		return 2
	case Owner:
		return 3
	}
	return 0
}

// ParseRole returns the role named s, in any case. An unknown name is an
// InvalidParameter error with target properties.role.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{Owner, Contributor, Reader} {
		if strings.EqualFold(s, string(r)) {
			return r, nil
		}
	}
	return "", armerror.New(CodeInvalidParameter, "properties.role",
		"The role %q is not a vnetml role; use Owner, Contributor or Reader.", clip(s))
}

// Action is what a request does to a resource.
type Action int

const (
	// Read is a GET.
	Read Action = iota
	// Write is a PUT or PATCH, or a POST that changes something.
	Write
	// Delete is a DELETE.
	Delete
	// Query is a POST that changes nothing, such as Network Watcher's
	// ipFlowVerify: Readers may.
	Query
	// ManageTokens is creating, reading, listing or revoking tokens within
	// a scope: Owners only.
	ManageTokens
)

// minRole is the least role that may do a.
func (a Action) minRole() Role {
	switch a {
	case Read, Query:
		return Reader
	case Write, Delete:
		return Contributor
	case ManageTokens:
		return Owner
	}
	return "" // an unknown action: nobody may
}

// Principal is an authenticated caller: the token it presented and what
// that token may do. The zero Principal may do nothing.
type Principal struct {
	// TokenID is the token's name.
	TokenID string
	Role    Role
	// Scope is "/" for the whole deployment, else a subscription or a
	// resource group id, spelled as when the token was created.
	Scope string
}

// Authorize returns nil if p may do action on the resource (or scope) id,
// and otherwise an AuthorizationFailed error in Azure's words, with a hint
// of the role and scope that would allow it.
//
// Owner may do every action within its scope; Contributor all but
// ManageTokens; Reader Read and Query. A scope covers an id that equals it
// or lies under it at a segment boundary, compared case-insensitively as
// the store compares ids: /subscriptions/s1/resourceGroups/rg covers
// …/rg/providers/… but not …/rg2. "/" covers every id.
//
// Authorize allocates nothing when it allows.
func Authorize(p Principal, action Action, id string) error {
	need := action.minRole()
	if need != "" && p.Role.rank() >= need.rank() && covers(p.Scope, id) {
		return nil
	}
	return denied(p, action, id)
}

// covers reports whether scope covers id: network.Key(id) equals
// network.Key(scope) or lies under it at a "/". coversSlow is that
// definition; covers is the same in one pass and without allocating for
// ASCII ids.
//
// While both are ASCII, Key lowers byte for byte, so comparing folded bytes
// is comparing keys; the first non-ASCII byte hands over to the definition
// (Unicode lowering may change lengths: the Kelvin sign becomes k).
func covers(scope, id string) bool {
	if scope == "/" {
		return true
	}
	scope = strings.TrimRight(scope, "/")
	id = strings.TrimRight(id, "/")
	if scope == "" {
		// "" or "//" covers nothing: a zero Principal must not be taken
		// for the whole deployment.
		return false
	}
	for i := range min(len(scope), len(id)) {
		a, b := id[i], scope[i]
		if a|b >= utf8.RuneSelf {
			return coversSlow(scope, id)
		}
		if lowerASCII(a) != lowerASCII(b) {
			return false
		}
	}
	return len(id) == len(scope) || len(id) > len(scope) && id[len(scope)] == '/'
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// coversSlow is covers' definition, the oracle of its tests.
func coversSlow(scope, id string) bool {
	if scope == "/" {
		return true
	}
	s := network.Key(scope)
	if s == "" {
		return false
	}
	k := network.Key(id)
	return k == s || strings.HasPrefix(k, s+"/")
}

// denied builds the AuthorizationFailed error for p doing action on id. It
// runs only when access is refused, so it may take its time.
func denied(p Principal, action Action, id string) *armerror.Error {
	need := action.minRole()
	var hint string
	switch {
	case need == "":
		hint = fmt.Sprintf("The action %d is unknown to vnetml; no role allows it.", int(action))
	case p.Role.rank() == 0:
		hint = fmt.Sprintf("The token %q has no valid role (%q); ask an Owner for a token with %s on %q (or on a scope that contains it).",
			p.TokenID, clip(string(p.Role)), rolesFrom(need), narrowestScope(id))
	default:
		hint = fmt.Sprintf("The token %q is %s on %q; this needs %s on %q (or on a scope that contains it): ask an Owner there for such a token, then run `vnetml login` with it.",
			p.TokenID, p.Role, p.Scope, rolesFrom(need), narrowestScope(id))
	}
	return armerror.New(CodeAuthorizationFailed, "",
		"The client '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. %s",
		p.TokenID, verb(action, id), clip(id), hint)
}

// rolesFrom names the roles at or above r.
func rolesFrom(r Role) string {
	switch r {
	case Reader:
		return "Reader, Contributor or Owner"
	case Contributor:
		return "Contributor or Owner"
	}
	return string(r)
}

// verb is Azure's name for the operation: {type}/read, /write, /delete,
// /action.
func verb(action Action, id string) string {
	if action == ManageTokens {
		return tokenType + "/*"
	}
	typ := "*"
	if id == "/" {
		typ = "vnetml"
	} else if p, err := store.ParseID(id); err == nil {
		typ = p.Type
	}
	switch action {
	case Read:
		return typ + "/read"
	case Write:
		return typ + "/write"
	case Delete:
		return typ + "/delete"
	case Query:
		return typ + "/action"
	}
	return typ + "/unknown"
}

// narrowestScope returns the narrowest scope a token can have that covers
// id: its resource group, else its subscription, else "/"; spelled as in
// id.
func narrowestScope(id string) string {
	p, err := store.ParseID(id)
	switch {
	case err != nil || p.Subscription == "":
		return "/"
	case p.ResourceGroup != "":
		return firstSegments(id, 4)
	}
	return firstSegments(id, 2)
}

// firstSegments returns id up to (not including) the "/" that ends its
// n-th segment.
func firstSegments(id string, n int) string {
	seen := 0
	for i := 1; i < len(id); i++ {
		if id[i] == '/' {
			if seen++; seen == n {
				return id[:i]
			}
		}
	}
	return id
}

// clip shortens user input quoted in a message, at a rune boundary.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
