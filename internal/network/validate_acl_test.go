package network

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateNetworkRuleSet(t *testing.T) {
	s := fixture()
	sn := &s.VirtualNetworks[0].Properties.Subnets
	(*sn)[1].Properties.ServiceEndpoints = []ServiceEndpoint{{Service: "Microsoft.Storage.Global"}}
	idx := NewIndex(s)
	storage := func(f func(*NetworkRuleSet)) *NetworkRuleSet {
		a := &NetworkRuleSet{Bypass: "AzureServices, Logging,Metrics", DefaultAction: "Deny",
			IPRules:             []IPRule{{Value: "52.1.2.3", Action: "Allow"}, {Value: "52.1.0.0/16"}, {Value: "203.0.113.0/30"}},
			VirtualNetworkRules: []VirtualNetworkRule{{ID: trainID, Action: "Allow"}, {ID: aksID}},
		}
		if f != nil {
			f(a)
		}
		return a
	}
	ipRule := func(v string) func(*NetworkRuleSet) {
		return func(a *NetworkRuleSet) { a.IPRules = []IPRule{{Value: v}} }
	}
	vnetRule := func(r VirtualNetworkRule) func(*NetworkRuleSet) {
		return func(a *NetworkRuleSet) { a.VirtualNetworkRules = []VirtualNetworkRule{r} }
	}
	const ip0, vr0 = "ipRules[0].value", "virtualNetworkRules[0].id"
	tests := []struct {
		name string
		acls *NetworkRuleSet
		kind string
		idx  *Index
		want []finding
	}{
		{"storage valid", storage(nil), ACLKindStorage, idx, nil},
		{"storage nil", nil, ACLKindStorage, idx, nil},
		{"storage bypass None", storage(func(a *NetworkRuleSet) { a.Bypass = "none" }), ACLKindStorage, idx, nil},
		{"storage bypass default", storage(func(a *NetworkRuleSet) { a.Bypass = "" }), ACLKindStorage, idx, nil},
		{"storage default action missing", storage(func(a *NetworkRuleSet) { a.DefaultAction = "" }), ACLKindStorage, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, "defaultAction"}}},
		{"storage default action bad", storage(func(a *NetworkRuleSet) { a.DefaultAction = "Block" }), ACLKindStorage, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, "defaultAction"}}},
		{"storage bypass None with others", storage(func(a *NetworkRuleSet) { a.Bypass = "None, AzureServices" }), ACLKindStorage, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, "bypass"}}},
		{"storage bypass unknown", storage(func(a *NetworkRuleSet) { a.Bypass = "AzureServices, Everything" }), ACLKindStorage, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, "bypass"}}},
		{"storage bypass empty token", storage(func(a *NetworkRuleSet) { a.Bypass = "AzureServices," }), ACLKindStorage, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, "bypass"}}},
		{"storage IP rule /30", storage(ipRule("52.1.2.0/30")), ACLKindStorage, idx, nil},
		{"storage IP rule /31", storage(ipRule("52.1.2.0/31")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule /32", storage(ipRule("52.1.2.3/32")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule RFC1918 10/8", storage(ipRule("10.0.0.1")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule RFC1918 172.16/12", storage(ipRule("172.16.5.0/24")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule RFC1918 192.168/16", storage(ipRule("192.168.1.1")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule 172.32 is public", storage(ipRule("172.32.0.1")), ACLKindStorage, idx, nil},
		{"storage IP rule loopback", storage(ipRule("127.0.0.1")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule link-local", storage(ipRule("169.254.169.254")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule shared space", storage(ipRule("100.64.0.1")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule multicast", storage(ipRule("224.0.0.1")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule IPv6", storage(ipRule("2001:db8::1")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule host bits", storage(ipRule("52.1.2.3/24")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule garbage", storage(ipRule("my laptop")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule empty", storage(ipRule("")), ACLKindStorage, idx, []finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"storage IP rule action", storage(func(a *NetworkRuleSet) { a.IPRules[0].Action = "Deny" }), ACLKindStorage, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, "ipRules[0].action"}}},
		{"storage 401 IP rules", storage(func(a *NetworkRuleSet) {
			a.IPRules = nil
			for i := range 401 {
				a.IPRules = append(a.IPRules, IPRule{Value: fmt.Sprintf("52.1.%d.%d", i/256, i%256)})
			}
		}), ACLKindStorage, idx, []finding{{CodeNetworkAclsRuleLimitExceeded, "ipRules"}}},
		{"storage subnet without endpoint", storage(vnetRule(VirtualNetworkRule{ID: plainID})), ACLKindStorage, idx,
			[]finding{{CodeNetworkAclsValidationFailure, vr0}}},
		// The flag is a key vault's (spec §6): storage checks regardless.
		{"storage subnet without endpoint, flag not honoured", storage(vnetRule(VirtualNetworkRule{ID: plainID, IgnoreMissingVnetServiceEndpoint: true})), ACLKindStorage, idx,
			[]finding{{Code: CodeNetworkAclsValidationFailure, Target: "virtualNetworkRules[0].id"}}},
		{"storage subnet id in other casing", storage(vnetRule(VirtualNetworkRule{ID: strings.ToUpper(trainID)})), ACLKindStorage, idx, nil},
		{"storage subnet not loaded", storage(vnetRule(VirtualNetworkRule{ID: vnetID + "/subnets/gone"})), ACLKindStorage, idx,
			[]finding{{CodeNetworkAclsValidationFailure, vr0}}},
		{"storage subnet not loaded, no index", storage(vnetRule(VirtualNetworkRule{ID: vnetID + "/subnets/gone"})), ACLKindStorage, nil, nil},
		{"storage rule id of a VNet", storage(vnetRule(VirtualNetworkRule{ID: vnetID})), ACLKindStorage, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, vr0}}},
		{"storage rule action", storage(vnetRule(VirtualNetworkRule{ID: trainID, Action: "Deny"})), ACLKindStorage, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, "virtualNetworkRules[0].action"}}},
		{"storage resource access rule", storage(func(a *NetworkRuleSet) { a.ResourceAccessRules = []ResourceAccessRule{{TenantID: "t"}} }), ACLKindStorage, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, "resourceAccessRules[0].resourceId"}}},
		{"key vault valid", &NetworkRuleSet{Bypass: "AzureServices", DefaultAction: "Deny",
			IPRules: []IPRule{{Value: "52.1.2.3/32"}, {Value: "52.1.2.0/31"}}, VirtualNetworkRules: []VirtualNetworkRule{{ID: trainID}}}, ACLKindKeyVault, idx, nil},
		{"key vault bypass Logging", &NetworkRuleSet{Bypass: "Logging", DefaultAction: "Allow"}, ACLKindKeyVault, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, "bypass"}}},
		{"key vault bypass list", &NetworkRuleSet{Bypass: "AzureServices, None", DefaultAction: "Allow"}, ACLKindKeyVault, idx,
			[]finding{{CodeInvalidValuesForRequestParameters, "bypass"}}},
		{"key vault private IP", &NetworkRuleSet{DefaultAction: "Deny", IPRules: []IPRule{{Value: "10.0.0.0/8"}}}, "KeyVault", idx,
			[]finding{{CodeInvalidValuesForRequestParameters, ip0}}},
		{"key vault subnet with storage endpoint only", &NetworkRuleSet{DefaultAction: "Deny",
			VirtualNetworkRules: []VirtualNetworkRule{{ID: aksID}}}, ACLKindKeyVault, idx, []finding{{CodeNetworkAclsValidationFailure, vr0}}},
		{"key vault subnet without endpoint, ignored", &NetworkRuleSet{DefaultAction: "Deny",
			VirtualNetworkRules: []VirtualNetworkRule{{ID: aksID, IgnoreMissingVnetServiceEndpoint: true}}}, ACLKindKeyVault, idx, nil},
		{"key vault 201 virtual network rules", &NetworkRuleSet{DefaultAction: "Deny",
			VirtualNetworkRules: slices.Repeat([]VirtualNetworkRule{{ID: trainID}}, 201)}, ACLKindKeyVault, idx,
			[]finding{{CodeNetworkAclsRuleLimitExceeded, "virtualNetworkRules"}}},
		{"unknown kind", storage(nil), "sql", idx, []finding{{"InvalidRequestContent", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, findings(ValidateNetworkRuleSet(tt.acls, tt.kind, tt.idx))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("messages", func(t *testing.T) {
		l := ValidateNetworkRuleSet(storage(func(a *NetworkRuleSet) {
			a.IPRules = []IPRule{{Value: "10.1.2.3"}}
			a.VirtualNetworkRules = []VirtualNetworkRule{{ID: plainID}}
		}), ACLKindStorage, idx)
		for code, want := range map[string]string{
			CodeInvalidValuesForRequestParameters: "Values for request parameters are invalid: networkAcls.ipRule[*].value. For more information, see - https://aka.ms/storagenetworkruleset (10.1.2.3 lies in the private (RFC 1918) range 10.0.0.0/8",
			CodeNetworkAclsValidationFailure:      "Validation of network acls failure: SubnetsHaveNoServiceEndpointsConfigured:Subnets plain of virtual network " + vnetID + " do not have ServiceEndpoints for Microsoft.Storage resources configured. Add Microsoft.Storage to subnet's ServiceEndpoints collection before trying to ACL Microsoft.Storage resources to these subnets.",
		} {
			if msg := messageOf(l, code); !strings.HasPrefix(msg, want) {
				t.Errorf("message of %s:\n got %q\nwant %q...", code, msg, want)
			}
		}
	})
}
