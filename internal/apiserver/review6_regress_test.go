package apiserver_test

// Regression tests of review 6 (compute clusters). Each one fails on the
// reviewed change and proves one finding of the review.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// noSubnetBody is a cluster that names no subnet: vnetml gives it a
// virtual network of its own (10.0.0.0/16).
func noSubnetBody(minNodes, maxNodes int) string {
	return fmt.Sprintf(`{"location": "eastus", "properties": {"computeType": "AmlCompute", "properties": {
		"vmSize": "STANDARD_D2_V2", "scaleSettings": {"minNodeCount": %d, "maxNodeCount": %d, "nodeIdleTimeBeforeScaleDown": "PT120S"}}}}`, minNodes, maxNodes)
}

// waitFor polls cond for at most d, letting the controller run rounds.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// Two clusters whose virtual networks use the same address space (both
// made by vnetml, 10.0.0.0/16, as most VNets are) get nodes at the same
// private address. The node manager dials nodes by private address only,
// so the fabric cannot tell the two nodes apart: they never both go idle.
func TestReview6OverlappingVNetsMakeNodesUnusable(t *testing.T) {
	e := computeEnv(t)
	e.must(201, "PUT", rg, groupBody)
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	a, b := workspace+"/computes/clustera", workspace+"/computes/clusterb"
	e.must(201, "PUT", a, noSubnetBody(1, 1))
	e.must(201, "PUT", b, noSubnetBody(1, 1))
	idle := func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 1 }
	ok := waitFor(15*time.Second, func() bool {
		e.data.ctl.Settled(context.Background(), a)
		e.data.ctl.Settled(context.Background(), b)
		return idle(e.computeStatus(a)) && idle(e.computeStatus(b))
	})
	if !ok {
		t.Fatalf("two clusters in overlapping VNets: a %+v (nodes %+v), b %+v (nodes %+v); want one idle node each",
			e.computeStatus(a), e.data.ctl.Nodes(a), e.computeStatus(b), e.data.ctl.Nodes(b))
	}
}

// A DELETE that a lock refuses must leave the cluster as it was. Today
// the controller stops the nodes and forgets the cluster before the
// delete is even checked: the compute stays, with no node and no status.
func TestReview6LockedDeleteStopsTheCluster(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", cluster, clusterBody(1, 1))
	e.waitStatus(cluster, "an idle node", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 1 })
	e.must(201, "PUT", rg+"/providers/Microsoft.Authorization/locks/keep", `{"properties": {"level": "CanNotDelete"}}`)

	r := e.call("DELETE", cluster, nil)
	if r.status < 400 {
		t.Fatalf("DELETE under a CanNotDelete lock: %d %s", r.status, r.body)
	}
	e.must(200, "GET", cluster, nil) // the compute is still there...
	if _, running := e.data.ctl.Status(cluster); !running {
		t.Fatalf("...but the refused DELETE (%d %s) stopped running it: nodes %v", r.status, r.body, e.data.ctl.Nodes(cluster))
	}
}

// Once the lock is gone, deleting the compute must work. Today the first,
// refused DELETE left the node's NIC behind (nobody tracks it any more),
// and that NIC holds the cluster's NSG, so every later DELETE fails.
func TestReview6DeleteAfterLockedDeleteSucceeds(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", cluster, clusterBody(1, 1))
	e.waitStatus(cluster, "an idle node", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 1 })
	lock := rg + "/providers/Microsoft.Authorization/locks/keep"
	e.must(201, "PUT", lock, `{"properties": {"level": "CanNotDelete"}}`)
	e.call("DELETE", cluster, nil)
	e.must(200, "DELETE", lock, nil)
	if r := e.call("DELETE", cluster, nil); r.status != 200 {
		t.Fatalf("DELETE once the lock is gone: %d %s; node NICs left: %v", r.status, r.body, e.srvNodeNICs())
	}
	if nics := e.srvNodeNICs(); len(nics) != 0 {
		t.Fatalf("node NICs left after the compute was deleted: %v", nics)
	}
}

// A node that leaves while a CanNotDelete lock holds the group keeps its
// NIC (as in Azure, the lock stops the removal). But the controller
// forgets the NIC at once: it is never deleted once the lock goes (not
// until the server restarts), and the status never says why.
func TestReview6NICOfNodeThatLeftUnderLockIsNeverDeleted(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	body := strings.Replace(clusterBody(1, 1), `"PT120S"`, `"PT0S"`, 1)
	e.must(201, "PUT", cluster, body)
	e.waitStatus(cluster, "an idle node", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 1 })
	lock := rg + "/providers/Microsoft.Authorization/locks/keep"
	e.must(201, "PUT", lock, `{"properties": {"level": "CanNotDelete"}}`)
	e.must(200, "PATCH", cluster, `{"properties": {"properties": {"scaleSettings": {"minNodeCount": 0}}}}`)
	s := e.waitStatus(cluster, "scaled down", func(s status) bool { return s.CurrentNodeCount == 0 })
	nics := e.srvNodeNICs()
	if len(nics) == 1 && len(s.Errors) == 0 {
		t.Errorf("the node's NIC %v could not be deleted (lock), and the status says nothing: %+v", nics, s)
	}
	e.must(200, "DELETE", lock, nil)
	if !waitFor(5*time.Second, func() bool { e.data.ctl.Settled(context.Background(), cluster); return len(e.srvNodeNICs()) == 0 }) {
		t.Fatalf("the lock is gone, but the NIC of the node that left is never deleted: %v", e.srvNodeNICs())
	}
}

// Deleting the resource group deletes the workspace, the compute and its
// NICs in one go, but the controller is never told: the cluster's agents
// keep running and the controller keeps trying to add nodes.
func TestReview6GroupDeleteLeavesAgentsRunning(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", cluster, clusterBody(1, 1))
	e.waitStatus(cluster, "an idle node", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 1 })
	e.must(200, "DELETE", rg, nil)
	e.must(404, "GET", cluster, nil)
	if !waitFor(5*time.Second, func() bool {
		_, running := e.data.ctl.Status(cluster)
		return !running && len(e.data.agentDirs()) == 0
	}) {
		st, _ := e.data.ctl.Status(cluster)
		t.Fatalf("the compute was deleted with its group, but the controller still runs it: %+v, agents %v", st, e.data.agentDirs())
	}
}

// Creating a compute creates an NSG, a public IP and a load balancer in
// the virtual network's group, and node NICs in its subnet. A caller who
// may write only the workspace's group must not be able to do that in a
// group it cannot write (the workspace's links need write access to what
// they link; Azure needs subnets/join/action).
func TestReview6ComputeNeedsAccessToTheSubnetsGroup(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	wsGroup := sub + "/resourceGroups/wsgroup"
	e.must(201, "PUT", wsGroup, groupBody)
	ws := wsGroup + "/providers/Microsoft.MachineLearningServices/workspaces/ws2"
	e.must(201, "PUT", ws, `{"location": "eastus"}`)
	contrib := e.token("wscontrib", "Contributor", wsGroup)
	// The caller cannot write the network's group directly...
	if r := e.callAs(contrib, "PUT", net+"/networkSecurityGroups/mine", `{"location": "eastus"}`); r.status != 403 {
		t.Fatalf("contributor of wsgroup writing in mygroup: %d %s", r.status, r.body)
	}
	// ...nor through a compute.
	r := e.callAs(contrib, "PUT", ws+"/computes/cpu2", clusterBody(0, 1))
	if r.status != 403 {
		t.Fatalf("contributor of wsgroup created a compute whose NSG, public IP and load balancer are in mygroup: %d %s", r.status, r.body)
	}
}

// A crashed server leaves its agents; when they end by themselves (their
// lease, or an admin's SIGTERM) before a server adopts them, they remove
// agent.json. The next server never cleans those state directories (with
// the node secrets) up: Orphans maps them to cluster "", which no cluster
// claims.
func TestReview6StateOfAgentsThatEndedIsNeverRemoved(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", cluster, clusterBody(2, 2))
	idle := func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 2 && s.AllocationState == "Steady" }
	e.waitStatus(cluster, "two idle nodes", idle)
	old := e.data.agentDirs()
	e.data.crash = true
	e.stop()
	for _, id := range old {
		b, err := os.ReadFile(filepath.Join(e.data.nodesDir, id, "agent.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ PID int }
		json.Unmarshal(b, &rec)
		syscall.Kill(rec.PID, syscall.SIGTERM)
	}
	if !waitFor(10*time.Second, func() bool {
		for _, id := range old {
			if _, err := os.Stat(filepath.Join(e.data.nodesDir, id, "agent.json")); err == nil {
				return false
			}
		}
		return true
	}) {
		t.Fatal("the agents did not end on SIGTERM")
	}
	e.start()
	e.waitStatus(cluster, "two new idle nodes", idle)
	if dirs := e.data.agentDirs(); len(dirs) != 2 {
		t.Fatalf("state directories %v, want only the two live nodes' (those of %v hold node secrets of nodes that are gone)", dirs, old)
	}
}

// Upsert (a PUT or PATCH of the compute) replaces cluster.spec under
// cluster.mu, while the cluster's round read cl.spec without it (check:
// cl.spec.Location; addNode; the scale-down). Run with -race. It failed on
// dd079e4; a2bb44c (settings()) fixed it without a test: this is that test.
func TestReview6UpsertRacesTheRound(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", cluster, clusterBody(1, 3))
	e.waitStatus(cluster, "an idle node", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 1 })
	var wg sync.WaitGroup
	for i := range 20 {
		e.must(200, "PATCH", cluster, fmt.Sprintf(`{"properties": {"properties": {"scaleSettings": {"maxNodeCount": %d}}}}`, 2+i%2))
		wg.Go(func() { e.data.ctl.Settled(context.Background(), cluster) })
	}
	wg.Wait()
}

// A DELETE still running when the server shuts down (http.Server.Close
// does not wait for handlers) calls Remove after, or while, the
// controller's Close: both close cluster.stop, and the server panics.
func TestReview6RemoveAfterClosePanics(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", cluster, clusterBody(0, 1))
	e.waitStatus(cluster, "running", func(s status) bool { return s.AllocationState == "Steady" })
	ctl := e.data.ctl
	e.data.ctl = nil // the cleanup must not Close it again
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctl.Close(ctx)
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Remove after Close panics: %v", p)
		}
	}()
	ctl.Remove(ctx, cluster)
}

// Scaling down removes only idle nodes: unusable nodes above the target
// stay for ever, and the cluster reports Resizing for ever. Batch removes
// unusable nodes first when a pool shrinks.
func TestReview6UnusableNodesNeverScaleDown(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", nsg+"/securityRules/deny-batch", `{"properties": {"priority": 100, "direction": "Inbound", "access": "Deny",
		"protocol": "Tcp", "sourceAddressPrefix": "BatchNodeManagement", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "29876-29877"}}`)
	e.must(201, "PUT", cluster, strings.Replace(clusterBody(2, 2), `"PT120S"`, `"PT0S"`, 1))
	e.waitStatus(cluster, "two unusable nodes", func(s status) bool { return s.NodeStateCounts.UnusableNodeCount == 2 })
	e.must(200, "PATCH", cluster, `{"properties": {"properties": {"scaleSettings": {"minNodeCount": 0}}}}`)
	if !waitFor(5*time.Second, func() bool {
		e.data.ctl.Settled(context.Background(), cluster)
		s := e.computeStatus(cluster)
		return s.CurrentNodeCount == 0 && s.AllocationState == "Steady"
	}) {
		t.Fatalf("min_nodes 0 and no demand, but the unusable nodes stay: %+v", e.computeStatus(cluster))
	}
}

// Each write hands its settings to the controller in an after-commit hook,
// which runs after the write lock is released: two updates that commit in
// one order can reach the controller in the other, and the controller then
// runs settings that are no longer stored (until the next write or
// restart).
func TestReview6ConcurrentUpdatesReachTheControllerOutOfOrder(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", cluster, clusterBody(0, 1))
	e.data.ctl.Demand(cluster, 100) // the target is max_nodes
	for round := range 30 {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				e.call("PATCH", cluster, fmt.Sprintf(`{"properties": {"properties": {"scaleSettings": {"maxNodeCount": %d}}}}`, 1+(i+round)%3))
			})
		}
		wg.Wait()
		var doc struct {
			Properties struct {
				Properties struct {
					ScaleSettings   struct{ MaxNodeCount int }
					TargetNodeCount int
				}
			}
		}
		json.Unmarshal(e.must(200, "GET", cluster, nil).body, &doc)
		p := doc.Properties.Properties
		if p.ScaleSettings.MaxNodeCount != p.TargetNodeCount {
			t.Fatalf("round %d: stored maxNodeCount %d, but the controller aims at %d nodes", round, p.ScaleSettings.MaxNodeCount, p.TargetNodeCount)
		}
	}
}

// Once the rule is fixed and every node is idle, the cluster still says
// "autoscale stopped adding nodes: the last 3 new nodes were unusable",
// reports Steady three nodes short of its target, and never grows again
// unless min or max changes (an update of the idle time alone does not).
func TestReview6StallOutlivesItsCause(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", nsg+"/securityRules/deny-batch", `{"properties": {"priority": 100, "direction": "Inbound", "access": "Deny",
		"protocol": "Tcp", "sourceAddressPrefix": "BatchNodeManagement", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "29876-29877"}}`)
	e.must(201, "PUT", cluster, clusterBody(0, 6))
	e.data.ctl.Demand(cluster, 6)
	stalled := func(s status) bool {
		for _, er := range s.Errors {
			if strings.Contains(er.Message, "autoscale stopped adding nodes") {
				return true
			}
		}
		return false
	}
	e.waitStatus(cluster, "autoscale stalled", stalled)
	e.must(200, "DELETE", nsg+"/securityRules/deny-batch", nil)
	// Recovered: the three nodes idle (and, the stall cleared, maybe more).
	e.waitStatus(cluster, "recovered", func(s status) bool { return s.NodeStateCounts.IdleNodeCount >= 3 })
	e.must(200, "PATCH", cluster, `{"properties": {"properties": {"scaleSettings": {"nodeIdleTimeBeforeScaleDown": "PT60S"}}}}`)
	for range 5 {
		e.data.ctl.Settled(context.Background(), cluster)
	}
	if s := e.computeStatus(cluster); stalled(s) || s.CurrentNodeCount != 6 {
		t.Fatalf("every node is idle and the settings were updated, yet: %+v", s)
	}
}
