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
// bits (x >> shift) equal b, and idx[b] is the interval that holds the
// bucket's first point, so the interval of x lies in [idx[b], idx[b+1]].
type partition struct {
	iv    []interval
	idx   []uint32
	shift uint8
}

// interval keeps an interval's start beside its bitset id, so the last
// probe of a search brings both into cache at once.
type interval struct{ start, set uint32 }

// lookup returns the slab id of the bitset for point x: a bucket
// lookup, then a binary search within the bucket, written out so that it
// inlines and allocates nothing.
func (p *partition) lookup(x uint32) uint32 {
	b := x >> p.shift
	lo, hi := int(p.idx[b]), int(p.idx[b+1])+1
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

// span is an inclusive range [lo, hi] of points matched by one rule.
type span struct {
	lo, hi uint32
	rule   int
}

// slab holds interned bitsets of a fixed width, back to back: bitset id i
// occupies data[i*words : (i+1)*words]. summary[i] has bit w set when word
// w of bitset i is non-zero, so that a decision visits only words that can
// hold a common rule (bitsets of real policies are sparse).
type slab struct {
	words   int
	data    []uint64
	summary []uint64
	index   map[string]uint32
	key     []byte
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
	id := uint32(len(s.summary))
	s.data = append(s.data, bs...)
	var sum uint64
	for i, w := range bs {
		if w != 0 {
			sum |= 1 << (i % 64) // past 64 words the summary only says "maybe"
		}
	}
	s.summary = append(s.summary, sum)
	s.index[string(s.key)] = id
	return id
}

// buildPartition sweeps the spans (each rule's spans must be disjoint) over
// the space [0, max] and interns the bitset of every elementary interval.
//
// bits is the width of the space (32 for addresses, 16 for ports); the
// bucket index uses its top half (16 bits for addresses: 256 KiB; 8 for ports).
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
		if at > 0xFFFFFFFF {
			break // end events past the top of the space
		}
		emit(at)
	}
	p.iv = slices.Clip(p.iv)
	p.shift = bits - bits/2
	buckets := 1 << (bits / 2)
	p.idx = make([]uint32, buckets+1)
	j := 0
	for b := range buckets {
		first := uint64(b) << p.shift
		for j+1 < len(p.iv) && uint64(p.iv[j+1].start) <= first {
			j++
		}
		p.idx[b] = uint32(j)
	}
	p.idx[buckets] = uint32(len(p.iv) - 1)
	return p
}

// firstCommon returns the lowest rule index set in all five bitsets (by
// id), or -1. It ANDs the summaries first and visits only words that all
// five may share.
func firstCommon(s *slabView, a, b, c, d, e uint32) int {
	m := s.summary[a] & s.summary[b] & s.summary[c] & s.summary[d] & s.summary[e]
	w := s.words
	if w > 64 {
		return firstCommonWide(s, a, b, c, d, e)
	}
	for m != 0 {
		i := bits.TrailingZeros64(m)
		x := s.data[int(a)*w+i] & s.data[int(b)*w+i] & s.data[int(c)*w+i] & s.data[int(d)*w+i] & s.data[int(e)*w+i]
		if x != 0 {
			return i*64 + bits.TrailingZeros64(x)
		}
		m &= m - 1
	}
	return -1
}

// firstCommonWide scans every word: for more than 4,096 rules in a
// direction (never valid, but possible in unvalidated input).
func firstCommonWide(s *slabView, a, b, c, d, e uint32) int {
	w := s.words
	for i := 0; i < w; i++ {
		x := s.data[int(a)*w+i] & s.data[int(b)*w+i] & s.data[int(c)*w+i] & s.data[int(d)*w+i] & s.data[int(e)*w+i]
		if x != 0 {
			return i*64 + bits.TrailingZeros64(x)
		}
	}
	return -1
}

// slabView is the read-only part of a slab kept by a compiled table.
type slabView struct {
	words   int
	data    []uint64
	summary []uint64
}
