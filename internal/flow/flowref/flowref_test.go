package flowref_test

import (
	"go/parser"
	"go/token"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/flow/flowref"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// TestIndependentOfEngine guards the oracle's independence: it must share
// no code with the engine it checks, nor its set library.
func TestIndependentOfEngine(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "github.com/vnetml/vnetml/internal/flow" || strings.HasPrefix(path, "go4.org/netipx") || strings.HasPrefix(path, "github.com/gaissmai/bart") {
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}

func id(typ, name string) string {
	return network.MakeID(network.DefaultSubscription, network.DefaultResourceGroup, typ, name)
}

// oneVM: vnet 10.1.0.0/16 (eastus), subnet s 10.1.0.0/24 with NSG nsg
// (default rules only) and route table rt, nic 10.1.0.4 without an NSG.
func oneVM(routes ...network.Route) *network.Snapshot {
	v := network.VirtualNetwork{Meta: network.Meta{Name: "v", Location: "eastus"}}
	v.Properties.AddressSpace.AddressPrefixes = []string{"10.1.0.0/16"}
	v.Properties.Subnets = []network.Subnet{{Name: "s", Properties: network.SubnetProperties{AddressPrefix: "10.1.0.0/24",
		NetworkSecurityGroup: &network.SubResource{ID: id(network.TypeNetworkSecurityGroup, "nsg")},
		RouteTable:           &network.SubResource{ID: id(network.TypeRouteTable, "rt")}}}}
	s := &network.Snapshot{
		VirtualNetworks:       []network.VirtualNetwork{v},
		NetworkSecurityGroups: []network.NetworkSecurityGroup{{Meta: network.Meta{Name: "nsg"}}},
		RouteTables:           []network.RouteTable{{Meta: network.Meta{Name: "rt"}, Properties: network.RouteTableProperties{Routes: routes}}},
		NetworkInterfaces: []network.NetworkInterface{{Meta: network.Meta{Name: "nic"}, Properties: network.NICProperties{
			IPConfigurations: []network.IPConfiguration{{Name: "c", Properties: network.IPConfigurationProperties{
				PrivateIPAddress: "10.1.0.4", Subnet: &network.SubResource{ID: id(network.TypeSubnet, "v/s")}}}}}}},
	}
	s.Normalize()
	return s
}

func route(prefix, hop, ip string) network.Route {
	return network.Route{Name: "r", Properties: network.RouteProperties{AddressPrefix: prefix, NextHopType: hop, NextHopIPAddress: ip}}
}

// The oracle's own spec checks, independent of the engine.
func TestIPFlowVerify(t *testing.T) {
	forced := route("0.0.0.0/0", network.HopVirtualAppliance, "10.1.0.10")
	cases := []struct {
		name     string
		snap     *network.Snapshot
		dir      string
		remote   string
		want     string
		wantRule string
	}{
		{"internet inbound denied", oneVM(), network.DirectionInbound, "8.8.8.8:443", "Deny", "defaultSecurityRules/DenyAllInBound"},
		{"vnet inbound allowed", oneVM(), network.DirectionInbound, "10.1.7.9:443", "Allow", "defaultSecurityRules/AllowVnetInBound"},
		{"host VIP inbound", oneVM(), network.DirectionInbound, "168.63.129.16:80", "Allow", "defaultSecurityRules/AllowVnetInBound"},
		{"internet outbound", oneVM(), network.DirectionOutbound, "8.8.8.8:443", "Allow", "defaultSecurityRules/AllowInternetOutBound"},
		{"local cloud service is Internet", oneVM(), network.DirectionOutbound, "198.18.1.5:443", "Allow", "defaultSecurityRules/AllowInternetOutBound"},
		{"private range is neither", oneVM(), network.DirectionOutbound, "192.168.1.1:443", "Deny", "defaultSecurityRules/DenyAllOutBound"},
		{"0/0 UDR widens VirtualNetwork", oneVM(forced), network.DirectionInbound, "8.8.8.8:443", "Allow", "defaultSecurityRules/AllowVnetInBound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			access, rule, err := flowref.IPFlowVerify(tc.snap, servicetag.LocalCloud(), "nic", tc.dir, network.ProtoTCP,
				netip.MustParseAddrPort("10.1.0.4:50000"), netip.MustParseAddrPort(tc.remote))
			if err != nil || access != tc.want || rule != tc.wantRule {
				t.Errorf("got %s %q %v, want %s %q", access, rule, err, tc.want, tc.wantRule)
			}
		})
	}

	noNSG := oneVM()
	noNSG.VirtualNetworks[0].Properties.Subnets[0].Properties.NetworkSecurityGroup = nil
	if access, rule, err := flowref.IPFlowVerify(noNSG, nil, "nic", network.DirectionInbound, network.ProtoTCP,
		netip.MustParseAddrPort("10.1.0.4:22"), netip.MustParseAddrPort("8.8.8.8:1")); err != nil || access != "Allow" || rule != "" {
		t.Errorf("no NSG: got %s %q %v, want Allow \"\"", access, rule, err)
	}
	if _, _, err := flowref.IPFlowVerify(oneVM(), nil, "nic", network.DirectionInbound, network.ProtoTCP,
		netip.MustParseAddrPort("10.1.0.5:22"), netip.MustParseAddrPort("8.8.8.8:1")); err == nil {
		t.Error("an address that is not the NIC's: no error")
	}
}

func TestNextHop(t *testing.T) {
	rt := id(network.TypeRouteTable, "rt")
	cases := []struct {
		name              string
		snap              *network.Snapshot
		dst               string
		hop, ip, routeTbl string
	}{
		{"vnet", oneVM(), "10.1.200.1", network.HopVnetLocal, "", flowref.SystemRoute},
		{"reserved range dropped", oneVM(), "10.2.0.1", network.HopNone, "", flowref.SystemRoute},
		{"internet", oneVM(), "8.8.8.8", network.HopInternet, "", flowref.SystemRoute},
		{"0/0 UDR removes the reserved routes", oneVM(route("0.0.0.0/0", network.HopVirtualAppliance, "10.1.0.10")), "10.2.0.1", network.HopVirtualAppliance, "10.1.0.10", rt},
		{"appliance outside the VNet", oneVM(route("8.8.0.0/16", network.HopVirtualAppliance, "192.168.0.4")), "8.8.8.8", network.HopNone, "192.168.0.4", rt},
		{"explicit beats tag", oneVM(route("198.18.1.0/24", network.HopNone, ""), route("Storage.EastUS", network.HopInternet, "")), "198.18.1.1", network.HopNone, "", rt},
		{"regional tag beats AzureCloud.region", oneVM(route("AzureCloud.eastus", network.HopNone, ""), route("Storage.EastUS", network.HopInternet, "")), "198.18.1.1", network.HopInternet, "", rt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hop, ip, table, err := flowref.NextHop(tc.snap, nil, "nic", netip.MustParseAddr("10.1.0.4"), netip.MustParseAddr(tc.dst))
			if err != nil || hop != tc.hop || ip != tc.ip || table != tc.routeTbl {
				t.Errorf("got {%s %q %s} %v, want {%s %q %s}", hop, ip, table, err, tc.hop, tc.ip, tc.routeTbl)
			}
		})
	}
}
