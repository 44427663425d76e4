package network

// PrivateEndpoint is Microsoft.Network/privateEndpoints. Its NIC (listed in
// networkInterfaces, and carrying properties.privateEndpoint) holds its
// address; each address is routed as a /32 InterfaceEndpoint route (spec §12.4).
type PrivateEndpoint struct {
	Meta
	Properties PrivateEndpointProperties `json:"properties"`
}

// PrivateEndpointProperties holds a private endpoint's subnet and NICs.
type PrivateEndpointProperties struct {
	Subnet                        *SubResource                   `json:"subnet,omitempty"`
	NetworkInterfaces             []SubResource                  `json:"networkInterfaces,omitempty"`
	PrivateLinkServiceConnections []PrivateLinkServiceConnection `json:"privateLinkServiceConnections,omitempty"`
	CustomDNSConfigs              []CustomDNSConfig              `json:"customDnsConfigs,omitempty"`
	ProvisioningState             string                         `json:"provisioningState,omitempty"`
}

// PrivateLinkServiceConnection names the resource a private endpoint reaches.
type PrivateLinkServiceConnection struct {
	Name       string                                 `json:"name"`
	ID         string                                 `json:"id,omitempty"`
	Properties PrivateLinkServiceConnectionProperties `json:"properties"`
}

// PrivateLinkServiceConnectionProperties holds the target resource and group.
type PrivateLinkServiceConnectionProperties struct {
	PrivateLinkServiceID string   `json:"privateLinkServiceId"`
	GroupIDs             []string `json:"groupIds,omitempty"`
}

// CustomDNSConfig maps a name to private endpoint addresses.
type CustomDNSConfig struct {
	FQDN        string   `json:"fqdn"`
	IPAddresses []string `json:"ipAddresses"`
}

// VirtualNetworkGateway is Microsoft.Network/virtualNetworkGateways (a VPN
// gateway in a VNet's GatewaySubnet).
type VirtualNetworkGateway struct {
	Meta
	Properties VirtualNetworkGatewayProperties `json:"properties"`
}

// VirtualNetworkGatewayProperties holds a gateway's type and ip configurations.
type VirtualNetworkGatewayProperties struct {
	GatewayType       string                   `json:"gatewayType,omitempty"`
	VpnType           string                   `json:"vpnType,omitempty"`
	EnableBgp         bool                     `json:"enableBgp,omitempty"`
	IPConfigurations  []GatewayIPConfiguration `json:"ipConfigurations,omitempty"`
	ProvisioningState string                   `json:"provisioningState,omitempty"`
}

// GatewayIPConfiguration places a gateway in a subnet (GatewaySubnet).
type GatewayIPConfiguration struct {
	Name       string                           `json:"name"`
	ID         string                           `json:"id,omitempty"`
	Properties GatewayIPConfigurationProperties `json:"properties"`
}

// GatewayIPConfigurationProperties holds the gateway's subnet and public IP.
type GatewayIPConfigurationProperties struct {
	Subnet          *SubResource `json:"subnet,omitempty"`
	PublicIPAddress *SubResource `json:"publicIPAddress,omitempty"`
}

// LocalNetworkGateway is Microsoft.Network/localNetworkGateways: an
// on-premises site and its address space.
type LocalNetworkGateway struct {
	Meta
	Properties LocalNetworkGatewayProperties `json:"properties"`
}

// LocalNetworkGatewayProperties holds the on-premises prefixes.
type LocalNetworkGatewayProperties struct {
	LocalNetworkAddressSpace AddressSpace `json:"localNetworkAddressSpace"`
	GatewayIPAddress         string       `json:"gatewayIpAddress,omitempty"`
	ProvisioningState        string       `json:"provisioningState,omitempty"`
}

// Connection is Microsoft.Network/connections: links a VNet gateway to a
// local network gateway (IPsec) or another VNet gateway.
type Connection struct {
	Meta
	Properties ConnectionProperties `json:"properties"`
}

// ConnectionProperties holds the two ends of a connection.
type ConnectionProperties struct {
	ConnectionType         string       `json:"connectionType,omitempty"`
	VirtualNetworkGateway1 *SubResource `json:"virtualNetworkGateway1,omitempty"`
	VirtualNetworkGateway2 *SubResource `json:"virtualNetworkGateway2,omitempty"`
	LocalNetworkGateway2   *SubResource `json:"localNetworkGateway2,omitempty"`
	ConnectionStatus       string       `json:"connectionStatus,omitempty"`
	ProvisioningState      string       `json:"provisioningState,omitempty"`
}
