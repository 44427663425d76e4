package flow_test

import (
	"errors"
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// The scenario of Azure's "How network security groups filter network
// traffic": NSG1 on Subnet1; VM1 in Subnet1 without a NIC NSG; VM2 in
// Subnet1 with NSG2 on its NIC; VM3 in Subnet2 (no subnet NSG) with NSG2 on
// its NIC; VM4 in Subnet3 with no NSG at all.
func vmScenario(t *testing.T, nsg1Rules, nsg2Rules []string) *flow.Engine {
	vnet := `{"type":"Microsoft.Network/virtualNetworks","id":"` + sub + `/virtualNetworks/vnet","name":"vnet","location":"eastus",
	  "properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[
	    {"name":"Subnet1","properties":{"addressPrefix":"10.0.1.0/24","networkSecurityGroup":{"id":"` + sub + `/networkSecurityGroups/NSG1"}}},
	    {"name":"Subnet2","properties":{"addressPrefix":"10.0.2.0/24"}},
	    {"name":"Subnet3","properties":{"addressPrefix":"10.0.3.0/24"}}]}}`
	return compile(t, vnet, nsgJSON("NSG1", nsg1Rules...), nsgJSON("NSG2", nsg2Rules...),
		nicJSON("VM1", subnetID("vnet", "Subnet1"), "10.0.1.4", ""),
		nicJSON("VM2", subnetID("vnet", "Subnet1"), "10.0.1.5", "NSG2"),
		nicJSON("VM3", subnetID("vnet", "Subnet2"), "10.0.2.4", "NSG2"),
		nicJSON("VM4", subnetID("vnet", "Subnet3"), "10.0.3.4", ""))
}

const http80 = `"sourceAddressPrefix":"Internet","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"80"`

func TestVMScenario(t *testing.T) {
	allowHTTP := rule("Allow-HTTP-All", 100, "Inbound", "Allow", "Tcp", http80)
	denyOut80 := rule("Deny-Internet-All", 100, "Outbound", "Deny", "Tcp",
		`"sourceAddressPrefix":"*","sourcePortRange":"*","destinationAddressPrefix":"Internet","destinationPortRange":"80"`)
	denyIntra := rule("Deny-Intra", 200, "Inbound", "Deny", "*",
		`"sourceAddressPrefix":"10.0.1.0/24","sourcePortRange":"*","destinationAddressPrefix":"10.0.1.0/24","destinationPortRange":"*"`)

	tests := []struct {
		name                 string
		nsg1, nsg2           []string
		vm, dir, local, peer string
		proto                string
		want                 string
	}{
		// Inbound: VM1 needs NSG1 to allow port 80.
		{"VM1 inbound, NSG1 without rule", nil, nil, "VM1", "Inbound", "10.0.1.4:80", "8.8.8.8:5000", "TCP", "Deny defaultSecurityRules/DenyAllInBound"},
		{"VM1 inbound, NSG1 allows 80", []string{allowHTTP}, nil, "VM1", "Inbound", "10.0.1.4:80", "8.8.8.8:5000", "TCP", "Allow securityRules/Allow-HTTP-All"},
		// VM2: both NSG1 and NSG2 must allow.
		{"VM2 inbound, only NSG1 allows", []string{allowHTTP}, nil, "VM2", "Inbound", "10.0.1.5:80", "8.8.8.8:5000", "TCP", "Deny defaultSecurityRules/DenyAllInBound"},
		{"VM2 inbound, only NSG2 allows", nil, []string{allowHTTP}, "VM2", "Inbound", "10.0.1.5:80", "8.8.8.8:5000", "TCP", "Deny defaultSecurityRules/DenyAllInBound"},
		{"VM2 inbound, both allow", []string{allowHTTP}, []string{allowHTTP}, "VM2", "Inbound", "10.0.1.5:80", "8.8.8.8:5000", "TCP", "Allow securityRules/Allow-HTTP-All"},
		// VM3: only NSG2 (no subnet NSG).
		{"VM3 inbound, NSG2 allows", nil, []string{allowHTTP}, "VM3", "Inbound", "10.0.2.4:80", "8.8.8.8:5000", "TCP", "Allow securityRules/Allow-HTTP-All"},
		{"VM3 inbound, NSG2 without rule", []string{allowHTTP}, nil, "VM3", "Inbound", "10.0.2.4:80", "8.8.8.8:5000", "TCP", "Deny defaultSecurityRules/DenyAllInBound"},
		// VM4: no NSG: everything is allowed.
		{"VM4 inbound, no NSG", nil, nil, "VM4", "Inbound", "10.0.3.4:80", "8.8.8.8:5000", "TCP", "Allow"},
		{"VM4 outbound, no NSG", nil, nil, "VM4", "Outbound", "10.0.3.4:5000", "8.8.8.8:80", "TCP", "Allow"},
		// Outbound: default AllowInternetOutBound, unless a rule denies.
		{"VM1 outbound default", nil, nil, "VM1", "Outbound", "10.0.1.4:5000", "8.8.8.8:80", "TCP", "Allow defaultSecurityRules/AllowInternetOutBound"},
		{"VM1 outbound, NSG1 denies 80", []string{denyOut80}, nil, "VM1", "Outbound", "10.0.1.4:5000", "8.8.8.8:80", "TCP", "Deny securityRules/Deny-Internet-All"},
		{"VM2 outbound, NSG2 denies 80", nil, []string{denyOut80}, "VM2", "Outbound", "10.0.1.5:5000", "8.8.8.8:80", "TCP", "Deny securityRules/Deny-Internet-All"},
		{"VM2 outbound, other port passes", nil, []string{denyOut80}, "VM2", "Outbound", "10.0.1.5:5000", "8.8.8.8:443", "TCP", "Allow defaultSecurityRules/AllowInternetOutBound"},
		{"VM3 outbound, NSG2 denies 80", nil, []string{denyOut80}, "VM3", "Outbound", "10.0.2.4:5000", "8.8.8.8:80", "TCP", "Deny securityRules/Deny-Internet-All"},
		// Intra-subnet traffic is filtered too.
		{"VM1 from VM2, default", nil, nil, "VM1", "Inbound", "10.0.1.4:22", "10.0.1.5:5000", "TCP", "Allow defaultSecurityRules/AllowVnetInBound"},
		{"VM1 from VM2, intra-subnet deny", []string{denyIntra}, nil, "VM1", "Inbound", "10.0.1.4:22", "10.0.1.5:5000", "UDP", "Deny securityRules/Deny-Intra"},
		{"VM3 from VM1 across subnets", []string{denyIntra}, nil, "VM3", "Inbound", "10.0.2.4:22", "10.0.1.4:5000", "TCP", "Allow defaultSecurityRules/AllowVnetInBound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := vmScenario(t, tc.nsg1, tc.nsg2)
			if got := verify(t, e, tc.vm, tc.dir, tc.proto, tc.local, tc.peer); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// One VNet, one subnet with NSG "nsg", one NIC "vm" at 10.0.0.4.
func oneNIC(t *testing.T, rules []string, extraDocs ...string) *flow.Engine {
	vnet := `{"type":"Microsoft.Network/virtualNetworks","id":"` + sub + `/virtualNetworks/vnet","name":"vnet","location":"eastus",
	  "properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[
	    {"name":"default","properties":{"addressPrefix":"10.0.0.0/24","networkSecurityGroup":{"id":"` + sub + `/networkSecurityGroups/nsg"}}}]}}`
	docs := append([]string{vnet, nsgJSON("nsg", rules...), nicJSON("vm", subnetID("vnet", "default"), "10.0.0.4", "")}, extraDocs...)
	return compile(t, docs...)
}

func TestDefaultRules(t *testing.T) { // spec §1.3, §1.4
	e := oneNIC(t, nil)
	cases := []struct{ name, dir, proto, local, remote, want string }{
		{"from the internet", "Inbound", "TCP", "10.0.0.4:22", "8.8.8.8:1000", "Deny defaultSecurityRules/DenyAllInBound"},
		{"from the vnet", "Inbound", "UDP", "10.0.0.4:53", "10.0.200.1:1000", "Allow defaultSecurityRules/AllowVnetInBound"},
		{"from the host VIP", "Inbound", "TCP", "10.0.0.4:80", "168.63.129.16:1000", "Allow defaultSecurityRules/AllowVnetInBound"},
		{"from private space outside the vnet", "Inbound", "TCP", "10.0.0.4:80", "192.168.0.1:1000", "Deny defaultSecurityRules/DenyAllInBound"},
		{"to the internet", "Outbound", "TCP", "10.0.0.4:1000", "8.8.8.8:443", "Allow defaultSecurityRules/AllowInternetOutBound"},
		{"to the vnet", "Outbound", "TCP", "10.0.0.4:1000", "10.0.9.9:443", "Allow defaultSecurityRules/AllowVnetOutBound"},
		{"to private space outside the vnet", "Outbound", "TCP", "10.0.0.4:1000", "172.16.0.1:443", "Deny defaultSecurityRules/DenyAllOutBound"},
		{"to the benchmarking range (local-cloud services count as Internet)", "Outbound", "TCP", "10.0.0.4:1000", "198.18.1.4:443", "Allow defaultSecurityRules/AllowInternetOutBound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := verify(t, e, "vm", c.dir, c.proto, c.local, c.remote); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestRuleMatching(t *testing.T) { // spec §1.1, §1.5
	asg := `{"type":"Microsoft.Network/applicationSecurityGroups","id":"` + sub + `/applicationSecurityGroups/web","name":"web","location":"eastus","properties":{}}`
	web := nicJSON("web1", subnetID("vnet", "default"), "10.0.0.10", "", `"applicationSecurityGroups":[{"id":"`+sub+`/applicationSecurityGroups/web"}]`)
	rules := []string{
		rule("deny-first", 100, "Inbound", "Deny", "Tcp", `"sourceAddressPrefix":"203.0.113.0/24","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"22"`),
		rule("allow-later", 200, "Inbound", "Allow", "Tcp", `"sourceAddressPrefix":"203.0.113.0/25","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"22"`),
		rule("plural", 300, "Inbound", "Allow", "Udp", `"sourceAddressPrefixes":["8.8.8.8","9.9.9.0/24"],"sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRanges":["53","5000-5002"]`),
		rule("srcport", 400, "Inbound", "Allow", "*", `"sourceAddressPrefix":"*","sourcePortRange":"1024","destinationAddressPrefix":"*","destinationPortRange":"*"`),
		rule("from-asg", 500, "Inbound", "Allow", "Tcp", `"sourceApplicationSecurityGroups":[{"id":"`+sub+`/applicationSecurityGroups/web"}],"sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"5432"`),
		rule("tag", 600, "Inbound", "Allow", "Tcp", `"sourceAddressPrefix":"BatchNodeManagement.EastUS","sourcePortRange":"*","destinationAddressPrefix":"VirtualNetwork","destinationPortRange":"29876-29877"`),
		rule("regional-tag-other-region", 700, "Inbound", "Allow", "Tcp", `"sourceAddressPrefix":"Storage.WestUS2","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"*"`),
		rule("deny-vnet-inbound", 4096, "Inbound", "Deny", "*", `"sourceAddressPrefix":"VirtualNetwork","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"*"`),
	}
	e := oneNIC(t, rules, asg, web)
	cases := []struct{ name, proto, local, remote, want string }{
		{"lower priority number wins", "TCP", "10.0.0.4:22", "203.0.113.5:999", "Deny securityRules/deny-first"},
		{"first match stops", "TCP", "10.0.0.4:22", "203.0.113.200:999", "Deny securityRules/deny-first"},
		{"plural prefixes and ports", "UDP", "10.0.0.4:5001", "9.9.9.9:999", "Allow securityRules/plural"},
		{"plural port miss", "UDP", "10.0.0.4:5003", "9.9.9.9:999", "Deny defaultSecurityRules/DenyAllInBound"},
		{"protocol miss", "TCP", "10.0.0.4:53", "8.8.8.8:999", "Deny defaultSecurityRules/DenyAllInBound"},
		{"source port", "UDP", "10.0.0.4:9", "8.8.4.4:1024", "Allow securityRules/srcport"},
		{"application security group member", "TCP", "10.0.0.4:5432", "10.0.0.10:999", "Allow securityRules/from-asg"},
		{"not an ASG member", "TCP", "10.0.0.4:5432", "10.0.0.11:999", "Deny securityRules/deny-vnet-inbound"},
		{"service tag", "TCP", "10.0.0.4:29877", "198.18.3.9:443", "Allow securityRules/tag"},
		{"service tag port miss", "TCP", "10.0.0.4:29878", "198.18.3.9:443", "Deny defaultSecurityRules/DenyAllInBound"},
		{"regional tag of another region", "TCP", "10.0.0.4:1", "198.18.33.1:443", "Allow securityRules/regional-tag-other-region"},
		{"regional tag is not the home region", "TCP", "10.0.0.4:1", "198.18.1.1:443", "Deny defaultSecurityRules/DenyAllInBound"},
		{"custom rule beats AllowVnetInBound", "TCP", "10.0.0.4:80", "10.0.0.99:999", "Deny securityRules/deny-vnet-inbound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := verify(t, e, "vm", "Inbound", c.proto, c.local, c.remote); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// Ports restrict TCP and UDP only; a rule's ports are ignored for ICMP,
// ESP and AH (spec §11.3, decided in network.Protocol.HasPorts).
func TestPortsIgnoredForPortlessProtocols(t *testing.T) {
	e := oneNIC(t, []string{
		rule("icmp-any", 100, "Inbound", "Allow", "Icmp", `"sourceAddressPrefix":"*","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"80"`),
		rule("esp", 110, "Inbound", "Allow", "Esp", any4),
	})
	n, _ := e.NIC("vm")
	ic, _ := n.IPConfigFor(ip("10.0.0.4"))
	for _, tc := range []struct {
		proto network.Protocol
		want  string
	}{
		{network.ProtoICMP, "securityRules/icmp-any"},
		{network.ProtoESP, "securityRules/esp"},
		{network.ProtoAH, "defaultSecurityRules/DenyAllInBound"},
	} {
		p := flow.Packet{Proto: tc.proto, Src: ip("8.8.8.8"), Dst: ip("10.0.0.4")}
		if got := ic.Decide(flow.Inbound, &p).RuleName(); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.proto, got, tc.want)
		}
	}
}

// A 0.0.0.0/0 UDR widens VirtualNetwork to everything, so the default
// AllowVnet rules match Internet traffic (spec §1.4).
func TestDefaultRouteWidensVirtualNetworkTag(t *testing.T) {
	vnet := `{"type":"Microsoft.Network/virtualNetworks","id":"` + sub + `/virtualNetworks/vnet","name":"vnet","location":"eastus",
	  "properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[
	    {"name":"default","properties":{"addressPrefix":"10.0.0.0/24","networkSecurityGroup":{"id":"` + sub + `/networkSecurityGroups/nsg"},
	     "routeTable":{"id":"` + sub + `/routeTables/rt"}}}]}}`
	rt := `{"type":"Microsoft.Network/routeTables","id":"` + sub + `/routeTables/rt","name":"rt","location":"eastus","properties":{"routes":[
	  {"name":"to-fw","properties":{"addressPrefix":"0.0.0.0/0","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.1.4"}}]}}`
	e := compile(t, vnet, rt, nsgJSON("nsg"), nicJSON("vm", subnetID("vnet", "default"), "10.0.0.4", ""))
	if got := verify(t, e, "vm", "Inbound", "TCP", "10.0.0.4:22", "8.8.8.8:1000"); got != "Allow defaultSecurityRules/AllowVnetInBound" {
		t.Errorf("inbound from the internet with a 0/0 UDR: got %q", got)
	}
	if got := verify(t, e, "vm", "Outbound", "TCP", "10.0.0.4:1000", "8.8.8.8:443"); got != "Allow defaultSecurityRules/AllowVnetOutBound" {
		t.Errorf("outbound with a 0/0 UDR: got %q", got)
	}
}

func TestIPFlowVerifyErrors(t *testing.T) {
	e := oneNIC(t, nil)
	cases := []struct {
		name  string
		q     flow.VerifyQuery
		field string
	}{
		{"ICMP", flow.VerifyQuery{NIC: "vm", Protocol: network.ProtoICMP, Local: ap("10.0.0.4:1"), Remote: ap("1.1.1.1:1")}, "protocol"},
		{"not the NIC's address", flow.VerifyQuery{NIC: "vm", Protocol: network.ProtoTCP, Local: ap("10.0.0.5:1"), Remote: ap("1.1.1.1:1")}, "localIPAddress"},
		{"IPv6 remote", flow.VerifyQuery{NIC: "vm", Protocol: network.ProtoTCP, Local: ap("10.0.0.4:1"), Remote: ap("[::1]:1")}, "remoteIPAddress"},
		{"unknown NIC", flow.VerifyQuery{NIC: "nope", Protocol: network.ProtoTCP, Local: ap("10.0.0.4:1"), Remote: ap("1.1.1.1:1")}, "targetResourceId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.IPFlowVerify(c.q)
			var qe *flow.QueryError
			if !errors.As(err, &qe) || qe.Field != c.field {
				t.Fatalf("got %v, want a QueryError on %s", err, c.field)
			}
		})
	}
	// By full id, case-insensitively.
	if got := verify(t, e, "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/resourceGroups/RG/providers/Microsoft.Network/networkInterfaces/VM",
		"Outbound", "TCP", "10.0.0.4:1", "8.8.8.8:443"); got != "Allow defaultSecurityRules/AllowInternetOutBound" {
		t.Errorf("by id: %q", got)
	}
}

func TestEffectiveNSGs(t *testing.T) {
	e := oneNIC(t, []string{rule("bnm", 100, "Inbound", "Allow", "Tcp",
		`"sourceAddressPrefix":"BatchNodeManagement.EastUS","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRanges":["29876","29877"]`)})
	got, err := e.EffectiveNSGs("vm")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Value) != 1 || got.Value[0].Association.Subnet == nil {
		t.Fatalf("want one subnet association, got %+v", got.Value)
	}
	rules := got.Value[0].EffectiveSecurityRules
	if len(rules) != 7 {
		t.Fatalf("want 7 rules (1 custom + 6 default), got %d", len(rules))
	}
	r := rules[0]
	if r.Name != "securityRules/bnm" || r.Protocol != "Tcp" || r.SourceAddressPrefix != "BatchNodeManagement.EastUS" ||
		len(r.ExpandedSourceAddressPrefix) != 1 || r.ExpandedSourceAddressPrefix[0] != "198.18.3.0/24" ||
		len(r.DestinationPortRanges) != 2 || r.SourcePortRange != "0-65535" || r.DestinationAddressPrefix != "0.0.0.0/0" {
		t.Errorf("custom rule rendered as %+v", r)
	}
	deny := rules[3] // inbound order: bnm, AllowVnetInBound, AllowAzureLoadBalancerInBound, DenyAllInBound
	if deny.Name != "defaultSecurityRules/DenyAllInBound" || deny.Protocol != "All" || deny.Priority != 65500 {
		t.Errorf("DenyAllInBound rendered as %+v", deny)
	}
	if vn := got.Value[0].TagMap["VirtualNetwork"]; len(vn) != 2 || vn[0] != "10.0.0.0/16" || vn[1] != "168.63.129.16/32" {
		t.Errorf("tagMap VirtualNetwork = %v", vn)
	}
}
