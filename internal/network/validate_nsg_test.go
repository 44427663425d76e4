package network

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

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
