package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/fabric"
)

func connectivityBody(address string, port int) string {
	return fmt.Sprintf(`{"source": {"resourceId": %q}, "destination": {"address": %q, "port": %d}, "protocol": "Tcp"}`, nic, address, port)
}

// TestConnectivityCheckAndFlowLog: the server applies every compiled
// engine to its fabric; a connectivity check sends a real connection
// through it; the flow log shows each decision.
func TestConnectivityCheckAndFlowLog(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	ln, err := e.fab.Listen(context.Background(), fabric.Endpoint{Addr: netip.MustParseAddr("198.18.1.4")}, 443)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := e.must(200, "POST", nw+"/connectivityCheck", connectivityBody("198.18.1.4", 443)).json(t)
	if r["connectionStatus"] != "Reachable" {
		t.Fatalf("to a listening storage front end: %v", r)
	}
	r = e.must(200, "POST", nw+"/connectivityCheck", connectivityBody("198.18.1.4", 8080)).json(t)
	if r["connectionStatus"] != "Unreachable" || !strings.Contains(r["explanation"].(string), "nothing listens") {
		t.Fatalf("to a port nothing listens on: %v", r)
	}
	// A rule written through the API is enforced by the data plane at once.
	e.must(201, "PUT", nsg+"/securityRules/deny-storage-out", `{"properties": {"priority": 100, "direction": "Outbound", "access": "Deny", "protocol": "Tcp",
		"sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "Storage", "destinationPortRange": "443"}}`)
	r = e.must(200, "POST", nw+"/connectivityCheck", connectivityBody("198.18.1.4", 443)).json(t)
	hops := r["hops"].([]any)
	issue := hops[len(hops)-1].(map[string]any)["issues"].([]any)[0].(map[string]any)
	if r["connectionStatus"] != "Unreachable" || issue["type"] != "NetworkSecurityRule" || issue["origin"] != "Outbound" ||
		!strings.Contains(fmt.Sprint(issue["context"]), "securityRules/deny-storage-out") {
		t.Fatalf("after the deny rule: %v", r)
	}

	var page struct {
		Value []struct {
			Decision, State, Rule, Source, Destination, FlowTuple string
		}
		Next uint64
	}
	if err := json.Unmarshal(e.must(200, "GET", "/providers/vnetml.Network/flowLogs?nic=node0", nil).body, &page); err != nil {
		t.Fatal(err)
	}
	var decisions []string
	for _, v := range page.Value {
		decisions = append(decisions, v.Decision+v.State)
	}
	if got := strings.Join(decisions, ","); got != "AB,AE,AB,AE,DB" {
		t.Errorf("flow log decisions %s, want AB,AE (the allowed check), AB,AE (nothing listening), DB (denied)", got)
	}
	deny := page.Value[len(page.Value)-1]
	if deny.Rule != "securityRules/deny-storage-out" || !strings.Contains(deny.FlowTuple, ",10.0.0.4,198.18.1.4,") {
		t.Errorf("deny record %+v", deny)
	}
	// Filters, paging and a long poll that times out empty.
	if err := json.Unmarshal(e.must(200, "GET", fmt.Sprintf("/providers/vnetml.Network/flowLogs?decision=Deny&after=%d&wait=10ms", page.Next), nil).body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Value) != 0 {
		t.Errorf("after the last record: %+v", page.Value)
	}
	e.wantError(400, "InvalidRequestContent", "GET", "/providers/vnetml.Network/flowLogs?decision=maybe&address=x", nil)
	// A reader of another group sees none of node0's flows.
	other := e.token("other", "Reader", sub+"/resourceGroups/other")
	var empty struct{ Value []any }
	json.Unmarshal(e.callAs(other, "GET", "/providers/vnetml.Network/flowLogs", nil).body, &empty)
	if len(empty.Value) != 0 {
		t.Errorf("a reader of another group saw %d records", len(empty.Value))
	}
}

// A check from a network interface that does not exist is an error, not
// an answer about connectivity.
func TestConnectivityCheckUnknownSource(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	body := strings.Replace(connectivityBody("198.18.1.4", 443), "node0", "ghost", 1)
	e.wantError(404, "ResourceNotFound", "POST", nw+"/connectivityCheck", body)
}
