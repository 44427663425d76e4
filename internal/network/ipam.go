package network

import "net/netip"

// IP address management (spec §7): Azure hands out a subnet's addresses in
// order, skipping the five it reserves in every prefix — the network
// address, the default gateway, two for Azure DNS, and the broadcast
// address.

// ReservedPerPrefix is how many addresses Azure reserves in each subnet
// prefix.
const ReservedPerPrefix = 5

// Usable reports whether a is an address Azure may hand out in p.
func Usable(p netip.Prefix, a netip.Addr) bool {
	if !p.Contains(a) {
		return false
	}
	_, reserved := reservedRole(p, a)
	return !reserved
}

// UsableCount is the number of addresses Azure may hand out in p (0 when p
// is too small to hold any).
func UsableCount(p netip.Prefix) int {
	if !p.Addr().Is4() {
		return 0
	}
	size := 1 << (32 - p.Bits())
	return max(size-ReservedPerPrefix, 0)
}

// SubnetPrefixesV4 returns a subnet's parseable IPv4 prefixes.
func SubnetPrefixesV4(s *Subnet) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s.Properties.AllPrefixes() {
		if p, err := ParsePrefix(x); err == nil && p.Addr().Is4() {
			out = append(out, p)
		}
	}
	return out
}

// FreeAddress returns the lowest address of the subnet that Azure may hand
// out and that inUse does not report taken, as Azure's dynamic allocation
// does; false when the subnet is full.
func FreeAddress(s *Subnet, inUse func(netip.Addr) bool) (netip.Addr, bool) {
	for _, p := range SubnetPrefixesV4(s) {
		first, ok := nthAddr(p, 4)
		if !ok {
			continue
		}
		last := lastAddr(p)
		for a := first; a.IsValid() && a.Less(last); a = a.Next() {
			if !inUse(a) {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}
