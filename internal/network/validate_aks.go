package network

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// AKSNetworkProfile is the part of an AKS cluster's settings that Azure CNI
// networking constrains (spec §8). Empty fields take AKS's defaults: service
// CIDR 10.0.0.0/16 with DNS service IP 10.0.0.10 (when both are empty),
// docker bridge 172.17.0.1/16, maxPods 30. DockerBridgeCIDR is the bridge's
// address and prefix length (172.17.0.1/16), so host bits are allowed there.
type AKSNetworkProfile struct {
	ServiceCIDR, DNSServiceIP, DockerBridgeCIDR string
	MaxPods, NodeCount                          int
}

// AKS defaults and bounds (spec §8).
const (
	AKSDefaultServiceCIDR      = "10.0.0.0/16"
	AKSDefaultDNSServiceIP     = "10.0.0.10"
	AKSDefaultDockerBridgeCIDR = "172.17.0.1/16"
	AKSDefaultMaxPods          = 30
	AKSMinMaxPods              = 30 // 2019 doc; newer docs allow 10 [UNCONFIRMED]
	AKSMaxMaxPods              = 250
	AKSMinServiceCIDRBits      = 12 // "smaller than /12" read as prefix length >= 12 [boundary UNCONFIRMED]
)

// aksReserved are ranges AKS keeps for itself; the service CIDR may not
// overlap them (spec §8).
var aksReserved = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.30.0.0/16"),
	netip.MustParsePrefix("172.31.0.0/16"),
	netip.MustParsePrefix("192.0.2.0/24"),
}

// Targets of AKS errors, as ARM names the fields of a managed cluster.
const (
	tgtServiceCIDR  = "networkProfile.serviceCIDR" // casing as in Azure's error (spec §8)
	tgtDNSServiceIP = "networkProfile.dnsServiceIP"
	tgtDockerBridge = "networkProfile.dockerBridgeCidr"
	tgtMaxPods      = "agentPoolProfiles.maxPods"
	tgtCount        = "agentPoolProfiles.count"
	tgtSubnet       = "agentPoolProfiles.vnetSubnetID"
)

// ValidateAKSNetwork checks an AKS cluster's Azure CNI network settings
// against its VNet, its node subnet and the address spaces of peered
// networks (spec §8): the service CIDR parses, is /12 or smaller, avoids
// AKS's reserved ranges and every VNet, subnet and peered prefix; the DNS
// service IP lies inside it and is not its network, first or broadcast
// address; the two are set together; the docker bridge overlaps neither
// the VNet, its subnets nor the service CIDR; maxPods is 30..250; and the
// subnet has the (nodes+1) + (nodes+1)*maxPods usable addresses CNI needs.
// vnet, subnet and peered may be nil. Targets name the managed cluster's
// fields (networkProfile.serviceCIDR, agentPoolProfiles.maxPods, ...).
func ValidateAKSNetwork(p AKSNetworkProfile, vnet *VirtualNetwork, subnet *Subnet, peered []netip.Prefix) *armerror.List {
	var l armerror.List
	if p.ServiceCIDR == "" && p.DNSServiceIP == "" {
		p.ServiceCIDR, p.DNSServiceIP = AKSDefaultServiceCIDR, AKSDefaultDNSServiceIP
	}
	if p.DockerBridgeCIDR == "" {
		p.DockerBridgeCIDR = AKSDefaultDockerBridgeCIDR
	}
	var space, subnets []netip.Prefix
	var subnetNames []string
	if vnet != nil {
		for _, s := range vnet.Properties.AddressSpace.AddressPrefixes {
			if q, err := ParsePrefix(s); err == nil && q.Addr().Is4() {
				space = append(space, q)
			}
		}
		for _, sn := range vnet.Properties.Subnets {
			for _, s := range sn.Properties.AllPrefixes() {
				if q, err := ParsePrefix(s); err == nil && q.Addr().Is4() {
					subnets, subnetNames = append(subnets, q), append(subnetNames, sn.Name)
				}
			}
		}
	}

	svc, svcOK := checkAKSServiceCIDR(&l, p, space, subnets, peered)
	checkAKSDNS(&l, p, svc, svcOK)
	checkAKSDockerBridge(&l, p.DockerBridgeCIDR, space, subnets, subnetNames, svc, svcOK)

	maxPods := p.MaxPods
	if maxPods == 0 {
		maxPods = AKSDefaultMaxPods
	}
	sizeOK := true
	if maxPods < AKSMinMaxPods || maxPods > AKSMaxMaxPods {
		l.Addf(CodeInvalidMaxPods, tgtMaxPods,
			"maxPods %d is out of range: with Azure CNI a node runs %d-%d pods (default %d)", p.MaxPods, AKSMinMaxPods, AKSMaxMaxPods, AKSDefaultMaxPods)
		sizeOK = false
	}
	if p.NodeCount < 0 {
		l.Addf(CodeInvalidNodeCount, tgtCount, "node count %d is negative", p.NodeCount)
		sizeOK = false
	}
	if sizeOK && subnet != nil {
		checkAKSSubnetSize(&l, subnet, p.NodeCount, maxPods)
	}
	return &l
}

// checkAKSServiceCIDR checks the service CIDR and returns it when it parses.
func checkAKSServiceCIDR(l *armerror.List, p AKSNetworkProfile, space, subnets, peered []netip.Prefix) (netip.Prefix, bool) {
	if p.ServiceCIDR == "" {
		l.Addf(CodeServiceCidrAndDnsServiceIPMustBeSetTogether, tgtServiceCIDR,
			"dnsServiceIP %s is set but serviceCidr is not; set both (or neither, for the defaults %s and %s)", p.DNSServiceIP, AKSDefaultServiceCIDR, AKSDefaultDNSServiceIP)
		return netip.Prefix{}, false
	}
	svc, err := ParsePrefix(p.ServiceCIDR)
	switch {
	case err != nil || !strings.Contains(p.ServiceCIDR, "/"):
		hint := "want an IPv4 CIDR prefix such as 10.0.0.0/16"
		if hb, ok := err.(*HostBitsError); ok {
			hint = fmt.Sprintf("host bits are set; for the given prefix length it should be %s", hb.Canonical)
		}
		l.Addf(CodeCidrStringParseError, tgtServiceCIDR, "Cidr is invalid: serviceCidr %q: %s", p.ServiceCIDR, hint)
		return netip.Prefix{}, false
	case !svc.Addr().Is4():
		l.Addf(CodeCidrStringParseError, tgtServiceCIDR, "Cidr is invalid: serviceCidr %s is not IPv4", svc)
		return netip.Prefix{}, false
	}
	if svc.Bits() < AKSMinServiceCIDRBits {
		l.Addf(CodeServiceCidrTooLarge, tgtServiceCIDR,
			"the service CIDR %s is too large: it must be /%d or smaller (e.g. 10.0.0.0/16)", svc, AKSMinServiceCIDRBits)
	}
	for _, r := range aksReserved {
		if svc.Overlaps(r) {
			l.Addf(CodeServiceCidrOverlapReservedRange, tgtServiceCIDR,
				"the service CIDR %s overlaps %s, which AKS reserves (169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16, 192.0.2.0/24)", svc, r)
		}
	}
	hitSubnet := false
	for _, s := range subnets {
		if svc.Overlaps(s) {
			l.Addf(CodeServiceCidrOverlapExistingSubnetsCidr, tgtServiceCIDR,
				"The specified service CIDR %s is conflicted with an existing subnet CIDR %s", svc, s)
			hitSubnet = true
		}
	}
	if !hitSubnet {
		for _, s := range space {
			if svc.Overlaps(s) {
				l.Addf(CodeServiceCidrOverlapExistingSubnetsCidr, tgtServiceCIDR,
					"The specified service CIDR %s is conflicted with the virtual network's address space %s; pick a private range used nowhere in the network", svc, s)
			}
		}
	}
	for _, s := range peered {
		if s.IsValid() && svc.Overlaps(s) {
			l.Addf(CodeServiceCidrOverlapExistingSubnetsCidr, tgtServiceCIDR,
				"The specified service CIDR %s is conflicted with the peered address space %s", svc, s)
		}
	}
	return svc, true
}

// checkAKSDNS checks the DNS service IP against the service CIDR.
func checkAKSDNS(l *armerror.List, p AKSNetworkProfile, svc netip.Prefix, svcOK bool) {
	if p.DNSServiceIP == "" {
		l.Addf(CodeServiceCidrAndDnsServiceIPMustBeSetTogether, tgtDNSServiceIP,
			"serviceCidr %s is set but dnsServiceIP is not; set both (or neither, for the defaults %s and %s)", p.ServiceCIDR, AKSDefaultServiceCIDR, AKSDefaultDNSServiceIP)
		return
	}
	a, err := netip.ParseAddr(p.DNSServiceIP)
	if err != nil || !a.Is4() {
		l.Addf(CodeInvalidDnsServiceIP, tgtDNSServiceIP, "DNSServiceIP '%s' is not an IPv4 address", p.DNSServiceIP)
		return
	}
	if !svcOK {
		return
	}
	first, _ := nthAddr(svc, 1)
	switch {
	case !svc.Contains(a):
		l.Addf(CodeInvalidDnsServiceIP, tgtDNSServiceIP, "DNSServiceIP '%s' is not within the ServiceCidr '%s'", a, svc)
	case a == svc.Addr():
		l.Addf(CodeInvalidDnsServiceIP, tgtDNSServiceIP,
			"DNSServiceIP '%s' cannot be the network address of ServiceCidr '%s'; cluster DNS breaks (Azure/AKS#2579). Use e.g. the .10 address", a, svc)
	case a == first:
		l.Addf(CodeInvalidDnsServiceIP, tgtDNSServiceIP,
			"DNSServiceIP '%s' cannot be the first IP of ServiceCidr '%s': kubernetes.default.svc takes it. Use e.g. the .10 address", a, svc)
	case a == lastAddr(svc):
		l.Addf(CodeInvalidDnsServiceIP, tgtDNSServiceIP, "DNSServiceIP '%s' cannot be the broadcast address of ServiceCidr '%s'", a, svc)
	}
}

// checkAKSDockerBridge checks that the docker bridge overlaps nothing.
func checkAKSDockerBridge(l *armerror.List, s string, space, subnets []netip.Prefix, subnetNames []string, svc netip.Prefix, svcOK bool) {
	raw, err := netip.ParsePrefix(s)
	if err != nil || !raw.Addr().Is4() {
		l.Addf(CodeCidrStringParseError, tgtDockerBridge,
			"Cidr is invalid: dockerBridgeCidr %q; want the bridge's IPv4 address and prefix length, e.g. %s", s, AKSDefaultDockerBridgeCIDR)
		return
	}
	bridge := raw.Masked()
	for _, q := range space {
		if bridge.Overlaps(q) {
			l.Addf(CodeDockerBridgeCidrOverlap, tgtDockerBridge,
				"the docker bridge %s (%s) overlaps the virtual network's address space %s; pick a range used nowhere in the network", s, bridge, q)
		}
	}
	for i, q := range subnets {
		if bridge.Overlaps(q) {
			l.Addf(CodeDockerBridgeCidrOverlap, tgtDockerBridge,
				"the docker bridge %s (%s) overlaps subnet '%s' (%s)", s, bridge, subnetNames[i], q)
		}
	}
	if svcOK && bridge.Overlaps(svc) {
		l.Addf(CodeDockerBridgeCidrOverlap, tgtDockerBridge,
			"the docker bridge %s (%s) overlaps the service CIDR %s", s, bridge, svc)
	}
}

// checkAKSSubnetSize checks that subnet has the addresses Azure CNI hands to
// nodes and pods: (nodes+1) + (nodes+1)*maxPods, one spare node for upgrades.
func checkAKSSubnetSize(l *armerror.List, subnet *Subnet, nodes, maxPods int) {
	usable := 0
	var prefixes []netip.Prefix
	for _, s := range subnet.Properties.AllPrefixes() {
		q, err := ParsePrefix(s)
		if err != nil || !q.Addr().Is4() {
			continue
		}
		prefixes = append(prefixes, q)
		usable += usableAddrs(q.Bits())
	}
	if len(prefixes) == 0 {
		return
	}
	need := (nodes + 1) + (nodes+1)*maxPods
	if usable >= need {
		return
	}
	fit := "no single IPv4 subnet is that large; use fewer nodes or pods per node"
	for bits := 29; bits >= 2; bits-- {
		if usableAddrs(bits) >= need {
			fit = fmt.Sprintf("the smallest subnet that fits is /%d (%d usable addresses)", bits, usableAddrs(bits))
			break
		}
	}
	l.Addf(CodeSubnetTooSmallForAKS, tgtSubnet,
		"subnet '%s' (%s) has %d usable addresses (Azure reserves 5 per prefix) but Azure CNI needs %d for %d nodes with maxPods %d: (nodes+1) + (nodes+1)*maxPods = %d + %d*%d; %s",
		subnet.Name, joinPrefixes(prefixes), usable, need, nodes, maxPods, nodes+1, nodes+1, maxPods, fit)
}

// usableAddrs is how many addresses Azure hands out in an IPv4 /bits subnet.
func usableAddrs(bits int) int {
	if bits > 29 {
		return 0
	}
	return 1<<(32-bits) - 5
}
