package flow

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vnetml/vnetml/internal/network"
)

// Level says which NSG of a path decided: the subnet's or the NIC's.
type Level uint8

// Levels.
const (
	LevelNone Level = iota // no NSG attached at either level
	LevelSubnet
	LevelNIC
)

// Decision is the outcome of the NSGs of one NIC for one packet. It is a
// small value and carries no strings; RuleName looks the name up.
type Decision struct {
	Access Verdict
	Dir    Direction
	Level  Level
	NSG    *NSG // the deciding NSG; nil when none is attached
	Rule   int  // index into NSG.Rules(Dir); -1 when no rule matched
}

// RuleName is the deciding rule as Network Watcher names it
// ("securityRules/<name>", "defaultSecurityRules/<name>"), or "" when no
// NSG is attached.
func (d Decision) RuleName() string {
	if r := d.DecidingRule(); r != nil {
		return r.Name
	}
	return ""
}

// DecidingRule returns the deciding rule, or nil.
func (d Decision) DecidingRule() *Rule {
	if d.NSG == nil || d.Rule < 0 {
		return nil
	}
	return &d.NSG.dirs[d.Dir].rules[d.Rule]
}

// Decide evaluates the NSGs of ic for a packet in direction dir, in
// Azure's order (spec §1.5): inbound, the subnet's NSG then the NIC's;
// outbound, the NIC's then the subnet's. The first Deny stops; when both
// allow, the rule of the last NSG evaluated is reported. With no NSG at
// either level the packet is allowed. It allocates nothing.
func (ic *IPConfig) Decide(dir Direction, p *Packet) Decision {
	if pt := ic.pairs[dir]; pt != nil {
		return pt.decide(dir, p)
	}
	first, second := ic.Subnet.NSG, ic.NSG
	firstLevel, secondLevel := LevelSubnet, LevelNIC
	if dir == Outbound {
		first, second = second, first
		firstLevel, secondLevel = secondLevel, firstLevel
	}
	d := Decision{Access: Allow, Dir: dir, Rule: -1}
	for i, n := range [2]*NSG{first, second} {
		if n == nil {
			continue
		}
		lvl := firstLevel
		if i == 1 {
			lvl = secondLevel
		}
		idx := n.dirs[dir].match(p)
		d = Decision{Access: Deny, Dir: dir, Level: lvl, NSG: n, Rule: idx}
		if idx >= 0 && !n.dirs[dir].denies(idx) {
			d.Access = Allow
		}
		if d.Access == Deny {
			return d
		}
	}
	return d
}

// VerifyQuery is Network Watcher's IP flow verify request: a NIC, a
// direction, TCP or UDP, and the local (the NIC's) and remote ends.
type VerifyQuery struct {
	NIC       string // resource id or name
	Direction Direction
	Protocol  network.Protocol
	Local     netip.AddrPort
	Remote    netip.AddrPort
}

// VerifyResult is IP flow verify's answer, {access, ruleName} in Azure's
// shape, with the full decision beside it.
type VerifyResult struct {
	Access   string    `json:"access"`
	RuleName string    `json:"ruleName"`
	Decision Decision  `json:"-"`
	NIC      *NIC      `json:"-"`
	IPConfig *IPConfig `json:"-"` // the ip configuration holding the local address
	Packet   Packet    `json:"-"` // the packet decided, source first
}

// Query errors. Each is wrapped with the offending field.
var (
	ErrProtocol = errors.New("protocol must be TCP or UDP")
	ErrIPv6     = errors.New("the flow engine decides IPv4 flows only")
)

// QueryError names the field of a query that is wrong.
type QueryError struct {
	Field string
	Err   error
}

func (e *QueryError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *QueryError) Unwrap() error { return e.Err }

// IPFlowVerify answers a query as Network Watcher does (spec §4):
// Outbound means local -> remote, Inbound remote -> local.
func (e *Engine) IPFlowVerify(q VerifyQuery) (VerifyResult, error) {
	if q.Protocol != network.ProtoTCP && q.Protocol != network.ProtoUDP {
		return VerifyResult{}, &QueryError{"protocol", ErrProtocol}
	}
	if !q.Local.Addr().Is4() {
		return VerifyResult{}, &QueryError{"localIPAddress", ErrIPv6}
	}
	if !q.Remote.Addr().Is4() {
		return VerifyResult{}, &QueryError{"remoteIPAddress", ErrIPv6}
	}
	n, err := e.NIC(q.NIC)
	if err != nil {
		return VerifyResult{}, &QueryError{"targetResourceId", err}
	}
	ic, err := n.IPConfigFor(q.Local.Addr())
	if err != nil {
		return VerifyResult{}, &QueryError{"localIPAddress", err}
	}
	p := Packet{Proto: q.Protocol, Src: q.Local.Addr(), SrcPort: q.Local.Port(), Dst: q.Remote.Addr(), DstPort: q.Remote.Port()}
	if q.Direction == Inbound {
		p = p.Reverse()
	}
	d := ic.Decide(q.Direction, &p)
	return VerifyResult{Access: d.Access.String(), RuleName: d.RuleName(), Decision: d, NIC: n, IPConfig: ic, Packet: p}, nil
}

// ExplainDecision describes a decision of ic's NSGs for p as a path hop:
// the deciding rule and its priority, the NSG and what it is attached to
// (Where), and on Deny a one-line fix (Hint).
func (e *Engine) ExplainDecision(ic *IPConfig, d Decision, p Packet) Hop {
	stage := StageNSGIn
	if d.Dir == Outbound {
		stage = StageNSGOut
	}
	return e.nsgHop(stage, d, ic, &p)
}

// NextHopResult is Network Watcher's next hop answer (spec §3.4).
type NextHopResult struct {
	NextHopType      string `json:"nextHopType"`
	NextHopIPAddress string `json:"nextHopIpAddress,omitempty"`
	RouteTableID     string `json:"routeTableId"`
	// Route is the effective route that won, nil when none matched.
	Route *Route `json:"-"`
}

// SystemRoute is routeTableId when no user-defined route won.
const SystemRoute = "System Route"

// apiHop maps effective-route next hops to Network Watcher's six values
// (spec §3.4, §12.7): peering and private endpoints stay inside the
// virtual network fabric (VnetLocal); service endpoints reach the service's
// public address over the backbone (Internet).
func apiHop(h string) string {
	switch h {
	case network.HopVNetPeering, network.HopInterfaceEndpoint:
		return network.HopVnetLocal
	case network.HopVirtualNetworkServiceEndpoint:
		return network.HopInternet
	}
	return h
}

// NextHop answers Network Watcher's next hop for a NIC, a source address
// (one of the NIC's) and a destination.
func (e *Engine) NextHop(nicRef string, src, dst netip.Addr) (NextHopResult, error) {
	if !src.Is4() {
		return NextHopResult{}, &QueryError{"sourceIPAddress", ErrIPv6}
	}
	if !dst.Is4() {
		return NextHopResult{}, &QueryError{"destinationIPAddress", ErrIPv6}
	}
	n, err := e.NIC(nicRef)
	if err != nil {
		return NextHopResult{}, &QueryError{"targetResourceId", err}
	}
	ic, err := n.IPConfigFor(src)
	if err != nil {
		return NextHopResult{}, &QueryError{"sourceIPAddress", err}
	}
	return ic.Subnet.nextHop(dst), nil
}

func (s *Subnet) nextHop(dst netip.Addr) NextHopResult {
	r := s.routes.lookup(dst)
	if r == nil {
		return NextHopResult{NextHopType: network.HopNone, RouteTableID: SystemRoute}
	}
	res := NextHopResult{NextHopType: apiHop(r.NextHopType), RouteTableID: SystemRoute, Route: r}
	if r.Source == SourceUser {
		res.RouteTableID = r.TableID
	}
	if r.NextHopIP.IsValid() {
		res.NextHopIPAddress = r.NextHopIP.String()
	}
	if r.Unusable {
		res.NextHopType = network.HopNone
	}
	return res
}

// Route returns the active route a subnet uses for dst, or nil.
func (s *Subnet) Route(dst netip.Addr) *Route { return s.routes.lookup(dst) }

// Routes returns every effective route of the subnet.
func (s *Subnet) Routes() []Route { return s.routes.all() }

func describeNSG(n *NSG, lvl Level, ic *IPConfig) string {
	where := ""
	switch lvl {
	case LevelSubnet:
		where = " on subnet " + ic.Subnet.Name
	case LevelNIC:
		where = " on network interface " + ic.NIC.Name
	}
	rg := ""
	if r, err := network.ParseResourceID(n.ID); err == nil {
		rg = r.ResourceGroup + "/"
	}
	return fmt.Sprintf("NSG %s%s%s", rg, n.Name, where)
}

// ExplainVerify says in one line who decided and, on a denial, what to
// change, e.g. "Inbound TCP 198.18.3.9:443 -> 10.0.0.4:29876 allowed by
// securityRules/AllowBatch (priority 100, NSG mygroup/ml-nsg on subnet default)".
func (e *Engine) ExplainVerify(q VerifyQuery, r VerifyResult) string {
	src, dst := q.Local, q.Remote
	if q.Direction == Inbound {
		src, dst = dst, src
	}
	flowText := fmt.Sprintf("%s %s %s -> %s", q.Direction, strings.ToUpper(q.Protocol.String()), endpoint(src), endpoint(dst))
	verb := "denied"
	if r.Decision.Access == Allow {
		verb = "allowed"
	}
	h := e.ExplainDecision(r.IPConfig, r.Decision, r.Packet)
	var b strings.Builder
	b.WriteString(flowText + " " + verb)
	switch {
	case r.Decision.NSG == nil:
		b.WriteString(": " + h.Detail)
	case h.Rule == "":
		fmt.Fprintf(&b, " by %s: %s", h.Where, h.Detail)
	default:
		fmt.Fprintf(&b, " by %s (priority %d, %s)", h.Rule, h.Priority, h.Where)
	}
	if h.Hint != "" {
		b.WriteString(". " + h.Hint)
	}
	return b.String()
}

// endpoint renders an address and port, port 0 as * (what the user gave).
func endpoint(ap netip.AddrPort) string {
	if ap.Port() == 0 {
		if ap.Addr().Is6() {
			return "[" + ap.Addr().String() + "]:*"
		}
		return ap.Addr().String() + ":*"
	}
	return ap.String()
}

// ExplainNextHop names the route that won, e.g. "10.0.0.4 -> 198.18.3.9:
// route batch-to-internet (198.18.3.0/24, service tag
// BatchNodeManagement.EastUS) of route table mygroup/ml-routes".
func ExplainNextHop(src, dst netip.Addr, r NextHopResult) string {
	head := fmt.Sprintf("%s -> %s", src, dst)
	rt := r.Route
	if rt == nil {
		return head + ": no route matches; the packet is dropped"
	}
	what := fmt.Sprintf("system route %s (%s)", rt.Prefix, rt.NextHopType)
	if rt.Source == SourceUser {
		table := rt.TableID
		if id, err := network.ParseResourceID(rt.TableID); err == nil {
			table = id.ResourceGroup + "/" + id.Name()
		}
		what = fmt.Sprintf("route %s (%s", rt.Name, rt.Prefix)
		if rt.Tag != "" {
			what += ", service tag " + rt.Tag
		}
		what += ") of route table " + table
	} else if rt.Tag != "" {
		what = fmt.Sprintf("system route %s (%s, service tag %s)", rt.Prefix, rt.NextHopType, rt.Tag)
	}
	switch {
	case rt.Unusable:
		return fmt.Sprintf("%s: %s; its next hop %s is outside the virtual network and its peers, so the packet is dropped", head, what, rt.NextHopIP)
	case r.NextHopType == network.HopNone:
		return fmt.Sprintf("%s: %s drops the packet", head, what)
	}
	return fmt.Sprintf("%s: %s", head, what)
}
