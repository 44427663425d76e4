package network

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Error codes reported by Validate and the Validate* functions. Where Azure
// has a code (seen in ARM responses, spec §1.2, §5, §7, §8) it is used as is;
// where the spec records none the code is vnetml's own, named the way ARM
// names its codes, and marked "invented" below. Callers decide by code, never
// by message text.
const (
	// NSG rules (spec §1.1, §1.2).
	CodeInvalidResourceName                               = "InvalidResourceName"                               // ARM's code for a bad name
	CodeSecurityRuleInvalidPriority                       = "SecurityRuleInvalidPriority"                       // spec §1.2
	CodeSecurityRuleConflict                              = "SecurityRuleConflict"                              // spec §1.2
	CodeSecurityRuleInvalidPortRange                      = "SecurityRuleInvalidPortRange"                      // spec §1.2
	CodeSecurityRuleInvalidAddressPrefix                  = "SecurityRuleInvalidAddressPrefix"                  // spec §1.2
	CodeSecurityRuleParameterContainsUnsupportedValue     = "SecurityRuleParameterContainsUnsupportedValue"     // spec §1.2
	CodeSecurityRuleInvalidProtocol                       = "SecurityRuleInvalidProtocol"                       // observed (Azure/azure-cli#25181)
	CodeSecurityRuleParametersMissing                     = "SecurityRuleParametersMissing"                     // observed (Azure/sap-hana#135): no prefix, prefixes or ASGs on a side
	CodeSecurityRuleParametersMutuallyExclusive           = "SecurityRuleParametersMutuallyExclusive"           // invented: spec §1.1 leaves the code for "prefix and prefixes both set" [UNCONFIRMED]
	CodeSecurityRuleInvalidDirection                      = "SecurityRuleInvalidDirection"                      // invented, after SecurityRuleInvalidProtocol
	CodeSecurityRuleInvalidAccess                         = "SecurityRuleInvalidAccess"                         // invented, after SecurityRuleInvalidProtocol
	CodeSecurityRuleDescriptionTooLong                    = "SecurityRuleDescriptionTooLong"                    // invented
	CodeSecurityRuleCountLimitExceeded                    = "SecurityRuleCountLimitExceeded"                    // invented: > 1,000 rules per NSG
	CodeSecurityRuleAddressPrefixLimitExceeded            = "SecurityRuleAddressPrefixLimitExceeded"            // invented: > 4,000 prefixes on one side
	CodeSecurityRuleApplicationSecurityGroupLimitExceeded = "SecurityRuleApplicationSecurityGroupLimitExceeded" // invented: > 10 ASGs per side, > 100 per NSG
	CodeDefaultSecurityRuleModified                       = "DefaultSecurityRuleModified"                       // invented: defaultSecurityRules differ from spec §1.3
	CodeDuplicateResourceName                             = "DuplicateResourceName"                             // invented: two children of one parent share a name
	CodeInvalidResourceReference                          = "InvalidResourceReference"                          // a reference names no loaded resource

	// Virtual networks and subnets (spec §7).
	CodeInvalidAddressPrefixFormat          = "InvalidAddressPrefixFormat"          // invented: not a CIDR prefix at all
	CodeInvalidCIDRNotation                 = "InvalidCIDRNotation"                 // spec §7: host bits set
	CodeVnetAddressSpaceMissing             = "VnetAddressSpaceMissing"             // invented
	CodeVnetAddressSpaceReservedRange       = "VnetAddressSpaceReservedRange"       // invented: spec §7 forbidden ranges
	CodeVnetAddressSpaceRangesOverlap       = "VnetAddressSpaceRangesOverlap"       // invented: spec §11.5 [UNCONFIRMED code]
	CodeSubnetAddressPrefixMissing          = "SubnetAddressPrefixMissing"          // invented
	CodeNetcfgInvalidSubnet                 = "NetcfgInvalidSubnet"                 // observed (Azure/Azure-Landing-Zones#3420, microsoft/AzureTRE#2111) as Azure's generic "subnet is not valid"; used for sizes outside /29../2 (IPv6: /64)
	CodeNetcfgSubnetRangeOutsideVnet        = "NetcfgSubnetRangeOutsideVnet"        // spec §7
	CodeNetcfgSubnetRangesOverlap           = "NetcfgSubnetRangesOverlap"           // spec §7
	CodeInvalidServiceNameOnServiceEndpoint = "InvalidServiceNameOnServiceEndpoint" // invented
	CodePeeringRemoteVirtualNetworkMissing  = "PeeringRemoteVirtualNetworkMissing"  // invented
	CodeVnetAddressSpacesOverlap            = "VnetAddressSpacesOverlap"            // spec §7: peering overlapping spaces
	CodeDuplicateResource                   = "DuplicateResource"                   // invented: one resource id loaded twice

	// Route tables (spec §3.2).
	CodeInvalidRouteAddressPrefix    = "InvalidRouteAddressPrefix"    // invented
	CodeInvalidNextHopType           = "InvalidNextHopType"           // invented
	CodeMissingNextHopIpAddress      = "MissingNextHopIpAddress"      // observed (terraform-provider-azurerm#20365)
	CodeInvalidNextHopIpAddress      = "InvalidNextHopIpAddress"      // invented
	CodeNextHopIpAddressNotAllowed   = "NextHopIpAddressNotAllowed"   // invented: an IP on a non-appliance hop
	CodeRouteConflict                = "RouteConflict"                // observed (kubernetes-sigs/cloud-provider-azure#657)
	CodeRouteCountLimitExceeded      = "RouteCountLimitExceeded"      // invented: > 400 routes
	CodeServiceTagRouteLimitExceeded = "ServiceTagRouteLimitExceeded" // invented: > 25 service-tag routes

	// Network interfaces (spec §7).
	CodeInvalidPrivateIPAddress         = "InvalidPrivateIPAddress"         // invented
	CodePrivateIPAddressInReservedRange = "PrivateIPAddressInReservedRange" // spec §7 (lab transcripts)
	CodePrivateIPAddressNotInSubnet     = "PrivateIPAddressNotInSubnet"     // not in the spec; named as ARM names it [UNCONFIRMED]
	CodePrivateIPAddressInUse           = "PrivateIPAddressInUse"           // not in the spec; named as ARM names it [UNCONFIRMED]

	// Storage account and key vault firewalls (spec §5, §6).
	CodeInvalidValuesForRequestParameters = "InvalidValuesForRequestParameters" // spec §5
	CodeNetworkAclsValidationFailure      = "NetworkAclsValidationFailure"      // spec §5
	CodeNetworkAclsRuleLimitExceeded      = "NetworkAclsRuleLimitExceeded"      // invented

	// AKS (spec §8), see validate_aks.go.
	CodeServiceCidrOverlapExistingSubnetsCidr       = "ServiceCidrOverlapExistingSubnetsCidr"       // spec §8
	CodeCidrStringParseError                        = "CidrStringParseError"                        // spec §8
	CodeServiceCidrOverlapReservedRange             = "ServiceCidrOverlapReservedRange"             // invented
	CodeServiceCidrTooLarge                         = "ServiceCidrTooLarge"                         // invented: prefix length < 12
	CodeServiceCidrAndDnsServiceIPMustBeSetTogether = "ServiceCidrAndDnsServiceIPMustBeSetTogether" // invented
	CodeInvalidDnsServiceIP                         = "InvalidDnsServiceIP"                         // invented; messages follow aks-engine
	CodeDockerBridgeCidrOverlap                     = "DockerBridgeCidrOverlap"                     // invented
	CodeInvalidMaxPods                              = "InvalidMaxPods"                              // invented
	CodeInvalidNodeCount                            = "InvalidNodeCount"                            // invented
	CodeSubnetTooSmallForAKS                        = "SubnetTooSmallForAKS"                        // invented
)

// Limits checked by Validate (spec §1.1, §1.2, §3.2, §5, §6).
const (
	MaxSecurityRulesPerNSG         = 1000
	MaxPrefixesPerRuleSide         = 4000
	MaxASGsPerRuleSide             = 10
	MaxASGsPerNSG                  = 100
	MaxRoutesPerTable              = 400
	MaxServiceTagRoutesPerTable    = 25
	MaxSecurityRuleDescription     = 140
	MaxStorageIPRules              = 400
	MaxStorageVirtualNetworkRules  = 400
	MaxKeyVaultIPRules             = 1000
	MaxKeyVaultVirtualNetworkRules = 200
)

// TagResolver says whether a service tag name is known (case-insensitive).
// It is what Validate needs of internal/servicetag's registry.
//
// The computed tags VirtualNetwork, Internet and AzureLoadBalancer (and "*")
// are always valid in an NSG rule's single-prefix fields, whatever HasTag
// says. A nil TagResolver accepts any name that looks like a tag (a letter,
// then letters, digits, '.', '-' or '_').
type TagResolver interface {
	HasTag(name string) bool
}

// tagSuggester is the optional part of a TagResolver that proposes close
// names for an error's hint.
type tagSuggester interface {
	Suggest(name string, n int) []string
}

// Validate checks a normalized snapshot against Azure's rules (spec §1.1,
// §1.2, §3.2, §5, §6, §7) and returns nil or an *armerror.Error: the single
// error, or InvalidRequestContent whose details hold every error found, so
// that a document reports all of its mistakes at once. tags resolves service
// tag names; nil accepts any tag-looking name.
//
// It checks virtual networks (with subnets and peerings), network security
// groups, route tables, network interfaces, the prefixes of local network
// gateways, the firewalls of storage accounts and key vaults, and, across
// resources, ids loaded twice and private addresses taken twice. Public IPs,
// load balancers, private endpoints, VPN gateways and connections are read
// as they are. Validate does not modify s; several goroutines may validate
// one snapshot at once.
//
// Every error's Target is a JSON path rooted at the snapshot: the resource
// collection as Snapshot marshals it, the resource's name in brackets
// ("[#i]", its position, when it has none), then the path inside the
// resource's ARM JSON, with array positions in brackets:
//
//	networkSecurityGroups[ml-nsg].properties.securityRules[2].properties.priority
//	virtualNetworks[ml-vnet].properties.subnets[0].properties.addressPrefix
//	routeTables[ml-rt].properties.routes[1].properties.nextHopIpAddress
//	networkInterfaces[ml-nic].properties.ipConfigurations[0].properties.privateIPAddress
//	storageAccounts[mlstore].properties.networkAcls.ipRules[3].value
//
// The per-resource functions (ValidateNSG, ValidateVirtualNetwork, ...)
// return targets rooted at the resource ("properties.securityRules[2]...");
// ValidateNetworkRuleSet's are rooted at the rule set ("ipRules[3].value").
//
// References between resources (a subnet's NSG and route table, a NIC's
// subnet, NSG and application security groups, a rule's application
// security groups, a firewall's virtual network rules) must name a resource
// of the snapshot: the flow engine cannot evaluate what it has not read, so
// a dangling reference is an InvalidResourceReference whose message says
// which JSON to add.
func (s *Snapshot) Validate(tags TagResolver) error {
	return s.ValidateChanged(tags, nil)
}

// ValidateChanged is Validate for a snapshot that was valid before some of
// its resources changed: it checks only the top-level resources whose id
// changed reports true, resolving their references against the whole
// snapshot, and reports a private address taken twice only against a
// changed network interface. A nil changed checks everything, as Validate.
// It is what a server that validated every earlier write needs per write.
func (s *Snapshot) ValidateChanged(tags TagResolver, changed func(id string) bool) error {
	if s == nil {
		return nil
	}
	v := &validator{tags: tags, idx: NewIndex(s), only: changed}
	var l armerror.List
	if changed == nil {
		v.duplicates(&l, s)
	}
	for i := range s.VirtualNetworks {
		r := &s.VirtualNetworks[i]
		if v.checks(r.ID) {
			l.Merge(rootOf("virtualNetworks", r.Name, i), v.vnet(r))
		}
	}
	for i := range s.NetworkSecurityGroups {
		r := &s.NetworkSecurityGroups[i]
		if v.checks(r.ID) {
			l.Merge(rootOf("networkSecurityGroups", r.Name, i), v.nsg(r))
		}
	}
	for i := range s.RouteTables {
		r := &s.RouteTables[i]
		if v.checks(r.ID) {
			l.Merge(rootOf("routeTables", r.Name, i), v.routeTable(r))
		}
	}
	for i := range s.NetworkInterfaces {
		r := &s.NetworkInterfaces[i]
		if v.checks(r.ID) {
			l.Merge(rootOf("networkInterfaces", r.Name, i), v.nic(r))
		}
	}
	v.privateIPsInUse(&l, s)
	for i := range s.LocalNetworkGateways {
		r := &s.LocalNetworkGateways[i]
		if !v.checks(r.ID) {
			continue
		}
		var ll armerror.List
		for j, p := range r.Properties.LocalNetworkAddressSpace.AddressPrefixes {
			parseCIDR(&ll, fmt.Sprintf("properties.localNetworkAddressSpace.addressPrefixes[%d]", j), p, r.ID)
		}
		l.Merge(rootOf("localNetworkGateways", r.Name, i), &ll)
	}
	for i := range s.StorageAccounts {
		r := &s.StorageAccounts[i]
		if r.Properties.NetworkAcls != nil && v.checks(r.ID) {
			l.Merge(rootOf("storageAccounts", r.Name, i)+".properties.networkAcls",
				validateNetworkRuleSet(r.Properties.NetworkAcls, "storage", v.idx))
		}
	}
	for i := range s.KeyVaults {
		r := &s.KeyVaults[i]
		if r.Properties.NetworkAcls != nil && v.checks(r.ID) {
			l.Merge(rootOf("keyVaults", r.Name, i)+".properties.networkAcls",
				validateNetworkRuleSet(r.Properties.NetworkAcls, "keyvault", v.idx))
		}
		if v.checks(r.ID) {
			validateAccessPolicies(&l, rootOf("keyVaults", r.Name, i)+".properties.accessPolicies", r.Properties.AccessPolicies)
		}
	}
	return l.Err()
}

// validator carries what every check needs. idx is nil when a resource is
// validated on its own; references are then not resolved.
type validator struct {
	tags TagResolver
	idx  *Index
	only func(id string) bool // nil: check every resource
}

// checks reports whether the resource with this id is to be checked.
func (v *validator) checks(id string) bool { return v.only == nil || v.only(id) }

// rootOf names a top-level resource in a target path.
func rootOf(collection, name string, i int) string {
	if name == "" {
		return fmt.Sprintf("%s[#%d]", collection, i)
	}
	return collection + "[" + name + "]"
}

// duplicates reports a resource id loaded twice: references to it would be
// ambiguous, and the flow engine would see only one of the copies.
func (v *validator) duplicates(l *armerror.List, s *Snapshot) {
	seen := map[string]string{}
	add := func(collection, name, id string, i int) {
		if id == "" {
			return
		}
		at := rootOf(collection, name, i)
		if first, ok := seen[Key(id)]; ok {
			l.Addf(CodeDuplicateResource, at+".id",
				"resource %s is loaded twice (first as %s); give each resource once", id, first)
			return
		}
		seen[Key(id)] = at
	}
	for i, r := range s.VirtualNetworks {
		add("virtualNetworks", r.Name, r.ID, i)
	}
	for i, r := range s.NetworkSecurityGroups {
		add("networkSecurityGroups", r.Name, r.ID, i)
	}
	for i, r := range s.ApplicationSecGroups {
		add("applicationSecurityGroups", r.Name, r.ID, i)
	}
	for i, r := range s.RouteTables {
		add("routeTables", r.Name, r.ID, i)
	}
	for i, r := range s.NetworkInterfaces {
		add("networkInterfaces", r.Name, r.ID, i)
	}
	for i, r := range s.PublicIPAddresses {
		add("publicIPAddresses", r.Name, r.ID, i)
	}
	for i, r := range s.LoadBalancers {
		add("loadBalancers", r.Name, r.ID, i)
	}
	for i, r := range s.PrivateEndpoints {
		add("privateEndpoints", r.Name, r.ID, i)
	}
	for i, r := range s.VirtualNetworkGateways {
		add("virtualNetworkGateways", r.Name, r.ID, i)
	}
	for i, r := range s.LocalNetworkGateways {
		add("localNetworkGateways", r.Name, r.ID, i)
	}
	for i, r := range s.Connections {
		add("connections", r.Name, r.ID, i)
	}
	for i, r := range s.StorageAccounts {
		add("storageAccounts", r.Name, r.ID, i)
	}
	for i, r := range s.KeyVaults {
		add("keyVaults", r.Name, r.ID, i)
	}
}

// nameRE is Azure's rule for network resource names (spec §1.1): a letter
// or digit first, a letter, digit or '_' last, and letters, digits, '.', '-'
// and '_' between.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)

// checkName reports a name that breaks nameRE or is not minLen..maxLen
// characters long. kind names the resource in the message.
func checkName(l *armerror.List, target, kind, name string, minLen, maxLen int) {
	switch {
	case name == "":
		l.Addf(CodeInvalidResourceName, target, "the %s has no name; give it one (%d-%d characters)", kind, minLen, maxLen)
	case len(name) < minLen || len(name) > maxLen:
		l.Addf(CodeInvalidResourceName, target,
			"the %s name '%s' is %d characters long; it must be %d-%d characters", kind, name, len(name), minLen, maxLen)
	case !nameRE.MatchString(name):
		l.Addf(CodeInvalidResourceName, target,
			"the %s name '%s' is invalid: it must begin with a letter or number, end with a letter, number or underscore, and may contain only letters, numbers, underscores, periods, or hyphens", kind, name)
	}
}

// dupNames reports children of one parent that share a name
// (case-insensitively, as ARM compares names).
type dupNames struct {
	kind string
	seen map[string]int
}

func newDupNames(kind string) *dupNames { return &dupNames{kind: kind, seen: map[string]int{}} }

func (d *dupNames) check(l *armerror.List, target, name string, i int) {
	if name == "" {
		return
	}
	k := strings.ToLower(name)
	if j, ok := d.seen[k]; ok {
		l.Addf(CodeDuplicateResourceName, target,
			"%s name '%s' is used at positions %d and %d; names must be unique within the parent (case-insensitive)", d.kind, name, j, i)
		return
	}
	d.seen[k] = i
}

func isComputedTag(s string) bool {
	_, ok := ComputedTag(s)
	return ok
}

// looksLikeTag reports whether s is spelled like a service tag name:
// Storage, Storage.EastUS, AzureCloud.eastus, AzureFrontDoor.Frontend.
func looksLikeTag(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// knownTag reports whether name is a service tag that tags knows (any
// tag-looking name when tags is nil). "Any" and "All" are never tags:
// Azure rejects them (ernestio/ernest#473), "*" is the way to say it.
func (v *validator) knownTag(name string) bool {
	if isComputedTag(name) {
		return true
	}
	if strings.EqualFold(name, "any") || strings.EqualFold(name, "all") {
		return false
	}
	if v.tags == nil {
		return looksLikeTag(name)
	}
	return v.tags.HasTag(name)
}

// tagHint explains an unknown tag name, with close names when the resolver
// can suggest them.
func (v *validator) tagHint(name string) string {
	if strings.EqualFold(name, "any") || strings.EqualFold(name, "all") {
		return "; use \"*\" for any address"
	}
	if s, ok := v.tags.(tagSuggester); ok {
		if names := s.Suggest(name, 3); len(names) > 0 {
			return fmt.Sprintf("; %q is not a known service tag (did you mean %s?)", name, strings.Join(names, ", "))
		}
	}
	if !looksLikeTag(name) {
		return "; want an IP address, a CIDR prefix or a service tag name"
	}
	return fmt.Sprintf("; %q is not a known service tag", name)
}

// parseCIDR parses a prefix that must be written as CIDR (address spaces,
// subnets, route prefixes). It reports InvalidAddressPrefixFormat for text
// that is no prefix and InvalidCIDRNotation, naming the canonical prefix,
// for one with host bits set; resource names the resource in the message.
func parseCIDR(l *armerror.List, target, s, resource string) (netip.Prefix, bool) {
	if resource == "" {
		resource = "the resource"
	}
	if !strings.Contains(s, "/") {
		l.Addf(CodeInvalidAddressPrefixFormat, target,
			"the address prefix '%s' in resource %s is not in CIDR notation; write it as address/length, e.g. 10.0.0.0/24", s, resource)
		return netip.Prefix{}, false
	}
	p, err := ParsePrefix(s)
	if err != nil {
		if hb, ok := err.(*HostBitsError); ok {
			l.Addf(CodeInvalidCIDRNotation, target,
				"The address prefix %s in resource %s has an invalid CIDR notation. For the given prefix length, the address prefix should be %s.", s, resource, hb.Canonical)
		} else {
			l.Addf(CodeInvalidAddressPrefixFormat, target,
				"the address prefix '%s' in resource %s is not a valid CIDR prefix; write it as address/length, e.g. 10.0.0.0/24", s, resource)
		}
		return netip.Prefix{}, false
	}
	return p, true
}

// reference checks a reference to a resource of the given type: that it is
// a resource id of that type and, when idx is known, that the snapshot holds
// it (found). what names the reference in messages ("network security
// group"), show the az command whose JSON would add it.
func (v *validator) reference(l *armerror.List, target, id, typ, what, show string, found func(key string) bool) {
	if id == "" {
		l.Addf(CodeInvalidResourceReference, target, "the %s reference has no id", what)
		return
	}
	r, err := ParseResourceID(id)
	if err != nil {
		l.Addf(CodeInvalidResourceReference, target, "the %s reference is invalid: %v", what, err)
		return
	}
	if !strings.EqualFold(r.Type(), typ) {
		l.Addf(CodeInvalidResourceReference, target,
			"the %s reference %s names a resource of type %s; want a %s", what, id, r.Type(), typ)
		return
	}
	if v.idx != nil && !found(Key(id)) {
		l.Addf(CodeInvalidResourceReference, target,
			"%s %s is not among the resources read; add its JSON (%s)", what, id, show)
	}
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	b := a.AsSlice()
	bits := p.Bits()
	for i := range b {
		hostBits := len(b)*8 - bits - (len(b)-1-i)*8
		switch {
		case hostBits >= 8:
			b[i] = 0xff
		case hostBits > 0:
			b[i] |= byte(1<<hostBits - 1)
		}
	}
	out, _ := netip.AddrFromSlice(b)
	return out
}

// nthAddr returns the address n after p's first address, and whether it is
// still inside p.
func nthAddr(p netip.Prefix, n int) (netip.Addr, bool) {
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
		if !a.IsValid() {
			return a, false
		}
	}
	return a, p.Contains(a)
}

// joinPrefixes renders prefixes for a message.
func joinPrefixes(ps []netip.Prefix) string {
	ss := make([]string, len(ps))
	for i, p := range ps {
		ss[i] = p.String()
	}
	return strings.Join(ss, ", ")
}

// display names a child resource in a message: its name, or its position.
func display(name, kind string, i int) string {
	if name == "" {
		return fmt.Sprintf("%s #%d", kind, i)
	}
	return name
}
