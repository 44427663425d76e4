package cli

import (
	"strings"
	"testing"
)

// TestComputeCreateAKS creates an inference cluster in the example
// network: Azure CNI's checks name the flag to change; the example's NSG
// admits Azure Machine Learning on SSH only, so --wait ends with the
// agent nodes unusable and the rule named.
func TestComputeCreateAKS(t *testing.T) {
	s := newComputeServer(t)
	s.ok("apply", "-f", exampleManifest)
	aks := func(args ...string) []string {
		return append([]string{"compute", "create", "myaks", "--type", "aks", "-w", "myworkspace", "-g", "mygroup",
			"--agent-count", "2", "--cluster-purpose", "DevTest", "--vnet-resourcegroup-name", "mygroup", "--vnet-name", "mynetwork",
			"--subnet-name", "default", "--docker-bridge-cidr", "172.17.0.1/16"}, args...)
	}
	r := s.run(aks("--service-cidr", "10.0.0.0/16", "--dns-service-ip", "10.0.0.10")...)
	if r.code != exitInput || !strings.Contains(r.stderr, "--service-cidr") || !strings.Contains(r.stderr, "ServiceCidrOverlapExistingSubnetsCidr") {
		t.Fatalf("an overlapping service CIDR: exit %d\n%s", r.code, r.stderr)
	}
	r = s.run("compute", "create", "myaks", "--type", "aks", "-w", "myworkspace", "--max-nodes", "3")
	if r.code != exitInput || !strings.Contains(r.stderr, "--max-nodes is a setting of AmlCompute") {
		t.Fatalf("--max-nodes with --type aks: exit %d\n%s", r.code, r.stderr)
	}
	r = s.run("compute", "create", "c2", "-w", "myworkspace", "--max-nodes", "3", "--agent-count", "2")
	if r.code != exitInput || !strings.Contains(r.stderr, "need --type aks") {
		t.Fatalf("--agent-count without --type aks: exit %d\n%s", r.code, r.stderr)
	}
	r = s.run(aks("--service-cidr", "10.2.0.0/16", "--dns-service-ip", "10.2.0.10", "--wait", "--poll-interval", "5ms")...)
	if r.code != exitInput || !strings.Contains(r.stdout+r.stderr, "Azure Machine Learning cannot reach the node") || !strings.Contains(r.stdout+r.stderr, "DenyInternetInbound") {
		t.Fatalf("create --wait in a network that refuses Azure ML: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	show := s.ok("compute", "show", "myaks", "-w", "myworkspace", "-o", "json")
	if !strings.Contains(show, `"computeType":"AKS"`) && !strings.Contains(show, `"computeType": "AKS"`) || !strings.Contains(show, "azureml-fe") {
		t.Errorf("show:\n%s", show)
	}
	s.ok("compute", "delete", "myaks", "-w", "myworkspace")
}
