package network

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Kinds of NetworkRuleSet, for ValidateNetworkRuleSet.
const (
	ACLKindStorage  = "storage"
	ACLKindKeyVault = "keyvault"
)

// nonPublicIPv4 are the blocks an IP rule may not lie in: a storage account
// or key vault firewall admits public IPv4 clients only (spec §5, §6).
// RFC 1918 is confirmed; loopback, link-local, "this network", multicast,
// reserved and shared (100.64.0.0/10) space are rejected by decision (spec
// §11.6), since no client reaches a public endpoint from them. The
// documentation and benchmarking ranges (192.0.2.0/24, 198.18.0.0/15,
// 198.51.100.0/24, 203.0.113.0/24) are accepted: vnetml's local cloud uses
// them for public addresses (spec §12.8).
var nonPublicIPv4 = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" range"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918) range"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback range"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local range"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918) range"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918) range"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast range"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved range"},
}

// ValidateNetworkRuleSet checks the networkAcls of a storage account (kind
// "storage", spec §5) or a key vault (kind "keyvault", spec §6):
// defaultAction, bypass tokens, IP rules (public IPv4 only; storage also
// rejects /31 and /32 prefixes), virtual network rules (the subnet must be
// in idx and have the service's endpoint — Microsoft.Storage or
// Microsoft.Storage.Global, or Microsoft.KeyVault — unless
// ignoreMissingVnetServiceEndpoint), and rule counts. With a nil idx the
// subnets are not looked up. Targets are rooted at the rule set
// ("ipRules[3].value").
func ValidateNetworkRuleSet(acls *NetworkRuleSet, kind string, idx *Index) *armerror.List {
	return validateNetworkRuleSet(acls, kind, idx)
}

// aclRules holds what differs between the two kinds of firewall.
type aclRules struct {
	kind           string // "storage account", "key vault"
	bypass         []string
	bypassList     bool // a comma list of tokens (storage) or one token (key vault)
	endpoints      []string
	maxIP, maxVNet int
	narrowRejected bool // /31 and /32 prefixes rejected (storage)
	link           string
}

var (
	storageACL = aclRules{
		kind: "storage account", bypass: []string{"None", "AzureServices", "Logging", "Metrics"}, bypassList: true,
		endpoints: []string{"Microsoft.Storage", "Microsoft.Storage.Global"},
		maxIP:     MaxStorageIPRules, maxVNet: MaxStorageVirtualNetworkRules, narrowRejected: true,
		link: " For more information, see - https://aka.ms/storagenetworkruleset",
	}
	keyVaultACL = aclRules{
		kind: "key vault", bypass: []string{"AzureServices", "None"},
		endpoints: []string{"Microsoft.KeyVault"},
		maxIP:     MaxKeyVaultIPRules, maxVNet: MaxKeyVaultVirtualNetworkRules,
	}
)

func validateNetworkRuleSet(acls *NetworkRuleSet, kind string, idx *Index) *armerror.List {
	var l armerror.List
	if acls == nil {
		return &l
	}
	var k aclRules
	switch {
	case strings.EqualFold(kind, ACLKindStorage):
		k = storageACL
	case strings.EqualFold(kind, ACLKindKeyVault):
		k = keyVaultACL
	default:
		l.Addf("InvalidRequestContent", "", "network rule set kind %q is neither %q nor %q", kind, ACLKindStorage, ACLKindKeyVault)
		return &l
	}
	invalid := func(target, param, format string, args ...any) {
		l.Addf(CodeInvalidValuesForRequestParameters, target,
			"Values for request parameters are invalid: networkAcls.%s.%s %s", param, k.link, fmt.Sprintf(format, args...))
	}
	if _, ok := canonical(acls.DefaultAction, AccessAllow, AccessDeny); !ok {
		invalid("defaultAction", "defaultAction", "(the %s firewall's defaultAction is %q; want Allow or Deny)", k.kind, acls.DefaultAction)
	}
	k.checkBypass(acls.Bypass, invalid)

	if len(acls.IPRules) > k.maxIP {
		l.Addf(CodeNetworkAclsRuleLimitExceeded, "ipRules",
			"the %s firewall has %d IP rules; at most %d are allowed", k.kind, len(acls.IPRules), k.maxIP)
	}
	for i, r := range acls.IPRules {
		if reason := k.ipRuleProblem(r.Value); reason != "" {
			invalid(fmt.Sprintf("ipRules[%d].value", i), k.ipRuleParam(), "(%s)", reason)
		}
		if k.kind == storageACL.kind && r.Action != "" && !strings.EqualFold(r.Action, AccessAllow) {
			invalid(fmt.Sprintf("ipRules[%d].action", i), "ipRule[*].action", "(action %q; IP rules can only Allow)", r.Action)
		}
	}

	if len(acls.VirtualNetworkRules) > k.maxVNet {
		l.Addf(CodeNetworkAclsRuleLimitExceeded, "virtualNetworkRules",
			"the %s firewall has %d virtual network rules; at most %d are allowed", k.kind, len(acls.VirtualNetworkRules), k.maxVNet)
	}
	for i, r := range acls.VirtualNetworkRules {
		target := fmt.Sprintf("virtualNetworkRules[%d]", i)
		if k.kind == storageACL.kind && r.Action != "" && !strings.EqualFold(r.Action, AccessAllow) {
			invalid(target+".action", "virtualNetworkRules[*].action", "(action %q; virtual network rules can only Allow)", r.Action)
		}
		k.checkVNetRule(&l, target+".id", r, idx, invalid)
	}

	if k.kind == storageACL.kind {
		for i, r := range acls.ResourceAccessRules {
			if r.ResourceID == "" {
				invalid(fmt.Sprintf("resourceAccessRules[%d].resourceId", i), "resourceAccessRules[*].resourceId", "(a resource instance rule needs the resourceId of the trusted resource)")
			}
		}
	}
	return &l
}

func (k aclRules) ipRuleParam() string {
	if k.kind == storageACL.kind {
		return "ipRule[*].value" // as Azure's message spells it (spec §5)
	}
	return "ipRules[*].value"
}

// checkBypass checks the bypass field: empty (the default, AzureServices),
// or tokens from k.bypass; None stands alone.
func (k aclRules) checkBypass(bypass string, invalid func(target, param, format string, args ...any)) {
	if bypass == "" {
		return
	}
	want := strings.Join(k.bypass, ", ")
	if !k.bypassList {
		if _, ok := canonical(strings.TrimSpace(bypass), k.bypass...); !ok {
			invalid("bypass", "bypass", "(the %s firewall's bypass is %q; want one of %s)", k.kind, bypass, want)
		}
		return
	}
	tokens := strings.Split(bypass, ",")
	for _, t := range tokens {
		c, ok := canonical(strings.TrimSpace(t), k.bypass...)
		switch {
		case !ok:
			invalid("bypass", "bypass", "(bypass %q has the token %q; want None or a comma list of %s)", bypass, strings.TrimSpace(t), strings.Join(k.bypass[1:], ", "))
			return
		case c == "None" && len(tokens) > 1:
			invalid("bypass", "bypass", "(bypass %q combines None with other tokens; None stands alone)", bypass)
			return
		}
	}
}

// ipRuleProblem says what is wrong with an IP rule's value, or "".
func (k aclRules) ipRuleProblem(s string) string {
	if s == "" {
		return "the value is empty; give a public IPv4 address or CIDR prefix"
	}
	p, err := ParsePrefix(s)
	if err != nil {
		if hb, ok := err.(*HostBitsError); ok {
			return fmt.Sprintf("%s has host bits set; for the given prefix length the prefix should be %s", s, hb.Canonical)
		}
		return fmt.Sprintf("%s is not an IPv4 address or CIDR prefix", s)
	}
	if !p.Addr().Is4() {
		return fmt.Sprintf("%s is not IPv4; IP rules take public IPv4 addresses only", s)
	}
	if k.narrowRejected && strings.Contains(s, "/") && p.Bits() > 30 {
		return fmt.Sprintf("%s is a /%d prefix; prefixes must be /30 or shorter, give a single address without a prefix length", s, p.Bits())
	}
	for _, b := range nonPublicIPv4 {
		if b.prefix.Bits() <= p.Bits() && b.prefix.Contains(p.Addr()) {
			return fmt.Sprintf("%s lies in the %s %s; IP rules admit public IPv4 addresses only — allow clients inside a virtual network with a virtual network rule", s, b.what, b.prefix)
		}
	}
	return ""
}

// checkVNetRule checks a virtual network rule's subnet id, that idx holds the
// subnet, and that the subnet has the service endpoint.
func (k aclRules) checkVNetRule(l *armerror.List, target string, r VirtualNetworkRule, idx *Index, invalid func(target, param, format string, args ...any)) {
	id, err := ParseResourceID(r.ID)
	if err != nil || !strings.EqualFold(id.Type(), TypeSubnet) {
		invalid(target, "virtualNetworkRules[*].id", "(%q is not a subnet resource id: want /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet})", r.ID)
		return
	}
	if idx == nil {
		return
	}
	vnetID := id.Parent().String()
	sn, ok := idx.Subnets[Key(r.ID)]
	if !ok {
		l.Addf(CodeNetworkAclsValidationFailure, target,
			"Validation of network acls failure: subnet %s of virtual network %s is not among the resources read; add the virtual network's JSON (az network vnet show) so the %s firewall's rule can be checked and evaluated",
			id.Name(), vnetID, k.kind)
		return
	}
	if r.IgnoreMissingVnetServiceEndpoint && k.kind == keyVaultACL.kind {
		return // a key vault's option only (spec §6); storage always checks
	}
	for _, se := range sn.Properties.ServiceEndpoints {
		if _, ok := canonical(se.Service, k.endpoints...); ok {
			return
		}
	}
	svc := k.endpoints[0]
	l.Addf(CodeNetworkAclsValidationFailure, target,
		"Validation of network acls failure: SubnetsHaveNoServiceEndpointsConfigured:Subnets %s of virtual network %s do not have ServiceEndpoints for %s resources configured. Add %s to subnet's ServiceEndpoints collection before trying to ACL %s resources to these subnets.",
		sn.Name, vnetID, svc, svc, svc)
}

// secretPermissions are the secret permissions of an access policy that
// vnetml decides on, and the ones Key Vault knows that it keeps as written.
var secretPermissions = map[string]bool{"get": true, "list": true, "set": true, "delete": true, "all": true,
	"backup": true, "restore": true, "recover": true, "purge": true}

// validateAccessPolicies checks a key vault's access policies: each names
// an identity (objectId) and known secret permissions; 1,024 at most.
func validateAccessPolicies(l *armerror.List, target string, aps []AccessPolicy) {
	if len(aps) > 1024 {
		l.Addf(CodeInvalidValuesForRequestParameters, target, "A key vault holds at most 1024 access policies; this one has %d.", len(aps))
	}
	for i, ap := range aps {
		t := fmt.Sprintf("%s[%d]", target, i)
		if strings.TrimSpace(ap.ObjectID) == "" {
			l.Addf(CodeInvalidValuesForRequestParameters, t+".objectId", "An access policy needs an objectId: the identity it grants to (in vnetml, a token's name).")
		}
		for j, p := range ap.Permissions.Secrets {
			if !secretPermissions[strings.ToLower(p)] {
				l.Addf(CodeInvalidValuesForRequestParameters, fmt.Sprintf("%s.permissions.secrets[%d]", t, j),
					"%q is not a secret permission; use get, list, set, delete (or all, backup, restore, recover, purge).", p)
			}
		}
	}
}
