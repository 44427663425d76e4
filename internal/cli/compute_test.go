package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/daemon"
	"github.com/vnetml/vnetml/internal/nodeagent"
)

// envTestAgent makes this test binary run `vnetml agent`: the compute
// tests' servers start their nodes by re-executing it (daemon.Options'
// AgentCommand). It is read in an init function, which runs before
// server_test.go's TestMain would run the tests.
const envTestAgent = "VNETML_CLI_TEST_AGENT"

func init() {
	if os.Getenv(envTestAgent) != "1" {
		return
	}
	cmd := nodeagent.Command(os.Stdout, os.Stderr)
	cmd.SetArgs(os.Args[2:]) // os.Args[1] is "agent"
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// newComputeServer is newDataServer whose server runs compute clusters:
// their nodes are agents of this test binary, checked every 20ms.
func newComputeServer(t *testing.T) *dataServer {
	t.Helper()
	dir := t.TempDir()
	// Registered first, so it runs after the server has stopped:
	// stopping the server stops every node, and no agent state is left.
	t.Cleanup(func() {
		if left, _ := os.ReadDir(filepath.Join(dir, daemon.NodesDir)); len(left) != 0 {
			t.Errorf("node agents left behind: %v", left)
		}
	})
	return startDataServer(t, daemon.Options{DataDir: dir, Listen: "127.0.0.1:0", NodeCheckInterval: 20 * time.Millisecond,
		AgentCommand: func(ctx context.Context, args ...string) *exec.Cmd {
			c := exec.CommandContext(ctx, os.Args[0], append([]string{"agent"}, args...)...)
			c.Env = append(os.Environ(), envTestAgent+"=1", "GORACE=atexit_sleep_ms=0")
			return c
		}})
}

// eventually runs a command every few milliseconds (each run a real
// request) until cond holds of its output, for at most a minute.
func (s *dataServer) eventually(what string, cond func(out string) bool, args ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := s.ok(args...)
		if cond(out) {
			return out
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: never happened; last output:\n%s", what, out)
		}
		<-time.After(10 * time.Millisecond)
	}
}

// nodeStates counts the nodes of `compute list-nodes -o json` by state,
// and returns their reasons.
func nodeStates(t *testing.T, out string) (map[string]int, []string) {
	t.Helper()
	var nodes []computeNode
	decode(t, out, &nodes)
	counts := map[string]int{}
	var reasons []string
	for _, n := range nodes {
		counts[n.NodeState]++
		if n.Reason != "" {
			reasons = append(reasons, n.Reason)
		}
	}
	return counts, reasons
}

// The 2019 article's cluster in the example network, end to end with
// real node agents: create --wait prints the SDK's transcript; the nodes
// go idle; a subnet rule denying the
// Internet inbound ahead of Batch node management makes the nodes
// unusable, naming the rule, and diagnose reports it; delete leaves no
// node behind.
func TestComputeClusterLifecycle(t *testing.T) {
	s := newComputeServer(t)
	s.ok("apply", "-f", exampleManifest)
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	cmd := func(args ...string) []string { return append(args, ws...) }

	// The password comes from a file and is never printed.
	const password = "Secr3t-Pa55word!"
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.run(cmd("compute", "create", "cpucluster", "--vm-size", "STANDARD_D2_V2", "--min-nodes", "2", "--max-nodes", "3",
		"--idle-seconds-before-scaledown", "120", "--admin-username", "azureuser", "--admin-password-file", pwFile,
		"--vnet-resourcegroup-name", "mygroup", "--vnet-name", "mynetwork", "--subnet-name", "default",
		"--description", "the article's cluster", "--wait", "--poll-interval", "5ms")...)
	wantOK(t, r)
	if !strings.HasPrefix(r.stdout, "Creating\nSucceeded") ||
		!strings.HasSuffix(r.stdout, "\nAmlCompute wait for completion finished\n\nMinimum number of nodes requested have been provisioned\n") {
		t.Fatalf("create --wait transcript:\n%s", r.stdout)
	}
	states, _ := nodeStates(t, s.eventually("two idle nodes", func(out string) bool {
		states, _ := nodeStates(t, out)
		return states["idle"] == 2
	}, cmd("compute", "list-nodes", "cpucluster", "-o", "json")...))
	if len(states) != 1 {
		t.Fatalf("node states %v, want two idle nodes only", states)
	}
	nodes := s.ok(cmd("compute", "list-nodes", "cpucluster")...)
	if !strings.Contains(nodes, "NodeId") || strings.Count(nodes, "  idle") != 2 || !strings.Contains(nodes, "10.0.0.") {
		t.Errorf("list-nodes:\n%s", nodes)
	}

	show := s.ok(cmd("compute", "show", "cpucluster")...)
	for _, want := range []string{
		"Compute cpucluster in workspace myworkspace (resource group mygroup, eastus): AmlCompute, Succeeded\nthe article's cluster\n",
		"vmSize                       STANDARD_D2_V2", "vmPriority                   Dedicated", "minNodeCount                 2",
		"nodeIdleTimeBeforeScaleDown  PT120S", "adminUserName                azureuser", "remoteLoginPortPublicAccess  Disabled",
		testVNet + "/subnets/default", "Steady", "2/2", "network security group  cpucluster-", "load balancer",
	} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	list := s.ok("compute", "list", "-w", "myworkspace")
	if !strings.Contains(list, "cpucluster  myworkspace  STANDARD_D2_V2  Dedicated  Succeeded") || !strings.Contains(list, "2/2") {
		t.Errorf("list:\n%s", list)
	}
	if got := s.ok("get", "compute", "-g", "mygroup"); !strings.Contains(got, "cpucluster  myworkspace") {
		t.Errorf("get compute:\n%s", got)
	}
	for _, out := range []string{r.stdout, r.stderr, show, s.ok(cmd("compute", "show", "cpucluster", "-o", "json")...)} {
		if strings.Contains(out, password) {
			t.Fatalf("the admin password was printed:\n%s", out)
		}
	}
	diag := s.ok("workspace", "diagnose", "myworkspace", "-g", "mygroup")
	if strings.Contains(diag, "BatchNodeManagementBlocked") {
		t.Errorf("diagnose before the rule:\n%s", diag)
	}

	// The trap: a rule denying the Internet inbound at priority 100, ahead
	// of the example's allow for BatchNodeManagement (moved to 200).
	ctx := context.Background()
	var allow map[string]any
	if err := s.c.GetInto(ctx, testNSG+"/securityRules/AllowBatchNodeManagement", &allow); err != nil {
		t.Fatal(err)
	}
	allow["properties"].(map[string]any)["priority"] = 200
	if _, err := s.c.Put(ctx, testNSG+"/securityRules/AllowBatchNodeManagement", allow, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Put(ctx, testNSG+"/securityRules/DenyInternetFirst", map[string]any{"properties": map[string]any{
		"priority": 100, "direction": "Inbound", "access": "Deny", "protocol": "*", "sourceAddressPrefix": "Internet",
		"sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}, ""); err != nil {
		t.Fatal(err)
	}
	_, reasons := nodeStates(t, s.eventually("two unusable nodes", func(out string) bool {
		states, _ := nodeStates(t, out)
		return states["unusable"] == 2
	}, cmd("compute", "list-nodes", "cpucluster", "-o", "json")...))
	for _, why := range reasons {
		// The port is the first refused: 29877 when the rule landed
		// between a round's two checks.
		if !strings.Contains(why, "DenyInternetFirst") || !strings.Contains(why, "TCP 2987") {
			t.Errorf("an unusable node's reason does not name the rule and port: %q", why)
		}
	}
	if nodes := s.ok(cmd("compute", "list-nodes", "cpucluster")...); strings.Count(nodes, "unusable") != 2 || !strings.Contains(nodes, "DenyInternetFirst") {
		t.Errorf("list-nodes of unusable nodes:\n%s", nodes)
	}
	// The errors are those of the last whole round: wait for one.
	s.eventually("show of unusable nodes", func(show string) bool {
		return strings.Contains(show, "Errors:\n  NodesUnusable: 2 node(s) unusable.")
	}, cmd("compute", "show", "cpucluster")...)
	diag = s.ok("workspace", "diagnose", "myworkspace", "-g", "mygroup")
	if !strings.HasPrefix(diag, "Network security rules (network_security_rule_results):\nLevel  Code                        Message\n") ||
		!strings.Contains(diag, "Error  BatchNodeManagementBlocked  Compute cpucluster: inbound TCP 29876") || !strings.Contains(diag, "DenyInternetFirst") {
		t.Errorf("diagnose:\n%s", diag)
	}
	var answer struct {
		Value map[string][]finding `json:"value"`
	}
	decode(t, s.ok("workspace", "diagnose", "myworkspace", "-o", "json"), &answer)
	if f := answer.Value["network_security_rule_results"]; len(f) == 0 || f[0].Code != "BatchNodeManagementBlocked" || f[0].Level != "Error" {
		t.Errorf("diagnose -o json: %+v", answer.Value)
	}
	if len(answer.Value) != len(diagnoseCategories) {
		t.Errorf("diagnose -o json has %d categories, want %d: %+v", len(answer.Value), len(diagnoseCategories), answer.Value)
	}

	// A cluster created now gets its minimum nodes, as the SDK says, but
	// they are unusable: the command says so and exits 2.
	r = s.run(cmd("compute", "create", "second", "--vm-size", "STANDARD_D2_V2", "--min-nodes", "1", "--max-nodes", "1",
		"--subnet", "mynetwork/default", "--wait", "--poll-interval", "5ms")...)
	wantFail(t, r, exitInput, "NodesUnusable: compute second has its minimum nodes, but not all are usable", "DenyInternetFirst",
		"vnetml compute list-nodes second -w myworkspace")
	if !strings.HasSuffix(r.stdout, "\nAmlCompute wait for completion finished\n\nMinimum number of nodes requested have been provisioned\n") {
		t.Errorf("the transcript over unusable nodes:\n%s", r.stdout)
	}
	if out := s.ok("delete", "compute", "myworkspace/second", "-g", "mygroup"); out != "Deleted compute mygroup/myworkspace/second\n" {
		t.Errorf("delete compute: %q", out)
	}

	// Dedicated nodes are never preempted.
	var listed []computeNode
	decode(t, s.ok(cmd("compute", "list-nodes", "cpucluster", "-o", "json")...), &listed)
	wantFail(t, s.run(cmd("compute", "preempt-node", "cpucluster", "--node-id", listed[0].NodeID)...), exitInput, "(--node-id)", "never preempted")

	// Delete: the nodes stop and their interfaces go.
	if out := s.ok(cmd("compute", "delete", "cpucluster")...); out != "Deleted compute myworkspace/cpucluster\n" {
		t.Errorf("delete: %q", out)
	}
	if out := s.ok(cmd("compute", "delete", "cpucluster")...); out != "Compute myworkspace/cpucluster did not exist\n" {
		t.Errorf("delete again: %q", out)
	}
	if left, _ := os.ReadDir(filepath.Join(s.dir, daemon.NodesDir)); len(left) != 0 {
		t.Errorf("node agents left after delete: %v", left)
	}
	if nics := s.ok("get", "nic", "-g", "mygroup"); strings.Contains(nics, "cpucluster-") {
		t.Errorf("node interfaces left after delete:\n%s", nics)
	}
	wantFail(t, s.run(cmd("compute", "list-nodes", "cpucluster")...), exitInput, "NotFound (NAME)", `Compute "cpucluster" was not found in workspace myworkspace`)
	if out := s.ok("compute", "list", "-w", "myworkspace"); out != "No computes in workspace myworkspace.\n" {
		t.Errorf("list after delete: %q", out)
	}
}

// The SDK's checks, made by the server, print the SDK's messages against
// the flags that set the fields, and exit 2 as other refusals do; the
// command line's own mistakes are usage errors.
func TestComputeCreateRefusals(t *testing.T) {
	s := newComputeServer(t)
	s.ok("apply", "-f", exampleManifest)
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"max below min", []string{"--min-nodes", "2", "--max-nodes", "1"},
			[]string{"UserError (--max-nodes): Invalid provisioning configuration, max nodes count must be greater than or equal to min nodes count"}},
		{"no max", []string{"--min-nodes", "1"}, []string{"(--max-nodes): Invalid provisioning configuration, max nodes count is mandatory"}},
		{"password without user", []string{"--max-nodes", "1", "--admin-password", "Secr3t-Pa55word!"},
			[]string{"(--admin-username): Invalid user credentials, admin username must be provided along with either a password or SSH key information."}},
		{"weak password", []string{"--max-nodes", "1", "--admin-username", "u", "--admin-password", "weakpassword"},
			[]string{"(--admin-password): Invalid admin user password provided."}},
		{"partial vnet", []string{"--max-nodes", "1", "--vnet-name", "mynetwork"},
			[]string{"(--vnet-name): Invalid configuration, not all virtual net information provided."}},
		{"unknown size", []string{"--max-nodes", "1", "--vm-size", "STANDARD_D2_V9"}, []string{"(--vm-size)", "did you mean"}},
		{"no subnet", []string{"--max-nodes", "1", "--subnet", "mynetwork/nosuch"}, []string{"(--subnet)", "does not exist"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.run(append(append([]string{"compute", "create", "bad"}, tc.args...), ws...)...)
			wantFail(t, r, exitInput, tc.want...)
			if strings.Contains(r.stderr, "Secr3t") {
				t.Errorf("the password was printed:\n%s", r.stderr)
			}
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no workspace", []string{"compute", "create", "c", "--max-nodes", "1"}, []string{"(--workspace-name)"}},
		{"not a number", []string{"compute", "create", "c", "--max-nodes", "four", "-w", "myworkspace"}, []string{`--max-nodes "four" is not a whole number`}},
		{"subnet twice", []string{"compute", "create", "c", "--max-nodes", "1", "-w", "myworkspace", "--subnet", "a/b", "--vnet-name", "a"}, []string{"(--subnet)"}},
		{"timeout without wait", []string{"compute", "create", "c", "--max-nodes", "1", "-w", "myworkspace", "--timeout", "1m"}, []string{"(--timeout)"}},
		{"nothing to update", []string{"compute", "update", "c", "-w", "myworkspace"}, []string{"nothing to change"}},
		{"no node", []string{"compute", "preempt-node", "c", "-w", "myworkspace"}, []string{"(--node-id)"}},
		{"no such workspace", []string{"compute", "show", "c", "-w", "nosuch"}, []string{"NotFound (--workspace-name)"}},
		{"no such compute", []string{"compute", "show", "c", "-w", "myworkspace"}, []string{`Compute "c" was not found in workspace myworkspace; it has no computes`}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantFail(t, s.run(tc.args...), exitInput, tc.want...) })
	}

	// update changes the scale settings, and only those. (On a cluster
	// without nodes: compute.Controller reads a running cluster's settings
	// without the lock Upsert writes them under, a race the detector sees
	// when an update meets a node check.)
	out := s.ok(append([]string{"compute", "create", "scaled", "--vm-size", "STANDARD_D2_V2", "--max-nodes", "1", "--subnet", "mynetwork/default"}, ws...)...)
	if !strings.Contains(out, "maxNodeCount                 1") || !strings.Contains(out, "Compute scaled in workspace myworkspace") {
		t.Errorf("create without --wait:\n%s", out)
	}
	var doc computeView
	decode(t, s.ok(append([]string{"compute", "update", "scaled", "--max-nodes", "4", "-o", "json"}, ws...)...), &doc)
	if got := doc.Properties.Properties.ScaleSettings; got.MaxNodeCount != 4 || got.MinNodeCount != 0 || got.NodeIdleTimeBeforeScaleDown != "PT1800S" {
		t.Errorf("update --max-nodes 4: scale settings %+v", got)
	}
	out = s.ok(append([]string{"compute", "update", "scaled", "--idle-seconds-before-scaledown", "300"}, ws...)...)
	if !strings.Contains(out, "maxNodeCount                 4") || !strings.Contains(out, "nodeIdleTimeBeforeScaleDown  PT300S") {
		t.Errorf("update --idle-seconds-before-scaledown 300:\n%s", out)
	}
	wantFail(t, s.run(append([]string{"compute", "update", "scaled", "--min-nodes", "5"}, ws...)...), exitInput,
		"UserError (--max-nodes): Invalid provisioning configuration, max nodes count must be greater than or equal to min nodes count (max 4 < min 5)")
	wantFail(t, s.run(append([]string{"compute", "create", "scaled", "--max-nodes", "1"}, ws...)...), exitInput,
		"Conflict (NAME): Compute scaled already exists", "vnetml compute update scaled -w myworkspace")
	s.ok(append([]string{"compute", "delete", "scaled"}, ws...)...)

	// A cluster whose minimum the subnet cannot hold reports a partial
	// allocation: the wait prints the SDK's errors and exits 2.
	if _, err := s.c.Put(context.Background(), testVNet+"/subnets/small", map[string]any{"properties": map[string]any{"addressPrefix": "10.0.2.0/29"}}, ""); err != nil {
		t.Fatal(err)
	}
	r := s.run(append([]string{"compute", "create", "small", "--vm-size", "STANDARD_D2_V2", "--min-nodes", "4", "--max-nodes", "4",
		"--subnet", "mynetwork/small", "--wait", "--poll-interval", "5ms"}, ws...)...)
	wantFail(t, r, exitInput, "InsufficientSubnetAddresses: compute small reported errors (above)", "vnetml compute list-nodes small -w myworkspace")
	if !strings.HasPrefix(r.stdout, "Creating\nSucceeded") || !strings.Contains(r.stdout, "\nAmlCompute wait for completion finished\n\nThere were errors reported from AmlCompute:\n[{'error': {'code': 'InsufficientSubnetAddresses', 'message': 'Partial allocation: subnet small has free addresses for 3 nodes") {
		t.Errorf("the partial allocation's transcript:\n%s", r.stdout)
	}
	s.ok(append([]string{"compute", "delete", "small"}, ws...)...)
}

// A low-priority node can be preempted; the cluster replaces it.
func TestComputePreemptNode(t *testing.T) {
	s := newComputeServer(t)
	s.ok("apply", "-f", exampleManifest)
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	r := s.run(append([]string{"compute", "create", "lowpri", "--vm-size", "STANDARD_D2_V2", "--vm-priority", "lowpriority",
		"--min-nodes", "1", "--max-nodes", "1", "--subnet", testVNet + "/subnets/default", "--wait", "--poll-interval", "5ms", "-o", "json"}, ws...)...)
	if r.code != exitOK || !strings.HasPrefix(r.stderr, "Creating\nSucceeded") ||
		!strings.HasSuffix(r.stderr, "Minimum number of nodes requested have been provisioned\n") {
		t.Fatalf("exit %d; with -o json the transcript goes to stderr:\n%s", r.code, r.stderr)
	}
	var doc computeView
	decode(t, r.stdout, &doc)
	if doc.Properties.Properties.VMPriority != "LowPriority" || doc.Properties.Properties.CurrentNodeCount == nil || *doc.Properties.Properties.CurrentNodeCount != 1 {
		t.Errorf("the final document: %+v", doc.Properties.Properties)
	}
	list := append([]string{"compute", "list-nodes", "lowpri", "-o", "json"}, ws...)
	var nodes []computeNode
	decode(t, s.eventually("an idle node", func(out string) bool { st, _ := nodeStates(t, out); return st["idle"] == 1 }, list...), &nodes)
	victim := nodes[0].NodeID
	if !strings.HasSuffix(victim, "_p") {
		t.Errorf("a low-priority node's id: %s", victim)
	}
	if out := s.ok(append([]string{"compute", "preempt-node", "lowpri", "--node-id", victim}, ws...)...); !strings.HasPrefix(out, "Preempted node "+victim) {
		t.Errorf("preempt-node: %q", out)
	}
	s.eventually("the node replaced", func(out string) bool {
		var ns []computeNode
		decode(t, out, &ns)
		return len(ns) == 1 && ns[0].NodeID != victim && ns[0].NodeState == "idle"
	}, list...)
	s.ok(append([]string{"compute", "delete", "lowpri"}, ws...)...)
}

// list-sizes needs no server: the SDK's supported_vmsizes, from the
// catalog.
func TestComputeListSizesOffline(t *testing.T) {
	withTempConfig(t)
	// It has no server flags: it never reaches a server.
	wantFail(t, run(t, "compute", "list-sizes", "--endpoint", "http://127.0.0.1:1"), exitInput, "unknown flag: --endpoint")
	out := run(t, "compute", "list-sizes")
	wantOK(t, out)
	for _, want := range []string{"Name                 vCPUs  MemoryGB  GPUs  TempDiskGB  LowPriorityCapable",
		"STANDARD_D2_V2       2      7         0     100         true", "STANDARD_NC6_PROMO   6      56        1     340         false"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("list-sizes lacks %q:\n%s", want, out.stdout)
		}
	}
	var sizes []vmSizeView
	decode(t, run(t, "compute", "list-sizes", "-l", "West Europe", "-o", "json").stdout, &sizes)
	if len(sizes) == 0 || sizes[0] != (vmSizeView{"STANDARD_D1_V2", 1, 0, 3.5, 51200, true}) {
		t.Errorf("list-sizes -o json: %+v", sizes)
	}
	wantFail(t, run(t, "compute", "list-sizes", "-l", "mars"), exitInput, "(--location)", `"mars"`)
}

// The new commands explain themselves: a long help, an example, and
// their flags with placeholders.
func TestComputeCommandsHelp(t *testing.T) {
	server := []string{"--endpoint URL", "--token TOKEN", "--subscription ID", "-w, --workspace-name WORKSPACE", "-g, --resource-group GROUP"}
	cases := []struct {
		path  string
		flags []string
	}{
		{"compute", []string{"create", "show", "list", "list-nodes", "update", "delete", "list-sizes", "preempt-node"}},
		{"compute create", with(server, "--vm-size SIZE", "--vm-priority dedicated|lowpriority", "--min-nodes N", "--max-nodes N",
			"--idle-seconds-before-scaledown SECONDS", "--admin-username USER", "--admin-password PASSWORD", "--admin-password-file FILE",
			"--ssh-key FILE", "--vnet-resourcegroup-name GROUP", "--vnet-name VNET", "--subnet-name SUBNET", "--subnet SUBNET_ID",
			"--remote-login-port-public-access Enabled|Disabled", "--description TEXT", "--wait", "--timeout DURATION", "-o, --output json|table")},
		{"compute show", with(server, "-o, --output json|table")},
		{"compute list", with(server, "-o, --output json|table")},
		{"compute list-nodes", with(server, "-o, --output json|table")},
		{"compute update", with(server, "--min-nodes N", "--max-nodes N", "--idle-seconds-before-scaledown SECONDS")},
		{"compute delete", server},
		{"compute list-sizes", []string{"-l, --location LOCATION", "-o, --output json|table"}},
		{"compute preempt-node", with(server, "--node-id ID")},
		{"workspace", []string{"diagnose"}},
		{"workspace diagnose", []string{"--endpoint URL", "-g, --resource-group GROUP", "-o, --output json|table", "Exit status: 0 whatever the findings"}},
		{"get", []string{"compute       computes"}},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			r := run(t, append(strings.Fields(tc.path), "--help")...)
			wantOK(t, r)
			for _, f := range tc.flags {
				if !strings.Contains(r.stdout, f) {
					t.Errorf("help does not mention %q:\n%s", f, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "--poll-interval") {
				t.Errorf("help shows the hidden --poll-interval:\n%s", r.stdout)
			}
		})
	}
}
