package aks

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
)

// This file checks a cluster's Azure CNI settings against the network it
// joins, as AKS does when it creates the cluster (spec §8, §9; §D row 12:
// "CIDR pre-checks"). Codes are AKS's where they are known: the resource
// provider's error code list (an AKS RP apierror package, read in the
// public code corpus) names DnsServiceIpOutOfServiceCidr,
// DnsServiceIpConflicting, DnsBroadcastAddressConflicting,
// DnsServiceIpParseError, DockerBridgeInSubnetCidr,
// DockerBridgeInServiceCidr, DockerBridgeCidrInvalid, InsufficientSubnetSize,
// SubnetIsDelegated, SubnetNotFound, IPv6NotSupported, CidrStringParseError
// and ServiceCidrOverlapExistingSubnetsCidr. Where a rule has no code of
// its own on record, the error is ARM's generic InvalidParameter. Messages
// start with Azure's wording where it is on record and end with what to
// change.

// Error codes of the network checks.
const (
	// Observed: Azure/AKS#506, with Message "Cidr is invalid" and Target
	// networkProfile.serviceCIDR.
	CodeCidrStringParseError = network.CodeCidrStringParseError
	// Observed: Azure/AKS#1117 and spec §8, with "The specified service
	// CIDR 10.0.0.0/16 is conflicted with an existing subnet CIDR
	// 10.0.0.0/24".
	CodeServiceCidrOverlapExistingSubnetsCidr = network.CodeServiceCidrOverlapExistingSubnetsCidr
	// Documented (learn.microsoft.com troubleshooting article, target
	// networkProfile.dnsServiceIP): "The DNS service IP 10.0.0.10 is out of
	// the range defined by service CIDR 10.200.0.0/16."
	CodeDnsServiceIpOutOfServiceCidr = "DnsServiceIpOutOfServiceCidr"
	// Observed: Azure/AKS-Construction#701, "Pre-allocated IPs 1280
	// exceeds IPs available 1024 in Subnet Cidr 10.240.100.0/22, Subnet
	// Name networkProfile.podCIDR. ... http://aka.ms/aks/insufficientsubnetsize".
	CodeInsufficientSubnetSize = "InsufficientSubnetSize"
	// In the AKS code list; messages vnetml's own [wording UNCONFIRMED].
	CodeDnsServiceIpParseError         = "DnsServiceIpParseError"
	CodeDnsServiceIpConflicting        = "DnsServiceIpConflicting"        // "conflicted with predefined API server IP": the first address
	CodeDnsBroadcastAddressConflicting = "DnsBroadcastAddressConflicting" // the broadcast address
	CodeDockerBridgeCidrInvalid        = "DockerBridgeCidrInvalid"        // also used for an overlap with the VNet's space outside its subnets
	CodeDockerBridgeInSubnetCidr       = "DockerBridgeInSubnetCidr"       // message after MicrosoftDocs/azure-docs#45652 (code not shown there)
	CodeDockerBridgeInServiceCidr      = "DockerBridgeInServiceCidr"
	CodeSubnetNotFound                 = "SubnetNotFound"
	CodeSubnetIsDelegated              = "SubnetIsDelegated"
	CodeIPv6NotSupported               = "IPv6NotSupported"
	// ARM's generic code, for rules without a code of their own on record:
	// the service CIDR not private, larger than /12, in a range AKS
	// reserves, overlapping the VNet's space outside its subnets or a
	// peered network; the DNS service IP being the network address
	// (Azure/AKS#2579); the VNet in another region; the internal load
	// balancer's subnet missing.
	CodeInvalidParameter = "InvalidParameter"
)

// MinServiceCIDRBits is the largest service CIDR AKS takes: the docs'
// "must be smaller than /12", read as a prefix length of at least 12
// [boundary UNCONFIRMED, spec §11.7].
const MinServiceCIDRBits = network.AKSMinServiceCIDRBits

// Ranges AKS keeps for itself; a service CIDR may not touch them (spec §8).
var aksReserved = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.30.0.0/16"),
	netip.MustParsePrefix("172.31.0.0/16"),
	netip.MustParsePrefix("192.0.2.0/24"),
}

// The private (RFC 1918) blocks, in the order ranges are proposed from.
var (
	rfc1918 = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
	}
	bridgeBlocks = []netip.Prefix{rfc1918[1], rfc1918[2], rfc1918[0]}
)

// CheckNetwork checks the Azure CNI settings of s (s.Network) against
// snap, the network the cluster joins, as AKS does when it creates the
// cluster, and returns every problem at once, or nil. workspaceRegion is
// the workspace's region, where the cluster's virtual network must be.
//
// The subnet must exist, in a virtual network of that region, and not be
// delegated. The service CIDR must parse as an IPv4 prefix, be private
// (RFC 1918), be /12 or smaller, avoid the ranges AKS reserves, and
// overlap none of the virtual network's subnets, its address space or a
// connected peer's. The DNS service IP must be inside the service CIDR
// and be neither its network, first nor broadcast address. The docker
// bridge must parse and overlap none of the subnets, the address space or
// the service CIDR. The subnet must have AddressesNeeded(agentCount,
// DefaultMaxPods) usable addresses not already in use. With an internal
// load balancer, its subnet must be a subnet of the same network.
//
// The error is an *armerror.Error whose Target (or whose details'
// Targets) is the payload path of the field to change, for example
// properties.properties.aksNetworkingConfiguration.serviceCidr. snap must
// be normalised (network.Snapshot.Normalize): subnets are found by id. A
// spec without a network configuration, or of an attached cluster, has
// nothing to check.
func CheckNetwork(snap *network.Snapshot, workspaceRegion string, s Spec) error {
	if s.Network == nil || snap == nil {
		return nil
	}
	nodes := s.AgentCount
	if s.Attached() {
		nodes = -1 // an attached cluster's pool is its own business
	}
	return checkNetwork(snap, workspaceRegion, *s.Network, nodes, DefaultMaxPods, s.LoadBalancerType, s.LoadBalancerSubnet, computeTargets)
}

// netTargets are the payload paths of the fields the network checks
// report, and the words their messages use: an AksCompute's settings and
// a managed cluster's (managedcluster.go) lie in different places.
type netTargets struct {
	subnet, serviceCIDR, dnsIP, bridge, lbSubnet string
	// owner is whose region the network must be in ("the workspace");
	// count the field that counts the nodes ("agentCount").
	owner, count string
}

// computeTargets are an AksCompute's.
var computeTargets = netTargets{subnet: pathSubnetID, serviceCIDR: pathServiceCIDR, dnsIP: pathDNSIP, bridge: pathBridge, lbSubnet: pathLBSubnet,
	owner: "the workspace", count: "agentCount"}

// checkNetwork is CheckNetwork over n, for nodes nodes of up to maxPods
// pods each (nodes < 0: the subnet's room is not checked), reporting at
// tg's paths. region is where the network must be.
func checkNetwork(snap *network.Snapshot, region string, n Networking, nodes, maxPods int, lbType, lbSubnet string, tg netTargets) error {
	var l armerror.List
	c := newNetView(snap, n.SubnetID)
	c.tg = tg
	if p, err := netip.ParsePrefix(n.DockerBridgeCIDR); err == nil && p.Addr().Is4() {
		c.bridge = p.Masked() // proposed service CIDRs avoid it
	}
	c.checkSubnet(&l, region)
	svc, svcOK := c.checkServiceCIDR(&l, n.ServiceCIDR)
	c.checkDNS(&l, n.DNSServiceIP, svc, svcOK)
	c.checkBridge(&l, n.DockerBridgeCIDR, svc, svcOK)
	if c.subnet != nil && nodes >= 0 {
		c.checkSize(&l, snap, n.SubnetID, nodes, maxPods)
	}
	if lbType == LoadBalancerInternal && c.vnet != nil {
		c.checkLBSubnet(&l, lbSubnet)
	}
	if e := l.In("the cluster's network configuration"); e != nil {
		return e
	}
	return nil
}

// netView is the part of a snapshot a cluster's subnet sees: its subnet,
// its virtual network's address space and subnets, and its peers' spaces.
type netView struct {
	tg       netTargets
	subnetID string
	vnet     *network.VirtualNetwork
	subnet   *network.Subnet
	space    prefixSet
	subnets  prefixSet
	peered   prefixSet

	bridge netip.Prefix // the docker bridge's range, once parsed
}

func newNetView(snap *network.Snapshot, subnetID string) *netView {
	c := &netView{subnetID: subnetID, tg: computeTargets}
	key := network.Key(subnetID)
	for i := range snap.VirtualNetworks {
		v := &snap.VirtualNetworks[i]
		for j := range v.Properties.Subnets {
			sn := &v.Properties.Subnets[j]
			id := sn.ID
			if id == "" && v.ID != "" {
				id = v.ID + "/subnets/" + sn.Name
			}
			if network.Key(id) == key {
				c.vnet, c.subnet = v, sn
			}
		}
	}
	if c.vnet == nil {
		return c
	}
	var space, subnets, peered []member
	for _, p := range parseV4(c.vnet.Properties.AddressSpace.AddressPrefixes) {
		space = append(space, member{prefix: p, label: fmt.Sprintf("the address space %s of virtual network %s", p, c.vnet.Name)})
	}
	for _, sn := range c.vnet.Properties.Subnets {
		for _, p := range parseV4(sn.Properties.AllPrefixes()) {
			subnets = append(subnets, member{prefix: p, label: fmt.Sprintf("subnet '%s'", sn.Name)})
		}
	}
	for _, pe := range c.vnet.Properties.VirtualNetworkPeerings {
		pp := pe.Properties
		if pp.PeeringState != "" && !strings.EqualFold(pp.PeeringState, "Connected") {
			continue
		}
		name, prefixes := pe.Name, []string(nil)
		if pp.RemoteAddressSpace != nil {
			prefixes = pp.RemoteAddressSpace.AddressPrefixes
		}
		if pp.RemoteVirtualNetwork != nil {
			if r, err := network.ParseResourceID(pp.RemoteVirtualNetwork.ID); err == nil {
				name = r.Name()
			}
			for i := range snap.VirtualNetworks {
				if network.SameID(snap.VirtualNetworks[i].ID, pp.RemoteVirtualNetwork.ID) {
					prefixes = snap.VirtualNetworks[i].Properties.AddressSpace.AddressPrefixes
				}
			}
		}
		for _, p := range parseV4(prefixes) {
			peered = append(peered, member{prefix: p, label: fmt.Sprintf("the address space %s of peered virtual network %s", p, name)})
		}
	}
	c.space, c.subnets, c.peered = newPrefixSet(space), newPrefixSet(subnets), newPrefixSet(peered)
	return c
}

// parseV4 returns the strings that are IPv4 prefixes (host bits cleared).
func parseV4(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	return out
}

// checkSubnet checks the subnet exists, in the workspace's region, and is
// not delegated to another service.
func (c *netView) checkSubnet(l *armerror.List, region string) {
	if c.subnet == nil {
		l.Addf(CodeSubnetNotFound, c.tg.subnet,
			"The subnet %s does not exist; create it (az network vnet subnet create) or give the id of an existing subnet.", c.subnetID)
		return
	}
	if ws, vl := normLocation(region), normLocation(c.vnet.Location); ws != "" && vl != "" && ws != vl {
		l.Addf(CodeInvalidParameter, c.tg.subnet,
			"The virtual network %s of subnet '%s' is in %s but %s is in %s: an AKS cluster and its virtual network must be in %s's region; use a subnet of a virtual network in %s.",
			c.vnet.Name, c.subnet.Name, vl, c.tg.owner, ws, c.tg.owner, ws)
	}
	for _, d := range c.subnet.Properties.Delegations {
		l.Addf(CodeSubnetIsDelegated, c.tg.subnet,
			"Subnet '%s' is delegated to %s, so an AKS cluster's nodes cannot join it; remove the delegation or use another subnet.",
			c.subnet.Name, d.Properties.ServiceName)
	}
}

// checkServiceCIDR checks the service CIDR and returns it, valid for the
// checks that depend on it, when it is an IPv4 prefix.
func (c *netView) checkServiceCIDR(l *armerror.List, s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		l.Addf(CodeCidrStringParseError, c.tg.serviceCIDR,
			"Cidr is invalid: serviceCidr %q is not a CIDR prefix; give a private range no network here uses, such as %s.", s, c.suggestService(16))
		return netip.Prefix{}, false
	case p != p.Masked():
		l.Addf(CodeCidrStringParseError, c.tg.serviceCIDR,
			"Cidr is invalid: serviceCidr %s has host bits set; for its prefix length it should be %s.", s, p.Masked())
		return netip.Prefix{}, false
	case !p.Addr().Is4():
		l.Addf(CodeIPv6NotSupported, c.tg.serviceCIDR,
			"The service CIDR %s is not IPv4, which an AKS cluster with Azure CNI does not support; give an IPv4 private range such as %s.", s, c.suggestService(16))
		return netip.Prefix{}, false
	}
	bits := min(max(p.Bits(), MinServiceCIDRBits), 28)
	if !private(p) {
		l.Addf(CodeInvalidParameter, c.tg.serviceCIDR,
			"The service CIDR %s is not a private (RFC 1918) range; give one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 that no network here uses, such as %s.", p, c.suggestService(bits))
	}
	if p.Bits() < MinServiceCIDRBits {
		l.Addf(CodeInvalidParameter, c.tg.serviceCIDR,
			"The service CIDR %s is larger than /%d; give a /%d or smaller range, such as %s.", p, MinServiceCIDRBits, MinServiceCIDRBits, c.suggestService(bits))
	}
	for _, r := range aksReserved {
		if p.Overlaps(r) {
			l.Addf(CodeInvalidParameter, c.tg.serviceCIDR,
				"The service CIDR %s overlaps %s, which AKS reserves (169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16 and 192.0.2.0/24 cannot be used); give another range, such as %s.", p, r, c.suggestService(bits))
		}
	}
	hits := c.subnets.overlapping(p)
	for _, m := range hits {
		l.Addf(CodeServiceCidrOverlapExistingSubnetsCidr, c.tg.serviceCIDR,
			"The specified service CIDR %s is conflicted with an existing subnet CIDR %s (%s); give a range no subnet uses, such as %s.", p, m.prefix, m.label, c.suggestService(bits))
	}
	if len(hits) == 0 { // a subnet hit already says the range is in the network
		for _, m := range c.space.overlapping(p) {
			l.Addf(CodeInvalidParameter, c.tg.serviceCIDR,
				"The specified service CIDR %s overlaps %s; give a range outside the cluster's network, such as %s.", p, m.label, c.suggestService(bits))
		}
	}
	for _, m := range c.peered.overlapping(p) {
		l.Addf(CodeInvalidParameter, c.tg.serviceCIDR,
			"The specified service CIDR %s overlaps %s, whose addresses the cluster could not reach; give a range no peered network uses, such as %s.", p, m.label, c.suggestService(bits))
	}
	return p, true
}

// private reports whether p lies inside an RFC 1918 block.
func private(p netip.Prefix) bool {
	for _, b := range rfc1918 {
		if b.Bits() <= p.Bits() && b.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// suggestService proposes a service CIDR of the given length that no part
// of the network, no peer, no AKS-reserved range and not the docker bridge
// touches, with its DNS service IP, for a message.
func (c *netView) suggestService(bits int) string {
	avoid := []member{}
	for _, r := range aksReserved {
		avoid = append(avoid, member{prefix: r})
	}
	if c.bridge.IsValid() {
		avoid = append(avoid, member{prefix: c.bridge})
	}
	p, ok := freeRange(bits, rfc1918, c.space, c.subnets, c.peered, newPrefixSet(avoid))
	if !ok {
		return "a private range no network here uses"
	}
	if dns, ok := dnsFor(p); ok {
		return fmt.Sprintf("%s (with dnsServiceIP %s)", p, dns)
	}
	return p.String()
}

// dnsFor proposes a DNS service IP of svc: the .10 address, as Azure's
// defaults do (10.0.0.0/16 with 10.0.0.10), or the first one allowed.
func dnsFor(svc netip.Prefix) (netip.Addr, bool) {
	for _, n := range []int{10, 2} {
		if a, ok := nth(svc, n); ok && a != lastOf(svc) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// checkDNS checks the DNS service IP against the service CIDR.
func (c *netView) checkDNS(l *armerror.List, s string, svc netip.Prefix, svcOK bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		hint := "an address inside serviceCidr, such as its .10 address"
		if d, ok := dnsFor(svc); svcOK && ok {
			hint = fmt.Sprintf("an address inside serviceCidr %s, such as %s", svc, d)
		}
		l.Addf(CodeDnsServiceIpParseError, c.tg.dnsIP, "The DNS service IP %q is not an IPv4 address; give %s.", s, hint)
		return
	}
	if !svcOK {
		return
	}
	such := ""
	if d, ok := dnsFor(svc); ok {
		such = fmt.Sprintf(", such as %s", d)
	}
	use := "another address inside it" + such
	first, _ := nth(svc, 1)
	switch {
	case !svc.Contains(a):
		l.Addf(CodeDnsServiceIpOutOfServiceCidr, c.tg.dnsIP,
			"The DNS service IP %s is out of the range defined by service CIDR %s. Use an address inside it%s.", a, svc, such)
	case a == svc.Addr():
		l.Addf(CodeInvalidParameter, c.tg.dnsIP,
			"The DNS service IP %s is the network address of service CIDR %s, where cluster DNS does not work (Azure/AKS#2579); use %s.", a, svc, use)
	case a == first:
		l.Addf(CodeDnsServiceIpConflicting, c.tg.dnsIP,
			"The DNS service IP %s is the first address of service CIDR %s, which Kubernetes gives the API server (kubernetes.default.svc); use %s.", a, svc, use)
	case a == lastOf(svc):
		l.Addf(CodeDnsBroadcastAddressConflicting, c.tg.dnsIP,
			"The DNS service IP %s is the broadcast address of service CIDR %s; use %s.", a, svc, use)
	}
}

// checkBridge checks the docker bridge: the bridge's address and prefix
// length (172.17.0.1/16), so host bits are allowed.
func (c *netView) checkBridge(l *armerror.List, s string, svc netip.Prefix, svcOK bool) {
	raw, err := netip.ParsePrefix(s)
	if err != nil || !raw.Addr().Is4() {
		l.Addf(CodeDockerBridgeCidrInvalid, c.tg.bridge,
			"NetworkProfile.DockerBridgeCidr %q is invalid: it is not an IPv4 address with a prefix length; give one such as %s.", s, c.suggestBridge(16, svc))
		return
	}
	br := raw.Masked()
	c.bridge = br
	bits := min(max(br.Bits(), 8), 28)
	hits := c.subnets.overlapping(br)
	for _, m := range hits {
		l.Addf(CodeDockerBridgeInSubnetCidr, c.tg.bridge,
			"NetworkProfile.DockerBridgeCidr %s is invalid. Please choose one that does not overlap Subnet Cidr %s (%s), such as %s.", s, m.prefix, m.label, c.suggestBridge(bits, svc))
	}
	if len(hits) == 0 {
		for _, m := range c.space.overlapping(br) {
			l.Addf(CodeDockerBridgeCidrInvalid, c.tg.bridge,
				"NetworkProfile.DockerBridgeCidr %s is invalid. Please choose one that does not overlap %s, such as %s.", s, m.label, c.suggestBridge(bits, svc))
		}
	}
	if svcOK && br.Overlaps(svc) {
		l.Addf(CodeDockerBridgeInServiceCidr, c.tg.bridge,
			"NetworkProfile.DockerBridgeCidr %s is invalid. Please choose one that does not overlap the service CIDR %s, such as %s.", s, svc, c.suggestBridge(bits, svc))
	}
}

// suggestBridge proposes a docker bridge of the given length, written as
// the bridge's address (the range's first host) and length.
func (c *netView) suggestBridge(bits int, svc netip.Prefix) string {
	var avoid []member
	if svc.IsValid() {
		avoid = append(avoid, member{prefix: svc})
	}
	p, ok := freeRange(bits, bridgeBlocks, c.space, c.subnets, c.peered, newPrefixSet(avoid))
	if !ok {
		return "a private range no network here uses"
	}
	return netip.PrefixFrom(p.Addr().Next(), p.Bits()).String()
}

// checkSize checks the subnet has the addresses Azure CNI pre-allocates for
// the nodes and their pods, less those already in use.
func (c *netView) checkSize(l *armerror.List, snap *network.Snapshot, subnetID string, nodes, maxPods int) {
	prefixes := network.SubnetPrefixesV4(c.subnet)
	usable := 0
	for _, p := range prefixes {
		usable += network.UsableCount(p)
	}
	inUse := 0
	for a := range AddressesInUse(snap, subnetID) {
		for _, p := range prefixes {
			if network.Usable(p, a) {
				inUse++
				break
			}
		}
	}
	need, have := AddressesNeeded(nodes, maxPods), usable-inUse
	if have >= need {
		return
	}
	cidrs := make([]string, len(prefixes))
	for i, p := range prefixes {
		cidrs[i] = p.String()
	}
	fix := "no subnet Azure allows is that large; use fewer agents"
	if bits, ok := SmallestSubnetFor(need); ok {
		fix = fmt.Sprintf("use a subnet of /%d or larger (%d usable addresses) with nothing else in it, or fewer agents", bits, 1<<(32-bits)-network.ReservedPerPrefix)
	}
	l.Addf(CodeInsufficientSubnetSize, c.tg.subnet,
		"Pre-allocated IPs %d exceeds IPs available %d in Subnet Cidr %s, Subnet Name %s. Azure CNI pre-allocates (%s+1) + (%s+1)×maxPods = (%d+1) + (%d+1)×%d addresses; the subnet has %d usable (Azure reserves %d per prefix), %d of them in use. To fix it, %s.",
		need, have, strings.Join(cidrs, ", "), c.subnet.Name, c.tg.count, c.tg.count, nodes, nodes, maxPods, usable, network.ReservedPerPrefix, inUse, fix)
}

// checkLBSubnet checks the internal load balancer's subnet is a subnet of
// the cluster's virtual network: Kubernetes puts the frontend there.
func (c *netView) checkLBSubnet(l *armerror.List, name string) {
	var names []string
	for _, sn := range c.vnet.Properties.Subnets {
		if strings.EqualFold(sn.Name, name) {
			return
		}
		names = append(names, "'"+sn.Name+"'")
	}
	l.Addf(CodeInvalidParameter, c.tg.lbSubnet,
		"The internal load balancer's subnet '%s' is not a subnet of virtual network %s (it has %s); set loadBalancerSubnet to one of them, usually the cluster's own subnet '%s'.",
		name, c.vnet.Name, strings.Join(names, ", "), c.subnet.Name)
}

// nth returns the address n after p's first, and whether it is inside p.
func nth(p netip.Prefix, n int) (netip.Addr, bool) {
	if !p.IsValid() || !p.Addr().Is4() {
		return netip.Addr{}, false
	}
	lo, hi := bounds(p)
	if uint64(lo)+uint64(n) > uint64(hi) {
		return netip.Addr{}, false
	}
	return addrOf(lo + uint32(n)), true
}

// lastOf returns p's last (broadcast) IPv4 address.
func lastOf(p netip.Prefix) netip.Addr {
	_, hi := bounds(p)
	return addrOf(hi)
}
