package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/nodeagent"
)

// TestMain runs the server in a child process when asked: the kill -9 test
// needs a real process to kill.
func TestMain(m *testing.M) {
	// The servers' nodes run this binary as `vnetml agent` (with the bare
	// environment agents get: no variable tells, the argument does).
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		cmd := nodeagent.Command(os.Stdout, os.Stderr)
		cmd.SetArgs(os.Args[2:])
		if err := cmd.Execute(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if dir := os.Getenv("VNETML_TEST_SERVER_DIR"); dir != "" {
		o := Options{DataDir: dir, Listen: "127.0.0.1:0"}
		if os.Getenv("VNETML_TEST_FAST") == "1" {
			o.NodeCheckInterval, o.RunPollInterval = 100*time.Millisecond, 200*time.Millisecond
		}
		err := Run(context.Background(), o, os.Stdout, io.Discard, nil)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func TestOptionsCheck(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want []string // codes, in order
	}{
		{"loopback", Options{DataDir: "d", Listen: "127.0.0.1:7878"}, nil},
		{"ipv6 loopback", Options{DataDir: "d", Listen: "[::1]:7878"}, nil},
		{"public without tls", Options{DataDir: "d", Listen: "0.0.0.0:7878"}, []string{"InsecureListener"}},
		{"public insecure", Options{DataDir: "d", Listen: "0.0.0.0:7878", Insecure: true}, nil},
		{"public with tls", Options{DataDir: "d", Listen: "0.0.0.0:7878", TLSCert: "c", TLSKey: "k"}, nil},
		{"half tls", Options{DataDir: "d", Listen: "127.0.0.1:1", TLSCert: "c"}, []string{"InvalidArgument"}},
		{"bad listen", Options{DataDir: "d", Listen: "7878"}, []string{"InvalidArgument"}},
		{"quota", Options{DataDir: "d", Listen: "127.0.0.1:1", Quotas: []string{"publicipaddresses=10"}}, nil},
		{"bad quotas", Options{DataDir: "d", Listen: "127.0.0.1:1", Quotas: []string{"Bananas=1", "NetworkInterfaces=-1"}},
			[]string{"InvalidArgument", "InvalidArgument"}},
		{"pool", Options{DataDir: "d", Listen: "127.0.0.1:1", PublicIPPool: "10.0.0.0/31"}, []string{"InvalidArgument"}},
		{"everything", Options{Listen: "8.8.8.8:1", TLSKey: "k"}, []string{"InvalidArgument", "InvalidArgument", "InsecureListener"}},
		{"kernel fabric", Options{DataDir: "d", Listen: "127.0.0.1:1", Fabric: "linux"}, nil},
		{"unknown fabric", Options{DataDir: "d", Listen: "127.0.0.1:1", Fabric: "ebpf"}, []string{"InvalidArgument"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, _, err := tc.o.check()
			got := armerror.Codes(err)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("codes %v, want %v (%v)", got, tc.want, err)
			}
			if tc.name == "quota" && q["PublicIPAddresses"] != 10 {
				t.Errorf("quota override lost: %v", q["PublicIPAddresses"])
			}
		})
	}
}

// server is a vnetml server in a child process.
type server struct {
	cmd   *exec.Cmd
	url   string
	token string
}

// startServer starts a child server over dir and waits until it listens.
func startServer(t *testing.T, dir string) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VNETML_TEST_SERVER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd}
	t.Cleanup(func() { s.kill() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "vnetml server listening on "); ok {
			s.url, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if s.url == "" {
		t.Fatalf("the server did not start: %v", sc.Err())
	}
	go io.Copy(io.Discard, out)
	tok, err := client.ReadAdminToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.token = tok
	return s
}

func (s *server) kill() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// TestKill9 writes through the API from several clients, kills the server
// with SIGKILL mid-stream, restarts it, and finds every write that was
// acknowledged.
func TestKill9(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c, err := client.New(s.url, s.token, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const sub = "/subscriptions/00000000-0000-0000-0000-000000000000"
	if _, err := c.Put(ctx, sub+"/resourceGroups/g", map[string]any{"location": "eastus"}, ""); err != nil {
		t.Fatal(err)
	}
	acked := make(chan string, 10000)
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; ; i++ {
				id := fmt.Sprintf("%s/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/w%d-%d", sub, w, i)
				if _, err := c.Put(ctx, id, map[string]any{"location": "eastus", "properties": map[string]any{"securityRules": []any{}}}, ""); err != nil {
					return // the server is gone
				}
				acked <- id
			}
		}()
	}
	// Kill once a few dozen writes are acknowledged.
	for range 40 {
		<-acked
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	for range 4 {
		<-done
	}
	close(acked)
	var ids []string
	for id := range acked {
		ids = append(ids, id)
	}

	s2 := startServer(t, dir)
	c2, err := client.New(s2.url, s2.token, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := c2.Get(ctx, id); err != nil {
			t.Errorf("acknowledged write %s lost: %v", id, err)
		}
	}
	// The restarted server still works.
	if _, err := c2.Put(ctx, sub+"/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/after",
		map[string]any{"location": "eastus", "properties": map[string]any{"securityRules": []any{}}}, ""); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "admin.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token file: %v %v", fi, err)
	}
}

// TestGracefulShutdown: canceling Run's context stops the server, and the
// data directory opens again at once (the store's lock was released).
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	for range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		var out strings.Builder
		errc := make(chan error, 1)
		go func() {
			errc <- Run(ctx, Options{DataDir: dir, Listen: "127.0.0.1:0"}, &out, io.Discard, func(u string) { ready <- u })
		}()
		var url string
		select {
		case url = <-ready:
		case err := <-errc:
			t.Fatal(err)
		}
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("healthz: %d", resp.StatusCode)
		}
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatal("Run did not return after its context was canceled")
		}
	}
}

// TestAdminFileNames: the server writes the admin token where clients
// look for it.
func TestAdminFileNames(t *testing.T) {
	if auth.AdminFile != api.AdminTokenFile {
		t.Errorf("auth writes %q, clients read %q", auth.AdminFile, api.AdminTokenFile)
	}
}

func TestAgentEnvKeepsNoSecrets(t *testing.T) {
	t.Setenv("VNETML_MASTER_KEY", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	t.Setenv("VNETML_TOKEN", "vnm_secret")
	t.Setenv("PATH", "/usr/bin")
	env := strings.Join(agentEnv(), "\n")
	if strings.Contains(env, "VNETML_MASTER_KEY") || strings.Contains(env, "vnm_secret") {
		t.Fatalf("an agent's environment carries the server's secrets:\n%s", env)
	}
	if !strings.Contains(env, "PATH=/usr/bin") {
		t.Fatalf("an agent's environment lacks PATH:\n%s", env)
	}
}
