//go:build linux

package linux

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// Log prefixes of the rules whose packets the fabric reads back (NFLOG)
// to log kernel decisions: a new flow admitted, a packet an NSG refused,
// a packet with a source its port does not own.
const (
	logAdmitted = "vml:A"
	logDenied   = "vml:D"
	logSpoofed  = "vml:S"
	// logGroup is the NFLOG group of every fabric namespace (each has its
	// own netlink listener, so one number serves all).
	logGroup = 7
	// replyMark marks answers to ports in a router (see routerRuleset).
	replyMark = 1
)

// routerPort is a port as a router's ruleset names it.
type routerPort struct {
	ifname string           // the router's end of the port's veth
	ics    []*flow.IPConfig // the primary first
}

// routerRuleset compiles a VNet router's table: the NSGs of every ip
// configuration as chains, in Azure's order; address sets for their
// prefixes and tags; verdict maps that send each packet through the
// outbound chains of the ip configuration it came from and the inbound
// chains of the one it goes to; DNAT of public IPs arriving from the
// uplink and SNAT of ip configurations with a public IP leaving through
// it. The text replaces the whole table in one nft transaction (add,
// delete, define), so that no packet ever meets half a ruleset.
//
// A rule's verdict: Allow returns to the ip configuration's chain, which
// goes on to the next NSG (both must allow, flow.IPConfig.Decide); Deny
// logs and drops; a packet no rule matches is dropped as the engine
// denies it. Conntrack admits the rest of a flow, so return traffic needs
// no rule and a policy swap keeps live connections.
func routerRuleset(ports []routerPort) string {
	c := &compiler{sets: map[string]string{}, nsgs: map[*flow.NSG]string{}}
	var chains strings.Builder
	var outMap, inMap, dnat, snat, replies, asym, spoof []string
	for _, p := range ports {
		var own []netip.Prefix
		var outV, inV []string
		for i, ic := range p.ics {
			own = append(own, netip.PrefixFrom(ic.Addr, 32))
			name := fmt.Sprintf("%s_%d", p.ifname, i)
			fmt.Fprintf(&chains, "\tchain o_%s {\n", name)
			for _, n := range []*flow.NSG{ic.NSG, ic.Subnet.NSG} { // outbound: the NIC's, then the subnet's
				if n != nil {
					fmt.Fprintf(&chains, "\t\tjump %s\n", c.nsgChain(n, flow.Outbound))
				}
			}
			fmt.Fprintf(&chains, "\t}\n\tchain i_%s {\n", name)
			for _, n := range []*flow.NSG{ic.Subnet.NSG, ic.NSG} { // inbound: the subnet's, then the NIC's
				if n != nil {
					fmt.Fprintf(&chains, "\t\tjump %s\n", c.nsgChain(n, flow.Inbound))
				}
			}
			chains.WriteString("\t}\n")
			outV = append(outV, fmt.Sprintf("%s : goto o_%s", ic.Addr, name))
			inV = append(inV, fmt.Sprintf("%s : goto i_%s", ic.Addr, name))
			if ic.PublicIP.IsValid() {
				dnat = append(dnat, fmt.Sprintf("%s : %s", ic.PublicIP, ic.Addr))
				rule := fmt.Sprintf("\t\tiifname %q ip saddr %s oifname %q", p.ifname, ic.Addr, uplinkIf)
				if se := serviceEndpointPrefixes(ic.Subnet); len(se) > 0 {
					rule += " ip daddr != { " + prefixList(se) + " }"
				}
				snat = append(snat, rule+" snat to "+ic.PublicIP.String()+"\n")
			}
		}
		replies = append(replies, prefixList(own))
		primary := p.ics[0]
		// Outbound: from the port. A NIC without IP forwarding may only
		// send from its own addresses (Azure drops spoofed sources); one
		// with it forwards others' packets under its primary
		// configuration's rules.
		fmt.Fprintf(&chains, "\tchain o_%s {\n", p.ifname)
		if !primary.NIC.IPForwarding {
			// In the forward chain, before anything accepts.
			spoof = append(spoof, fmt.Sprintf("\t\tiifname %q ip saddr != { %s } log prefix %q group %d drop\n", p.ifname, prefixList(own), logSpoofed, logGroup))
		} else {
			// An answer that an appliance forwards (its source is not the
			// appliance's) is the return half of a flow from outside
			// that the subnet's routes send through the appliance: the
			// asymmetric route the engine refuses (answers to ports never
			// take it, see mangle).
			asym = append(asym, fmt.Sprintf("\t\tiifname %q ip saddr != { %s } ct direction reply drop\n", p.ifname, prefixList(own)))
		}
		fmt.Fprintf(&chains, "\t\tip saddr vmap { %s }\n\t\tgoto o_%s_0\n\t}\n", strings.Join(outV, ", "), p.ifname)
		fmt.Fprintf(&chains, "\tchain i_%s {\n\t\tip daddr vmap { %s }\n\t\tgoto i_%s_0\n\t}\n", p.ifname, strings.Join(inV, ", "), p.ifname)
		outMap = append(outMap, fmt.Sprintf("%q : jump o_%s", p.ifname, p.ifname))
		inMap = append(inMap, fmt.Sprintf("%q : jump i_%s", p.ifname, p.ifname))
		if primary.NIC.IPForwarding && primary.PublicIP.IsValid() {
			// Forwarded to the Internet: the far end sees the appliance's
			// public IP.
			snat = append(snat, fmt.Sprintf("\t\tiifname %q oifname %q snat to %s\n", p.ifname, uplinkIf, primary.PublicIP))
		}
	}

	var b strings.Builder
	b.WriteString("table ip vnetml {}\ndelete table ip vnetml\ntable ip vnetml {\n")
	for _, name := range c.setOrder {
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype ipv4_addr; flags interval;\n\t\telements = { %s }\n\t}\n", name, c.setElems[name])
	}
	// Answers to a port go straight to it (mark replyMark: the main
	// table), whatever the routes of the answering port's subnet say: the
	// engine decides a flow between NICs on its way there (a route that
	// drops is a refusal of new flows, not of the answers to admitted
	// ones). Answers to outside addresses follow the subnet's routes, so
	// that forced tunneling breaks inbound flows from the Internet as the
	// engine's return-route check says.
	b.WriteString("\tchain mangle {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n")
	if len(replies) > 0 {
		fmt.Fprintf(&b, "\t\tct direction reply ip daddr { %s } meta mark set %d\n", strings.Join(replies, ", "), replyMark)
	}
	// The platform's address (168.63.129.16) is reached whatever the
	// subnets' routes say: its DNS always, and answers to it (health
	// probes, whose return route the engine does not check) — forced
	// tunneling would drop them.
	fmt.Fprintf(&b, "\t\tct direction reply ip daddr %s meta mark set %d\n", hostVIP, replyMark)
	fmt.Fprintf(&b, "\t\tip daddr %s meta l4proto { tcp, udp } th dport 53 meta mark set %d\n", hostVIP, replyMark)
	b.WriteString("\t}\n")
	b.WriteString(c.chains.String())
	b.WriteString(chains.String())
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n")
	b.WriteString(strings.Join(asym, ""))
	// A port that does not forward sends from its own addresses only:
	// checked first, so that neither DNS nor a forged packet that matches
	// another port's connection (UDP needs no sequence numbers) passes.
	b.WriteString(strings.Join(spoof, ""))
	b.WriteString("\t\tct state established,related accept\n\t\tct state invalid drop\n")
	// The platform's DNS (168.63.129.16) answers every port, as Azure's
	// does whatever the NSGs say.
	fmt.Fprintf(&b, "\t\tip daddr %s meta l4proto { tcp, udp } th dport 53 accept\n", hostVIP)
	if len(outMap) > 0 {
		fmt.Fprintf(&b, "\t\tiifname vmap { %s }\n", strings.Join(outMap, ", "))
		fmt.Fprintf(&b, "\t\toifname vmap { %s }\n", strings.Join(inMap, ", "))
	}
	fmt.Fprintf(&b, "\t\tct state new log prefix %q group %d\n\t\taccept\n\t}\n", logAdmitted, logGroup)
	b.WriteString("\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
	if len(dnat) > 0 {
		fmt.Fprintf(&b, "\t\tiifname %q dnat to ip daddr map { %s }\n", uplinkIf, strings.Join(dnat, ", "))
	}
	b.WriteString("\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	b.WriteString(strings.Join(snat, ""))
	b.WriteString("\t}\n}\n")
	return b.String()
}

// compiler names the sets and NSG chains of one ruleset, each once.
type compiler struct {
	sets     map[string]string // elements -> set name
	setOrder []string
	setElems map[string]string
	nsgs     map[*flow.NSG]string // NSG (in its subnet's context) -> chain name stem
	chains   strings.Builder
}

// nsgChain returns the chain of one direction of an NSG, writing it the
// first time.
func (c *compiler) nsgChain(n *flow.NSG, d flow.Direction) string {
	stem, ok := c.nsgs[n]
	if !ok {
		stem = fmt.Sprintf("nsg%d", len(c.nsgs))
		c.nsgs[n] = stem
		for _, dir := range []flow.Direction{flow.Inbound, flow.Outbound} {
			c.writeNSG(stem+dirSuffix(dir), n, dir)
		}
	}
	return stem + dirSuffix(d)
}

func dirSuffix(d flow.Direction) string {
	if d == flow.Outbound {
		return "_out"
	}
	return "_in"
}

// writeNSG writes one direction of an NSG as a chain: its rules in
// priority order, each a return (Allow) or a logged drop (Deny), and a
// final drop for a packet no rule matches.
func (c *compiler) writeNSG(name string, n *flow.NSG, d flow.Direction) {
	fmt.Fprintf(&c.chains, "\tchain %s {\n", name)
	deny := fmt.Sprintf("log prefix %q group %d drop", logDenied, logGroup)
	for _, r := range n.Rules(d) {
		verdict := "return"
		if r.Access == flow.Deny {
			verdict = deny
		}
		for _, m := range c.ruleMatches(&r) {
			fmt.Fprintf(&c.chains, "\t\t%s%s comment %q\n", m, verdict, r.Name)
		}
	}
	fmt.Fprintf(&c.chains, "\t\t%s\n\t}\n", deny)
}

// ruleMatches returns the match expressions of a rule (each ends with a
// space, or is empty: match all): none when it matches no packet, two
// when it has ports and applies to every protocol (the ports restrict TCP
// and UDP only, network.Protocol.HasPorts).
func (c *compiler) ruleMatches(r *flow.Rule) []string {
	src, ok := c.side("saddr", r.Src)
	if !ok {
		return nil
	}
	dst, ok := c.side("daddr", r.Dst)
	if !ok {
		return nil
	}
	addrs := src + dst
	ports, ok := portMatch(r.SrcPorts, r.DstPorts)
	switch r.Proto {
	case network.ProtoAny:
		if ports == "" {
			return []string{addrs}
		}
		if !ok {
			return []string{addrs + "meta l4proto != { tcp, udp } "}
		}
		return []string{addrs + "meta l4proto { tcp, udp } " + ports, addrs + "meta l4proto != { tcp, udp } "}
	case network.ProtoTCP, network.ProtoUDP:
		if !ok {
			return nil
		}
		return []string{addrs + "meta l4proto " + protoName(r.Proto) + " " + ports}
	default:
		return []string{addrs + "meta l4proto " + protoName(r.Proto) + " "}
	}
}

func protoName(p network.Protocol) string {
	switch p {
	case network.ProtoTCP:
		return "tcp"
	case network.ProtoUDP:
		return "udp"
	case network.ProtoICMP:
		return "icmp"
	case network.ProtoESP:
		return "esp"
	case network.ProtoAH:
		return "ah"
	}
	return fmt.Sprint(uint8(p))
}

// side returns the match of one address side ("" for every IPv4
// address), and false when the set is empty (the rule matches nothing).
func (c *compiler) side(field string, s *netipx.IPSet) (string, bool) {
	if s == nil {
		return "", false
	}
	ps := s.Prefixes()
	switch {
	case len(ps) == 0:
		return "", false
	case len(ps) == 1 && ps[0].Bits() == 0:
		return "", true
	case len(ps) == 1:
		return fmt.Sprintf("ip %s %s ", field, prefixList(ps)), true
	}
	return fmt.Sprintf("ip %s @%s ", field, c.set(ps)), true
}

// set names the set of prefixes, defining it the first time.
func (c *compiler) set(ps []netip.Prefix) string {
	elems := prefixList(ps)
	if name, ok := c.sets[elems]; ok {
		return name
	}
	name := fmt.Sprintf("s%d", len(c.sets))
	c.sets[elems] = name
	c.setOrder = append(c.setOrder, name)
	if c.setElems == nil {
		c.setElems = map[string]string{}
	}
	c.setElems[name] = elems
	return name
}

// portMatch renders a rule's port ranges ("" when both are every port),
// and false when a side has no range (a rule whose ports did not parse:
// it matches no TCP or UDP packet).
func portMatch(src, dst []network.PortRange) (string, bool) {
	if len(src) == 0 || len(dst) == 0 {
		return "", false
	}
	var b strings.Builder
	for _, side := range []struct {
		field  string
		ranges []network.PortRange
	}{{"sport", src}, {"dport", dst}} {
		if slices.Contains(side.ranges, network.AllPorts) {
			continue
		}
		parts := make([]string, len(side.ranges))
		for i, r := range side.ranges {
			if r.First == r.Last {
				parts[i] = fmt.Sprint(r.First)
			} else {
				parts[i] = fmt.Sprintf("%d-%d", r.First, r.Last)
			}
		}
		fmt.Fprintf(&b, "th %s { %s } ", side.field, strings.Join(parts, ", "))
	}
	return b.String(), true
}

// portRuleset is a port namespace's table: it forwards (as an appliance)
// only when its NIC has IP forwarding. An appliance forwards statelessly:
// the router keeps the state, and drops the half of an asymmetric flow
// that it meets as a new flow (the engine refuses such return routes).
func portRuleset(forwarding bool) string {
	policy := "drop"
	if forwarding {
		policy = "accept"
	}
	return "table ip vnetml {}\ndelete table ip vnetml\ntable ip vnetml {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy " + policy + ";\n\t}\n}\n"
}

// servicesRuleset is the services namespace's table: connections that
// arrive from a VNet's uplink are marked with that VNet's mark, and so is
// every packet of them, so that answers to private addresses (which
// overlap between VNets) route back to the VNet they came from, and
// accepted sockets carry the mark (net.ipv4.tcp_fwmark_accept) that names
// the caller's VNet.
func servicesRuleset(marks map[string]uint32) string {
	var b strings.Builder
	b.WriteString("table ip vnetml {}\ndelete table ip vnetml\ntable ip vnetml {\n\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n")
	if len(marks) > 0 {
		var elems []string
		for ifname, m := range marks {
			elems = append(elems, fmt.Sprintf("%q : %d", ifname, m))
		}
		slices.Sort(elems)
		fmt.Fprintf(&b, "\t\tct state new ct mark set iifname map { %s }\n", strings.Join(elems, ", "))
	}
	b.WriteString("\t\tmeta mark set ct mark\n\t}\n")
	// The platform's address answers the virtual networks only, never
	// the Internet (as Azure's 168.63.129.16).
	fmt.Fprintf(&b, "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tiifname %q ip daddr %s drop\n\t}\n}\n", svcInetIf, hostVIP)
	return b.String()
}
