//go:build unix

package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vnetml/vnetml/internal/armerror"
)

func TestStartHealthStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sp := h.spawner(SpawnerConfig{})
	a := h.start(sp, "node-1")
	ctx := testCtx(t)

	// The files and their modes.
	for name, want := range map[string]fs.FileMode{"": 0o700 | fs.ModeDir, secretFile: 0o600, recordFile: 0o600, logFile: 0o600} {
		fi, err := os.Stat(filepath.Join(a.Dir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", filepath.Join(a.Dir(), name), fi.Mode(), want)
		}
	}
	rec, err := readRecord(a.Dir())
	if err != nil {
		t.Fatal(err)
	}
	want := record{NodeID: "node-1", ClusterID: "cluster-1", PID: a.PID, Management: a.Management, Control: a.Control, StartedAt: a.StartedAt}
	if d := cmp.Diff(want, rec, cmpopts.EquateComparable(netip.AddrPort{})); d != "" {
		t.Errorf("agent.json (-want +got):\n%s", d)
	}
	if !a.Management.Addr().IsLoopback() || !a.Control.Addr().IsLoopback() || a.Management == a.Control {
		t.Errorf("listeners %v and %v: want two loopback ports", a.Management, a.Control)
	}

	// Through a dial function, as the server dials through the fabric: it
	// is given the node's port, never the loopback address.
	var (
		mu     sync.Mutex
		dialed []uint16
	)
	dial := func(ctx context.Context, port uint16) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, port)
		mu.Unlock()
		return a.Loopback()(ctx, port)
	}
	hi, err := a.Health(ctx, dial)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(HealthInfo{NodeID: "node-1", ClusterID: "cluster-1", State: "idle", PID: a.PID, UptimeSeconds: hi.UptimeSeconds}, hi); d != "" || hi.UptimeSeconds < 0 {
		t.Errorf("health (-want +got):\n%s", d)
	}
	if _, err := a.ControlHealth(ctx, dial); err != nil {
		t.Fatal(err)
	}
	li, err := a.Renew(ctx, dial)
	if err != nil {
		t.Fatal(err)
	}
	if li.NodeID != "node-1" || li.LeaseSeconds != DefaultLease.Seconds() || time.Until(li.ExpiresAt) < DefaultLease-time.Minute {
		t.Errorf("lease = %+v, want node-1 for %v from now", li, DefaultLease)
	}
	if d := cmp.Diff([]uint16{ManagementPort, ControlPort, ManagementPort}, dialed); d != "" {
		t.Errorf("ports dialed (-want +got):\n%s", d)
	}
	// Nothing falls back to loopback when the dial fails (a denied flow).
	denied := errors.New("denied by securityRules/deny-all")
	if _, err := a.Health(ctx, func(context.Context, uint16) (net.Conn, error) { return nil, denied }); !errors.Is(err, denied) {
		t.Errorf("Health with a refusing dial: %v, want %v", err, denied)
	}

	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, a, 0) // Stop returns after the exit
	if err := syscall.Kill(a.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) after Stop = %v, want ESRCH", a.PID, err)
	}
	if _, err := os.Stat(a.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the state directory outlived Stop: %v", err)
	}
	e := exitError(t, a)
	if !e.Stopped || e.Status != "exit status 0" || !strings.Contains(e.LastLog, "stopped") {
		t.Errorf("exit = %+v, want a graceful exit on SIGTERM", e)
	}
	if got := sp.Agents(); len(got) != 0 {
		t.Errorf("the spawner still manages %v", got)
	}
}

func TestKillNineIsDetectedAndTakesTheGroup(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jobs := t.TempDir()
	sp := h.spawner(SpawnerConfig{Command: agentCommand(t, envChildDir+"="+jobs)})
	a := h.start(sp, "node-1")
	job := childOf(t, jobs, a.PID)

	if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, a, 5*time.Second)
	if e := exitError(t, a); e.Status != "signal: killed" || e.Stopped {
		t.Errorf("exit = %+v, want killed, not stopped", e)
	}
	if err := syscall.Kill(a.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) = %v, want ESRCH", a.PID, err)
	}
	// A process the agent started does not outlive it.
	waitGone(t, job, 5*time.Second)
}

func TestStopEndsTheAgentsProcesses(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jobs := t.TempDir()
	sp := h.spawner(SpawnerConfig{Command: agentCommand(t, envChildDir+"="+jobs)})
	a := h.start(sp, "node-1")
	job := childOf(t, jobs, a.PID)
	if err := a.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitGone(t, job, 5*time.Second)
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.start(h.spawner(SpawnerConfig{}), "node-1")
	ctx := testCtx(t)
	secret := string(a.Secret)

	for _, addr := range []string{a.Management.String(), a.Control.String()} {
		for _, tc := range []struct {
			name, auth string
			want       int
		}{
			{"none", "", 401},
			{"wrong", "Bearer wrong", 401},
			{"longer", "Bearer " + secret + "0", 401},
			{"shorter", "Bearer " + secret[:len(secret)-1], 401},
			{"basic", "Basic " + secret, 401},
			{"bare", secret, 401},
			{"right", "Bearer " + secret, 200},
			{"scheme case", "bearer " + secret, 200},
		} {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/v1/health", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var env armerror.Envelope
			json.NewDecoder(resp.Body).Decode(&env)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: %d, want %d", addr, tc.name, resp.StatusCode, tc.want)
			}
			if tc.want == 401 && (env.Error == nil || env.Error.Code != "Unauthorized" || resp.Header.Get("WWW-Authenticate") == "") {
				t.Errorf("%s %s: body %+v, WWW-Authenticate %q: want ARM's error shape and a challenge", addr, tc.name, env.Error, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}

	// A lease cannot be renewed without the secret either.
	impostor := &Agent{NodeID: a.NodeID, Management: a.Management, Control: a.Control, Secret: "0123456789abcdef0123456789abcdef"}
	for name, call := range map[string]func() error{
		"health": func() error { _, err := impostor.Health(ctx, nil); return err },
		"renew":  func() error { _, err := impostor.Renew(ctx, nil); return err },
	} {
		var se *StatusError
		if err := call(); !errors.As(err, &se) || se.StatusCode != 401 {
			t.Errorf("%s with a wrong secret: %v, want a 401 StatusError", name, err)
		}
	}
}

func TestLeaseExpiryEndsTheAgent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sp := h.spawner(SpawnerConfig{Lease: 300 * time.Millisecond, RenewEvery: -1})
	a := h.start(sp, "node-1")

	waitDone(t, a, 10*time.Second)
	e := exitError(t, a)
	if e.Stopped || !strings.Contains(e.LastLog, "lease expired") {
		t.Errorf("exit = %+v, want it to exit by itself because its lease expired", e)
	}
	if err := syscall.Kill(a.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) = %v, want ESRCH", a.PID, err)
	}
	if _, err := os.Stat(filepath.Join(a.Dir(), recordFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("agent.json outlived the agent: %v", err)
	}
	if err := a.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the state directory outlived Stop: %v", err)
	}
}

// Requests on the management port renew the lease; on the control port
// they do not. The spawner's own renewals keep an agent alive by
// themselves. Not parallel: it measures time, so it runs alone.
func TestLeaseRenewal(t *testing.T) {
	h := newHarness(t)
	const lease = 2 * time.Second
	manual := h.spawner(SpawnerConfig{Lease: lease, RenewEvery: -1})
	byControl := h.start(manual, "node-1")
	kept := h.start(h.spawner(SpawnerConfig{Lease: lease, RenewEvery: lease / 10}), "node-2")
	byHealth := h.start(manual, "node-3")
	ctx := testCtx(t)

	// For two leases: renew byHealth, ask byControl's control port.
	tick := time.NewTicker(lease / 10)
	defer tick.Stop()
	end := time.After(2 * lease)
	var last time.Time
	var gap time.Duration // the longest time between two renewals
loop:
	for {
		if _, err := byHealth.Health(ctx, nil); err != nil {
			if !last.IsZero() {
				gap = max(gap, time.Since(last))
			}
			if gap > lease/2 {
				t.Skipf("inconclusive: this test stalled %v between two renewals, against a lease of %v", gap, lease)
			}
			t.Fatalf("%v although renewed every %v at most: %v", err, gap, byHealth.Err())
		}
		if !last.IsZero() {
			gap = max(gap, time.Since(last))
		}
		last = time.Now()
		if byControl.Err() == nil {
			byControl.ControlHealth(ctx, nil)
		}
		select {
		case <-tick.C:
		case <-end:
			break loop
		}
	}
	select {
	case <-byControl.Done():
	default:
		t.Errorf("%v still runs after %v of control requests only: they renewed its lease", byControl, 2*lease)
	}
	if err := kept.Err(); err != nil {
		t.Errorf("%v exited although the spawner renews its lease: %v", kept, err)
	}
}

func TestAdoptAfterServerRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	old := h.spawner(SpawnerConfig{})
	a1, b1 := h.start(old, "node-1"), h.start(old, "node-2")
	old.Detach() // the server goes away; the agents run on

	sp := h.spawner(SpawnerConfig{PollInterval: 20 * time.Millisecond})
	ctx := testCtx(t)
	orphans, err := sp.Orphans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantOrphans := []Orphan{
		{NodeID: "node-1", ClusterID: "cluster-1", Dir: a1.Dir(), PID: a1.PID, Alive: true},
		{NodeID: "node-2", ClusterID: "cluster-1", Dir: b1.Dir(), PID: b1.PID, Alive: true},
	}
	if d := cmp.Diff(wantOrphans, orphans); d != "" {
		t.Fatalf("orphans (-want +got):\n%s", d)
	}

	a2, err := sp.Adopt(ctx, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	b2, err := sp.Adopt(ctx, "node-2")
	if err != nil {
		t.Fatal(err)
	}
	if a2.PID != a1.PID || a2.Secret != a1.Secret || a2.Management != a1.Management || a2.Control != a1.Control ||
		a2.ClusterID != "cluster-1" || !a2.StartedAt.Equal(a1.StartedAt) || !a2.Adopted {
		t.Errorf("adopted %v, want the agent started as %v", a2, a1)
	}
	if _, err := a2.Health(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Adopt(ctx, "node-1"); err == nil {
		t.Error("adopting node-1 twice succeeded")
	}
	if orphans, err := sp.Orphans(ctx); err != nil || len(orphans) != 0 {
		t.Errorf("orphans after adoption = %v, %v; want none", orphans, err)
	}

	// An adopted agent's death is noticed, though it is not a child.
	if err := syscall.Kill(a2.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, a2, 5*time.Second)
	if e := exitError(t, a2); e.Stopped {
		t.Errorf("exit = %+v, want not stopped", e)
	}

	// StopAll stops adopted agents too.
	if err := sp.StopAll(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, b2, 0)
	waitGone(t, b2.PID, 5*time.Second)
	if _, err := os.Stat(b2.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("node-2's state directory outlived StopAll: %v", err)
	}
	if _, err := sp.Adopt(ctx, "node-1"); !errors.Is(err, ErrClosed) {
		t.Errorf("Adopt after StopAll: %v, want ErrClosed", err)
	}
}

// A state directory is adopted only by the agent that proves it is that
// node's; nothing else is ever signalled, and Reap clears such leftovers.
func TestAdoptRefusesWhatIsNotTheNodesAgent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.start(h.spawner(SpawnerConfig{}), "node-a")
	sp := h.spawner(SpawnerConfig{})
	ctx := testCtx(t)

	plant := func(node string, rec *record, secret string) {
		dir := filepath.Join(h.root, node)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if rec != nil {
			if err := writeRecord(dir, *rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, secretFile), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	other := "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	plant("node-dead", &record{NodeID: "node-dead", PID: exitedPID(t), Management: a.Management, Control: a.Control}, string(a.Secret))
	plant("node-b", &record{NodeID: "node-b", PID: a.PID, Management: a.Management, Control: a.Control}, string(a.Secret))
	plant("node-c", &record{NodeID: "node-c", PID: a.PID, Management: a.Management, Control: a.Control}, other)
	plant("node-d", nil, other)
	plant("node-e", &record{NodeID: "node-x", PID: a.PID, Management: a.Management, Control: a.Control}, string(a.Secret))

	why := map[string]string{
		"node-dead": "is gone",
		"node-b":    `is the agent of node "node-a"`,
		"node-c":    "refused the node's secret",
		"node-d":    "no agent.json",
		"node-e":    `agent.json is for node "node-x"`,
	}
	for node, reason := range why {
		_, err := sp.Adopt(ctx, node)
		if !errors.Is(err, ErrNoAgent) || !strings.Contains(err.Error(), reason) {
			t.Errorf("Adopt(%s) = %v, want ErrNoAgent because it %s", node, err, reason)
		}
	}

	orphans, err := sp.Orphans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var alive []string
	for _, o := range orphans {
		if o.Alive {
			alive = append(alive, o.NodeID)
		} else if !strings.Contains(o.Reason, why[o.NodeID]) {
			t.Errorf("orphan %s: reason %q, want %q", o.NodeID, o.Reason, why[o.NodeID])
		}
	}
	if len(orphans) != 6 || !slices.Equal(alive, []string{"node-a"}) {
		t.Errorf("orphans = %+v, want node-a alive (another spawner manages it) and five leftovers", orphans)
	}

	for node := range why {
		if err := sp.Reap(ctx, node); err != nil {
			t.Errorf("Reap(%s): %v", node, err)
		}
		if _, err := os.Stat(filepath.Join(h.root, node)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Reap(%s) left its directory: %v", node, err)
		}
	}
	// node-b, -c and -e named node-a's pid: it was never signalled.
	if _, err := a.Health(ctx, nil); err != nil || a.Err() != nil {
		t.Errorf("node-a after the reaping of impostors: %v, %v", err, a.Err())
	}
}

func TestReapStopsAProvenOrphan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jobs := t.TempDir()
	old := h.spawner(SpawnerConfig{Command: agentCommand(t, envChildDir+"="+jobs)})
	a := h.start(old, "node-1")
	job := childOf(t, jobs, a.PID)
	old.Detach()

	sp := h.spawner(SpawnerConfig{PollInterval: 20 * time.Millisecond})
	if err := sp.Reap(testCtx(t), "node-1"); err != nil {
		t.Fatal(err)
	}
	waitDone(t, a, 5*time.Second)
	waitGone(t, job, 5*time.Second)
	if _, err := os.Stat(a.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Reap left the state directory: %v", err)
	}
}

func TestStartRefusesALiveUnmanagedAgent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	old := h.spawner(SpawnerConfig{})
	a := h.start(old, "node-1")
	old.Detach()
	sp := h.spawner(SpawnerConfig{})
	ctx := testCtx(t)
	if _, err := sp.Start(ctx, NodeSpec{NodeID: "node-1", ClusterID: "cluster-1"}); err == nil || !strings.Contains(err.Error(), "adopt or reap") {
		t.Errorf("Start over a running agent: %v, want a refusal", err)
	}
	if a.Err() != nil {
		t.Fatalf("the running agent died: %v", a.Err())
	}
	// A directory whose agent is gone is replaced.
	if err := os.MkdirAll(filepath.Join(h.root, "node-2"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(filepath.Join(h.root, "node-2"), record{NodeID: "node-2", PID: exitedPID(t)}); err != nil {
		t.Fatal(err)
	}
	h.start(sp, "node-2")
	if err := sp.Reap(ctx, "node-1"); err != nil {
		t.Fatal(err)
	}
	waitDone(t, a, 5*time.Second)
	for _, bad := range []string{"", "..", "../x", "a/b", ".hidden", "-flag"} {
		if _, err := sp.Start(ctx, NodeSpec{NodeID: bad, ClusterID: "c"}); err == nil {
			t.Errorf("Start(%q) succeeded", bad)
		}
	}
}

func TestStopAllLeavesNoProcess(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jobs := t.TempDir()
	sp := h.spawner(SpawnerConfig{Command: agentCommand(t, envChildDir+"="+jobs)})
	var agents []*Agent
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		agents = append(agents, h.start(sp, n))
	}
	ctx := testCtx(t)
	if err := sp.StopAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		waitDone(t, a, 0)
		if err := syscall.Kill(a.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("kill(%d, 0) after StopAll = %v, want ESRCH", a.PID, err)
		}
		waitGone(t, childOf(t, jobs, a.PID), 5*time.Second)
	}
	if ents, _ := os.ReadDir(h.root); len(ents) != 0 {
		t.Errorf("state directories outlived StopAll: %v", ents)
	}
	if _, err := sp.Start(ctx, NodeSpec{NodeID: "node-4", ClusterID: "c"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after StopAll: %v, want ErrClosed", err)
	}
}

func TestStartReportsAnAgentThatFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// An agent that cannot run: it refuses its --lease and exits at once.
	agent := agentCommand(t)
	sp := h.spawner(SpawnerConfig{Command: func(ctx context.Context, args ...string) *exec.Cmd {
		return agent(ctx, append(args, "--lease=0s")...)
	}})
	_, err := sp.Start(testCtx(t), NodeSpec{NodeID: "node-1", ClusterID: "c"})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "lease") {
		t.Errorf("Start = %v, want the agent's own complaint", err)
	}
	if _, err := os.Stat(filepath.Join(h.root, "node-1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed start left its directory: %v", err)
	}
}

// A spawner that confines its agents to network namespaces adopts none a
// previous server left (their namespaces are that server's fabric's): it
// refuses, and Reap clears them.
func TestConfiningSpawnerAdoptsNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	old := h.spawner(SpawnerConfig{})
	a1 := h.start(old, "node-1")
	old.Detach()

	confine := func(_ context.Context, _ NodeSpec, cmd *exec.Cmd) (*exec.Cmd, error) { return cmd, nil }
	sp := h.spawner(SpawnerConfig{Confine: confine})
	ctx := testCtx(t)
	if _, err := sp.Adopt(ctx, "node-1"); err == nil || !strings.Contains(err.Error(), "network namespace") {
		t.Fatalf("Adopt by a confining spawner: %v, want a refusal naming the namespace", err)
	}
	if err := sp.Reap(ctx, "node-1"); err != nil {
		t.Fatal(err)
	}
	waitGone(t, a1.PID, 5*time.Second)
}
