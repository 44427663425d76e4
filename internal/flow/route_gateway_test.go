package flow_test

import (
	"net/netip"
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/flow/flowref"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// A local network gateway that advertises exactly the prefix of a
// preferred system route (the VNet's own range, a peering, a service
// endpoint) must not take it over: spec §3.3 prefers those system routes
// over gateway routes, which are then Invalid. The differential test found
// the engine once left no route at all for such a prefix (the gateway route
// won the tie, then was invalidated as covered), falling through to a
// shorter route such as the reserved 10.0.0.0/8 None.
func TestGatewayRouteOnPreferredPrefix(t *testing.T) {
	cases := []struct {
		name     string
		onPrem   string // what the local network gateway advertises
		peer     bool   // peer vnet1 with vnet2 (10.2.0.0/16)
		endpoint bool   // Microsoft.Storage service endpoint on the subnet
		dst      string
		wantHop  string // effective route's next hop (Subnet.Route)
		wantNW   string // Network Watcher's next hop type
	}{
		{name: "own range", onPrem: "10.1.0.0/16", dst: "10.1.0.5",
			wantHop: network.HopVnetLocal, wantNW: network.HopVnetLocal},
		{name: "peered range", onPrem: "10.2.0.0/16", peer: true, dst: "10.2.0.5",
			wantHop: network.HopVNetPeering, wantNW: network.HopVnetLocal},
		{name: "service endpoint prefix", onPrem: "198.18.1.0/24", endpoint: true, dst: "198.18.1.9", // Storage.EastUS
			wantHop: network.HopVirtualNetworkServiceEndpoint, wantNW: network.HopInternet},
	}
	tags := servicetag.LocalCloud()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := gatewayTieSnapshot(tc.onPrem, tc.peer, tc.endpoint)
			nic := id(network.TypeNetworkInterface, "nic")
			src, dst := netip.MustParseAddr("10.1.0.4"), netip.MustParseAddr(tc.dst)

			// The oracle follows the spec.
			if hop, _, table, err := flowref.NextHop(snap, tags, nic, src, dst); err != nil || hop != tc.wantNW || table != flowref.SystemRoute {
				t.Fatalf("oracle: %s %s %v, want %s System Route", hop, table, err, tc.wantNW)
			}
			e := flow.Compile(snap, tags)
			res, err := e.NextHop(nic, src, dst)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := e.NIC(nic)
			r := n.IPConfigs[0].Subnet.Route(dst)
			got := "<no route>"
			if r != nil {
				got = r.String()
			}
			if r == nil || r.NextHopType != tc.wantHop || r.Prefix != netip.MustParsePrefix(tc.onPrem) || res.NextHopType != tc.wantNW {
				t.Errorf("route for %s = %s (Network Watcher: %s %q %s), want the system %s route for %s (Network Watcher: %s)",
					dst, got, res.NextHopType, res.NextHopIPAddress, res.RouteTableID, tc.wantHop, tc.onPrem, tc.wantNW)
			}
		})
	}
}

// gatewayTieSnapshot: vnet1 10.1.0.0/16 (eastus) with subnet s 10.1.0.0/24
// holding nic 10.1.0.4, a VPN gateway in GatewaySubnet connected to a local
// network gateway that advertises onPrem.
func gatewayTieSnapshot(onPrem string, peer, endpoint bool) *network.Snapshot {
	vnet1 := network.VirtualNetwork{Meta: network.Meta{Name: "vnet1", Location: "eastus"}}
	vnet1.Properties.AddressSpace.AddressPrefixes = []string{"10.1.0.0/16"}
	s := network.Subnet{Name: "s", Properties: network.SubnetProperties{AddressPrefix: "10.1.0.0/24"}}
	if endpoint {
		s.Properties.ServiceEndpoints = []network.ServiceEndpoint{{Service: "Microsoft.Storage"}}
	}
	vnet1.Properties.Subnets = []network.Subnet{s, {Name: "GatewaySubnet", Properties: network.SubnetProperties{AddressPrefix: "10.1.255.0/27"}}}
	snap := &network.Snapshot{VirtualNetworks: []network.VirtualNetwork{vnet1}}
	if peer {
		vnet2 := network.VirtualNetwork{Meta: network.Meta{Name: "vnet2", Location: "eastus"}}
		vnet2.Properties.AddressSpace.AddressPrefixes = []string{"10.2.0.0/16"}
		snap.VirtualNetworks[0].Properties.VirtualNetworkPeerings = []network.VirtualNetworkPeering{{Name: "to-vnet2",
			Properties: network.PeeringProperties{RemoteVirtualNetwork: &network.SubResource{ID: id(network.TypeVirtualNetwork, "vnet2")}, PeeringState: "Connected"}}}
		snap.VirtualNetworks = append(snap.VirtualNetworks, vnet2)
	}
	snap.NetworkInterfaces = []network.NetworkInterface{{Meta: network.Meta{Name: "nic", Location: "eastus"},
		Properties: network.NICProperties{IPConfigurations: []network.IPConfiguration{{Name: "ipconfig1", Properties: network.IPConfigurationProperties{
			PrivateIPAddress: "10.1.0.4", Subnet: &network.SubResource{ID: id(network.TypeSubnet, "vnet1/s")}}}}}}}
	snap.VirtualNetworkGateways = []network.VirtualNetworkGateway{{Meta: network.Meta{Name: "gw", Location: "eastus"},
		Properties: network.VirtualNetworkGatewayProperties{GatewayType: "Vpn", IPConfigurations: []network.GatewayIPConfiguration{{Name: "ipconfig",
			Properties: network.GatewayIPConfigurationProperties{Subnet: &network.SubResource{ID: id(network.TypeSubnet, "vnet1/GatewaySubnet")}}}}}}}
	snap.LocalNetworkGateways = []network.LocalNetworkGateway{{Meta: network.Meta{Name: "onprem", Location: "eastus"},
		Properties: network.LocalNetworkGatewayProperties{LocalNetworkAddressSpace: network.AddressSpace{AddressPrefixes: []string{onPrem}}}}}
	snap.Connections = []network.Connection{{Meta: network.Meta{Name: "conn", Location: "eastus"},
		Properties: network.ConnectionProperties{ConnectionType: "IPsec", ConnectionStatus: "Connected",
			VirtualNetworkGateway1: &network.SubResource{ID: id(network.TypeVirtualNetworkGateway, "gw")},
			LocalNetworkGateway2:   &network.SubResource{ID: id(network.TypeLocalNetworkGateway, "onprem")}}}}
	snap.Normalize()
	return snap
}
