package aks

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
)

// A prefixSet answers "which of these IPv4 prefixes overlap p" — the
// question every CIDR rule of an AKS cluster asks of the virtual network's
// address space, its subnets and its peers. Members are kept sorted by
// first address with a running maximum of last addresses, so a query
// costs a binary search plus the members it returns (and those it must
// step over): members after the query's last address cannot overlap it,
// and scanning back stops once no earlier member reaches its first
// address. The slow reference, netip.Prefix.Overlaps over every member, is
// the oracle of overlap_test.go. The zero prefixSet is empty.
type prefixSet struct {
	ms    []member
	maxHi []uint32 // maxHi[i] = max(ms[0..i].hi)
}

// member is one prefix of a set, with the words a message names it by.
type member struct {
	prefix netip.Prefix
	lo, hi uint32
	label  string // e.g. "subnet 'aks'"
}

// bounds returns p's first and last IPv4 addresses as integers.
func bounds(p netip.Prefix) (lo, hi uint32) {
	a := p.Masked().Addr().As4()
	lo = uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	return lo, lo | uint32(uint64(1)<<(32-p.Bits())-1)
}

// newPrefixSet indexes the IPv4 members of ms (others are dropped).
func newPrefixSet(ms []member) prefixSet {
	var s prefixSet
	for _, m := range ms {
		if !m.prefix.IsValid() || !m.prefix.Addr().Is4() {
			continue
		}
		m.prefix = m.prefix.Masked()
		m.lo, m.hi = bounds(m.prefix)
		s.ms = append(s.ms, m)
	}
	slices.SortStableFunc(s.ms, compareMembers)
	s.maxHi = make([]uint32, len(s.ms))
	var top uint32
	for i, m := range s.ms {
		top = max(top, m.hi)
		s.maxHi[i] = top
	}
	return s
}

// compareMembers orders by first address, wider prefixes first.
func compareMembers(a, b member) int {
	return cmp.Or(cmp.Compare(a.lo, b.lo), cmp.Compare(b.hi, a.hi))
}

// overlapping returns the members that share an address with p, in the
// set's order; none for an invalid or IPv6 p.
func (s prefixSet) overlapping(p netip.Prefix) []member {
	if !p.IsValid() || !p.Addr().Is4() {
		return nil
	}
	lo, hi := bounds(p)
	end := sort.Search(len(s.ms), func(i int) bool { return s.ms[i].lo > hi })
	var out []member
	for i := end - 1; i >= 0 && s.maxHi[i] >= lo; i-- {
		if s.ms[i].hi >= lo {
			out = append(out, s.ms[i])
		}
	}
	slices.Reverse(out)
	return out
}

// overlapsAny reports whether any member shares an address with p.
func (s prefixSet) overlapsAny(p netip.Prefix) bool {
	if !p.IsValid() || !p.Addr().Is4() {
		return false
	}
	lo, hi := bounds(p)
	end := sort.Search(len(s.ms), func(i int) bool { return s.ms[i].lo > hi })
	return end > 0 && s.maxHi[end-1] >= lo
}

// freeRange returns the first prefix of length bits inside one of blocks
// (tried in order) that overlaps no member of any of avoid: the concrete
// range a message proposes. It walks each block in steps of the prefix's
// size, jumping past whatever member it hits, so it costs about one query
// per member in the block.
func freeRange(bits int, blocks []netip.Prefix, avoid ...prefixSet) (netip.Prefix, bool) {
	for _, b := range blocks {
		if bits < b.Bits() || bits > 32 {
			continue
		}
		blo, bhi := bounds(b)
		step := uint64(1) << (32 - bits)
		for at := uint64(blo); at <= uint64(bhi); {
			cand := netip.PrefixFrom(addrOf(uint32(at)), bits)
			next, hit := at+step, false
			for _, s := range avoid {
				for _, m := range s.overlapping(cand) {
					hit = true
					// Skip to the first aligned candidate after the member.
					past := (uint64(m.hi) + 1 + step - 1) / step * step
					next = max(next, past)
				}
			}
			if !hit {
				return cand, true
			}
			at = next
		}
	}
	return netip.Prefix{}, false
}

// addrOf is the IPv4 address of an integer.
func addrOf(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
