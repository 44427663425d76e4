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
	present                  bool // networkAcls given
	defaultAllow             bool
	publicDisabled           bool
	bypassAzure              bool
	bypassLogging            bool
	bypassMetrics            bool
	ipRules                  []netip.Prefix
	ipText                   []string
	vnetRules                map[string]string // subnet id key -> subnet id
}

func (e *Engine) compileFirewalls() {
	for i := range e.snap.StorageAccounts {
		a := &e.snap.StorageAccounts[i]
		e.fw[network.Key(a.ID)] = newFirewall(a.ID, a.Name, KindStorage, a.Location, a.Properties.NetworkAcls, a.Properties.PublicNetworkAccess)
	}
	for i := range e.snap.KeyVaults {
		v := &e.snap.KeyVaults[i]
		e.fw[network.Key(v.ID)] = newFirewall(v.ID, v.Name, KindKeyVault, v.Location, v.Properties.NetworkAcls, v.Properties.PublicNetworkAccess)
	}
}

func newFirewall(id, name, kind, loc string, acls *network.NetworkRuleSet, public string) *firewall {
	f := &firewall{ID: id, Name: name, Kind: kind, Location: loc, defaultAllow: true, bypassAzure: kind == KindStorage,
		publicDisabled: strings.EqualFold(public, "Disabled"), vnetRules: map[string]string{}}
	if acls == nil {
		return f
	}
	f.present = true
	f.defaultAllow = !strings.EqualFold(acls.DefaultAction, network.AccessDeny)
	f.bypassAzure = acls.Bypass == "" // both services default to AzureServices (spec §5, §6)
	for _, tok := range strings.Split(acls.Bypass, ",") {
		switch strings.ToLower(strings.TrimSpace(tok)) {
		case "azureservices":
			f.bypassAzure = true
		case "logging":
			f.bypassLogging = true
		case "metrics":
			f.bypassMetrics = true
		}
	}
	for _, r := range acls.IPRules {
		if p, err := network.ParsePrefix(r.Value); err == nil && p.Addr().Is4() {
			f.ipRules = append(f.ipRules, p)
			f.ipText = append(f.ipText, r.Value)
		}
	}
	for _, r := range acls.VirtualNetworkRules {
		switch strings.ToLower(r.State) {
		case "deprovisioning", "failed", "networksourcedeleted":
			continue
		}
		f.vnetRules[network.Key(r.ID)] = r.ID
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
}

// FirewallVerdict is a service firewall's decision.
type FirewallVerdict struct {
	Access  Verdict
	Rule    string // e.g. "defaultAction Allow", "ipRules[0] 203.0.113.0/24", "virtualNetworkRules: <subnet>"
	Code    string // on denial: AuthorizationFailure (storage) or ForbiddenByFirewall (key vault)
	Service string // the service's name
	Kind    string
}

// Firewall decides whether a caller may use a storage account's or key
// vault's data plane (spec §5, §6). Control-plane calls are never filtered.
func (e *Engine) Firewall(serviceID string, c Caller) (FirewallVerdict, bool) {
	f, ok := e.fw[network.Key(serviceID)]
	if !ok {
		return FirewallVerdict{}, false
	}
	return f.decide(c), true
}

func (f *firewall) decide(c Caller) FirewallVerdict {
	v := FirewallVerdict{Access: Allow, Service: f.Name, Kind: f.Kind}
	switch {
	case c.Trusted && f.bypassAzure:
		v.Rule = "bypass AzureServices" // highest precedence, even with public access disabled
		return v
	case c.PrivateEndpoint:
		v.Rule = "private endpoint"
		return v
	case f.publicDisabled:
		v.Rule = "publicNetworkAccess Disabled"
	case f.defaultAllow:
		v.Rule = "defaultAction Allow"
		return v
	default:
		if c.Subnet != "" {
			if _, ok := f.vnetRules[network.Key(c.Subnet)]; ok {
				v.Rule = "virtualNetworkRules " + c.Subnet
				return v
			}
		}
		if !c.SameRegion && c.Subnet == "" && c.Addr.Is4() {
			for i, p := range f.ipRules {
				if p.Contains(c.Addr) {
					v.Rule = "ipRules " + f.ipText[i]
					return v
				}
			}
		}
		v.Rule = "defaultAction Deny"
	}
	v.Access = Deny
	v.Code = "AuthorizationFailure"
	if f.Kind == KindKeyVault {
		v.Code = "ForbiddenByFirewall"
	}
	return v
}
