package flow

import (
	"net/netip"
	"strings"

	"github.com/vnetml/vnetml/internal/network"
)

// Service kinds that have a firewall.
const (
	KindStorage  = "storage"
	KindKeyVault = "keyvault"
)

// firewall is a compiled networkAcls of a storage account or key vault.
type firewall struct {
	ID, Name, Kind, Location string
	defaultAllow             bool
	publicDisabled           bool
	bypassAzure              bool
	ipRules                  []netip.Prefix
	ipText                   []string
	vnetRules                map[string]int // subnet id (as written, and folded) -> index in virtualNetworkRules
	vnetText                 []string
	resourceRules            map[string]int // resource id key -> index in resourceAccessRules
	resourceText             []string
}

func (e *Engine) compileFirewalls() {
	add := func(f *firewall) { e.fw[f.ID], e.fw[network.Key(f.ID)] = f, f } // as written, and folded
	for i := range e.snap.StorageAccounts {
		a := &e.snap.StorageAccounts[i]
		add(newFirewall(a.ID, a.Name, KindStorage, a.Location, a.Properties.NetworkAcls, a.Properties.PublicNetworkAccess))
	}
	for i := range e.snap.KeyVaults {
		v := &e.snap.KeyVaults[i]
		add(newFirewall(v.ID, v.Name, KindKeyVault, v.Location, v.Properties.NetworkAcls, v.Properties.PublicNetworkAccess))
	}
}

func newFirewall(id, name, kind, loc string, acls *network.NetworkRuleSet, public string) *firewall {
	f := &firewall{ID: id, Name: name, Kind: kind, Location: loc, defaultAllow: true, bypassAzure: true,
		publicDisabled: strings.EqualFold(public, "Disabled"), vnetRules: map[string]int{}, resourceRules: map[string]int{}}
	if acls == nil {
		return f
	}
	f.defaultAllow = !strings.EqualFold(acls.DefaultAction, network.AccessDeny)
	// Both services default to AzureServices (spec §5, §6). Logging and
	// Metrics concern reads of storage analytics, which vnetml does not serve.
	f.bypassAzure = acls.Bypass == ""
	for _, tok := range strings.Split(acls.Bypass, ",") {
		if strings.EqualFold(strings.TrimSpace(tok), "AzureServices") {
			f.bypassAzure = true
		}
	}
	for _, r := range acls.IPRules {
		if p, err := network.ParsePrefix(r.Value); err == nil && p.Addr().Is4() {
			f.ipRules = append(f.ipRules, p)
			f.ipText = append(f.ipText, r.Value)
		}
	}
	for _, r := range acls.VirtualNetworkRules {
		// Only a rule in state succeeded admits (spec §5); a rule written by
		// hand has no state yet and counts as one.
		if r.State != "" && !strings.EqualFold(r.State, "succeeded") {
			continue
		}
		f.vnetRules[r.ID] = len(f.vnetText)
		f.vnetRules[network.Key(r.ID)] = len(f.vnetText)
		f.vnetText = append(f.vnetText, r.ID)
	}
	for _, r := range acls.ResourceAccessRules {
		f.resourceRules[r.ResourceID] = len(f.resourceText)
		f.resourceRules[network.Key(r.ResourceID)] = len(f.resourceText)
		f.resourceText = append(f.resourceText, r.ResourceID)
	}
	return f
}

// Caller is how a request reaches a service, as its firewall sees it.
type Caller struct {
	// Addr is the client address the service sees (a public address, or a
	// VNet-private one for a same-region client without a service endpoint).
	Addr netip.Addr
	// Subnet is the source subnet's id when the request arrives through its
	// service endpoint; PrivateEndpoint when it arrives through one.
	Subnet          string
	PrivateEndpoint bool
	// SameRegion marks a client in the service's own Azure region without a
	// service endpoint: ipRules do not apply to it (spec §5).
	SameRegion bool
	// Trusted marks a trusted Azure service (firewall bypass AzureServices).
	Trusted bool
	// Resource is the resource id of a calling resource instance (e.g. a
	// workspace with a managed identity), matched by resourceAccessRules.
	Resource string
}

// FirewallRule says which part of networkAcls decided.
type FirewallRule uint8

// Firewall rules, in the order they are consulted.
const (
	RuleBypass          FirewallRule = iota + 1 // bypass AzureServices, for a trusted caller
	RulePrivateEndpoint                         // arrived through a private endpoint
	RulePublicDisabled                          // publicNetworkAccess Disabled
	RuleDefaultAllow                            // defaultAction Allow
	RuleResourceAccess                          // resourceAccessRules[Index]
	RuleVirtualNetwork                          // virtualNetworkRules[Index]
	RuleIP                                      // ipRules[Index]
	RuleDefaultDeny                             // defaultAction Deny
)

// FirewallVerdict is a service firewall's decision: a verdict and the rule
// that decided (its text is built only by RuleText).
type FirewallVerdict struct {
	Access Verdict
	Rule   FirewallRule
	Index  int // of the deciding resource, virtual network or IP rule
	fw     *firewall
}

// Service names the storage account or key vault ("" for the zero verdict
// that Firewall returns for an unknown service).
func (v FirewallVerdict) Service() string {
	if v.fw == nil {
		return ""
	}
	return v.fw.Name
}

// Kind is KindStorage or KindKeyVault ("" for the zero verdict).
func (v FirewallVerdict) Kind() string {
	if v.fw == nil {
		return ""
	}
	return v.fw.Kind
}

// Code is Azure's error code of a denial: AuthorizationFailure (storage) or
// ForbiddenByFirewall (key vault); empty when allowed.
func (v FirewallVerdict) Code() string {
	switch {
	case v.Access == Allow || v.fw == nil:
		return ""
	case v.fw.Kind == KindKeyVault:
		return "ForbiddenByFirewall"
	}
	return "AuthorizationFailure"
}

// RuleText renders the deciding rule, e.g. "ipRules 203.0.113.0/24".
func (v FirewallVerdict) RuleText() string {
	if v.fw == nil {
		return ""
	}
	switch v.Rule {
	case RuleBypass:
		return "bypass AzureServices"
	case RulePrivateEndpoint:
		return "private endpoint"
	case RulePublicDisabled:
		return "publicNetworkAccess Disabled"
	case RuleDefaultAllow:
		return "defaultAction Allow"
	case RuleResourceAccess:
		return "resourceAccessRules " + v.fw.resourceText[v.Index]
	case RuleVirtualNetwork:
		return "virtualNetworkRules " + v.fw.vnetText[v.Index]
	case RuleIP:
		return "ipRules " + v.fw.ipText[v.Index]
	}
	return "defaultAction Deny"
}

// Firewall decides whether a caller may use a storage account's or key
// vault's data plane (spec §5, §6). Control-plane calls are never filtered.
// It allocates nothing.
func (e *Engine) Firewall(serviceID string, c Caller) (FirewallVerdict, bool) {
	f, ok := lookupID(e.fw, serviceID)
	if !ok {
		return FirewallVerdict{}, false
	}
	return f.decide(c), true
}

// lookupID finds an id in a map holding ids as written and folded
// (network.Key): the id as given first, then folded into a stack buffer, so
// that a lookup allocates nothing.
func lookupID[V any](m map[string]V, id string) (V, bool) {
	if v, ok := m[id]; ok {
		return v, true
	}
	var buf [512]byte
	if len(id) > len(buf) {
		v, ok := m[network.Key(id)]
		return v, ok
	}
	b := buf[:0]
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 0x80: // not ASCII: fold as network.Key does
			v, ok := m[network.Key(id)]
			return v, ok
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	for len(b) > 0 && b[len(b)-1] == '/' {
		b = b[:len(b)-1]
	}
	v, ok := m[string(b)]
	return v, ok
}

func (f *firewall) hasResource(id string) bool {
	_, ok := lookupID(f.resourceRules, id)
	return ok
}

func (f *firewall) decide(c Caller) FirewallVerdict {
	v := FirewallVerdict{Access: Allow, fw: f}
	switch {
	case c.Trusted && f.bypassAzure:
		v.Rule = RuleBypass // highest precedence, even with public access disabled
		return v
	case c.PrivateEndpoint:
		v.Rule = RulePrivateEndpoint
		return v
	case c.Resource != "" && f.hasResource(c.Resource):
		// Resource-instance access is trusted-service access: it stays
		// effective with public access disabled (spec §5).
		v.Rule = RuleResourceAccess
		v.Index, _ = lookupID(f.resourceRules, c.Resource)
		return v
	case f.publicDisabled:
		v.Rule = RulePublicDisabled
	case f.defaultAllow:
		v.Rule = RuleDefaultAllow
		return v
	default:
		if c.Subnet != "" {
			if i, ok := lookupID(f.vnetRules, c.Subnet); ok {
				v.Rule, v.Index = RuleVirtualNetwork, i
				return v
			}
		}
		if !c.SameRegion && c.Subnet == "" && c.Addr.Is4() {
			for i, p := range f.ipRules {
				if p.Contains(c.Addr) {
					v.Rule, v.Index = RuleIP, i
					return v
				}
			}
		}
		v.Rule = RuleDefaultDeny
	}
	v.Access = Deny
	return v
}
