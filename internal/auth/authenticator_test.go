package auth_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/store"
	"github.com/vnetml/vnetml/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// clock is a settable clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock() *clock                   { c := &clock{}; c.set(t0); return c }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is an Authenticator over an SQLite store in a temporary data
// directory, with the admin token bootstrapped.
type env struct {
	dir   string
	st    *sqlite.Store
	a     *auth.Authenticator
	clock *clock
	admin auth.Principal
	// secrets holds every secret handed out, to check none is stored.
	secrets []string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), clock: newClock()}
	e.open(t)
	secret, created, err := e.a.Bootstrap(ctx(t), e.dir, false)
	if err != nil || !created {
		t.Fatalf("Bootstrap = %v, %v; want created", created, err)
	}
	e.secrets = append(e.secrets, secret)
	e.admin = auth.Principal{TokenID: "admin", Role: auth.Owner, Scope: "/"}
	return e
}

// open (re)opens the store and a new Authenticator over it.
func (e *env) open(t testing.TB) {
	t.Helper()
	if e.st != nil {
		if err := e.st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := sqlite.Open(ctx(t), filepath.Join(e.dir, "vnetml.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	if e.a, err = auth.New(ctx(t), st, e.clock.now); err != nil {
		t.Fatalf("New: %v", err)
	}
}

// create creates a token and returns its secret.
func (e *env) create(t testing.TB, by auth.Principal, name string, role auth.Role, scope string) string {
	t.Helper()
	tok, err := e.a.Create(ctx(t), by, name, auth.TokenProperties{Role: role, Scope: scope})
	if err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
	e.secrets = append(e.secrets, tok.Properties.Secret)
	return tok.Properties.Secret
}

// noSecretStored fails if any stored document holds any secret handed out.
func (e *env) noSecretStored(t *testing.T) {
	t.Helper()
	page, err := e.st.List(ctx(t), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Resources) == 0 {
		t.Fatal("the store is empty: nothing to check")
	}
	for _, r := range page.Resources {
		for _, s := range e.secrets {
			// The random part alone, too: a store of it without the prefix
			// is as bad.
			if strings.Contains(string(r.Doc), s[len(auth.TokenPrefix):]) {
				t.Errorf("the stored document %s holds a token secret: %s", r.ID, r.Doc)
			}
		}
	}
}

func bearer(secret string) string { return "Bearer " + secret }

func TestAuthenticateSucceeds(t *testing.T) {
	e := newEnv(t)
	secret := e.create(t, e.admin, "ci.Deploy-1", auth.Contributor, rg1)
	want := auth.Principal{TokenID: "ci.Deploy-1", Role: auth.Contributor, Scope: rg1}
	for _, h := range []string{"Bearer " + secret, "bearer " + secret, "BEARER   " + secret} {
		p, err := e.a.Authenticate(ctx(t), h)
		if err != nil {
			t.Fatalf("Authenticate(%q): %v", h, err)
		}
		if diff := cmp.Diff(want, p); diff != "" {
			t.Errorf("Authenticate(%q) (-want +got):\n%s", h, diff)
		}
	}
	h := bearer(secret)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := e.a.Authenticate(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Authenticate allocates %v times per call, want 0", n)
	}
}

func TestAuthenticateFails(t *testing.T) {
	e := newEnv(t)
	revoked := e.create(t, e.admin, "gone", auth.Reader, rg1)
	if err := e.a.Revoke(ctx(t), e.admin, "gone"); err != nil {
		t.Fatal(err)
	}
	in := t0.Add(time.Hour)
	tok, err := e.a.Create(ctx(t), e.admin, "temp", auth.TokenProperties{Role: auth.Reader, Scope: rg1, ExpiresOn: &in})
	if err != nil {
		t.Fatal(err)
	}
	expiring := tok.Properties.Secret
	if _, err := e.a.Authenticate(ctx(t), bearer(expiring)); err != nil {
		t.Fatalf("before its expiry: %v", err)
	}
	e.clock.set(in) // expired at exactly ExpiresOn
	unknown := auth.TokenPrefix + strings.Repeat("A", 43)
	valid := e.create(t, e.admin, "valid", auth.Reader, rg1)

	tests := []struct {
		name   string
		header string
		secret string // must not appear in the message ("" for none)
		hint   string // must appear in the message
	}{
		{"no header", "", "", "header is missing"},
		{"basic", "Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", "bearer tokens only"},
		{"token without scheme", expiring, expiring, "bearer tokens only"},
		{"scheme only", "Bearer", "", "token is empty"},
		{"empty token", "Bearer ", "", "token is empty"},
		{"spaces only", "Bearer    ", "", "token is empty"},
		{"tab after scheme", "Bearer\t" + revoked, revoked, "bearer tokens only"},
		{"not a vnetml token", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.abcdefgh", "eyJhbGciOiJIUzI1NiJ9", "not a vnetml token"},
		{"truncated token", bearer(revoked[:30]), revoked[:30], "whole token was copied"},
		{"token with a tail", bearer(revoked + " x"), revoked, "nothing after it"},
		{"too long", bearer(strings.Repeat("x", 2000)), strings.Repeat("x", 20), "longer than 1024 bytes"},
		{"unknown", bearer(unknown), unknown, "create a new one"},
		{"revoked", bearer(revoked), revoked, "unknown or has been revoked"},
		{"valid token in other case", bearer(auth.TokenPrefix + strings.ToUpper(valid[4:])), strings.ToUpper(valid[4:]), "unknown or has been revoked"},
		{"expired", bearer(expiring), expiring, "The token 'temp' expired at 2026-03-01T13:00:00Z. Ask an Owner to create a new token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.a.Authenticate(ctx(t), tt.header)
			if diff := cmp.Diff(auth.Principal{}, p); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{auth.CodeAuthenticationFailed}, armerror.Codes(err)); diff != "" {
				t.Fatalf("codes (-want +got):\n%s", diff)
			}
			msg := err.Error()
			if tt.secret != "" && strings.Contains(msg, tt.secret) {
				t.Errorf("the message repeats the token: %s", msg)
			}
			if !strings.Contains(msg, tt.hint) {
				t.Errorf("message %q does not say %q", msg, tt.hint)
			}
			if !strings.Contains(msg, "vnetml login") {
				t.Errorf("message %q does not say how to log in", msg)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	e := newEnv(t)
	ownerRG1 := auth.Principal{TokenID: "o1", Role: auth.Owner, Scope: rg1}
	e.create(t, e.admin, "o1", auth.Owner, rg1)
	e.create(t, e.admin, "Taken", auth.Reader, rg2)
	contributor := auth.Principal{TokenID: "c", Role: auth.Contributor, Scope: "/"}
	past, future := t0.Add(-time.Second), t0.Add(24*time.Hour).In(time.FixedZone("CET", 3600))
	futureUTC := future.UTC()

	tests := []struct {
		name      string
		by        auth.Principal
		tokenName string
		props     auth.TokenProperties
		want      auth.TokenProperties // Secret aside
		wantCodes []string
	}{{
		name: "admin creates a reader", by: e.admin, tokenName: "r1",
		props: auth.TokenProperties{Role: auth.Reader, Scope: rg1, Description: "dashboards"},
		want:  auth.TokenProperties{Role: auth.Reader, Scope: rg1, Description: "dashboards", CreatedOn: t0, CreatedBy: "admin"},
	}, {
		name: "role in any case, expiry kept in UTC", by: e.admin, tokenName: "x",
		props: auth.TokenProperties{Role: "contributor", Scope: s1, ExpiresOn: &future},
		want:  auth.TokenProperties{Role: auth.Contributor, Scope: s1, CreatedOn: t0, ExpiresOn: &futureUTC, CreatedBy: "admin"},
	}, {
		name: "owner of rg1 creates an owner of rg1", by: ownerRG1, tokenName: "o1b",
		props: auth.TokenProperties{Role: auth.Owner, Scope: "/SUBSCRIPTIONS/s1/resourcegroups/RG1"},
		want:  auth.TokenProperties{Role: auth.Owner, Scope: "/SUBSCRIPTIONS/s1/resourcegroups/RG1", CreatedOn: t0, CreatedBy: "o1"},
	}, {
		name: "admin creates another deployment owner", by: e.admin, tokenName: "root2",
		props: auth.TokenProperties{Role: auth.Owner, Scope: "/"},
		want:  auth.TokenProperties{Role: auth.Owner, Scope: "/", CreatedOn: t0, CreatedBy: "admin"},
	}, {
		name: "contributor", by: contributor, tokenName: "n",
		props:     auth.TokenProperties{Role: auth.Reader, Scope: rg1},
		wantCodes: []string{auth.CodeAuthorizationFailed},
	}, {
		name: "owner of rg1 for rg2", by: ownerRG1, tokenName: "n",
		props:     auth.TokenProperties{Role: auth.Reader, Scope: rg2},
		wantCodes: []string{auth.CodeAuthorizationFailed},
	}, {
		name: "owner of rg1 for its subscription", by: ownerRG1, tokenName: "n",
		props:     auth.TokenProperties{Role: auth.Reader, Scope: s1},
		wantCodes: []string{auth.CodeAuthorizationFailed},
	}, {
		name: "zero principal", tokenName: "n",
		props:     auth.TokenProperties{Role: auth.Reader, Scope: rg1},
		wantCodes: []string{auth.CodeAuthorizationFailed},
	}, {
		name: "name taken in other case", by: e.admin, tokenName: "TAKEN",
		props:     auth.TokenProperties{Role: auth.Reader, Scope: rg1},
		wantCodes: []string{store.CodeConflict},
	}, {
		name: "admin is reserved", by: e.admin, tokenName: "Admin",
		props:     auth.TokenProperties{Role: auth.Reader, Scope: rg1},
		wantCodes: []string{store.CodeConflict},
	}, {
		name: "a chosen secret", by: e.admin, tokenName: "n",
		props:     auth.TokenProperties{Role: auth.Reader, Scope: rg1, Secret: auth.TokenPrefix + strings.Repeat("a", 43)},
		wantCodes: []string{auth.CodeInvalidParameter},
	}, {
		name: "everything wrong", by: e.admin, tokenName: "-x",
		props:     auth.TokenProperties{Role: "Boss", Scope: vnet, Description: strings.Repeat("d", 513), ExpiresOn: &past},
		wantCodes: []string{auth.CodeInvalidResourceName, auth.CodeInvalidParameter, auth.CodeInvalidParameter, auth.CodeInvalidParameter, auth.CodeInvalidParameter},
	}}
	for _, name := range []string{"", ".", "..", "a/b", "a b", "é", strings.Repeat("a", 65)} {
		tests = append(tests, struct {
			name      string
			by        auth.Principal
			tokenName string
			props     auth.TokenProperties
			want      auth.TokenProperties
			wantCodes []string
		}{name: "name " + name, by: e.admin, tokenName: name, props: auth.TokenProperties{Role: auth.Reader, Scope: rg1}, wantCodes: []string{auth.CodeInvalidResourceName}})
	}
	for _, scope := range []string{"", "/subscriptions", "subscriptions/s1", rg1 + "/", vnet, "/providers/vnetml.Authorization/tokens/t"} {
		tests = append(tests, struct {
			name      string
			by        auth.Principal
			tokenName string
			props     auth.TokenProperties
			want      auth.TokenProperties
			wantCodes []string
		}{name: "scope " + scope, by: e.admin, tokenName: "n", props: auth.TokenProperties{Role: auth.Reader, Scope: scope}, wantCodes: []string{auth.CodeInvalidParameter}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := e.a.Create(ctx(t), tt.by, tt.tokenName, tt.props)
			if diff := cmp.Diff(tt.wantCodes, armerror.Codes(err)); diff != "" {
				t.Fatalf("codes (-want +got):\n%s\n%v", diff, err)
			}
			if err != nil {
				return
			}
			secret := tok.Properties.Secret
			e.secrets = append(e.secrets, secret)
			if !strings.HasPrefix(secret, auth.TokenPrefix) || len(secret) != len(auth.TokenPrefix)+43 {
				t.Errorf("secret %q is not vnm_ and 43 characters", secret)
			}
			tok.Properties.Secret = ""
			want := auth.Token{ID: "/providers/vnetml.Authorization/tokens/" + tt.tokenName, Name: tt.tokenName, Type: "vnetml.Authorization/tokens", Properties: tt.want}
			if diff := cmp.Diff(want, tok); diff != "" {
				t.Errorf("token (-want +got):\n%s", diff)
			}
			p, err := e.a.Authenticate(ctx(t), bearer(secret))
			if err != nil {
				t.Fatalf("the new token does not authenticate: %v", err)
			}
			if diff := cmp.Diff(auth.Principal{TokenID: tt.tokenName, Role: tt.want.Role, Scope: tt.want.Scope}, p); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
			got, err := e.a.Get(ctx(t), e.admin, tt.tokenName)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Get (-want +got):\n%s", diff)
			}
		})
	}
	e.noSecretStored(t)
}

func TestTokenWireShape(t *testing.T) {
	e := newEnv(t)
	exp := t0.Add(time.Hour)
	tok, err := e.a.Create(ctx(t), e.admin, "ci", auth.TokenProperties{Role: auth.Reader, Scope: rg1, Description: "d", ExpiresOn: &exp})
	if err != nil {
		t.Fatal(err)
	}
	tok.Properties.Secret = "vnm_SECRET"
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"/providers/vnetml.Authorization/tokens/ci","name":"ci","type":"vnetml.Authorization/tokens","properties":{"role":"Reader","scope":"/subscriptions/s1/resourceGroups/rg1","description":"d","createdOn":"2026-03-01T12:00:00Z","expiresOn":"2026-03-01T13:00:00Z","createdBy":"admin","secret":"vnm_SECRET"}}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	r, err := e.st.Get(ctx(t), tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	var stored map[string]any
	if err := json.Unmarshal(r.Doc, &stored); err != nil {
		t.Fatal(err)
	}
	props := stored["properties"].(map[string]any)
	if _, ok := props["secret"]; ok {
		t.Errorf("the stored document has a secret: %s", r.Doc)
	}
	if h, _ := props["secretSha256"].(string); len(h) != 64 {
		t.Errorf("the stored document has no SHA-256 of the secret: %s", r.Doc)
	}
}

// tokenSet builds the tokens of the visibility tests:
//
//	admin   Owner       /
//	sub     Owner       /subscriptions/s1
//	o1      Owner       rg1
//	c1      Contributor rg1
//	r2      Reader      rg2
//	other   Owner       /subscriptions/s2
func tokenSet(t *testing.T) (*env, map[string]auth.Principal, map[string]string) {
	e := newEnv(t)
	ps := map[string]auth.Principal{"admin": e.admin}
	secrets := map[string]string{}
	for _, x := range []auth.Principal{
		{TokenID: "sub", Role: auth.Owner, Scope: s1},
		{TokenID: "o1", Role: auth.Owner, Scope: rg1},
		{TokenID: "c1", Role: auth.Contributor, Scope: rg1},
		{TokenID: "r2", Role: auth.Reader, Scope: rg2},
		{TokenID: "other", Role: auth.Owner, Scope: "/subscriptions/s2"},
	} {
		secrets[x.TokenID] = e.create(t, e.admin, x.TokenID, x.Role, x.Scope)
		ps[x.TokenID] = x
	}
	return e, ps, secrets
}

func names(toks []auth.Token) []string {
	var out []string
	for _, t := range toks {
		out = append(out, t.Name)
		if t.Properties.Secret != "" {
			panic("a listed token has its secret")
		}
	}
	return out
}

func TestList(t *testing.T) {
	e, ps, _ := tokenSet(t)
	tests := []struct {
		by        string
		want      []string
		wantCodes []string
	}{
		{"admin", []string{"admin", "c1", "o1", "other", "r2", "sub"}, nil},
		{"sub", []string{"c1", "o1", "r2", "sub"}, nil},
		{"o1", []string{"c1", "o1"}, nil},
		{"other", []string{"other"}, nil},
		{"c1", nil, []string{auth.CodeAuthorizationFailed}},
		{"r2", nil, []string{auth.CodeAuthorizationFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.by, func(t *testing.T) {
			toks, err := e.a.List(ctx(t), ps[tt.by])
			if diff := cmp.Diff(tt.wantCodes, armerror.Codes(err)); diff != "" {
				t.Fatalf("codes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, names(toks)); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGet(t *testing.T) {
	e, ps, _ := tokenSet(t)
	tests := []struct {
		by, name  string
		wantCodes []string
	}{
		{"admin", "admin", nil},
		{"admin", "r2", nil},
		{"admin", "R2", nil}, // names are case-insensitive
		{"sub", "c1", nil},
		{"o1", "c1", nil},
		{"c1", "c1", nil}, // anyone sees their own token
		{"r2", "r2", nil},
		{"o1", "r2", []string{store.CodeNotFound}},
		{"o1", "admin", []string{store.CodeNotFound}},
		{"o1", "missing", []string{store.CodeNotFound}}, // the same answer as for r2
		{"admin", "missing", []string{store.CodeNotFound}},
		{"c1", "o1", []string{auth.CodeAuthorizationFailed}},
		{"c1", "missing", []string{auth.CodeAuthorizationFailed}}, // the same answer as for o1
		{"admin", "a/b", []string{auth.CodeInvalidResourceName}},
	}
	for _, tt := range tests {
		t.Run(tt.by+"/"+tt.name, func(t *testing.T) {
			tok, err := e.a.Get(ctx(t), ps[tt.by], tt.name)
			if diff := cmp.Diff(tt.wantCodes, armerror.Codes(err)); diff != "" {
				t.Fatalf("codes (-want +got):\n%s\n%v", diff, err)
			}
			if err == nil && (!strings.EqualFold(tok.Name, tt.name) || tok.Properties.Secret != "") {
				t.Errorf("Get = %+v", tok)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	tests := []struct {
		by, name  string
		wantCodes []string
	}{
		{"admin", "r2", nil},
		{"sub", "C1", nil},
		{"o1", "c1", nil},
		{"o1", "o1", nil},
		{"r2", "r2", nil}, // a leaked token's holder may end it
		{"o1", "r2", []string{store.CodeNotFound}},
		{"o1", "sub", []string{store.CodeNotFound}},
		{"admin", "missing", []string{store.CodeNotFound}},
		{"c1", "o1", []string{auth.CodeAuthorizationFailed}},
		{"admin", "admin", []string{auth.CodeOperationNotAllowed}},
		{"admin", "ADMIN", []string{auth.CodeOperationNotAllowed}},
	}
	for _, tt := range tests {
		t.Run(tt.by+"/"+tt.name, func(t *testing.T) {
			e, ps, secrets := tokenSet(t)
			err := e.a.Revoke(ctx(t), ps[tt.by], tt.name)
			if diff := cmp.Diff(tt.wantCodes, armerror.Codes(err)); diff != "" {
				t.Fatalf("codes (-want +got):\n%s\n%v", diff, err)
			}
			// Every token but a revoked one still works; the revoked one
			// fails from now on, and after a restart.
			check := func() {
				for name, secret := range secrets {
					_, err := e.a.Authenticate(ctx(t), bearer(secret))
					if gone := err == nil && strings.EqualFold(name, tt.name) && tt.wantCodes == nil; gone {
						t.Errorf("the revoked token %s still authenticates", name)
					}
					if err != nil && !(strings.EqualFold(name, tt.name) && tt.wantCodes == nil) {
						t.Errorf("the token %s no longer authenticates: %v", name, err)
					}
				}
			}
			check()
			e.open(t)
			check()
			if tt.wantCodes == nil {
				if _, err := e.a.Get(ctx(t), e.admin, tt.name); !store.IsNotFound(err) {
					t.Errorf("Get after Revoke = %v, want ResourceNotFound", err)
				}
				// The name is free again.
				e.create(t, e.admin, tt.name, auth.Reader, rg1)
			}
		})
	}
}

func TestTokensSurviveReopen(t *testing.T) {
	e, ps, secrets := tokenSet(t)
	exp := t0.Add(time.Hour)
	tok, err := e.a.Create(ctx(t), e.admin, "temp", auth.TokenProperties{Role: auth.Reader, Scope: rg1, ExpiresOn: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.a.Revoke(ctx(t), e.admin, "o1"); err != nil {
		t.Fatal(err)
	}
	before, err := e.a.List(ctx(t), e.admin)
	if err != nil {
		t.Fatal(err)
	}
	e.open(t)
	after, err := e.a.List(ctx(t), e.admin)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("tokens after reopening (-before +after):\n%s", diff)
	}
	for name, secret := range secrets {
		p, err := e.a.Authenticate(ctx(t), bearer(secret))
		if name == "o1" {
			if err == nil {
				t.Errorf("the revoked token o1 authenticates after reopening")
			}
			continue
		}
		if err != nil {
			t.Errorf("%s after reopening: %v", name, err)
		} else if diff := cmp.Diff(ps[name], p); diff != "" {
			t.Errorf("%s after reopening (-want +got):\n%s", name, diff)
		}
	}
	if _, err := e.a.Authenticate(ctx(t), bearer(tok.Properties.Secret)); err != nil {
		t.Errorf("temp before its expiry, after reopening: %v", err)
	}
	e.clock.advance(2 * time.Hour)
	if _, err := e.a.Authenticate(ctx(t), bearer(tok.Properties.Secret)); err == nil {
		t.Errorf("temp authenticates after its expiry")
	}
}

func TestNewRefusesBadRecords(t *testing.T) {
	const id = "/providers/vnetml.Authorization/tokens/bad"
	good := `{"id":"` + id + `","name":"bad","type":"vnetml.Authorization/tokens","properties":{"role":"Reader","scope":"/","createdOn":"2026-03-01T12:00:00Z","createdBy":"admin","secretSha256":"` + strings.Repeat("ab", 32) + `"}}`
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"good", good, true},
		{"not JSON of a token", `{"properties": 3}`, false},
		{"unknown role", strings.Replace(good, `"Reader"`, `"Boss"`, 1), false},
		{"bad scope", strings.Replace(good, `"scope":"/"`, `"scope":"/x"`, 1), false},
		{"short hash", strings.Replace(good, strings.Repeat("ab", 32), "abcd", 1), false},
		{"other name", strings.Replace(good, `"name":"bad"`, `"name":"good"`, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := sqlite.Open(ctx(t), filepath.Join(t.TempDir(), "vnetml.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Put(ctx(t), id, json.RawMessage(tt.doc), store.Condition{}); err != nil {
				t.Fatal(err)
			}
			_, err = auth.New(ctx(t), st, nil)
			if (err == nil) != tt.ok {
				t.Errorf("New = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestConcurrentAuthenticate authenticates from several goroutines while
// tokens are created and revoked: the standing tokens always authenticate,
// a new token from the moment Create returns, a revoked one never after
// Revoke returns. Run it with -race.
func TestConcurrentAuthenticate(t *testing.T) {
	e, _, secrets := tokenSet(t)
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		created sync.Map // name -> secret, while the token lives
	)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				for name, secret := range secrets {
					if p, err := e.a.Authenticate(context.Background(), bearer(secret)); err != nil || p.TokenID != name {
						t.Errorf("Authenticate(%s) = %+v, %v", name, p, err)
						return
					}
				}
				created.Range(func(k, v any) bool {
					// A token may be revoked between Range and here; only
					// a wrong principal is a failure.
					if p, err := e.a.Authenticate(context.Background(), bearer(v.(string))); err == nil && p.TokenID != k {
						t.Errorf("Authenticate(%s) = %+v", k, p)
					}
					return true
				})
			}
		})
	}
	for i := range 40 {
		name := "t" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		secret := e.create(t, e.admin, name, auth.Reader, rg1)
		if _, err := e.a.Authenticate(ctx(t), bearer(secret)); err != nil {
			t.Fatalf("%s right after Create: %v", name, err)
		}
		created.Store(name, secret)
		if i%2 == 0 {
			created.Delete(name)
			if err := e.a.Revoke(ctx(t), e.admin, name); err != nil {
				t.Fatal(err)
			}
			if _, err := e.a.Authenticate(ctx(t), bearer(secret)); err == nil {
				t.Fatalf("%s authenticates right after Revoke", name)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	toks, err := e.a.List(ctx(t), e.admin)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(toks), 6+20; got != want {
		t.Errorf("%d tokens listed, want %d", got, want)
	}
}
