package flow

import "go4.org/netipx"

// A pairTable decides one direction of a NIC whose subnet and NIC both
// have an NSG, with one set of lookups for both: its bitsets hold the first
// NSG's rules (in evaluation order: the subnet's inbound, the NIC's
// outbound) in words [0, split) and the second's from word split on.
//
//	bit:  0 ........ len(A)-1 | padding | split*64 ........ split*64+len(B)-1
//	      rules of A              never    rules of B
//
// The first match in A decides a Deny (or when A has no match); otherwise
// the first match in B decides. Padding rules match nothing.
type pairTable struct {
	t             nsgTable
	split         int // first word of B
	first, second *NSG
	firstLevel    Level
	secondLevel   Level
}

func buildPair(dir Direction, first, second *NSG, firstLevel, secondLevel Level) *pairTable {
	a, b := first.dirs[dir].rules, second.dirs[dir].rules
	split := (len(a) + 63) / 64
	rules := make([]Rule, 0, split*64+len(b))
	rules = append(rules, a...)
	for len(rules) < split*64 {
		rules = append(rules, Rule{Proto: protoNever, Src: emptySet, Dst: emptySet}) // no spans: matches nothing
	}
	rules = append(rules, b...)
	return &pairTable{t: buildTable(rules), split: split, first: first, second: second, firstLevel: firstLevel, secondLevel: secondLevel}
}

// protoNever is a protocol no packet carries; padding rules use it.
const protoNever = 254

var emptySet = new(netipx.IPSet)

func (pt *pairTable) decide(dir Direction, p *Packet) Decision {
	k := pt.t.keys(p)
	s := &pt.t.slab
	i := firstCommon(s, k[0], k[1], k[2], k[3], k[4], 0, pt.split)
	d := Decision{Access: Deny, Dir: dir, Level: pt.firstLevel, NSG: pt.first, Rule: i}
	if i < 0 || pt.t.denies(i) {
		return d
	}
	j := firstCommon(s, k[0], k[1], k[2], k[3], k[4], pt.split, s.words)
	d = Decision{Access: Deny, Dir: dir, Level: pt.secondLevel, NSG: pt.second, Rule: -1}
	if j >= 0 {
		d.Rule = j - pt.split*64
		if !pt.t.denies(j) {
			d.Access = Allow
		}
	}
	return d
}

// Stats reports the size of the tables an ip configuration decides with in
// direction d: its pair table, or the one NSG's own tables.
func (ic *IPConfig) Stats(d Direction) TableStats {
	if pt := ic.pairs[d]; pt != nil {
		return pt.t.stats()
	}
	var st TableStats
	for _, n := range []*NSG{ic.Subnet.NSG, ic.NSG} {
		if n != nil {
			x := n.Stats(d)
			st.Rules += x.Rules
			st.SrcIntervals += x.SrcIntervals
			st.DstIntervals += x.DstIntervals
			st.Bitsets += x.Bitsets
			st.Bytes += x.Bytes
		}
	}
	return st
}
