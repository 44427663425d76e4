package apiserver_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzAPI sends arbitrary bodies to every writable kind (and arbitrary
// paths) through the real handler: nothing may panic or answer 500, and
// every refusal is ARM's error envelope.
func FuzzAPI(f *testing.F) {
	paths := []string{rg, nsg, vnet, nic, vnet + "/subnets/s", nsg + "/securityRules/r", net + "/routeTables/rt",
		net + "/routeTables/rt/routes/r", net + "/publicIPAddresses/p", net + "/loadBalancers/lb", net + "/applicationSecurityGroups/a",
		rg + "/providers/Microsoft.Authorization/locks/l", nw, sub, nw + "/ipFlowVerify", nw + "/nextHop",
		"/providers/vnetml.Resources/apply", "/providers/vnetml.Authorization/tokens/t",
		workspace, workspace + "/datastores/d", rg + "/providers/Microsoft.ContainerRegistry/registries/reg12345",
		rg + "/providers/Microsoft.Storage/storageAccounts/fuzzstore", rg + "/providers/Microsoft.Storage/storageAccounts/fuzzstore/listKeys",
		rg + "/providers/Microsoft.Storage/storageAccounts/fuzzstore/regenerateKey", rg + "/providers/Microsoft.KeyVault/vaults/fuzzvault",
		mcID, workspace + "/computes/fuzzaks"}
	for i, b := range []string{groupBody, nsgBody, vnetBody, nicBody, `{"properties": {"addressPrefix": "10.0.0.0/24"}}`,
		`{"properties": {"priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp"}}`,
		`{"location": "eastus", "properties": {"routes": [{"name": "r", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "None"}}]}}`,
		`{"properties": {"addressPrefix": "Storage", "nextHopType": "Internet"}}`, `{"location": "eastus"}`,
		`{"location": "eastus", "properties": {"frontendIPConfigurations": [{"name": "f", "properties": {}}]}}`, `{"location": "eastus"}`,
		`{"properties": {"level": "ReadOnly"}}`, `{"location": "eastus"}`, `{"quotas": {"VirtualNetworks": 2}}`,
		verifyBody("Inbound", "10.0.0.4", "198.18.3.9", 29876, 443), `{"targetResourceId": "x", "sourceIPAddress": "10.0.0.4", "destinationIPAddress": "1.1.1.1"}`,
		`{"resources": [{"id": "` + rg + `", "location": "eastus"}]}`, `{"properties": {"role": "Reader", "scope": "/"}}`} {
		f.Add(uint8(i), uint8(1), []byte(b))
	}
	f.Add(uint8(0), uint8(0), []byte(`{"location": "eastus", "tags": {"a": 1}}`))
	f.Add(uint8(2), uint8(2), []byte(`{"properties": null}`))
	f.Add(uint8(18), uint8(0), []byte(`{"location": "eastus", "properties": {"storageAccount": "x"}}`))
	f.Add(uint8(19), uint8(0), []byte(`{"properties": {"datastoreType": "AzureBlob", "accountName": "fuzzstore", "containerName": "c"}}`))
	f.Add(uint8(20), uint8(0), []byte(`{"location": "eastus", "sku": {"name": "Basic"}}`))
	f.Add(uint8(21), uint8(0), []byte(`{"location": "eastus", "properties": {"networkAcls": {"defaultAction": "Deny"}}}`))
	f.Add(uint8(23), uint8(2), []byte(`{"keyName": "key3"}`))
	f.Add(uint8(24), uint8(0), []byte(`{"location": "eastus", "properties": {"accessPolicies": [{"objectId": "", "permissions": {"secrets": ["fly"]}}]}}`))

	f.Add(uint8(25), uint8(0), []byte(mcBody(1, "Standard_D2_v2", vnet+"/subnets/default", "10.2.0.0/16", "10.2.0.10")))
	f.Add(uint8(26), uint8(0), []byte(attachBody(mcID, "DevTest")))
	f.Add(uint8(26), uint8(4), []byte(``))

	e := newDataEnv(f)
	e.secureNetwork()
	h := e.srv.Handler()
	methods := []string{http.MethodPut, http.MethodPatch, http.MethodPost, http.MethodGet, http.MethodDelete}
	f.Fuzz(func(t *testing.T, which, method uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		m := methods[int(method)%len(methods)]
		req := httptest.NewRequest(m, path+"?api-version=2023-09-01", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", m, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var env struct {
				Error *struct{ Code, Message string } `json:"error"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &env) != nil || env.Error == nil || env.Error.Code == "" || env.Error.Message == "" {
				t.Fatalf("%s %s: %d without an ARM error: %s", m, path, rec.Code, rec.Body)
			}
		}
	})
}
