package flow_test

import (
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
)

// Regression tests for defects a review found; each names the spec rule.

// A connected peer whose space equals a reserved range stands for it, as the
// VNet's own space does (spec §3.1, §12.3): traffic to it is not dropped.
func TestPeerSpaceEqualToReservedRange(t *testing.T) {
	spoke := `{"type":"Microsoft.Network/virtualNetworks","id":"` + sub + `/virtualNetworks/spoke","name":"spoke","location":"eastus",
	  "properties":{"addressSpace":{"addressPrefixes":["192.168.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"192.168.1.0/24"}}]}}`
	peering := `{"type":"Microsoft.Network/virtualNetworks/virtualNetworkPeerings","id":"` + sub + `/virtualNetworks/hub/virtualNetworkPeerings/p","name":"p",
	  "properties":{"peeringState":"Connected","remoteVirtualNetwork":{"id":"` + sub + `/virtualNetworks/spoke"}}}`
	e := routedNet(t, "", "", "", spoke, peering)
	if got := nextHop(t, e, "192.168.1.4"); got != "VnetLocal  System Route" {
		t.Errorf("to the peer: got %q", got)
	}
	if got := nextHop(t, e, "172.16.0.1"); got != "None  System Route" {
		t.Errorf("other reserved ranges still drop: got %q", got)
	}
}

// An outside source naming only an address reaches the NIC that holds it,
// through its NSGs — never a bare Allow; a public IP is translated to the
// NIC's private address before the inbound rules (spec §1.5).
func TestOutsideSourceByAddress(t *testing.T) {
	pip := `{"type":"Microsoft.Network/publicIPAddresses","id":"` + sub + `/publicIPAddresses/pip","name":"pip","location":"eastus","properties":{"ipAddress":"20.1.2.3"}}`
	vm := nicJSON("vm", subnetID("vnet", "default"), "10.0.0.4", "", `"publicIPAddress":{"id":"`+sub+`/publicIPAddresses/pip"}`)
	vnet := `{"type":"Microsoft.Network/virtualNetworks","id":"` + sub + `/virtualNetworks/vnet","name":"vnet","location":"eastus",
	  "properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[
	    {"name":"default","properties":{"addressPrefix":"10.0.0.0/24","networkSecurityGroup":{"id":"` + sub + `/networkSecurityGroups/nsg"}}}]}}`
	allowSSHToVM := rule("ssh", 200, "Inbound", "Allow", "Tcp", `"sourceAddressPrefix":"Internet","sourcePortRange":"*","destinationAddressPrefix":"10.0.0.4","destinationPortRange":"22"`)
	e := compile(t, vnet, pip, vm, nsgJSON("nsg", denyAllIn, allowSSHToVM))
	for _, dst := range []string{"10.0.0.4", "20.1.2.3"} {
		v := path(t, e, laptop, flow.Endpoint{Addr: ip(dst)}, 22)
		if h := v.Refusal(); h == nil || h.Rule != "securityRules/deny-all" {
			t.Errorf("laptop -> %s:22 past deny-all: %s", dst, v.Explain())
		}
	}
	e = compile(t, vnet, pip, vm, nsgJSON("nsg", allowSSHToVM))
	if v := path(t, e, laptop, flow.Endpoint{Addr: ip("20.1.2.3")}, 22); v.Access != flow.Allow || v.Hops[len(v.Hops)-1].Rule != "securityRules/ssh" {
		t.Errorf("to the public IP, rules see the private address: %s", v.Explain())
	}
	v := path(t, e, laptop, flow.Endpoint{Addr: ip("10.0.9.9")}, 22)
	if h := v.Refusal(); h == nil || h.Stage != flow.StageDelivery {
		t.Errorf("to an address nothing holds: %s", v.Explain())
	}
}

// IP rules have no effect for clients in the account's own region, public
// IP or not (spec §5); a key vault's bypass defaults to AzureServices (§6).
func TestFirewallRegionAndVaultDefaults(t *testing.T) {
	pip := `{"type":"Microsoft.Network/publicIPAddresses","id":"` + sub + `/publicIPAddresses/pip","name":"pip","location":"eastus","properties":{"ipAddress":"20.1.2.3"}}`
	acl := `"networkAcls":{"defaultAction":"Deny","ipRules":[{"value":"20.1.2.3"}]}`
	e := amlNet(t, nil, "", "", acl, `"networkAcls":{"defaultAction":"Deny"}`, pip)
	v := path(t, e, flow.Endpoint{NIC: "node1"}, store, 443)
	if h := v.Refusal(); h == nil || h.Stage != flow.StageFirewall {
		t.Errorf("same-region VM with a public IP listed in ipRules: %s", v.Explain())
	}
	if v := path(t, e, trusted, vault, 443); v.Access != flow.Allow {
		t.Errorf("key vault without bypass must admit trusted services: %s", v.Explain())
	}
}
