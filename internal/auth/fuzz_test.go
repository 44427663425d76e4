package auth_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/store/sqlite"
)

// FuzzAuthenticate feeds Authenticate arbitrary headers: it never panics,
// succeeds only for "Bearer" (any case), spaces and the one real secret, and
// otherwise fails with AuthenticationFailed and one of a fixed set of
// messages: what it says cannot depend on the header's text, so it never
// repeats a secret.
func FuzzAuthenticate(f *testing.F) {
	st, err := sqlite.Open(ctx(f), filepath.Join(f.TempDir(), "vnetml.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	a, err := auth.New(ctx(f), st, nil)
	if err != nil {
		f.Fatal(err)
	}
	secret, _, err := a.Bootstrap(ctx(f), f.TempDir(), false)
	if err != nil {
		f.Fatal(err)
	}
	want := auth.Principal{TokenID: "admin", Role: auth.Owner, Scope: "/"}

	// The messages of every failure class, from one example each.
	messages := map[string]bool{}
	for _, h := range []string{"", "Basic x", "Bearer", "Bearer x", strings.Repeat("x", 1025), "Bearer " + auth.TokenPrefix + strings.Repeat("A", 43)} {
		_, err := a.Authenticate(ctx(f), h)
		e, ok := armerror.As(err)
		if !ok {
			f.Fatalf("Authenticate(%q) = %v", h, err)
		}
		messages[e.Message] = true
	}
	if len(messages) != 6 {
		f.Fatalf("%d distinct messages for 6 failure classes", len(messages))
	}

	for _, seed := range []string{
		"", "Bearer", "Bearer ", "bearer " + secret, "Bearer  " + secret, "Bearer " + secret + " ", "Bearer " + secret[:len(secret)-1],
		secret, "Basic " + secret, "Bearer\t" + secret, "Bearer " + strings.ToUpper(secret), "Bearer vnm_" + strings.Repeat("-", 43),
		"Bearer vnm_" + strings.Repeat("é", 20), "Bearer \x00", "Bearer vnm_" + strings.Repeat("A", 43) + "==",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		p, err := a.Authenticate(t.Context(), header)
		if err == nil {
			scheme, tok, _ := strings.Cut(header, " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimLeft(tok, " ") != secret {
				t.Fatalf("Authenticate(%q) succeeded without the secret", header)
			}
			if diff := cmp.Diff(want, p); diff != "" {
				t.Fatalf("principal (-want +got):\n%s", diff)
			}
			return
		}
		e, ok := armerror.As(err)
		if !ok || e.Code != auth.CodeAuthenticationFailed || e.Target != "" || len(e.Details) != 0 {
			t.Fatalf("Authenticate(%q) = %#v, want a plain AuthenticationFailed", header, err)
		}
		if !messages[e.Message] {
			t.Fatalf("Authenticate(%q) says %q, which is none of the fixed messages", header, e.Message)
		}
		if p != (auth.Principal{}) {
			t.Fatalf("Authenticate(%q) failed with a principal %+v", header, p)
		}
	})
}
