package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/api"
)

// managedClusterFile writes a managed cluster of count nodes of vmSize in
// the quickstart's subnet as an ARM resource body (the cluster's fields
// nested under properties, as the ARM REST API carries them; not the
// flattened form `az aks show -o json` prints), for `vnetml apply -f`.
func managedClusterFile(t *testing.T, name string, count int, vmSize string) string {
	t.Helper()
	const group = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup"
	doc := map[string]any{
		"id":       group + "/providers/Microsoft.ContainerService/managedClusters/" + name,
		"type":     "Microsoft.ContainerService/managedClusters",
		"location": "eastus",
		"properties": map[string]any{
			"kubernetesVersion": "1.30.6",
			"dnsPrefix":         name,
			"agentPoolProfiles": []any{map[string]any{"name": "nodepool1", "count": count, "vmSize": vmSize, "mode": "System",
				"vnetSubnetID": group + "/providers/Microsoft.Network/virtualNetworks/mynetwork/subnets/default"}},
			"networkProfile": map[string]any{"networkPlugin": "azure", "serviceCidr": "10.2.0.0/16", "dnsServiceIP": "10.2.0.10",
				"dockerBridgeCidr": "172.17.0.1/16"},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name+".json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestComputeAttach attaches a managed cluster made by `vnetml apply`:
// the flags are checked as the SDK checks attach_configuration, the
// server's refusals name the flag to change, --wait follows the cluster's
// nodes, and detach leaves the cluster running; an attached compute is
// not deleted, nor is an attached cluster.
func TestComputeAttach(t *testing.T) {
	s := newComputeServer(t)
	s.ok("apply", "-f", quickstartManifest)
	s.ok("apply", "-f", managedClusterFile(t, "myk8s", 1, "Standard_D3_v2"))
	if out := s.ok("get", "managedcluster", "-g", "mygroup"); !regexp.MustCompile(`(?m)^myk8s +mygroup +eastus +1\.30\.6 +1 +STANDARD_D3_V2 +.*/subnets/default +Succeeded`).MatchString(out) {
		t.Errorf("get managedcluster:\n%s", out)
	}
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	attach := func(args ...string) result {
		return s.run(append(append([]string{"compute", "attach", "myaks"}, ws...), args...)...)
	}

	// The command line, as the SDK checks it.
	wantFail(t, attach("--cluster-name", "myk8s"), exitInput, "(--type)", "--type is required")
	wantFail(t, attach("--type", "vm", "--cluster-name", "myk8s"), exitInput, "(--type)")
	wantFail(t, attach("--type", "aks"), exitInput, "(--resource-id)", "--cluster-name CLUSTER with -g GROUP")
	wantFail(t, s.run("compute", "attach", "myaks", "-w", "myworkspace", "--type", "aks", "--cluster-name", "myk8s"), exitInput, "(--resource-group)")
	wantFail(t, attach("--type", "aks", "--resource-id", "/subscriptions/x/resourceGroups/y"), exitInput, "(--resource-id)", "Invalid resource_id provided")
	wantFail(t, attach("--type", "aks", "--resource-id", "/subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/virtualMachines/vm"), exitInput,
		"(--resource-id)", "resource type Microsoft.Compute does not match for AKS")
	// The server's: no such cluster; FastProd on 4 vCPUs.
	wantFail(t, attach("--type", "aks", "--cluster-name", "nosuch"), exitInput, "(--cluster-name)", "Managed cluster", "was not found")
	wantFail(t, attach("--type", "aks", "--cluster-name", "myk8s"), exitInput, "(--cluster-purpose)", "Cluster should have at least 12 cores to operate")
	wantFail(t, attach("--type", "aks", "--cluster-name", "myk8s", "--cluster-purpose", "DevTest", "--load-balancer-type", "InternalLoadBalancer",
		"--load-balancer-subnet", "nosuch"), exitInput, "(--load-balancer-subnet)", "not a subnet of virtual network mynetwork")

	// Attach, and wait for the cluster's node (the quickstart's NSG
	// admits Azure ML's node management).
	r := attach("--type", "aks", "--cluster-name", "myk8s", "--cluster-purpose", "DevTest", "--wait", "--poll-interval", "5ms")
	wantOK(t, r)
	if !regexp.MustCompile(`^Creating\.*\n(Succeeded\.*\n)?AmlCompute wait for completion finished\n\nMinimum number of nodes requested have been provisioned\n$`).MatchString(r.stdout) {
		t.Errorf("attach --wait transcript:\n%s", r.stdout)
	}
	var doc struct {
		Properties struct {
			ResourceID        string
			IsAttachedCompute bool
			Properties        struct {
				AgentCount       int
				CurrentNodeCount int
			}
		}
	}
	decode(t, s.ok(append([]string{"compute", "show", "myaks", "-o", "json"}, ws...)...), &doc)
	if p := doc.Properties; !p.IsAttachedCompute || !strings.HasSuffix(p.ResourceID, "/managedClusters/myk8s") || p.Properties.AgentCount != 1 || p.Properties.CurrentNodeCount != 1 {
		t.Errorf("show of the attached compute: %+v", p)
	}
	nodes := s.ok(append([]string{"compute", "list-nodes", "myaks"}, ws...)...)
	if !strings.Contains(nodes, "idle") {
		t.Errorf("list-nodes:\n%s", nodes)
	}
	wantFail(t, s.run(append([]string{"compute", "attach", "again", "--type", "aks", "--cluster-name", "myk8s", "--cluster-purpose", "DevTest"}, ws...)...),
		exitInput, "Conflict", "already attached to workspace myworkspace as compute myaks")

	// Not deleted while attached: neither the compute nor the cluster.
	wantFail(t, s.run(append([]string{"compute", "delete", "myaks"}, ws...)...), exitInput, "was attached", "vnetml compute detach myaks -w myworkspace")
	wantFail(t, s.run("delete", "managedcluster", "myk8s", "-g", "mygroup"), exitInput, "Conflict", "attached to workspace myworkspace as inference compute myaks")

	// Detach: the cluster and its node stay.
	if out := s.ok(append([]string{"compute", "detach", "myaks"}, ws...)...); out != "Detached compute myworkspace/myaks; managed cluster myk8s (resource group mygroup) keeps running\n" {
		t.Errorf("detach: %q", out)
	}
	if out := s.ok(append([]string{"compute", "detach", "myaks"}, ws...)...); out != "Compute myworkspace/myaks did not exist\n" {
		t.Errorf("detach again: %q", out)
	}
	if out := s.ok("get", "nic", "-g", "mygroup"); !regexp.MustCompile(`(?m)^myk8s-\S+ +mygroup`).MatchString(out) || strings.Contains(out, "azureml-fe") {
		t.Errorf("the network interfaces after detach: the cluster's node stays, the front end goes:\n%s", out)
	}
	s.ok("delete", "managedcluster", "myk8s", "-g", "mygroup")
	if out := s.ok("get", "nic", "-g", "mygroup"); strings.Contains(out, "myk8s-") {
		t.Errorf("the cluster's node interface after delete:\n%s", out)
	}
}

// TestAttachedClusterServes deploys a web service to an attached cluster
// exactly as to a created one and scores it through the fabric: from the
// allowed network, and refused from elsewhere naming the rule. Detaching
// takes the service with it; the cluster's node goes on running and
// serves again once attached again. Replicas run vnetml_score.py, so
// Python is needed.
func TestAttachedClusterServes(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the scoring server is Python")
	}
	s := newComputeServer(t)
	s.ok("apply", "-f", quickstartManifest)
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	with := func(args ...string) []string { return append(args, ws...) }
	model := script(t, "model.json", `{"weights": [1.0, -1.0], "bias": 0.0}`)
	s.ok(with("model", "register", "--name", "mymodel", "--file", model)...)
	s.ok("apply", "-f", managedClusterFile(t, "myk8s", 1, "Standard_D2_v2"))
	s.ok(with("compute", "attach", "myaks", "--type", "aks", "--cluster-name", "myk8s", "--cluster-purpose", "DevTest", "--wait", "--poll-interval", "5ms")...)
	before := s.ok(with("compute", "list-nodes", "myaks", "-o", "json")...)

	entry := script(t, "score.py", quickstartScore)
	const request = `{"data": [[2, -1], [-2, 1]]}`
	r := s.run(with("service", "deploy", "mysvc", "--compute", "myaks", "--model", "mymodel", "--entry", entry, "--num-replicas", "1",
		"--wait", "--timeout", "2m", "--poll-interval", "20ms")...)
	wantOK(t, r)
	if !strings.Contains(r.stdout, "Deploying service mysvc to inference cluster myaks") || !strings.Contains(r.stdout, "\nHealthy\n") {
		t.Fatalf("deploy --wait to the attached cluster:\n%s", r.stdout)
	}
	var probs []float64
	decode(t, s.ok(with("service", "score", "mysvc", "--data", request)...), &probs)
	if len(probs) != 2 || probs[0] < 0.5 || probs[1] > 0.5 {
		t.Errorf("score: %v", probs)
	}
	wantFail(t, s.run(with("service", "score", "mysvc", "--data", request, "--from", "8.8.8.8")...), exitInput,
		"Scoring service mysvc from 8.8.8.8 was refused by the network", "DenyAllInBound")
	// The replica runs on the cluster's node, at a pod address of the
	// cluster's subnet.
	var svc api.Service
	decode(t, s.ok(with("service", "show", "mysvc", "-o", "json")...), &svc)
	if len(svc.Properties.Replicas) != 1 {
		t.Fatalf("replicas: %+v", svc.Properties.Replicas)
	}

	hc, err := s.c.DataPlane(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	call := func() (int, error) {
		resp, err := hc.Post(svc.Properties.ScoringURI, "application/json", strings.NewReader(request))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := call(); err != nil || code != 401 { // no key: the front end answers, and refuses
		t.Fatalf("a keyless call to %s: %d %v", svc.Properties.ScoringURI, code, err)
	}

	// Detach: the service and the front end go with the compute; the
	// node stays.
	s.ok(with("compute", "detach", "myaks")...)
	wantFail(t, s.run(with("service", "show", "mysvc")...), exitInput, "Service mysvc was not found")
	if code, err := call(); err == nil {
		t.Errorf("the detached front end still answers %s: %d", svc.Properties.ScoringURI, code)
	}
	s.ok(with("compute", "attach", "myaks", "--type", "aks", "--cluster-name", "myk8s", "--cluster-purpose", "DevTest", "--wait", "--poll-interval", "5ms")...)
	if after := s.ok(with("compute", "list-nodes", "myaks", "-o", "json")...); after != before {
		t.Errorf("the cluster's nodes changed across detach and attach:\nbefore %s\nafter %s", before, after)
	}
	s.ok(with("service", "deploy", "mysvc", "--compute", "myaks", "--model", "mymodel", "--entry", entry, "--num-replicas", "1",
		"--wait", "--timeout", "2m", "--poll-interval", "20ms")...)
	decode(t, s.ok(with("service", "score", "mysvc", "--data", request)...), &probs)
	if len(probs) != 2 {
		t.Errorf("score after attaching again: %v", probs)
	}
	s.ok(with("compute", "detach", "myaks")...)
	s.ok("delete", "managedcluster", "myk8s", "-g", "mygroup")
	if out := s.ok(with("compute", "list")...); strings.Contains(out, "myaks") {
		t.Errorf("compute list after detach:\n%s", out)
	}
}
