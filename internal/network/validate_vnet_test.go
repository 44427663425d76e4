package network

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func subnet(name, prefix string) Subnet {
	return Subnet{Name: name, ID: vnetID + "/subnets/" + name, Properties: SubnetProperties{AddressPrefix: prefix}}
}

func vnet(space []string, subnets ...Subnet) *VirtualNetwork {
	return &VirtualNetwork{Meta: Meta{Name: "ml-vnet", ID: vnetID}, Properties: VirtualNetworkProperties{
		AddressSpace: AddressSpace{AddressPrefixes: space}, Subnets: subnets,
	}}
}

func TestValidateVirtualNetwork(t *testing.T) {
	sp := func(i int) string { return fmt.Sprintf("properties.subnets[%d]", i) }
	as := func(i int) string { return fmt.Sprintf("properties.addressSpace.addressPrefixes[%d]", i) }
	space := []string{"10.0.0.0/16"}
	withEndpoint := func(s Subnet, svc ...string) Subnet {
		for _, x := range svc {
			s.Properties.ServiceEndpoints = append(s.Properties.ServiceEndpoints, ServiceEndpoint{Service: x, Locations: []string{"eastus"}})
		}
		return s
	}
	withRefs := func(s Subnet, nsg, rt string) Subnet {
		s.Properties.NetworkSecurityGroup, s.Properties.RouteTable = &SubResource{ID: nsg}, &SubResource{ID: rt}
		return s
	}
	multi := subnet("multi", "")
	multi.Properties.AddressPrefixes = []string{"10.0.8.0/24", "10.0.9.1/24"}
	peer := func(p VirtualNetworkPeering) func(*VirtualNetwork) {
		return func(v *VirtualNetwork) {
			v.Properties.VirtualNetworkPeerings = append(v.Properties.VirtualNetworkPeerings, p)
		}
	}
	remote := &SubResource{ID: sub + "/providers/Microsoft.Network/virtualNetworks/hub"}
	tests := []struct {
		name   string
		vnet   *VirtualNetwork
		mutate func(*VirtualNetwork)
		want   []finding
	}{
		{"valid", vnet(space, subnet("training", "10.0.1.0/24"), subnet("aks", "10.0.4.0/22")), nil, nil},
		{"two ranges and a subnet in the second", vnet([]string{"10.0.0.0/16", "100.64.0.0/24"}, subnet("a", "100.64.0.0/29")), nil, nil},
		{"dual stack", vnet([]string{"10.0.0.0/16", "fd00:db8::/48"}, subnet("a", "10.0.0.0/24"), subnet("b", "fd00:db8::/64")), nil, nil},
		{"name too short", vnet(space), func(v *VirtualNetwork) { v.Name = "v" }, []finding{{CodeInvalidResourceName, "name"}}},
		{"no address space", vnet(nil), nil, []finding{{CodeVnetAddressSpaceMissing, "properties.addressSpace.addressPrefixes"}}},
		{"address space host bits", vnet([]string{"10.0.0.1/16"}), nil, []finding{{CodeInvalidCIDRNotation, as(0)}}},
		{"address space not CIDR", vnet([]string{"10.0.0.0"}), nil, []finding{{CodeInvalidAddressPrefixFormat, as(0)}}},
		{"address space garbage", vnet([]string{"ten/8"}), nil, []finding{{CodeInvalidAddressPrefixFormat, as(0)}}},
		{"address space multicast", vnet([]string{"224.0.0.0/24"}), nil, []finding{{CodeVnetAddressSpaceReservedRange, as(0)}}},
		{"address space loopback", vnet([]string{"127.0.0.0/16"}), nil, []finding{{CodeVnetAddressSpaceReservedRange, as(0)}}},
		{"address space link-local", vnet([]string{"169.254.0.0/24"}), nil, []finding{{CodeVnetAddressSpaceReservedRange, as(0)}}},
		{"address space host VIP", vnet([]string{"168.63.128.0/23"}), nil, []finding{{CodeVnetAddressSpaceReservedRange, as(0)}}},
		{"address space broadcast", vnet([]string{"255.255.255.255/32"}), nil, []finding{{CodeVnetAddressSpaceReservedRange, as(0)}}},
		{"address space everything", vnet([]string{"0.0.0.0/0"}), nil, []finding{{CodeVnetAddressSpaceReservedRange, as(0)}}},
		{"address space self-overlap", vnet([]string{"10.0.0.0/16", "10.0.128.0/17"}), nil, []finding{{CodeVnetAddressSpaceRangesOverlap, as(1)}}},
		{"address space duplicate", vnet([]string{"10.0.0.0/16", "10.0.0.0/16"}), nil, []finding{{CodeVnetAddressSpaceRangesOverlap, as(1)}}},
		{"subnet host bits", vnet([]string{"10.1.0.0/16"}, subnet("a", "10.1.0.1/24")), nil, []finding{{CodeInvalidCIDRNotation, sp(0) + ".properties.addressPrefix"}}},
		{"subnet prefix list element host bits", vnet(space, multi), nil, []finding{{CodeInvalidCIDRNotation, sp(0) + ".properties.addressPrefixes[1]"}}},
		{"subnet outside the space", vnet(space, subnet("a", "10.1.0.0/24")), nil, []finding{{CodeNetcfgSubnetRangeOutsideVnet, sp(0) + ".properties.addressPrefix"}}},
		{"subnet larger than the space", vnet(space, subnet("a", "10.0.0.0/15")), nil, []finding{{CodeNetcfgSubnetRangeOutsideVnet, sp(0) + ".properties.addressPrefix"}}},
		{"subnet /29", vnet(space, subnet("a", "10.0.0.8/29")), nil, nil},
		{"subnet /30", vnet(space, subnet("a", "10.0.0.4/30")), nil, []finding{{CodeNetcfgInvalidSubnet, sp(0) + ".properties.addressPrefix"}}},
		{"subnet /32", vnet(space, subnet("a", "10.0.0.4/32")), nil, []finding{{CodeNetcfgInvalidSubnet, sp(0) + ".properties.addressPrefix"}}},
		{"subnet /1", vnet(space, subnet("a", "128.0.0.0/1")), nil, []finding{{CodeNetcfgInvalidSubnet, sp(0) + ".properties.addressPrefix"}}},
		{"IPv6 subnet not /64", vnet([]string{"10.0.0.0/16", "fd00:db8::/48"}, subnet("b", "fd00:db8::/80")), nil,
			[]finding{{CodeNetcfgInvalidSubnet, sp(0) + ".properties.addressPrefix"}}},
		{"subnets overlap", vnet(space, subnet("a", "10.0.0.0/24"), subnet("b", "10.0.0.128/25")), nil,
			[]finding{{CodeNetcfgSubnetRangesOverlap, sp(1) + ".properties.addressPrefix"}}},
		{"subnet without prefix", vnet(space, subnet("a", "")), nil, []finding{{CodeSubnetAddressPrefixMissing, sp(0) + ".properties.addressPrefix"}}},
		{"subnet names repeat", vnet(space, subnet("a", "10.0.0.0/24"), subnet("A", "10.0.1.0/24")), nil,
			[]finding{{CodeDuplicateResourceName, sp(1) + ".name"}}},
		{"subnet name invalid", vnet(space, subnet("a!", "10.0.0.0/24")), nil, []finding{{CodeInvalidResourceName, sp(0) + ".name"}}},
		{"service endpoints", vnet(space, withEndpoint(subnet("a", "10.0.0.0/24"), "Microsoft.Storage", "microsoft.keyvault", "Microsoft.Storage.Global")), nil, nil},
		{"service endpoint misspelled", vnet(space, withEndpoint(subnet("a", "10.0.0.0/24"), "Microsoft.Storag")), nil,
			[]finding{{CodeInvalidServiceNameOnServiceEndpoint, sp(0) + ".properties.serviceEndpoints[0].service"}}},
		{"subnet references well formed", vnet(space, withRefs(subnet("a", "10.0.0.0/24"), nsgID, rtID)), nil, nil},
		{"subnet references malformed", vnet(space, withRefs(subnet("a", "10.0.0.0/24"), "ml-nsg", nsgID)), nil, []finding{
			{CodeInvalidResourceReference, sp(0) + ".properties.networkSecurityGroup.id"},
			{CodeInvalidResourceReference, sp(0) + ".properties.routeTable.id"},
		}},
		{"peering", vnet(space), peer(VirtualNetworkPeering{Name: "to-hub", Properties: PeeringProperties{
			RemoteVirtualNetwork: remote, RemoteAddressSpace: &AddressSpace{AddressPrefixes: []string{"10.1.0.0/16"}}}}), nil},
		{"peering without remote network", vnet(space), peer(VirtualNetworkPeering{Name: "to-hub"}),
			[]finding{{CodePeeringRemoteVirtualNetworkMissing, "properties.virtualNetworkPeerings[0].properties.remoteVirtualNetwork"}}},
		{"peering overlapping spaces", vnet(space), peer(VirtualNetworkPeering{Name: "to-hub", Properties: PeeringProperties{
			RemoteVirtualNetwork: remote, RemoteAddressSpace: &AddressSpace{AddressPrefixes: []string{"10.0.128.0/17"}}}}),
			[]finding{{CodeVnetAddressSpacesOverlap, "properties.virtualNetworkPeerings[0]"}}},
		{"peering remote space bad", vnet(space), peer(VirtualNetworkPeering{Name: "to-hub", Properties: PeeringProperties{
			RemoteVirtualNetwork: remote, RemoteAddressSpace: &AddressSpace{AddressPrefixes: []string{"10.1.0.1/16"}}}}),
			[]finding{{CodeInvalidCIDRNotation, "properties.virtualNetworkPeerings[0].properties.remoteAddressSpace.addressPrefixes[0]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mutate != nil {
				tt.mutate(tt.vnet)
			}
			if diff := cmp.Diff(tt.want, findings(ValidateVirtualNetwork(tt.vnet))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidateVirtualNetworkMessages pins the message shapes of spec §7.
func TestValidateVirtualNetworkMessages(t *testing.T) {
	tests := []struct {
		name string
		vnet *VirtualNetwork
		code string
		want string
	}{
		{"host bits (spec example)", vnet([]string{"10.1.0.0/16"}, subnet("a", "10.1.0.1/24")), CodeInvalidCIDRNotation,
			"The address prefix 10.1.0.1/24 in resource " + vnetID + "/subnets/a has an invalid CIDR notation. For the given prefix length, the address prefix should be 10.1.0.0/24."},
		{"outside", vnet([]string{"10.0.0.0/16"}, subnet("x", "10.1.0.0/24")), CodeNetcfgSubnetRangeOutsideVnet,
			"Subnet 'x' is not valid because its IP address range is outside the IP address range of virtual network 'ml-vnet'."},
		{"overlap", vnet([]string{"10.0.0.0/16"}, subnet("y", "10.0.0.0/24"), subnet("x", "10.0.0.0/26")), CodeNetcfgSubnetRangesOverlap,
			"Subnet 'x' is not valid because its IP address range overlaps with that of an existing subnet 'y' in virtual network 'ml-vnet'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ValidateVirtualNetwork(tt.vnet)
			if msg := messageOf(l, tt.code); !strings.HasPrefix(msg, tt.want) {
				t.Errorf("message of %s:\n got %q\nwant %q...\n(all: %v)", tt.code, msg, tt.want, l.Err())
			}
		})
	}
}
