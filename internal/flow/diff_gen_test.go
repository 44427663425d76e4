package flow_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// gen builds one random snapshot and then flows over it. It remembers the
// prefixes and ports it wrote so that flows aim at their boundaries.
type gen struct {
	r        *rand.Rand
	tags     *servicetag.Registry
	tagNames []string
	snap     *network.Snapshot

	spaces   [][]netip.Prefix // per VNet
	subnets  [][]netip.Prefix // per VNet, parallel to Properties.Subnets
	nicAddrs []netip.Addr
	asgs     []string
	dangling []netip.Prefix // spaces of peers missing from the snapshot
	seen     []netip.Prefix // every prefix written, for boundary addresses
	ports    []uint16
}

var locations = []string{"eastus", "westus2", "westeurope"}

func newGen(r *rand.Rand, tags *servicetag.Registry, tagNames []string) *gen {
	return &gen{r: r, tags: tags, tagNames: tagNames, snap: &network.Snapshot{}, ports: []uint16{0, 1, 22, 80, 443, 65535}}
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *gen, list []T) T { return list[g.r.IntN(len(list))] }

func id(typ, name string) string {
	return network.MakeID(network.DefaultSubscription, network.DefaultResourceGroup, typ, name)
}

// ref returns a reference to id, sometimes in another case: ARM ids are
// case-insensitive.
func (g *gen) ref(id string) *network.SubResource {
	if g.chance(0.15) {
		id = strings.ToUpper(id)
	}
	return &network.SubResource{ID: id}
}

func (g *gen) snapshot() *network.Snapshot {
	nv := 1 + g.r.IntN(3)
	for i := range nv {
		g.vnet(i)
	}
	g.peerings()
	for i := range g.r.IntN(4) {
		name := fmt.Sprintf("asg%d", i)
		g.snap.ApplicationSecGroups = append(g.snap.ApplicationSecGroups, network.ApplicationSecurityGroup{Meta: network.Meta{Name: name, Location: pick(g, locations)}})
		g.asgs = append(g.asgs, id(network.TypeApplicationSecurityGrp, name))
	}
	g.gateways()
	g.nics()
	for i := range g.r.IntN(4) {
		g.nsg(i)
	}
	for i := range g.r.IntN(4) {
		g.routeTable(i)
	}
	g.attach()
	return g.snap
}

// randomPrefix returns a prefix of bits in [lo, hi] inside base.
func (g *gen) randomPrefix(base netip.Prefix, lo, hi int) netip.Prefix {
	bits := lo + g.r.IntN(hi-lo+1)
	b := base.Addr().As4()
	x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	hostBits := 32 - base.Bits()
	if hostBits > 0 {
		x |= g.r.Uint32() & (1<<hostBits - 1)
	}
	p, _ := addrOf(x).Prefix(bits)
	return p
}

func addrOf(x uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func lastAddr(p netip.Prefix) netip.Addr {
	return addrOf(u32(p.Addr()) | (1<<(32-p.Bits()) - 1))
}

func overlaps(list []netip.Prefix, p netip.Prefix) bool {
	return slices.ContainsFunc(list, p.Overlaps)
}

func (g *gen) allSpaces() []netip.Prefix { return slices.Concat(g.spaces...) }

var (
	rfc10  = netip.MustParsePrefix("10.0.0.0/8")
	rfc172 = netip.MustParsePrefix("172.16.0.0/12")
)

func (g *gen) vnet(i int) {
	var space []netip.Prefix
	for range 1 + g.r.IntN(2) {
		for range 20 {
			var p netip.Prefix
			switch {
			case g.chance(0.05):
				p = pick(g, []netip.Prefix{rfc10, rfc172})
			case g.chance(0.04): // equal to or containing a reserved None route (§3.1)
				p = pick(g, []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
					netip.MustParsePrefix("172.0.0.0/11"), netip.MustParsePrefix("10.0.0.0/7")})
			case g.chance(0.6):
				p = g.randomPrefix(rfc10, 12, 24)
			default:
				p = g.randomPrefix(rfc172, 14, 24)
			}
			if !overlaps(g.allSpaces(), p) && !overlaps(space, p) {
				space = append(space, p)
				break
			}
		}
	}
	if len(space) == 0 { // earlier VNets took all of 10/8 and 172.16/12
		space = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64 + byte(i), 0, 0}), 16)}
	}
	name := fmt.Sprintf("vnet%d", i)
	v := network.VirtualNetwork{Meta: network.Meta{Name: name, Location: pick(g, locations)}}
	for _, p := range space {
		v.Properties.AddressSpace.AddressPrefixes = append(v.Properties.AddressSpace.AddressPrefixes, p.String())
	}
	var subs []netip.Prefix
	for j := range 1 + g.r.IntN(3) {
		sp := pick(g, space)
		var s netip.Prefix
		for range 20 {
			c := g.randomPrefix(sp, min(sp.Bits()+1, 29), min(sp.Bits()+4, 29))
			if !overlaps(subs, c) {
				s = c
				break
			}
		}
		if !s.IsValid() {
			continue
		}
		subs = append(subs, s)
		v.Properties.Subnets = append(v.Properties.Subnets, network.Subnet{Name: fmt.Sprintf("s%d", j), Properties: network.SubnetProperties{AddressPrefix: s.String()}})
	}
	g.snap.VirtualNetworks = append(g.snap.VirtualNetworks, v)
	g.spaces = append(g.spaces, space)
	g.subnets = append(g.subnets, subs)
	g.seen = append(g.seen, space...)
	g.seen = append(g.seen, subs...)
}

func (g *gen) peerings() {
	vs := g.snap.VirtualNetworks
	for a := range vs {
		for b := range vs {
			if a == b || !g.chance(0.4) {
				continue
			}
			p := network.VirtualNetworkPeering{Name: fmt.Sprintf("to-%s", vs[b].Name)}
			p.Properties.RemoteVirtualNetwork = g.ref(id(network.TypeVirtualNetwork, vs[b].Name))
			p.Properties.PeeringState = pick(g, []string{"Connected", "Connected", "Connected", "connected", "", "Initiated", "Disconnected"})
			if g.chance(0.5) {
				p.Properties.RemoteAddressSpace = &network.AddressSpace{AddressPrefixes: slices.Clone(vs[b].Properties.AddressSpace.AddressPrefixes)}
			}
			if g.chance(0.1) {
				allow := g.chance(0.5)
				p.Properties.AllowVirtualNetworkAccess = &allow
			}
			vs[a].Properties.VirtualNetworkPeerings = append(vs[a].Properties.VirtualNetworkPeerings, p)
		}
		if g.chance(0.1) { // a peer that is not in the snapshot: its remoteAddressSpace still counts
			space := g.randomPrefix(rfc172, 16, 24)
			g.dangling = append(g.dangling, space)
			g.seen = append(g.seen, space)
			vs[a].Properties.VirtualNetworkPeerings = append(vs[a].Properties.VirtualNetworkPeerings, network.VirtualNetworkPeering{
				Name: "to-elsewhere", Properties: network.PeeringProperties{
					RemoteVirtualNetwork: &network.SubResource{ID: id(network.TypeVirtualNetwork, "elsewhere")},
					RemoteAddressSpace:   &network.AddressSpace{AddressPrefixes: []string{space.String()}},
				}})
		}
	}
}

// gateways gives some VNets a GatewaySubnet, a VPN gateway, a local network
// gateway and a connection between them.
func (g *gen) gateways() {
	for i := range g.snap.VirtualNetworks {
		v := &g.snap.VirtualNetworks[i]
		if !g.chance(0.35) {
			continue
		}
		var gws netip.Prefix
		for range 20 {
			c := g.randomPrefix(pick(g, g.spaces[i]), 27, 29)
			if !overlaps(g.subnets[i], c) {
				gws = c
				break
			}
		}
		if !gws.IsValid() {
			continue
		}
		v.Properties.Subnets = append(v.Properties.Subnets, network.Subnet{Name: "GatewaySubnet", Properties: network.SubnetProperties{AddressPrefix: gws.String()}})
		g.subnets[i] = append(g.subnets[i], gws)
		gwName, lngName := fmt.Sprintf("gw%d", i), fmt.Sprintf("lng%d", i)
		g.snap.VirtualNetworkGateways = append(g.snap.VirtualNetworkGateways, network.VirtualNetworkGateway{
			Meta: network.Meta{Name: gwName, Location: v.Location},
			Properties: network.VirtualNetworkGatewayProperties{GatewayType: "Vpn", VpnType: "RouteBased", IPConfigurations: []network.GatewayIPConfiguration{
				{Name: "ipconfig", Properties: network.GatewayIPConfigurationProperties{Subnet: g.ref(id(network.TypeSubnet, v.Name+"/GatewaySubnet"))}},
			}},
		})
		var onPrem []string
		for range 1 + g.r.IntN(2) {
			var p netip.Prefix
			switch x := g.r.IntN(11); {
			case x < 5:
				p = g.randomPrefix(netip.MustParsePrefix("192.168.0.0/16"), 16, 26)
			case x == 5:
				p = pick(g, g.spaces[i]) // the VNet's own range: preferred system route wins
			case x == 6:
				sp := pick(g, g.spaces[i])
				p = g.randomPrefix(sp, min(sp.Bits()+1, 30), 30)
			case x == 7:
				p = pick(g, g.allSpaces()) // maybe a peer's range
			case x == 8:
				p = pick(g, []netip.Prefix{rfc10, rfc172, netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("100.64.0.0/10")})
			case x == 9:
				// A service tag prefix: ties a service-endpoint route when
				// the subnet has that endpoint (preferred over the gateway).
				if t, ok := g.tags.Lookup(pick(g, g.tagNames)); ok && len(t.V4) > 0 {
					p = pick(g, t.V4)
				} else {
					p = g.randomPrefix(netip.MustParsePrefix("0.0.0.0/0"), 8, 28)
				}
			default:
				p = g.randomPrefix(netip.MustParsePrefix("0.0.0.0/0"), 8, 28)
			}
			onPrem = append(onPrem, p.String())
			g.seen = append(g.seen, p)
		}
		g.snap.LocalNetworkGateways = append(g.snap.LocalNetworkGateways, network.LocalNetworkGateway{
			Meta:       network.Meta{Name: lngName, Location: v.Location},
			Properties: network.LocalNetworkGatewayProperties{LocalNetworkAddressSpace: network.AddressSpace{AddressPrefixes: onPrem}, GatewayIPAddress: "203.0.113.200"},
		})
		g.snap.Connections = append(g.snap.Connections, network.Connection{
			Meta: network.Meta{Name: fmt.Sprintf("conn%d", i), Location: v.Location},
			Properties: network.ConnectionProperties{ConnectionType: "IPsec",
				VirtualNetworkGateway1: g.ref(id(network.TypeVirtualNetworkGateway, gwName)),
				LocalNetworkGateway2:   g.ref(id(network.TypeLocalNetworkGateway, lngName)),
				ConnectionStatus:       pick(g, []string{"Connected", "Connected", "", "NotConnected"})},
		})
	}
}

// hostIn returns an unused host address of a subnet (past Azure's first
// four), or an invalid address.
func (g *gen) hostIn(s netip.Prefix) netip.Addr {
	size := uint32(1) << (32 - s.Bits())
	for range 20 {
		a := addrOf(u32(s.Addr()) + 4 + g.r.Uint32N(size-5))
		if !slices.Contains(g.nicAddrs, a) {
			return a
		}
	}
	return netip.Addr{}
}

func (g *gen) nics() {
	for i := range 1 + g.r.IntN(5) {
		name := fmt.Sprintf("nic%d", i)
		n := network.NetworkInterface{Meta: network.Meta{Name: name, Location: "eastus"}}
		for j := range 1 + g.r.IntN(2) {
			vi := g.r.IntN(len(g.snap.VirtualNetworks))
			v := &g.snap.VirtualNetworks[vi]
			si := g.r.IntN(len(v.Properties.Subnets))
			if v.Properties.Subnets[si].Name == "GatewaySubnet" {
				si = 0
			}
			if si >= len(g.subnets[vi]) {
				continue
			}
			a := g.hostIn(g.subnets[vi][si])
			if !a.IsValid() {
				continue
			}
			ic := network.IPConfiguration{Name: fmt.Sprintf("ipconfig%d", j), Properties: network.IPConfigurationProperties{
				PrivateIPAddress: a.String(), PrivateIPAllocationMethod: "Static",
				Subnet: g.ref(id(network.TypeSubnet, v.Name+"/"+v.Properties.Subnets[si].Name)),
			}}
			for _, asg := range g.asgs {
				if g.chance(0.3) {
					ic.Properties.ApplicationSecurityGroups = append(ic.Properties.ApplicationSecurityGroups, *g.ref(asg))
				}
			}
			n.Properties.IPConfigurations = append(n.Properties.IPConfigurations, ic)
			g.nicAddrs = append(g.nicAddrs, a)
		}
		if len(n.Properties.IPConfigurations) == 0 {
			continue
		}
		if g.chance(0.25) {
			n.Properties.PrivateEndpoint = g.ref(id(network.TypePrivateEndpoint, "pe-"+name))
		}
		g.snap.NetworkInterfaces = append(g.snap.NetworkInterfaces, n)
	}
}

// prefixItem returns an explicit address or CIDR for a rule or a route.
func (g *gen) prefixItem() netip.Prefix {
	var p netip.Prefix
	switch x := g.r.IntN(12); {
	case x < 3 && len(g.nicAddrs) > 0:
		p = netip.PrefixFrom(pick(g, g.nicAddrs), 32)
	case x < 5 && len(g.seen) > 0:
		p = pick(g, g.seen)
	case x < 7 && len(g.nicAddrs) > 0:
		p, _ = pick(g, g.nicAddrs).Prefix(8 + g.r.IntN(25))
	case x == 7:
		p = g.tagPrefix()
		if p.IsValid() && p.Bits() < 32 && g.chance(0.5) {
			p = g.randomPrefix(p, p.Bits()+1, 32)
		}
	case x == 8:
		p = pick(g, []netip.Prefix{
			netip.MustParsePrefix("8.8.8.0/24"), netip.MustParsePrefix("203.0.113.0/25"), netip.MustParsePrefix("198.18.0.0/15"),
			servicetag.HostVIP, netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("192.168.0.0/16"), rfc10, rfc172,
			netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("169.254.169.254/32"),
		})
	default:
		p = g.randomPrefix(netip.MustParsePrefix("0.0.0.0/0"), 4, 32)
	}
	if !p.IsValid() {
		p = netip.MustParsePrefix("8.8.8.8/32")
	}
	g.seen = append(g.seen, p)
	return p
}

func prefixText(g *gen, p netip.Prefix) string {
	if p.Bits() == 32 && g.chance(0.5) {
		return p.Addr().String() // a bare address is its /32
	}
	return p.String()
}

// tagPrefix returns one prefix of a random published tag of the generator.
func (g *gen) tagPrefix() netip.Prefix {
	for range 5 {
		if t, ok := g.tags.Lookup(pick(g, g.tagNames)); ok && len(t.V4) > 0 {
			return pick(g, t.V4)
		}
	}
	return netip.Prefix{}
}

// tagName returns a tag name for a rule, sometimes in another case.
func (g *gen) tagName() string {
	var n string
	if g.chance(0.5) {
		n = pick(g, []string{servicetag.VirtualNetwork, servicetag.Internet, servicetag.Internet, servicetag.AzureLoadBalancer})
	} else {
		n = pick(g, g.tagNames)
	}
	switch {
	case g.chance(0.1):
		n = strings.ToLower(n)
	case g.chance(0.05):
		n = strings.ToUpper(n)
	}
	return n
}

// side fills one side of a rule: '*', a prefix, a prefix list, a tag or ASGs.
func (g *gen) side(one *string, many *[]string, asgs *[]network.SubResource) {
	switch x := g.r.IntN(20); {
	case x < 4:
		*one = "*"
	case x < 10:
		*one = prefixText(g, g.prefixItem())
	case x < 13:
		for range 2 + g.r.IntN(3) {
			*many = append(*many, prefixText(g, g.prefixItem()))
		}
	case x < 18 || len(g.asgs) == 0:
		*one = g.tagName()
	default:
		for _, i := range g.r.Perm(len(g.asgs))[:1+g.r.IntN(len(g.asgs))] {
			*asgs = append(*asgs, *g.ref(g.asgs[i]))
		}
	}
}

func (g *gen) portRange() string {
	a := uint16(g.r.IntN(65536))
	if g.chance(0.3) {
		a = pick(g, []uint16{0, 22, 80, 443, 8080, 65535})
	}
	if g.chance(0.5) {
		g.ports = append(g.ports, a, a-1, a+1)
		return fmt.Sprint(a)
	}
	b := a + uint16(g.r.IntN(int(65535-a)+1))
	g.ports = append(g.ports, a, b, a-1, b+1)
	return fmt.Sprintf("%d-%d", a, b)
}

func (g *gen) portsSide(one *string, many *[]string) {
	switch x := g.r.IntN(10); {
	case x < 3:
		*one = "*"
	case x < 4:
		// omitted: all ports
	case x < 7:
		*one = g.portRange()
	default:
		for range 1 + g.r.IntN(3) {
			*many = append(*many, g.portRange())
		}
	}
}

func (g *gen) nsg(i int) {
	n := network.NetworkSecurityGroup{Meta: network.Meta{Name: fmt.Sprintf("nsg%d", i), Location: "eastus"}}
	count := g.r.IntN(41)
	if g.chance(0.05) {
		count = 70 + g.r.IntN(80) // more than 64 rules a direction: multi-word bitsets
	}
	type slot struct {
		dir  string
		prio int
	}
	used := map[slot]bool{}
	for j := range count {
		dir := pick(g, []string{network.DirectionInbound, network.DirectionOutbound})
		prio := 100 + g.r.IntN(3997)
		for used[slot{dir, prio}] {
			prio = 100 + g.r.IntN(3997)
		}
		used[slot{dir, prio}] = true
		r := network.SecurityRule{Name: fmt.Sprintf("r%d", j), Properties: network.SecurityRuleProperties{
			Protocol:  pick(g, []string{"Tcp", "Tcp", "Udp", "Udp", "*", "*", "Icmp", "Esp", "Ah", "tcp"}),
			Access:    pick(g, []string{network.AccessAllow, network.AccessDeny}),
			Priority:  &prio,
			Direction: dir,
		}}
		p := &r.Properties
		g.side(&p.SourceAddressPrefix, &p.SourceAddressPrefixes, &p.SourceApplicationSecurityGroups)
		g.side(&p.DestinationAddressPrefix, &p.DestinationAddressPrefixes, &p.DestinationApplicationSecurityGroups)
		g.portsSide(&p.SourcePortRange, &p.SourcePortRanges)
		g.portsSide(&p.DestinationPortRange, &p.DestinationPortRanges)
		n.Properties.SecurityRules = append(n.Properties.SecurityRules, r)
	}
	g.snap.NetworkSecurityGroups = append(g.snap.NetworkSecurityGroups, n)
}

func (g *gen) routeTable(i int) {
	t := network.RouteTable{Meta: network.Meta{Name: fmt.Sprintf("rt%d", i), Location: "eastus"}}
	t.Properties.DisableBgpRoutePropagation = g.chance(0.3)
	used := map[string]bool{}
	for j := range g.r.IntN(10) {
		var ap string
		switch x := g.r.IntN(10); {
		case x < 3:
			ap = pick(g, g.tagNames)
			if g.chance(0.1) {
				ap = strings.ToLower(ap)
			}
		case x < 4:
			ap = "0.0.0.0/0"
		case x < 5: // a VNet's range, overriding its VnetLocal or VNetPeering route
			ap = pick(g, g.allSpaces()).String()
		case x < 6 && len(g.nicAddrs) > 0: // around a NIC (or private endpoint), short of its /32
			p, _ := pick(g, g.nicAddrs).Prefix(16 + g.r.IntN(16))
			ap = p.String()
		case x < 7 && len(g.seen) > 0:
			ap = pick(g, g.seen).String()
		default:
			ap = g.prefixItem().String()
		}
		if used[strings.ToLower(ap)] {
			continue
		}
		used[strings.ToLower(ap)] = true
		r := network.Route{Name: fmt.Sprintf("u%d", j), Properties: network.RouteProperties{AddressPrefix: ap}}
		r.Properties.NextHopType = pick(g, []string{network.HopVirtualAppliance, network.HopVirtualAppliance, network.HopVirtualNetworkGateway,
			network.HopVnetLocal, network.HopInternet, network.HopNone})
		if r.Properties.NextHopType == network.HopVirtualAppliance {
			var a netip.Addr
			switch x := g.r.IntN(4); {
			case x < 2 && len(g.nicAddrs) > 0:
				a = pick(g, g.nicAddrs)
			case x < 3:
				a = pick(g, g.allSpaces()).Addr().Next().Next().Next().Next()
			default:
				a = pick(g, []netip.Addr{netip.MustParseAddr("192.168.5.4"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("100.64.0.4")})
			}
			r.Properties.NextHopIPAddress = a.String()
		}
		t.Properties.Routes = append(t.Properties.Routes, r)
	}
	g.snap.RouteTables = append(g.snap.RouteTables, t)
}

var endpointServices = []string{"Microsoft.Storage", "Microsoft.Storage", "Microsoft.KeyVault", "Microsoft.Sql",
	"Microsoft.Storage.Global", "Microsoft.EventHub", "Microsoft.ContainerRegistry", "microsoft.storage", "Microsoft.Web"}

// attach puts NSGs and route tables on subnets and NICs, and service
// endpoints on subnets.
func (g *gen) attach() {
	s := g.snap
	for i := range s.VirtualNetworks {
		v := &s.VirtualNetworks[i]
		for j := range v.Properties.Subnets {
			sp := &v.Properties.Subnets[j].Properties
			if len(s.NetworkSecurityGroups) > 0 && g.chance(0.6) {
				sp.NetworkSecurityGroup = g.ref(id(network.TypeNetworkSecurityGroup, pick(g, s.NetworkSecurityGroups).Name))
			}
			if len(s.RouteTables) > 0 && g.chance(0.6) {
				sp.RouteTable = g.ref(id(network.TypeRouteTable, pick(g, s.RouteTables).Name))
			}
			if g.chance(0.3) {
				for range 1 + g.r.IntN(2) {
					se := network.ServiceEndpoint{Service: pick(g, endpointServices)}
					switch x := g.r.IntN(11); {
					case x < 4:
					case x < 6:
						se.Locations = []string{v.Location}
					case x < 7:
						se.Locations = []string{pick(g, locations)}
					case x < 8:
						se.Locations = []string{"*"}
					case x < 9:
						se.Locations = []string{pick(g, locations), pick(g, locations)}
					default:
						se.Locations = []string{"southcentralus"}
					}
					sp.ServiceEndpoints = append(sp.ServiceEndpoints, se)
				}
			}
		}
	}
	for i := range s.NetworkInterfaces {
		if len(s.NetworkSecurityGroups) > 0 && g.chance(0.5) {
			s.NetworkInterfaces[i].Properties.NetworkSecurityGroup = g.ref(id(network.TypeNetworkSecurityGroup, pick(g, s.NetworkSecurityGroups).Name))
		}
	}
}

// addr returns an address worth asking about: a NIC's, a boundary of a
// prefix in the snapshot (±1), a tag's, or a well-known one.
func (g *gen) addr() netip.Addr {
	switch x := g.r.IntN(20); {
	case x < 4 && len(g.nicAddrs) > 0:
		return pick(g, g.nicAddrs)
	case x < 11 && len(g.seen) > 0:
		p := pick(g, g.seen)
		first, last := u32(p.Addr()), u32(lastAddr(p))
		return addrOf(pick(g, []uint32{first, last, first - 1, last + 1, u32(g.within(p))}))
	case x < 14:
		if p := g.tagPrefix(); p.IsValid() {
			return g.within(p)
		}
	case x < 18:
		return pick(g, []netip.Addr{
			netip.MustParseAddr("168.63.129.16"), netip.MustParseAddr("168.63.129.17"), netip.MustParseAddr("8.8.8.8"),
			addrOf(u32(netip.MustParseAddr("203.0.113.0")) + g.r.Uint32N(256)),
			addrOf(u32(netip.MustParseAddr("198.18.0.0")) + g.r.Uint32N(1<<17)),
			netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("100.64.0.1"),
			netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("224.0.0.1"),
		})
	}
	return addrOf(g.r.Uint32())
}

// within returns a random address of p.
func (g *gen) within(p netip.Prefix) netip.Addr {
	if p.Bits() == 0 {
		return addrOf(g.r.Uint32())
	}
	return addrOf(u32(p.Addr()) + g.r.Uint32N(uint32(1)<<(32-p.Bits())))
}

func (g *gen) port() uint16 {
	if g.chance(0.7) {
		return pick(g, g.ports)
	}
	return uint16(g.r.IntN(65536))
}

func (g *gen) flow() flowCase {
	f := flowCase{
		dir:   pick(g, []string{network.DirectionInbound, network.DirectionOutbound}),
		proto: pick(g, []network.Protocol{network.ProtoTCP, network.ProtoTCP, network.ProtoTCP, network.ProtoUDP, network.ProtoUDP, network.ProtoICMP, network.ProtoESP, network.ProtoAH}),
	}
	nics := g.snap.NetworkInterfaces
	if len(nics) == 0 || g.chance(0.005) {
		f.nic = "no-such-nic"
		f.local = netip.AddrPortFrom(g.addr(), g.port())
	} else {
		n := pick(g, nics)
		switch x := g.r.IntN(10); {
		case x < 7:
			f.nic = n.ID
		case x < 8:
			f.nic = strings.ToLower(n.ID)
		default:
			f.nic = n.Name
		}
		a := g.addr()
		if g.chance(0.97) {
			a, _ = netip.ParseAddr(pick(g, n.Properties.IPConfigurations).Properties.PrivateIPAddress)
		}
		f.local = netip.AddrPortFrom(a, g.port())
	}
	f.remote = netip.AddrPortFrom(g.addr(), g.port())
	return f
}
