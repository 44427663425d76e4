package network

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vnetml/vnetml/internal/armerror"
)

// ValidateNSG checks a network security group and its rules (spec §1.1,
// §1.2, §1.3): rule names, descriptions, priorities and their conflicts,
// enums, ports, prefixes and tags, the one-of rules per side, and limits.
// Targets are rooted at the NSG (properties.securityRules[2].properties.priority).
// Application security group references are checked for shape only; whether
// they exist is checked by Snapshot.Validate.
func ValidateNSG(n *NetworkSecurityGroup, tags TagResolver) *armerror.List {
	v := &validator{tags: tags}
	return v.nsg(n)
}

func (v *validator) nsg(n *NetworkSecurityGroup) *armerror.List {
	var l armerror.List
	if n == nil {
		return &l
	}
	if n.Name != "" {
		checkName(&l, "name", "network security group", n.Name, 1, 80)
	}
	rules := n.Properties.SecurityRules
	if len(rules) > MaxSecurityRulesPerNSG {
		l.Addf(CodeSecurityRuleCountLimitExceeded, "properties.securityRules",
			"network security group %s has %d security rules; at most %d are allowed per NSG", n.Name, len(rules), MaxSecurityRulesPerNSG)
	}
	names := newDupNames("security rule")
	type slot struct {
		prio int
		dir  string
	}
	taken := map[slot]int{}
	asgs := map[string]bool{}
	for i := range rules {
		r := &rules[i]
		base := fmt.Sprintf("properties.securityRules[%d]", i)
		v.rule(&l, base, r, i)
		names.check(&l, base+".name", r.Name, i)
		p := r.Properties
		for _, g := range p.SourceApplicationSecurityGroups {
			asgs[Key(g.ID)] = true
		}
		for _, g := range p.DestinationApplicationSecurityGroups {
			asgs[Key(g.ID)] = true
		}
		dir, okDir := canonical(p.Direction, DirectionInbound, DirectionOutbound)
		if p.Priority == nil || !okDir || *p.Priority < 100 || *p.Priority > 4096 {
			continue
		}
		k := slot{*p.Priority, dir}
		if j, ok := taken[k]; ok {
			l.Addf(CodeSecurityRuleConflict, base+".properties.priority",
				"Security rule %s conflicts with rule %s. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules",
				display(r.Name, "rule", i), display(rules[j].Name, "rule", j))
			continue
		}
		taken[k] = i
	}
	if len(asgs) > MaxASGsPerNSG {
		l.Addf(CodeSecurityRuleApplicationSecurityGroupLimitExceeded, "properties.securityRules",
			"the rules of network security group %s reference %d application security groups; at most %d are allowed per NSG", n.Name, len(asgs), MaxASGsPerNSG)
	}
	checkDefaultRules(&l, n.Properties.DefaultSecurityRules)
	return &l
}

// canonical returns the value of allowed that s equals case-insensitively.
func canonical(s string, allowed ...string) (string, bool) {
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a, true
		}
	}
	return "", false
}

// rule checks one security rule; base is its target path.
func (v *validator) rule(l *armerror.List, base string, r *SecurityRule, i int) {
	p := &r.Properties
	name := display(r.Name, "rule", i)
	ruleID := r.ID
	if ruleID == "" {
		ruleID = name
	}
	checkName(l, base+".name", "security rule", r.Name, 1, 80)
	if n := utf8.RuneCountInString(p.Description); n > MaxSecurityRuleDescription {
		l.Addf(CodeSecurityRuleDescriptionTooLong, base+".properties.description",
			"Security rule %s has a description of %d characters; at most %d are allowed", name, n, MaxSecurityRuleDescription)
	}
	switch {
	case p.Priority == nil:
		// ARM reads a missing priority as 0 and reports it so.
		l.Addf(CodeSecurityRuleInvalidPriority, base+".properties.priority",
			"Security rule %s has invalid Priority. Value provided: 0 Allowed range 100-4096. The priority is missing; give each rule a unique number, lower numbers are evaluated first.", name)
	case *p.Priority >= 65000 && *p.Priority <= 65500:
		l.Addf(CodeSecurityRuleInvalidPriority, base+".properties.priority",
			"Security rule %s has invalid Priority. Value provided: %d Allowed range 100-4096. Priorities 65000-65500 belong to the default rules, which cannot be created or changed; override one with a rule numbered below it.", name, *p.Priority)
	case *p.Priority < 100 || *p.Priority > 4096:
		l.Addf(CodeSecurityRuleInvalidPriority, base+".properties.priority",
			"Security rule %s has invalid Priority. Value provided: %d Allowed range 100-4096.", name, *p.Priority)
	}
	if _, ok := canonical(p.Direction, DirectionInbound, DirectionOutbound); !ok {
		l.Addf(CodeSecurityRuleInvalidDirection, base+".properties.direction",
			"Security rule %s has invalid Direction. Value provided: %q Allowed values: Inbound,Outbound.", name, p.Direction)
	}
	if _, ok := canonical(p.Access, AccessAllow, AccessDeny); !ok {
		l.Addf(CodeSecurityRuleInvalidAccess, base+".properties.access",
			"Security rule %s has invalid Access. Value provided: %q Allowed values: Allow,Deny.", name, p.Access)
	}
	// ParseProtocol also reads "All"/"Any" as effective rules print them;
	// ARM's enum has only "*".
	if _, ok := ParseProtocol(p.Protocol); !ok || strings.EqualFold(p.Protocol, "all") || strings.EqualFold(p.Protocol, "any") {
		hint := ""
		if ok {
			hint = ` ARM spells "any protocol" as "*".`
		}
		l.Addf(CodeSecurityRuleInvalidProtocol, base+".properties.protocol",
			"Security rule %s has invalid Protocol. Value provided: %q Allowed values: Icmp,Tcp,Udp,Esp,Ah,*.%s", name, p.Protocol, hint)
	}
	v.ports(l, base, name, ruleID, "source", p.SourcePortRange, p.SourcePortRanges)
	v.ports(l, base, name, ruleID, "destination", p.DestinationPortRange, p.DestinationPortRanges)
	v.addresses(l, base, name, ruleID, "source", p.SourceAddressPrefix, p.SourceAddressPrefixes, p.SourceApplicationSecurityGroups)
	v.addresses(l, base, name, ruleID, "destination", p.DestinationAddressPrefix, p.DestinationAddressPrefixes, p.DestinationApplicationSecurityGroups)
}

// upper capitalizes a side name for ARM's parameter names: SourcePortRange.
func upper(side string) string { return strings.ToUpper(side[:1]) + side[1:] }

// ports checks one side's sourcePortRange/sourcePortRanges pair.
func (v *validator) ports(l *armerror.List, base, name, ruleID, side, single string, list []string) {
	field := base + ".properties." + side + "PortRange"
	switch {
	case single != "" && len(list) > 0:
		l.Addf(CodeSecurityRuleParametersMutuallyExclusive, field+"s",
			"Security rule %s gives both %sPortRange and %sPortRanges; give exactly one of them", name, side, side)
	case single == "" && len(list) == 0:
		l.Addf(CodeSecurityRuleParametersMissing, field,
			"Required security rule parameters are missing for security rule with Id: %s. Security rule must specify %sPortRanges or %sPortRange.", ruleID, upper(side), upper(side))
	}
	bad := func(target, value, hint string) {
		l.Addf(CodeSecurityRuleInvalidPortRange, target,
			"Security rule %s has invalid Port range. Value provided: %s. Value should be an integer OR integer range with '-' delimiter. Valid range 0-65535.%s", name, value, hint)
	}
	if single != "" {
		if strings.Contains(single, ",") {
			bad(field, single, fmt.Sprintf(" To give several ports or ranges, list them in %sPortRanges.", side))
		} else if _, ok := ParsePortRange(single); !ok {
			bad(field, single, "")
		}
	}
	for k, s := range list {
		if _, ok := ParsePortRange(s); !ok {
			bad(fmt.Sprintf("%ss[%d]", field, k), s, "")
		}
	}
}

// addresses checks one side's prefix / prefixes / application security
// groups: exactly one of them (spec §1.1), each value well formed.
func (v *validator) addresses(l *armerror.List, base, name, ruleID, side, single string, list []string, asgs []SubResource) {
	field := base + ".properties." + side + "AddressPrefix"
	asgField := base + ".properties." + side + "ApplicationSecurityGroups"
	var given []string
	if single != "" {
		given = append(given, side+"AddressPrefix")
	}
	if len(list) > 0 {
		given = append(given, side+"AddressPrefixes")
	}
	if len(asgs) > 0 {
		given = append(given, side+"ApplicationSecurityGroups")
	}
	switch {
	case len(given) == 0:
		l.Addf(CodeSecurityRuleParametersMissing, field,
			"Required security rule parameters are missing for security rule with Id: %s. Security rule must specify %sAddressPrefixes, %sAddressPrefix, or %sApplicationSecurityGroups.", ruleID, upper(side), upper(side), upper(side))
	case len(given) > 1:
		// The server's code for this case is [UNCONFIRMED] (spec §1.1).
		target := field + "es"
		if len(asgs) > 0 {
			target = asgField
		}
		l.Addf(CodeSecurityRuleParametersMutuallyExclusive, target,
			"Security rule %s gives %s; a side takes exactly one of an address prefix, a list of prefixes or application security groups (and one tag at most)", name, strings.Join(given, " and "))
	}
	if single != "" {
		v.singlePrefix(l, field, name, single)
	}
	if len(list) > MaxPrefixesPerRuleSide {
		l.Addf(CodeSecurityRuleAddressPrefixLimitExceeded, field+"es",
			"Security rule %s has %d %s address prefixes; at most %d are allowed per side", name, len(list), side, MaxPrefixesPerRuleSide)
	}
	for k, s := range list {
		target := fmt.Sprintf("%ses[%d]", field, k)
		if s == "*" || (!LooksLikeAddress(s) && looksLikeTag(s)) {
			l.Addf(CodeSecurityRuleParameterContainsUnsupportedValue, target,
				"Security rule parameter %sAddressPrefix for rule with Id %s cannot specify existing VIRTUALNETWORK, INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: %s. Put a tag or '*' in %sAddressPrefix instead (one per rule).",
				upper(side), ruleID, s, side)
			continue
		}
		if _, err := ParsePrefix(s); err != nil {
			l.Addf(CodeSecurityRuleInvalidAddressPrefix, target,
				"Security rule %s has invalid Address prefix. Value provided: %s.%s", name, s, prefixHint(err))
		}
	}
	if len(asgs) > MaxASGsPerRuleSide {
		l.Addf(CodeSecurityRuleApplicationSecurityGroupLimitExceeded, asgField,
			"Security rule %s references %d %s application security groups; at most %d are allowed per side", name, len(asgs), side, MaxASGsPerRuleSide)
	}
	for k, g := range asgs {
		v.reference(l, fmt.Sprintf("%s[%d].id", asgField, k), g.ID, TypeApplicationSecurityGrp,
			"application security group", "az network asg show", func(key string) bool { _, ok := v.idx.ASGs[key]; return ok })
	}
}

// singlePrefix checks a sourceAddressPrefix / destinationAddressPrefix: "*",
// an address or CIDR, or one service tag.
func (v *validator) singlePrefix(l *armerror.List, target, name, s string) {
	if s == "*" {
		return
	}
	if strings.Contains(s, ",") {
		l.Addf(CodeSecurityRuleInvalidAddressPrefix, target,
			"Security rule %s has invalid Address prefix. Value provided: %s. To give several addresses, list them in the ...AddressPrefixes field; a rule takes one tag at most.", name, s)
		return
	}
	if LooksLikeAddress(s) || strings.Contains(s, "/") {
		if _, err := ParsePrefix(s); err != nil {
			l.Addf(CodeSecurityRuleInvalidAddressPrefix, target,
				"Security rule %s has invalid Address prefix. Value provided: %s.%s", name, s, prefixHint(err))
		}
		return
	}
	if !v.knownTag(s) {
		l.Addf(CodeSecurityRuleInvalidAddressPrefix, target,
			"Security rule %s has invalid Address prefix. Value provided: %s%s", name, s, v.tagHint(s))
	}
}

// prefixHint explains a ParsePrefix error in a message.
func prefixHint(err error) string {
	if hb, ok := err.(*HostBitsError); ok {
		return fmt.Sprintf(" The prefix has host bits set; for the given prefix length, the address prefix should be %s.", hb.Canonical)
	}
	return " Want an IP address or a CIDR prefix."
}

// checkDefaultRules reports defaultSecurityRules that differ from Azure's six
// (spec §1.3). They are read-only in Azure; the flow engine evaluates them as
// read, so edited defaults would make it disagree with Azure.
func checkDefaultRules(l *armerror.List, got []SecurityRule) {
	if len(got) == 0 {
		return
	}
	want := DefaultSecurityRules("")
	byName := map[string]SecurityRule{}
	for _, r := range want {
		byName[strings.ToLower(r.Name)] = r
	}
	seen := map[string]bool{}
	for i, r := range got {
		target := fmt.Sprintf("properties.defaultSecurityRules[%d]", i)
		w, ok := byName[strings.ToLower(r.Name)]
		if !ok {
			l.Addf(CodeDefaultSecurityRuleModified, target+".name",
				"default security rule '%s' is not one of Azure's six default rules; default rules cannot be added or changed, put custom rules in securityRules", r.Name)
			continue
		}
		seen[strings.ToLower(r.Name)] = true
		if diff := defaultRuleDiff(w.Properties, r.Properties); diff != "" {
			l.Addf(CodeDefaultSecurityRuleModified, target,
				"default security rule '%s' differs from Azure's (%s); default rules cannot be changed: override them with custom rules numbered below 65000", r.Name, diff)
		}
	}
	for _, w := range want {
		if !seen[strings.ToLower(w.Name)] {
			l.Addf(CodeDefaultSecurityRuleModified, "properties.defaultSecurityRules",
				"default security rule '%s' is missing; default rules cannot be deleted (omit defaultSecurityRules entirely to have them filled in)", w.Name)
		}
	}
}

// defaultRuleDiff names the fields where got differs from the default rule
// want, ignoring read-only and cosmetic fields (ids, descriptions).
func defaultRuleDiff(want, got SecurityRuleProperties) string {
	var d []string
	eq := func(field, w, g string) {
		if !strings.EqualFold(w, g) {
			d = append(d, fmt.Sprintf("%s %q, want %q", field, g, w))
		}
	}
	eq("protocol", want.Protocol, got.Protocol)
	eq("access", want.Access, got.Access)
	eq("direction", want.Direction, got.Direction)
	eq("sourceAddressPrefix", want.SourceAddressPrefix, got.SourceAddressPrefix)
	eq("destinationAddressPrefix", want.DestinationAddressPrefix, got.DestinationAddressPrefix)
	eq("sourcePortRange", want.SourcePortRange, got.SourcePortRange)
	eq("destinationPortRange", want.DestinationPortRange, got.DestinationPortRange)
	if got.Priority == nil || *got.Priority != *want.Priority {
		g := "none"
		if got.Priority != nil {
			g = fmt.Sprint(*got.Priority)
		}
		d = append(d, fmt.Sprintf("priority %s, want %d", g, *want.Priority))
	}
	if len(got.SourceAddressPrefixes)+len(got.DestinationAddressPrefixes)+len(got.SourcePortRanges)+len(got.DestinationPortRanges)+
		len(got.SourceApplicationSecurityGroups)+len(got.DestinationApplicationSecurityGroups) > 0 {
		d = append(d, "extra prefix, port or application security group lists")
	}
	return strings.Join(d, "; ")
}
