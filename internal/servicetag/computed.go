package servicetag

import (
	"net/netip"

	"go4.org/netipx"
)

// specialPurpose are the IANA special-purpose IPv4 blocks that Internet
// excludes (spec §12.8).
var specialPurpose = mustPrefixes(
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
	"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
)

// LocalServiceRange and LocalClientRange are the local cloud's stand-ins for
// public addresses: service addresses are carved from the first, Internet
// clients (a user's laptop, a scoring caller) default to the second.
var (
	LocalServiceRange = netip.MustParsePrefix("198.18.0.0/15")
	LocalClientRange  = netip.MustParsePrefix("203.0.113.0/24")
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// VNetScope is what the VirtualNetwork tag of one subnet is made of (spec
// §1.4): the VNet's address space, the spaces of connected peerings, prefixes
// learned from gateways (local network gateways), and the address prefixes
// of every user-defined route on the subnet's route table (spec §11.1: all of
// them, whatever their next hop).
type VNetScope struct {
	AddressSpace  []netip.Prefix
	Peered        []netip.Prefix
	Gateway       []netip.Prefix
	RoutePrefixes []netip.Prefix
}

// VirtualNetworkSet computes the VirtualNetwork tag of a subnet: the scope's
// prefixes plus 168.63.129.16. A 0.0.0.0/0 route makes it everything, as in
// Azure (spec §1.4).
func VirtualNetworkSet(s VNetScope) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, list := range [][]netip.Prefix{s.AddressSpace, s.Peered, s.Gateway, s.RoutePrefixes} {
		for _, p := range list {
			if p.Addr().Is4() {
				b.AddPrefix(p)
			}
		}
	}
	b.AddPrefix(HostVIP)
	set, _ := b.IPSet() // only valid prefixes are added
	return set
}

// InternetSet computes the Internet tag of a subnet: IPv4 minus the
// special-purpose blocks minus the subnet's VirtualNetwork set (spec §12.8).
// In the local cloud the service and client ranges count as Internet, as
// Azure's public service ranges do.
func (r *Registry) InternetSet(vnet *netipx.IPSet) *netipx.IPSet {
	var b netipx.IPSetBuilder
	b.AddPrefix(netip.MustParsePrefix("0.0.0.0/0"))
	for _, p := range specialPurpose {
		if r != nil && r.local && (p == LocalServiceRange || p == LocalClientRange) {
			continue
		}
		b.RemovePrefix(p)
	}
	if vnet != nil {
		b.RemoveSet(vnet)
	}
	set, _ := b.IPSet()
	return set
}
