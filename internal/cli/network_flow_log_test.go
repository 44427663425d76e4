package cli

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
)

// TestConnectivityAndFlowLog: test-connectivity sends real connections
// through the server's data plane, and flow-log shows what it decided.
func TestConnectivityAndFlowLog(t *testing.T) {
	s := newTestServer(t)
	if r := s.run("apply", "-f", exampleManifest); r.code != 0 {
		t.Fatalf("apply: %s", r.stderr)
	}
	ln, err := s.fab.Listen(context.Background(), fabric.Endpoint{Addr: netip.MustParseAddr("198.18.1.4")}, 443)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := s.run("network", "watcher", "test-connectivity", "-g", "mygroup", "--source-resource", "node0", "--dest-address", "198.18.1.4", "--dest-port", "443")
	if r.code != 0 || !strings.Contains(r.stdout, "Reachable") {
		t.Fatalf("to storage 443: %d %s%s", r.code, r.stdout, r.stderr)
	}
	// The example's NSG denies nothing outbound to 203.0.113.9:22, but
	// nothing listens there.
	r = s.run("network", "watcher", "test-connectivity", "-g", "mygroup", "--source-resource", "node0", "--dest-address", "203.0.113.9", "--dest-port", "22")
	if r.code != 0 || !strings.Contains(r.stdout, "Unreachable") || !strings.Contains(r.stdout, "nothing listens") {
		t.Fatalf("to a silent address: %d %s%s", r.code, r.stdout, r.stderr)
	}
	r = s.run("network", "watcher", "test-connectivity", "--source-resource", "node0", "--dest-address", "x", "--dest-port", "0")
	if r.code != 2 || !strings.Contains(r.stderr, "--dest-port") {
		t.Fatalf("bad flags: %d %s", r.code, r.stderr)
	}

	r = s.run("network", "flow-log", "--nic", "node0")
	if r.code != 0 || !strings.Contains(r.stdout, "10.0.0.4:") || !strings.Contains(r.stdout, "198.18.1.4:443") || !strings.Contains(r.stdout, "Allow") {
		t.Fatalf("flow-log: %d %s%s", r.code, r.stdout, r.stderr)
	}
	r = s.run("network", "flow-log", "--decision", "Deny")
	if r.code != 0 || !strings.Contains(r.stdout, "No flows recorded") {
		t.Fatalf("flow-log of denials: %d %s%s", r.code, r.stdout, r.stderr)
	}
	r = s.run("network", "flow-log", "-o", "json", "--address", "203.0.113.9")
	if r.code != 0 || !strings.Contains(r.stdout, `"flowTuple":`) || strings.Count(r.stdout, "\n") != 2 {
		t.Fatalf("flow-log json: %d %s%s", r.code, r.stdout, r.stderr)
	}
	r = s.run("network", "flow-log", "--decision", "sometimes")
	if r.code != 2 {
		t.Fatalf("bad decision: %d %s", r.code, r.stderr)
	}
}

// watchWriter signals once what was written contains want.
type watchWriter struct {
	mu   sync.Mutex
	b    strings.Builder
	want string
	seen chan struct{}
	once sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// TestFlowLogFollow: --follow prints records as they happen and stops when
// interrupted.
func TestFlowLogFollow(t *testing.T) {
	s := newTestServer(t)
	if r := s.run("apply", "-f", exampleManifest); r.code != 0 {
		t.Fatalf("apply: %s", r.stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &watchWriter{want: "203.0.113.44:22", seen: make(chan struct{})}
	var errb strings.Builder
	done := make(chan int)
	go func() {
		done <- Run(ctx, []string{"network", "flow-log", "--follow", "--endpoint", s.url, "--token", s.admin}, strings.NewReader(""), out, &errb)
	}()
	// A flow that happens after the follow started.
	r := s.run("network", "watcher", "test-connectivity", "-g", "mygroup", "--source-resource", "node0", "--dest-address", "203.0.113.44", "--dest-port", "22")
	if r.code != 0 {
		t.Fatalf("test-connectivity: %s", r.stderr)
	}
	select {
	case <-out.seen:
	case <-time.After(30 * time.Second):
		t.Fatalf("the followed log never showed the new flow:\n%s", out.b.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("follow ended with %d: %s", code, errb.String())
	}
}
