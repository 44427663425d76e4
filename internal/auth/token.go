package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store"
)

const (
	// TokenPrefix starts every vnetml token secret, so that secret scanners
	// and people recognize one in a log or a repository.
	TokenPrefix = "vnm_"
	// secretLen is the length of a secret: the prefix and 32 random bytes
	// in unpadded base64url.
	secretLen = len(TokenPrefix) + 43

	tokenType     = "vnetml.Authorization/tokens"
	tokenIDPrefix = "/providers/" + tokenType + "/"

	maxNameLen        = 64
	maxDescriptionLen = 512
)

// Token is a token as the API shows it, an ARM resource at
// /providers/vnetml.Authorization/tokens/{name}.
type Token struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Properties TokenProperties `json:"properties"`
}

// TokenProperties are a token's role, scope and history. On Create the
// caller sets Role, Scope and optionally Description and ExpiresOn; the rest
// is set by the Authenticator.
type TokenProperties struct {
	Role Role `json:"role"`
	// Scope is "/" (the whole deployment), a subscription id or a resource
	// group id.
	Scope       string    `json:"scope"`
	Description string    `json:"description,omitempty"`
	CreatedOn   time.Time `json:"createdOn"`
	// ExpiresOn is when the token stops authenticating; nil for never.
	ExpiresOn *time.Time `json:"expiresOn,omitempty"`
	// CreatedBy is the name of the token that created this one ("vnetml"
	// for the admin token the server creates).
	CreatedBy string `json:"createdBy"`
	// Secret is the bearer token itself, set only in Create's result: it is
	// shown once and never stored.
	Secret string `json:"secret,omitempty"`
}

// TokenID returns the resource id of the token named name.
func TokenID(name string) string { return tokenIDPrefix + name }

// record is a token as stored: the Token without its secret, plus the
// secret's SHA-256. It is a type of its own, with no field for the secret,
// so that no code path can store one by mistake.
type record struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Type       string           `json:"type"`
	Properties recordProperties `json:"properties"`
}

type recordProperties struct {
	Role         Role       `json:"role"`
	Scope        string     `json:"scope"`
	Description  string     `json:"description,omitempty"`
	CreatedOn    time.Time  `json:"createdOn"`
	ExpiresOn    *time.Time `json:"expiresOn,omitempty"`
	CreatedBy    string     `json:"createdBy"`
	SecretSHA256 string     `json:"secretSha256"` // hex
}

func newRecord(t Token, sum [sha256.Size]byte) record {
	p := t.Properties
	return record{ID: t.ID, Name: t.Name, Type: t.Type, Properties: recordProperties{
		Role: p.Role, Scope: p.Scope, Description: p.Description, CreatedOn: p.CreatedOn,
		ExpiresOn: p.ExpiresOn, CreatedBy: p.CreatedBy, SecretSHA256: hex.EncodeToString(sum[:]),
	}}
}

// entry is a token in memory: what Authenticate needs, ready to hand out.
type entry struct {
	tok       Token // Secret is always ""
	sum       [sha256.Size]byte
	principal Principal
	expires   time.Time // zero: never
}

// decodeRecord checks a stored token document; id is its store id.
func decodeRecord(id string, doc []byte) (*entry, error) {
	bad := func(why string, args ...any) (*entry, error) {
		return nil, fmt.Errorf("token record %s: %s; the token cannot be used: revoke it, or restore the database from a backup",
			id, fmt.Sprintf(why, args...))
	}
	var r record
	if err := json.Unmarshal(doc, &r); err != nil {
		return bad("%v", err)
	}
	if len(id) <= len(tokenIDPrefix) || !strings.EqualFold(id[:len(tokenIDPrefix)], tokenIDPrefix) {
		return bad("it is not under %s", tokenIDPrefix)
	}
	name := id[len(tokenIDPrefix):]
	if checkName(name) != nil || !strings.EqualFold(r.Name, name) {
		return bad("its name %q does not match its id", r.Name)
	}
	role, err := ParseRole(string(r.Properties.Role))
	if err != nil {
		return bad("%v", err)
	}
	if err := checkScope(r.Properties.Scope); err != nil {
		return bad("%v", err)
	}
	sum, err := hex.DecodeString(r.Properties.SecretSHA256)
	if err != nil || len(sum) != sha256.Size {
		return bad("secretSha256 is not a hex SHA-256")
	}
	e := &entry{tok: Token{ID: id, Name: name, Type: tokenType, Properties: TokenProperties{
		Role: role, Scope: r.Properties.Scope, Description: r.Properties.Description,
		CreatedOn: r.Properties.CreatedOn, ExpiresOn: r.Properties.ExpiresOn, CreatedBy: r.Properties.CreatedBy,
	}}}
	copy(e.sum[:], sum)
	e.fill()
	return e, nil
}

// fill derives the entry's principal and expiry from its token.
func (e *entry) fill() {
	e.principal = Principal{TokenID: e.tok.Name, Role: e.tok.Properties.Role, Scope: e.tok.Properties.Scope}
	e.expires = time.Time{}
	if e.tok.Properties.ExpiresOn != nil {
		e.expires = *e.tok.Properties.ExpiresOn
	}
}

// newSecret returns a fresh token secret: the prefix and 256 random bits.
func newSecret() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// wellFormed reports whether s has the shape of a secret.
func wellFormed(s string) bool {
	if len(s) != secretLen || !strings.HasPrefix(s, TokenPrefix) {
		return false
	}
	for i := len(TokenPrefix); i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// digest returns the SHA-256 of a well-formed secret without allocating.
//
// A plain, fast hash is enough here, where passwords need a slow one
// (bcrypt, Argon2): a secret is 256 bits from crypto/rand, so someone who
// steals the database has no dictionary to try and no hope of a brute-force
// preimage, and a fast hash lets every request be checked without a
// per-request cost.
func digest(secret string) [sha256.Size]byte {
	var buf [secretLen]byte
	n := copy(buf[:], secret)
	return sha256.Sum256(buf[:n])
}

// checkName checks a token name: 1-64 of A-Z a-z 0-9 - _ . starting with a
// letter or a digit (so no name is "." or "..", which a URL path would
// resolve away, and none looks like a command-line flag).
func checkName(name string) error {
	bad := func(why string) error {
		return armerror.New(CodeInvalidResourceName, "name",
			"The token name %q is invalid: %s. Use 1 to %d letters, digits, '-', '_' or '.', starting with a letter or a digit.",
			clip(name), why, maxNameLen)
	}
	switch {
	case name == "":
		return bad("it is empty")
	case len(name) > maxNameLen:
		return bad(fmt.Sprintf("it is longer than %d characters", maxNameLen))
	case !alnum(name[0]):
		return bad("it does not start with a letter or a digit")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '-' && c != '_' && c != '.' {
			return bad(fmt.Sprintf("it contains %q", rune(c)))
		}
	}
	return nil
}

func alnum(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// checkScope checks a token scope: "/", a subscription id or a resource
// group id.
func checkScope(scope string) error {
	if scope == "/" {
		return nil
	}
	p, err := store.ParseID(scope)
	if err == nil && (p.Type == "Microsoft.Resources/subscriptions" || p.Type == "Microsoft.Resources/resourceGroups") {
		return nil
	}
	return armerror.New(CodeInvalidParameter, "properties.scope",
		"The scope %q is not one a token can have; use \"/\" for the whole deployment, /subscriptions/{subscription} or /subscriptions/{subscription}/resourceGroups/{group}.",
		clip(scope))
}
