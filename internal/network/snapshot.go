package network

// Snapshot is a set of resources: what the flow engine compiles. Child
// resources (subnets, peerings, security rules, routes) live inside their
// parents. The zero value is an empty snapshot.
type Snapshot struct {
	VirtualNetworks        []VirtualNetwork           `json:"virtualNetworks,omitempty"`
	NetworkSecurityGroups  []NetworkSecurityGroup     `json:"networkSecurityGroups,omitempty"`
	ApplicationSecGroups   []ApplicationSecurityGroup `json:"applicationSecurityGroups,omitempty"`
	RouteTables            []RouteTable               `json:"routeTables,omitempty"`
	NetworkInterfaces      []NetworkInterface         `json:"networkInterfaces,omitempty"`
	PublicIPAddresses      []PublicIPAddress          `json:"publicIPAddresses,omitempty"`
	LoadBalancers          []LoadBalancer             `json:"loadBalancers,omitempty"`
	PrivateEndpoints       []PrivateEndpoint          `json:"privateEndpoints,omitempty"`
	VirtualNetworkGateways []VirtualNetworkGateway    `json:"virtualNetworkGateways,omitempty"`
	LocalNetworkGateways   []LocalNetworkGateway      `json:"localNetworkGateways,omitempty"`
	Connections            []Connection               `json:"connections,omitempty"`
	StorageAccounts        []StorageAccount           `json:"storageAccounts,omitempty"`
	KeyVaults              []KeyVault                 `json:"keyVaults,omitempty"`

	// Children are child resources read on their own, merged by Finish.
	Children []Child `json:"-"`
}

// Normalize fills what ARM fills on write: ids of resources and their
// children (derived from the parent's id), resource types, and the default
// security rules of every NSG. It is idempotent.
func (s *Snapshot) Normalize() {
	for i := range s.VirtualNetworks {
		v := &s.VirtualNetworks[i]
		fillMeta(&v.Meta, TypeVirtualNetwork)
		for j := range v.Properties.Subnets {
			sn := &v.Properties.Subnets[j]
			fillChild(&sn.ID, &sn.Type, v.ID, "subnets", sn.Name, TypeSubnet)
		}
		for j := range v.Properties.VirtualNetworkPeerings {
			p := &v.Properties.VirtualNetworkPeerings[j]
			fillChild(&p.ID, &p.Type, v.ID, "virtualNetworkPeerings", p.Name, TypePeering)
		}
	}
	for i := range s.NetworkSecurityGroups {
		n := &s.NetworkSecurityGroups[i]
		fillMeta(&n.Meta, TypeNetworkSecurityGroup)
		for j := range n.Properties.SecurityRules {
			r := &n.Properties.SecurityRules[j]
			fillChild(&r.ID, &r.Type, n.ID, "securityRules", r.Name, TypeSecurityRule)
		}
		if len(n.Properties.DefaultSecurityRules) == 0 {
			n.Properties.DefaultSecurityRules = DefaultSecurityRules(n.ID)
		}
	}
	for i := range s.ApplicationSecGroups {
		fillMeta(&s.ApplicationSecGroups[i].Meta, TypeApplicationSecurityGrp)
	}
	for i := range s.RouteTables {
		t := &s.RouteTables[i]
		fillMeta(&t.Meta, TypeRouteTable)
		for j := range t.Properties.Routes {
			r := &t.Properties.Routes[j]
			fillChild(&r.ID, &r.Type, t.ID, "routes", r.Name, TypeRoute)
		}
	}
	for i := range s.NetworkInterfaces {
		n := &s.NetworkInterfaces[i]
		fillMeta(&n.Meta, TypeNetworkInterface)
		for j := range n.Properties.IPConfigurations {
			c := &n.Properties.IPConfigurations[j]
			fillChild(&c.ID, &c.Type, n.ID, "ipConfigurations", c.Name, TypeNetworkInterface+"/ipConfigurations")
		}
	}
	for i := range s.PublicIPAddresses {
		fillMeta(&s.PublicIPAddresses[i].Meta, TypePublicIPAddress)
	}
	for i := range s.LoadBalancers {
		lb := &s.LoadBalancers[i]
		fillMeta(&lb.Meta, TypeLoadBalancer)
		for j := range lb.Properties.FrontendIPConfigurations {
			f := &lb.Properties.FrontendIPConfigurations[j]
			if f.ID == "" && lb.ID != "" {
				f.ID = lb.ID + "/frontendIPConfigurations/" + f.Name
			}
		}
		for j := range lb.Properties.BackendAddressPools {
			b := &lb.Properties.BackendAddressPools[j]
			if b.ID == "" && lb.ID != "" {
				b.ID = lb.ID + "/backendAddressPools/" + b.Name
			}
		}
	}
	for i := range s.PrivateEndpoints {
		fillMeta(&s.PrivateEndpoints[i].Meta, TypePrivateEndpoint)
	}
	for i := range s.VirtualNetworkGateways {
		fillMeta(&s.VirtualNetworkGateways[i].Meta, TypeVirtualNetworkGateway)
	}
	for i := range s.LocalNetworkGateways {
		fillMeta(&s.LocalNetworkGateways[i].Meta, TypeLocalNetworkGateway)
	}
	for i := range s.Connections {
		fillMeta(&s.Connections[i].Meta, TypeConnection)
	}
	for i := range s.StorageAccounts {
		fillMeta(&s.StorageAccounts[i].Meta, TypeStorageAccount)
	}
	for i := range s.KeyVaults {
		fillMeta(&s.KeyVaults[i].Meta, TypeKeyVault)
	}
}

func fillMeta(m *Meta, typ string) {
	if m.Type == "" {
		m.Type = typ
	}
	if m.ID == "" && m.Name != "" {
		rg := m.ResourceGroup
		if rg == "" {
			rg = DefaultResourceGroup
		}
		m.ID = MakeID(DefaultSubscription, rg, typ, m.Name)
	}
	if m.ResourceGroup == "" && m.ID != "" {
		if r, err := ParseResourceID(m.ID); err == nil {
			m.ResourceGroup = r.ResourceGroup
		}
	}
}

func fillChild(id, typ *string, parentID, segment, name, fullType string) {
	if *id == "" && parentID != "" && name != "" {
		*id = parentID + "/" + segment + "/" + name
	}
	if *typ == "" {
		*typ = fullType
	}
}

// Index finds resources of a snapshot by id (case-insensitive). It holds
// pointers into the snapshot, which must not be modified while it is used.
type Index struct {
	VNets   map[string]*VirtualNetwork
	Subnets map[string]*Subnet
	// SubnetVNet maps a subnet id key to its VNet.
	SubnetVNet map[string]*VirtualNetwork
	NSGs       map[string]*NetworkSecurityGroup
	ASGs       map[string]*ApplicationSecurityGroup
	Tables     map[string]*RouteTable
	NICs       map[string]*NetworkInterface
	PublicIPs  map[string]*PublicIPAddress
	LBs        map[string]*LoadBalancer
	Gateways   map[string]*VirtualNetworkGateway
	LocalGWs   map[string]*LocalNetworkGateway
	Storage    map[string]*StorageAccount
	Vaults     map[string]*KeyVault
}

// NewIndex indexes s by resource id.
func NewIndex(s *Snapshot) *Index {
	x := &Index{
		VNets: map[string]*VirtualNetwork{}, Subnets: map[string]*Subnet{}, SubnetVNet: map[string]*VirtualNetwork{},
		NSGs: map[string]*NetworkSecurityGroup{}, ASGs: map[string]*ApplicationSecurityGroup{},
		Tables: map[string]*RouteTable{}, NICs: map[string]*NetworkInterface{},
		PublicIPs: map[string]*PublicIPAddress{}, LBs: map[string]*LoadBalancer{},
		Gateways: map[string]*VirtualNetworkGateway{}, LocalGWs: map[string]*LocalNetworkGateway{},
		Storage: map[string]*StorageAccount{}, Vaults: map[string]*KeyVault{},
	}
	for i := range s.VirtualNetworks {
		v := &s.VirtualNetworks[i]
		x.VNets[Key(v.ID)] = v
		for j := range v.Properties.Subnets {
			sn := &v.Properties.Subnets[j]
			x.Subnets[Key(sn.ID)] = sn
			x.SubnetVNet[Key(sn.ID)] = v
		}
	}
	for i := range s.NetworkSecurityGroups {
		x.NSGs[Key(s.NetworkSecurityGroups[i].ID)] = &s.NetworkSecurityGroups[i]
	}
	for i := range s.ApplicationSecGroups {
		x.ASGs[Key(s.ApplicationSecGroups[i].ID)] = &s.ApplicationSecGroups[i]
	}
	for i := range s.RouteTables {
		x.Tables[Key(s.RouteTables[i].ID)] = &s.RouteTables[i]
	}
	for i := range s.NetworkInterfaces {
		x.NICs[Key(s.NetworkInterfaces[i].ID)] = &s.NetworkInterfaces[i]
	}
	for i := range s.PublicIPAddresses {
		x.PublicIPs[Key(s.PublicIPAddresses[i].ID)] = &s.PublicIPAddresses[i]
	}
	for i := range s.LoadBalancers {
		x.LBs[Key(s.LoadBalancers[i].ID)] = &s.LoadBalancers[i]
	}
	for i := range s.VirtualNetworkGateways {
		x.Gateways[Key(s.VirtualNetworkGateways[i].ID)] = &s.VirtualNetworkGateways[i]
	}
	for i := range s.LocalNetworkGateways {
		x.LocalGWs[Key(s.LocalNetworkGateways[i].ID)] = &s.LocalNetworkGateways[i]
	}
	for i := range s.StorageAccounts {
		x.Storage[Key(s.StorageAccounts[i].ID)] = &s.StorageAccounts[i]
	}
	for i := range s.KeyVaults {
		x.Vaults[Key(s.KeyVaults[i].ID)] = &s.KeyVaults[i]
	}
	return x
}
