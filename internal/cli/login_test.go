package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/client"
)

// login with the admin token of the server's data directory writes a 0600
// config that later commands use with neither --endpoint nor --token.
func TestLoginWithTheAdminToken(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)
	path := withTempConfig(t)

	r := run(t, "login", "--endpoint", s.url, "--data-dir", s.dir)
	wantOK(t, r)
	want := "Logged in to " + s.url + " with the token from " + filepath.Join(s.dir, "admin.token") + ".\n" +
		"The token sees 1 subscription (* marks the one commands use):\n" +
		"Current  Name     SubscriptionId                        State\n" +
		"-------  -------  ------------------------------------  -------\n" +
		"*        default  00000000-0000-0000-0000-000000000000  Enabled\n" +
		"Saved the endpoint and token to " + path + " (mode 0600).\n"
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("login (-want +got):\n%s", diff)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600", st.Mode().Perm())
	}
	cfg, err := client.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(client.Config{Endpoint: s.url, Token: s.admin}, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}

	// Later commands need nothing more.
	r = run(t, "get", "vnet", "mynetwork")
	wantOK(t, r)
	if !strings.Contains(r.stdout, "mynetwork  mygroup") {
		t.Errorf("get after login:\n%s", r.stdout)
	}
	r = run(t, "network", "watcher", "test-ip-flow", "--nic", "node0", "--direction", "Inbound", "--protocol", "TCP",
		"--local", "10.0.0.4:29876", "--remote", "198.18.3.9:443", "-o", "json")
	wantOK(t, r)
	// The environment still overrides the config, command by command.
	t.Setenv("VNETML_TOKEN", "vnm_notatoken")
	r = run(t, "get", "vnets")
	wantFail(t, r, exitInput, "AuthenticationFailed")
}

// VNETML_DATA_DIR says where the admin token is when --data-dir does not.
func TestLoginDataDirFromEnvironment(t *testing.T) {
	s := newTestServer(t)
	withTempConfig(t)
	t.Setenv("VNETML_DATA_DIR", s.dir)
	t.Setenv("VNETML_ENDPOINT", s.url)
	r := run(t, "login")
	wantOK(t, r)
	if !strings.Contains(r.stdout, "Logged in to "+s.url+" with the token from "+filepath.Join(s.dir, "admin.token")) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

// A token from a file (or stdin) is logged in with; the subscription
// given is checked against those the token sees and saved.
func TestLoginWithATokenFile(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)
	r := s.run("token", "create", "ci", "--role", "Reader", "--scope", testGroup, "-o", "json")
	if r.code != exitOK {
		t.Fatal(r.stderr)
	}
	secret := secretOf(t, r.stdout)
	file := filepath.Join(t.TempDir(), "ci.token")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := withTempConfig(t)

	r = run(t, "login", "--endpoint", s.url, "--token-file", file, "--subscription", defaultSubscription)
	wantOK(t, r)
	if !strings.Contains(r.stdout, "with the token from "+file) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	cfg, err := client.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(client.Config{Endpoint: s.url, Token: secret, Subscription: defaultSubscription}, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	r = run(t, "get", "nsgs", "-g", "mygroup")
	wantOK(t, r)

	r = runIn(t, secret+"\n", "login", "--endpoint", s.url, "--token-file", "-")
	wantOK(t, r)
}

// A login that fails saves nothing and says why, naming the flag.
func TestLoginErrors(t *testing.T) {
	s := newTestServer(t)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"wrong token", []string{"--endpoint", s.url, "--token", "vnm_wrong"}, exitInput,
			[]string{"AuthenticationFailed (--token)", "rejects the token"}},
		{"no admin token here", []string{"--endpoint", s.url, "--data-dir", t.TempDir()}, exitInput,
			[]string{"(--data-dir)", "no token given", "--token-file"}},
		{"two token sources", []string{"--token", "a", "--token-file", "b"}, exitInput,
			[]string{"(--token-file)", "--token and --token-file cannot be combined"}},
		{"missing token file", []string{"--token-file", filepath.Join(t.TempDir(), "nope")}, exitInput,
			[]string{"(--token-file)", "cannot read the token file"}},
		{"empty token file", []string{"--token-file", empty}, exitInput, []string{"(--token-file)", "is empty"}},
		{"subscription the token cannot see", []string{"--endpoint", s.url, "--token", s.admin, "--subscription", "11111111-1111-1111-1111-111111111111"}, exitInput,
			[]string{"(--subscription)", "cannot see subscription 11111111-1111-1111-1111-111111111111", defaultSubscription}},
		{"bad endpoint", []string{"--endpoint", "localhost:7878", "--token", s.admin}, exitInput, []string{"(--endpoint)", "http://"}},
		{"no server", []string{"--endpoint", "http://127.0.0.1:1", "--token", s.admin}, exitInternal, []string{"ServerUnreachable", "127.0.0.1:1"}},
		{"argument", []string{"x"}, exitInput, []string{`unexpected argument "x"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := withTempConfig(t)
			r := run(t, append([]string{"login"}, tc.args...)...)
			wantFail(t, r, tc.code, tc.want...)
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("a failed login wrote the config (%v)", err)
			}
		})
	}
}

// Without a token and with no admin token in the default data directory,
// login points at --token (not at a directory the user never named).
func TestLoginWithoutAnyToken(t *testing.T) {
	withTempConfig(t)
	t.Setenv("VNETML_DATA_DIR", filepath.Join(t.TempDir(), "none"))
	r := run(t, "login", "--endpoint", "http://127.0.0.1:1")
	wantFail(t, r, exitInput, "MissingArgument (--token)", "no token given")
}
