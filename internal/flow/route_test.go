package flow_test

import (
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
)

// routedNet: VNet "hub" (10.0.0.0/16, subnet default 10.0.0.0/24 with the
// route table rt when routes are given, subnet fw 10.0.1.0/24 holding an
// appliance NIC at 10.0.1.4 with IP forwarding), NIC vm at 10.0.0.4.
func routedNet(t *testing.T, space, subnetExtra, routes string, extra ...string) *flow.Engine {
	rtRef := ""
	docs := []string{}
	if routes != "" {
		rtRef = `,"routeTable":{"id":"` + sub + `/routeTables/rt"}`
		docs = append(docs, `{"type":"Microsoft.Network/routeTables","id":"`+sub+`/routeTables/rt","name":"rt","location":"eastus","properties":`+routes+`}`)
	}
	if space == "" {
		space = `"10.0.0.0/16"`
	}
	vnet := `{"type":"Microsoft.Network/virtualNetworks","id":"` + sub + `/virtualNetworks/hub","name":"hub","location":"eastus",
	  "properties":{"addressSpace":{"addressPrefixes":[` + space + `]},"subnets":[
	    {"name":"default","properties":{"addressPrefix":"10.0.0.0/24"` + rtRef + subnetExtra + `}},
	    {"name":"fw","properties":{"addressPrefix":"10.0.1.0/24"}}]}}`
	fw := `{"type":"Microsoft.Network/networkInterfaces","id":"` + sub + `/networkInterfaces/fw","name":"fw","location":"eastus","properties":{
	  "enableIPForwarding":true,"ipConfigurations":[{"name":"c","properties":{"privateIPAddress":"10.0.1.4","subnet":{"id":"` + subnetID("hub", "fw") + `"}}}]}}`
	docs = append(docs, vnet, fw, nicJSON("vm", subnetID("hub", "default"), "10.0.0.4", ""))
	return compile(t, append(docs, extra...)...)
}

func nextHop(t *testing.T, e *flow.Engine, dst string) string {
	t.Helper()
	r, err := e.NextHop("vm", ip("10.0.0.4"), ip(dst))
	if err != nil {
		t.Fatal(err)
	}
	id := r.RouteTableID
	if i := strings.LastIndex(id, "/"); i >= 0 {
		id = id[i+1:]
	}
	return strings.TrimSpace(r.NextHopType + " " + r.NextHopIPAddress + " " + id)
}

func TestSystemRoutes(t *testing.T) { // spec §3.1
	e := routedNet(t, "", "", "")
	for dst, want := range map[string]string{
		"10.0.200.1":  "VnetLocal  System Route",
		"8.8.8.8":     "Internet  System Route",
		"10.1.0.1":    "None  System Route", // 10/8 outside the VNet
		"172.16.0.1":  "None  System Route",
		"192.168.1.1": "None  System Route",
		"100.64.0.1":  "None  System Route",
		"198.18.1.4":  "Internet  System Route",
	} {
		if got := nextHop(t, e, dst); got != want {
			t.Errorf("%s: got %q, want %q", dst, got, want)
		}
	}
	// A VNet range equal to a reserved prefix flips it to VnetLocal; one
	// containing it removes it (spec §3.1).
	e = routedNet(t, `"10.0.0.0/8","172.0.0.0/11"`, "", "")
	for dst, want := range map[string]string{"10.200.0.1": "VnetLocal  System Route", "172.17.0.1": "VnetLocal  System Route", "192.168.0.1": "None  System Route"} {
		if got := nextHop(t, e, dst); got != want {
			t.Errorf("%s: got %q, want %q", dst, got, want)
		}
	}
	routes, _ := e.EffectiveRoutes("vm")
	for _, r := range routes.Value {
		if r.AddressPrefix[0] == "10.0.0.0/8" && r.NextHopType != "VnetLocal" {
			t.Errorf("10.0.0.0/8 should be one VnetLocal route, got %+v", r)
		}
		if r.AddressPrefix[0] == "172.16.0.0/12" {
			t.Errorf("172.16.0.0/12 None route should be removed by the containing range: %+v", r)
		}
	}
}

func TestUserDefinedRoutes(t *testing.T) { // spec §3.2, §3.3, §12.1, §12.2
	routes := `{"routes":[
	  {"name":"default-to-fw","properties":{"addressPrefix":"0.0.0.0/0","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.1.4"}},
	  {"name":"bnm","properties":{"addressPrefix":"BatchNodeManagement.EastUS","nextHopType":"Internet"}},
	  {"name":"storage-explicit","properties":{"addressPrefix":"198.18.1.0/24","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.1.4"}},
	  {"name":"storage-tag","properties":{"addressPrefix":"Storage.EastUS","nextHopType":"Internet"}},
	  {"name":"blackhole","properties":{"addressPrefix":"10.0.200.0/24","nextHopType":"None"}},
	  {"name":"bad-appliance","properties":{"addressPrefix":"203.0.113.0/24","nextHopType":"VirtualAppliance","nextHopIpAddress":"192.168.50.1"}},
	  {"name":"acr-top","properties":{"addressPrefix":"AzureContainerRegistry","nextHopType":"None"}},
	  {"name":"acr-region","properties":{"addressPrefix":"AzureContainerRegistry.EastUS","nextHopType":"Internet"}}]}`
	e := routedNet(t, "", "", routes)
	cases := map[string]string{
		"8.8.8.8":     "VirtualAppliance 10.0.1.4 rt", // forced tunneling
		"172.16.0.1":  "VirtualAppliance 10.0.1.4 rt", // 0/0 UDR removes the None routes (§12.1)
		"10.0.5.5":    "VnetLocal  System Route",      // the VNet route is more specific than 0/0
		"198.18.3.9":  "Internet  rt",                 // tag route
		"198.18.1.4":  "VirtualAppliance 10.0.1.4 rt", // explicit prefix beats a tag route on the same prefix
		"10.0.200.7":  "None  rt",                     // UDR beats the system route on specificity
		"203.0.113.9": "None 192.168.50.1 rt",         // appliance outside the VNet (§12.2)
		"198.18.4.1":  "Internet  rt",                 // regional tag beats top-level tag
		"198.18.36.1": "None  rt",                     // only the top-level tag covers westus2
	}
	for dst, want := range cases {
		if got := nextHop(t, e, dst); got != want {
			t.Errorf("%s: got %q, want %q", dst, got, want)
		}
	}
	eff, err := e.EffectiveRoutes("vm")
	if err != nil {
		t.Fatal(err)
	}
	var invalid []string
	for _, r := range eff.Value {
		if r.State == "Invalid" && r.Name != nil {
			invalid = append(invalid, *r.Name)
		}
		if r.NextHopType == "None" && r.Source == "Default" {
			t.Errorf("default None route %v should be gone with a 0/0 UDR", r.AddressPrefix)
		}
	}
	if strings.Join(invalid, ",") != "storage-tag,acr-top" { // acr-top loses 198.18.4.0/24 to acr-region
		t.Errorf("Invalid user routes = %v, want [storage-tag acr-top]", invalid)
	}
}

func TestPeeringEndpointsAndGateways(t *testing.T) { // spec §12.3–§12.6
	peer := `{"type":"Microsoft.Network/virtualNetworks","id":"` + sub + `/virtualNetworks/spoke","name":"spoke","location":"eastus",
	  "properties":{"addressSpace":{"addressPrefixes":["10.1.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.1.0.0/24"}}]}}`
	peToStorage := `{"type":"Microsoft.Network/networkInterfaces","id":"` + sub + `/networkInterfaces/pe-nic","name":"pe-nic","location":"eastus","properties":{
	  "privateEndpoint":{"id":"` + sub + `/privateEndpoints/pe"},
	  "ipConfigurations":[{"name":"c","properties":{"privateIPAddress":"10.1.0.10","subnet":{"id":"` + subnetID("spoke", "s") + `"}}}]}}`
	gw := `{"type":"Microsoft.Network/virtualNetworkGateways","id":"` + sub + `/virtualNetworkGateways/gw","name":"gw","location":"eastus","properties":{
	  "gatewayType":"Vpn","ipConfigurations":[{"name":"c","properties":{"subnet":{"id":"` + subnetID("hub", "GatewaySubnet") + `"}}}]}}`
	lgw := `{"type":"Microsoft.Network/localNetworkGateways","id":"` + sub + `/localNetworkGateways/onprem","name":"onprem","location":"eastus","properties":{
	  "localNetworkAddressSpace":{"addressPrefixes":["192.168.0.0/16","10.0.0.0/20"]}}}`
	conn := `{"type":"Microsoft.Network/connections","id":"` + sub + `/connections/c","name":"c","location":"eastus","properties":{
	  "connectionType":"IPsec","virtualNetworkGateway1":{"id":"` + sub + `/virtualNetworkGateways/gw"},"localNetworkGateway2":{"id":"` + sub + `/localNetworkGateways/onprem"}}}`
	peering := `{"type":"Microsoft.Network/virtualNetworks/virtualNetworkPeerings","id":"` + sub + `/virtualNetworks/hub/virtualNetworkPeerings/to-spoke","name":"to-spoke",
	  "properties":{"peeringState":"Connected","remoteVirtualNetwork":{"id":"` + sub + `/virtualNetworks/spoke"}}}`
	gwSubnet := `{"type":"Microsoft.Network/virtualNetworks/subnets","id":"` + subnetID("hub", "GatewaySubnet") + `","name":"GatewaySubnet","properties":{"addressPrefix":"10.0.255.0/27"}}`
	se := `,"serviceEndpoints":[{"service":"Microsoft.Storage","locations":["eastus"]},{"service":"Microsoft.KeyVault"}]`

	e := routedNet(t, "", se, "", peer, peToStorage, gw, lgw, conn, peering, gwSubnet)
	for dst, want := range map[string]string{
		"10.1.0.5":    "VnetLocal  System Route",             // peering (VNetPeering → VnetLocal in Network Watcher's enum)
		"10.1.0.10":   "VnetLocal  System Route",             // private endpoint /32
		"192.168.3.3": "VirtualNetworkGateway  System Route", // on-premises via the gateway
		"10.0.3.3":    "VnetLocal  System Route",             // gateway route inside the VNet's own space is invalid
		"198.18.1.4":  "Internet  System Route",              // Storage.EastUS service endpoint
		"198.18.2.4":  "Internet  System Route",              // key vault endpoint defaults to the VNet's region
	} {
		if got := nextHop(t, e, dst); got != want {
			t.Errorf("%s: got %q, want %q", dst, got, want)
		}
	}
	eff, _ := e.EffectiveRoutes("vm")
	seen := map[string]string{}
	for _, r := range eff.Value {
		seen[r.NextHopType+" "+r.State] += strings.Join(r.AddressPrefix, ",") + ";"
	}
	for key, want := range map[string]string{
		"VNetPeering Active":                   "10.1.0.0/16;",
		"InterfaceEndpoint Active":             "10.1.0.10/32;",
		"VirtualNetworkServiceEndpoint Active": "198.18.1.0/24;198.18.2.0/24;",
		"VirtualNetworkGateway Active":         "192.168.0.0/16;",
		"VirtualNetworkGateway Invalid":        "10.0.0.0/20;",
	} {
		if seen[key] != want {
			t.Errorf("effective %s = %q, want %q (all: %v)", key, seen[key], want, seen)
		}
	}
	// The VirtualNetwork tag holds peered and on-premises spaces (§1.4).
	n, _ := e.NIC("vm")
	ic, _ := n.IPConfigFor(ip("10.0.0.4"))
	for _, a := range []string{"10.1.2.3", "192.168.7.7", "168.63.129.16"} {
		if !ic.Subnet.VirtualNetworkSet().Contains(ip(a)) {
			t.Errorf("VirtualNetwork lacks %s", a)
		}
	}
	// disableBgpRoutePropagation drops the gateway routes.
	e = routedNet(t, "", "", `{"disableBgpRoutePropagation":true,"routes":[]}`, peer, gw, lgw, conn, peering, gwSubnet)
	if got := nextHop(t, e, "192.168.3.3"); got != "None  System Route" {
		t.Errorf("with BGP propagation disabled: got %q", got)
	}
}
