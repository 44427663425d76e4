package network

import (
	"slices"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
)

// TestValidateChanged: only the changed resources are checked, references
// resolve against the whole snapshot, and an address taken twice is blamed
// on the changed interface whatever the order.
func TestValidateChanged(t *testing.T) {
	const sub = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
	prio := 100
	s := &Snapshot{
		VirtualNetworks: []VirtualNetwork{{Meta: Meta{Name: "v", ID: sub + "virtualNetworks/v"},
			Properties: VirtualNetworkProperties{AddressSpace: AddressSpace{AddressPrefixes: []string{"10.0.0.0/16"}},
				Subnets: []Subnet{{Name: "s", Properties: SubnetProperties{AddressPrefix: "10.0.0.0/24"}}}}}},
		NetworkSecurityGroups: []NetworkSecurityGroup{
			// Invalid, but unchanged: not reported.
			{Meta: Meta{Name: "old", ID: sub + "networkSecurityGroups/old"}, Properties: NSGProperties{SecurityRules: []SecurityRule{
				{Name: "r", Properties: SecurityRuleProperties{Protocol: "Tcp", Access: "Allow", Direction: "Inbound"}}}}},
			{Meta: Meta{Name: "new", ID: sub + "networkSecurityGroups/new"}, Properties: NSGProperties{SecurityRules: []SecurityRule{
				{Name: "r", Properties: SecurityRuleProperties{Protocol: "Tcp", Access: "Allow", Direction: "Inbound", Priority: &prio,
					SourceAddressPrefix: "*", DestinationAddressPrefix: "*", SourcePortRange: "*", DestinationPortRange: "*"}}}}},
		},
	}
	nic := func(name string) NetworkInterface {
		return NetworkInterface{Meta: Meta{Name: name, ID: sub + "networkInterfaces/" + name},
			Properties: NICProperties{IPConfigurations: []IPConfiguration{{Name: "ip", Properties: IPConfigurationProperties{
				PrivateIPAddress: "10.0.0.4", PrivateIPAllocationMethod: "Static",
				Subnet: &SubResource{ID: sub + "virtualNetworks/v/subnets/s"}}}}}}
	}
	s.NetworkInterfaces = []NetworkInterface{nic("b-new"), nic("a-old")}
	s.Normalize()
	changed := func(ids ...string) func(string) bool {
		return func(id string) bool { return slices.ContainsFunc(ids, func(x string) bool { return SameID(x, id) }) }
	}
	if err := s.ValidateChanged(nil, changed(sub+"networkSecurityGroups/new")); err != nil {
		t.Errorf("changing a valid NSG: %v", err)
	}
	if err := s.Validate(nil); err == nil {
		t.Error("Validate of the whole snapshot passed; the old NSG has a rule without priority")
	}
	err := s.ValidateChanged(nil, changed(sub+"networkInterfaces/b-new"))
	e, ok := armerror.As(err)
	if !ok || !slices.Contains(armerror.Codes(err), CodePrivateIPAddressInUse) || e.Target != "networkInterfaces[b-new].properties.ipConfigurations[0].properties.privateIPAddress" {
		t.Errorf("changing b-new to a taken address: %v (target %q), want PrivateIPAddressInUse on b-new", err, e.Target)
	}
}
