package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store"
)

// Authenticator owns the token records of a store: it loads them once and
// then keeps them in memory, so Authenticate never touches the store.
//
// Concurrency: every method is safe for concurrent use. Authenticate reads
// an immutable snapshot through an atomic pointer, without a lock; Create,
// Revoke and Bootstrap are serialized, write the store first and publish a
// new snapshot when the write has committed, so a token works from the
// moment Create returns and stops working from the moment Revoke returns.
//
// All token writes must go through the Authenticator (one per store): it
// does not watch the store for writes made behind its back.
type Authenticator struct {
	st   store.Store
	now  func() time.Time
	mu   sync.Mutex // serializes writes, so snapshots follow the store's order
	snap atomic.Pointer[snapshot]
}

// snapshot is the set of tokens at one moment. It is never modified once
// published.
type snapshot struct {
	bySum  map[[sha256.Size]byte]*entry
	byName map[string]*entry // by lower-case name: names are ASCII and case-insensitive, as ids are
}

// with returns a copy of s with e added, replacing the token of the same
// name.
func (s *snapshot) with(e *entry) *snapshot {
	n := s.without(e.tok.Name)
	n.bySum[e.sum] = e
	n.byName[strings.ToLower(e.tok.Name)] = e
	return n
}

// without returns a copy of s without the token named name.
func (s *snapshot) without(name string) *snapshot {
	n := &snapshot{bySum: make(map[[sha256.Size]byte]*entry, len(s.bySum)+1), byName: make(map[string]*entry, len(s.byName)+1)}
	key := strings.ToLower(name)
	for k, e := range s.byName {
		if k != key {
			n.byName[k] = e
			n.bySum[e.sum] = e
		}
	}
	return n
}

// New returns an Authenticator for the tokens stored in st. now is the
// clock that decides expiry (nil for time.Now). A token record that cannot
// be read fails New: the deployment's access control is not something to
// guess at.
func New(ctx context.Context, st store.Store, now func() time.Time) (*Authenticator, error) {
	if now == nil {
		now = time.Now
	}
	s := &snapshot{bySum: map[[sha256.Size]byte]*entry{}, byName: map[string]*entry{}}
	opts := store.ListOptions{Type: tokenType, Limit: 1000}
	for {
		page, err := st.List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("load tokens: %w", err)
		}
		for _, r := range page.Resources {
			e, err := decodeRecord(r.ID, r.Doc)
			if err != nil {
				return nil, err
			}
			if o := s.bySum[e.sum]; o != nil {
				return nil, fmt.Errorf("token records %s and %s have the same secret; revoke one of them, or restore the database from a backup", o.tok.ID, e.tok.ID)
			}
			s.bySum[e.sum] = e
			s.byName[strings.ToLower(e.tok.Name)] = e
		}
		if page.Next == "" {
			break
		}
		opts.Continuation = page.Next
	}
	a := &Authenticator{st: st, now: now}
	a.snap.Store(s)
	return a, nil
}

// Authenticate returns the Principal of the request whose Authorization
// header is header: "Bearer <token>", the scheme in any case. A missing or
// malformed header and an unknown, revoked or expired token are
// AuthenticationFailed errors that say what to do; none repeats the header.
// It neither touches the store nor allocates when it succeeds; ctx is
// unused.
func (a *Authenticator) Authenticate(_ context.Context, header string) (Principal, error) {
	secret, err := bearer(header)
	if err != nil {
		return Principal{}, err
	}
	sum := digest(secret)
	// The lookup is keyed by the secret's SHA-256, so its timing depends on
	// the digest only: an attacker who learned how much of a stored digest
	// a guess's digest matches could not use it to steer the next guess
	// (that would take a preimage). The compare that decides is constant
	// time all the same.
	e := a.snap.Load().bySum[sum]
	if e == nil || subtle.ConstantTimeCompare(e.sum[:], sum[:]) != 1 {
		return Principal{}, authFailed("The bearer token is unknown or has been revoked. Run `vnetml login` with a current token, or ask an Owner to create a new one.")
	}
	if !e.expires.IsZero() && !a.now().Before(e.expires) {
		return Principal{}, authFailed(fmt.Sprintf("The token '%s' expired at %s. Ask an Owner to create a new token, then run `vnetml login` with it.",
			e.tok.Name, e.expires.UTC().Format(time.RFC3339)))
	}
	return e.principal, nil
}

// maxHeaderLen bounds the Authorization header looked at; a bearer header
// with a vnetml token is 54 bytes.
const maxHeaderLen = 1024

// bearer returns the token of a bearer Authorization header (RFC 6750 §2.1).
// Its errors never quote the header: it may hold a secret, even when it is
// malformed.
func bearer(header string) (string, error) {
	const howto = "Send 'Authorization: Bearer <token>'; for the CLI, run `vnetml login` (the first token is in admin.token in the server's data directory)."
	if header == "" {
		return "", authFailed("The 'Authorization' header is missing. " + howto)
	}
	if len(header) > maxHeaderLen {
		return "", authFailed(fmt.Sprintf("The 'Authorization' header is longer than %d bytes, which no vnetml token is. %s", maxHeaderLen, howto))
	}
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", authFailed("The 'Authorization' header is provided in an invalid format: vnetml takes bearer tokens only. " + howto)
	}
	tok := strings.TrimLeft(rest, " ")
	switch {
	case tok == "":
		return "", authFailed("The bearer token is empty. " + howto)
	case !wellFormed(tok):
		return "", authFailed(fmt.Sprintf("The bearer token is not a vnetml token, which is %s followed by %d letters, digits, '-' and '_'; check that the whole token was copied, with nothing after it. %s",
			TokenPrefix, secretLen-len(TokenPrefix), howto))
	}
	return tok, nil
}

func authFailed(msg string) *armerror.Error {
	return &armerror.Error{Code: CodeAuthenticationFailed, Message: "Authentication failed. " + msg}
}

// Create creates the token name with props' Role, Scope, Description and
// ExpiresOn (nil for never), and returns it with its Secret: the only time
// the secret is shown.
//
// by must be Owner over the scope, so no one grants more than they hold.
// The name is 1-64 of A-Z a-z 0-9 - _ . starting with a letter or a digit,
// unique in any case ("admin" is the server's); the scope "/", a
// subscription id or a resource group id. Invalid input is
// InvalidResourceName or InvalidParameter, all reported at once; a name in
// use is Conflict. A Secret in props is refused (InvalidParameter): the
// server picks it.
func (a *Authenticator) Create(ctx context.Context, by Principal, name string, props TokenProperties) (Token, error) {
	now := a.now().UTC()
	var l armerror.List
	add := func(err error) {
		if e, ok := armerror.As(err); ok {
			l.Add(e)
		}
	}
	add(checkName(name))
	role, err := ParseRole(string(props.Role))
	add(err)
	add(checkScope(props.Scope))
	if props.Secret != "" {
		// Never a caller's choice: a secret someone picked is one someone
		// else may guess or already know.
		l.Addf(CodeInvalidParameter, "properties.secret", "The secret is chosen by the server and shown once, in the response; leave it out of the request.")
	}
	if len(props.Description) > maxDescriptionLen {
		l.Addf(CodeInvalidParameter, "properties.description", "The description is %d bytes long; keep it to %d.", len(props.Description), maxDescriptionLen)
	}
	var expires *time.Time
	if props.ExpiresOn != nil {
		t := props.ExpiresOn.UTC()
		if !t.After(now) {
			l.Addf(CodeInvalidParameter, "properties.expiresOn", "The expiry %s is not in the future (it is now %s); give a later time, or none for a token that does not expire.",
				t.Format(time.RFC3339), now.Format(time.RFC3339))
		}
		expires = &t
	}
	if err := l.Err(); err != nil {
		return Token{}, err
	}
	if err := Authorize(by, ManageTokens, props.Scope); err != nil {
		return Token{}, err
	}
	if strings.EqualFold(name, AdminName) {
		return Token{}, armerror.New(store.CodeConflict, "name", "The token name %q is reserved for the token the server creates at first start; choose another name.", name)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.snap.Load()
	if s.byName[strings.ToLower(name)] != nil {
		return Token{}, conflict(name)
	}
	secret := newSecret()
	e := &entry{tok: Token{ID: TokenID(name), Name: name, Type: tokenType, Properties: TokenProperties{
		Role: role, Scope: props.Scope, Description: props.Description,
		CreatedOn: now, ExpiresOn: expires, CreatedBy: by.TokenID,
	}}, sum: digest(secret)}
	e.fill()
	if err := a.put(ctx, e, store.CreateOnly()); err != nil {
		return Token{}, err
	}
	a.snap.Store(s.with(e))
	t := e.token()
	t.Properties.Secret = secret
	return t, nil
}

func conflict(name string) *armerror.Error {
	return armerror.New(store.CodeConflict, "name", "A token named %q already exists; choose another name, or revoke that token first.", name)
}

// put writes e's record to the store.
func (a *Authenticator) put(ctx context.Context, e *entry, cond store.Condition) error {
	doc, err := json.Marshal(newRecord(e.tok, e.sum))
	if err != nil {
		return fmt.Errorf("encode token %s: %w", e.tok.Name, err)
	}
	_, err = a.st.Put(ctx, e.tok.ID, doc, cond)
	if store.IsConflict(err) {
		return conflict(e.tok.Name)
	}
	return err
}

// token returns a copy of e's token that the caller may modify.
func (e *entry) token() Token {
	t := e.tok
	if t.Properties.ExpiresOn != nil {
		x := *t.Properties.ExpiresOn
		t.Properties.ExpiresOn = &x
	}
	return t
}

// Get returns the token name, without its secret. A caller sees its own
// token, and an Owner the tokens whose scope lies within its own; any other
// token is ResourceNotFound, whether it exists or not. A caller that is not
// an Owner asking for another token gets AuthorizationFailed.
func (a *Authenticator) Get(_ context.Context, by Principal, name string) (Token, error) {
	e, err := a.visible(by, name)
	if err != nil {
		return Token{}, err
	}
	return e.token(), nil
}

// visible returns the token name if by may see it.
func (a *Authenticator) visible(by Principal, name string) (*entry, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	self := strings.EqualFold(by.TokenID, name)
	if !self && by.Role != Owner {
		// Decided before looking the token up, so the answer does not tell
		// whether it exists.
		return nil, armerror.New(CodeAuthorizationFailed, "",
			"The client '%s' does not have authorization to perform action '%s/*' over scope '%s' or the scope is invalid. The token %q is %s on %q; managing other tokens needs Owner on their scope.",
			by.TokenID, tokenType, TokenID(name), by.TokenID, by.Role, by.Scope)
	}
	e := a.snap.Load().byName[strings.ToLower(name)]
	if e == nil || !self && !covers(by.Scope, e.tok.Properties.Scope) {
		return nil, armerror.New(store.CodeNotFound, TokenID(name),
			"The token %q was not found within the scope %q of the token %q. List the tokens you can see, or ask an Owner of a wider scope.",
			name, by.Scope, by.TokenID)
	}
	return e, nil
}

// List returns the tokens whose scope lies within by's, without their
// secrets, ordered by name. by must be an Owner.
func (a *Authenticator) List(_ context.Context, by Principal) ([]Token, error) {
	if err := Authorize(by, ManageTokens, by.Scope); err != nil {
		return nil, err
	}
	out := []Token{}
	for _, e := range a.snap.Load().byName {
		if covers(by.Scope, e.tok.Properties.Scope) {
			out = append(out, e.token())
		}
	}
	slices.SortFunc(out, func(x, y Token) int { return cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)) })
	return out, nil
}

// Revoke deletes the token name: from the moment Revoke returns, it no
// longer authenticates. An Owner may revoke the tokens whose scope lies
// within its own, and anyone their own token (a leaked token's holder can
// end it at once); other tokens are as in Get. The admin token cannot be
// revoked, only rotated (Bootstrap), so that the deployment always has an
// Owner.
func (a *Authenticator) Revoke(ctx context.Context, by Principal, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, err := a.visible(by, name)
	if err != nil {
		return err
	}
	if strings.EqualFold(e.tok.Name, AdminName) {
		return armerror.New(CodeOperationNotAllowed, TokenID(e.tok.Name),
			"The token %q cannot be revoked, so that the deployment always has an Owner; rotate it instead (restart the server asking for a new admin token), which ends the old secret.", e.tok.Name)
	}
	if err := a.st.Delete(ctx, e.tok.ID, store.Condition{}); err != nil && !store.IsNotFound(err) {
		return err
	}
	a.snap.Store(a.snap.Load().without(e.tok.Name))
	return nil
}
