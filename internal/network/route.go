package network

// RouteTable is Microsoft.Network/routeTables.
type RouteTable struct {
	Meta
	Properties RouteTableProperties `json:"properties"`
}

// RouteTableProperties holds a route table's routes.
type RouteTableProperties struct {
	Routes                     []Route       `json:"routes"`
	DisableBgpRoutePropagation bool          `json:"disableBgpRoutePropagation,omitempty"`
	Subnets                    []SubResource `json:"subnets,omitempty"`
	ProvisioningState          string        `json:"provisioningState,omitempty"`
	ResourceGUID               string        `json:"resourceGuid,omitempty"`
}

// Route is Microsoft.Network/routeTables/routes. AddressPrefix is a CIDR or
// a service tag name (spec §3.2).
type Route struct {
	Name          string          `json:"name"`
	ID            string          `json:"id,omitempty"`
	Type          string          `json:"type,omitempty"`
	Etag          string          `json:"etag,omitempty"`
	ResourceGroup string          `json:"resourceGroup,omitempty"`
	Properties    RouteProperties `json:"properties"`
}

// RouteProperties holds a route's prefix and next hop.
type RouteProperties struct {
	AddressPrefix     string `json:"addressPrefix"`
	NextHopType       string `json:"nextHopType"`
	NextHopIPAddress  string `json:"nextHopIpAddress,omitempty"`
	HasBgpOverride    *bool  `json:"hasBgpOverride,omitempty"`
	ProvisioningState string `json:"provisioningState,omitempty"`
}

// Next hop types of user-defined routes and effective routes (spec §3, §12.7).
const (
	HopVirtualNetworkGateway = "VirtualNetworkGateway"
	HopVnetLocal             = "VnetLocal"
	HopInternet              = "Internet"
	HopVirtualAppliance      = "VirtualAppliance"
	HopNone                  = "None"
	// Effective-route-only values (not usable in a UDR).
	HopVNetPeering                   = "VNetPeering"
	HopVirtualNetworkServiceEndpoint = "VirtualNetworkServiceEndpoint"
	HopInterfaceEndpoint             = "InterfaceEndpoint"
)
