package aks

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// This file tests prefixSet and freeRange against slow references that
// follow their definitions: two prefixes overlap when neither ends before
// the other starts, judged on first and last addresses computed bit by bit
// with net/netip (and cross-checked with netip.Prefix.Overlaps); the free
// range is the first aligned candidate, walked one by one, that overlaps
// nothing.

// firstLast returns p's first and last addresses, the host bits cleared
// and set one at a time.
func firstLast(p netip.Prefix) (first, last netip.Addr) {
	b := p.Addr().As4()
	for bit := p.Bits(); bit < 32; bit++ {
		b[bit/8] &^= 0x80 >> (bit % 8)
	}
	first = netip.AddrFrom4(b)
	for bit := p.Bits(); bit < 32; bit++ {
		b[bit/8] |= 0x80 >> (bit % 8)
	}
	return first, netip.AddrFrom4(b)
}

// overlapsSlow is the reference: a and b share an address unless one ends
// before the other begins.
func overlapsSlow(a, b netip.Prefix) bool {
	af, al := firstLast(a)
	bf, bl := firstLast(b)
	return !(al.Less(bf) || bl.Less(af))
}

// indexable reports whether newPrefixSet keeps p.
func indexable(p netip.Prefix) bool { return p.IsValid() && p.Addr().Is4() }

// overlappingSlow is overlapping by definition: every kept member that
// overlaps p, ordered by first address, wider first, ties in input order.
func overlappingSlow(t *testing.T, ms []member, p netip.Prefix) []member {
	t.Helper()
	if !indexable(p) {
		return nil
	}
	var out []member
	for _, m := range ms {
		if !indexable(m.prefix) {
			continue
		}
		got := overlapsSlow(m.prefix, p)
		if got != m.prefix.Overlaps(p) { // the two references must agree
			t.Fatalf("references disagree on %s and %s: first/last says %v", m.prefix, p, got)
		}
		if got {
			m.prefix = m.prefix.Masked()
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b member) int {
		af, al := firstLast(a.prefix)
		bf, bl := firstLast(b.prefix)
		if c := af.Compare(bf); c != 0 {
			return c
		}
		return bl.Compare(al)
	})
	return out
}

// prefixGen makes random prefixes that overlap often: addresses near a few
// bases (including both ends of the IPv4 space), lengths spread over 0-32
// and biased to long ones, sometimes with host bits set, and now and then
// an invalid, IPv6 or IPv4-mapped prefix that the set must drop.
type prefixGen struct{ rng *rand.Rand }

var genBases = []netip.Addr{
	netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("10.0.240.0"),
	netip.MustParseAddr("172.16.0.0"), netip.MustParseAddr("192.168.0.0"), netip.MustParseAddr("255.255.240.0"),
}

func (g prefixGen) addr() netip.Addr {
	b := genBases[g.rng.IntN(len(genBases))].As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(g.rng.IntN(1 << 12))
	if g.rng.IntN(8) == 0 {
		v = g.rng.Uint32()
	}
	return addrOf(v)
}

func (g prefixGen) bits() int {
	if g.rng.IntN(4) == 0 {
		return g.rng.IntN(33)
	}
	return 18 + g.rng.IntN(15)
}

// v4 returns an IPv4 prefix, masked unless hostBits.
func (g prefixGen) v4(hostBits bool) netip.Prefix {
	p := netip.PrefixFrom(g.addr(), g.bits())
	if !hostBits {
		p = p.Masked()
	}
	return p
}

// mixed returns mostly IPv4 prefixes, some with host bits, and odd ones.
func (g prefixGen) mixed() netip.Prefix {
	switch g.rng.IntN(40) {
	case 0:
		return netip.Prefix{}
	case 1:
		return netip.MustParsePrefix("fd00::/8")
	case 2:
		return netip.PrefixFrom(netip.AddrFrom16(g.addr().As16()), 96+g.bits()) // ::ffff:a.b.c.d
	}
	return g.v4(g.rng.IntN(4) == 0)
}

// TestPrefixSetMatchesReference checks overlapping and overlapsAny against
// overlappingSlow on seeded random sets and queries.
func TestPrefixSetMatchesReference(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 0x616b73))
		g := prefixGen{rng}
		var ms []member
		for i := range rng.IntN(24) {
			ms = append(ms, member{prefix: g.mixed(), label: fmt.Sprintf("m%d", i)})
			if len(ms) > 1 && rng.IntN(6) == 0 { // the same range twice: ties keep input order
				ms = append(ms, member{prefix: ms[rng.IntN(len(ms)-1)].prefix, label: fmt.Sprintf("dup%d", i)})
			}
		}
		s := newPrefixSet(ms)
		for q := range 40 {
			p := g.mixed()
			if q%4 == 0 && len(ms) > 0 { // query a member itself, or a range around one
				p = ms[rng.IntN(len(ms))].prefix
				if p.IsValid() && p.Addr().Is4() && p.Bits() > 0 && rng.IntN(2) == 0 {
					p = netip.PrefixFrom(p.Addr(), rng.IntN(p.Bits()))
				}
			}
			want := overlappingSlow(t, ms, p)
			got := s.overlapping(p)
			if !equalMembers(got, want) {
				t.Fatalf("seed %d: overlapping(%s) over %v\n got %v\nwant %v", seed, p, render(ms), render(got), render(want))
			}
			for _, m := range got {
				f, l := firstLast(m.prefix)
				if m.lo != v4int(f) || m.hi != v4int(l) {
					t.Fatalf("seed %d: member %s has bounds %s-%s, want %s-%s", seed, m.prefix, addrOf(m.lo), addrOf(m.hi), f, l)
				}
			}
			if hit := s.overlapsAny(p); hit != (len(want) > 0) {
				t.Fatalf("seed %d: overlapsAny(%s) = %v, reference finds %v", seed, p, hit, render(want))
			}
		}
	}
}

// TestPrefixSetZero: the zero set and an empty one answer nothing.
func TestPrefixSetZero(t *testing.T) {
	p := netip.MustParsePrefix("0.0.0.0/0")
	for _, s := range []prefixSet{{}, newPrefixSet(nil), newPrefixSet([]member{{prefix: netip.MustParsePrefix("fd00::/8")}})} {
		if got := s.overlapping(p); got != nil {
			t.Errorf("overlapping on an empty set = %v", got)
		}
		if s.overlapsAny(p) {
			t.Error("overlapsAny on an empty set = true")
		}
	}
}

// freeRangeSlow is freeRange by definition: the blocks in order, each
// walked one aligned candidate at a time (the next starts after the last
// address of the one before), the first that overlaps no prefix of avoid.
func freeRangeSlow(bits int, blocks []netip.Prefix, avoid []netip.Prefix) (netip.Prefix, bool) {
	for _, b := range blocks {
		if bits < b.Bits() || bits > 32 {
			continue
		}
		b = b.Masked()
		for c := netip.PrefixFrom(b.Addr(), bits); c.Addr().IsValid() && b.Contains(c.Addr()); {
			free := true
			for _, a := range avoid {
				if indexable(a) && overlapsSlow(a, c) {
					free = false
					break
				}
			}
			if free {
				return c, true
			}
			_, last := firstLast(c)
			c = netip.PrefixFrom(last.Next(), bits)
		}
	}
	return netip.Prefix{}, false
}

// TestFreeRangeMatchesReference checks freeRange against freeRangeSlow on
// seeded random blocks and sets to avoid, split over up to three
// prefixSets, dense enough that most proposals must skip members.
func TestFreeRangeMatchesReference(t *testing.T) {
	found, skipped, none := 0, 0, 0
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 0x66726565))
		g := prefixGen{rng}
		var blocks []netip.Prefix
		for range 1 + rng.IntN(3) {
			b := g.v4(rng.IntN(8) == 0)
			if rng.IntN(10) == 0 {
				b = netip.MustParsePrefix("0.0.0.0/0")
			}
			blocks = append(blocks, b)
		}
		if rng.IntN(4) == 0 {
			blocks = append(blocks, rfc1918...)
		}
		// A length the reference can walk: at most 2^12 candidates a block.
		minBits := 32
		for _, b := range blocks {
			minBits = min(minBits, b.Bits())
		}
		bits := min(minBits+rng.IntN(13), 32)
		if rng.IntN(20) == 0 {
			bits = 33 // no such prefix: no proposal
		}

		sets := make([][]member, 1+rng.IntN(3))
		var avoid []netip.Prefix
		for i := range rng.IntN(28) {
			var p netip.Prefix
			switch r := rng.IntN(16); {
			case r < 10: // inside or around a block, about the proposal's size
				b := blocks[rng.IntN(len(blocks))]
				f, l := firstLast(b)
				span := v4int(l) - v4int(f)
				at := v4int(f) + uint32(rng.Uint64N(uint64(span)+1))
				p = netip.PrefixFrom(addrOf(at), min(32, max(0, bits+rng.IntN(7)-3)))
			case r == 10: // a whole block, or a wider one
				b := blocks[rng.IntN(len(blocks))]
				p = netip.PrefixFrom(b.Addr(), max(0, b.Bits()-rng.IntN(2)))
			default:
				p = g.mixed()
			}
			if rng.IntN(3) != 0 {
				p = p.Masked()
			}
			k := rng.IntN(len(sets))
			sets[k] = append(sets[k], member{prefix: p, label: fmt.Sprintf("a%d", i)})
			avoid = append(avoid, p)
		}
		var ps []prefixSet
		for _, ms := range sets {
			ps = append(ps, newPrefixSet(ms))
		}

		want, wantOK := freeRangeSlow(bits, blocks, avoid)
		got, ok := freeRange(bits, blocks, ps...)
		if got != want || ok != wantOK {
			t.Fatalf("seed %d: freeRange(/%d, %v) avoiding %v = %v, %v; reference %v, %v", seed, bits, blocks, avoid, got, ok, want, wantOK)
		}
		switch {
		case ok && got.Addr() != netip.PrefixFrom(blocks[0].Masked().Addr(), bits).Masked().Addr():
			skipped++
			found++
		case ok:
			found++
		default:
			none++
		}
	}
	t.Logf("%d proposals (%d not a block's first candidate), %d without one", found, skipped, none)
	if skipped < 100 || none < 20 {
		t.Errorf("generator too one-sided: %d proposals (%d not a block's first candidate), %d without one", found, skipped, none)
	}
}

// TestOverlapAllocs: the questions that find nothing allocate nothing
// (STYLE rule 4); only overlapping's answer, when there is one, does.
func TestOverlapAllocs(t *testing.T) {
	s := benchSet(200)
	miss, hit := netip.MustParsePrefix("10.200.0.0/16"), netip.MustParsePrefix("10.0.3.0/24")
	if !s.overlapsAny(hit) || s.overlapsAny(miss) {
		t.Fatal("benchSet is not the shape this test expects")
	}
	for name, f := range map[string]func(){
		"overlapsAny hit":   func() { _ = s.overlapsAny(hit) },
		"overlapsAny miss":  func() { _ = s.overlapsAny(miss) },
		"overlapping miss":  func() { _ = s.overlapping(miss) },
		"overlapping IPv6":  func() { _ = s.overlapping(netip.MustParsePrefix("fd00::/8")) },
		"overlapping empty": func() { _ = prefixSet{}.overlapping(hit) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}

// benchSet is a virtual network's worth of subnets: n /24s in 10.0/16.
func benchSet(n int) prefixSet {
	ms := make([]member, n)
	for i := range ms {
		ms[i] = member{prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i), 0}), 24), label: fmt.Sprint(i)}
	}
	return newPrefixSet(ms)
}

// BenchmarkOverlapsAny measures the index against the naive scan it
// replaces, in one run, on a hit and a miss.
func BenchmarkOverlapsAny(b *testing.B) {
	const n = 250
	s := benchSet(n)
	naive := func(p netip.Prefix) bool {
		for _, m := range s.ms {
			if m.prefix.Overlaps(p) {
				return true
			}
		}
		return false
	}
	for _, q := range []string{"10.0.249.0/24", "10.1.0.0/16"} {
		p := netip.MustParsePrefix(q)
		b.Run("index/"+q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = s.overlapsAny(p)
			}
		})
		b.Run("naive/"+q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = naive(p)
			}
		})
	}
}

func v4int(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func equalMembers(a, b []member) bool {
	return slices.EqualFunc(a, b, func(x, y member) bool { return x.prefix == y.prefix && x.label == y.label })
}

func render(ms []member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.label + "=" + m.prefix.String()
	}
	return out
}
