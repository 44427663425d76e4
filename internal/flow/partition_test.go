package flow

import (
	"math/rand/v2"
	"testing"
)

// The partition against a direct evaluation of its spans, over random
// spans and probe points (boundaries included).
func TestPartitionAgainstSpans(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		bits := uint8(32)
		if seed%2 == 1 {
			bits = 16
		}
		top := uint64(1)<<bits - 1
		rules := 1 + rng.IntN(130)
		var spans []span
		for r := range rules {
			// Each rule's spans are disjoint: cut a sorted list of points.
			n := rng.IntN(6)
			pts := make([]uint64, 2*n)
			for i := range pts {
				pts[i] = rng.Uint64() & top
				if rng.IntN(8) == 0 {
					pts[i] = []uint64{0, top, top - 1, 1}[rng.IntN(4)]
				}
			}
			sortU64(pts)
			for i := 0; i+1 < len(pts); i += 2 {
				if i > 0 && pts[i] <= pts[i-1] {
					continue
				}
				spans = append(spans, span{uint32(pts[i]), uint32(pts[i+1]), r})
			}
		}
		s := newSlab(rules)
		p := buildPartition(s, spans, bits)
		want := make([]bool, rules)
		probe := func(x uint32) {
			off := int(p.lookup(x))*(s.words+1) + 1
			clear(want)
			for _, sp := range spans {
				if sp.lo <= x && x <= sp.hi {
					want[sp.rule] = true
				}
			}
			for r := range rules {
				got := s.data[off+r/64]&(1<<(r%64)) != 0
				if got != want[r] {
					t.Fatalf("seed %d bits %d: point %d rule %d: got %v want %v", seed, bits, x, r, got, want[r])
				}
			}
		}
		for _, sp := range spans {
			for _, x := range []uint64{uint64(sp.lo), uint64(sp.hi), uint64(sp.lo) - 1, uint64(sp.hi) + 1} {
				probe(uint32(x & top))
			}
		}
		for range 200 {
			probe(uint32(rng.Uint64() & top))
		}
		probe(0)
		probe(uint32(top))
	}
}

func sortU64(a []uint64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
