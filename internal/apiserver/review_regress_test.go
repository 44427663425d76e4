package apiserver_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Regressions for the defects an independent review found; each fails on
// the code before its fix.

// Locks on child resources hold when the parent is written.
func TestReviewChildLocks(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	e.must(201, "PUT", vnet+"/subnets/locked", `{"properties": {"addressPrefix": "10.0.7.0/24"}}`)
	e.must(201, "PUT", vnet+"/subnets/locked/providers/Microsoft.Authorization/locks/keep", `{"properties": {"level": "CanNotDelete"}}`)
	// Dropping the locked subnet through a VNet PUT is a delete of it.
	e.wantError(409, "ScopeLocked", "PUT", vnet, vnetBody)
	e.must(200, "GET", vnet+"/subnets/locked", nil)

	e.must(201, "PUT", nsg+"/securityRules/allow-batch/providers/Microsoft.Authorization/locks/ro", `{"properties": {"level": "ReadOnly"}}`)
	e.wantError(409, "ScopeLocked", "PATCH", nsg, `{"properties": {"securityRules": [{"name": "allow-batch", "properties": {"priority": 200,
		"direction": "Inbound", "access": "Deny", "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}]}}`)
	// Changing another rule of the NSG is fine.
	e.must(201, "PUT", nsg+"/securityRules/other", `{"properties": {"priority": 300, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
		"sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}`)
	// Removing a child removes the locks on it (once they allow it).
	e.must(200, "DELETE", vnet+"/subnets/locked/providers/Microsoft.Authorization/locks/keep", nil)
	e.must(201, "PUT", vnet+"/subnets/locked/providers/Microsoft.Authorization/locks/note", `{"properties": {"level": "CanNotDelete"}}`)
	e.must(200, "DELETE", vnet+"/subnets/locked/providers/Microsoft.Authorization/locks/note", nil)
	e.must(201, "PUT", vnet+"/subnets/gone", `{"properties": {"addressPrefix": "10.0.8.0/24"}}`)
	e.must(201, "PUT", rg+"/providers/Microsoft.Authorization/locks/x", `{"properties": {"level": "CanNotDelete"}}`)
	e.must(200, "DELETE", rg+"/providers/Microsoft.Authorization/locks/x", nil)
}

// Network resources and watchers live directly in a resource group; locks
// need a scope; a subscription is deleted only when empty.
func TestReviewScopes(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	for _, p := range []string{
		sub + "/providers/Microsoft.Network/networkSecurityGroups/x",
		"/providers/Microsoft.Network/networkSecurityGroups/x",
		nsg + "/providers/Microsoft.Network/virtualNetworks/inner",
		sub + "/providers/Microsoft.Network/networkWatchers/w",
	} {
		e.wantError(400, "InvalidResourceId", "PUT", p, nsgBody)
	}
	e.wantError(400, "InvalidResourceId", "PUT", "/providers/Microsoft.Authorization/locks/all", `{"properties": {"level": "ReadOnly"}}`)
	e.wantError(400, "InvalidLockName", "POST", "/providers/vnetml.Resources/apply",
		`{"resources": [{"id": "`+rg+`/providers/Microsoft.Authorization/locks/..", "properties": {"level": "ReadOnly"}}]}`)
	e.must(201, "PUT", sub+"/providers/Microsoft.Authorization/locks/subnote", `{"properties": {"level": "CanNotDelete"}}`)
	e.must(200, "DELETE", sub+"/providers/Microsoft.Authorization/locks/subnote", nil)
	e.wantError(400, "SubscriptionNotEmpty", "DELETE", sub, nil)
	e.wantError(412, "PreconditionFailed", "DELETE", sub, nil, "If-Match", `W/"stale"`)
	e.must(404, "GET", sub+"/providers/Microsoft.Authorization/locks/none", nil)
	if er := e.wantError(404, "ResourceNotFound", "GET", sub+"/providers/Microsoft.Authorization/locks/none", nil); strings.Contains(er.Message, "resource group ''") {
		t.Errorf("message names an empty group: %s", er.Message)
	}
}

// A PUT answers with what it wrote, even when a DELETE follows at once.
func TestReviewPutAnswersWhatItWrote(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", rg, groupBody)
	asg := net + "/applicationSecurityGroups/asg1"
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				e.call("DELETE", asg, nil)
			}
		}
	}()
	for range 100 {
		r := e.call("PUT", asg, `{"location": "eastus"}`)
		if r.status != 200 && r.status != 201 {
			t.Errorf("PUT answered %d: %s", r.status, r.body)
			break
		}
	}
	close(stop)
	wg.Wait()
}

func TestReviewPublicIPAddresses(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", rg, groupBody)
	e.must(201, "PUT", net+"/publicIPAddresses/a", `{"location": "eastus"}`)
	e.wantError(400, "PublicIPAddressInUse", "PUT", net+"/publicIPAddresses/b", `{"location": "eastus", "properties": {"ipAddress": "198.51.100.1"}}`)
	e.wantError(400, "InvalidParameter", "PUT", net+"/publicIPAddresses/c", `{"location": "eastus", "properties": {"ipAddress": "8.8.8.8"}}`)
	e.wantError(400, "InvalidParameter", "PUT", net+"/publicIPAddresses/a", `{"location": "eastus", "properties": {"ipAddress": "198.51.100.9"}}`)
	// The address round-trips through GET and PUT.
	e.must(200, "PUT", net+"/publicIPAddresses/a", e.must(200, "GET", net+"/publicIPAddresses/a", nil).body)
	e.must(201, "PUT", net+"/publicIPAddresses/d", `{"location": "eastus", "properties": {"ipAddress": "198.51.100.7"}}`)
}

func TestReviewInternalLoadBalancerAddress(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	lb := fmt.Sprintf(`{"location": "eastus", "properties": {"frontendIPConfigurations": [{"name": "f", "properties": {"subnet": {"id": %q}}}]}}`, vnet+"/subnets/default")
	r := e.must(201, "PUT", net+"/loadBalancers/ilb", lb).json(t)
	f := r["properties"].(map[string]any)["frontendIPConfigurations"].([]any)[0].(map[string]any)["properties"].(map[string]any)
	if f["privateIPAddress"] != "10.0.0.5" || f["privateIPAllocationMethod"] != "Dynamic" {
		t.Errorf("frontend = %v, want 10.0.0.5 (node0 holds .4), Dynamic", f)
	}
	// A NIC created next does not take the frontend's address.
	n := e.must(201, "PUT", net+"/networkInterfaces/n1", `{"location": "eastus", "properties": {"ipConfigurations": [{"name": "a", "properties": {"subnet": {"id": "`+vnet+`/subnets/default"}}},
		{"name": "b", "properties": {"privateIPAddress": "10.0.0.6", "subnet": {"id": "`+vnet+`/subnets/default"}}}]}}`).json(t)
	if a := n["properties"].(map[string]any)["ipConfigurations"].([]any)[0].(map[string]any)["properties"].(map[string]any)["privateIPAddress"]; a != "10.0.0.7" {
		t.Errorf("dynamic address %v, want 10.0.0.7 (.5 frontend, .6 the NIC's own static one)", a)
	}
}

func TestReviewPeeringStates(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", rg, groupBody)
	a, b := net+"/virtualNetworks/va", net+"/virtualNetworks/vb"
	e.must(201, "PUT", a, `{"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}}`)
	e.must(201, "PUT", b, `{"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.2.0.0/16"]}}}`)
	state := func(id string) string {
		return e.must(200, "GET", id, nil).json(t)["properties"].(map[string]any)["peeringState"].(string)
	}
	peer := func(from, name, to string) {
		e.must(201, "PUT", from+"/virtualNetworkPeerings/"+name, `{"properties": {"remoteVirtualNetwork": {"id": "`+to+`"}}}`)
	}
	peer(a, "a-b", b)
	if s := state(a + "/virtualNetworkPeerings/a-b"); s != "Initiated" {
		t.Fatalf("one side: %s", s)
	}
	peer(b, "b-a", a)
	if s1, s2 := state(a+"/virtualNetworkPeerings/a-b"), state(b+"/virtualNetworkPeerings/b-a"); s1 != "Connected" || s2 != "Connected" {
		t.Fatalf("both sides: %s %s", s1, s2)
	}
	e.must(200, "DELETE", b+"/virtualNetworkPeerings/b-a", nil)
	if s := state(a + "/virtualNetworkPeerings/a-b"); s != "Disconnected" {
		t.Fatalf("after the remote side left: %s", s)
	}
	peer(b, "b-a", a)
	if s1, s2 := state(a+"/virtualNetworkPeerings/a-b"), state(b+"/virtualNetworkPeerings/b-a"); s1 != "Disconnected" || s2 != "Initiated" {
		t.Fatalf("remote side back, local not recreated: %s %s", s1, s2)
	}
	e.must(200, "DELETE", a+"/virtualNetworkPeerings/a-b", nil)
	peer(a, "a-b", b)
	if s1, s2 := state(a+"/virtualNetworkPeerings/a-b"), state(b+"/virtualNetworkPeerings/b-a"); s1 != "Connected" || s2 != "Connected" {
		t.Fatalf("after recreating: %s %s", s1, s2)
	}
}

func TestReviewSmallOnes(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	e.wantError(400, "InvalidQueryParameterValue", "POST", "/providers/vnetml.Resources/apply?dryRun=yes", `{"resources": []}`)
	e.wantError(400, "InvalidRequestContent", "PATCH", vnet, `{"tags": {"x": "y"}} not JSON`)
	// A case variant keeps the first spelling.
	if n := e.must(200, "PUT", strings.Replace(nsg, "ml-nsg", "ML-NSG", 1), nsgBody).json(t)["name"]; n != "ml-nsg" {
		t.Errorf("name became %v", n)
	}
	// Quota names are canonical and unique; only a deployment Owner moves them.
	e.wantError(400, "InvalidParameter", "PATCH", sub, `{"quotas": {"VirtualNetworks": 5, "virtualnetworks": 0}}`)
	e.must(200, "PATCH", sub, `{"quotas": {"virtualnetworks": 5}}`)
	if q := e.must(200, "GET", sub, nil).json(t)["quotas"].(map[string]any); q["VirtualNetworks"] != float64(5) {
		t.Errorf("quotas = %v", q)
	}
	owner := e.token("subowner", "Owner", sub)
	if r := e.callAs(owner, "PATCH", sub, `{"quotas": {"VirtualNetworks": 1000000}}`); r.status != 403 {
		t.Errorf("a subscription Owner raised its quota: %d %s", r.status, r.body)
	}
	if r := e.callAs(owner, "PATCH", sub, `{"displayName": "mine"}`); r.status != 200 {
		t.Errorf("a subscription Owner renaming it: %d %s", r.status, r.body)
	}
	reader := e.token("reader", "Reader", rg)
	if r := e.callAs(reader, "GET", rg+"/providers/Microsoft.Network/locations/eastus/usages", nil); r.status != 400 {
		t.Errorf("usages under a group: %d", r.status)
	}
	if r := e.callAs(reader, "GET", sub, nil); r.status != 200 {
		t.Errorf("a group reader reading its subscription (as listed): %d", r.status)
	}
	// Invented methods share one metrics series.
	e.callAs("", "ZZZ", "/x", nil)
	if m := string(e.callAs("", "GET", "/metrics", nil).body); strings.Contains(m, `method="ZZZ"`) {
		t.Error("a client minted a metrics series")
	}
	// Unclean paths get ARM's envelope, not a redirect.
	r := e.call("GET", "/subscriptions//resourceGroups", nil)
	if r.status != 400 || r.errorOf(t).Code != "InvalidResourceId" {
		t.Errorf("unclean path: %d %s", r.status, r.body)
	}
	// A watcher answers for its own subscription and region only.
	e.must(201, "PUT", sub+"/resourceGroups/west", `{"location": "westus2"}`)
	e.must(201, "PUT", sub+"/resourceGroups/west/providers/Microsoft.Network/networkWatchers/w2", `{"location": "westus2"}`)
	e.wantError(400, "InvalidParameter", "POST", sub+"/resourceGroups/west/providers/Microsoft.Network/networkWatchers/w2/ipFlowVerify",
		verifyBody("Inbound", "10.0.0.4", "198.18.3.9", 29876, 443))
}
