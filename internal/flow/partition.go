package flow

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// A partition maps every point of a one-dimensional space (IPv4 addresses as
// uint32, or ports) to a rule bitset: the rules whose match set holds the
// point. The space is cut into elementary intervals at every range boundary;
// iv[i].start begins interval i, which extends to iv[i+1].start-1, and
// iv[i].set is the id of its bitset in the slab. iv[0].start is always 0.
//
// Bitsets are interned, so intervals that match the same rules share one.
//
// A bucket index narrows the search: bucket b holds the points whose top
// bits (x >> shift) equal b; idx[b] says where the search for x starts
// (see uniform).
type partition struct {
	iv    []interval
	idx   []uint32
	shift uint8
}

// uniform flags an index entry that holds a bitset id: its whole bucket
// lies inside one interval. Other entries hold the interval of the
// bucket's first point. Bitset ids stay far below 2^31.
const uniform = 1 << 31

// lookup returns the slab id of the bitset for point x: a bucket lookup,
// then a galloping search from the bucket's first interval, written out so
// that it allocates nothing.
func (p *partition) lookup(x uint32) uint32 {
	e := p.idx[x>>p.shift]
	if e&uniform != 0 {
		return e &^ uniform
	}
	// Gallop: find hi with iv[hi].start > x (or the end), then bisect.
	lo, n := int(e), len(p.iv)
	step, hi := 1, lo+1
	for hi < n && p.iv[hi].start <= x {
		lo = hi
		step <<= 1
		hi = lo + step
	}
	if hi > n {
		hi = n
	}
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if p.iv[m].start <= x {
			lo = m
		} else {
			hi = m
		}
	}
	return p.iv[lo].set
}

// interval keeps an interval's start beside its bitset id, so the last
// probe of a search brings both into cache at once.
type interval struct{ start, set uint32 }

// span is an inclusive range [lo, hi] of points matched by one rule.
type span struct {
	lo, hi uint32
	rule   int
}

// slab holds interned bitsets of a fixed width, back to back, each led by
// a summary word: bitset id i occupies data[i*stride : (i+1)*stride], where
// data[i*stride] has bit w set when word w of the bitset is non-zero, and
// the words follow. A decision reads the summary and the first words from
// one cache line and visits only words that can hold a common rule
// (bitsets of real policies are sparse).
type slab struct {
	words int
	data  []uint64
	index map[string]uint32
	key   []byte
}

func newSlab(rules int) *slab {
	w := (rules + 63) / 64
	if w == 0 {
		w = 1
	}
	return &slab{words: w, index: map[string]uint32{}, key: make([]byte, 8*w)}
}

// intern returns the id of a bitset equal to bs, adding it if new.
func (s *slab) intern(bs []uint64) uint32 {
	for i, w := range bs {
		binary.LittleEndian.PutUint64(s.key[8*i:], w)
	}
	if id, ok := s.index[string(s.key)]; ok {
		return id
	}
	id := uint32(len(s.data) / (s.words + 1))
	var sum uint64
	for i, w := range bs {
		if w != 0 {
			sum |= 1 << (i % 64) // past 64 words the summary only says "maybe"
		}
	}
	s.data = append(s.data, sum)
	s.data = append(s.data, bs...)
	s.index[string(s.key)] = id
	return id
}

// buildPartition sweeps the spans (each rule's spans must be disjoint) over
// the space [0, max] and interns the bitset of every elementary interval.
//
// bits is the width of the space (32 for addresses, 16 for ports). The
// bucket index gets about two buckets per interval, at most 2^16 (256 KiB),
// so small partitions keep small, cache-resident indexes.
func buildPartition(s *slab, spans []span, bits uint8) partition {
	type event struct {
		at   uint64 // may be max+1
		rule int
		on   bool
	}
	ev := make([]event, 0, 2*len(spans))
	for _, sp := range spans {
		ev = append(ev, event{uint64(sp.lo), sp.rule, true}, event{uint64(sp.hi) + 1, sp.rule, false})
	}
	slices.SortFunc(ev, func(a, b event) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		case a.on != b.on: // at one point, a span's end before an adjacent span's start
			if b.on {
				return -1
			}
			return 1
		}
		return 0
	})
	cur := make([]uint64, s.words)
	var p partition
	emit := func(at uint64) {
		off := s.intern(cur)
		if n := len(p.iv); n > 0 && p.iv[n-1].set == off {
			return // same rules as the interval before: extend it
		}
		p.iv = append(p.iv, interval{uint32(at), off})
	}
	i := 0
	if len(ev) == 0 || ev[0].at > 0 {
		emit(0)
	}
	for i < len(ev) {
		at := ev[i].at
		for i < len(ev) && ev[i].at == at {
			e := ev[i]
			if e.on {
				cur[e.rule/64] |= 1 << (e.rule % 64)
			} else {
				cur[e.rule/64] &^= 1 << (e.rule % 64)
			}
			i++
		}
		if at > 1<<bits-1 {
			break // end events past the top of the space
		}
		emit(at)
	}
	p.iv = slices.Clip(p.iv)
	ib := uint8(1)
	for 1<<ib < 2*len(p.iv) && ib < 16 && ib < bits {
		ib++
	}
	p.shift = bits - ib
	buckets := 1 << ib
	p.idx = make([]uint32, buckets)
	j := 0
	for b := range buckets {
		first := uint64(b) << p.shift
		for j+1 < len(p.iv) && uint64(p.iv[j+1].start) <= first {
			j++
		}
		end := uint64(1) << bits // where interval j ends (exclusive)
		if j+1 < len(p.iv) {
			end = uint64(p.iv[j+1].start)
		}
		if end >= first+1<<p.shift {
			p.idx[b] = uniform | p.iv[j].set
		} else {
			p.idx[b] = uint32(j)
		}
	}
	return p
}

// firstCommon returns the lowest rule index set in all five bitsets (by
// id) within words [from, to), or -1. It ANDs the summaries first and
// visits only words that all five may share.
func firstCommon(s *slabView, a, b, c, d, e uint32, from, to int) int {
	w := s.words
	if w > 64 {
		return firstCommonWide(s, a, b, c, d, e, from, to)
	}
	st := w + 1
	pa, pb, pc, pd, pe := int(a)*st, int(b)*st, int(c)*st, int(d)*st, int(e)*st
	data := s.data
	m := data[pa] & data[pb] & data[pc] & data[pd] & data[pe]
	m &= ^uint64(0) << from
	if to < 64 {
		m &= 1<<to - 1
	}
	for m != 0 {
		i := bits.TrailingZeros64(m) + 1
		x := data[pa+i] & data[pb+i] & data[pc+i] & data[pd+i] & data[pe+i]
		if x != 0 {
			return (i-1)*64 + bits.TrailingZeros64(x)
		}
		m &= m - 1
	}
	return -1
}

// firstCommonWide scans every word of [from, to): for more than 4,096
// rules in a direction (never valid, but possible in unvalidated input).
func firstCommonWide(s *slabView, a, b, c, d, e uint32, from, to int) int {
	st := s.words + 1
	for i := from + 1; i < to+1; i++ {
		x := s.data[int(a)*st+i] & s.data[int(b)*st+i] & s.data[int(c)*st+i] & s.data[int(d)*st+i] & s.data[int(e)*st+i]
		if x != 0 {
			return (i-1)*64 + bits.TrailingZeros64(x)
		}
	}
	return -1
}

// slabView is the read-only part of a slab kept by a compiled table.
type slabView struct {
	words int
	data  []uint64
}
