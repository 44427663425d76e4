package network

import (
	"fmt"
	"net/netip"

	"github.com/vnetml/vnetml/internal/armerror"
)

// ValidateNIC checks a network interface (spec §7): each ip configuration
// names a subnet of idx, and its private IP address, when given, lies in
// that subnet and outside Azure's five reserved addresses (network address,
// .1 gateway, .2 and .3 DNS, broadcast). The NIC's NSG and its ip
// configurations' application security groups must be in idx. With a nil
// idx only the shape of references is checked. Targets are rooted at the NIC.
func ValidateNIC(n *NetworkInterface, idx *Index) *armerror.List {
	v := &validator{idx: idx}
	return v.nic(n)
}

func (v *validator) nic(n *NetworkInterface) *armerror.List {
	var l armerror.List
	if n == nil {
		return &l
	}
	if n.Name != "" {
		checkName(&l, "name", "network interface", n.Name, 1, 80)
	}
	if g := n.Properties.NetworkSecurityGroup; g != nil {
		v.reference(&l, "properties.networkSecurityGroup.id", g.ID, TypeNetworkSecurityGroup,
			"network security group", "az network nsg show", func(k string) bool { _, ok := v.idx.NSGs[k]; return ok })
	}
	if len(n.Properties.IPConfigurations) == 0 {
		l.Addf(CodeInvalidResourceReference, "properties.ipConfigurations",
			"network interface %s has no ip configuration; give at least one, with its subnet and privateIPAddress (as az network nic show prints them)", n.Name)
	}
	names := newDupNames("ip configuration")
	for i := range n.Properties.IPConfigurations {
		c := &n.Properties.IPConfigurations[i]
		base := fmt.Sprintf("properties.ipConfigurations[%d]", i)
		checkName(&l, base+".name", "ip configuration", c.Name, 1, 80)
		names.check(&l, base+".name", c.Name, i)
		p := &c.Properties
		for k, g := range p.ApplicationSecurityGroups {
			v.reference(&l, fmt.Sprintf("%s.properties.applicationSecurityGroups[%d].id", base, k), g.ID, TypeApplicationSecurityGrp,
				"application security group", "az network asg show", func(k string) bool { _, ok := v.idx.ASGs[k]; return ok })
		}
		var subnet *Subnet
		if p.Subnet == nil || p.Subnet.ID == "" {
			l.Addf(CodeInvalidResourceReference, base+".properties.subnet",
				"ip configuration '%s' of network interface %s has no subnet; every ip configuration must name its subnet's id", c.Name, n.Name)
		} else {
			v.reference(&l, base+".properties.subnet.id", p.Subnet.ID, TypeSubnet,
				"subnet", "az network vnet show, which includes its subnets", func(k string) bool { _, ok := v.idx.Subnets[k]; return ok })
			if v.idx != nil {
				subnet = v.idx.Subnets[Key(p.Subnet.ID)]
			}
		}
		if p.PrivateIPAddress == "" {
			continue // dynamic: assigned on create
		}
		target := base + ".properties.privateIPAddress"
		a, err := netip.ParseAddr(p.PrivateIPAddress)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			l.Addf(CodeInvalidPrivateIPAddress, target,
				"ip configuration '%s' has invalid privateIPAddress %q; want an IP address such as 10.0.1.4", c.Name, p.PrivateIPAddress)
			continue
		}
		if subnet != nil {
			checkPrivateIP(&l, target, a, subnet)
		}
	}
	return &l
}

// checkPrivateIP reports an address outside subnet's prefixes or on one of
// the five addresses Azure reserves in each (spec §7).
func checkPrivateIP(l *armerror.List, target string, a netip.Addr, subnet *Subnet) {
	var prefixes []netip.Prefix
	for _, s := range subnet.Properties.AllPrefixes() {
		if p, err := ParsePrefix(s); err == nil && p.Addr().BitLen() == a.BitLen() {
			prefixes = append(prefixes, p)
		}
	}
	if len(prefixes) == 0 {
		return // the subnet's own errors are reported with the VNet
	}
	for _, p := range prefixes {
		if !p.Contains(a) {
			continue
		}
		if r, ok := reservedRole(p, a); ok {
			l.Addf(CodePrivateIPAddressInReservedRange, target,
				"Private static IP address %s falls within reserved IP range of subnet prefix %s: Azure reserves the first four addresses and the last one of every subnet (this one is the %s). Use an address from %s.",
				a, p, r, usableRange(p))
		}
		return
	}
	l.Addf(CodePrivateIPAddressNotInSubnet, target,
		"Private static IP address %s does not belong to the range of subnet prefix %s of subnet '%s'.", a, joinPrefixes(prefixes), subnet.Name)
}

// reservedRole says which of a subnet's five reserved addresses a is.
func reservedRole(p netip.Prefix, a netip.Addr) (string, bool) {
	roles := []string{"network address", "default gateway", "Azure DNS address", "Azure DNS address"}
	for i, r := range roles {
		if x, ok := nthAddr(p, i); ok && x == a {
			return r, true
		}
	}
	if a == lastAddr(p) {
		return "broadcast address", true
	}
	return "", false
}

// usableRange renders the addresses Azure hands out in p.
func usableRange(p netip.Prefix) string {
	first, ok := nthAddr(p, 4)
	last := lastAddr(p).Prev()
	if !ok || !last.IsValid() || last.Less(first) {
		return "a larger subnet"
	}
	return first.String() + "-" + last.String()
}

// privateIPsInUse reports a private address given to two ip configurations
// of the same subnet.
func (v *validator) privateIPsInUse(l *armerror.List, s *Snapshot) {
	type slot struct {
		subnet string
		addr   netip.Addr
	}
	owner := map[slot]string{}
	// Unchecked interfaces claim their addresses first, so that a conflict
	// is reported against the changed one.
	order := make([]int, 0, len(s.NetworkInterfaces))
	for _, checked := range []bool{false, true} {
		for i := range s.NetworkInterfaces {
			if v.checks(s.NetworkInterfaces[i].ID) == checked {
				order = append(order, i)
			}
		}
	}
	for _, i := range order {
		n := &s.NetworkInterfaces[i]
		for j, c := range n.Properties.IPConfigurations {
			p := c.Properties
			if p.Subnet == nil || p.PrivateIPAddress == "" {
				continue
			}
			a, err := netip.ParseAddr(p.PrivateIPAddress)
			if err != nil {
				continue
			}
			k := slot{Key(p.Subnet.ID), a}
			who := c.ID
			if who == "" {
				who = n.Name + "/" + c.Name
			}
			if first, ok := owner[k]; ok {
				if !v.checks(n.ID) {
					continue
				}
				l.Addf(CodePrivateIPAddressInUse,
					fmt.Sprintf("%s.properties.ipConfigurations[%d].properties.privateIPAddress", rootOf("networkInterfaces", n.Name, i), j),
					"IP configuration %s is using the private IP address %s which is already allocated to resource %s.", who, a, first)
				continue
			}
			owner[k] = who
		}
	}
}
