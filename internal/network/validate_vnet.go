package network

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// forbiddenVNetRanges may not be part of a VNet's address space (spec §7).
var forbiddenVNetRanges = []netip.Prefix{
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("168.63.129.16/32"),
}

// ValidateVirtualNetwork checks a virtual network, its subnets and peerings
// (spec §7): address space prefixes (CIDR notation, no host bits, no
// forbidden range, no overlap among them), subnet prefixes (inside the
// space, /29../2 for IPv4 and /64 for IPv6, no overlap between subnets),
// names, service endpoint names, and peerings (a remote network, spaces that
// do not overlap, judged from remoteAddressSpace). Targets are rooted at the
// VNet. References to NSGs, route tables and remote VNets are resolved by
// Snapshot.Validate.
func ValidateVirtualNetwork(vn *VirtualNetwork) *armerror.List {
	v := &validator{}
	return v.vnet(vn)
}

func (v *validator) vnet(vn *VirtualNetwork) *armerror.List {
	var l armerror.List
	if vn == nil {
		return &l
	}
	if vn.Name != "" {
		checkName(&l, "name", "virtual network", vn.Name, 2, 64)
	}
	vname := vn.Name
	if vname == "" {
		vname = vn.ID
	}
	space := v.addressSpace(&l, vn)
	names := newDupNames("subnet")
	type placed struct {
		name   string
		prefix netip.Prefix
	}
	var taken []placed
	for i := range vn.Properties.Subnets {
		sn := &vn.Properties.Subnets[i]
		base := fmt.Sprintf("properties.subnets[%d]", i)
		sname := display(sn.Name, "subnet", i)
		checkName(&l, base+".name", "subnet", sn.Name, 1, 80)
		names.check(&l, base+".name", sn.Name, i)
		for _, sp := range v.subnetPrefixes(&l, base, sn, vname) {
			if len(space) > 0 && !containedIn(sp.prefix, space) {
				l.Addf(CodeNetcfgSubnetRangeOutsideVnet, sp.target,
					"Subnet '%s' is not valid because its IP address range is outside the IP address range of virtual network '%s'. Its prefix %s is not inside the address space %s.",
					sname, vname, sp.prefix, joinPrefixes(space))
			}
			for _, t := range taken {
				if t.prefix.Overlaps(sp.prefix) {
					l.Addf(CodeNetcfgSubnetRangesOverlap, sp.target,
						"Subnet '%s' is not valid because its IP address range overlaps with that of an existing subnet '%s' in virtual network '%s'. (%s overlaps %s)",
						sname, t.name, vname, sp.prefix, t.prefix)
					break
				}
			}
			taken = append(taken, placed{sname, sp.prefix})
		}
		v.subnetRefs(&l, base, sn)
	}
	peerNames := newDupNames("virtual network peering")
	for i := range vn.Properties.VirtualNetworkPeerings {
		v.peering(&l, fmt.Sprintf("properties.virtualNetworkPeerings[%d]", i), vn, space, &vn.Properties.VirtualNetworkPeerings[i], i, peerNames)
	}
	return &l
}

// addressSpace checks a VNet's address space and returns its valid prefixes.
func (v *validator) addressSpace(l *armerror.List, vn *VirtualNetwork) []netip.Prefix {
	prefixes := vn.Properties.AddressSpace.AddressPrefixes
	if len(prefixes) == 0 {
		l.Addf(CodeVnetAddressSpaceMissing, "properties.addressSpace.addressPrefixes",
			"virtual network %s has no address space; give at least one prefix, e.g. 10.0.0.0/16", vn.Name)
		return nil
	}
	var space []netip.Prefix
	for i, s := range prefixes {
		target := fmt.Sprintf("properties.addressSpace.addressPrefixes[%d]", i)
		p, ok := parseCIDR(l, target, s, vn.ID)
		if !ok {
			continue
		}
		bad := false
		for _, f := range forbiddenVNetRanges {
			if p.Overlaps(f) {
				l.Addf(CodeVnetAddressSpaceReservedRange, target,
					"the address space %s of virtual network %s overlaps the reserved range %s; a virtual network may not use 224.0.0.0/4, 255.255.255.255/32, 127.0.0.0/8, 169.254.0.0/16 or 168.63.129.16/32 (use RFC 1918 space or 100.64.0.0/10)",
					p, vn.Name, f)
				bad = true
				break
			}
		}
		for _, q := range space {
			if q.Overlaps(p) {
				l.Addf(CodeVnetAddressSpaceRangesOverlap, target,
					"the address space %s of virtual network %s overlaps its address space %s; the ranges of one virtual network may not overlap", p, vn.Name, q)
				bad = true
				break
			}
		}
		if !bad {
			space = append(space, p)
		}
	}
	return space
}

// subnetPrefix is one valid prefix of a subnet and its target path.
type subnetPrefix struct {
	target string
	prefix netip.Prefix
}

// subnetPrefixes checks a subnet's addressPrefix/addressPrefixes and returns
// the valid ones.
func (v *validator) subnetPrefixes(l *armerror.List, base string, sn *Subnet, vname string) []subnetPrefix {
	p := &sn.Properties
	if p.AddressPrefix == "" && len(p.AddressPrefixes) == 0 {
		l.Addf(CodeSubnetAddressPrefixMissing, base+".properties.addressPrefix",
			"subnet '%s' of virtual network '%s' has no address prefix; give addressPrefix, e.g. 10.0.1.0/24", sn.Name, vname)
		return nil
	}
	var targets, texts []string
	if p.AddressPrefix != "" {
		targets, texts = append(targets, base+".properties.addressPrefix"), append(texts, p.AddressPrefix)
	}
	for k, s := range p.AddressPrefixes {
		targets, texts = append(targets, fmt.Sprintf("%s.properties.addressPrefixes[%d]", base, k)), append(texts, s)
	}
	resource := sn.ID
	if resource == "" {
		resource = "subnet " + sn.Name
	}
	var out []subnetPrefix
	for k, s := range texts {
		pfx, ok := parseCIDR(l, targets[k], s, resource)
		if !ok {
			continue
		}
		if pfx.Addr().Is4() && (pfx.Bits() > 29 || pfx.Bits() < 2) {
			l.Addf(CodeNetcfgInvalidSubnet, targets[k],
				"Subnet '%s' is not valid in virtual network '%s'. Its prefix %s is /%d; IPv4 subnets must be /29 (3 usable addresses, Azure reserves 5) to /2.",
				sn.Name, vname, pfx, pfx.Bits())
			continue
		}
		if pfx.Addr().Is6() && pfx.Bits() != 64 {
			l.Addf(CodeNetcfgInvalidSubnet, targets[k],
				"Subnet '%s' is not valid in virtual network '%s'. Its prefix %s is /%d; IPv6 subnets must be exactly /64.", sn.Name, vname, pfx, pfx.Bits())
			continue
		}
		out = append(out, subnetPrefix{targets[k], pfx})
	}
	return out
}

// containedIn reports whether p lies inside one of space.
func containedIn(p netip.Prefix, space []netip.Prefix) bool {
	for _, s := range space {
		if s.Bits() <= p.Bits() && s.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// subnetRefs checks a subnet's NSG and route table references and its
// service endpoints.
func (v *validator) subnetRefs(l *armerror.List, base string, sn *Subnet) {
	p := &sn.Properties
	if p.NetworkSecurityGroup != nil {
		v.reference(l, base+".properties.networkSecurityGroup.id", p.NetworkSecurityGroup.ID, TypeNetworkSecurityGroup,
			"network security group", "az network nsg show", func(k string) bool { _, ok := v.idx.NSGs[k]; return ok })
	}
	if p.RouteTable != nil {
		v.reference(l, base+".properties.routeTable.id", p.RouteTable.ID, TypeRouteTable,
			"route table", "az network route-table show", func(k string) bool { _, ok := v.idx.Tables[k]; return ok })
	}
	for k, se := range p.ServiceEndpoints {
		if _, ok := canonical(se.Service, ServiceEndpointServices()...); !ok {
			l.Addf(CodeInvalidServiceNameOnServiceEndpoint, fmt.Sprintf("%s.properties.serviceEndpoints[%d].service", base, k),
				"service endpoint service '%s' of subnet '%s' is not a service with endpoints; want one of %s",
				se.Service, sn.Name, strings.Join(ServiceEndpointServices(), ", "))
		}
	}
}

// peering checks one peering of vn; space is vn's valid address space.
func (v *validator) peering(l *armerror.List, base string, vn *VirtualNetwork, space []netip.Prefix, p *VirtualNetworkPeering, i int, names *dupNames) {
	checkName(l, base+".name", "virtual network peering", p.Name, 1, 80)
	names.check(l, base+".name", p.Name, i)
	pp := &p.Properties
	remoteID := ""
	if pp.RemoteVirtualNetwork != nil {
		remoteID = pp.RemoteVirtualNetwork.ID
	}
	if remoteID == "" {
		l.Addf(CodePeeringRemoteVirtualNetworkMissing, base+".properties.remoteVirtualNetwork",
			"peering '%s' of virtual network %s has no remoteVirtualNetwork; give {\"id\": <the peer's resource id>}", p.Name, vn.Name)
	} else if _, err := ParseResourceID(remoteID); err != nil {
		l.Addf(CodeInvalidResourceReference, base+".properties.remoteVirtualNetwork.id", "the remote virtual network reference is invalid: %v", err)
	}
	// The remote space: the peer itself when the snapshot holds it, else what
	// the peering reports.
	var remote []netip.Prefix
	if peer, ok := v.remoteVNet(remoteID); ok {
		for _, s := range peer.Properties.AddressSpace.AddressPrefixes {
			if q, err := ParsePrefix(s); err == nil {
				remote = append(remote, q)
			}
		}
	} else if pp.RemoteAddressSpace != nil {
		for k, s := range pp.RemoteAddressSpace.AddressPrefixes {
			if q, ok := parseCIDR(l, fmt.Sprintf("%s.properties.remoteAddressSpace.addressPrefixes[%d]", base, k), s, p.ID); ok {
				remote = append(remote, q)
			}
		}
	}
	var overlaps []netip.Prefix
	for _, a := range space {
		for _, b := range remote {
			if a.Overlaps(b) {
				o := a
				if b.Bits() > a.Bits() {
					o = b
				}
				overlaps = append(overlaps, o)
			}
		}
	}
	if len(overlaps) > 0 {
		pid := p.ID
		if pid == "" {
			pid = p.Name
		}
		l.Addf(CodeVnetAddressSpacesOverlap, base,
			"Cannot create or update peering %s. Virtual networks %s and %s cannot be peered because their address spaces overlap. Overlapping address prefixes: %s. For more information please refer to https://aka.ms/VnetPeeringInfo",
			pid, vn.ID, remoteID, joinPrefixes(overlaps))
	}
}

// remoteVNet finds a peer VNet in the snapshot.
func (v *validator) remoteVNet(id string) (*VirtualNetwork, bool) {
	if v.idx == nil || id == "" {
		return nil, false
	}
	peer, ok := v.idx.VNets[Key(id)]
	return peer, ok
}
