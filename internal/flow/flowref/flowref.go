// Package flowref is the slow reference oracle of the flow engine: IP flow
// verify and next hop written straight from
// ../shared/spec/azure-network-semantics.md, for randomized differential
// tests against package flow.
//
// It works directly on a normalized *network.Snapshot on every call, with
// plain prefix lists and linear scans: no compilation, no caches, no IP
// sets, and nothing from package flow. Correctness by inspection is the
// point; speed is not. Functions never modify the snapshot and are safe for
// concurrent use on one.
//
// Modelled: NSG rules with tags, ASGs, prefix lists and ports (§1, §4),
// system, peering (§12.3), private-endpoint (§12.4), service-endpoint
// (§12.5), local-network-gateway (§12.6) and user-defined routes with
// Azure's tie-breaks (§3, §12.1, §12.2). Not modelled: VNet-to-VNet gateway
// connections and useRemoteGateways.
package flowref

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// SystemRoute is Network Watcher's routeTableId when no user route won.
const SystemRoute = "System Route"

// IPFlowVerify answers Network Watcher's IP flow verify (spec §4) for the
// NIC nicID (resource id, or a name unique among the NICs) and its address
// local: Outbound is local -> remote, Inbound remote -> local. Unlike
// Network Watcher it accepts every protocol, so that it can check the
// engine's Decide for Icmp, Esp and Ah too. With no NSG attached the answer
// is Allow with an empty rule name.
func IPFlowVerify(snap *network.Snapshot, tags *servicetag.Registry, nicID string, dir string, proto network.Protocol, local, remote netip.AddrPort) (access string, ruleName string, err error) {
	if tags == nil {
		tags = servicetag.LocalCloud()
	}
	if !local.Addr().Is4() || !remote.Addr().Is4() {
		return "", "", errors.New("flowref: IPv4 only")
	}
	inbound := strings.EqualFold(dir, network.DirectionInbound)
	if !inbound && !strings.EqualFold(dir, network.DirectionOutbound) {
		return "", "", fmt.Errorf("flowref: direction %q", dir)
	}
	nic, vnet, subnet, err := locate(snap, nicID, local.Addr())
	if err != nil {
		return "", "", err
	}
	p := packet{proto: proto, src: local, dst: remote}
	if inbound {
		p.src, p.dst = remote, local
	}
	ctx := context{snap: snap, tags: tags, vnetTag: virtualNetworkTag(snap, tags, vnet, subnet)}

	// §1.5: inbound, the subnet's NSG then the NIC's; outbound the reverse.
	// The first Deny stops; otherwise the last NSG evaluated names the rule.
	order := []*network.NetworkSecurityGroup{findNSG(snap, subnet.Properties.NetworkSecurityGroup), findNSG(snap, nic.Properties.NetworkSecurityGroup)}
	if !inbound {
		slices.Reverse(order)
	}
	access = network.AccessAllow
	for _, nsg := range order {
		if nsg == nil {
			continue
		}
		access, ruleName = ctx.evalNSG(nsg, dir, p)
		if access == network.AccessDeny {
			break
		}
	}
	return access, ruleName, nil
}

type packet struct {
	proto    network.Protocol
	src, dst netip.AddrPort
}

// context is what rule matching needs: the snapshot (for ASG members), the
// tags, and the VirtualNetwork tag of the NIC's subnet.
type context struct {
	snap    *network.Snapshot
	tags    *servicetag.Registry
	vnetTag []netip.Prefix
}

type rule struct {
	name string
	r    *network.SecurityRule
}

// evalNSG is §1.5's evalNSG: the first matching rule by ascending priority.
func (c context) evalNSG(nsg *network.NetworkSecurityGroup, dir string, p packet) (access, name string) {
	defaults := nsg.Properties.DefaultSecurityRules
	if len(defaults) == 0 {
		defaults = network.DefaultSecurityRules(nsg.ID)
	}
	var rules []rule
	for i := range nsg.Properties.SecurityRules {
		rules = append(rules, rule{"securityRules/" + nsg.Properties.SecurityRules[i].Name, &nsg.Properties.SecurityRules[i]})
	}
	for i := range defaults {
		rules = append(rules, rule{"defaultSecurityRules/" + defaults[i].Name, &defaults[i]})
	}
	rules = slices.DeleteFunc(rules, func(r rule) bool { return !strings.EqualFold(r.r.Properties.Direction, dir) })
	slices.SortStableFunc(rules, func(a, b rule) int { return priority(a.r) - priority(b.r) })
	for _, r := range rules {
		if c.matches(&r.r.Properties, p) {
			if strings.EqualFold(r.r.Properties.Access, network.AccessAllow) {
				return network.AccessAllow, r.name
			}
			return network.AccessDeny, r.name
		}
	}
	return network.AccessDeny, "" // unreachable with the default rules
}

func priority(r *network.SecurityRule) int {
	if r.Properties.Priority == nil {
		return 0
	}
	return *r.Properties.Priority
}

func (c context) matches(r *network.SecurityRuleProperties, p packet) bool {
	proto, ok := network.ParseProtocol(r.Protocol)
	if !ok || (proto != network.ProtoAny && proto != p.proto) {
		return false
	}
	if !c.sideMatches(r.SourceAddressPrefix, r.SourceAddressPrefixes, r.SourceApplicationSecurityGroups, p.src.Addr()) ||
		!c.sideMatches(r.DestinationAddressPrefix, r.DestinationAddressPrefixes, r.DestinationApplicationSecurityGroups, p.dst.Addr()) {
		return false
	}
	// A rule with a malformed port entry matches nothing at all.
	if !portsValid(r.SourcePortRange, r.SourcePortRanges) || !portsValid(r.DestinationPortRange, r.DestinationPortRanges) {
		return false
	}
	if !p.proto.HasPorts() { // ports restrict Tcp and Udp only (§11.3)
		return true
	}
	return portsMatch(r.SourcePortRange, r.SourcePortRanges, p.src.Port()) &&
		portsMatch(r.DestinationPortRange, r.DestinationPortRanges, p.dst.Port())
}

func portsValid(one string, many []string) bool {
	for i, s := range append([]string{one}, many...) {
		if i == 0 && s == "" {
			continue // no single range: the list, or all ports
		}
		if _, ok := network.ParsePortRange(s); !ok {
			return false
		}
	}
	return true
}

// sideMatches reports whether a holds one side of a rule: its prefix, any
// of its prefix list, or the address of a member of any of its ASGs.
func (c context) sideMatches(one string, many []string, asgs []network.SubResource, a netip.Addr) bool {
	// A side with any malformed prefix or unknown tag matches nothing.
	for _, s := range append([]string{one}, many...) {
		if s != "" && !c.itemValid(s) {
			return false
		}
	}
	if one != "" && c.itemMatches(one, a) {
		return true
	}
	for _, s := range many {
		if c.itemMatches(s, a) {
			return true
		}
	}
	for _, g := range asgs {
		for _, n := range c.snap.NetworkInterfaces {
			for _, ic := range n.Properties.IPConfigurations {
				ip, err := netip.ParseAddr(ic.Properties.PrivateIPAddress)
				if err == nil && ip == a && slices.ContainsFunc(ic.Properties.ApplicationSecurityGroups, func(x network.SubResource) bool {
					return sameID(x.ID, g.ID)
				}) {
					return true
				}
			}
		}
	}
	return false
}

// itemValid reports whether one entry of a side means something: '*', a
// computed tag, a prefix, or a known tag.
func (c context) itemValid(s string) bool {
	switch {
	case s == "*", strings.EqualFold(s, servicetag.VirtualNetwork), strings.EqualFold(s, servicetag.Internet), strings.EqualFold(s, servicetag.AzureLoadBalancer):
		return true
	}
	if _, err := network.ParsePrefix(s); err == nil {
		return true
	}
	_, ok := c.tags.Lookup(s)
	return ok && !network.LooksLikeAddress(s)
}

func (c context) itemMatches(s string, a netip.Addr) bool {
	switch {
	case s == "*":
		return a.Is4()
	case strings.EqualFold(s, servicetag.VirtualNetwork):
		return contains(c.vnetTag, a)
	case strings.EqualFold(s, servicetag.Internet):
		return inInternet(c.tags, c.vnetTag, a)
	case strings.EqualFold(s, servicetag.AzureLoadBalancer):
		return servicetag.HostVIP.Contains(a)
	}
	if p, err := network.ParsePrefix(s); err == nil {
		return p.Contains(a)
	}
	if network.LooksLikeAddress(s) {
		return false // a malformed prefix matches nothing
	}
	if t, ok := c.tags.Lookup(s); ok {
		return contains(t.V4, a)
	}
	return false
}

// portsMatch: no ports given means all; one malformed entry makes the whole
// side match nothing.
func portsMatch(one string, many []string, port uint16) bool {
	list := many
	if one != "" {
		list = append([]string{one}, many...)
	}
	if len(list) == 0 {
		return true
	}
	found := false
	for _, s := range list {
		r, ok := network.ParsePortRange(s)
		if !ok {
			return false
		}
		found = found || r.Contains(port)
	}
	return found
}

// specialPurpose are the IANA blocks the Internet tag leaves out (§12.8).
var specialPurpose = mustPrefixes(
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
	"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
)

// localPublic are the special blocks that the built-in local cloud uses as
// public addresses, so count as Internet there (§12.8).
var localPublic = mustPrefixes("198.18.0.0/15", "203.0.113.0/24")

func inInternet(tags *servicetag.Registry, vnetTag []netip.Prefix, a netip.Addr) bool {
	if !a.Is4() || contains(vnetTag, a) {
		return false
	}
	for _, p := range specialPurpose {
		if tags.IsLocalCloud() && slices.Contains(localPublic, p) {
			continue
		}
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// virtualNetworkTag is §1.4/§11.1: the VNet's space, connected peers'
// spaces, gateway prefixes, the host VIP, and the prefix of every UDR on
// the subnet's route table (a tag route contributes its tag's prefixes).
func virtualNetworkTag(snap *network.Snapshot, tags *servicetag.Registry, vnet *network.VirtualNetwork, subnet *network.Subnet) []netip.Prefix {
	out := parse(vnet.Properties.AddressSpace.AddressPrefixes)
	peered, _ := peerings(snap, vnet)
	out = append(out, peered...)
	out = append(out, gatewayPrefixes(snap, vnet)...)
	out = append(out, servicetag.HostVIP)
	if t := findTable(snap, subnet.Properties.RouteTable); t != nil {
		for i := range t.Properties.Routes {
			ps, _ := udrPrefixes(tags, &t.Properties.Routes[i])
			out = append(out, ps...)
		}
	}
	return out
}

// peerings returns the spaces of vnet's connected peerings (§12.3) — the
// remoteAddressSpace, or else the remote VNet's own space — and the peer
// VNets found in the snapshot.
func peerings(snap *network.Snapshot, vnet *network.VirtualNetwork) ([]netip.Prefix, []*network.VirtualNetwork) {
	var space []netip.Prefix
	var peers []*network.VirtualNetwork
	for _, p := range vnet.Properties.VirtualNetworkPeerings {
		pp := p.Properties
		if st := pp.PeeringState; st != "" && !strings.EqualFold(st, "Connected") {
			continue
		}
		if pp.AllowVirtualNetworkAccess != nil && !*pp.AllowVirtualNetworkAccess {
			continue
		}
		var s []netip.Prefix
		if pp.RemoteAddressSpace != nil {
			s = parse(pp.RemoteAddressSpace.AddressPrefixes)
		}
		if pp.RemoteVirtualNetwork != nil {
			if rv := findVNet(snap, pp.RemoteVirtualNetwork.ID); rv != nil {
				if len(s) == 0 {
					s = parse(rv.Properties.AddressSpace.AddressPrefixes)
				}
				peers = append(peers, rv)
			}
		}
		space = append(space, s...)
	}
	return space, peers
}

// gatewayPrefixes are the on-premises prefixes a VPN gateway in vnet learns
// from the local network gateways it is connected to (§12.6).
func gatewayPrefixes(snap *network.Snapshot, vnet *network.VirtualNetwork) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range snap.Connections {
		cp := c.Properties
		if cp.VirtualNetworkGateway1 == nil || cp.LocalNetworkGateway2 == nil ||
			(cp.ConnectionStatus != "" && !strings.EqualFold(cp.ConnectionStatus, "Connected")) {
			continue
		}
		if !gatewayInVNet(snap, cp.VirtualNetworkGateway1.ID, vnet) {
			continue
		}
		for _, lg := range snap.LocalNetworkGateways {
			if sameID(lg.ID, cp.LocalNetworkGateway2.ID) {
				out = append(out, parse(lg.Properties.LocalNetworkAddressSpace.AddressPrefixes)...)
			}
		}
	}
	return out
}

func gatewayInVNet(snap *network.Snapshot, gwID string, vnet *network.VirtualNetwork) bool {
	for _, g := range snap.VirtualNetworkGateways {
		if !sameID(g.ID, gwID) {
			continue
		}
		for _, ic := range g.Properties.IPConfigurations {
			if ic.Properties.Subnet != nil && sameID(parentID(ic.Properties.Subnet.ID), vnet.ID) {
				return true
			}
		}
	}
	return false
}

// udrPrefixes resolves a route's addressPrefix, a CIDR or a tag (§3.2),
// and returns its tie-break rank.
func udrPrefixes(tags *servicetag.Registry, r *network.Route) ([]netip.Prefix, int) {
	ap := r.Properties.AddressPrefix
	if p, err := network.ParsePrefix(ap); err == nil {
		if !p.Addr().Is4() {
			return nil, 0
		}
		return []netip.Prefix{p}, rankExplicit
	}
	if network.LooksLikeAddress(ap) {
		return nil, 0
	}
	t, ok := tags.Lookup(ap)
	if !ok {
		return nil, 0
	}
	switch {
	case strings.EqualFold(t.Name, "AzureCloud"):
		return t.V4, rankAzureCloud
	case hasPrefixFold(t.Name, "AzureCloud."):
		return t.V4, rankCloudRegion
	case t.Region != "":
		return t.V4, rankRegionTag
	}
	return t.V4, rankTopTag
}

// Tie-break ranks on an identical prefix (§3.3); higher wins.
const (
	rankSystem = iota
	rankGateway
	rankAzureCloud
	rankCloudRegion
	rankTopTag
	rankRegionTag
	rankExplicit
)

// candidate is one route of the subnet, in effective-route vocabulary.
type candidate struct {
	prefix  netip.Prefix
	hop     string
	ip      netip.Addr
	tableID string // set for user routes
	rank    int
	gateway bool
}

var reservedNone = mustPrefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")

// NextHop answers Network Watcher's next hop (spec §3.4) for the NIC nicID,
// its address src, and dst: the next hop type in the API's six values, the
// next hop address, and the route table id of a winning user route or
// "System Route".
func NextHop(snap *network.Snapshot, tags *servicetag.Registry, nicID string, src, dst netip.Addr) (nextHopType, nextHopIP, routeTableID string, err error) {
	if tags == nil {
		tags = servicetag.LocalCloud()
	}
	if !src.Is4() || !dst.Is4() {
		return "", "", "", errors.New("flowref: IPv4 only")
	}
	_, vnet, subnet, err := locate(snap, nicID, src)
	if err != nil {
		return "", "", "", err
	}
	table := findTable(snap, subnet.Properties.RouteTable)
	space := parse(vnet.Properties.AddressSpace.AddressPrefixes)
	peered, peers := peerings(snap, vnet)

	var udrs []candidate
	defaultUDR := false
	if table != nil {
		for i := range table.Properties.Routes {
			r := &table.Properties.Routes[i]
			ps, rank := udrPrefixes(tags, r)
			ip, _ := netip.ParseAddr(r.Properties.NextHopIPAddress)
			for _, p := range ps {
				udrs = append(udrs, candidate{prefix: p, hop: canonicalHop(r.Properties.NextHopType), ip: ip, tableID: table.ID, rank: rank})
				defaultUDR = defaultUDR || p.Bits() == 0
			}
		}
	}

	// §3.1: one VnetLocal route per address range; the reserved None routes,
	// unless a range of the VNet or of a connected peer equals or contains
	// one, or a 0.0.0.0/0 UDR exists (§12.1).
	var cands []candidate
	for _, p := range space {
		cands = append(cands, candidate{prefix: p, hop: network.HopVnetLocal})
	}
	covers := func(p netip.Prefix, r netip.Prefix) bool { return p.Bits() <= r.Bits() && p.Contains(r.Addr()) }
	for _, r := range reservedNone {
		if defaultUDR || slices.ContainsFunc(space, func(p netip.Prefix) bool { return covers(p, r) }) ||
			slices.ContainsFunc(peered, func(p netip.Prefix) bool { return covers(p, r) }) {
			continue
		}
		cands = append(cands, candidate{prefix: r, hop: network.HopNone})
	}
	cands = append(cands, candidate{prefix: netip.MustParsePrefix("0.0.0.0/0"), hop: network.HopInternet})
	for _, p := range peered { // §12.3
		cands = append(cands, candidate{prefix: p, hop: network.HopVNetPeering})
	}
	if table == nil || !table.Properties.DisableBgpRoutePropagation { // §12.6
		for _, p := range gatewayPrefixes(snap, vnet) {
			cands = append(cands, candidate{prefix: p, hop: network.HopVirtualNetworkGateway, rank: rankGateway, gateway: true})
		}
	}
	for _, v := range append([]*network.VirtualNetwork{vnet}, peers...) { // §12.4
		for _, p := range privateEndpoints(snap, v) {
			cands = append(cands, candidate{prefix: p, hop: network.HopInterfaceEndpoint})
		}
	}
	for _, se := range subnet.Properties.ServiceEndpoints { // §12.5
		for _, p := range serviceEndpointPrefixes(tags, se, vnet.Location) {
			cands = append(cands, candidate{prefix: p, hop: network.HopVirtualNetworkServiceEndpoint})
		}
	}
	cands = append(cands, udrs...)

	// §3.3: gateway routes inside the VNet's own, peering or service
	// endpoint system routes are invalid.
	var preferred []netip.Prefix
	for _, c := range cands {
		if c.tableID == "" && (c.hop == network.HopVnetLocal || c.hop == network.HopVNetPeering || c.hop == network.HopVirtualNetworkServiceEndpoint) {
			preferred = append(preferred, c.prefix)
		}
	}
	cands = slices.DeleteFunc(cands, func(c candidate) bool {
		return c.gateway && slices.ContainsFunc(preferred, func(q netip.Prefix) bool { return q.Bits() <= c.prefix.Bits() && q.Contains(c.prefix.Addr()) })
	})

	// Longest prefix wins; on an identical prefix the higher rank, then the
	// earlier candidate.
	var best *candidate
	for i := range cands {
		c := &cands[i]
		if !c.prefix.Contains(dst) {
			continue
		}
		if best == nil || c.prefix.Bits() > best.prefix.Bits() || (c.prefix.Bits() == best.prefix.Bits() && c.rank > best.rank) {
			best = c
		}
	}
	if best == nil {
		return network.HopNone, "", SystemRoute, nil
	}

	// Network Watcher's vocabulary (§3.4, §12.7).
	nextHopType, routeTableID = best.hop, SystemRoute
	switch best.hop {
	case network.HopVNetPeering, network.HopInterfaceEndpoint:
		nextHopType = network.HopVnetLocal
	case network.HopVirtualNetworkServiceEndpoint:
		nextHopType = network.HopInternet
	case network.HopVirtualAppliance:
		if !best.ip.IsValid() || (!contains(space, best.ip) && !contains(peered, best.ip)) {
			nextHopType = network.HopNone // §12.2
		}
	}
	if best.tableID != "" {
		routeTableID = best.tableID
	}
	if best.ip.IsValid() {
		nextHopIP = best.ip.String()
	}
	return nextHopType, nextHopIP, routeTableID, nil
}

// privateEndpoints are the /32s of private endpoint NICs in vnet (§12.4).
func privateEndpoints(snap *network.Snapshot, vnet *network.VirtualNetwork) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range snap.NetworkInterfaces {
		if n.Properties.PrivateEndpoint == nil {
			continue
		}
		for _, ic := range n.Properties.IPConfigurations {
			a, err := netip.ParseAddr(ic.Properties.PrivateIPAddress)
			if err == nil && a.Is4() && ic.Properties.Subnet != nil && sameID(parentID(ic.Properties.Subnet.ID), vnet.ID) {
				out = append(out, netip.PrefixFrom(a, 32))
			}
		}
	}
	return out
}

// serviceEndpointPrefixes are the prefixes of a service endpoint's regional
// tags: of its locations, or the VNet's when none is listed; "*" (or
// Microsoft.Storage.Global) means the family's global tag. An endpoint with
// an unknown service or location adds no routes.
func serviceEndpointPrefixes(tags *servicetag.Registry, se network.ServiceEndpoint, vnetLocation string) []netip.Prefix {
	family, global, ok := network.ServiceEndpointTag(se.Service)
	if !ok {
		return nil
	}
	locs := se.Locations
	if len(locs) == 0 {
		locs = []string{vnetLocation}
	}
	if global || slices.Contains(locs, "*") {
		if t, ok := tags.Lookup(family); ok {
			return t.V4
		}
		return nil
	}
	var out []netip.Prefix
	// A family without any regional tag is a global service: its global tag.
	regional := false
	for _, name := range tags.Names() {
		t, _ := tags.Lookup(name)
		if strings.HasPrefix(strings.ToLower(name), strings.ToLower(family)+".") && t.Region != "" {
			regional = true
		}
	}
	if !regional {
		if t, ok := tags.Lookup(family); ok {
			return t.V4
		}
		return nil
	}
	for _, loc := range locs {
		t := regionalTag(tags, family, loc)
		if t == nil {
			return nil
		}
		out = append(out, t.V4...)
	}
	return out
}

// regionalTag finds <family>.<region> for an ARM location: by name, or by a
// tag of the family whose region property is the location.
func regionalTag(tags *servicetag.Registry, family, location string) *servicetag.Tag {
	if t, ok := tags.Lookup(family + "." + location); ok {
		return t
	}
	for _, n := range tags.Names() {
		if t, _ := tags.Lookup(n); hasPrefixFold(n, family+".") && strings.EqualFold(t.Region, location) {
			return t
		}
	}
	return nil
}

// locate finds a NIC, its ip configuration holding addr, and that
// configuration's subnet and VNet.
func locate(snap *network.Snapshot, nicRef string, addr netip.Addr) (*network.NetworkInterface, *network.VirtualNetwork, *network.Subnet, error) {
	nic, err := findNIC(snap, nicRef)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, ic := range nic.Properties.IPConfigurations {
		a, err := netip.ParseAddr(ic.Properties.PrivateIPAddress)
		if err != nil || a != addr || ic.Properties.Subnet == nil {
			continue
		}
		if v, s := findSubnet(snap, ic.Properties.Subnet.ID); s != nil {
			return nic, v, s, nil
		}
	}
	return nil, nil, nil, fmt.Errorf("flowref: %s is not an address of network interface %s", addr, nic.Name)
}

func findNIC(snap *network.Snapshot, ref string) (*network.NetworkInterface, error) {
	var byName []*network.NetworkInterface
	for i := range snap.NetworkInterfaces {
		n := &snap.NetworkInterfaces[i]
		if sameID(n.ID, ref) {
			return n, nil
		}
		if strings.EqualFold(n.Name, ref) {
			byName = append(byName, n)
		}
	}
	if len(byName) == 1 {
		return byName[0], nil
	}
	return nil, fmt.Errorf("flowref: network interface %q not found or ambiguous", ref)
}

func findSubnet(snap *network.Snapshot, id string) (*network.VirtualNetwork, *network.Subnet) {
	for i := range snap.VirtualNetworks {
		v := &snap.VirtualNetworks[i]
		for j := range v.Properties.Subnets {
			if sameID(v.Properties.Subnets[j].ID, id) {
				return v, &v.Properties.Subnets[j]
			}
		}
	}
	return nil, nil
}

func findVNet(snap *network.Snapshot, id string) *network.VirtualNetwork {
	for i := range snap.VirtualNetworks {
		if sameID(snap.VirtualNetworks[i].ID, id) {
			return &snap.VirtualNetworks[i]
		}
	}
	return nil
}

func findNSG(snap *network.Snapshot, ref *network.SubResource) *network.NetworkSecurityGroup {
	for i := range snap.NetworkSecurityGroups {
		if ref != nil && sameID(snap.NetworkSecurityGroups[i].ID, ref.ID) {
			return &snap.NetworkSecurityGroups[i]
		}
	}
	return nil
}

func findTable(snap *network.Snapshot, ref *network.SubResource) *network.RouteTable {
	for i := range snap.RouteTables {
		if ref != nil && sameID(snap.RouteTables[i].ID, ref.ID) {
			return &snap.RouteTables[i]
		}
	}
	return nil
}

// sameID compares resource ids as ARM does: case-insensitively.
func sameID(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}

// parentID drops the last type/name pair of a child resource's id.
func parentID(id string) string {
	for range 2 {
		i := strings.LastIndexByte(strings.TrimRight(id, "/"), '/')
		if i < 0 {
			return ""
		}
		id = id[:i]
	}
	return id
}

func canonicalHop(s string) string {
	for _, h := range []string{network.HopVirtualNetworkGateway, network.HopVnetLocal, network.HopInternet, network.HopVirtualAppliance, network.HopNone} {
		if strings.EqualFold(s, h) {
			return h
		}
	}
	return s
}

// parse keeps the valid IPv4 prefixes of a list.
func parse(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := network.ParsePrefix(s); err == nil && p.Addr().Is4() {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(list, func(p netip.Prefix) bool { return p.Contains(a) })
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}
