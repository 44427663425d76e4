package flow

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// Rule is one compiled security rule: its identity, its action and its
// expanded match sets. Rules of a direction are sorted by priority; a
// rule's index in that order is its bit in the match bitsets.
type Rule struct {
	Name     string // "securityRules/<name>" or "defaultSecurityRules/<name>"
	ID       string
	Priority int
	Access   Verdict
	Proto    network.Protocol
	Src, Dst *netipx.IPSet // IPv4 sets after expanding tags, ASGs and '*'
	SrcPorts []network.PortRange
	DstPorts []network.PortRange
	Source   *network.SecurityRule // the rule as written
}

// NSG is a network security group compiled in the context of one subnet
// (VirtualNetwork, Internet and ASG membership depend on it).
type NSG struct {
	ID, Name string
	Subnet   string // the context subnet's id
	dirs     [2]nsgTable
	built    bool
}

// Rules returns a direction's rules in evaluation order.
func (n *NSG) Rules(d Direction) []Rule { return n.dirs[d].rules }

// nsgTable is one direction of a compiled NSG.
type nsgTable struct {
	rules        []Rule
	deny         []uint64 // bit i: rules[i] denies (read per decision; Rule is large)
	slab         slabView
	src, dst     partition
	sport, dport partition
	proto        [protoSlots]uint32
	allOnes      uint32 // for port checks of protocols without ports
}

const protoSlots = 6

func protoSlot(p network.Protocol) int {
	switch p {
	case network.ProtoTCP:
		return 0
	case network.ProtoUDP:
		return 1
	case network.ProtoICMP:
		return 2
	case network.ProtoESP:
		return 3
	case network.ProtoAH:
		return 4
	}
	return 5
}

var slotProto = [protoSlots]network.Protocol{network.ProtoTCP, network.ProtoUDP, network.ProtoICMP, network.ProtoESP, network.ProtoAH, 255}

// match returns the index of the first rule (in priority order) that
// matches p, or -1. It allocates nothing.
func (t *nsgTable) match(p *Packet) int {
	if len(t.rules) == 0 {
		return -1
	}
	k := t.keys(p)
	return firstCommon(&t.slab, k[0], k[1], k[2], k[3], k[4], 0, t.slab.words)
}

// keys looks up the five bitset ids of a packet: source, destination,
// source port, destination port, protocol.
func (t *nsgTable) keys(p *Packet) [5]uint32 {
	sp, dp := t.allOnes, t.allOnes
	if p.Proto.HasPorts() {
		sp = t.sport.lookup(uint32(p.SrcPort))
		dp = t.dport.lookup(uint32(p.DstPort))
	}
	return [5]uint32{t.src.lookup(v4(p.Src)), t.dst.lookup(v4(p.Dst)), sp, dp, t.proto[protoSlot(p.Proto)]}
}

// scope is what rule expansion needs from a subnet's context.
type scope struct {
	tags     *servicetag.Registry
	vnet     *netipx.IPSet
	internet *netipx.IPSet
	asg      map[string][]netip.Addr // ASG id key -> member addresses
}

var allV4 = netip.MustParsePrefix("0.0.0.0/0")

// expandSide returns the IPv4 set of one side of a rule.
func (sc *scope) expandSide(prefix string, prefixes []string, asgs []network.SubResource) (*netipx.IPSet, error) {
	var b netipx.IPSetBuilder
	var errs []string
	add := func(s string) {
		switch {
		case s == "*":
			b.AddPrefix(allV4)
		case strings.EqualFold(s, servicetag.VirtualNetwork):
			b.AddSet(sc.vnet)
		case strings.EqualFold(s, servicetag.Internet):
			b.AddSet(sc.internet)
		case strings.EqualFold(s, servicetag.AzureLoadBalancer):
			b.AddPrefix(servicetag.HostVIP)
		default:
			if p, err := network.ParsePrefix(s); err == nil {
				if p.Addr().Is4() {
					b.AddPrefix(p)
				}
				return
			} else if network.LooksLikeAddress(s) {
				errs = append(errs, err.Error())
				return
			}
			if sc.tags != nil {
				if t, ok := sc.tags.Lookup(s); ok {
					for _, p := range t.V4 {
						b.AddPrefix(p)
					}
					return
				}
			}
			errs = append(errs, fmt.Sprintf("unknown service tag %q", s))
		}
	}
	if prefix != "" {
		add(prefix)
	}
	for _, s := range prefixes {
		add(s)
	}
	for _, a := range asgs {
		for _, addr := range sc.asg[network.Key(a.ID)] {
			if addr.Is4() {
				b.Add(addr)
			}
		}
	}
	if len(errs) > 0 {
		// A side with any entry that means nothing matches nothing: an
		// unvalidated rule never admits more than it says.
		return emptySet, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	set, _ := b.IPSet()
	return set, nil
}

func parsePorts(one string, many []string) ([]network.PortRange, error) {
	var out []network.PortRange
	list := many
	if one != "" {
		list = append([]string{one}, many...)
	}
	if len(list) == 0 {
		return []network.PortRange{network.AllPorts}, nil
	}
	for _, s := range list {
		r, ok := network.ParsePortRange(s)
		if !ok {
			return nil, fmt.Errorf("invalid port range %q", s)
		}
		out = append(out, r)
	}
	return out, nil
}

// compileRule expands one rule. An address side with an entry that cannot
// be parsed (or an unknown tag) matches nothing; a rule with a port entry
// that cannot be parsed matches no packet. Both are reported.
func (sc *scope) compileRule(r *network.SecurityRule, isDefault bool) (Rule, []error) {
	var errs []error
	p := &r.Properties
	out := Rule{Source: r, ID: r.ID}
	if isDefault {
		out.Name = "defaultSecurityRules/" + r.Name
	} else {
		out.Name = "securityRules/" + r.Name
	}
	if p.Priority != nil {
		out.Priority = *p.Priority
	}
	if strings.EqualFold(p.Access, network.AccessAllow) {
		out.Access = Allow
	}
	proto, ok := network.ParseProtocol(p.Protocol)
	if !ok {
		errs = append(errs, fmt.Errorf("rule %s: invalid protocol %q", r.Name, p.Protocol))
		proto = 254 // matches no packet
	}
	out.Proto = proto
	var err error
	if out.Src, err = sc.expandSide(p.SourceAddressPrefix, p.SourceAddressPrefixes, p.SourceApplicationSecurityGroups); err != nil {
		errs = append(errs, fmt.Errorf("rule %s source: %w", r.Name, err))
	}
	if out.Dst, err = sc.expandSide(p.DestinationAddressPrefix, p.DestinationAddressPrefixes, p.DestinationApplicationSecurityGroups); err != nil {
		errs = append(errs, fmt.Errorf("rule %s destination: %w", r.Name, err))
	}
	if out.SrcPorts, err = parsePorts(p.SourcePortRange, p.SourcePortRanges); err != nil {
		errs = append(errs, fmt.Errorf("rule %s source port: %w", r.Name, err))
		out.Proto = protoNever // matches no packet, of any protocol
	}
	if out.DstPorts, err = parsePorts(p.DestinationPortRange, p.DestinationPortRanges); err != nil {
		errs = append(errs, fmt.Errorf("rule %s destination port: %w", r.Name, err))
		out.Proto = protoNever
	}
	return out, errs
}

// compileNSG compiles n in the context sc (of subnet subnetID).
func compileNSG(n *network.NetworkSecurityGroup, subnetID string, sc *scope) (*NSG, []error) {
	out := &NSG{ID: n.ID, Name: n.Name, Subnet: subnetID}
	var errs []error
	defaults := n.Properties.DefaultSecurityRules
	if len(defaults) == 0 {
		defaults = network.DefaultSecurityRules(n.ID)
	}
	var byDir [2][]Rule
	for i := range n.Properties.SecurityRules {
		r := &n.Properties.SecurityRules[i]
		cr, e := sc.compileRule(r, false)
		errs = append(errs, e...)
		d, ok := ParseDirection(r.Properties.Direction)
		if !ok {
			errs = append(errs, fmt.Errorf("rule %s: invalid direction %q", r.Name, r.Properties.Direction))
			continue
		}
		byDir[d] = append(byDir[d], cr)
	}
	for i := range defaults {
		r := &defaults[i]
		cr, e := sc.compileRule(r, true)
		errs = append(errs, e...)
		if d, ok := ParseDirection(r.Properties.Direction); ok {
			byDir[d] = append(byDir[d], cr)
		}
	}
	for d := range byDir {
		// Stable: equal priorities (invalid, but possible in unvalidated
		// input) keep document order, as the oracle does.
		slices.SortStableFunc(byDir[d], func(a, b Rule) int { return a.Priority - b.Priority })
		out.dirs[d].rules = byDir[d] // tables are built by buildTables, if needed
	}
	return out, errs
}

func buildTable(rules []Rule) nsgTable {
	t := nsgTable{rules: rules, deny: make([]uint64, (len(rules)+63)/64)}
	for i, r := range rules {
		if r.Access == Deny {
			t.deny[i/64] |= 1 << (i % 64)
		}
	}
	s := newSlab(len(rules))
	ones := make([]uint64, s.words)
	for i := range rules {
		ones[i/64] |= 1 << (i % 64)
	}
	t.allOnes = s.intern(ones)
	var src, dst, sport, dport []span
	for i, r := range rules {
		for _, rg := range r.Src.Ranges() {
			src = append(src, span{v4(rg.From()), v4(rg.To()), i})
		}
		for _, rg := range r.Dst.Ranges() {
			dst = append(dst, span{v4(rg.From()), v4(rg.To()), i})
		}
		sport = append(sport, portSpans(r.SrcPorts, i)...)
		dport = append(dport, portSpans(r.DstPorts, i)...)
	}
	t.src = buildPartition(s, src, 32)
	t.dst = buildPartition(s, dst, 32)
	t.sport = buildPartition(s, sport, 16)
	t.dport = buildPartition(s, dport, 16)
	for slot, proto := range slotProto {
		bs := make([]uint64, s.words)
		for i, r := range rules {
			if r.Proto == network.ProtoAny || r.Proto == proto {
				bs[i/64] |= 1 << (i % 64)
			}
		}
		t.proto[slot] = s.intern(bs)
	}
	t.slab = slabView{words: s.words, data: slices.Clip(s.data)}
	return t
}

// portSpans merges a rule's port ranges into disjoint spans.
func portSpans(rs []network.PortRange, rule int) []span {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b network.PortRange) int { return int(a.First) - int(b.First) })
	var out []span
	for _, r := range sorted {
		if n := len(out); n > 0 && uint32(r.First) <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, uint32(r.Last))
			continue
		}
		out = append(out, span{uint32(r.First), uint32(r.Last), rule})
	}
	return out
}

// TableStats describes the size of one direction of a compiled NSG.
type TableStats struct {
	Rules        int // custom and default rules
	SrcIntervals int // elementary address intervals, source side
	DstIntervals int // elementary address intervals, destination side
	Bitsets      int // distinct rule bitsets
	Bytes        int // memory held by partitions and bitsets
}

// buildTables builds the NSG's own decision tables, for NICs that decide
// with this NSG alone (the NICs with NSGs at both levels use a pairTable).
// Compile calls it; afterwards the NSG is read-only.
func (n *NSG) buildTables() {
	if n.built {
		return
	}
	for d := range n.dirs {
		n.dirs[d] = buildTable(n.dirs[d].rules)
	}
	n.built = true
}

// Stats reports the size of a direction's own tables (zero when only pair
// tables use the NSG; see IPConfig.Stats).
func (n *NSG) Stats(d Direction) TableStats {
	return n.dirs[d].stats()
}

func (t *nsgTable) stats() TableStats {
	parts := []*partition{&t.src, &t.dst, &t.sport, &t.dport}
	bytes := 8 * len(t.slab.data)
	for _, p := range parts {
		bytes += 8*len(p.iv) + 4*len(p.idx)
	}
	return TableStats{Rules: len(t.rules), SrcIntervals: len(t.src.iv), DstIntervals: len(t.dst.iv), Bitsets: len(t.slab.data) / (t.slab.words + 1), Bytes: bytes}
}

// denies reports whether rule i of the table denies.
func (t *nsgTable) denies(i int) bool { return t.deny[i/64]&(1<<(i%64)) != 0 }
