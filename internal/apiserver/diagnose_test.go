package apiserver_test

import (
	"encoding/json"
	"strings"
	"testing"
)

type diagnosis struct {
	Value map[string][]struct{ Code, Level, Message string }
}

func (e *env) diagnose() diagnosis {
	e.t.Helper()
	var d diagnosis
	if err := json.Unmarshal(e.must(200, "POST", workspace+"/diagnose", `{"value": {}}`).body, &d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// has reports whether category holds a finding with code whose message
// names every part.
func (d diagnosis) has(category, code string, parts ...string) bool {
	for _, f := range d.Value[category] {
		if f.Code != code {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(f.Message, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestDiagnose: the workspace diagnostic names each broken requirement of
// a cluster with the engine the fabric enforces: a storage account and a
// key vault that do not admit the cluster's subnet, an NSG that blocks
// Batch node management, forced tunneling without the Batch routes, and a
// lock on the group where the cluster keeps its resources.
func TestDiagnose(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus", "properties": {"storageAccount": "`+account+`", "keyVault": "`+vault+`"}}`)
	e.must(201, "PUT", cluster, strings.Replace(clusterBody(1, 1), "subnets/default", "subnets/other", 1))
	e.waitStatus(cluster, "a node", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 1 })

	d := e.diagnose()
	if !d.has("storage_account_results", "StorageAccountUnreachable", "mlstore", "service endpoint on subnet other") {
		t.Errorf("storage: %+v", d.Value["storage_account_results"])
	}
	if !d.has("key_vault_results", "KeyVaultUnreachable", "mlvault") {
		t.Errorf("key vault: %+v", d.Value["key_vault_results"])
	}
	if len(d.Value["network_security_rule_results"]) != 0 {
		t.Errorf("NSG results with nothing blocking: %+v", d.Value["network_security_rule_results"])
	}

	// Admit the subnet: the storage and vault findings go.
	e.must(200, "PUT", vnet+"/subnets/other", `{"properties": {"addressPrefix": "10.0.1.0/24", "serviceEndpoints": [{"service": "Microsoft.Storage"}, {"service": "Microsoft.KeyVault"}]}}`)
	e.must(200, "PATCH", account, `{"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices", "virtualNetworkRules": [{"id": "`+vnet+`/subnets/default"}, {"id": "`+vnet+`/subnets/other"}]}}}`)
	e.must(200, "PATCH", vault, `{"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices", "virtualNetworkRules": [{"id": "`+vnet+`/subnets/default"}, {"id": "`+vnet+`/subnets/other"}]}}}`)
	d = e.diagnose()
	if len(d.Value["storage_account_results"])+len(d.Value["key_vault_results"]) != 0 {
		t.Errorf("after admitting the subnet: %+v %+v", d.Value["storage_account_results"], d.Value["key_vault_results"])
	}

	// An NSG on the subnet that denies the Internet inbound.
	e.must(201, "PUT", net+"/networkSecurityGroups/other-nsg", `{"location": "eastus", "properties": {"securityRules": [{"name": "deny-internet-in",
		"properties": {"priority": 100, "direction": "Inbound", "access": "Deny", "protocol": "*", "sourceAddressPrefix": "Internet",
		"sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}]}}`)
	e.must(200, "PUT", vnet+"/subnets/other", `{"properties": {"addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {"id": "`+net+`/networkSecurityGroups/other-nsg"},
		"serviceEndpoints": [{"service": "Microsoft.Storage"}, {"service": "Microsoft.KeyVault"}]}}`)
	d = e.diagnose()
	if !d.has("network_security_rule_results", "BatchNodeManagementBlocked", "29876", "deny-internet-in") {
		t.Errorf("NSG: %+v", d.Value["network_security_rule_results"])
	}

	// A lock on the group where the cluster keeps its resources.
	e.must(201, "PUT", rg+"/providers/Microsoft.Authorization/locks/keep", `{"properties": {"level": "CanNotDelete"}}`)
	d = e.diagnose()
	if !d.has("resource_lock_results", "ResourceLockOnComputeGroup", "keep", "CanNotDelete") {
		t.Errorf("locks: %+v", d.Value["resource_lock_results"])
	}
	for _, cat := range []string{"dns_resolution_results", "application_insights_results", "container_registry_results"} {
		if d.Value[cat] == nil {
			t.Errorf("category %s missing: the diagnose shape has every category, empty when healthy", cat)
		}
	}
}

// TestDiagnoseBeforeAnyNode: a cluster with no node is checked with a
// stand-in for its next node — the pre-flight check users ask for — so a
// blocked requirement shows before a node ever turns unusable.
func TestDiagnoseBeforeAnyNode(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus", "properties": {"storageAccount": "`+account+`", "keyVault": "`+vault+`"}}`)
	e.must(201, "PUT", nsg+"/securityRules/deny-internet-in", `{"properties": {"priority": 100, "direction": "Inbound", "access": "Deny",
		"protocol": "*", "sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}`)
	e.must(201, "PUT", cluster, clusterBody(0, 2))
	d := e.diagnose()
	if !d.has("other_results", "CheckedWithStandInNode", "10.0.0.") {
		t.Errorf("no stand-in: %+v", d.Value["other_results"])
	}
	if !d.has("network_security_rule_results", "BatchNodeManagementBlocked", "deny-internet-in") {
		t.Errorf("the stand-in's blocked management flow: %+v", d.Value["network_security_rule_results"])
	}
	if nics := e.srvNodeNICs(); len(nics) != 0 {
		t.Errorf("the stand-in was written: %v", nics)
	}
}
