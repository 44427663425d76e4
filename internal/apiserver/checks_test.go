package apiserver_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
)

// TestValidationReportsEverything: a bad NSG gets every error at once,
// each with its target rooted at the request body.
func TestValidationReportsEverything(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", rg, groupBody)
	er := e.wantError(400, "InvalidRequestContent", "PUT", nsg, `{"location": "eastus", "properties": {"securityRules": [
		{"name": "a", "properties": {"priority": 99, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
		 "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "80"}},
		{"name": "b", "properties": {"priority": 200, "direction": "Sideways", "access": "Allow", "protocol": "Tcp",
		 "sourceAddressPrefix": "NoSuchTag", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "99999"}}]}}`)
	if len(er.Details) < 4 {
		t.Fatalf("want every error (priority, direction, tag, port), got %v", er)
	}
	for _, d := range er.Details {
		if !strings.HasPrefix(d.Target, "properties.securityRules[") {
			t.Errorf("target %q is not rooted at the body", d.Target)
		}
	}
	e.must(404, "GET", nsg, nil) // nothing was written
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", rg, groupBody)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code, target       string
	}{
		{"unknown field", "PUT", nsg, `{"location": "eastus", "properties": {"securityRules": [{"name": "a", "properties": {"prioirty": 100}}]}}`,
			400, "InvalidRequestContent", "properties.securityRules[0].properties.prioirty"},
		{"wrong type", "PUT", nsg, `{"location": "eastus", "properties": {"securityRules": "all"}}`,
			400, "InvalidRequestContent", "properties.securityRules"},
		{"not JSON", "PUT", nsg, `{"location": `, 400, "InvalidRequestContent", ""},
		{"not an object", "PUT", nsg, `[1, 2]`, 400, "InvalidRequestContent", ""},
		{"trailing data", "PUT", rg, `{"location": "eastus"} {}`, 400, "InvalidRequestContent", ""},
		{"empty body", "PUT", nsg, ``, 400, "InvalidRequestContent", ""},
		{"no location", "PUT", nsg, `{"properties": {"securityRules": []}}`, 400, "LocationRequired", "location"},
		{"name mismatch", "PUT", nsg, `{"name": "other", "location": "eastus", "properties": {"securityRules": []}}`, 400, "InvalidResourceName", "name"},
		{"oversized", "PUT", nsg, `{"location": "eastus", "tags": {"x": "` + strings.Repeat("a", 5<<20) + `"}}`, 413, "RequestEntityTooLarge", ""},
		{"bad id", "GET", sub + "/resourceGroups/mygroup/providers/Microsoft.Network", nil, 400, "InvalidResourceId", ""},
		{"unknown type", "GET", rg + "/providers/Microsoft.Compute/virtualMachines/vm", nil, 400, "InvalidResourceType", ""},
		{"method", "POST", nsg, `{}`, 405, "MethodNotAllowed", ""},
		{"unknown action", "POST", nw + "/teleport", `{}`, 400, "OperationNotSupported", ""},
		{"missing group", "PUT", sub + "/resourceGroups/nope/providers/Microsoft.Network/networkSecurityGroups/x",
			`{"location": "eastus", "properties": {"securityRules": []}}`, 404, "ResourceGroupNotFound", ""},
		{"missing subscription", "PUT", "/subscriptions/nope/resourceGroups/g", groupBody, 404, "SubscriptionNotFound", ""},
		{"missing parent", "PUT", net + "/virtualNetworks/none/subnets/s", `{"properties": {"addressPrefix": "10.0.0.0/24"}}`, 404, "ParentResourceNotFound", ""},
		{"bad group name", "PUT", sub + "/resourceGroups/bad.", groupBody, 400, "InvalidResourceGroup", "name"},
		{"escaped slash", "GET", rg + "/providers/Microsoft.Network/virtualNetworks/a%2Fb", nil, 400, "InvalidResourceId", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			er := e.wantError(tc.status, tc.code, tc.method, tc.path, tc.body)
			if tc.target != "" && er.Target != tc.target && !slices.ContainsFunc(er.Details, func(d *armerror.Error) bool { return d.Target == tc.target }) {
				t.Errorf("target %q, want %q: %v", er.Target, tc.target, er)
			}
			if tc.name == "unknown field" && !strings.Contains(er.Error(), `did you mean "priority"`) {
				t.Errorf("no suggestion: %v", er)
			}
		})
	}
	// None of it was written.
	e.must(404, "GET", nsg, nil)
}

func TestEtags(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", rg, groupBody)
	first := e.must(201, "PUT", nsg, nsgBody).json(t)["etag"].(string)
	e.wantError(409, "Conflict", "PUT", nsg, nsgBody, "If-None-Match", "*")
	if same := e.must(200, "PUT", nsg, nsgBody, "If-Match", first).json(t)["etag"]; same != first {
		t.Fatalf("a PUT that changes nothing changed the etag %s to %s", first, same)
	}
	changed := strings.Replace(nsgBody, `"location": "eastus"`, `"location": "eastus", "tags": {"v": "2"}`, 1)
	second := e.must(200, "PUT", nsg, changed, "If-Match", first).json(t)["etag"].(string)
	if second == first {
		t.Fatal("etag did not change on write")
	}
	e.wantError(412, "PreconditionFailed", "PUT", nsg, nsgBody, "If-Match", first)
	e.wantError(412, "PreconditionFailed", "DELETE", nsg, nil, "If-Match", first)
	e.wantError(412, "PreconditionFailed", "PUT", nsg+"/securityRules/allow-batch",
		`{"properties": {"priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}`,
		"If-Match", first)
	e.must(200, "DELETE", nsg, nil, "If-Match", second)
}

func TestPatch(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	r := e.must(200, "PATCH", vnet, `{"tags": {"team": "ml"}}`).json(t)
	if r["tags"].(map[string]any)["team"] != "ml" || len(r["properties"].(map[string]any)["subnets"].([]any)) != 1 {
		t.Errorf("PATCH lost or missed something: %v", r)
	}
	e.wantError(404, "ResourceNotFound", "PATCH", net+"/virtualNetworks/none", `{"tags": {}}`)
	e.must(200, "PATCH", rg, `{"tags": {"env": "test"}}`)
	e.wantError(400, "InvalidResourceGroupLocation", "PUT", rg, `{"location": "westus2"}`)
	e.wantError(400, "InvalidResourceLocation", "PUT", nsg, strings.Replace(nsgBody, "eastus", "westus2", 1))
}

func TestReferentialIntegrity(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	e.wantError(400, "InUseSubnetCannotBeDeleted", "DELETE", vnet+"/subnets/default", nil)
	e.wantError(400, "InUseSubnetCannotBeDeleted", "DELETE", vnet, nil)
	e.wantError(400, "InUseSubnetCannotBeDeleted", "PUT", vnet, `{"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}`)
	e.wantError(400, "InUseNetworkSecurityGroupCannotBeDeleted", "DELETE", nsg, nil)
	er := e.wantError(400, "InvalidResourceReference", "PUT", net+"/networkInterfaces/orphan",
		strings.Replace(nicBody, "subnets/default", "subnets/missing", 1))
	if !strings.Contains(er.Target, "subnet") {
		t.Errorf("target %q does not name the subnet reference", er.Target)
	}
	// Moving the subnet so that the NIC's address falls outside is refused
	// against the NIC.
	e.wantError(400, "PrivateIPAddressNotInSubnet", "PUT", vnet+"/subnets/default", `{"properties": {"addressPrefix": "10.0.5.0/24"}}`)
	e.wantError(400, "PrivateIPAddressInUse", "PUT", net+"/networkInterfaces/twin", nicBody)
	// Delete in order and everything goes.
	e.must(200, "DELETE", nic, nil)
	e.must(200, "DELETE", vnet, nil)
	e.must(200, "DELETE", nsg, nil)
	e.must(200, "DELETE", rg, nil)
	e.must(404, "GET", rg, nil)
}

func TestGroupDeleteCascades(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	e.must(200, "DELETE", rg, nil)
	for _, p := range []string{nsg, vnet, nic} {
		e.must(404, "GET", p, nil)
	}
	// A NIC in another group keeps a subnet's group alive.
	e.secureNetwork()
	e.must(201, "PUT", sub+"/resourceGroups/other", groupBody)
	e.must(201, "PUT", sub+"/resourceGroups/other/providers/Microsoft.Network/networkInterfaces/x",
		strings.Replace(nicBody, "10.0.0.4", "10.0.0.9", 1))
	e.wantError(400, "InUseSubnetCannotBeDeleted", "DELETE", rg, nil)
}

func TestLocks(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	lock := vnet + "/providers/Microsoft.Authorization/locks/keep"
	e.must(201, "PUT", lock, `{"properties": {"level": "CanNotDelete", "notes": "the cluster lives here"}}`)
	er := e.wantError(409, "ScopeLocked", "DELETE", vnet, nil)
	if !strings.Contains(er.Message, "locks/keep") {
		t.Errorf("message does not name the lock: %s", er.Message)
	}
	e.wantError(409, "ScopeLocked", "DELETE", vnet+"/subnets/default", nil)
	e.wantError(409, "ScopeLocked", "DELETE", rg, nil) // a lock inside the group
	e.must(201, "PUT", vnet+"/subnets/more", `{"properties": {"addressPrefix": "10.0.9.0/24"}}`)

	rgLock := rg + "/providers/Microsoft.Authorization/locks/frozen"
	e.must(201, "PUT", rgLock, `{"properties": {"level": "ReadOnly"}}`)
	e.wantError(409, "ScopeLocked", "PUT", nsg, nsgBody)
	e.wantError(409, "ScopeLocked", "PUT", net+"/routeTables/rt", `{"location": "eastus", "properties": {"routes": []}}`)
	e.must(200, "GET", nsg, nil)
	locks := e.must(200, "GET", rg+"/providers/Microsoft.Authorization/locks", nil).json(t)["value"].([]any)
	if len(locks) != 2 {
		t.Errorf("locks in the group: %d, want 2", len(locks))
	}
	e.wantError(400, "LockLevelInvalid", "PUT", rgLock, `{"properties": {"level": "Frozen"}}`)
	e.must(200, "DELETE", rgLock, nil)
	e.must(200, "PUT", nsg, nsgBody)
	e.must(200, "DELETE", lock, nil)
	e.must(200, "DELETE", vnet+"/subnets/more", nil)
}

func TestQuotas(t *testing.T) {
	e := newEnv(t)
	e.must(201, "PUT", rg, groupBody)
	e.must(200, "PATCH", sub, `{"quotas": {"NetworkSecurityGroups": 1, "SecurityRulesPerNetworkSecurityGroup": 2}}`)
	e.must(201, "PUT", nsg, nsgBody)
	er := e.wantError(400, "QuotaExceeded", "PUT", net+"/networkSecurityGroups/second", nsgBody)
	for _, want := range []string{"NetworkSecurityGroups", "Limit: 1", "current usage: 1", "quotas"} {
		if !strings.Contains(er.Message, want) {
			t.Errorf("message lacks %q: %s", want, er.Message)
		}
	}
	// Another region has its own count.
	e.must(201, "PUT", net+"/networkSecurityGroups/west", strings.Replace(nsgBody, "eastus", "westus2", 1))
	e.wantError(400, "QuotaExceeded", "PUT", nsg+"/securityRules/third",
		`{"properties": {"priority": 300, "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}`)
	u := e.must(200, "GET", sub+"/providers/Microsoft.Network/locations/eastus/usages", nil).json(t)["value"].([]any)
	found := false
	for _, x := range u {
		m := x.(map[string]any)
		if m["name"].(map[string]any)["value"] == "NetworkSecurityGroups" {
			found = m["currentValue"].(float64) == 1 && m["limit"].(float64) == 1
		}
	}
	if !found {
		t.Errorf("usages = %v", u)
	}
	e.wantError(400, "InvalidParameter", "PATCH", sub, `{"quotas": {"Bananas": 3}}`)
}
