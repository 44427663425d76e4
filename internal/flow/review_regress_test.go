package flow_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/flow/flowref"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
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
	if v := path(t, e, laptop, flow.Endpoint{Addr: ip("20.1.2.3")}, 22); v.Refusal() == nil || v.Refusal().Rule != "securityRules/deny-all" {
		t.Errorf("laptop -> public IP past deny-all: %s", v.Explain())
	}
	// An Internet client cannot reach a private address at all; a platform
	// service (an address of a service tag) can, through the NSGs.
	if v := path(t, e, laptop, flow.Endpoint{Addr: ip("10.0.0.4")}, 22); v.Refusal() == nil || v.Refusal().Stage != flow.StageDelivery {
		t.Errorf("laptop -> private address: %s", v.Explain())
	}
	if v := path(t, e, batch, flow.Endpoint{Addr: ip("10.0.0.4")}, 22); v.Refusal() == nil || v.Refusal().Rule != "securityRules/deny-all" {
		t.Errorf("platform service -> private address past deny-all: %s", v.Explain())
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

func vnetDoc(name, space, subnet, subnetExtra string, peers ...string) string {
	var ps []string
	for _, p := range peers {
		ps = append(ps, `{"name":"to-`+p+`","properties":{"peeringState":"Connected","remoteVirtualNetwork":{"id":"`+sub+`/virtualNetworks/`+p+`"}}}`)
	}
	return `{"type":"Microsoft.Network/virtualNetworks","id":"` + sub + `/virtualNetworks/` + name + `","name":"` + name + `","location":"eastus",
	  "properties":{"addressSpace":{"addressPrefixes":["` + space + `"]},"subnets":[{"name":"s","properties":{"addressPrefix":"` + subnet + `"` + subnetExtra + `}}],
	  "virtualNetworkPeerings":[` + strings.Join(ps, ",") + `]}}`
}

// Hub and spoke: spoke1 reaches spoke2 (not peered with it) through an
// appliance in the hub; the last hop's VNet decides delivery.
func TestHubAndSpokeThroughAppliance(t *testing.T) {
	rt := `{"type":"Microsoft.Network/routeTables","id":"` + sub + `/routeTables/rt","name":"rt","location":"eastus","properties":{"routes":[
	  {"name":"to-spoke2","properties":{"addressPrefix":"10.2.0.0/16","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.0.4"}}]}}`
	nva := `{"type":"Microsoft.Network/networkInterfaces","id":"` + sub + `/networkInterfaces/nva","name":"nva","location":"eastus","properties":{
	  "enableIPForwarding":true,"ipConfigurations":[{"name":"c","properties":{"privateIPAddress":"10.0.0.4","subnet":{"id":"` + subnetID("hub", "s") + `"}}}]}}`
	e := compile(t, rt, nva,
		vnetDoc("hub", "10.0.0.0/16", "10.0.0.0/24", "", "spoke1", "spoke2"),
		vnetDoc("spoke1", "10.1.0.0/16", "10.1.0.0/24", `,"routeTable":{"id":"`+sub+`/routeTables/rt"}`, "hub"),
		vnetDoc("spoke2", "10.2.0.0/16", "10.2.0.0/24", "", "hub"),
		nicJSON("a", subnetID("spoke1", "s"), "10.1.0.4", ""),
		nicJSON("b", subnetID("spoke2", "s"), "10.2.0.4", ""))
	v := path(t, e, flow.Endpoint{NIC: "a"}, flow.Endpoint{Addr: ip("10.2.0.4")}, 443)
	if v.Access != flow.Allow || v.Hops[len(v.Hops)-1].Stage != flow.StageNSGIn {
		t.Errorf("spoke1 -> spoke2 via the hub appliance: %s %+v", v.Explain(), v.Hops)
	}
	v = path(t, e, flow.Endpoint{NIC: "a"}, flow.Endpoint{NIC: "b"}, 443)
	if v.Access != flow.Allow {
		t.Errorf("naming the NIC: %s", v.Explain())
	}
}

// Two unpeered VNets with the same space: naming a NIC in the other one
// does not make it reachable.
func TestOverlappingUnpeeredVNets(t *testing.T) {
	e := compile(t,
		vnetDoc("v1", "10.0.0.0/16", "10.0.0.0/24", ""),
		vnetDoc("v2", "10.0.0.0/16", "10.0.0.0/24", ""),
		nicJSON("a", subnetID("v1", "s"), "10.0.0.4", ""),
		nicJSON("b", subnetID("v2", "s"), "10.0.0.5", ""))
	v := path(t, e, flow.Endpoint{NIC: "a"}, flow.Endpoint{NIC: "b"}, 443)
	if h := v.Refusal(); h == nil || h.Stage != flow.StageDelivery {
		t.Errorf("a -> b across unpeered overlapping VNets: %s", v.Explain())
	}
}

// A NIC reaching another through its public IP is seen, after SNAT, from
// its own public IP: a VirtualNetwork rule does not admit it (spec §1.5).
func TestHairpinThroughPublicIPIsSNATed(t *testing.T) {
	pips := `[{"type":"Microsoft.Network/publicIPAddresses","id":"` + sub + `/publicIPAddresses/pa","name":"pa","location":"eastus","properties":{"ipAddress":"20.1.1.1"}},
	  {"type":"Microsoft.Network/publicIPAddresses","id":"` + sub + `/publicIPAddresses/pb","name":"pb","location":"eastus","properties":{"ipAddress":"20.2.2.2"}}]`
	vnetOnly := rule("vnet-only", 100, "Inbound", "Allow", "Tcp", `"sourceAddressPrefix":"VirtualNetwork","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"443"`)
	e := compile(t, pips, nsgJSON("nsg", vnetOnly, rule("deny", 200, "Inbound", "Deny", "*", any4)),
		vnetDoc("v", "10.0.0.0/16", "10.0.0.0/24", `,"networkSecurityGroup":{"id":"`+sub+`/networkSecurityGroups/nsg"}`),
		nicJSON("a", subnetID("v", "s"), "10.0.0.4", "", `"publicIPAddress":{"id":"`+sub+`/publicIPAddresses/pa"}`),
		nicJSON("b", subnetID("v", "s"), "10.0.0.5", "", `"publicIPAddress":{"id":"`+sub+`/publicIPAddresses/pb"}`))
	if v := path(t, e, flow.Endpoint{NIC: "a"}, flow.Endpoint{Addr: ip("10.0.0.5")}, 443); v.Access != flow.Allow {
		t.Errorf("privately: %s", v.Explain())
	}
	v := path(t, e, flow.Endpoint{NIC: "a"}, flow.Endpoint{Addr: ip("20.2.2.2")}, 443)
	if h := v.Refusal(); h == nil || h.Rule != "securityRules/deny" {
		t.Errorf("through the public IP: %s", v.Explain())
	}
}

// An unvalidated rule never admits more than it says: a side with an entry
// that means nothing matches nothing, and a rule with a malformed port
// matches no packet of any protocol. Engine and oracle agree.
func TestMalformedRulesMatchNothing(t *testing.T) {
	rules := []string{
		rule("partial-prefixes", 100, "Inbound", "Allow", "*", `"sourceAddressPrefixes":["8.8.8.0/24","10.0.0.300"],"sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"*"`),
		rule("bad-port", 110, "Inbound", "Allow", "*", `"sourceAddressPrefix":"*","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRanges":["80","x"]`),
	}
	vnet := `{"type":"Microsoft.Network/virtualNetworks","id":"` + sub + `/virtualNetworks/vnet","name":"vnet","location":"eastus",
	  "properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[
	    {"name":"default","properties":{"addressPrefix":"10.0.0.0/24","networkSecurityGroup":{"id":"` + sub + `/networkSecurityGroups/nsg"}}}]}}`
	var s network.Snapshot
	for i, d := range []string{vnet, nsgJSON("nsg", rules...), nicJSON("vm", subnetID("vnet", "default"), "10.0.0.4", "")} {
		if err := s.DecodeBytes(fmt.Sprint(i), []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	tags := servicetag.LocalCloud()
	e := flow.Compile(&s, tags)
	if len(e.Warnings()) != 2 {
		t.Errorf("want a warning per malformed rule, got %v", e.Warnings())
	}
	n, _ := e.NIC("vm")
	ic, _ := n.IPConfigFor(ip("10.0.0.4"))
	for _, proto := range []network.Protocol{network.ProtoTCP, network.ProtoICMP} {
		p := flow.Packet{Proto: proto, Src: ip("8.8.8.8"), Dst: ip("10.0.0.4"), SrcPort: 1000, DstPort: 80}
		got := ic.Decide(flow.Inbound, &p).RuleName()
		if got != "defaultSecurityRules/DenyAllInBound" {
			t.Errorf("%v: engine decided by %s", proto, got)
		}
		if proto == network.ProtoTCP {
			_, name, err := flowref.IPFlowVerify(&s, tags, "vm", "Inbound", proto, ap("10.0.0.4:80"), ap("8.8.8.8:1000"))
			if err != nil || name != got {
				t.Errorf("oracle: %q, %v; engine %q", name, err, got)
			}
		}
	}
}
