package cli

import (
	"strings"
	"testing"
)

// Regression tests from a review of vnetml compute attach and detach
// (commit 4710359). Each fails before its fix.

// attachedServer is a compute server with the quickstart network and
// managed cluster myk8s attached to myworkspace as compute myaks.
func attachedServer(t *testing.T) *dataServer {
	t.Helper()
	s := newComputeServer(t)
	s.ok("apply", "-f", quickstartManifest)
	s.ok("apply", "-f", managedClusterFile(t, "myk8s", 1, "Standard_D2_v2"))
	s.ok("compute", "attach", "myaks", "-w", "myworkspace", "-g", "mygroup", "--type", "aks", "--cluster-name", "myk8s", "--cluster-purpose", "DevTest")
	t.Cleanup(func() {
		s.run("compute", "detach", "myaks", "-w", "myworkspace", "-g", "mygroup")
		s.run("delete", "managedcluster", "myk8s", "-g", "mygroup")
	})
	return s
}

// TestReviewComputeDeleteHelpVsBehaviour: `vnetml compute delete --help`
// says "An attached cluster is not deleted but detached ('vnetml compute
// detach'), which leaves it running" — read as a newcomer reads it,
// deleting an attached compute detaches it. It is refused (exit 2).
//
// Fix: say what happens ("An attached cluster is refused: detach it with
// 'vnetml compute detach', which leaves the cluster running").
func TestReviewComputeDeleteHelpVsBehaviour(t *testing.T) {
	help := run(t, "compute", "delete", "--help").stdout
	if !strings.Contains(strings.Join(strings.Fields(help), " "), "An attached cluster is not deleted but detached") {
		return // the help was changed
	}
	s := attachedServer(t)
	if r := s.run("compute", "delete", "myaks", "-w", "myworkspace", "-g", "mygroup"); r.code != exitOK {
		t.Errorf("compute delete --help says an attached cluster is detached, but delete exits %d:\n%s", r.code, r.stderr)
	}
}

// TestReviewDeleteAttachedNamesNoFlag: refusing to delete an attached
// compute, the CLI reports the server's target, the query parameter
// underlyingResourceAction, which no flag of the command sets (attach
// maps every server target to its flag; delete and detach map none).
//
// Fix: in compute delete and compute detach, retarget
// underlyingResourceAction to NAME (or drop it): the command is what to
// change.
func TestReviewDeleteAttachedNamesNoFlag(t *testing.T) {
	s := attachedServer(t)
	r := s.run("compute", "delete", "myaks", "-w", "myworkspace", "-g", "mygroup")
	if r.code == exitOK {
		return // delete detaches now
	}
	if strings.Contains(r.stderr, "underlyingResourceAction)") {
		t.Errorf("compute delete names a target no flag sets:\n%s", r.stderr)
	}
}
