package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/storageauth"
)

// TestReview5TunnelClaimsPlatformAddress: the CONNECT tunnel lets a
// client claim its address. Since 0f6a8d3 the service tags' ranges and
// the deployment's public IPs are refused, but not the host VIP
// 168.63.129.16, which is in no tag of the registry (AzureLoadBalancer is
// computed): flow.deliver treats that source as the platform and hands
// it a NIC by its private address, and NSGs' default
// AllowAzureLoadBalancerInBound admits it on every port — an Internet
// user reaches any node port behind an NSG that denies the Internet.
func TestReview5TunnelClaimsPlatformAddress(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, port := range []uint16{22, 29876} {
		ln, err := e.fab.Listen(ctx, fabric.Endpoint{NIC: nic, Addr: netip.MustParseAddr("10.0.0.4")}, port)
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
	}
	bearer := "Bearer " + e.admin
	// Sanity: from the default Internet address the node is unreachable.
	if got := e.connect(t, "10.0.0.4:22", "Proxy-Authorization", bearer); strings.HasPrefix(got, "200") {
		t.Fatalf("from the Internet: %s", got)
	}
	for _, c := range []struct{ from, target string }{
		{"168.63.129.16", "10.0.0.4:22"},  // the host VIP: AllowAzureLoadBalancerInBound, any port
		{"198.18.3.10", "10.0.0.4:29876"}, // BatchNodeManagement.EastUS: allow-batch
	} {
		if got := e.connect(t, c.target, "Proxy-Authorization", bearer, "X-Vnetml-Client-Address", c.from); strings.HasPrefix(got, "200") {
			t.Errorf("an outside client claiming %s reached %s through the tunnel: %s", c.from, c.target, got)
		}
	}
}

// TestReview5FirewallChangeEscapesWithNSGChange: the firewall decides per
// request, except that when the network would now refuse the connection
// (an NSG changed), dataplane.firewall falls back to the verdict of when
// the connection was opened — which may be an Allow. Tightening the
// firewall and an NSG together (a lockdown) leaves every open keep-alive
// connection with full access.
func TestReview5FirewallChangeEscapesWithNSGChange(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	ctx := context.Background()
	c := e.apiClient()
	s, err := c.Storage(ctx, e.fromEndpoint(fabric.Endpoint{NIC: nic}), account, client.StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateContainer(ctx, "data"); err != nil {
		t.Fatalf("node0 with the VNet rule: %v", err)
	}
	// Lock down: the subnet leaves the VNet rules, and an NSG refuses
	// storage from the subnet.
	e.must(200, "PATCH", account, `{"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": []}}}`)
	e.must(201, "PUT", nsg+"/securityRules/deny-storage-out", `{"properties": {"priority": 100, "direction": "Outbound", "access": "Deny", "protocol": "Tcp",
		"sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "Storage", "destinationPortRange": "443"}}`)
	err = s.Upload(ctx, "data", "after-lockdown.txt", strings.NewReader("x"), 1, nil)
	wantCode(t, "node0's open connection after the firewall dropped its subnet", err, "AuthorizationFailure")
}

// TestReview5WorkspaceLinkLeaksKeyOfAccountOutsideScope: a Contributor of
// one resource group may not listKeys on a storage account in another
// group (and since 0f6a8d3 may not register a datastore on it), but a
// workspace that links that account by id (properties.storageAccount) is
// accepted — linkOrCreate checks only subscription and region — and the
// server puts the account's key into the workspace's new key vault, whose
// access policy names the caller. Linking another group's key vault
// likewise makes the server write secrets into a vault the caller may not
// touch.
func TestReview5WorkspaceLinkLeaksKeyOfAccountOutsideScope(t *testing.T) {
	e := newDataEnv(t)
	ctx := context.Background()
	other := sub + "/resourceGroups/victims"
	victim := other + "/providers/Microsoft.Storage/storageAccounts/victimstore"
	victimVault := other + "/providers/Microsoft.KeyVault/vaults/victimvault"
	e.must(201, "PUT", rg, groupBody)
	e.must(201, "PUT", other, groupBody)
	e.must(201, "PUT", victim, `{"location": "eastus"}`)
	e.must(201, "PUT", victimVault, `{"location": "eastus", "properties": {"tenantId": "00000000-0000-0000-0000-000000000000"}}`)
	var keys struct {
		Keys []struct{ KeyName, Value string }
	}
	if err := json.Unmarshal(e.must(200, "POST", victim+"/listKeys", nil).body, &keys); err != nil || len(keys.Keys) == 0 {
		t.Fatalf("listKeys: %v", err)
	}

	contrib := e.token("contrib", "Contributor", rg)
	if r := e.callAs(contrib, "POST", victim+"/listKeys", nil); r.status != 403 {
		t.Fatalf("the group's Contributor lists the other group's keys: %d", r.status)
	}
	if r := e.callAs(contrib, "PUT", rg+"/providers/Microsoft.MachineLearningServices/workspaces/intruder",
		`{"location": "eastus", "properties": {"keyVault": "`+victimVault+`"}}`); r.status < 300 {
		t.Errorf("a Contributor of %s linked key vault %s outside its scope (the server writes secrets into it): %d", rg, victimVault, r.status)
	}
	ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/thief"
	r := e.callAs(contrib, "PUT", ws, `{"location": "eastus", "properties": {"storageAccount": "`+victim+`"}}`)
	if r.status >= 300 {
		return // refused: fixed
	}
	kv := r.json(t)["properties"].(map[string]any)["keyVault"].(string)
	c, err := client.New(e.http.URL, contrib, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hc, err := c.DataPlane(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Vault(hc, kv[strings.LastIndexByte(kv, '/')+1:]).Get(ctx, "storage-victimstore-key")
	if err == nil && got.Value == keys.Keys[0].Value {
		t.Errorf("a Contributor of %s read the key of %s (outside its scope) from its workspace's vault after PUT workspace answered %d", rg, victim, r.status)
	} else {
		t.Errorf("PUT workspace linking an account outside the caller's scope answered %d (vault read: %v)", r.status, err)
	}
}

// TestReview5SASSourceIPIsNotWhatTheFirewallSaw: a VM with a public IP
// calling a storage account in another region leaves through its public
// IP — the firewall's ipRules judge that address — but the SAS check
// takes sip from the connection's Seen.Src, which for a service
// destination is still the private address. A SAS restricted to the VM's
// public IP is refused for the very caller the firewall admitted.
func TestReview5SASSourceIPIsNotWhatTheFirewallSaw(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	ctx := context.Background()
	pip := e.must(201, "PUT", net+"/publicIPAddresses/pip2", `{"location": "eastus", "sku": {"name": "Standard"}}`).json(t)
	pub := pip["properties"].(map[string]any)["ipAddress"].(string)
	node2 := net + "/networkInterfaces/node2"
	e.must(201, "PUT", node2, `{"location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
		"privateIPAddress": "10.0.1.5", "subnet": {"id": "`+vnet+`/subnets/other"}, "publicIPAddress": {"id": "`+net+`/publicIPAddresses/pip2"}}}]}}`)
	far := rg + "/providers/Microsoft.Storage/storageAccounts/farstore"
	e.must(201, "PUT", far, `{"location": "westus2", "properties": {"networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "`+pub+`"}]}}}`)
	hc := e.fromEndpoint(fabric.Endpoint{NIC: node2})
	s, err := e.apiClient().Storage(ctx, hc, far, client.StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateContainer(ctx, "data"); err != nil {
		t.Fatalf("node2 through its public IP %s, in farstore's ipRules: %v", pub, err)
	}
	var keys struct{ Keys []struct{ Value string } }
	if err := json.Unmarshal(e.must(200, "POST", far+"/listKeys", nil).body, &keys); err != nil {
		t.Fatal(err)
	}
	key, _ := base64Decode(keys.Keys[0].Value)
	ipr, _ := storageauth.ParseIPRange(pub)
	q, err := storageauth.SignServiceSAS("farstore", key, storageauth.ServiceSASParams{Container: "data",
		Permissions: storageauth.PermList, Expiry: time.Now().Add(time.Hour), IPRange: ipr})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get("https://farstore.blob.core.windows.net/data?restype=container&comp=list&" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a SAS with sip=%s from the VM whose public IP it is: %d %s", pub, resp.StatusCode, resp.Header.Get("x-ms-error-code"))
	}
}

// TestReview5FirewallBeforeParsing: Azure's firewall answers a refused
// caller before anything else; the blob front end parses the request
// first (blobstore.handler calls authorize only when parse succeeded), so
// a caller the firewall refuses gets 400 InvalidResourceName — and no
// firewall record in the flow log — for a malformed request.
func TestReview5FirewallBeforeParsing(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	hc := e.fromEndpoint(fabric.Endpoint{NIC: node1}) // no service endpoint: refused
	req, _ := http.NewRequest("PUT", "https://mlstore.blob.core.windows.net/Bad_Container?restype=container", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("x-ms-error-code") != "AuthorizationFailure" {
		t.Errorf("a request the firewall refuses: %d %s, want 403 AuthorizationFailure", resp.StatusCode, resp.Header.Get("x-ms-error-code"))
	}
}
