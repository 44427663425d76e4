package apiserver_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func verifyBody(dir, local, remote string, lport, rport int) string {
	return fmt.Sprintf(`{"targetResourceId": %q, "direction": %q, "protocol": "TCP", "localIPAddress": %q, "localPort": "%d", "remoteIPAddress": %q, "remotePort": "%d"}`,
		nic, dir, local, lport, remote, rport)
}

func TestIPFlowVerifyLive(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	batch := verifyBody("Inbound", "10.0.0.4", "198.18.3.9", 29876, 443)
	r := e.must(200, "POST", nw+"/ipFlowVerify", batch).json(t)
	if r["access"] != "Allow" || r["ruleName"] != "securityRules/allow-batch" {
		t.Fatalf("batch management: %v", r)
	}
	if !strings.Contains(r["explanation"].(string), "priority 200") {
		t.Errorf("explanation: %v", r["explanation"])
	}
	// A deny rule with a lower priority number, written through the API,
	// decides the very next query.
	e.must(201, "PUT", nsg+"/securityRules/deny-batch", `{"properties": {"priority": 150, "direction": "Inbound", "access": "Deny", "protocol": "*",
		"sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "29876-29877"}}`)
	r = e.must(200, "POST", nw+"/ipFlowVerify", batch).json(t)
	if r["access"] != "Deny" || r["ruleName"] != "securityRules/deny-batch" {
		t.Fatalf("after the deny rule: %v", r)
	}
	e.must(200, "DELETE", nsg+"/securityRules/deny-batch", nil)
	r = e.must(200, "POST", nw+"/ipFlowVerify", batch).json(t)
	if r["access"] != "Allow" {
		t.Fatalf("after deleting the deny rule: %v", r)
	}

	hop := e.must(200, "POST", nw+"/nextHop", fmt.Sprintf(`{"targetResourceId": %q, "sourceIPAddress": "10.0.0.4", "destinationIPAddress": "8.8.8.8"}`, nic)).json(t)
	if hop["nextHopType"] != "Internet" || hop["routeTableId"] != "System Route" {
		t.Errorf("next hop = %v", hop)
	}
	eff := e.must(200, "POST", nic+"/effectiveNetworkSecurityGroups", nil).json(t)["value"].([]any)
	if len(eff) != 1 {
		t.Errorf("effective NSGs = %v", eff)
	}
	routes := e.must(200, "POST", nic+"/effectiveRouteTable", nil).json(t)["value"].([]any)
	if len(routes) == 0 {
		t.Errorf("no effective routes")
	}

	// Bad queries name every bad field; unknown NICs are NotFound.
	er := e.wantError(400, "InvalidRequestContent", "POST", nw+"/ipFlowVerify",
		`{"targetResourceId": "`+nic+`", "direction": "Up", "protocol": "ICMP", "localIPAddress": "x", "localPort": "70000", "remoteIPAddress": "1.2.3.4", "remotePort": "*"}`)
	if len(er.Details) != 4 {
		t.Errorf("want 4 errors (direction, protocol, address, port): %v", er)
	}
	e.wantError(404, "ResourceNotFound", "POST", nw+"/ipFlowVerify", strings.Replace(batch, "node0", "ghost", 1))
	e.wantError(400, "InvalidParameter", "POST", nw+"/ipFlowVerify", verifyBody("Inbound", "10.0.0.99", "198.18.3.9", 1, 2))
	e.wantError(404, "ResourceNotFound", "POST", strings.Replace(nw, "eastus", "mars", 1)+"/ipFlowVerify", batch)
}

// TestQueriesDuringWrites: queries run while writers toggle a deny rule
// and always get one of the two consistent answers, never an error.
func TestQueriesDuringWrites(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	batch := verifyBody("Inbound", "10.0.0.4", "198.18.3.9", 29876, 443)
	deny := `{"properties": {"priority": 150, "direction": "Inbound", "access": "Deny", "protocol": "*",
		"sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "29876-29877"}}`
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range 20 {
			if i%2 == 0 {
				e.call("PUT", nsg+"/securityRules/deny-batch", deny)
			} else {
				e.call("DELETE", nsg+"/securityRules/deny-batch", nil)
			}
		}
	}()
	errs := make(chan string, 100)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				r := e.call("POST", nw+"/ipFlowVerify", batch)
				var v struct{ Access, RuleName string }
				if r.status != 200 || json.Unmarshal(r.body, &v) != nil ||
					!(v.Access == "Allow" && v.RuleName == "securityRules/allow-batch" || v.Access == "Deny" && v.RuleName == "securityRules/deny-batch") {
					errs <- fmt.Sprintf("%d %s", r.status, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Error("inconsistent answer:", s)
	}
}

// TestConcurrentWriters: writers racing on the subnets of one network and
// on separate NSGs all succeed, and nothing is lost.
func TestConcurrentWriters(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	var wg sync.WaitGroup
	fail := make(chan string, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.call("PUT", fmt.Sprintf("%s/subnets/s%d", vnet, i), fmt.Sprintf(`{"properties": {"addressPrefix": "10.0.%d.0/24"}}`, 100+i))
			if r.status != 201 {
				fail <- string(r.body)
			}
			r = e.call("PUT", fmt.Sprintf("%s/networkSecurityGroups/n%d", net, i), nsgBody)
			if r.status != 201 {
				fail <- string(r.body)
			}
		}()
	}
	wg.Wait()
	close(fail)
	for f := range fail {
		t.Error(f)
	}
	subnets := e.must(200, "GET", vnet+"/subnets", nil).json(t)["value"].([]any)
	if len(subnets) != 17 {
		t.Errorf("%d subnets, want 17", len(subnets))
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	e.must(201, "PUT", vnet+"/providers/Microsoft.Authorization/locks/keep", `{"properties": {"level": "CanNotDelete"}}`)
	before := e.must(200, "GET", vnet, nil).body
	e.restart()
	after := e.must(200, "GET", vnet, nil).body
	if string(before) != string(after) {
		t.Errorf("VNet changed across a restart:\n%s\n%s", before, after)
	}
	e.wantError(409, "ScopeLocked", "DELETE", vnet, nil)
	r := e.must(200, "POST", nw+"/ipFlowVerify", verifyBody("Inbound", "10.0.0.4", "198.18.3.9", 29876, 443)).json(t)
	if r["access"] != "Allow" {
		t.Errorf("after restart: %v", r)
	}
}
