package network

// StorageAccount is the part of Microsoft.Storage/storageAccounts that the
// network model owns: its location, public network access and firewall.
type StorageAccount struct {
	Meta
	Kind       string                   `json:"kind,omitempty"`
	SKU        *SKU                     `json:"sku,omitempty"`
	Properties StorageAccountProperties `json:"properties"`
}

// StorageAccountProperties holds a storage account's firewall and where
// it is reached.
type StorageAccountProperties struct {
	NetworkAcls         *NetworkRuleSet   `json:"networkAcls,omitempty"`
	PublicNetworkAccess string            `json:"publicNetworkAccess,omitempty"`
	ProvisioningState   string            `json:"provisioningState,omitempty"`
	PrimaryEndpoints    *StorageEndpoints `json:"primaryEndpoints,omitempty"`
	// VirtualAddress is vnetml's: the address of the account's endpoints
	// in the virtual cloud, inside its region's Storage service tag (in
	// Azure the endpoints' names resolve to public addresses of that tag).
	VirtualAddress string `json:"virtualAddress,omitempty"`
}

// StorageEndpoints are a storage account's service URLs.
type StorageEndpoints struct {
	Blob string `json:"blob,omitempty"`
	File string `json:"file,omitempty"`
}

// KeyVault is the part of Microsoft.KeyVault/vaults that the network model
// owns: its location and firewall.
type KeyVault struct {
	Meta
	Properties KeyVaultProperties `json:"properties"`
}

// KeyVaultProperties holds a key vault's firewall.
type KeyVaultProperties struct {
	TenantID            string          `json:"tenantId,omitempty"`
	SKU                 *SKU            `json:"sku,omitempty"`
	NetworkAcls         *NetworkRuleSet `json:"networkAcls,omitempty"`
	PublicNetworkAccess string          `json:"publicNetworkAccess,omitempty"`
	ProvisioningState   string          `json:"provisioningState,omitempty"`
	VaultURI            string          `json:"vaultUri,omitempty"`
	// AccessPolicies say who may use the vault's secrets (when RBAC
	// authorization is off); EnableRbacAuthorization makes roles decide.
	AccessPolicies          []AccessPolicy `json:"accessPolicies,omitempty"`
	EnableRbacAuthorization *bool          `json:"enableRbacAuthorization,omitempty"`
	// VirtualAddress is vnetml's: the vault's address in the virtual
	// cloud, inside its region's AzureKeyVault service tag.
	VirtualAddress string `json:"virtualAddress,omitempty"`
}

// AccessPolicy grants one identity (in vnetml, a token's name) permissions
// on a vault's secrets: get, list, set, delete, or all.
type AccessPolicy struct {
	TenantID    string            `json:"tenantId,omitempty"`
	ObjectID    string            `json:"objectId"`
	Permissions PolicyPermissions `json:"permissions"`
}

// PolicyPermissions are an access policy's permissions; vnetml decides on
// secrets only and keeps the others as written.
type PolicyPermissions struct {
	Secrets      []string `json:"secrets,omitempty"`
	Keys         []string `json:"keys,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	Storage      []string `json:"storage,omitempty"`
}

// NetworkRuleSet is `properties.networkAcls` of a storage account (spec §5)
// or a key vault (spec §6). Bypass is a comma list: None, AzureServices,
// Logging, Metrics (the last two for storage only).
type NetworkRuleSet struct {
	Bypass              string               `json:"bypass,omitempty"`
	DefaultAction       string               `json:"defaultAction"`
	IPRules             []IPRule             `json:"ipRules,omitempty"`
	VirtualNetworkRules []VirtualNetworkRule `json:"virtualNetworkRules,omitempty"`
	ResourceAccessRules []ResourceAccessRule `json:"resourceAccessRules,omitempty"`
}

// IPRule allows a public IPv4 address or CIDR. Storage names the field
// "value" and has an action; key vault has "value" only.
type IPRule struct {
	Value  string `json:"value"`
	Action string `json:"action,omitempty"`
}

// VirtualNetworkRule allows a subnet (by id) that has the service's endpoint.
type VirtualNetworkRule struct {
	ID                               string `json:"id"`
	Action                           string `json:"action,omitempty"`
	State                            string `json:"state,omitempty"`
	IgnoreMissingVnetServiceEndpoint bool   `json:"ignoreMissingVnetServiceEndpoint,omitempty"`
}

// ResourceAccessRule admits one resource instance of a trusted service.
type ResourceAccessRule struct {
	TenantID   string `json:"tenantId,omitempty"`
	ResourceID string `json:"resourceId"`
}
