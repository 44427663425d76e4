package network

import (
	"slices"
	"strings"
)

// VirtualNetwork is Microsoft.Network/virtualNetworks.
type VirtualNetwork struct {
	Meta
	Properties VirtualNetworkProperties `json:"properties"`
}

// VirtualNetworkProperties holds a virtual network's properties.
type VirtualNetworkProperties struct {
	AddressSpace           AddressSpace            `json:"addressSpace"`
	Subnets                []Subnet                `json:"subnets,omitempty"`
	VirtualNetworkPeerings []VirtualNetworkPeering `json:"virtualNetworkPeerings,omitempty"`
	DhcpOptions            *DhcpOptions            `json:"dhcpOptions,omitempty"`
	EnableDdosProtection   *bool                   `json:"enableDdosProtection,omitempty"`
	ProvisioningState      string                  `json:"provisioningState,omitempty"`
	ResourceGUID           string                  `json:"resourceGuid,omitempty"`
}

// AddressSpace is a list of CIDR prefixes.
type AddressSpace struct {
	AddressPrefixes []string `json:"addressPrefixes"`
}

// DhcpOptions lists custom DNS servers.
type DhcpOptions struct {
	DNSServers []string `json:"dnsServers"`
}

// Subnet is Microsoft.Network/virtualNetworks/subnets, nested in its VNet or
// standing alone (as `az network vnet subnet show` prints it).
type Subnet struct {
	Name          string           `json:"name"`
	ID            string           `json:"id,omitempty"`
	Type          string           `json:"type,omitempty"`
	Etag          string           `json:"etag,omitempty"`
	ResourceGroup string           `json:"resourceGroup,omitempty"`
	Properties    SubnetProperties `json:"properties"`
}

// SubnetProperties holds a subnet's properties.
type SubnetProperties struct {
	AddressPrefix                     string            `json:"addressPrefix,omitempty"`
	AddressPrefixes                   []string          `json:"addressPrefixes,omitempty"`
	NetworkSecurityGroup              *SubResource      `json:"networkSecurityGroup,omitempty"`
	RouteTable                        *SubResource      `json:"routeTable,omitempty"`
	ServiceEndpoints                  []ServiceEndpoint `json:"serviceEndpoints,omitempty"`
	Delegations                       []Delegation      `json:"delegations,omitempty"`
	IPConfigurations                  []SubResource     `json:"ipConfigurations,omitempty"`
	PrivateEndpoints                  []SubResource     `json:"privateEndpoints,omitempty"`
	PrivateEndpointNetworkPolicies    string            `json:"privateEndpointNetworkPolicies,omitempty"`
	PrivateLinkServiceNetworkPolicies string            `json:"privateLinkServiceNetworkPolicies,omitempty"`
	ProvisioningState                 string            `json:"provisioningState,omitempty"`
}

// ServiceEndpoint enables a service endpoint (e.g. Microsoft.Storage) on a
// subnet for the listed locations ("*" = every region).
type ServiceEndpoint struct {
	Service           string   `json:"service"`
	Locations         []string `json:"locations,omitempty"`
	ProvisioningState string   `json:"provisioningState,omitempty"`
}

// Delegation hands a subnet to one PaaS service.
type Delegation struct {
	Name       string               `json:"name"`
	ID         string               `json:"id,omitempty"`
	Type       string               `json:"type,omitempty"`
	Properties DelegationProperties `json:"properties"`
}

// DelegationProperties names the service a subnet is delegated to.
type DelegationProperties struct {
	ServiceName       string   `json:"serviceName"`
	Actions           []string `json:"actions,omitempty"`
	ProvisioningState string   `json:"provisioningState,omitempty"`
}

// VirtualNetworkPeering is Microsoft.Network/virtualNetworks/virtualNetworkPeerings.
type VirtualNetworkPeering struct {
	Name          string            `json:"name"`
	ID            string            `json:"id,omitempty"`
	Type          string            `json:"type,omitempty"`
	Etag          string            `json:"etag,omitempty"`
	ResourceGroup string            `json:"resourceGroup,omitempty"`
	Properties    PeeringProperties `json:"properties"`
}

// PeeringProperties holds a peering's properties. Only peerings whose
// peeringState is Connected (or empty, meaning not reported) carry traffic.
type PeeringProperties struct {
	RemoteVirtualNetwork      *SubResource  `json:"remoteVirtualNetwork,omitempty"`
	RemoteAddressSpace        *AddressSpace `json:"remoteAddressSpace,omitempty"`
	PeeringState              string        `json:"peeringState,omitempty"`
	AllowVirtualNetworkAccess *bool         `json:"allowVirtualNetworkAccess,omitempty"`
	AllowForwardedTraffic     bool          `json:"allowForwardedTraffic,omitempty"`
	AllowGatewayTransit       bool          `json:"allowGatewayTransit,omitempty"`
	UseRemoteGateways         bool          `json:"useRemoteGateways,omitempty"`
	ProvisioningState         string        `json:"provisioningState,omitempty"`
}

// AllPrefixes returns a subnet's prefixes (addressPrefix and addressPrefixes).
func (s *SubnetProperties) AllPrefixes() []string {
	var out []string
	if s.AddressPrefix != "" {
		out = append(out, s.AddressPrefix)
	}
	return append(out, s.AddressPrefixes...)
}

// serviceEndpoints maps, by lower-cased name, each service a subnet can
// have a service endpoint for (spec §7) to the family of service tags whose
// prefixes the endpoint's routes carry (spec §12.5).
var serviceEndpoints = map[string]struct{ name, family string }{
	"microsoft.storage":              {"Microsoft.Storage", "Storage"},
	"microsoft.storage.global":       {"Microsoft.Storage.Global", "Storage"},
	"microsoft.sql":                  {"Microsoft.Sql", "Sql"},
	"microsoft.azurecosmosdb":        {"Microsoft.AzureCosmosDB", "AzureCosmosDB"},
	"microsoft.keyvault":             {"Microsoft.KeyVault", "AzureKeyVault"},
	"microsoft.servicebus":           {"Microsoft.ServiceBus", "ServiceBus"},
	"microsoft.eventhub":             {"Microsoft.EventHub", "EventHub"},
	"microsoft.web":                  {"Microsoft.Web", "AppService"},
	"microsoft.cognitiveservices":    {"Microsoft.CognitiveServices", "CognitiveServicesManagement"},
	"microsoft.containerregistry":    {"Microsoft.ContainerRegistry", "AzureContainerRegistry"},
	"microsoft.azureactivedirectory": {"Microsoft.AzureActiveDirectory", "AzureActiveDirectory"},
}

// ServiceEndpointTag returns the service tag family of a service endpoint's
// service (case-insensitive), and whether the endpoint covers every region
// (Microsoft.Storage.Global). ok is false for an unknown service.
func ServiceEndpointTag(service string) (family string, global, ok bool) {
	s, ok := serviceEndpoints[strings.ToLower(service)]
	return s.family, s.name == "Microsoft.Storage.Global", ok
}

// ServiceEndpointServices lists the services a subnet can have a service
// endpoint for, sorted.
func ServiceEndpointServices() []string {
	out := make([]string, 0, len(serviceEndpoints))
	for _, s := range serviceEndpoints {
		out = append(out, s.name)
	}
	slices.Sort(out)
	return out
}
