package cli

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/daemon"
)

// dataServer is a whole `vnetml server` in this process, data planes
// included: the workspace, storage and key vault commands reach storage
// accounts and key vaults through its fabric, as a user does.
type dataServer struct {
	t     *testing.T
	dir   string
	url   string
	admin string
	c     *client.Client
}

// newDataServer runs daemon.Run on a loopback port over a temporary data
// directory until the test ends, and creates the resource group mygroup.
// The login config and the client address are the test's own (none).
func newDataServer(t *testing.T) *dataServer {
	t.Helper()
	s := startDataServer(t, daemon.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if _, err := s.c.Put(context.Background(), testGroup, map[string]any{"location": "eastus"}, ""); err != nil {
		t.Fatal(err)
	}
	return s
}

// startDataServer runs daemon.Run with o until the test ends and returns
// a client of it as the admin.
func startDataServer(t *testing.T, o daemon.Options) *dataServer {
	t.Helper()
	withTempConfig(t)
	t.Setenv("VNETML_CLIENT_ADDRESS", "")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, o, io.Discard, io.Discard, func(url string) { ready <- url }) }()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("the server did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the server stopped with %v", err)
		}
	})
	admin, err := client.ReadAdminToken(o.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(url, admin, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &dataServer{t: t, dir: o.DataDir, url: url, admin: admin, c: c}
}

// run runs the command tree against the server as the admin.
func (s *dataServer) run(args ...string) result {
	s.t.Helper()
	return s.runIn("", args...)
}

// runIn is run with stdin.
func (s *dataServer) runIn(stdin string, args ...string) result {
	s.t.Helper()
	return runIn(s.t, stdin, append(args, "--endpoint", s.url, "--token", s.admin)...)
}

// ok runs a command that must succeed with nothing on stderr, and
// returns its stdout.
func (s *dataServer) ok(args ...string) string {
	s.t.Helper()
	r := s.run(args...)
	wantOK(s.t, r)
	return r.stdout
}

// decode decodes the JSON a command printed into v.
func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
}
