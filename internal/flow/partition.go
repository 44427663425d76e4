package flow

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// A partition maps every point of a one-dimensional space (IPv4 addresses as
// uint32, or ports) to a rule bitset: the rules whose match set holds the
// point. The space is cut into elementary intervals at every range boundary;
// starts[i] begins interval i, which extends to starts[i+1]-1, and sets[i]
// is the offset of its bitset in the slab. starts[0] is always 0.
//
// Bitsets are interned, so intervals that match the same rules share one.
type partition struct {
	starts []uint32
	sets   []uint32
}

// lookup returns the slab offset of the bitset for point x. It is a plain
// binary search, written out so that it inlines and allocates nothing.
func (p *partition) lookup(x uint32) uint32 {
	lo, hi := 0, len(p.starts)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if p.starts[m] <= x {
			lo = m
		} else {
			hi = m
		}
	}
	return p.sets[lo]
}

// span is an inclusive range [lo, hi] of points matched by one rule.
type span struct {
	lo, hi uint32
	rule   int
}

// slab holds interned bitsets of a fixed width, back to back.
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

// intern returns the offset of a bitset equal to bs, adding it if new.
func (s *slab) intern(bs []uint64) uint32 {
	for i, w := range bs {
		binary.LittleEndian.PutUint64(s.key[8*i:], w)
	}
	if off, ok := s.index[string(s.key)]; ok {
		return off
	}
	off := uint32(len(s.data))
	s.data = append(s.data, bs...)
	s.index[string(s.key)] = off
	return off
}

// buildPartition sweeps the spans (each rule's spans must be disjoint) over
// the space [0, max] and interns the bitset of every elementary interval.
func buildPartition(s *slab, spans []span) partition {
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
		}
		return 0
	})
	cur := make([]uint64, s.words)
	var p partition
	emit := func(at uint64) {
		off := s.intern(cur)
		if n := len(p.sets); n > 0 && p.sets[n-1] == off {
			return // same rules as the interval before: extend it
		}
		p.starts = append(p.starts, uint32(at))
		p.sets = append(p.sets, off)
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
	p.starts = slices.Clip(p.starts)
	p.sets = slices.Clip(p.sets)
	return p
}

// firstCommon returns the lowest rule index set in all five bitsets, or -1.
func firstCommon(data []uint64, words int, a, b, c, d, e uint32) int {
	for i := 0; i < words; i++ {
		w := data[int(a)+i] & data[int(b)+i] & data[int(c)+i] & data[int(d)+i] & data[int(e)+i]
		if w != 0 {
			return i*64 + bits.TrailingZeros64(w)
		}
	}
	return -1
}
