package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// secretOf returns the secret of a token create's JSON answer.
func secretOf(t *testing.T, out string) string {
	t.Helper()
	var tok struct {
		Properties struct {
			Secret string `json:"secret"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Properties.Secret == "" {
		t.Fatalf("no secret in the answer: %v\n%s", err, out)
	}
	return tok.Properties.Secret
}

// A token's life: created (its secret printed once, with a warning),
// listed, used within its role and scope, revoked, then refused.
func TestTokenLifecycle(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)

	r := s.run("token", "create", "ci", "--role", "contributor", "--scope", testGroup,
		"--description", "CI pipeline", "--expires-in", "30d")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "warning: copy the secret now") || !strings.Contains(r.stderr, "not shown again") {
		t.Errorf("no warning that the secret is shown once:\n%s", r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "Name  Role         Scope") ||
		!strings.HasPrefix(lines[2], "ci    Contributor  "+testGroup) || !strings.Contains(lines[2], "CI pipeline") {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	secret, ok := strings.CutPrefix(lines[3], "Secret: ")
	if !ok || !regexp.MustCompile(`^vnm_[A-Za-z0-9_-]+$`).MatchString(secret) {
		t.Fatalf("no secret line: %q", lines[3])
	}
	// The expiry is 30 days away, to the second.
	m := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).FindString(lines[2])
	exp, err := time.Parse(time.RFC3339, m)
	if err != nil || exp.Sub(time.Now()) < 29*24*time.Hour || exp.Sub(time.Now()) > 30*24*time.Hour+time.Minute {
		t.Errorf("expiry %q (%v): want 30 days from now", m, err)
	}

	// The token works within its scope, and only there.
	r = s.runAs(secret, "get", "vnets", "-g", "mygroup")
	wantOK(t, r)
	r = s.runAs(secret, "get", "watchers")
	wantOK(t, r)
	if !strings.HasPrefix(r.stdout, "No network watchers") {
		t.Errorf("a group-scoped token sees another group's watcher:\n%s", r.stdout)
	}
	// A Contributor may not manage tokens.
	r = s.runAs(secret, "token", "list")
	wantFail(t, r, exitInput, "AuthorizationFailed")

	r = s.run("token", "list")
	wantOK(t, r)
	for _, w := range []string{"\nadmin  Owner        /  ", "\nci     Contributor  " + testGroup} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("token list lacks %q:\n%s", w, r.stdout)
		}
	}
	if strings.Contains(r.stdout, secret) {
		t.Error("token list shows a secret")
	}
	r = s.run("token", "list", "-o", "json")
	wantOK(t, r)
	var toks []struct{ Name string }
	if err := json.Unmarshal([]byte(r.stdout), &toks); err != nil || len(toks) != 2 || toks[0].Name != "admin" || toks[1].Name != "ci" {
		t.Errorf("token list -o json: %v\n%s", err, r.stdout)
	}

	r = s.run("token", "revoke", "ci")
	wantOK(t, r)
	if r.stdout != "Revoked token ci: it no longer authenticates.\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	// A revoked token is refused: exit 2, the server's AuthenticationFailed.
	r = s.runAs(secret, "get", "vnets", "-g", "mygroup")
	wantFail(t, r, exitInput, "AuthenticationFailed", "unknown or has been revoked")
	r = s.run("token", "revoke", "ci")
	wantFail(t, r, exitInput, "ResourceNotFound")
	r = s.run("token", "revoke", "admin")
	wantFail(t, r, exitInput, "cannot be revoked")
}

// -o json prints the server's answer, secret included, for scripts.
func TestTokenCreateJSON(t *testing.T) {
	s := newTestServer(t)
	r := s.run("token", "create", "auditor", "--role", "Reader", "--scope", "/", "-o", "json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var tok struct {
		Name       string
		Properties struct{ Role, Scope, Secret string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Name != "auditor" || tok.Properties.Role != "Reader" || tok.Properties.Scope != "/" || tok.Properties.Secret == "" {
		t.Errorf("answer: %+v", tok)
	}
	r = s.runAs(tok.Properties.Secret, "get", "subscriptions", "-o", "json")
	wantOK(t, r)
}

// Bad input is refused naming the flag: what the CLI checks before asking,
// and what the server refuses, mapped back to the flags.
func TestTokenCreateErrors(t *testing.T) {
	s := newTestServer(t)
	s.run("token", "create", "taken", "--role", "Reader", "--scope", "/")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"no name", []string{"--role", "Reader", "--scope", "/"}, []string{"MissingArgument (NAME)"}},
		{"two names", []string{"a", "b", "--role", "Reader", "--scope", "/"}, []string{`unexpected argument "b"`}},
		{"nothing", []string{"x"}, []string{"2 errors in the command line", "(--role)", "(--scope)"}},
		{"bad role", []string{"x", "--role", "Admin", "--scope", "/"}, []string{"(--role)", `"Admin" is not one of Owner, Contributor, Reader`}},
		{"bad expiry", []string{"x", "--role", "Reader", "--scope", "/", "--expires-in", "soon"}, []string{"(--expires-in)", "12h, 90m"}},
		{"past expiry", []string{"x", "--role", "Reader", "--scope", "/", "--expires-in", "-1h"}, []string{"(--expires-in)", "not a positive duration"}},
		{"bad scope", []string{"x", "--role", "Reader", "--scope", "mygroup"}, []string{"(--scope)"}},
		{"bad name", []string{"bad name!", "--role", "Reader", "--scope", "/"}, []string{"(NAME)"}},
		{"name taken", []string{"taken", "--role", "Reader", "--scope", "/"}, []string{"Conflict (NAME)", "already exists"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.run(append([]string{"token", "create"}, tc.args...)...)
			wantFail(t, r, exitInput, tc.want...)
			if r.stdout != "" {
				t.Errorf("stdout:\n%s", r.stdout)
			}
		})
	}
}

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"12h": 12 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute, "30d": 30 * 24 * time.Hour, "1d": 24 * time.Hour,
	} {
		if got, err := parseLifetime(in); err != nil || got != want {
			t.Errorf("parseLifetime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "0", "0d", "-3d", "1.5d", "x", "99999999d", "1w"} {
		if _, err := parseLifetime(in); err == nil {
			t.Errorf("parseLifetime(%q) accepted", in)
		}
	}
}
