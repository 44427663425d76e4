package network

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vnetml/vnetml/internal/armerror"
)

// finding is what tests compare of an error: its code and target.
type finding struct{ Code, Target string }

func findings(l *armerror.List) []finding {
	var out []finding
	for _, e := range l.Errs {
		out = append(out, finding{e.Code, e.Target})
	}
	return out
}

// errFindings flattens the error Snapshot.Validate returns.
func errFindings(t *testing.T, err error) []finding {
	t.Helper()
	if err == nil {
		return nil
	}
	e, ok := armerror.As(err)
	if !ok {
		t.Fatalf("error is not an *armerror.Error: %v", err)
	}
	if len(e.Details) == 0 {
		return []finding{{e.Code, e.Target}}
	}
	if e.Code != "InvalidRequestContent" {
		t.Errorf("multi-error code = %s, want InvalidRequestContent", e.Code)
	}
	var out []finding
	for _, d := range e.Details {
		out = append(out, finding{d.Code, d.Target})
	}
	return out
}

// messageOf returns the message of the first error with the given code.
func messageOf(l *armerror.List, code string) string {
	for _, e := range l.Errs {
		if e.Code == code {
			return e.Message
		}
	}
	return ""
}

// testTags knows a few published tags; it does not list the computed ones,
// which Validate must accept anyway.
type testTags map[string]bool

func (t testTags) HasTag(name string) bool { return t[strings.ToLower(name)] }

var tags = testTags{
	"storage": true, "storage.eastus": true, "azuremachinelearning": true,
	"batchnodemanagement.eastus": true, "azurecloud.eastus": true, "azurekeyvault.eastus": true,
}

// suggestingTags also proposes names, as servicetag.Registry does.
type suggestingTags struct{ testTags }

func (suggestingTags) Suggest(string, int) []string { return []string{"Storage.EastUS"} }

func prio(p int) *int { return &p }

const (
	sub     = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml"
	vnetID  = sub + "/providers/Microsoft.Network/virtualNetworks/ml-vnet"
	nsgID   = sub + "/providers/Microsoft.Network/networkSecurityGroups/ml-nsg"
	rtID    = sub + "/providers/Microsoft.Network/routeTables/ml-rt"
	asgID   = sub + "/providers/Microsoft.Network/applicationSecurityGroups/ml-asg"
	trainID = vnetID + "/subnets/training"
	aksID   = vnetID + "/subnets/aks"
	plainID = vnetID + "/subnets/plain"
)

// rule returns a valid rule.
func rule(name string, priority int, dir string) SecurityRule {
	return SecurityRule{Name: name, Properties: SecurityRuleProperties{
		Protocol: "Tcp", SourcePortRange: "*", DestinationPortRange: "443",
		SourceAddressPrefix: "VirtualNetwork", DestinationAddressPrefix: "Storage.EastUS",
		Access: "Allow", Priority: prio(priority), Direction: dir,
	}}
}

// fixture returns a valid, normalized snapshot: the AML-in-a-VNet layout.
func fixture() *Snapshot {
	s := &Snapshot{
		VirtualNetworks: []VirtualNetwork{{
			Meta: Meta{Name: "ml-vnet", ID: vnetID, Location: "eastus"},
			Properties: VirtualNetworkProperties{
				AddressSpace: AddressSpace{AddressPrefixes: []string{"10.0.0.0/16"}},
				Subnets: []Subnet{
					{Name: "training", Properties: SubnetProperties{
						AddressPrefix:        "10.0.1.0/24",
						NetworkSecurityGroup: &SubResource{ID: nsgID},
						RouteTable:           &SubResource{ID: rtID},
						ServiceEndpoints: []ServiceEndpoint{
							{Service: "Microsoft.Storage", Locations: []string{"eastus"}},
							{Service: "Microsoft.KeyVault", Locations: []string{"*"}},
						},
					}},
					{Name: "aks", Properties: SubnetProperties{AddressPrefix: "10.0.4.0/22"}},
					{Name: "plain", Properties: SubnetProperties{AddressPrefix: "10.0.2.0/24"}},
				},
			},
		}},
		NetworkSecurityGroups: []NetworkSecurityGroup{{
			Meta: Meta{Name: "ml-nsg", ID: nsgID},
			Properties: NSGProperties{SecurityRules: []SecurityRule{
				{Name: "BatchNodeManagement", Properties: SecurityRuleProperties{
					Protocol: "Tcp", SourcePortRange: "*", DestinationPortRange: "29876-29877",
					SourceAddressPrefix: "BatchNodeManagement.EastUS", DestinationAddressPrefix: "*",
					Access: "Allow", Priority: prio(100), Direction: "Inbound"}},
				{Name: "AzureMachineLearning", Properties: SecurityRuleProperties{
					Protocol: "Tcp", SourcePortRange: "*", DestinationPortRange: "44224",
					SourceAddressPrefix: "AzureMachineLearning", DestinationApplicationSecurityGroups: []SubResource{{ID: asgID}},
					Access: "Allow", Priority: prio(110), Direction: "Inbound"}},
				{Name: "Storage", Properties: SecurityRuleProperties{
					Protocol: "Tcp", SourcePortRange: "*", DestinationPortRanges: []string{"443", "445"},
					SourceAddressPrefix: "VirtualNetwork", DestinationAddressPrefix: "Storage.EastUS",
					Access: "Allow", Priority: prio(100), Direction: "Outbound"}},
				{Name: "DenyInternet", Properties: SecurityRuleProperties{
					Protocol: "*", SourcePortRange: "*", DestinationPortRange: "*",
					SourceAddressPrefixes: []string{"10.0.1.0/24", "10.0.2.0/24"}, DestinationAddressPrefix: "Internet",
					Access: "Deny", Priority: prio(4000), Direction: "Outbound"}},
			}},
		}},
		ApplicationSecGroups: []ApplicationSecurityGroup{{Meta: Meta{Name: "ml-asg", ID: asgID}}},
		RouteTables: []RouteTable{{
			Meta: Meta{Name: "ml-rt", ID: rtID},
			Properties: RouteTableProperties{Routes: []Route{
				route("to-firewall", "0.0.0.0/0", "VirtualAppliance", "10.0.2.4"),
				route("batch", "BatchNodeManagement.EastUS", "Internet", ""),
			}},
		}},
		NetworkInterfaces: []NetworkInterface{
			{Meta: Meta{Name: "train-nic"}, Properties: NICProperties{
				NetworkSecurityGroup: &SubResource{ID: nsgID},
				IPConfigurations: []IPConfiguration{{Name: "ipconfig1", Properties: IPConfigurationProperties{
					PrivateIPAddress: "10.0.1.4", PrivateIPAllocationMethod: "Static", Subnet: &SubResource{ID: trainID},
					ApplicationSecurityGroups: []SubResource{{ID: asgID}},
				}}},
			}},
			{Meta: Meta{Name: "fw-nic"}, Properties: NICProperties{
				EnableIPForwarding: true,
				IPConfigurations: []IPConfiguration{{Name: "ipconfig1", Properties: IPConfigurationProperties{
					PrivateIPAddress: "10.0.2.4", Subnet: &SubResource{ID: plainID},
				}}},
			}},
		},
		LocalNetworkGateways: []LocalNetworkGateway{{Meta: Meta{Name: "onprem"}, Properties: LocalNetworkGatewayProperties{
			LocalNetworkAddressSpace: AddressSpace{AddressPrefixes: []string{"192.168.0.0/16"}}}}},
		StorageAccounts: []StorageAccount{{Meta: Meta{Name: "mlstore"}, Properties: StorageAccountProperties{NetworkAcls: &NetworkRuleSet{
			Bypass: "AzureServices", DefaultAction: "Deny",
			IPRules:             []IPRule{{Value: "52.1.2.3", Action: "Allow"}, {Value: "203.0.113.0/24"}},
			VirtualNetworkRules: []VirtualNetworkRule{{ID: trainID, Action: "Allow"}},
		}}}},
		KeyVaults: []KeyVault{{Meta: Meta{Name: "mlvault"}, Properties: KeyVaultProperties{NetworkAcls: &NetworkRuleSet{
			Bypass: "AzureServices", DefaultAction: "Deny",
			IPRules:             []IPRule{{Value: "52.1.2.3/32"}},
			VirtualNetworkRules: []VirtualNetworkRule{{ID: trainID}},
		}}}},
	}
	s.Normalize()
	return s
}

func TestSnapshotValidate(t *testing.T) {
	const (
		v0  = "virtualNetworks[ml-vnet]"
		n0  = "networkSecurityGroups[ml-nsg]"
		nic = "networkInterfaces[train-nic]"
	)
	tests := []struct {
		name   string
		mutate func(s *Snapshot)
		want   []finding
	}{
		{"valid", func(*Snapshot) {}, nil},
		{"rule priority (target example)", func(s *Snapshot) {
			s.NetworkSecurityGroups[0].Properties.SecurityRules[2].Properties.Priority = prio(5000)
		},
			[]finding{{CodeSecurityRuleInvalidPriority, n0 + ".properties.securityRules[2].properties.priority"}}},
		{"subnet's NSG not loaded", func(s *Snapshot) { s.NetworkSecurityGroups = nil },
			[]finding{
				{CodeInvalidResourceReference, v0 + ".properties.subnets[0].properties.networkSecurityGroup.id"},
				{CodeInvalidResourceReference, nic + ".properties.networkSecurityGroup.id"},
			}},
		{"subnet's route table not loaded", func(s *Snapshot) { s.RouteTables = nil },
			[]finding{{CodeInvalidResourceReference, v0 + ".properties.subnets[0].properties.routeTable.id"}}},
		{"application security group not loaded", func(s *Snapshot) { s.ApplicationSecGroups = nil },
			[]finding{
				{CodeInvalidResourceReference, n0 + ".properties.securityRules[1].properties.destinationApplicationSecurityGroups[0].id"},
				{CodeInvalidResourceReference, nic + ".properties.ipConfigurations[0].properties.applicationSecurityGroups[0].id"},
			}},
		{"resource loaded twice", func(s *Snapshot) { s.RouteTables = append(s.RouteTables, s.RouteTables[0]) },
			[]finding{{CodeDuplicateResource, "routeTables[ml-rt].id"}}},
		{"private IP taken twice", func(s *Snapshot) {
			n := s.NetworkInterfaces[0]
			n.Name, n.ID = "other-nic", ""
			n.Properties.IPConfigurations = slices.Clone(n.Properties.IPConfigurations)
			n.Properties.IPConfigurations[0].ID = ""
			s.NetworkInterfaces = append(s.NetworkInterfaces, n)
		}, []finding{{CodePrivateIPAddressInUse, "networkInterfaces[other-nic].properties.ipConfigurations[0].properties.privateIPAddress"}}},
		{"peered networks overlap", func(s *Snapshot) {
			hub := VirtualNetwork{Meta: Meta{Name: "hub"}, Properties: VirtualNetworkProperties{AddressSpace: AddressSpace{AddressPrefixes: []string{"10.0.0.0/8"}}}}
			s.VirtualNetworks = append(s.VirtualNetworks, hub)
			s.Normalize()
			s.VirtualNetworks[0].Properties.VirtualNetworkPeerings = []VirtualNetworkPeering{{Name: "to-hub", Properties: PeeringProperties{
				RemoteVirtualNetwork: &SubResource{ID: s.VirtualNetworks[1].ID},
				// What the peering reports is stale; the loaded hub wins.
				RemoteAddressSpace: &AddressSpace{AddressPrefixes: []string{"172.16.0.0/16"}},
			}}}
		}, []finding{{CodeVnetAddressSpacesOverlap, v0 + ".properties.virtualNetworkPeerings[0]"}}},
		{"local network gateway prefix", func(s *Snapshot) {
			s.LocalNetworkGateways[0].Properties.LocalNetworkAddressSpace.AddressPrefixes[0] = "192.168.1.0/16"
		}, []finding{{CodeInvalidCIDRNotation, "localNetworkGateways[onprem].properties.localNetworkAddressSpace.addressPrefixes[0]"}}},
		{"storage IP rule", func(s *Snapshot) { s.StorageAccounts[0].Properties.NetworkAcls.IPRules[0].Value = "10.0.0.1" },
			[]finding{{CodeInvalidValuesForRequestParameters, "storageAccounts[mlstore].properties.networkAcls.ipRules[0].value"}}},
		{"storage rule subnet without endpoint", func(s *Snapshot) {
			s.StorageAccounts[0].Properties.NetworkAcls.VirtualNetworkRules[0].ID = plainID
		}, []finding{{CodeNetworkAclsValidationFailure, "storageAccounts[mlstore].properties.networkAcls.virtualNetworkRules[0].id"}}},
		{"key vault rule subnet not loaded", func(s *Snapshot) {
			s.KeyVaults[0].Properties.NetworkAcls.VirtualNetworkRules[0].ID = vnetID + "/subnets/gone"
		}, []finding{{CodeNetworkAclsValidationFailure, "keyVaults[mlvault].properties.networkAcls.virtualNetworkRules[0].id"}}},
		{"nameless resource", func(s *Snapshot) {
			s.RouteTables = append(s.RouteTables, RouteTable{Meta: Meta{ID: sub + "/providers/Microsoft.Network/routeTables/x"},
				Properties: RouteTableProperties{Routes: []Route{route("r", "10.9.0.0/16", "Nope", "")}}})
		}, []finding{{CodeInvalidNextHopType, "routeTables[#1].properties.routes[0].properties.nextHopType"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixture()
			tt.mutate(s)
			if diff := cmp.Diff(tt.want, errFindings(t, s.Validate(tags))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("nil resolver", func(t *testing.T) {
		if err := fixture().Validate(nil); err != nil {
			t.Errorf("Validate(nil) = %v", err)
		}
	})
}

// TestSnapshotValidateReportsEveryError: a document with many distinct
// mistakes reports each of them, in one InvalidRequestContent error.
func TestSnapshotValidateReportsEveryError(t *testing.T) {
	s := fixture()
	v := &s.VirtualNetworks[0].Properties
	v.AddressSpace.AddressPrefixes = append(v.AddressSpace.AddressPrefixes, "10.0.0.0/8")
	v.Subnets[1].Properties.AddressPrefix = "10.0.1.128/25"
	rules := s.NetworkSecurityGroups[0].Properties.SecurityRules
	rules[0].Properties.Priority = prio(0)
	rules[2].Properties.Priority = prio(110)
	rules[2].Properties.Direction = "Inbound"
	rules[3].Properties.SourceAddressPrefixes = append(rules[3].Properties.SourceAddressPrefixes, "Internet")
	s.RouteTables[0].Properties.Routes[0].Properties.NextHopIPAddress = ""
	s.NetworkInterfaces[0].Properties.IPConfigurations[0].Properties.PrivateIPAddress = "10.0.1.255"
	s.StorageAccounts[0].Properties.NetworkAcls.Bypass = "None,Logging"
	s.KeyVaults[0].Properties.NetworkAcls.IPRules[0].Value = "2001:db8::1"

	err := s.Validate(tags)
	want := []finding{
		{CodeVnetAddressSpaceRangesOverlap, "virtualNetworks[ml-vnet].properties.addressSpace.addressPrefixes[1]"},
		{CodeNetcfgSubnetRangesOverlap, "virtualNetworks[ml-vnet].properties.subnets[1].properties.addressPrefix"},
		{CodeSecurityRuleInvalidPriority, "networkSecurityGroups[ml-nsg].properties.securityRules[0].properties.priority"},
		{CodeSecurityRuleConflict, "networkSecurityGroups[ml-nsg].properties.securityRules[2].properties.priority"},
		{CodeSecurityRuleParameterContainsUnsupportedValue, "networkSecurityGroups[ml-nsg].properties.securityRules[3].properties.sourceAddressPrefixes[2]"},
		{CodeMissingNextHopIpAddress, "routeTables[ml-rt].properties.routes[0].properties.nextHopIpAddress"},
		{CodePrivateIPAddressInReservedRange, "networkInterfaces[train-nic].properties.ipConfigurations[0].properties.privateIPAddress"},
		{CodeInvalidValuesForRequestParameters, "storageAccounts[mlstore].properties.networkAcls.bypass"},
		{CodeInvalidValuesForRequestParameters, "keyVaults[mlvault].properties.networkAcls.ipRules[0].value"},
	}
	if diff := cmp.Diff(want, errFindings(t, err)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	var codes []string
	for _, f := range want {
		codes = append(codes, f.Code)
	}
	if diff := cmp.Diff(codes, armerror.Codes(err)); diff != "" {
		t.Errorf("armerror.Codes (-want +got):\n%s", diff)
	}
}

// TestValidateDecodedDocument runs the loader and Validate over ARM JSON as
// az prints it.
func TestValidateDecodedDocument(t *testing.T) {
	doc := `[
 {"name": "ml-vnet", "id": "` + vnetID + `", "type": "Microsoft.Network/virtualNetworks", "location": "eastus",
  "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
   "subnets": [{"name": "training", "properties": {"addressPrefix": "10.0.1.0/24",
     "networkSecurityGroup": {"id": "` + nsgID + `"},
     "serviceEndpoints": [{"service": "Microsoft.Storage", "locations": ["eastus"]}]}}]}},
 {"name": "ml-nsg", "id": "` + nsgID + `", "type": "Microsoft.Network/networkSecurityGroups",
  "properties": {"securityRules": [
   {"name": "AllowBatch", "properties": {"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "29876-29877",
     "sourceAddressPrefix": "BatchNodeManagement.EastUS", "destinationAddressPrefix": "*", "access": "Allow", "priority": 100, "direction": "Inbound"}},
   {"name": "AllowAML", "properties": {"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "44224",
     "sourceAddressPrefix": "AzureMachineLearning", "destinationAddressPrefix": "*", "access": "Allow", "priority": 110, "direction": "Inbound"}}],
   "defaultSecurityRules": [
    {"name": "AllowVnetInBound", "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": "VirtualNetwork", "sourceAddressPrefixes": [], "destinationAddressPrefix": "VirtualNetwork", "access": "Allow", "priority": 65000, "direction": "Inbound"}},
    {"name": "AllowAzureLoadBalancerInBound", "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": "AzureLoadBalancer", "destinationAddressPrefix": "*", "access": "Allow", "priority": 65001, "direction": "Inbound"}},
    {"name": "DenyAllInBound", "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": "Deny", "priority": 65500, "direction": "Inbound"}},
    {"name": "AllowVnetOutBound", "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": "VirtualNetwork", "destinationAddressPrefix": "VirtualNetwork", "access": "Allow", "priority": 65000, "direction": "Outbound"}},
    {"name": "AllowInternetOutBound", "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "Internet", "access": "Allow", "priority": 65001, "direction": "Outbound"}},
    {"name": "DenyAllOutBound", "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": "Deny", "priority": 65500, "direction": "Outbound"}}]}},
 {"name": "AllowStorage", "id": "` + nsgID + `/securityRules/AllowStorage", "type": "Microsoft.Network/networkSecurityGroups/securityRules",
  "properties": {"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "443", "sourceAddressPrefix": "VirtualNetwork",
   "destinationAddressPrefix": "Storage.EastUS", "access": "Allow", "priority": 110, "direction": "Inbound"}},
 {"name": "mlstore", "type": "Microsoft.Storage/storageAccounts", "properties": {"networkAcls": {"bypass": "Logging, Metrics, AzureServices",
  "defaultAction": "Deny", "ipRules": [{"value": "52.1.2.3", "action": "Allow"}],
  "virtualNetworkRules": [{"id": "` + trainID + `", "action": "Allow", "state": "Succeeded"}]}}}
]`
	// The standalone rule (as az network nsg rule show prints it) is merged
	// into ml-nsg by Finish; its priority clashes with AllowAML's.
	want := []finding{{CodeSecurityRuleConflict, "networkSecurityGroups[ml-nsg].properties.securityRules[2].properties.priority"}}
	var s2 Snapshot
	if err := s2.DecodeBytes("doc.json", []byte(doc)); err != nil {
		t.Fatalf("DecodeBytes: %v", err)
	}
	if err := s2.Finish(); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if diff := cmp.Diff(want, errFindings(t, s2.Validate(tags))); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	s2.NetworkSecurityGroups[0].Properties.SecurityRules[2].Properties.Priority = prio(120)
	if err := s2.Validate(tags); err != nil {
		t.Errorf("Validate after fixing the priority: %v", err)
	}
}
