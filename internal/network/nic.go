package network

// NetworkInterface is Microsoft.Network/networkInterfaces.
type NetworkInterface struct {
	Meta
	Properties NICProperties `json:"properties"`
}

// NICProperties holds a NIC's ip configurations and NSG.
type NICProperties struct {
	IPConfigurations            []IPConfiguration `json:"ipConfigurations"`
	NetworkSecurityGroup        *SubResource      `json:"networkSecurityGroup,omitempty"`
	EnableIPForwarding          bool              `json:"enableIPForwarding,omitempty"`
	EnableAcceleratedNetworking bool              `json:"enableAcceleratedNetworking,omitempty"`
	VirtualMachine              *SubResource      `json:"virtualMachine,omitempty"`
	PrivateEndpoint             *SubResource      `json:"privateEndpoint,omitempty"`
	MacAddress                  string            `json:"macAddress,omitempty"`
	Primary                     *bool             `json:"primary,omitempty"`
	ProvisioningState           string            `json:"provisioningState,omitempty"`
	ResourceGUID                string            `json:"resourceGuid,omitempty"`
}

// IPConfiguration is one address of a NIC.
type IPConfiguration struct {
	Name          string                    `json:"name"`
	ID            string                    `json:"id,omitempty"`
	Type          string                    `json:"type,omitempty"`
	Etag          string                    `json:"etag,omitempty"`
	ResourceGroup string                    `json:"resourceGroup,omitempty"`
	Properties    IPConfigurationProperties `json:"properties"`
}

// IPConfigurationProperties holds an ip configuration's address, subnet and
// application security groups.
type IPConfigurationProperties struct {
	PrivateIPAddress                string        `json:"privateIPAddress,omitempty"`
	PrivateIPAllocationMethod       string        `json:"privateIPAllocationMethod,omitempty"`
	PrivateIPAddressVersion         string        `json:"privateIPAddressVersion,omitempty"`
	Subnet                          *SubResource  `json:"subnet,omitempty"`
	PublicIPAddress                 *SubResource  `json:"publicIPAddress,omitempty"`
	ApplicationSecurityGroups       []SubResource `json:"applicationSecurityGroups,omitempty"`
	LoadBalancerBackendAddressPools []SubResource `json:"loadBalancerBackendAddressPools,omitempty"`
	Primary                         *bool         `json:"primary,omitempty"`
	ProvisioningState               string        `json:"provisioningState,omitempty"`
}

// PublicIPAddress is Microsoft.Network/publicIPAddresses.
type PublicIPAddress struct {
	Meta
	SKU        *SKU                      `json:"sku,omitempty"`
	Properties PublicIPAddressProperties `json:"properties"`
}

// SKU is a resource's SKU (Basic, Standard).
type SKU struct {
	Name string `json:"name"`
	Tier string `json:"tier,omitempty"`
	// Family is a key vault SKU's ("A").
	Family string `json:"family,omitempty"`
}

// PublicIPAddressProperties holds a public IP's address and attachment.
type PublicIPAddressProperties struct {
	IPAddress                string       `json:"ipAddress,omitempty"`
	PublicIPAllocationMethod string       `json:"publicIPAllocationMethod,omitempty"`
	PublicIPAddressVersion   string       `json:"publicIPAddressVersion,omitempty"`
	IPConfiguration          *SubResource `json:"ipConfiguration,omitempty"`
	IdleTimeoutInMinutes     int          `json:"idleTimeoutInMinutes,omitempty"`
	ProvisioningState        string       `json:"provisioningState,omitempty"`
	ResourceGUID             string       `json:"resourceGuid,omitempty"`
}

// LoadBalancer is Microsoft.Network/loadBalancers.
type LoadBalancer struct {
	Meta
	SKU        *SKU                   `json:"sku,omitempty"`
	Properties LoadBalancerProperties `json:"properties"`
}

// LoadBalancerProperties holds a load balancer's frontends and backend pools.
type LoadBalancerProperties struct {
	FrontendIPConfigurations []FrontendIPConfiguration `json:"frontendIPConfigurations"`
	BackendAddressPools      []BackendAddressPool      `json:"backendAddressPools,omitempty"`
	LoadBalancingRules       []LoadBalancingRule       `json:"loadBalancingRules,omitempty"`
	ProvisioningState        string                    `json:"provisioningState,omitempty"`
	ResourceGUID             string                    `json:"resourceGuid,omitempty"`
}

// FrontendIPConfiguration is a load balancer frontend: a public IP or a
// private address in a subnet.
type FrontendIPConfiguration struct {
	Name       string                            `json:"name"`
	ID         string                            `json:"id,omitempty"`
	Etag       string                            `json:"etag,omitempty"`
	Properties FrontendIPConfigurationProperties `json:"properties"`
}

// FrontendIPConfigurationProperties holds a frontend's address.
type FrontendIPConfigurationProperties struct {
	PrivateIPAddress          string       `json:"privateIPAddress,omitempty"`
	PrivateIPAllocationMethod string       `json:"privateIPAllocationMethod,omitempty"`
	Subnet                    *SubResource `json:"subnet,omitempty"`
	PublicIPAddress           *SubResource `json:"publicIPAddress,omitempty"`
	ProvisioningState         string       `json:"provisioningState,omitempty"`
}

// BackendAddressPool is a load balancer backend pool.
type BackendAddressPool struct {
	Name       string                       `json:"name"`
	ID         string                       `json:"id,omitempty"`
	Etag       string                       `json:"etag,omitempty"`
	Properties BackendAddressPoolProperties `json:"properties"`
}

// BackendAddressPoolProperties lists a pool's members.
type BackendAddressPoolProperties struct {
	BackendIPConfigurations []SubResource `json:"backendIPConfigurations,omitempty"`
	ProvisioningState       string        `json:"provisioningState,omitempty"`
}

// LoadBalancingRule maps a frontend port to a backend pool port.
type LoadBalancingRule struct {
	Name       string                      `json:"name"`
	ID         string                      `json:"id,omitempty"`
	Properties LoadBalancingRuleProperties `json:"properties"`
}

// LoadBalancingRuleProperties holds a load-balancing rule.
type LoadBalancingRuleProperties struct {
	FrontendIPConfiguration *SubResource `json:"frontendIPConfiguration,omitempty"`
	BackendAddressPool      *SubResource `json:"backendAddressPool,omitempty"`
	Protocol                string       `json:"protocol"`
	FrontendPort            int          `json:"frontendPort"`
	BackendPort             int          `json:"backendPort"`
	ProvisioningState       string       `json:"provisioningState,omitempty"`
}
