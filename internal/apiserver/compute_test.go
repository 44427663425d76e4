package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/apiserver"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/nodeagent"
)

// envAgent makes the test binary run `vnetml agent` (the compute tests'
// nodes re-execute it).
const envAgent = "VNETML_APISERVER_TEST_AGENT"

func TestMain(m *testing.M) {
	if os.Getenv(envAgent) == "1" {
		cmd := nodeagent.Command(os.Stdout, os.Stderr)
		cmd.SetArgs(os.Args[2:]) // os.Args[1] is "agent"
		if err := cmd.Execute(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// computeEnv is a data env whose server runs compute clusters.
func computeEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), data: &dataParts{computes: true, interval: 50 * time.Millisecond}}
	e.start()
	t.Cleanup(e.stop)
	return e
}

// newController is the compute controller of a test server: agents are
// this test binary; the server (set once it exists) is the platform.
func (d *dataParts) newController(t testing.TB, dir string, cfg *apiserver.Config) {
	sp := nodeagent.NewSpawner(nodeagent.SpawnerConfig{
		Command: func(ctx context.Context, args ...string) *exec.Cmd {
			c := exec.CommandContext(ctx, os.Args[0], append([]string{"agent"}, args...)...)
			c.Env = append(os.Environ(), envAgent+"=1", "GORACE=atexit_sleep_ms=0")
			return c
		},
		StateRoot: dir + "/nodes",
	})
	d.nodesDir = dir + "/nodes"
	d.ctl = compute.New(compute.Config{
		Fabric:   cfg.Fabric,
		Agents:   compute.NodeAgents(sp),
		Platform: testPlatform{d},
		ManagementAddr: func(loc string) (netip.Addr, bool) {
			if s := d.srv.Load(); s != nil {
				return s.ManagementAddr(loc)
			}
			return netip.Addr{}, false
		},
		ManagerAddr: func(tag, loc string) (netip.Addr, bool) {
			if s := d.srv.Load(); s != nil {
				return s.ManagerAddr(tag, loc)
			}
			return netip.Addr{}, false
		},
		Interval: d.interval,
	})
	cfg.Computes = d.ctl
}

type testPlatform struct{ d *dataParts }

func (p testPlatform) CreateNIC(ctx context.Context, c compute.Cluster, node string) (string, netip.Addr, error) {
	return p.d.srv.Load().CreateNIC(ctx, c, node)
}
func (p testPlatform) DeleteNIC(ctx context.Context, id string) error {
	return p.d.srv.Load().DeleteNIC(ctx, id)
}
func (p testPlatform) NodeNICs(id string) map[string]string { return p.d.srv.Load().NodeNICs(id) }

const cluster = workspace + "/computes/cpucluster"

func clusterBody(minNodes, maxNodes int) string {
	return fmt.Sprintf(`{"location": "eastus", "properties": {"computeType": "AmlCompute", "properties": {
		"vmSize": "STANDARD_D2_V2", "scaleSettings": {"minNodeCount": %d, "maxNodeCount": %d, "nodeIdleTimeBeforeScaleDown": "PT120S"},
		"subnet": {"id": %q}}}}`, minNodes, maxNodes, vnet+"/subnets/default")
}

// status is a compute's live status, from GET.
type status struct {
	AllocationState  string
	CurrentNodeCount int
	TargetNodeCount  int
	NodeStateCounts  struct{ IdleNodeCount, UnusableNodeCount, PreparingNodeCount, RunningNodeCount, LeavingNodeCount int }
	Errors           []statusError
}

// statusError is one of status.errors, ARM's {"error": {code, message}},
// flattened.
type statusError struct{ Code, Message string }

func (e *statusError) UnmarshalJSON(b []byte) error {
	var w struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = statusError(w.Error)
	return nil
}

func (e *env) computeStatus(id string) status {
	e.t.Helper()
	var doc struct {
		Properties struct {
			Properties status `json:"properties"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(e.must(200, "GET", id, nil).body, &doc); err != nil {
		e.t.Fatal(err)
	}
	return doc.Properties.Properties
}

// waitStatus polls the compute's status until ok holds, for at most a
// minute; each poll waits for the controller's next round, not a guess.
func (e *env) waitStatus(id string, what string, ok func(status) bool) status {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s := e.computeStatus(id)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: the cluster never got there; last status %+v", what, s)
		}
		e.data.ctl.Settled(context.Background(), id)
	}
}

// TestClusterNodesAndManagementFlow is the 2019 article's scenario end to
// end with real agents: nodes go idle under the default rules; a subnet
// NSG denying the Internet inbound at priority 100 makes them unusable,
// naming the rule; an allow for BatchNodeManagement on 29876-29877 below
// it brings them back; forcing 0.0.0.0/0 to an appliance breaks the
// return path; routes for the BatchNodeManagement prefixes to the
// Internet repair it.
func TestClusterNodesAndManagementFlow(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", cluster, clusterBody(2, 4))
	idle := func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 2 && s.AllocationState == "Steady" }
	e.waitStatus(cluster, "two idle nodes", idle)

	// The cluster's network resources exist in the VNet's group.
	var doc struct {
		Properties struct {
			Resources struct{ NetworkSecurityGroup, PublicIPAddress, LoadBalancer string } `json:"vnetmlResources"`
		} `json:"properties"`
	}
	json.Unmarshal(e.must(200, "GET", cluster, nil).body, &doc)
	r := doc.Properties.Resources
	for _, id := range []string{r.NetworkSecurityGroup, r.PublicIPAddress, r.LoadBalancer} {
		e.must(200, "GET", id, nil)
	}
	nodes := e.must(200, "POST", cluster+"/listNodes", nil).json(t)["nodes"].([]any)
	if len(nodes) != 2 || !strings.HasPrefix(nodes[0].(map[string]any)["privateIpAddress"].(string), "10.0.0.") {
		t.Fatalf("listNodes: %v", nodes)
	}

	// The 2019 article's trap: deny the Internet inbound on the subnet.
	e.must(201, "PUT", nsg+"/securityRules/deny-internet-in", `{"properties": {"priority": 100, "direction": "Inbound", "access": "Deny",
		"protocol": "*", "sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}`)
	s := e.waitStatus(cluster, "unusable nodes", func(s status) bool { return s.NodeStateCounts.UnusableNodeCount == 2 })
	if len(s.Errors) == 0 || !strings.Contains(s.Errors[0].Message, "deny-internet-in") {
		t.Fatalf("the unusable nodes' error does not name the rule: %+v", s.Errors)
	}
	nodes = e.must(200, "POST", cluster+"/listNodes", nil).json(t)["nodes"].([]any)
	// The port named is the first refused: 29876, or 29877 when the rule
	// changed between the two checks of a round.
	if reason, _ := nodes[0].(map[string]any)["reason"].(string); !strings.Contains(reason, "deny-internet-in") || !strings.Contains(reason, "TCP 2987") {
		t.Fatalf("a node's reason: %q", reason)
	}

	// The fix: allow BatchNodeManagement before the deny (100 is the
	// first priority there is, so the deny moves to 110).
	e.must(200, "PUT", nsg+"/securityRules/deny-internet-in", `{"properties": {"priority": 110, "direction": "Inbound", "access": "Deny",
		"protocol": "*", "sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}`)
	e.must(201, "PUT", nsg+"/securityRules/allow-batch-mgmt", `{"properties": {"priority": 100, "direction": "Inbound", "access": "Allow",
		"protocol": "Tcp", "sourceAddressPrefix": "BatchNodeManagement", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "29876-29877"}}`)
	e.waitStatus(cluster, "nodes recovered", idle)

	// Forced tunneling: everything to an appliance breaks the return path.
	e.must(201, "PUT", net+"/routeTables/forced", `{"location": "eastus", "properties": {"routes": [
		{"name": "to-firewall", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.10"}}]}}`)
	var v map[string]any
	json.Unmarshal(e.must(200, "GET", vnet, nil).body, &v)
	subs := v["properties"].(map[string]any)["subnets"].([]any)
	for _, sn := range subs {
		m := sn.(map[string]any)
		if m["name"] == "default" {
			m["properties"].(map[string]any)["routeTable"] = map[string]any{"id": net + "/routeTables/forced"}
		}
	}
	e.must(200, "PUT", vnet, v)
	s = e.waitStatus(cluster, "unusable under forced tunneling", func(s status) bool { return s.NodeStateCounts.UnusableNodeCount == 2 })
	if !strings.Contains(s.Errors[0].Message, "to-firewall") {
		t.Fatalf("forced tunneling: the error does not name the route: %+v", s.Errors)
	}
	// Routes for the BatchNodeManagement prefixes to the Internet.
	e.must(201, "PUT", net+"/routeTables/forced/routes/batch", `{"properties": {"addressPrefix": "BatchNodeManagement.EastUS", "nextHopType": "Internet"}}`)
	e.waitStatus(cluster, "nodes recovered with the Batch routes", idle)

	// Deleting the cluster stops every node and removes what it made.
	e.must(200, "DELETE", cluster, nil)
	for _, id := range []string{r.NetworkSecurityGroup, r.PublicIPAddress, r.LoadBalancer} {
		e.must(404, "GET", id, nil)
	}
	if nics, left := e.srvNodeNICs(), e.data.agentDirs(); len(nics) != 0 || len(left) != 0 {
		t.Fatalf("after delete: node interfaces %v, agent state %v", nics, left)
	}
}

// TestClusterProvisioningChecks: the other cluster scenarios of the 2019
// article — limited outbound still works; a /29 subnet with max_nodes 4
// allocates 3 with a warning that says why; a public-IP quota of 1 gives
// the second cluster QuotaExceeded naming it; a cluster's VNet must be in
// the workspace's region.
func TestClusterProvisioningChecks(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	// Limited outbound: deny the Internet, allow what the 2019 article lists.
	for i, r := range []struct{ name, dst, access string }{
		{"allow-storage", "Storage.EastUS", "Allow"}, {"allow-acr", "AzureContainerRegistry.EastUS", "Allow"},
		{"allow-aml", "AzureMachineLearning", "Allow"}, {"deny-internet-out", "Internet", "Deny"},
	} {
		e.must(201, "PUT", nsg+"/securityRules/"+r.name, fmt.Sprintf(`{"properties": {"priority": %d, "direction": "Outbound", "access": %q,
			"protocol": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": %q, "destinationPortRange": "*"}}`, 100+10*i, r.access, r.dst))
	}
	e.must(201, "PUT", cluster, clusterBody(1, 1))
	e.waitStatus(cluster, "an idle node with limited outbound", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 1 })

	// A /29: 8 addresses, 5 reserved, 3 for nodes.
	e.must(201, "PUT", vnet+"/subnets/small", `{"properties": {"addressPrefix": "10.0.2.0/29"}}`)
	small := workspace + "/computes/small"
	e.must(201, "PUT", small, strings.Replace(clusterBody(4, 4), vnet+"/subnets/default", vnet+"/subnets/small", 1))
	s := e.waitStatus(small, "a partial allocation", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 3 })
	if s.TargetNodeCount != 3 || len(s.Errors) == 0 || s.Errors[0].Code != "InsufficientSubnetAddresses" ||
		!strings.Contains(s.Errors[0].Message, "free addresses for 3 nodes") {
		t.Fatalf("a /29 with max_nodes 4: %+v", s)
	}

	// One public IP left for the subscription: the next cluster has none.
	e.must(200, "PATCH", sub, `{"quotas": {"PublicIPAddresses": 2}}`)
	er := e.wantError(400, "QuotaExceeded", "PUT", workspace+"/computes/third", clusterBody(0, 1))
	if !strings.Contains(er.Message, "PublicIPAddresses") {
		t.Errorf("QuotaExceeded does not name the quota: %s", er.Message)
	}

	// The SDK's validation.
	e.wantError(400, "UserError", "PUT", workspace+"/computes/bad", `{"location": "eastus", "properties": {"computeType": "AmlCompute", "properties": {"scaleSettings": {"minNodeCount": 2, "maxNodeCount": 1}}}}`)
	e.wantError(400, "InvalidResourceReference", "PUT", workspace+"/computes/nosubnet", strings.Replace(clusterBody(0, 1), "subnets/default", "subnets/nosuch", 1))
}

// TestClusterAutoscaleAndCrashes: demand scales a cluster up to max_nodes
// and idle nodes leave after the idle time; a killed agent is detected and
// replaced; a low-priority node can be preempted; stopping the controller
// leaves no process.
func TestClusterAutoscaleAndCrashes(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	body := strings.Replace(clusterBody(0, 3), `"PT120S"`, `"PT0S"`, 1)
	body = strings.Replace(body, `"vmSize": "STANDARD_D2_V2",`, `"vmSize": "STANDARD_D2_V2", "vmPriority": "lowpriority",`, 1)
	e.must(201, "PUT", cluster, body)
	e.data.ctl.Demand(cluster, 5)
	e.waitStatus(cluster, "scaled up to max_nodes", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 3 && s.TargetNodeCount == 3 })

	// Kill one agent: it is replaced.
	nodes := e.data.ctl.Nodes(cluster)
	killed := nodes[0].NodeID
	if err := e.data.killAgent(killed); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(cluster, "the killed node replaced", func(s status) bool {
		if s.NodeStateCounts.IdleNodeCount != 3 {
			return false
		}
		for _, n := range e.data.ctl.Nodes(cluster) {
			if n.NodeID == killed {
				return false
			}
		}
		return true
	})

	// Preempt a low-priority node.
	victim := e.data.ctl.Nodes(cluster)[0].NodeID
	e.must(202, "POST", cluster+"/preemptNode", `{"nodeId": "`+victim+`"}`)
	e.waitStatus(cluster, "the preempted node replaced", func(s status) bool {
		for _, n := range e.data.ctl.Nodes(cluster) {
			if n.NodeID == victim {
				return false
			}
		}
		return s.NodeStateCounts.IdleNodeCount == 3
	})

	// No more demand: idle nodes leave (idle time 0) down to min_nodes.
	e.data.ctl.Demand(cluster, 0)
	e.waitStatus(cluster, "scaled down to min_nodes", func(s status) bool { return s.CurrentNodeCount == 0 && s.AllocationState == "Steady" })
	if left := e.data.agentDirs(); len(left) != 0 {
		t.Fatalf("node state left behind: %v", left)
	}
}

// TestClusterSurvivesServerRestarts: a server that stops stops its nodes,
// and the next one starts the cluster's nodes again; a server that
// crashes leaves its agents running, and the next one adopts them (same
// processes) instead of starting new ones.
func TestClusterSurvivesServerRestarts(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", cluster, clusterBody(2, 2))
	idle := func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 2 && s.AllocationState == "Steady" }
	e.waitStatus(cluster, "two idle nodes", idle)

	// A clean stop: no agent left; the next server makes new nodes, and
	// the old nodes' interfaces are gone.
	before := e.data.ctl.Nodes(cluster)
	e.stop()
	if left := e.data.agentDirs(); len(left) != 0 {
		t.Fatalf("agents left running after a clean stop: %v", left)
	}
	e.start()
	e.waitStatus(cluster, "two idle nodes after a restart", idle)
	after := e.data.ctl.Nodes(cluster)
	for _, b := range before {
		for _, a := range after {
			if a.NodeID == b.NodeID {
				t.Fatalf("node %s survived a clean stop", a.NodeID)
			}
		}
	}
	if nics := e.srvNodeNICs(); len(nics) != 2 {
		t.Fatalf("node interfaces after a restart: %v, want the two of the new nodes", nics)
	}

	// A crash: the agents live on; the next server adopts them.
	before = e.data.ctl.Nodes(cluster)
	e.data.crash = true
	e.restart()
	e.waitStatus(cluster, "two idle nodes adopted", idle)
	after = e.data.ctl.Nodes(cluster)
	if len(after) != 2 || after[0].NodeID != before[0].NodeID || after[1].NodeID != before[1].NodeID {
		t.Fatalf("after a crash: nodes %v, want the adopted %v", after, before)
	}
	e.must(200, "DELETE", cluster, nil)
	if left := e.data.agentDirs(); len(left) != 0 {
		t.Fatalf("node state left behind: %v", left)
	}
}

func (e *env) srvNodeNICs() map[string]string { return e.data.srv.Load().NodeNICs(cluster) }

// TestAutoscaleStopsOnUnusableNodes: when every new node turns unusable,
// autoscale stops adding nodes after three and says why; fixing the rule
// brings the nodes back.
func TestAutoscaleStopsOnUnusableNodes(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", nsg+"/securityRules/deny-batch", `{"properties": {"priority": 100, "direction": "Inbound", "access": "Deny",
		"protocol": "Tcp", "sourceAddressPrefix": "BatchNodeManagement", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "29876-29877"}}`)
	e.must(201, "PUT", cluster, clusterBody(0, 6))
	e.data.ctl.Demand(cluster, 6)
	s := e.waitStatus(cluster, "autoscale stalled", func(s status) bool {
		for _, er := range s.Errors {
			if strings.Contains(er.Message, "autoscale stopped adding nodes") {
				return true
			}
		}
		return false
	})
	if s.CurrentNodeCount != 3 || !strings.Contains(s.Errors[0].Message+s.Errors[len(s.Errors)-1].Message, "deny-batch") {
		t.Fatalf("stalled: %+v, want 3 unusable nodes and the rule named", s)
	}
	e.must(200, "DELETE", nsg+"/securityRules/deny-batch", nil)
	// Recovered, and growing again now that a node is healthy.
	e.waitStatus(cluster, "recovered", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 6 })
}
