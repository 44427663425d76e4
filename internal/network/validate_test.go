package network

import (
	"fmt"
	"net/netip"
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

func TestValidateSecurityRule(t *testing.T) {
	const r = "properties.securityRules[1]"
	const rp = r + ".properties."
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	asgs := func(n int) []SubResource {
		out := make([]SubResource, n)
		for i := range out {
			out[i] = SubResource{ID: fmt.Sprintf("%s%d", asgID, i)}
		}
		return out
	}
	tests := []struct {
		name   string
		mutate func(p *SecurityRule)
		want   []finding
	}{
		{"valid", func(*SecurityRule) {}, nil},
		{"name 80 chars", func(p *SecurityRule) { p.Name = strings.Repeat("a", 80) }, nil},
		{"name with dots, dashes, trailing underscore", func(p *SecurityRule) { p.Name = "Allow.AML-in_" }, nil},
		{"name 81 chars", func(p *SecurityRule) { p.Name = strings.Repeat("a", 81) }, []finding{{CodeInvalidResourceName, r + ".name"}}},
		{"name ends with dash", func(p *SecurityRule) { p.Name = "allow-" }, []finding{{CodeInvalidResourceName, r + ".name"}}},
		{"name starts with underscore", func(p *SecurityRule) { p.Name = "_allow" }, []finding{{CodeInvalidResourceName, r + ".name"}}},
		{"name with space", func(p *SecurityRule) { p.Name = "allow aml" }, []finding{{CodeInvalidResourceName, r + ".name"}}},
		{"name missing", func(p *SecurityRule) { p.Name = "" }, []finding{{CodeInvalidResourceName, r + ".name"}}},
		{"description 140", func(p *SecurityRule) { p.Properties.Description = strings.Repeat("é", 140) }, nil},
		{"description 141", func(p *SecurityRule) { p.Properties.Description = strings.Repeat("d", 141) },
			[]finding{{CodeSecurityRuleDescriptionTooLong, rp + "description"}}},
		{"priority missing", func(p *SecurityRule) { p.Properties.Priority = nil }, []finding{{CodeSecurityRuleInvalidPriority, rp + "priority"}}},
		{"priority 99", func(p *SecurityRule) { p.Properties.Priority = prio(99) }, []finding{{CodeSecurityRuleInvalidPriority, rp + "priority"}}},
		{"priority 100", func(p *SecurityRule) { p.Properties.Priority = prio(100) }, []finding{{CodeSecurityRuleConflict, rp + "priority"}}},
		{"priority 4096", func(p *SecurityRule) { p.Properties.Priority = prio(4096) }, nil},
		{"priority 4097", func(p *SecurityRule) { p.Properties.Priority = prio(4097) }, []finding{{CodeSecurityRuleInvalidPriority, rp + "priority"}}},
		{"priority of a default rule", func(p *SecurityRule) { p.Properties.Priority = prio(65000) }, []finding{{CodeSecurityRuleInvalidPriority, rp + "priority"}}},
		{"direction lower case", func(p *SecurityRule) { p.Properties.Direction = "outbound" }, nil},
		{"direction bad", func(p *SecurityRule) { p.Properties.Direction = "In" }, []finding{{CodeSecurityRuleInvalidDirection, rp + "direction"}}},
		{"direction missing", func(p *SecurityRule) { p.Properties.Direction = "" }, []finding{{CodeSecurityRuleInvalidDirection, rp + "direction"}}},
		{"access lower case", func(p *SecurityRule) { p.Properties.Access = "deny" }, nil},
		{"access bad", func(p *SecurityRule) { p.Properties.Access = "Block" }, []finding{{CodeSecurityRuleInvalidAccess, rp + "access"}}},
		{"protocol star", func(p *SecurityRule) { p.Properties.Protocol = "*" }, nil},
		{"protocol icmp lower", func(p *SecurityRule) { p.Properties.Protocol = "icmp" }, nil},
		{"protocol Esp", func(p *SecurityRule) { p.Properties.Protocol = "Esp" }, nil},
		{"protocol Ah", func(p *SecurityRule) { p.Properties.Protocol = "Ah" }, nil},
		{"protocol Any", func(p *SecurityRule) { p.Properties.Protocol = "Any" }, []finding{{CodeSecurityRuleInvalidProtocol, rp + "protocol"}}},
		{"protocol IP", func(p *SecurityRule) { p.Properties.Protocol = "IP" }, []finding{{CodeSecurityRuleInvalidProtocol, rp + "protocol"}}},
		{"protocol missing", func(p *SecurityRule) { p.Properties.Protocol = "" }, []finding{{CodeSecurityRuleInvalidProtocol, rp + "protocol"}}},
		{"port range", func(p *SecurityRule) { p.Properties.DestinationPortRange = "8000-8999" }, nil},
		{"port full range", func(p *SecurityRule) { p.Properties.DestinationPortRange = "0-65535" }, nil},
		{"port comma list in single field", func(p *SecurityRule) { p.Properties.DestinationPortRange = "80,443" },
			[]finding{{CodeSecurityRuleInvalidPortRange, rp + "destinationPortRange"}}},
		{"port reversed range", func(p *SecurityRule) { p.Properties.DestinationPortRange = "443-80" },
			[]finding{{CodeSecurityRuleInvalidPortRange, rp + "destinationPortRange"}}},
		{"port too big", func(p *SecurityRule) { p.Properties.SourcePortRange = "65536" },
			[]finding{{CodeSecurityRuleInvalidPortRange, rp + "sourcePortRange"}}},
		{"port with space", func(p *SecurityRule) { p.Properties.SourcePortRange = " 80" },
			[]finding{{CodeSecurityRuleInvalidPortRange, rp + "sourcePortRange"}}},
		{"port list", func(p *SecurityRule) {
			p.Properties.DestinationPortRange, p.Properties.DestinationPortRanges = "", []string{"80", "443-445", "*"}
		}, nil},
		{"port list bad element", func(p *SecurityRule) {
			p.Properties.DestinationPortRange, p.Properties.DestinationPortRanges = "", []string{"80", "http"}
		}, []finding{{CodeSecurityRuleInvalidPortRange, rp + "destinationPortRanges[1]"}}},
		{"port and port list", func(p *SecurityRule) { p.Properties.DestinationPortRanges = []string{"80"} },
			[]finding{{CodeSecurityRuleParametersMutuallyExclusive, rp + "destinationPortRanges"}}},
		{"no port", func(p *SecurityRule) { p.Properties.SourcePortRange = "" },
			[]finding{{CodeSecurityRuleParametersMissing, rp + "sourcePortRange"}}},
		{"prefix CIDR", func(p *SecurityRule) { p.Properties.SourceAddressPrefix = "10.0.0.0/8" }, nil},
		{"prefix address", func(p *SecurityRule) { p.Properties.SourceAddressPrefix = "10.1.2.3" }, nil},
		{"prefix IPv6", func(p *SecurityRule) { p.Properties.SourceAddressPrefix = "2001:db8::/32" }, nil},
		{"prefix star", func(p *SecurityRule) { p.Properties.SourceAddressPrefix = "*" }, nil},
		{"prefix computed tags any case", func(p *SecurityRule) {
			p.Properties.SourceAddressPrefix, p.Properties.DestinationAddressPrefix = "internet", "AZURELOADBALANCER"
		}, nil},
		{"prefix regional tag any case", func(p *SecurityRule) { p.Properties.DestinationAddressPrefix = "storage.EASTUS" }, nil},
		{"prefix host bits", func(p *SecurityRule) { p.Properties.SourceAddressPrefix = "50.206.209.68/27" },
			[]finding{{CodeSecurityRuleInvalidAddressPrefix, rp + "sourceAddressPrefix"}}},
		{"prefix bad address", func(p *SecurityRule) { p.Properties.SourceAddressPrefix = "10.0.0.256" },
			[]finding{{CodeSecurityRuleInvalidAddressPrefix, rp + "sourceAddressPrefix"}}},
		{"prefix unknown tag", func(p *SecurityRule) { p.Properties.DestinationAddressPrefix = "Storage.Narnia" },
			[]finding{{CodeSecurityRuleInvalidAddressPrefix, rp + "destinationAddressPrefix"}}},
		{"prefix any", func(p *SecurityRule) { p.Properties.SourceAddressPrefix = "any" },
			[]finding{{CodeSecurityRuleInvalidAddressPrefix, rp + "sourceAddressPrefix"}}},
		{"prefix comma list in single field", func(p *SecurityRule) { p.Properties.SourceAddressPrefix = "10.0.0.1,10.0.0.2" },
			[]finding{{CodeSecurityRuleInvalidAddressPrefix, rp + "sourceAddressPrefix"}}},
		{"prefix list", func(p *SecurityRule) {
			p.Properties.SourceAddressPrefix, p.Properties.SourceAddressPrefixes = "", []string{"10.0.0.0/24", "52.1.2.3", "2001:db8::1"}
		}, nil},
		{"prefix list with star", func(p *SecurityRule) {
			p.Properties.SourceAddressPrefix, p.Properties.SourceAddressPrefixes = "", []string{"10.0.0.0/24", "*"}
		}, []finding{{CodeSecurityRuleParameterContainsUnsupportedValue, rp + "sourceAddressPrefixes[1]"}}},
		{"prefix list with computed tag", func(p *SecurityRule) {
			p.Properties.DestinationAddressPrefix, p.Properties.DestinationAddressPrefixes = "", []string{"VirtualNetwork"}
		}, []finding{{CodeSecurityRuleParameterContainsUnsupportedValue, rp + "destinationAddressPrefixes[0]"}}},
		{"prefix list with service tag", func(p *SecurityRule) {
			p.Properties.DestinationAddressPrefix, p.Properties.DestinationAddressPrefixes = "", []string{"10.0.0.1", "Storage"}
		}, []finding{{CodeSecurityRuleParameterContainsUnsupportedValue, rp + "destinationAddressPrefixes[1]"}}},
		{"prefix list with host bits", func(p *SecurityRule) {
			p.Properties.SourceAddressPrefix, p.Properties.SourceAddressPrefixes = "", []string{"10.0.0.1/8"}
		}, []finding{{CodeSecurityRuleInvalidAddressPrefix, rp + "sourceAddressPrefixes[0]"}}},
		{"prefix list 4000", func(p *SecurityRule) {
			p.Properties.SourceAddressPrefix = ""
			p.Properties.SourceAddressPrefixes = many(4000, func(i int) string { return fmt.Sprintf("52.%d.%d.0/24", i/256, i%256) })
		}, nil},
		{"prefix list 4001", func(p *SecurityRule) {
			p.Properties.SourceAddressPrefix = ""
			p.Properties.SourceAddressPrefixes = many(4001, func(i int) string { return fmt.Sprintf("52.%d.%d.0/24", i/256, i%256) })
		}, []finding{{CodeSecurityRuleAddressPrefixLimitExceeded, rp + "sourceAddressPrefixes"}}},
		{"prefix and prefix list", func(p *SecurityRule) { p.Properties.SourceAddressPrefixes = []string{"10.0.0.0/24"} },
			[]finding{{CodeSecurityRuleParametersMutuallyExclusive, rp + "sourceAddressPrefixes"}}},
		{"prefix and application security groups", func(p *SecurityRule) { p.Properties.SourceApplicationSecurityGroups = asgs(1) },
			[]finding{{CodeSecurityRuleParametersMutuallyExclusive, rp + "sourceApplicationSecurityGroups"}}},
		{"no prefix", func(p *SecurityRule) { p.Properties.DestinationAddressPrefix = "" },
			[]finding{{CodeSecurityRuleParametersMissing, rp + "destinationAddressPrefix"}}},
		{"application security groups", func(p *SecurityRule) {
			p.Properties.SourceAddressPrefix, p.Properties.SourceApplicationSecurityGroups = "", asgs(10)
		}, nil},
		{"11 application security groups", func(p *SecurityRule) {
			p.Properties.SourceAddressPrefix, p.Properties.SourceApplicationSecurityGroups = "", asgs(11)
		}, []finding{{CodeSecurityRuleApplicationSecurityGroupLimitExceeded, rp + "sourceApplicationSecurityGroups"}}},
		{"application security group id malformed", func(p *SecurityRule) {
			p.Properties.SourceAddressPrefix, p.Properties.SourceApplicationSecurityGroups = "", []SubResource{{ID: "ml-asg"}}
		}, []finding{{CodeInvalidResourceReference, rp + "sourceApplicationSecurityGroups[0].id"}}},
		{"application security group id of another type", func(p *SecurityRule) {
			p.Properties.SourceAddressPrefix, p.Properties.SourceApplicationSecurityGroups = "", []SubResource{{ID: nsgID}}
		}, []finding{{CodeInvalidResourceReference, rp + "sourceApplicationSecurityGroups[0].id"}}},
		{"several errors in one rule", func(p *SecurityRule) {
			p.Properties.Priority = prio(5000)
			p.Properties.Protocol = "Tcpp"
			p.Properties.DestinationPortRange = "x"
		}, []finding{
			{CodeSecurityRuleInvalidPriority, rp + "priority"},
			{CodeSecurityRuleInvalidProtocol, rp + "protocol"},
			{CodeSecurityRuleInvalidPortRange, rp + "destinationPortRange"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rule("aml-in", 200, DirectionInbound)
			tt.mutate(&r)
			n := &NetworkSecurityGroup{Meta: Meta{Name: "ml-nsg"}, Properties: NSGProperties{
				SecurityRules: []SecurityRule{rule("first", 100, DirectionInbound), r},
			}}
			got := findings(ValidateNSG(n, tags))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidateSecurityRuleMessages pins the message shapes of spec §1.2.
func TestValidateSecurityRuleMessages(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *SecurityRule)
		code   string
		want   string // message prefix
	}{
		{"priority", func(p *SecurityRule) { p.Properties.Priority = prio(0) }, CodeSecurityRuleInvalidPriority,
			"Security rule aml-in has invalid Priority. Value provided: 0 Allowed range 100-4096."},
		{"conflict", func(p *SecurityRule) { p.Properties.Priority = prio(100) }, CodeSecurityRuleConflict,
			"Security rule aml-in conflicts with rule first. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules"},
		{"port", func(p *SecurityRule) { p.Properties.DestinationPortRange = "80,443" }, CodeSecurityRuleInvalidPortRange,
			"Security rule aml-in has invalid Port range. Value provided: 80,443. Value should be an integer OR integer range with '-' delimiter. Valid range 0-65535."},
		{"host bits name the canonical prefix", func(p *SecurityRule) { p.Properties.SourceAddressPrefix = "50.206.209.68/27" }, CodeSecurityRuleInvalidAddressPrefix,
			"Security rule aml-in has invalid Address prefix. Value provided: 50.206.209.68/27. The prefix has host bits set; for the given prefix length, the address prefix should be 50.206.209.64/27."},
		{"unsupported value", func(p *SecurityRule) {
			p.ID = nsgID + "/securityRules/aml-in"
			p.Properties.DestinationAddressPrefix, p.Properties.DestinationAddressPrefixes = "", []string{"*"}
		}, CodeSecurityRuleParameterContainsUnsupportedValue,
			"Security rule parameter DestinationAddressPrefix for rule with Id " + nsgID + "/securityRules/aml-in cannot specify existing VIRTUALNETWORK, INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: *."},
		{"protocol", func(p *SecurityRule) { p.Properties.Protocol = "Any" }, CodeSecurityRuleInvalidProtocol,
			`Security rule aml-in has invalid Protocol. Value provided: "Any" Allowed values: Icmp,Tcp,Udp,Esp,Ah,*. ARM spells "any protocol" as "*".`},
		{"missing prefix", func(p *SecurityRule) { p.Properties.SourceAddressPrefix = "" }, CodeSecurityRuleParametersMissing,
			"Required security rule parameters are missing for security rule with Id: aml-in. Security rule must specify SourceAddressPrefixes, SourceAddressPrefix, or SourceApplicationSecurityGroups."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rule("aml-in", 200, DirectionInbound)
			tt.mutate(&r)
			n := &NetworkSecurityGroup{Properties: NSGProperties{SecurityRules: []SecurityRule{rule("first", 100, DirectionInbound), r}}}
			l := ValidateNSG(n, tags)
			if msg := messageOf(l, tt.code); !strings.HasPrefix(msg, tt.want) {
				t.Errorf("message of %s:\n got %q\nwant %q...\n(all: %v)", tt.code, msg, tt.want, l.Err())
			}
		})
	}
}

func TestValidateNSG(t *testing.T) {
	mod := func(r SecurityRule, f func(*SecurityRuleProperties)) SecurityRule {
		f(&r.Properties)
		return r
	}
	defaults := func(f func([]SecurityRule) []SecurityRule) []SecurityRule { return f(DefaultSecurityRules(nsgID)) }
	many := make([]SecurityRule, 1001)
	for i := range many {
		dir := DirectionInbound
		if i%2 == 1 {
			dir = DirectionOutbound
		}
		many[i] = rule(fmt.Sprintf("r%d", i), 100+i/2, dir)
	}
	asgRules := make([]SecurityRule, 11)
	for i := range asgRules {
		r := rule(fmt.Sprintf("asg%d", i), 100+i, DirectionInbound)
		r.Properties.SourceAddressPrefix = ""
		for j := range 10 {
			r.Properties.SourceApplicationSecurityGroups = append(r.Properties.SourceApplicationSecurityGroups, SubResource{ID: fmt.Sprintf("%s%d", asgID, i*10+j)})
		}
		asgRules[i] = r
	}
	tests := []struct {
		name     string
		rules    []SecurityRule
		defaults []SecurityRule
		want     []finding
	}{
		{"empty", nil, nil, nil},
		{"same priority and direction", []SecurityRule{rule("a", 300, "Inbound"), rule("b", 300, "Inbound")}, nil,
			[]finding{{CodeSecurityRuleConflict, "properties.securityRules[1].properties.priority"}}},
		{"same priority, direction differs only in case", []SecurityRule{rule("a", 300, "Inbound"), rule("b", 300, "inbound")}, nil,
			[]finding{{CodeSecurityRuleConflict, "properties.securityRules[1].properties.priority"}}},
		{"same priority, other direction", []SecurityRule{rule("a", 300, "Inbound"), rule("b", 300, "Outbound")}, nil, nil},
		{"third rule conflicts with first", []SecurityRule{rule("a", 300, "Inbound"), rule("b", 301, "Inbound"), rule("c", 300, "Inbound")}, nil,
			[]finding{{CodeSecurityRuleConflict, "properties.securityRules[2].properties.priority"}}},
		{"duplicate names", []SecurityRule{rule("Allow", 300, "Inbound"), rule("allow", 301, "Inbound")}, nil,
			[]finding{{CodeDuplicateResourceName, "properties.securityRules[1].name"}}},
		{"custom rule may take a default rule's name", []SecurityRule{rule("DenyAllInBound", 4096, "Inbound")}, nil, nil},
		{"1001 rules", many, nil, []finding{{CodeSecurityRuleCountLimitExceeded, "properties.securityRules"}}},
		{"1000 rules", many[:1000], nil, nil},
		{"110 application security groups across the NSG", asgRules, nil,
			[]finding{{CodeSecurityRuleApplicationSecurityGroupLimitExceeded, "properties.securityRules"}}},
		{"the six default rules", nil, DefaultSecurityRules(nsgID), nil},
		{"default rules in other casing", nil, defaults(func(d []SecurityRule) []SecurityRule {
			d[0].Name, d[0].Properties.Protocol, d[0].Properties.SourceAddressPrefix = "allowvnetinbound", "*", "virtualnetwork"
			return d
		}), nil},
		{"default rule edited", nil, defaults(func(d []SecurityRule) []SecurityRule {
			d[2] = mod(d[2], func(p *SecurityRuleProperties) { p.Access = "Allow" })
			return d
		}), []finding{{CodeDefaultSecurityRuleModified, "properties.defaultSecurityRules[2]"}}},
		{"default rule priority edited", nil, defaults(func(d []SecurityRule) []SecurityRule {
			d[5].Properties.Priority = prio(100)
			return d
		}), []finding{{CodeDefaultSecurityRuleModified, "properties.defaultSecurityRules[5]"}}},
		{"default rule deleted", nil, defaults(func(d []SecurityRule) []SecurityRule { return d[:5] }),
			[]finding{{CodeDefaultSecurityRuleModified, "properties.defaultSecurityRules"}}},
		{"default rule added", nil, defaults(func(d []SecurityRule) []SecurityRule { return append(d, rule("AllowAll", 65100, "Inbound")) }),
			[]finding{{CodeDefaultSecurityRuleModified, "properties.defaultSecurityRules[6].name"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &NetworkSecurityGroup{Meta: Meta{Name: "ml-nsg", ID: nsgID}, Properties: NSGProperties{SecurityRules: tt.rules, DefaultSecurityRules: tt.defaults}}
			if diff := cmp.Diff(tt.want, findings(ValidateNSG(n, tags))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateNSGTagResolvers(t *testing.T) {
	tests := []struct {
		name     string
		resolver TagResolver
		prefix   string
		want     []finding
		hint     string
	}{
		{"nil resolver accepts a tag-looking name", nil, "Whatever.WestEurope", nil, ""},
		{"nil resolver accepts computed tags", nil, "VirtualNetwork", nil, ""},
		{"nil resolver rejects what is no tag", nil, "Storage EastUS", []finding{{CodeSecurityRuleInvalidAddressPrefix, "properties.securityRules[0].properties.sourceAddressPrefix"}}, "want an IP address"},
		{"nil resolver rejects any", nil, "Any", []finding{{CodeSecurityRuleInvalidAddressPrefix, "properties.securityRules[0].properties.sourceAddressPrefix"}}, `use "*"`},
		{"resolver without computed tags", tags, "AzureLoadBalancer", nil, ""},
		{"resolver rejects unknown", tags, "Storage.Mars", []finding{{CodeSecurityRuleInvalidAddressPrefix, "properties.securityRules[0].properties.sourceAddressPrefix"}}, "not a known service tag"},
		{"suggestions in the hint", suggestingTags{tags}, "Storage.EastU", []finding{{CodeSecurityRuleInvalidAddressPrefix, "properties.securityRules[0].properties.sourceAddressPrefix"}}, "did you mean Storage.EastUS?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rule("r", 100, DirectionInbound)
			r.Properties.SourceAddressPrefix = tt.prefix
			l := ValidateNSG(&NetworkSecurityGroup{Properties: NSGProperties{SecurityRules: []SecurityRule{r}}}, tt.resolver)
			if diff := cmp.Diff(tt.want, findings(l)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if tt.hint != "" && !strings.Contains(messageOf(l, CodeSecurityRuleInvalidAddressPrefix), tt.hint) {
				t.Errorf("message %q lacks %q", messageOf(l, CodeSecurityRuleInvalidAddressPrefix), tt.hint)
			}
		})
	}
}

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

func route(name, prefix, hop, ip string) Route {
	return Route{Name: name, Properties: RouteProperties{AddressPrefix: prefix, NextHopType: hop, NextHopIPAddress: ip}}
}

func TestValidateRouteTable(t *testing.T) {
	rp := func(i int, f string) string { return fmt.Sprintf("properties.routes[%d].properties.%s", i, f) }
	valid := []Route{
		route("default", "0.0.0.0/0", "VirtualAppliance", "10.0.2.4"),
		route("storage", "Storage.EastUS", "Internet", ""),
		route("onprem", "10.1.0.0/16", "VirtualNetworkGateway", ""),
		route("blackhole", "192.168.0.0/16", "None", ""),
		route("local", "10.0.0.0/16", "vnetlocal", ""),
		route("v6", "2001:db8::/32", "virtualAppliance", "fd00::4"),
	}
	numbered := func(n int, f func(i int) Route) []Route {
		out := make([]Route, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := []struct {
		name     string
		routes   []Route
		resolver TagResolver
		want     []finding
	}{
		{"valid", valid, tags, nil},
		{"valid with nil resolver", valid, nil, nil},
		{"prefix host bits", []Route{route("r", "10.0.0.1/16", "None", "")}, tags, []finding{{CodeInvalidCIDRNotation, rp(0, "addressPrefix")}}},
		{"prefix bare address", []Route{route("r", "10.0.0.4", "None", "")}, tags, []finding{{CodeInvalidAddressPrefixFormat, rp(0, "addressPrefix")}}},
		{"prefix missing", []Route{route("r", "", "None", "")}, tags, []finding{{CodeInvalidRouteAddressPrefix, rp(0, "addressPrefix")}}},
		{"prefix unknown tag", []Route{route("r", "Storage.Mars", "Internet", "")}, tags, []finding{{CodeInvalidRouteAddressPrefix, rp(0, "addressPrefix")}}},
		{"prefix computed tag", []Route{route("r", "VirtualNetwork", "Internet", "")}, tags, []finding{{CodeInvalidRouteAddressPrefix, rp(0, "addressPrefix")}}},
		{"prefix computed tag, nil resolver", []Route{route("r", "Internet", "Internet", "")}, nil, []finding{{CodeInvalidRouteAddressPrefix, rp(0, "addressPrefix")}}},
		{"prefix star", []Route{route("r", "*", "Internet", "")}, tags, []finding{{CodeInvalidRouteAddressPrefix, rp(0, "addressPrefix")}}},
		{"next hop peering", []Route{route("r", "10.1.0.0/16", "VNetPeering", "")}, tags, []finding{{CodeInvalidNextHopType, rp(0, "nextHopType")}}},
		{"next hop service endpoint", []Route{route("r", "10.1.0.0/16", "VirtualNetworkServiceEndpoint", "")}, tags, []finding{{CodeInvalidNextHopType, rp(0, "nextHopType")}}},
		{"next hop missing", []Route{route("r", "10.1.0.0/16", "", "")}, tags, []finding{{CodeInvalidNextHopType, rp(0, "nextHopType")}}},
		{"next hop unknown", []Route{route("r", "10.1.0.0/16", "Firewall", "10.0.2.4")}, tags, []finding{{CodeInvalidNextHopType, rp(0, "nextHopType")}}},
		{"appliance without address", []Route{route("r", "0.0.0.0/0", "VirtualAppliance", "")}, tags, []finding{{CodeMissingNextHopIpAddress, rp(0, "nextHopIpAddress")}}},
		{"appliance bad address", []Route{route("r", "0.0.0.0/0", "VirtualAppliance", "10.0.2")}, tags, []finding{{CodeInvalidNextHopIpAddress, rp(0, "nextHopIpAddress")}}},
		{"appliance address is a prefix", []Route{route("r", "0.0.0.0/0", "VirtualAppliance", "10.0.2.4/32")}, tags, []finding{{CodeInvalidNextHopIpAddress, rp(0, "nextHopIpAddress")}}},
		{"address on another hop", []Route{route("r", "0.0.0.0/0", "Internet", "10.0.2.4")}, tags, []finding{{CodeNextHopIpAddressNotAllowed, rp(0, "nextHopIpAddress")}}},
		{"same prefix twice", []Route{route("a", "10.1.0.0/16", "None", ""), route("b", "10.1.0.0/16", "Internet", "")}, tags,
			[]finding{{CodeRouteConflict, rp(1, "addressPrefix")}}},
		{"same tag twice in other casing", []Route{route("a", "Storage.EastUS", "None", ""), route("b", "storage.eastus", "Internet", "")}, tags,
			[]finding{{CodeRouteConflict, rp(1, "addressPrefix")}}},
		{"same name twice", []Route{route("a", "10.1.0.0/16", "None", ""), route("A", "10.2.0.0/16", "None", "")}, tags,
			[]finding{{CodeDuplicateResourceName, "properties.routes[1].name"}}},
		{"route name invalid", []Route{route("a/b", "10.1.0.0/16", "None", "")}, tags, []finding{{CodeInvalidResourceName, "properties.routes[0].name"}}},
		{"400 routes", numbered(400, func(i int) Route {
			return route(fmt.Sprint("r", i), fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), "None", "")
		}), tags, nil},
		{"401 routes", numbered(401, func(i int) Route {
			return route(fmt.Sprint("r", i), fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), "None", "")
		}), tags,
			[]finding{{CodeRouteCountLimitExceeded, "properties.routes"}}},
		{"25 service tag routes", numbered(25, func(i int) Route { return route(fmt.Sprint("r", i), fmt.Sprint("Tag", i), "Internet", "") }), nil, nil},
		{"26 service tag routes", numbered(26, func(i int) Route { return route(fmt.Sprint("r", i), fmt.Sprint("Tag", i), "Internet", "") }), nil,
			[]finding{{CodeServiceTagRouteLimitExceeded, "properties.routes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &RouteTable{Meta: Meta{Name: "ml-rt"}, Properties: RouteTableProperties{Routes: tt.routes}}
			if diff := cmp.Diff(tt.want, findings(ValidateRouteTable(rt, tt.resolver))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("messages", func(t *testing.T) {
		l := ValidateRouteTable(&RouteTable{Properties: RouteTableProperties{Routes: []Route{
			route("a", "10.1.0.0/16", "None", ""), route("b", "10.1.0.0/16", "None", ""), route("fw", "0.0.0.0/0", "VirtualAppliance", ""),
			route("p", "10.2.0.0/16", "VNetPeering", ""),
		}}}, tags)
		for code, want := range map[string]string{
			CodeRouteConflict:           "Route: b conflicts with Route: a. Routes cannot have the same AddressPrefix.",
			CodeMissingNextHopIpAddress: "NextHopIpAddress cannot be Null or Empty in route fw when NextHopType is VirtualAppliance.",
			CodeInvalidNextHopType:      `route p has invalid nextHopType "VNetPeering": VNetPeering appears in effective routes but cannot be the next hop of a user-defined route`,
		} {
			if msg := messageOf(l, code); !strings.HasPrefix(msg, want) {
				t.Errorf("message of %s:\n got %q\nwant %q...", code, msg, want)
			}
		}
	})
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
		{"storage subnet without endpoint, ignored", storage(vnetRule(VirtualNetworkRule{ID: plainID, IgnoreMissingVnetServiceEndpoint: true})), ACLKindStorage, idx, nil},
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

func TestValidateAKSNetwork(t *testing.T) {
	v := vnet([]string{"10.0.0.0/16"}, subnet("aks", "10.0.4.0/22"), subnet("training", "10.0.1.0/24"))
	aks := &v.Properties.Subnets[0]
	ok := AKSNetworkProfile{ServiceCIDR: "10.100.0.0/16", DNSServiceIP: "10.100.0.10", DockerBridgeCIDR: "172.17.0.1/16", MaxPods: 30, NodeCount: 3}
	with := func(f func(p *AKSNetworkProfile)) AKSNetworkProfile {
		p := ok
		f(&p)
		return p
	}
	const (
		svc    = "networkProfile.serviceCIDR"
		dns    = "networkProfile.dnsServiceIP"
		bridge = "networkProfile.dockerBridgeCidr"
	)
	tests := []struct {
		name    string
		p       AKSNetworkProfile
		vnet    *VirtualNetwork
		subnet  *Subnet
		peered  []netip.Prefix
		want    []finding
		message string // prefix of the first error's message
	}{
		{"valid", ok, v, aks, nil, nil, ""},
		{"valid without a network", ok, nil, nil, nil, nil, ""},
		{"defaults collide with a 10.0.0.0/16 network (spec example)", AKSNetworkProfile{NodeCount: 3},
			vnet([]string{"10.0.0.0/16"}, subnet("default", "10.0.0.0/24")), nil, nil,
			[]finding{{CodeServiceCidrOverlapExistingSubnetsCidr, svc}},
			"The specified service CIDR 10.0.0.0/16 is conflicted with an existing subnet CIDR 10.0.0.0/24"},
		{"defaults elsewhere", AKSNetworkProfile{NodeCount: 3}, vnet([]string{"10.1.0.0/16"}, subnet("aks", "10.1.0.0/22")), nil, nil, nil, ""},
		{"service CIDR in the address space, off the subnets", with(func(p *AKSNetworkProfile) {
			p.ServiceCIDR, p.DNSServiceIP = "10.0.128.0/20", "10.0.128.10"
		}), v, aks, nil, []finding{{CodeServiceCidrOverlapExistingSubnetsCidr, svc}}, ""},
		{"service CIDR overlaps a peered network", ok, v, aks, []netip.Prefix{netip.MustParsePrefix("10.100.0.0/24")},
			[]finding{{CodeServiceCidrOverlapExistingSubnetsCidr, svc}}, ""},
		{"service CIDR garbage", with(func(p *AKSNetworkProfile) { p.ServiceCIDR = "ten" }), v, aks, nil,
			[]finding{{CodeCidrStringParseError, svc}}, "Cidr is invalid"},
		{"service CIDR without length", with(func(p *AKSNetworkProfile) { p.ServiceCIDR = "10.100.0.0" }), v, aks, nil,
			[]finding{{CodeCidrStringParseError, svc}}, ""},
		{"service CIDR host bits", with(func(p *AKSNetworkProfile) { p.ServiceCIDR = "10.100.0.1/16" }), v, aks, nil,
			[]finding{{CodeCidrStringParseError, svc}}, ""},
		{"service CIDR IPv6", with(func(p *AKSNetworkProfile) { p.ServiceCIDR = "fd00::/108" }), v, aks, nil,
			[]finding{{CodeCidrStringParseError, svc}}, ""},
		{"service CIDR /12", with(func(p *AKSNetworkProfile) { p.ServiceCIDR, p.DNSServiceIP = "100.64.0.0/12", "100.64.0.10" }), v, aks, nil, nil, ""},
		{"service CIDR /11", with(func(p *AKSNetworkProfile) { p.ServiceCIDR, p.DNSServiceIP = "100.64.0.0/11", "100.64.0.10" }), v, aks, nil,
			[]finding{{CodeServiceCidrTooLarge, svc}}, ""},
		{"service CIDR 172.30/16", with(func(p *AKSNetworkProfile) { p.ServiceCIDR, p.DNSServiceIP = "172.30.0.0/16", "172.30.0.10" }), v, aks, nil,
			[]finding{{CodeServiceCidrOverlapReservedRange, svc}}, ""},
		{"service CIDR 169.254/16", with(func(p *AKSNetworkProfile) { p.ServiceCIDR, p.DNSServiceIP = "169.254.0.0/16", "169.254.0.10" }), v, aks, nil,
			[]finding{{CodeServiceCidrOverlapReservedRange, svc}}, ""},
		{"service CIDR 192.0.2/24", with(func(p *AKSNetworkProfile) { p.ServiceCIDR, p.DNSServiceIP = "192.0.2.0/24", "192.0.2.10" }), v, aks, nil,
			[]finding{{CodeServiceCidrOverlapReservedRange, svc}}, ""},
		{"service CIDR 172.16/12 covers two reserved ranges and the bridge", with(func(p *AKSNetworkProfile) {
			p.ServiceCIDR, p.DNSServiceIP = "172.16.0.0/12", "172.16.0.10"
		}), v, aks, nil, []finding{
			{CodeServiceCidrOverlapReservedRange, svc},
			{CodeServiceCidrOverlapReservedRange, svc},
			{CodeDockerBridgeCidrOverlap, bridge},
		}, ""},
		{"DNS outside", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "10.101.0.10" }), v, aks, nil,
			[]finding{{CodeInvalidDnsServiceIP, dns}}, "DNSServiceIP '10.101.0.10' is not within the ServiceCidr '10.100.0.0/16'"},
		{"DNS network address", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "10.100.0.0" }), v, aks, nil,
			[]finding{{CodeInvalidDnsServiceIP, dns}}, ""},
		{"DNS first address", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "10.100.0.1" }), v, aks, nil,
			[]finding{{CodeInvalidDnsServiceIP, dns}}, "DNSServiceIP '10.100.0.1' cannot be the first IP of ServiceCidr '10.100.0.0/16'"},
		{"DNS second address", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "10.100.0.2" }), v, aks, nil, nil, ""},
		{"DNS broadcast", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "10.100.255.255" }), v, aks, nil,
			[]finding{{CodeInvalidDnsServiceIP, dns}}, "DNSServiceIP '10.100.255.255' cannot be the broadcast address of ServiceCidr '10.100.0.0/16'"},
		{"DNS garbage", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "dns" }), v, aks, nil,
			[]finding{{CodeInvalidDnsServiceIP, dns}}, ""},
		{"DNS without CIDR", with(func(p *AKSNetworkProfile) { p.ServiceCIDR = "" }), v, aks, nil,
			[]finding{{CodeServiceCidrAndDnsServiceIPMustBeSetTogether, svc}}, ""},
		{"CIDR without DNS", with(func(p *AKSNetworkProfile) { p.DNSServiceIP = "" }), v, aks, nil,
			[]finding{{CodeServiceCidrAndDnsServiceIPMustBeSetTogether, dns}}, ""},
		{"bridge in the network", with(func(p *AKSNetworkProfile) { p.DockerBridgeCIDR = "10.0.4.1/24" }), v, aks, nil,
			[]finding{{CodeDockerBridgeCidrOverlap, bridge}, {CodeDockerBridgeCidrOverlap, bridge}}, ""},
		{"bridge in the service CIDR", with(func(p *AKSNetworkProfile) { p.DockerBridgeCIDR = "10.100.200.1/24" }), v, aks, nil,
			[]finding{{CodeDockerBridgeCidrOverlap, bridge}}, ""},
		{"bridge default overlaps a 172.16/12 network", with(func(p *AKSNetworkProfile) { p.DockerBridgeCIDR = "" }),
			vnet([]string{"172.16.0.0/12"}, subnet("aks", "172.16.0.0/22")), nil, nil,
			[]finding{{CodeDockerBridgeCidrOverlap, bridge}}, ""},
		{"bridge garbage", with(func(p *AKSNetworkProfile) { p.DockerBridgeCIDR = "docker0" }), v, aks, nil,
			[]finding{{CodeCidrStringParseError, bridge}}, ""},
		{"maxPods default", with(func(p *AKSNetworkProfile) { p.MaxPods = 0 }), v, aks, nil, nil, ""},
		{"maxPods 250", with(func(p *AKSNetworkProfile) { p.MaxPods = 250 }), v, aks, nil, nil, ""},
		{"maxPods 29", with(func(p *AKSNetworkProfile) { p.MaxPods = 29 }), v, aks, nil, []finding{{CodeInvalidMaxPods, "agentPoolProfiles.maxPods"}}, ""},
		{"maxPods 251", with(func(p *AKSNetworkProfile) { p.MaxPods = 251 }), v, aks, nil, []finding{{CodeInvalidMaxPods, "agentPoolProfiles.maxPods"}}, ""},
		{"negative node count", with(func(p *AKSNetworkProfile) { p.NodeCount = -1 }), v, aks, nil, []finding{{CodeInvalidNodeCount, "agentPoolProfiles.count"}}, ""},
		{"50 nodes need a /21 (spec example)", with(func(p *AKSNetworkProfile) { p.NodeCount = 50 }), v, aks, nil,
			[]finding{{CodeSubnetTooSmallForAKS, "agentPoolProfiles.vnetSubnetID"}},
			"subnet 'aks' (10.0.4.0/22) has 1019 usable addresses (Azure reserves 5 per prefix) but Azure CNI needs 1581 for 50 nodes with maxPods 30: (nodes+1) + (nodes+1)*maxPods = 51 + 51*30; the smallest subnet that fits is /21 (2043 usable addresses)"},
		{"50 nodes fit a /21", with(func(p *AKSNetworkProfile) { p.NodeCount = 50 }), v, ptr(subnet("big", "10.0.8.0/21")), nil, nil, ""},
		{"32 nodes fill a /22 exactly", with(func(p *AKSNetworkProfile) { p.NodeCount = 31 }), v, aks, nil, nil, ""},
		{"33 nodes overflow a /22", with(func(p *AKSNetworkProfile) { p.NodeCount = 32 }), v, aks, nil,
			[]finding{{CodeSubnetTooSmallForAKS, "agentPoolProfiles.vnetSubnetID"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ValidateAKSNetwork(tt.p, tt.vnet, tt.subnet, tt.peered)
			if diff := cmp.Diff(tt.want, findings(l)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if tt.message != "" && (l.Len() == 0 || !strings.HasPrefix(l.Errs[0].Message, tt.message)) {
				t.Errorf("message = %v, want prefix %q", l.Err(), tt.message)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestAddressHelpers(t *testing.T) {
	tests := []struct {
		prefix, last string
		usable       string
	}{
		{"10.0.1.0/24", "10.0.1.255", "10.0.1.4-10.0.1.254"},
		{"10.0.0.0/29", "10.0.0.7", "10.0.0.4-10.0.0.6"},
		{"10.0.0.0/8", "10.255.255.255", "10.0.0.4-10.255.255.254"},
		{"0.0.0.0/0", "255.255.255.255", "0.0.0.4-255.255.255.254"},
		{"10.0.0.4/30", "10.0.0.7", "a larger subnet"},
		{"10.0.0.4/32", "10.0.0.4", "a larger subnet"},
		{"fd00:db8::/64", "fd00:db8::ffff:ffff:ffff:ffff", "fd00:db8::4-fd00:db8::ffff:ffff:ffff:fffe"},
		{"10.0.0.0/23", "10.0.1.255", "10.0.0.4-10.0.1.254"},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.prefix)
		if got := lastAddr(p).String(); got != tt.last {
			t.Errorf("lastAddr(%s) = %s, want %s", p, got, tt.last)
		}
		if got := usableRange(p); got != tt.usable {
			t.Errorf("usableRange(%s) = %s, want %s", p, got, tt.usable)
		}
	}
	for bits, want := range map[int]int{29: 3, 24: 251, 22: 1019, 21: 2043, 30: 0, 32: 0} {
		if got := usableAddrs(bits); got != want {
			t.Errorf("usableAddrs(%d) = %d, want %d", bits, got, want)
		}
	}
}
