package network

import "strings"

// NetworkSecurityGroup is Microsoft.Network/networkSecurityGroups.
type NetworkSecurityGroup struct {
	Meta
	Properties NSGProperties `json:"properties"`
}

// NSGProperties holds an NSG's rules and what it is attached to.
type NSGProperties struct {
	SecurityRules        []SecurityRule `json:"securityRules"`
	DefaultSecurityRules []SecurityRule `json:"defaultSecurityRules,omitempty"`
	Subnets              []SubResource  `json:"subnets,omitempty"`
	NetworkInterfaces    []SubResource  `json:"networkInterfaces,omitempty"`
	ProvisioningState    string         `json:"provisioningState,omitempty"`
	ResourceGUID         string         `json:"resourceGuid,omitempty"`
}

// SecurityRule is Microsoft.Network/networkSecurityGroups/securityRules (or a
// default rule). Each side takes exactly one of a prefix, a prefix list or a
// list of application security groups (spec §1.1).
type SecurityRule struct {
	Name          string                 `json:"name"`
	ID            string                 `json:"id,omitempty"`
	Type          string                 `json:"type,omitempty"`
	Etag          string                 `json:"etag,omitempty"`
	ResourceGroup string                 `json:"resourceGroup,omitempty"`
	Properties    SecurityRuleProperties `json:"properties"`
}

// SecurityRuleProperties holds a rule's match and action. Priority is a
// pointer so that a missing priority is told apart from 0.
type SecurityRuleProperties struct {
	Description                          string        `json:"description,omitempty"`
	Protocol                             string        `json:"protocol"`
	SourcePortRange                      string        `json:"sourcePortRange,omitempty"`
	SourcePortRanges                     []string      `json:"sourcePortRanges,omitempty"`
	DestinationPortRange                 string        `json:"destinationPortRange,omitempty"`
	DestinationPortRanges                []string      `json:"destinationPortRanges,omitempty"`
	SourceAddressPrefix                  string        `json:"sourceAddressPrefix,omitempty"`
	SourceAddressPrefixes                []string      `json:"sourceAddressPrefixes,omitempty"`
	SourceApplicationSecurityGroups      []SubResource `json:"sourceApplicationSecurityGroups,omitempty"`
	DestinationAddressPrefix             string        `json:"destinationAddressPrefix,omitempty"`
	DestinationAddressPrefixes           []string      `json:"destinationAddressPrefixes,omitempty"`
	DestinationApplicationSecurityGroups []SubResource `json:"destinationApplicationSecurityGroups,omitempty"`
	Access                               string        `json:"access"`
	Priority                             *int          `json:"priority,omitempty"`
	Direction                            string        `json:"direction"`
	ProvisioningState                    string        `json:"provisioningState,omitempty"`
}

// ApplicationSecurityGroup is Microsoft.Network/applicationSecurityGroups.
// Its members are the NIC ip configurations that name it.
type ApplicationSecurityGroup struct {
	Meta
	Properties ASGProperties `json:"properties"`
}

// ASGProperties holds an ASG's read-only properties.
type ASGProperties struct {
	ProvisioningState string `json:"provisioningState,omitempty"`
	ResourceGUID      string `json:"resourceGuid,omitempty"`
}

// Access values.
const (
	AccessAllow = "Allow"
	AccessDeny  = "Deny"
)

// Direction values.
const (
	DirectionInbound  = "Inbound"
	DirectionOutbound = "Outbound"
)

// DefaultSecurityRules returns the six rules every NSG carries (spec §1.3),
// with ids under nsgID when it is given.
func DefaultSecurityRules(nsgID string) []SecurityRule {
	type def struct {
		name, dir, src, dst, access, desc string
		prio                              int
	}
	defs := []def{
		{"AllowVnetInBound", DirectionInbound, "VirtualNetwork", "VirtualNetwork", AccessAllow, "Allow inbound traffic from all VMs in VNET", 65000},
		{"AllowAzureLoadBalancerInBound", DirectionInbound, "AzureLoadBalancer", "*", AccessAllow, "Allow inbound traffic from azure load balancer", 65001},
		{"DenyAllInBound", DirectionInbound, "*", "*", AccessDeny, "Deny all inbound traffic", 65500},
		{"AllowVnetOutBound", DirectionOutbound, "VirtualNetwork", "VirtualNetwork", AccessAllow, "Allow outbound traffic from all VMs to all VMs in VNET", 65000},
		{"AllowInternetOutBound", DirectionOutbound, "*", "Internet", AccessAllow, "Allow outbound traffic from all VMs to Internet", 65001},
		{"DenyAllOutBound", DirectionOutbound, "*", "*", AccessDeny, "Deny all outbound traffic", 65500},
	}
	out := make([]SecurityRule, len(defs))
	for i, d := range defs {
		p := d.prio
		r := SecurityRule{Name: d.name, Type: TypeDefaultSecurityRule, Properties: SecurityRuleProperties{
			Description: d.desc, Protocol: "*", SourcePortRange: "*", DestinationPortRange: "*",
			SourceAddressPrefix: d.src, DestinationAddressPrefix: d.dst, Access: d.access,
			Priority: &p, Direction: d.dir, ProvisioningState: "Succeeded",
		}}
		if nsgID != "" {
			r.ID = nsgID + "/defaultSecurityRules/" + d.name
		}
		out[i] = r
	}
	return out
}

// The service tags Azure computes rather than publishes (spec §1.4).
const (
	TagVirtualNetwork    = "VirtualNetwork"
	TagInternet          = "Internet"
	TagAzureLoadBalancer = "AzureLoadBalancer"
)

// ComputedTag returns the canonical spelling of a computed tag named s in
// any case, and whether s names one.
func ComputedTag(s string) (string, bool) {
	for _, t := range [...]string{TagVirtualNetwork, TagInternet, TagAzureLoadBalancer} {
		if strings.EqualFold(s, t) {
			return t, true
		}
	}
	return "", false
}
