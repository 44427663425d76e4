package aks

import (
	"net/netip"

	"github.com/vnetml/vnetml/internal/network"
)

// This file is the address arithmetic of Azure CNI ("advanced
// networking", spec §8), shared by CheckNetwork and the code that deploys
// a cluster's nodes and pods: every node and every pod it may run takes an
// address of the node subnet, handed out as Azure hands out any subnet
// address (spec §7: lowest free first, the 5 reserved ones skipped).

// DefaultMaxPods is the pods per node Azure CNI plans for by default
// (spec §8: "CNI default 30"). AksCompute has no setting for it.
const DefaultMaxPods = 30

// AddressesNeeded is how many subnet addresses Azure CNI pre-allocates for
// a pool of nodes running up to maxPods pods each: (nodes + 1) +
// (nodes + 1) × maxPods, the extra node being the one an upgrade adds
// (spec §8; 50 nodes with maxPods 30 need 1,581). Negative inputs count as
// 0.
func AddressesNeeded(nodes, maxPods int) int {
	nodes, maxPods = max(nodes, 0), max(maxPods, 0)
	return (nodes + 1) + (nodes+1)*maxPods
}

// Subnet sizes Azure allows for IPv4 (spec §7).
const (
	smallestSubnetBits = 29
	largestSubnetBits  = 2
)

// SmallestSubnetFor returns the prefix length of the smallest subnet Azure
// allows that has n usable addresses (its size less the 5 Azure reserves),
// and false when even a /2 has too few.
func SmallestSubnetFor(n int) (bits int, ok bool) {
	for bits = smallestSubnetBits; bits >= largestSubnetBits; bits-- {
		if 1<<(32-bits)-network.ReservedPerPrefix >= n {
			return bits, true
		}
	}
	return 0, false
}

// FreeAddresses returns the k lowest addresses of the subnet's IPv4
// prefixes that Azure may hand out (network.Usable) and that inUse does
// not report taken — what Azure's dynamic allocation gives k new NICs or
// pod IP configurations one after the other — and whether there were k.
// With k = 1 it agrees with network.FreeAddress. inUse is called at most
// once per address examined.
func FreeAddresses(subnet *network.Subnet, inUse func(netip.Addr) bool, k int) ([]netip.Addr, bool) {
	if k <= 0 {
		return nil, true
	}
	var out []netip.Addr
	for _, p := range network.SubnetPrefixesV4(subnet) {
		for a := p.Addr(); a.IsValid() && p.Contains(a); a = a.Next() {
			if network.Usable(p, a) && !inUse(a) {
				out = append(out, a)
				if len(out) == k {
					return out, true
				}
			}
		}
	}
	return out, false
}

// AddressesInUse returns the private addresses of snap's network
// interfaces (private endpoints' included) and load balancer frontends
// that are in the subnet with the given id (compared as ARM compares ids).
func AddressesInUse(snap *network.Snapshot, subnetID string) map[netip.Addr]bool {
	used := map[netip.Addr]bool{}
	take := func(subnet *network.SubResource, addr string) {
		if subnet != nil && network.SameID(subnet.ID, subnetID) {
			if a, err := netip.ParseAddr(addr); err == nil {
				used[a] = true
			}
		}
	}
	for i := range snap.NetworkInterfaces {
		for _, c := range snap.NetworkInterfaces[i].Properties.IPConfigurations {
			take(c.Properties.Subnet, c.Properties.PrivateIPAddress)
		}
	}
	for i := range snap.LoadBalancers {
		for _, f := range snap.LoadBalancers[i].Properties.FrontendIPConfigurations {
			take(f.Properties.Subnet, f.Properties.PrivateIPAddress)
		}
	}
	return used
}
