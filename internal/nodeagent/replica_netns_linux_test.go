//go:build linux

package nodeagent

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vnetml/vnetml/internal/replica"
)

// TestReplicaInItsPodsNamespace: a replica whose spec names a network
// namespace (its pod's, under the kernel fabric) runs there, not in the
// agent's; the agent still downloads its model and sees it ready.
func TestReplicaInItsPodsNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("entering a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2's ip is not installed")
	}
	t.Parallel()
	name := fmt.Sprintf("vnetml-replica-test-%d", os.Getpid())
	for _, args := range [][]string{{"netns", "add", name}, {"-n", name, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })

	a := replicaAgent(t)
	c := newTestCloud(t)
	e := c.egress()
	spec := c.replicaSpec("svc-ns", 1, e, scoreEntry, testModel("v1"))
	spec.Netns = "/run/netns/" + name
	startReplica(t, a, spec)
	waitReplica(t, a, "svc-ns", "Running", func(st replica.Status) bool { return st.State == replica.Running })

	b, err := os.ReadFile(filepath.Join(a.Dir(), replicasDir, "svc-ns-1", procFile))
	if err != nil {
		t.Fatal(err)
	}
	var rec procRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	var got, want unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", rec.PGID), &got); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(spec.Netns, &want); err != nil {
		t.Fatal(err)
	}
	if got.Ino != want.Ino {
		t.Errorf("the replica (pid %d) runs in network namespace %d, want its pod's (%d)", rec.PGID, got.Ino, want.Ino)
	}

	// A path outside /run/netns is refused.
	bad := spec
	bad.ID, bad.Netns = "svc-bad", "/proc/1/ns/net"
	if _, err := a.StartReplica(testCtx(t), nil, bad); err == nil {
		t.Error("a replica spec with netns /proc/1/ns/net was taken")
	}
}
