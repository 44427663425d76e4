package network

import (
	"fmt"
	"strings"
)

// Resource types, as ARM spells them. Compare with strings.EqualFold: ARM
// treats types and IDs case-insensitively.
const (
	TypeVirtualNetwork         = "Microsoft.Network/virtualNetworks"
	TypeSubnet                 = "Microsoft.Network/virtualNetworks/subnets"
	TypePeering                = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
	TypeNetworkSecurityGroup   = "Microsoft.Network/networkSecurityGroups"
	TypeSecurityRule           = "Microsoft.Network/networkSecurityGroups/securityRules"
	TypeDefaultSecurityRule    = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules"
	TypeApplicationSecurityGrp = "Microsoft.Network/applicationSecurityGroups"
	TypeRouteTable             = "Microsoft.Network/routeTables"
	TypeRoute                  = "Microsoft.Network/routeTables/routes"
	TypeNetworkInterface       = "Microsoft.Network/networkInterfaces"
	TypePublicIPAddress        = "Microsoft.Network/publicIPAddresses"
	TypeLoadBalancer           = "Microsoft.Network/loadBalancers"
	TypePrivateEndpoint        = "Microsoft.Network/privateEndpoints"
	TypeVirtualNetworkGateway  = "Microsoft.Network/virtualNetworkGateways"
	TypeLocalNetworkGateway    = "Microsoft.Network/localNetworkGateways"
	TypeConnection             = "Microsoft.Network/connections"
	TypeStorageAccount         = "Microsoft.Storage/storageAccounts"
	TypeKeyVault               = "Microsoft.KeyVault/vaults"
)

// DefaultSubscription and DefaultResourceGroup name the scope given to
// resources read without an id (ARM template resources, hand-written files).
const (
	DefaultSubscription  = "00000000-0000-0000-0000-000000000000"
	DefaultResourceGroup = "default"
)

// SubResource is ARM's reference to another resource: {"id": "..."}.
type SubResource struct {
	ID string `json:"id"`
}

// Meta holds the fields every ARM resource has at the top level.
type Meta struct {
	Name          string            `json:"name"`
	ID            string            `json:"id,omitempty"`
	Type          string            `json:"type,omitempty"`
	Location      string            `json:"location,omitempty"`
	ResourceGroup string            `json:"resourceGroup,omitempty"`
	Etag          string            `json:"etag,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
}

// ResourceID is a parsed ARM resource id:
// /subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{childType}/{childName}...].
type ResourceID struct {
	Subscription  string
	ResourceGroup string
	Provider      string   // e.g. Microsoft.Network
	Types         []string // e.g. [virtualNetworks subnets]
	Names         []string // e.g. [myvnet default]
}

// ParseResourceID parses an ARM resource id.
func ParseResourceID(id string) (ResourceID, error) {
	var r ResourceID
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if !strings.HasPrefix(id, "/") || len(parts) < 4 ||
		!strings.EqualFold(parts[0], "subscriptions") || !strings.EqualFold(parts[2], "resourceGroups") {
		return r, fmt.Errorf("%q is not a resource id: want /subscriptions/{subscription}/resourceGroups/{group}/providers/{namespace}/{type}/{name}", id)
	}
	r.Subscription, r.ResourceGroup = parts[1], parts[3]
	rest := parts[4:]
	if len(rest) == 0 {
		return r, nil
	}
	if len(rest) < 4 || !strings.EqualFold(rest[0], "providers") || len(rest)%2 != 0 {
		return r, fmt.Errorf("%q is not a resource id: after the resource group want providers/{namespace}/{type}/{name}[/{type}/{name}]", id)
	}
	r.Provider = rest[1]
	for i := 2; i < len(rest); i += 2 {
		if rest[i] == "" || rest[i+1] == "" {
			return r, fmt.Errorf("%q is not a resource id: empty segment", id)
		}
		r.Types = append(r.Types, rest[i])
		r.Names = append(r.Names, rest[i+1])
	}
	return r, nil
}

// Type returns the full resource type, e.g. Microsoft.Network/virtualNetworks/subnets.
func (r ResourceID) Type() string {
	if r.Provider == "" {
		return ""
	}
	return r.Provider + "/" + strings.Join(r.Types, "/")
}

// Name returns the last name segment.
func (r ResourceID) Name() string {
	if len(r.Names) == 0 {
		return ""
	}
	return r.Names[len(r.Names)-1]
}

// Parent returns the id of the parent resource (for a child resource).
func (r ResourceID) Parent() ResourceID {
	p := r
	if len(p.Types) > 0 {
		p.Types = p.Types[:len(p.Types)-1]
		p.Names = p.Names[:len(p.Names)-1]
	}
	return p
}

// String renders the id in ARM's canonical form.
func (r ResourceID) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "/subscriptions/%s/resourceGroups/%s", r.Subscription, r.ResourceGroup)
	if r.Provider != "" {
		fmt.Fprintf(&b, "/providers/%s", r.Provider)
		for i := range r.Types {
			fmt.Fprintf(&b, "/%s/%s", r.Types[i], r.Names[i])
		}
	}
	return b.String()
}

// MakeID builds the id of a resource of the given full type (child types
// included, e.g. Microsoft.Network/virtualNetworks/subnets) and slash-joined
// name path (e.g. "myvnet/default"), as ARM templates name child resources.
func MakeID(subscription, group, fullType, namePath string) string {
	ts := strings.Split(fullType, "/")
	ns := strings.Split(namePath, "/")
	r := ResourceID{Subscription: subscription, ResourceGroup: group}
	if len(ts) >= 2 {
		r.Provider = ts[0]
		r.Types = ts[1:]
		r.Names = ns
	}
	return r.String()
}

// SameID reports whether two resource ids name the same resource (ARM ids
// are case-insensitive).
func SameID(a, b string) bool { return a != "" && strings.EqualFold(a, b) }

// Key returns the case-folded form of an id, for use as a map key.
func Key(id string) string { return strings.ToLower(strings.TrimRight(id, "/")) }
