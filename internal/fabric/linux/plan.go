//go:build linux

package linux

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// plan is the topology an engine asks for: one router per VNet that has
// network interfaces, and one port (a namespace with a veth into the
// router) per ip configuration: a NIC's primary address is its VM's (a
// node's), each secondary one a pod's — Azure CNI gives a node's pods
// secondary addresses of the node's interface, and vnetml runs each
// scoring replica in its pod's namespace.
type plan struct {
	vnets []*vnetPlan // by VNet key
	ports map[portKey]*portPlan
}

// portKey names an ip configuration across engines: its NIC's id, its
// address and its VNet (an interface moved to another VNet is a new
// port).
type portKey struct {
	nic  string // network.Key of the NIC id
	addr netip.Addr
	vnet string
}

type vnetPlan struct {
	key   string
	vnet  *flow.VNet
	ports []*portPlan // ordered by NIC id
	// subnets are the subnets of its ports' ip configurations, in
	// first-seen order.
	subnets []*flow.Subnet
}

type portPlan struct {
	key portKey
	nic *flow.NIC
	ics []*flow.IPConfig // the one ip configuration of the port
}

// primary is the ip configuration that decides for packets that are not
// any configuration's own (an appliance forwarding them).
func (p *portPlan) primary() *flow.IPConfig { return p.ics[0] }

// planOf reads the topology off an engine.
func planOf(eng *flow.Engine) *plan {
	p := &plan{ports: map[portKey]*portPlan{}}
	byVNet := map[string]*vnetPlan{}
	for _, n := range eng.NICs() {
		for _, ic := range n.IPConfigs {
			vk := network.Key(ic.Subnet.VNet.ID)
			v := byVNet[vk]
			if v == nil {
				v = &vnetPlan{key: vk, vnet: ic.Subnet.VNet}
				byVNet[vk] = v
				p.vnets = append(p.vnets, v)
			}
			k := portKey{nic: network.Key(n.ID), addr: ic.Addr, vnet: vk}
			if p.ports[k] != nil {
				continue // the engine's validation refuses duplicate addresses
			}
			pp := &portPlan{key: k, nic: n, ics: []*flow.IPConfig{ic}}
			p.ports[k] = pp
			v.ports = append(v.ports, pp)
			if !slices.Contains(v.subnets, ic.Subnet) {
				v.subnets = append(v.subnets, ic.Subnet)
			}
		}
	}
	slices.SortFunc(p.vnets, func(a, b *vnetPlan) int { return cmp.Compare(a.key, b.key) })
	return p
}

// kernelRoute is one route of a subnet's kernel table, as iproute2 takes it
// after "route replace": "10.0.0.0/16 throw", "0.0.0.0/0 via ... dev up
// onlink", "blackhole 10.9.0.0/16".
type kernelRoute struct {
	prefix netip.Prefix
	spec   string // the words after the prefix (or, for a type, before: see line)
	typ    string // "", "throw", "blackhole"
}

func (r kernelRoute) line(table int) string {
	if r.typ != "" {
		return fmt.Sprintf("route replace %s %s table %d", r.typ, r.prefix, table)
	}
	return fmt.Sprintf("route replace %s %s table %d", r.prefix, r.spec, table)
}

// subnetRoutes translates a subnet's winning routes into its kernel table
// (routes are chosen by longest prefix in both, so the tables agree):
//
//   - VnetLocal, VNetPeering, InterfaceEndpoint: throw, so that the lookup
//     goes on in the main table, which holds a /32 per port of the VNet
//     (and blackholes the rest: an address no NIC holds);
//   - Internet, VirtualNetworkServiceEndpoint: out of the uplink;
//   - VirtualAppliance: to the port holding the next hop, which forwards
//     only if its NIC has IP forwarding; an appliance outside this VNet's
//     ports, or an unusable one: blackhole;
//   - None: blackhole; VirtualNetworkGateway: blackhole too, as the
//     fabric has no gateway to carry it (the engine's verdict still names
//     the gateway).
func subnetRoutes(s *flow.Subnet, portIf func(netip.Addr) (string, bool)) []kernelRoute {
	var out []kernelRoute
	for _, r := range s.ActiveRoutes() {
		kr := kernelRoute{prefix: r.Prefix}
		switch r.NextHopType {
		case network.HopVnetLocal, network.HopVNetPeering, network.HopInterfaceEndpoint:
			kr.typ = "throw"
		case network.HopInternet, network.HopVirtualNetworkServiceEndpoint:
			kr.spec = "via " + uplinkPeer.String() + " dev " + uplinkIf + " onlink"
		case network.HopVirtualAppliance:
			ifname, ok := portIf(r.NextHopIP)
			if r.Unusable || !ok {
				kr.typ = "blackhole"
			} else {
				kr.spec = "via " + r.NextHopIP.String() + " dev " + ifname + " onlink"
			}
		default:
			kr.typ = "blackhole"
		}
		out = append(out, kr)
	}
	slices.SortFunc(out, func(a, b kernelRoute) int {
		return cmp.Or(a.prefix.Addr().Compare(b.prefix.Addr()), cmp.Compare(a.prefix.Bits(), b.prefix.Bits()))
	})
	return out
}

// serviceEndpointPrefixes are the prefixes a subnet reaches through
// service endpoints: traffic to them keeps its private source (no SNAT to
// the NIC's public IP), as the service sees the subnet.
func serviceEndpointPrefixes(s *flow.Subnet) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range s.ActiveRoutes() {
		if r.NextHopType == network.HopVirtualNetworkServiceEndpoint {
			out = append(out, r.Prefix)
		}
	}
	return out
}

// prefixList renders prefixes as nft set elements.
func prefixList(ps []netip.Prefix) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		if p.IsSingleIP() {
			b.WriteString(p.Addr().String())
		} else {
			b.WriteString(p.Masked().String())
		}
	}
	return b.String()
}
