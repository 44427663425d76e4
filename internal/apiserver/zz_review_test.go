package apiserver_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// F1: a Reader scoped to one group queries NICs of another group (and another subscription)
// through a watcher it can reach; a Reader scoped to the NIC's own group cannot query at all.
func TestZZWatcherAuth(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	wrg := sub + "/resourceGroups/NetworkWatcherRG"
	nwReader := e.token("nwreader", "Reader", wrg)
	body := `{"targetResourceId": "` + nic + `", "direction": "Inbound", "protocol": "TCP", "localIPAddress": "10.0.0.4", "localPort": "29876", "remoteIPAddress": "198.18.3.9", "remotePort": "443"}`
	r := e.callAs(nwReader, "POST", nw+"/ipFlowVerify", body)
	t.Logf("Reader on NetworkWatcherRG asks about mygroup's NIC: %d %s", r.status, r.body)
	r = e.callAs(nwReader, "GET", nic, nil)
	t.Logf("same token GET of that NIC: %d", r.status)
	rgReader := e.token("rgreader", "Reader", rg)
	r = e.callAs(rgReader, "POST", nw+"/ipFlowVerify", body)
	t.Logf("Reader on mygroup asks about its own NIC: %d %s", r.status, r.body)
}

// F2: locks on a child resource are bypassed by writing the parent.
func TestZZChildLockBypass(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", rg, groupBody)
	e.must(201, "PUT", nsg, nsgBody)
	e.must(201, "PUT", vnet, vnetBody)
	lock := vnet + "/subnets/default/providers/Microsoft.Authorization/locks/keep"
	e.must(201, "PUT", lock, `{"properties": {"level": "CanNotDelete"}}`)
	e.wantError(409, "ScopeLocked", "DELETE", vnet+"/subnets/default", nil)
	r := e.call("PUT", vnet, `{"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": []}}`)
	t.Logf("VNet PUT dropping the locked subnet: %d", r.status)
	r = e.call("GET", vnet+"/subnets/default", nil)
	t.Logf("GET subnet after: %d", r.status)
	r = e.call("GET", lock, nil)
	t.Logf("GET lock after: %d %s", r.status, r.body)
	lock2 := nsg + "/securityRules/allow-batch/providers/Microsoft.Authorization/locks/ro"
	e.must(201, "PUT", lock2, `{"properties": {"level": "ReadOnly"}}`)
	e.wantError(409, "ScopeLocked", "PUT", nsg+"/securityRules/allow-batch", `{"properties": {"priority": 300, "direction": "Inbound", "access": "Deny", "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}`)
	r = e.call("PATCH", nsg, `{"properties": {"securityRules": [{"name": "allow-batch", "properties": {"priority": 300, "direction": "Inbound", "access": "Deny", "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}]}}`)
	t.Logf("PATCH of NSG rewriting a ReadOnly-locked rule: %d", r.status)
	r = e.call("GET", nsg+"/securityRules/allow-batch", nil)
	t.Logf("rule now: %s", r.body)
}

// F3: network resources outside a resource group.
func TestZZScopeless(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{
		sub + "/providers/Microsoft.Network/networkSecurityGroups/subnsg",
		"/providers/Microsoft.Network/networkSecurityGroups/tenantnsg",
	} {
		r := e.call("PUT", p, `{"location": "eastus", "properties": {"securityRules": []}}`)
		t.Logf("PUT %s: %d %.200s", p, r.status, r.body)
	}
	r := e.call("PUT", sub+"/providers/Microsoft.Network/virtualNetworks/v", `{"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}}`)
	t.Logf("PUT sub-scope vnet: %d %.300s", r.status, r.body)
	r = e.call("PUT", "/providers/Microsoft.Network/virtualNetworks/v", `{"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}}`)
	t.Logf("PUT tenant-scope vnet: %d %.300s", r.status, r.body)
	r = e.call("DELETE", sub, nil)
	t.Logf("DELETE subscription with a subscription-scope NSG in it: %d %s", r.status, r.body)
	r = e.call("GET", sub, nil)
	t.Logf("GET subscription after: %d", r.status)
}

// F4: double slash -> ServeMux redirect, not ARM envelope.
func TestZZDoubleSlash(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", rg, groupBody)
	r := e.call("PUT", sub+"//resourceGroups/mygroup", `{"location": "eastus", "tags": {"a": "b"}}`)
	t.Logf("PUT with //: %d %q ct=%q loc=%q", r.status, r.body, r.header.Get("Content-Type"), r.header.Get("Location"))
	r = e.call("GET", rg, nil)
	t.Logf("group after: %s", r.body)
	r = e.call("DELETE", sub+"/resourceGroups/./mygroup", nil)
	t.Logf("DELETE with /./: %d", r.status)
}

func TestZZDuplicates(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	// public IP with explicit address equal to another's
	pip := net + "/publicIPAddresses/"
	r := e.must(201, "PUT", pip+"a", `{"location": "eastus", "properties": {}}`)
	t.Logf("pip a: %s", r.body)
	var addr string
	if i := strings.Index(string(r.body), `"ipAddress":"`); i >= 0 {
		addr = string(r.body)[i+13:]
		addr = addr[:strings.IndexByte(addr, '"')]
	}
	r = e.call("PUT", pip+"b", `{"location": "eastus", "properties": {"ipAddress": "`+addr+`"}}`)
	t.Logf("pip b with a's address %s: %d %s", addr, r.status, r.body)
	// NIC with the static address of node0
	r = e.call("PUT", net+"/networkInterfaces/node1", strings.ReplaceAll(nicBody, "ipconfig1", "ipconfig1"))
	t.Logf("node1 with node0's static address: %d %.300s", r.status, r.body)
}

func TestZZRedirect(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", rg, groupBody)
	c := *e.http.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("PUT", e.http.URL+sub+"//resourceGroups/mygroup?api-version=1", strings.NewReader(groupBody))
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	t.Logf("no-follow PUT //: %d loc=%q ct=%q body=%q", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Content-Type"), b)
	r := e.call("GET", "/subscriptions/x/resourceGroups", nil)
	t.Logf("apply bad id: %s", e.call("POST", "/providers/vnetml.Resources/apply", `{"resources": [{"id": "/subscriptions//x"}]}`).body)
	_ = r
}
