package network

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateNIC(t *testing.T) {
	const ip = "properties.ipConfigurations[0].properties.privateIPAddress"
	s := fixture()
	multi := &s.VirtualNetworks[0].Properties.Subnets[2]
	multi.Properties.AddressPrefix = ""
	multi.Properties.AddressPrefixes = []string{"10.0.2.0/24", "10.0.3.0/29"}
	idx := NewIndex(s)
	nic := func(addr, subnetID string) *NetworkInterface {
		return &NetworkInterface{Meta: Meta{Name: "nic"}, Properties: NICProperties{IPConfigurations: []IPConfiguration{{
			Name: "ipconfig1", Properties: IPConfigurationProperties{PrivateIPAddress: addr, Subnet: &SubResource{ID: subnetID}},
		}}}}
	}
	tests := []struct {
		name string
		nic  *NetworkInterface
		idx  *Index
		want []finding
	}{
		{"first usable", nic("10.0.1.4", trainID), idx, nil},
		{"last usable", nic("10.0.1.254", trainID), idx, nil},
		{"dynamic", nic("", trainID), idx, nil},
		{"network address", nic("10.0.1.0", trainID), idx, []finding{{CodePrivateIPAddressInReservedRange, ip}}},
		{"gateway", nic("10.0.1.1", trainID), idx, []finding{{CodePrivateIPAddressInReservedRange, ip}}},
		{"DNS .2", nic("10.0.1.2", trainID), idx, []finding{{CodePrivateIPAddressInReservedRange, ip}}},
		{"DNS .3", nic("10.0.1.3", trainID), idx, []finding{{CodePrivateIPAddressInReservedRange, ip}}},
		{"broadcast", nic("10.0.1.255", trainID), idx, []finding{{CodePrivateIPAddressInReservedRange, ip}}},
		{"outside the subnet", nic("10.0.2.4", trainID), idx, []finding{{CodePrivateIPAddressNotInSubnet, ip}}},
		{"IPv6 in an IPv4 subnet", nic("fd00::4", trainID), idx, nil},
		{"not an address", nic("10.0.1", trainID), idx, []finding{{CodeInvalidPrivateIPAddress, ip}}},
		{"IPv4-mapped", nic("::ffff:10.0.1.4", trainID), idx, []finding{{CodeInvalidPrivateIPAddress, ip}}},
		{"second prefix of a subnet", nic("10.0.3.4", plainID), idx, nil},
		{"reserved in second prefix", nic("10.0.3.7", plainID), idx, []finding{{CodePrivateIPAddressInReservedRange, ip}}},
		{"subnet not loaded", nic("10.0.9.4", vnetID+"/subnets/gone"), idx,
			[]finding{{CodeInvalidResourceReference, "properties.ipConfigurations[0].properties.subnet.id"}}},
		{"subnet not loaded, no index", nic("10.0.9.4", vnetID+"/subnets/gone"), nil, nil},
		{"subnet id of a VNet", nic("10.0.1.4", vnetID), idx,
			[]finding{{CodeInvalidResourceReference, "properties.ipConfigurations[0].properties.subnet.id"}}},
		{"no subnet", &NetworkInterface{Properties: NICProperties{IPConfigurations: []IPConfiguration{{Name: "c"}}}}, idx,
			[]finding{{CodeInvalidResourceReference, "properties.ipConfigurations[0].properties.subnet"}}},
		{"no ip configuration", &NetworkInterface{Meta: Meta{Name: "empty"}}, idx,
			[]finding{{CodeInvalidResourceReference, "properties.ipConfigurations"}}},
		{"NSG and ASG not loaded", func() *NetworkInterface {
			n := nic("10.0.1.4", trainID)
			n.Properties.NetworkSecurityGroup = &SubResource{ID: nsgID + "x"}
			n.Properties.IPConfigurations[0].Properties.ApplicationSecurityGroups = []SubResource{{ID: asgID + "x"}}
			return n
		}(), idx, []finding{
			{CodeInvalidResourceReference, "properties.networkSecurityGroup.id"},
			{CodeInvalidResourceReference, "properties.ipConfigurations[0].properties.applicationSecurityGroups[0].id"},
		}},
		{"ip configuration names repeat", func() *NetworkInterface {
			n := nic("10.0.1.4", trainID)
			c := n.Properties.IPConfigurations[0]
			c.Properties.PrivateIPAddress = "10.0.1.5"
			n.Properties.IPConfigurations = append(n.Properties.IPConfigurations, c)
			return n
		}(), idx, []finding{{CodeDuplicateResourceName, "properties.ipConfigurations[1].name"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, findings(ValidateNIC(tt.nic, tt.idx))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("message", func(t *testing.T) {
		l := ValidateNIC(nic("10.0.1.1", trainID), idx)
		want := "Private static IP address 10.0.1.1 falls within reserved IP range of subnet prefix 10.0.1.0/24: Azure reserves the first four addresses and the last one of every subnet (this one is the default gateway). Use an address from 10.0.1.4-10.0.1.254."
		if msg := messageOf(l, CodePrivateIPAddressInReservedRange); msg != want {
			t.Errorf("message:\n got %q\nwant %q", msg, want)
		}
	})
}
