package flow

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"go4.org/netipx"

	"github.com/gaissmai/bart"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// Engine is a compiled, immutable view of a network snapshot. All methods
// are safe for concurrent use; nothing is locked.
type Engine struct {
	tags     *servicetag.Registry
	snap     *network.Snapshot
	index    *network.Index
	subnets  map[string]*Subnet // by id key
	nics     map[string]*NIC    // by id key
	byName   map[string][]*NIC  // by lower-cased name
	byAddr   map[netip.Addr][]*IPConfig
	byPublic map[netip.Addr]*IPConfig // public IP -> the ip configuration it translates to
	fw       map[string]*firewall     // storage accounts and key vaults by id, as written and folded
	nsgs     map[[2]string]*NSG       // (nsg key, subnet key)
	pairs    map[[2]*NSG][2]*pairTable
	warns    []error

	tagIndexOnce sync.Once           // builds tagIndex for explanations
	tagIndex     *bart.Table[string] // tag prefix -> tag name
}

// VNet is a compiled virtual network.
type VNet struct {
	ID, Name, Location string
	Space              []netip.Prefix
	Peered             []netip.Prefix
	Gateway            []netip.Prefix
	peers              []string // id keys of connected peer VNets
}

// Subnet is a compiled subnet: its NSG and routes, and its tag scope.
type Subnet struct {
	ID, Name string
	VNet     *VNet
	Prefixes []netip.Prefix
	NSG      *NSG // nil when none is attached
	routes   *routeSet
	scope    *scope
}

// NIC is a compiled network interface.
type NIC struct {
	ID, Name     string
	IPForwarding bool
	IPConfigs    []*IPConfig
	Source       *network.NetworkInterface
	nsgID        string
}

// IPConfig is one address of a NIC, with the NIC-level NSG compiled in the
// context of its subnet.
type IPConfig struct {
	Name     string
	NIC      *NIC
	Addr     netip.Addr
	PublicIP netip.Addr
	Subnet   *Subnet
	NSG      *NSG // the NIC's NSG; nil when none
	Primary  bool
	// pairs decide each direction in one pass when both the subnet and
	// the NIC have an NSG (see pairTable); nil otherwise.
	pairs [2]*pairTable
}

// Tags returns the registry the engine was compiled with.
func (e *Engine) Tags() *servicetag.Registry { return e.tags }

// Snapshot returns the snapshot the engine was compiled from. It must not
// be modified.
func (e *Engine) Snapshot() *network.Snapshot { return e.snap }

// Warnings lists what Compile could not use (a reference to a missing
// resource, an unparsable prefix): the engine treats such parts as absent
// or matching nothing. Validate the snapshot first to turn them into errors.
func (e *Engine) Warnings() []error { return e.warns }

// Compile builds an engine from a normalized snapshot and a tag registry
// (nil: the built-in local cloud). It takes ownership of snap. Like a
// builder that collects errors, it always returns a usable engine; problems
// are listed by Warnings.
func Compile(snap *network.Snapshot, tags *servicetag.Registry) *Engine {
	if tags == nil {
		tags = servicetag.LocalCloud()
	}
	snap.Normalize()
	e := &Engine{
		tags: tags, snap: snap, index: network.NewIndex(snap),
		subnets: map[string]*Subnet{}, nics: map[string]*NIC{}, byName: map[string][]*NIC{},
		byAddr: map[netip.Addr][]*IPConfig{}, byPublic: map[netip.Addr]*IPConfig{}, fw: map[string]*firewall{}, nsgs: map[[2]string]*NSG{},
		pairs: map[[2]*NSG][2]*pairTable{},
	}
	vnets := e.compileVNets()
	asg := e.asgMembers()
	peAddrs := e.privateEndpointAddrs()
	for i := range snap.VirtualNetworks {
		v := &snap.VirtualNetworks[i]
		cv := vnets[network.Key(v.ID)]
		for j := range v.Properties.Subnets {
			e.compileSubnet(cv, &v.Properties.Subnets[j], vnets, asg, peAddrs)
		}
	}
	e.compileNICs()
	// NICs that decide with one NSG alone need its own tables.
	for _, n := range e.nics {
		for _, ic := range n.IPConfigs {
			if ic.pairs[Inbound] != nil {
				continue
			}
			for _, nsg := range []*NSG{ic.Subnet.NSG, ic.NSG} {
				if nsg != nil {
					nsg.buildTables()
				}
			}
		}
	}
	e.compileFirewalls()
	return e
}

func (e *Engine) warnf(format string, args ...any) {
	e.warns = append(e.warns, fmt.Errorf(format, args...))
}

func parseList(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := network.ParsePrefix(s); err == nil && p.Addr().Is4() {
			out = append(out, p)
		}
	}
	return out
}

func (e *Engine) compileVNets() map[string]*VNet {
	out := map[string]*VNet{}
	for i := range e.snap.VirtualNetworks {
		v := &e.snap.VirtualNetworks[i]
		space := parseList(v.Properties.AddressSpace.AddressPrefixes)
		if len(space) != len(v.Properties.AddressSpace.AddressPrefixes) {
			e.warnf("virtual network %s: unparsable or IPv6 address space entries ignored", v.Name)
		}
		out[network.Key(v.ID)] = &VNet{ID: v.ID, Name: v.Name, Location: v.Location, Space: space}
	}
	// Peerings: connected ones add the peer's space (§12.3).
	for i := range e.snap.VirtualNetworks {
		v := &e.snap.VirtualNetworks[i]
		cv := out[network.Key(v.ID)]
		for _, p := range v.Properties.VirtualNetworkPeerings {
			st := p.Properties.PeeringState
			if st != "" && !strings.EqualFold(st, "Connected") {
				continue
			}
			if a := p.Properties.AllowVirtualNetworkAccess; a != nil && !*a {
				continue
			}
			var space []netip.Prefix
			if p.Properties.RemoteAddressSpace != nil {
				space = parseList(p.Properties.RemoteAddressSpace.AddressPrefixes)
			}
			if p.Properties.RemoteVirtualNetwork != nil {
				if rv, ok := out[network.Key(p.Properties.RemoteVirtualNetwork.ID)]; ok {
					if len(space) == 0 {
						space = rv.Space
					}
					cv.peers = append(cv.peers, network.Key(rv.ID))
				}
			}
			cv.Peered = append(cv.Peered, space...)
		}
	}
	// Gateways (§12.6): a gateway in the VNet, connected to local network
	// gateways, teaches their prefixes; peers using remote gateways learn them too.
	gwVNet := map[string]*VNet{}
	for i := range e.snap.VirtualNetworkGateways {
		g := &e.snap.VirtualNetworkGateways[i]
		for _, ic := range g.Properties.IPConfigurations {
			if ic.Properties.Subnet == nil {
				continue
			}
			r, err := network.ParseResourceID(ic.Properties.Subnet.ID)
			if err != nil {
				continue
			}
			if v, ok := out[network.Key(r.Parent().String())]; ok {
				gwVNet[network.Key(g.ID)] = v
			}
		}
	}
	for i := range e.snap.Connections {
		c := &e.snap.Connections[i]
		if c.Properties.VirtualNetworkGateway1 == nil {
			continue
		}
		v := gwVNet[network.Key(c.Properties.VirtualNetworkGateway1.ID)]
		if v == nil {
			continue
		}
		if st := c.Properties.ConnectionStatus; st != "" && !strings.EqualFold(st, "Connected") {
			continue
		}
		if c.Properties.LocalNetworkGateway2 != nil {
			if lg, ok := e.index.LocalGWs[network.Key(c.Properties.LocalNetworkGateway2.ID)]; ok {
				v.Gateway = append(v.Gateway, parseList(lg.Properties.LocalNetworkAddressSpace.AddressPrefixes)...)
			} else {
				e.warnf("connection %s: local network gateway %s not found", c.Name, c.Properties.LocalNetworkGateway2.ID)
			}
		}
		if c.Properties.VirtualNetworkGateway2 != nil {
			if rv := gwVNet[network.Key(c.Properties.VirtualNetworkGateway2.ID)]; rv != nil {
				v.Gateway = append(v.Gateway, rv.Space...)
			}
		}
	}
	for i := range e.snap.VirtualNetworks {
		v := &e.snap.VirtualNetworks[i]
		cv := out[network.Key(v.ID)]
		for _, p := range v.Properties.VirtualNetworkPeerings {
			if p.Properties.UseRemoteGateways && p.Properties.RemoteVirtualNetwork != nil {
				if rv, ok := out[network.Key(p.Properties.RemoteVirtualNetwork.ID)]; ok && rv != cv {
					cv.Gateway = append(cv.Gateway, rv.Gateway...)
				}
			}
		}
	}
	return out
}

// asgMembers maps every ASG id to the addresses of the ip configurations
// that name it.
func (e *Engine) asgMembers() map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for i := range e.snap.NetworkInterfaces {
		for _, ic := range e.snap.NetworkInterfaces[i].Properties.IPConfigurations {
			a, err := netip.ParseAddr(ic.Properties.PrivateIPAddress)
			if err != nil {
				continue
			}
			for _, g := range ic.Properties.ApplicationSecurityGroups {
				out[network.Key(g.ID)] = append(out[network.Key(g.ID)], a)
			}
		}
	}
	return out
}

// privateEndpointAddrs maps a VNet id key to the /32 routes of private
// endpoints in it (§12.4).
func (e *Engine) privateEndpointAddrs() map[string][]netip.Prefix {
	out := map[string][]netip.Prefix{}
	for i := range e.snap.NetworkInterfaces {
		n := &e.snap.NetworkInterfaces[i]
		if n.Properties.PrivateEndpoint == nil {
			continue
		}
		for _, ic := range n.Properties.IPConfigurations {
			a, err := netip.ParseAddr(ic.Properties.PrivateIPAddress)
			if err != nil || ic.Properties.Subnet == nil || !a.Is4() {
				continue
			}
			r, err := network.ParseResourceID(ic.Properties.Subnet.ID)
			if err != nil {
				continue
			}
			k := network.Key(r.Parent().String())
			out[k] = append(out[k], netip.PrefixFrom(a, 32))
		}
	}
	return out
}

func (e *Engine) compileSubnet(v *VNet, s *network.Subnet, vnets map[string]*VNet, asg map[string][]netip.Addr, pe map[string][]netip.Prefix) {
	cs := &Subnet{ID: s.ID, Name: s.Name, VNet: v, Prefixes: parseList(s.Properties.AllPrefixes())}
	in := routeInputs{vnetSpace: v.Space, peered: v.Peered, gateway: v.Gateway}
	in.endpoints = append(in.endpoints, pe[network.Key(v.ID)]...)
	for _, p := range v.peers {
		in.endpoints = append(in.endpoints, pe[p]...)
	}
	for _, se := range s.Properties.ServiceEndpoints {
		tr, err := e.serviceEndpointRoute(se, v.Location)
		if err != nil {
			e.warnf("subnet %s: %v", s.Name, err)
			continue
		}
		in.svcEndpoint = append(in.svcEndpoint, tr)
	}
	var udrPrefixes []netip.Prefix
	if ref := s.Properties.RouteTable; ref != nil {
		t, ok := e.index.Tables[network.Key(ref.ID)]
		if !ok {
			e.warnf("subnet %s: route table %s not found", s.Name, ref.ID)
		} else {
			in.tableID = t.ID
			in.disableBgp = t.Properties.DisableBgpRoutePropagation
			for i := range t.Properties.Routes {
				u, err := e.userRoute(&t.Properties.Routes[i])
				if err != nil {
					e.warnf("route table %s: %v", t.Name, err)
					continue
				}
				in.udrs = append(in.udrs, u)
				udrPrefixes = append(udrPrefixes, u.prefixes...)
			}
		}
	}
	cs.routes = buildRoutes(in)
	vnetSet := servicetag.VirtualNetworkSet(servicetag.VNetScope{
		AddressSpace: v.Space, Peered: v.Peered, Gateway: v.Gateway, RoutePrefixes: udrPrefixes,
	})
	cs.scope = &scope{tags: e.tags, vnet: vnetSet, internet: e.tags.InternetSet(vnetSet), asg: asg}
	if ref := s.Properties.NetworkSecurityGroup; ref != nil {
		cs.NSG = e.nsgFor(ref.ID, cs, "subnet "+s.Name)
	}
	e.subnets[network.Key(s.ID)] = cs
}

// nsgFor compiles (once) the NSG id in the context of subnet s.
func (e *Engine) nsgFor(id string, s *Subnet, user string) *NSG {
	k := [2]string{network.Key(id), network.Key(s.ID)}
	if n, ok := e.nsgs[k]; ok {
		return n
	}
	src, ok := e.index.NSGs[network.Key(id)]
	if !ok {
		e.warnf("%s: network security group %s not found", user, id)
		return nil
	}
	n, errs := compileNSG(src, s.ID, s.scope)
	for _, err := range errs {
		e.warnf("network security group %s: %v", src.Name, err)
	}
	e.nsgs[k] = n
	return n
}

// serviceEndpointRoute resolves a service endpoint to its tag prefixes: the
// regional tags of the listed locations ("*" or .Global: every region;
// none listed: the VNet's region), spec §12.5.
func (e *Engine) serviceEndpointRoute(se network.ServiceEndpoint, vnetLocation string) (tagRoute, error) {
	fam, global, ok := network.ServiceEndpointTag(se.Service)
	if !ok {
		return tagRoute{}, fmt.Errorf("service endpoint %q is not a known service", se.Service)
	}
	locs := se.Locations
	if len(locs) == 0 {
		locs = []string{vnetLocation}
	}
	if global || slices.Contains(locs, "*") {
		t, ok := e.tags.Lookup(fam)
		if !ok {
			return tagRoute{}, fmt.Errorf("service endpoint %s: tag %s is not in the service tag file", se.Service, fam)
		}
		return tagRoute{tag: t.Name, prefixes: t.V4}, nil
	}
	var out tagRoute
	var names []string
	for _, loc := range locs {
		t := e.regionalTag(fam, loc)
		if t == nil && !e.hasRegionalTags(fam) {
			t, _ = e.tags.Lookup(fam) // a global service (e.g. Microsoft.CognitiveServices)
		}
		if t == nil {
			return tagRoute{}, fmt.Errorf("service endpoint %s: no tag %s.<region> for location %q", se.Service, fam, loc)
		}
		names = append(names, t.Name)
		out.prefixes = append(out.prefixes, t.V4...)
	}
	out.tag = strings.Join(names, ",")
	return out, nil
}

// regionalTag finds tag family.<region> for an ARM location, by the tag's
// region property or, failing that, by name.
func (e *Engine) regionalTag(family, location string) *servicetag.Tag {
	if t, ok := e.tags.Lookup(family + "." + location); ok {
		return t
	}
	for _, n := range e.tags.Names() {
		if len(n) > len(family)+1 && strings.EqualFold(n[:len(family)+1], family+".") {
			if t, _ := e.tags.Lookup(n); t != nil && strings.EqualFold(t.Region, location) {
				return t
			}
		}
	}
	return nil
}

// hasRegionalTags reports whether a tag family has any regional tag.
func (e *Engine) hasRegionalTags(family string) bool {
	for _, n := range e.tags.Names() {
		if len(n) > len(family)+1 && strings.EqualFold(n[:len(family)+1], family+".") {
			if t, _ := e.tags.Lookup(n); t != nil && t.Region != "" {
				return true
			}
		}
	}
	return false
}

func (e *Engine) userRoute(r *network.Route) (userRoute, error) {
	u := userRoute{r: r}
	ap := r.Properties.AddressPrefix
	if p, err := network.ParsePrefix(ap); err == nil {
		if !p.Addr().Is4() {
			return u, fmt.Errorf("route %s: IPv6 prefix %s ignored by the IPv4 engine", r.Name, ap)
		}
		u.prefixes = []netip.Prefix{p}
	} else if network.LooksLikeAddress(ap) {
		return u, fmt.Errorf("route %s: %v", r.Name, err)
	} else {
		t, ok := e.tags.Lookup(ap)
		if !ok {
			return u, fmt.Errorf("route %s: unknown service tag %q", r.Name, ap)
		}
		u.tag, u.prefixes = t.Name, t.V4
		base, _, dotted := strings.Cut(t.Name, ".")
		switch {
		case strings.EqualFold(base, "AzureCloud") && dotted:
			u.tagRank = rankCloudRgn
		case strings.EqualFold(base, "AzureCloud"):
			u.tagRank = rankAzureCloud
		case dotted && t.Region != "":
			u.tagRank = rankRegionTag
		default:
			u.tagRank = rankTopTag
		}
	}
	if ip := r.Properties.NextHopIPAddress; ip != "" {
		if a, err := netip.ParseAddr(ip); err == nil {
			u.hopIP = a
		}
	}
	return u, nil
}

func (e *Engine) compileNICs() {
	for i := range e.snap.NetworkInterfaces {
		n := &e.snap.NetworkInterfaces[i]
		cn := &NIC{ID: n.ID, Name: n.Name, IPForwarding: n.Properties.EnableIPForwarding, Source: n}
		if n.Properties.NetworkSecurityGroup != nil {
			cn.nsgID = n.Properties.NetworkSecurityGroup.ID
		}
		for j, ic := range n.Properties.IPConfigurations {
			cic := &IPConfig{Name: ic.Name, NIC: cn, Primary: j == 0}
			if ic.Properties.Primary != nil {
				cic.Primary = *ic.Properties.Primary
			}
			a, err := netip.ParseAddr(ic.Properties.PrivateIPAddress)
			if err != nil || !a.Is4() {
				e.warnf("network interface %s: ip configuration %s has no IPv4 privateIPAddress", n.Name, ic.Name)
				continue
			}
			cic.Addr = a
			if ic.Properties.Subnet != nil {
				cic.Subnet = e.subnets[network.Key(ic.Properties.Subnet.ID)]
			}
			if cic.Subnet == nil {
				e.warnf("network interface %s: subnet of ip configuration %s not found", n.Name, ic.Name)
				continue
			}
			if ic.Properties.PublicIPAddress != nil {
				if p, ok := e.index.PublicIPs[network.Key(ic.Properties.PublicIPAddress.ID)]; ok {
					if a, err := netip.ParseAddr(p.Properties.IPAddress); err == nil && a.Is4() {
						cic.PublicIP = a
						e.byPublic[a] = cic
					}
				}
			}
			if cn.nsgID != "" {
				cic.NSG = e.nsgFor(cn.nsgID, cic.Subnet, "network interface "+n.Name)
			}
			if sn, nn := cic.Subnet.NSG, cic.NSG; sn != nil && nn != nil {
				k := [2]*NSG{sn, nn}
				pt, ok := e.pairs[k]
				if !ok {
					pt[Inbound] = buildPair(Inbound, sn, nn, LevelSubnet, LevelNIC)
					pt[Outbound] = buildPair(Outbound, nn, sn, LevelNIC, LevelSubnet)
					e.pairs[k] = pt
				}
				cic.pairs = pt
			}
			cn.IPConfigs = append(cn.IPConfigs, cic)
			e.byAddr[a] = append(e.byAddr[a], cic)
		}
		e.nics[network.Key(n.ID)] = cn
		e.byName[strings.ToLower(n.Name)] = append(e.byName[strings.ToLower(n.Name)], cn)
	}
}

// ErrNotFound is wrapped by errors for a NIC, subnet or service that the
// engine does not know.
var ErrNotFound = errors.New("not found")

// NIC resolves a NIC by resource id or by name (unique among the NICs).
func (e *Engine) NIC(ref string) (*NIC, error) {
	if n, ok := e.nics[network.Key(ref)]; ok {
		return n, nil
	}
	switch list := e.byName[strings.ToLower(ref)]; len(list) {
	case 1:
		return list[0], nil
	case 0:
		names := make([]string, 0, len(e.nics))
		for _, n := range e.nics {
			names = append(names, n.Name)
		}
		slices.Sort(names)
		if len(names) > 8 {
			names = append(names[:8], "...")
		}
		return nil, fmt.Errorf("network interface %q: %w (known: %s)", ref, ErrNotFound, strings.Join(names, ", "))
	default:
		return nil, fmt.Errorf("network interface name %q is ambiguous: give its resource id", ref)
	}
}

// Subnet returns a compiled subnet by id.
func (e *Engine) Subnet(id string) (*Subnet, bool) {
	s, ok := e.subnets[network.Key(id)]
	return s, ok
}

// IPConfigFor returns the NIC's ip configuration holding addr; with an
// invalid addr, the primary one.
func (n *NIC) IPConfigFor(addr netip.Addr) (*IPConfig, error) {
	if len(n.IPConfigs) == 0 {
		return nil, fmt.Errorf("network interface %s has no ip configuration with an IPv4 privateIPAddress in a known subnet; give its address as az network nic show prints it", n.Name)
	}
	for _, ic := range n.IPConfigs {
		if (addr.IsValid() && ic.Addr == addr) || (!addr.IsValid() && ic.Primary) {
			return ic, nil
		}
	}
	if !addr.IsValid() {
		return n.IPConfigs[0], nil
	}
	var have []string
	for _, ic := range n.IPConfigs {
		have = append(have, ic.Addr.String())
	}
	return nil, fmt.Errorf("%s is not an address of network interface %s (its addresses: %s)", addr, n.Name, strings.Join(have, ", "))
}

// VirtualNetworkSet returns the VirtualNetwork tag of a subnet.
func (s *Subnet) VirtualNetworkSet() *netipx.IPSet { return s.scope.vnet }

// InternetSet returns the Internet tag of a subnet.
func (s *Subnet) InternetSet() *netipx.IPSet { return s.scope.internet }
