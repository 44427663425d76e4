package fabrictest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// The conformance network: one VNet in eastus (local cloud tags).
//
//	subnet default 10.0.0.0/24, NSG sub-nsg, route table rt
//	  node0 10.0.0.4 (NIC NSG nic-nsg)   node1 10.0.0.5
//	subnet appliance 10.0.1.0/24
//	  nva0 10.0.1.4 (IP forwarding, unless the variant turns it off)
//
// node0 and node1 have public IPs 198.51.100.4 and .5. Outside: Batch
// node management 198.18.3.9, a storage front end 198.18.1.4, an Internet
// client 203.0.113.7, a partner network 192.0.2.5 (reached through the
// appliance), a black-holed 10.9.0.9.
const (
	sub     = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/fab/providers/Microsoft.Network"
	Node0   = sub + "/networkInterfaces/node0"
	Node1   = sub + "/networkInterfaces/node1"
	NVA     = sub + "/networkInterfaces/nva0"
	SubNSG  = sub + "/networkSecurityGroups/sub-nsg"
	NICNSG  = sub + "/networkSecurityGroups/nic-nsg"
	subnet  = sub + "/virtualNetworks/vnet/subnets/default"
	appNet  = sub + "/virtualNetworks/vnet/subnets/appliance"
	routeTb = sub + "/routeTables/rt"
	// Storage is the storage account served at 198.18.1.4: its firewall
	// denies by default and admits the Internet client's range.
	Storage = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/fab/providers/Microsoft.Storage/storageAccounts/fabstore"
)

// variant changes the conformance network.
type variant struct {
	noForwarding bool // nva0 without IP forwarding
	batchDenied  bool // sub-nsg denies Batch management (the policy swap)
}

func rule(name string, prio int, dir, access, proto, src, dst, port string) string {
	return fmt.Sprintf(`{"name": %q, "properties": {"priority": %d, "direction": %q, "access": %q, "protocol": %q,
		"sourceAddressPrefix": %q, "sourcePortRange": "*", "destinationAddressPrefix": %q, "destinationPortRange": %q}}`,
		name, prio, dir, access, proto, src, dst, port)
}

func (v variant) json() string {
	batch := "Allow"
	if v.batchDenied {
		batch = "Deny"
	}
	subRules := []string{
		rule("allow-batch", 100, "Inbound", batch, "Tcp", "BatchNodeManagement", "*", "29876-29877"),
		rule("deny-9000-first", 2000, "Inbound", "Deny", "Tcp", "Internet", "*", "9000"),
		rule("allow-9000-later", 2500, "Inbound", "Allow", "Tcp", "Internet", "*", "9000"),
		rule("allow-8443-first", 3000, "Inbound", "Allow", "Tcp", "Internet", "*", "8443"),
		rule("deny-internet", 4000, "Inbound", "Deny", "*", "Internet", "*", "*"),
		rule("deny-smb-out", 200, "Outbound", "Deny", "Tcp", "*", "Storage", "445"),
		rule("allow-https-storage", 210, "Outbound", "Allow", "Tcp", "*", "Storage", "443"),
	}
	nicRules := []string{
		rule("deny-8080-in", 100, "Inbound", "Deny", "Tcp", "VirtualNetwork", "*", "8080"),
		rule("deny-batch-out", 110, "Outbound", "Deny", "Tcp", "*", "BatchNodeManagement", "*"),
		rule("allow-batch-nic", 120, "Inbound", batch, "Tcp", "BatchNodeManagement", "*", "29876-29877"),
	}
	return fmt.Sprintf(`[
	{"id": %q, "location": "eastus", "properties": {"securityRules": [%s]}},
	{"id": %q, "location": "eastus", "properties": {"securityRules": [%s]}},
	{"id": %q, "location": "eastus", "properties": {"routes": [
		{"name": "blackhole", "properties": {"addressPrefix": "10.9.0.0/16", "nextHopType": "None"}},
		{"name": "to-partner", "properties": {"addressPrefix": "192.0.2.0/24", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}}]}},
	{"id": "%s/publicIPAddresses/pip0", "location": "eastus", "properties": {"ipAddress": "198.51.100.4", "publicIPAllocationMethod": "Static"}},
	{"id": "%s/publicIPAddresses/pip1", "location": "eastus", "properties": {"ipAddress": "198.51.100.5", "publicIPAllocationMethod": "Static"}},
	{"id": "%s/virtualNetworks/vnet", "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [
		{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": %q}, "routeTable": {"id": %q}}},
		{"name": "appliance", "properties": {"addressPrefix": "10.0.1.0/24"}}]}},
	{"id": %q, "location": "eastus", "properties": {"networkSecurityGroup": {"id": %q}, "ipConfigurations": [
		{"name": "ipconfig1", "properties": {"privateIPAddress": "10.0.0.4", "privateIPAllocationMethod": "Static", "subnet": {"id": %q},
		 "publicIPAddress": {"id": "%s/publicIPAddresses/pip0"}}}]}},
	{"id": %q, "location": "eastus", "properties": {"ipConfigurations": [
		{"name": "ipconfig1", "properties": {"privateIPAddress": "10.0.0.5", "privateIPAllocationMethod": "Static", "subnet": {"id": %q},
		 "publicIPAddress": {"id": "%s/publicIPAddresses/pip1"}}}]}},
	{"id": %q, "location": "eastus", "properties": {"enableIPForwarding": %v, "ipConfigurations": [
		{"name": "ipconfig1", "properties": {"privateIPAddress": "10.0.1.4", "privateIPAllocationMethod": "Static", "subnet": {"id": %q}}}]}},
	{"id": %q, "location": "eastus", "properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices",
		"ipRules": [{"value": "203.0.113.0/24", "action": "Allow"}]}}}
	]`,
		SubNSG, strings.Join(subRules, ","), NICNSG, strings.Join(nicRules, ","), routeTb, sub, sub,
		sub, SubNSG, routeTb,
		Node0, NICNSG, subnet, sub, Node1, subnet, sub, NVA, !v.noForwarding, appNet, Storage)
}

// Engine compiles a variant of the conformance network.
func (v variant) engine(t testing.TB) *flow.Engine {
	t.Helper()
	var docs []map[string]any
	if err := json.Unmarshal([]byte(v.json()), &docs); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		id := d["id"].(string)
		d["name"] = id[strings.LastIndexByte(id, '/')+1:]
	}
	raw, _ := json.Marshal(docs)
	var snap network.Snapshot
	if err := snap.DecodeBytes("conformance network", raw); err != nil {
		t.Fatal(err)
	}
	if err := snap.Finish(); err != nil {
		t.Fatal(err)
	}
	tags := servicetag.LocalCloud()
	if err := snap.Validate(tags); err != nil {
		t.Fatalf("the conformance network is invalid: %v", err)
	}
	return flow.Compile(&snap, tags)
}

// Engine returns the conformance network's engine (for benchmarks and
// implementations' own tests).
func Engine(t testing.TB) *flow.Engine { return variant{}.engine(t) }
