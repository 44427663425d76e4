package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/apiserver"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/fabric/userspace"
	"github.com/vnetml/vnetml/internal/servicetag"
	"github.com/vnetml/vnetml/internal/store/sqlite"
)

// TestMain makes every test of the package hermetic: no login config of
// the developer's, no server named by the environment. A test that wants
// them sets them with t.Setenv.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vnetml-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("VNETML_CONFIG", filepath.Join(dir, "no-config.json"))
	for _, v := range []string{"VNETML_TOKEN", "VNETML_ENDPOINT", "VNETML_SUBSCRIPTION", "VNETML_CA_CERT", "VNETML_DATA_DIR", "VNETML_CLIENT_ADDRESS"} {
		os.Unsetenv(v)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Ids of the example network (examples/secure-network/network.json).
const (
	testSub   = "/subscriptions/" + defaultSubscription
	testGroup = testSub + "/resourceGroups/mygroup"
	testNet   = testGroup + "/providers/Microsoft.Network"
	testVNet  = testNet + "/virtualNetworks/mynetwork"
	testNSG   = testNet + "/networkSecurityGroups/ml-nsg"
	testRT    = testNet + "/routeTables/ml-routes"
	testNIC   = testNet + "/networkInterfaces/node0"
)

// testServer is a real API server in this process, over a sqlite store in
// a temporary directory, as cmd/vnetml runs it (without the controllers).
type testServer struct {
	t     *testing.T
	dir   string // the data directory: admin.token is here
	url   string
	admin string
	c     *client.Client // as the admin
	fab   *userspace.Fabric
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "vnetml.db"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := a.Bootstrap(ctx, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	fab := userspace.New(userspace.Options{})
	srv, err := apiserver.New(ctx, apiserver.Config{Store: st, Tags: servicetag.LocalCloud(), Auth: a, Fabric: fab})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		fab.Close()
		st.Close()
	})
	c, err := client.New(hs.URL, secret, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{t: t, dir: dir, url: hs.URL, admin: secret, c: c, fab: fab}
}

// run runs the command tree against the server as the admin.
func (s *testServer) run(args ...string) result {
	s.t.Helper()
	return s.runAs(s.admin, args...)
}

// runAs runs the command tree against the server with token.
func (s *testServer) runAs(token string, args ...string) result {
	s.t.Helper()
	return run(s.t, append(args, "--endpoint", s.url, "--token", token)...)
}

// put creates or replaces a resource through the client.
func (s *testServer) put(id string, doc any) json.RawMessage {
	s.t.Helper()
	b, err := s.c.Put(context.Background(), id, doc, "")
	if err != nil {
		s.t.Fatalf("PUT %s: %v", id, err)
	}
	return b
}

// get reads a resource's document through the client.
func (s *testServer) get(id string) json.RawMessage {
	s.t.Helper()
	b, err := s.c.Get(context.Background(), id)
	if err != nil {
		s.t.Fatalf("GET %s: %v", id, err)
	}
	return b
}

// loadExample puts the network resources of a resource file (the
// example's format: an array of documents as az prints them) in the
// order that lets references resolve, skipping the types the server does
// not serve (storage accounts, key vaults).
func (s *testServer) loadExample(file string) {
	s.t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		s.t.Fatal(err)
	}
	var docs []map[string]any
	if err := json.Unmarshal(b, &docs); err != nil {
		s.t.Fatal(err)
	}
	s.put(testGroup, map[string]any{"location": "eastus"})
	order := []string{
		"Microsoft.Network/applicationSecurityGroups", "Microsoft.Network/networkSecurityGroups",
		"Microsoft.Network/routeTables", "Microsoft.Network/publicIPAddresses",
		"Microsoft.Network/virtualNetworks", "Microsoft.Network/loadBalancers",
		"Microsoft.Network/networkInterfaces",
	}
	for _, typ := range order {
		for _, d := range docs {
			if !strings.EqualFold(d["type"].(string), typ) {
				continue
			}
			s.put(d["id"].(string), d)
		}
	}
}

// withTempConfig points the login config at a fresh file in a temporary
// directory and returns its path.
func withTempConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vnetml", "config.json")
	t.Setenv("VNETML_CONFIG", p)
	t.Setenv("VNETML_TOKEN", "")
	t.Setenv("VNETML_ENDPOINT", "")
	t.Setenv("VNETML_SUBSCRIPTION", "")
	return p
}

// compact is s with JSON re-encoded without blanks, for comparisons.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return b.String()
}

// More ids of the small network smallNetwork builds.
const (
	testPIP  = testNet + "/publicIPAddresses/ml-ip"
	testASG  = testNet + "/applicationSecurityGroups/ml-asg"
	testLB   = testNet + "/loadBalancers/ml-lb"
	testLock = testGroup + "/providers/Microsoft.Authorization/locks/keep"
)

// smallNetwork builds the example's network and a resource of every other
// type: a public IP, an application security group and a load balancer.
func (s *testServer) smallNetwork() {
	s.t.Helper()
	s.loadExample(example)
	s.put(testPIP, map[string]any{"location": "eastus", "sku": map[string]any{"name": "Standard"},
		"properties": map[string]any{"publicIPAllocationMethod": "Static"}})
	s.put(testASG, map[string]any{"location": "eastus"})
	s.put(testLB, map[string]any{"location": "eastus", "sku": map[string]any{"name": "Standard"},
		"properties": map[string]any{"frontendIPConfigurations": []any{
			map[string]any{"name": "fe", "properties": map[string]any{"publicIPAddress": map[string]any{"id": testPIP}}},
		}, "backendAddressPools": []any{map[string]any{"name": "pool"}}}})
}

// serversFor starts one server per resource file, holding its network.
func serversFor(t *testing.T, files ...string) map[string]*testServer {
	t.Helper()
	out := map[string]*testServer{}
	for _, f := range files {
		s := newTestServer(t)
		s.loadExample(f)
		out[f] = s
	}
	return out
}

// both runs a network command offline, reading file, and against s, and
// returns what each printed.
func (s *testServer) both(file string, args ...string) (offline, server result) {
	s.t.Helper()
	return run(s.t, append(args, "--resources", file)...), s.run(args...)
}

// wantSame fails the test unless a network command prints the same and
// exits alike offline, reading file, and against s.
func (s *testServer) wantSame(file string, args ...string) {
	s.t.Helper()
	offline, server := s.both(file, args...)
	wantOK(s.t, offline)
	wantOK(s.t, server)
	if diff := cmp.Diff(offline.stdout, server.stdout); diff != "" {
		s.t.Errorf("server mode differs from offline mode (-offline +server):\n%s", diff)
	}
}

// with returns s reporting to t, for subtests.
func (s *testServer) with(t *testing.T) *testServer {
	c := *s
	c.t = t
	return &c
}

// The commands that talk to a server explain themselves: a long help, an
// example, every flag with its placeholder, and the server flags.
func TestServerCommandsHelp(t *testing.T) {
	server := []string{"--endpoint URL", "--token TOKEN", "--ca-cert FILE"}
	cases := []struct {
		path  string
		flags []string
	}{
		{"get", append(server, "--subscription ID", "-g, --resource-group GROUP", "--vnet VNET", "--nsg NSG", "--route-table TABLE",
			"--scope ID", "-o, --output json|table", "routetable    route tables                 routetables, rt, rts")},
		{"delete", append(server, "--subscription ID", "-g, --resource-group GROUP", "--vnet VNET", "--scope ID", "ScopeLocked")},
		{"login", []string{"--endpoint URL", "--token TOKEN", "--token-file FILE", "--data-dir DIR", "--ca-cert FILE", "--subscription ID", "mode 0600"}},
		{"token", []string{"create", "list", "revoke"}},
		{"token create", append(server, "--role Owner|Contributor|Reader", "--scope ID", "--description TEXT", "--expires-in DURATION", "shown only this once")},
		{"token list", append(server, "-o, --output json|table")},
		{"token revoke", server},
		{"network watcher test-ip-flow", append(server, "-g, --resource-group GROUP", "--subscription ID", "asks the vnetml server")},
		{"network watcher show-next-hop", append(server, "-g, --resource-group GROUP", "asks the vnetml server")},
		{"network nic list-effective-nsg", append(server, "-g, --resource-group GROUP")},
		{"network nic show-effective-route-table", append(server, "-g, --resource-group GROUP")},
	}
	root := newRootCmd(&env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard})
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			cmd, _, err := root.Find(strings.Fields(tc.path))
			if err != nil {
				t.Fatal(err)
			}
			if cmd.Long == "" || (!cmd.HasSubCommands() && cmd.Example == "") {
				t.Errorf("%s lacks a long help or an example", tc.path)
			}
			r := run(t, append(strings.Fields(tc.path), "--help")...)
			wantOK(t, r)
			for _, f := range tc.flags {
				if !strings.Contains(r.stdout, f) {
					t.Errorf("help does not mention %q:\n%s", f, r.stdout)
				}
			}
		})
	}
}
