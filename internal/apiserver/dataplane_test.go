package apiserver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	stdnet "net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/fabric"
)

const (
	account = rg + "/providers/Microsoft.Storage/storageAccounts/mlstore"
	vault   = rg + "/providers/Microsoft.KeyVault/vaults/mlvault"
	node1   = net + "/networkInterfaces/node1"
)

// firewalledNetwork is the 2019 article's setup: subnet default with the
// Microsoft.Storage and Microsoft.KeyVault service endpoints, node0 in it;
// subnet other without them, node1 in it; a storage account and a key
// vault that deny by default and admit subnet default (and, for storage,
// the Internet range 203.0.113.0/24) and trusted services.
func (e *env) firewalledNetwork() {
	e.t.Helper()
	e.must(201, "PUT", rg, groupBody)
	e.must(201, "PUT", nsg, nsgBody)
	e.must(201, "PUT", vnet, `{"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [
		{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": "`+nsg+`"},
		 "serviceEndpoints": [{"service": "Microsoft.Storage"}, {"service": "Microsoft.KeyVault"}]}},
		{"name": "other", "properties": {"addressPrefix": "10.0.1.0/24"}}]}}`)
	e.must(201, "PUT", nic, nicBody)
	e.must(201, "PUT", node1, `{"location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
		"privateIPAddress": "10.0.1.4", "subnet": {"id": "`+vnet+`/subnets/other"}}}]}}`)
	e.must(201, "PUT", account, `{"location": "eastus", "properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices",
		"virtualNetworkRules": [{"id": "`+vnet+`/subnets/default"}], "ipRules": [{"value": "203.0.113.0/24"}]}}}`)
	e.must(201, "PUT", vault, `{"location": "eastus", "properties": {"tenantId": "00000000-0000-0000-0000-000000000000",
		"sku": {"family": "A", "name": "standard"}, "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices",
		"virtualNetworkRules": [{"id": "`+vnet+`/subnets/default"}]}}}`)
}

// fromEndpoint is an HTTP client whose connections the fabric dials from
// src (a node's NIC, a platform service), trusting the deployment CA.
func (e *env) fromEndpoint(src fabric.Endpoint) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (stdnet.Conn, error) {
			host, port, err := stdnet.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			a, ok := e.fab.Resolve(host)
			if !ok {
				return nil, errors.New(host + " does not resolve")
			}
			p, _ := strconv.Atoi(port)
			return e.fab.Dial(ctx, src, netip.AddrPortFrom(a, uint16(p)))
		},
		TLSClientConfig: &tls.Config{RootCAs: e.data.ca.Pool()},
	}}
}

func (e *env) apiClient() *client.Client {
	c, err := client.New(e.http.URL, e.admin, client.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// wantCode checks err is an *armerror.Error with code, whose message
// holds every one of parts.
func wantCode(t *testing.T, what string, err error, code string, parts ...string) {
	t.Helper()
	e, ok := armerror.As(err)
	if !ok || e.Code != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("%s: message %q does not name %q", what, e.Message, p)
		}
	}
}

// TestStorageFirewallPerRequest is the firewall matrix of spec §5 through
// the real data plane: a node with the service endpoint and a VNet rule,
// a node without, outside clients in and out of the ipRules, a trusted
// service; a firewall change applies to the next request on the same
// connection; an NSG refusal stays a refused connection.
func TestStorageFirewallPerRequest(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	ctx := context.Background()
	c := e.apiClient()
	storage := func(hc *http.Client) *client.Storage {
		t.Helper()
		s, err := c.Storage(ctx, hc, account, client.StorageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	put := func(s *client.Storage, name string) error {
		return s.Upload(ctx, "data", name, strings.NewReader("hello"), 5, nil)
	}

	node0 := storage(e.fromEndpoint(fabric.Endpoint{NIC: nic}))
	if err := node0.CreateContainer(ctx, "data"); err != nil {
		t.Fatalf("node0 (service endpoint, VNet rule): %v", err)
	}
	if err := put(node0, "a.txt"); err != nil {
		t.Fatalf("node0 upload: %v", err)
	}

	node1 := storage(e.fromEndpoint(fabric.Endpoint{NIC: node1}))
	wantCode(t, "node1 (no service endpoint)", put(node1, "b.txt"), "AuthorizationFailure",
		"10.0.1.4", "subnet other", "mlstore", "defaultAction Deny", "enable the Microsoft.Storage service endpoint on subnet other")

	inside, err := c.DataPlane(ctx, "203.0.113.10")
	if err != nil {
		t.Fatal(err)
	}
	if err := put(storage(inside), "c.txt"); err != nil {
		t.Fatalf("an Internet client in the ipRules: %v", err)
	}
	outside, err := c.DataPlane(ctx, "198.51.100.77")
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "an Internet client outside the ipRules", put(storage(outside), "d.txt"), "AuthorizationFailure",
		"198.51.100.77", "outside the virtual network", "add 198.51.100.77 to mlstore's ipRules")

	trusted := storage(e.fromEndpoint(fabric.Endpoint{Addr: netip.MustParseAddr("198.18.2.10"), Trusted: true}))
	if err := put(trusted, "e.txt"); err != nil {
		t.Fatalf("a trusted service (bypass AzureServices): %v", err)
	}

	// The refusal is in the flow log, at the firewall stage.
	recs, _, _, _ := e.fab.Log().Query(fabric.Filter{Decision: "D"}.Matches, 0, 0)
	found := false
	for _, r := range recs {
		found = found || r.Stage == "firewall" && strings.Contains(r.Reason, "defaultAction Deny") && r.SrcNIC != ""
	}
	if !found {
		t.Errorf("no firewall refusal of node1 in the flow log: %+v", recs)
	}

	// Opening the firewall applies to node1's next request, on the
	// connection it already has.
	e.must(200, "PATCH", account, `{"properties": {"networkAcls": {"defaultAction": "Allow"}}}`)
	if err := put(node1, "b.txt"); err != nil {
		t.Fatalf("node1 after defaultAction Allow: %v", err)
	}
	names, err := node0.List(ctx, "data", "")
	if err != nil || len(names) != 4 {
		t.Fatalf("list: %v, %v; want a, b, c, e", names, err)
	}

	// An NSG that refuses the flow refuses the connection: no 403, a dial
	// error naming the rule.
	e.must(201, "PUT", nsg+"/securityRules/deny-storage-out", `{"properties": {"priority": 100, "direction": "Outbound", "access": "Deny", "protocol": "Tcp",
		"sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "Storage", "destinationPortRange": "443"}}`)
	fresh := storage(e.fromEndpoint(fabric.Endpoint{NIC: nic}))
	err = put(fresh, "f.txt")
	if err == nil || !strings.Contains(err.Error(), "deny-storage-out") {
		t.Fatalf("node0 behind an NSG deny: %v, want a refused connection naming the rule", err)
	}
}

// TestStorageAuthentication: a request needs an account key, a SAS or a
// vnetml token, and a wrong signature is refused.
func TestStorageAuthentication(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	ctx := context.Background()
	hc := e.fromEndpoint(fabric.Endpoint{NIC: nic})
	resp, err := hc.Get("https://mlstore.blob.core.windows.net/?comp=list")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(b, []byte("NoAuthenticationInformation")) {
		t.Fatalf("anonymous: %d %s", resp.StatusCode, b)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://mlstore.blob.core.windows.net/?comp=list", nil)
	req.Header.Set("x-ms-date", "Fri, 27 Nov 2026 10:00:00 GMT")
	req.Header.Set("Authorization", "SharedKey mlstore:"+strings.Repeat("A", 43)+"=")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("x-ms-error-code") != "AuthenticationFailed" {
		t.Fatalf("a wrong signature: %d %s", resp.StatusCode, resp.Header.Get("x-ms-error-code"))
	}
	// The bearer token of the admin (Owner) may.
	s, err := e.apiClient().Storage(ctx, hc, account, client.StorageOptions{AuthMode: "login"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateContainer(ctx, "tok"); err != nil {
		t.Fatalf("bearer token: %v", err)
	}
}

// TestKeyVaultFirewallAndWorkspaceSecrets: a workspace creates its
// storage account, key vault and registry and puts their credentials in
// the vault; the vault's firewall refuses a node without the service
// endpoint with ForbiddenByFirewall; no key is in a GET or on disk.
func TestKeyVaultFirewallAndWorkspaceSecrets(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	ctx := context.Background()
	ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/myws"
	w := e.must(201, "PUT", ws, `{"location": "eastus", "properties": {"storageAccount": "`+account+`", "keyVault": "`+vault+`"}}`).json(t)
	props := w["properties"].(map[string]any)
	if !strings.EqualFold(props["storageAccount"].(string), account) || !strings.Contains(props["containerRegistry"].(string), "registries/myws") {
		t.Fatalf("workspace: %v", props)
	}
	ds := e.must(200, "GET", ws+"/datastores", nil).json(t)["value"].([]any)
	if len(ds) != 2 {
		t.Fatalf("datastores: %v", ds)
	}
	var keys struct {
		Keys []struct{ KeyName, Value string }
	}
	if err := json.Unmarshal(e.must(200, "POST", account+"/listKeys", nil).body, &keys); err != nil || len(keys.Keys) != 2 {
		t.Fatalf("listKeys: %v %v", keys, err)
	}
	key1 := keys.Keys[0].Value

	c := e.apiClient()
	v0 := c.Vault(e.fromEndpoint(fabric.Endpoint{NIC: nic}), "mlvault")
	got, err := v0.Get(ctx, "storage-mlstore-key")
	if err != nil || got.Value != key1 {
		t.Fatalf("the workspace's vault holds the account key: %v (equal: %v)", err, got.Value == key1)
	}
	if _, err := v0.Set(ctx, "mine", "s3cret"); err != nil {
		t.Fatalf("node0 sets a secret: %v", err)
	}
	v1 := c.Vault(e.fromEndpoint(fabric.Endpoint{NIC: node1}), "mlvault")
	_, err = v1.Get(ctx, "mine")
	wantCode(t, "node1 reads the vault", err, "Forbidden", "Client address is not authorized", "10.0.1.4", "mlvault", "Microsoft.KeyVault service endpoint on subnet other")
	if ae, _ := armerror.As(err); len(ae.Details) != 1 || ae.Details[0].Code != "ForbiddenByFirewall" {
		t.Errorf("inner error: %+v, want ForbiddenByFirewall", ae.Details)
	}

	// No key in a GET of the account or the workspace, none on disk.
	for _, id := range []string{account, ws, ws + "/datastores/workspaceblobstore"} {
		if b := e.must(200, "GET", id, nil).body; bytes.Contains(b, []byte(key1)) {
			t.Errorf("GET %s shows the account key", id)
		}
	}
	raw, _ := base64Decode(key1)
	filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(key1)) || bytes.Contains(b, raw) || bytes.Contains(b, []byte("s3cret")) {
			t.Errorf("%s holds a credential in plaintext", p)
		}
		return nil
	})
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// TestRecreatedResourcesStartEmpty: a storage account or key vault
// deleted and created again under its name holds none of its
// predecessor's blobs or secrets.
func TestRecreatedResourcesStartEmpty(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	ctx := context.Background()
	c := e.apiClient()
	hc := e.fromEndpoint(fabric.Endpoint{NIC: nic})
	s, err := c.Storage(ctx, hc, account, client.StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateContainer(ctx, "data"); err != nil {
		t.Fatal(err)
	}
	if err := s.Upload(ctx, "data", "old.txt", strings.NewReader("old"), 3, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Vault(hc, "mlvault").Set(ctx, "old", "value"); err != nil {
		t.Fatal(err)
	}
	e.must(200, "DELETE", account, nil)
	e.must(200, "DELETE", vault, nil)
	e.must(201, "PUT", account, `{"location": "eastus"}`)
	e.must(201, "PUT", vault, `{"location": "eastus", "properties": {"tenantId": "00000000-0000-0000-0000-000000000000"}}`)
	s, err = c.Storage(ctx, hc, account, client.StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, "data", ""); err == nil {
		t.Fatal("the recreated account still has the old container")
	}
	if list, err := c.Vault(hc, "mlvault").List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("the recreated vault lists %v, %v; want nothing", list, err)
	}
}

// TestDataPlaneSurvivesRestart: after a restart the front ends answer
// again at the same addresses, with the same keys and the same data.
func TestDataPlaneSurvivesRestart(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	ctx := context.Background()
	up, err := e.apiClient().Storage(ctx, e.fromEndpoint(fabric.Endpoint{NIC: nic}), account, client.StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := up.CreateContainer(ctx, "data"); err != nil {
		t.Fatal(err)
	}
	if err := up.Upload(ctx, "data", "kept.txt", strings.NewReader("kept"), 4, nil); err != nil {
		t.Fatal(err)
	}
	before := e.must(200, "POST", account+"/listKeys", nil).body
	e.restart()
	if after := e.must(200, "POST", account+"/listKeys", nil).body; !bytes.Equal(before, after) {
		t.Fatal("the account keys changed across a restart")
	}
	down, err := e.apiClient().Storage(ctx, e.fromEndpoint(fabric.Endpoint{NIC: nic}), account, client.StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := down.Download(ctx, "data", "kept.txt", 0, "", &got, nil); err != nil || got.String() != "kept" {
		t.Fatalf("after a restart: %q, %v", got.String(), err)
	}
}
