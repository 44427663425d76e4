package aks

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/vnetml/vnetml/internal/network"
)

// This file tests plan.go's arithmetic against brute force: addresses
// counted one by one, subnet sizes tried one by one, a subnet's addresses
// walked one by one with Azure's five reserved ones (spec §7: the
// network address, the gateway, two for DNS, the broadcast address)
// picked out by position.

// addressesNeededSlow counts the addresses of the nodes (one more for an
// upgrade) and of the pods each runs.
func addressesNeededSlow(nodes, maxPods int) int {
	n := 0
	for range max(nodes, 0) + 1 {
		n++ // the node
		for range max(maxPods, 0) {
			n++ // a pod
		}
	}
	return n
}

func TestAddressesNeededMatchesReference(t *testing.T) {
	if got := AddressesNeeded(50, 30); got != 1581 { // spec §8's example
		t.Errorf("AddressesNeeded(50, 30) = %d, want 1581", got)
	}
	rng := rand.New(rand.NewPCG(1, 0x706c616e))
	for range 500 {
		nodes, pods := rng.IntN(210)-10, rng.IntN(260)-10
		if got, want := AddressesNeeded(nodes, pods), addressesNeededSlow(nodes, pods); got != want {
			t.Fatalf("AddressesNeeded(%d, %d) = %d, counted %d", nodes, pods, got, want)
		}
	}
}

// smallestSubnetForSlow tries every prefix length Azure allows for an IPv4
// subnet (/29 to /2), smallest first, counting usable addresses with
// network.UsableCount.
func smallestSubnetForSlow(n int) (int, bool) {
	for bits := 29; bits >= 2; bits-- {
		if network.UsableCount(netip.PrefixFrom(netip.IPv4Unspecified(), bits)) >= n {
			return bits, true
		}
	}
	return 0, false
}

func TestSmallestSubnetForMatchesReference(t *testing.T) {
	ns := []int{-1, 0, 1, 3, 4, 1581, 1 << 30, 1<<30 - 5, 1<<30 - 4, 1 << 40}
	for bits := 1; bits <= 30; bits++ { // both sides of every size's usable count
		u := 1<<(32-bits) - network.ReservedPerPrefix
		ns = append(ns, u-1, u, u+1)
	}
	rng := rand.New(rand.NewPCG(2, 0x706c616e))
	for range 300 {
		ns = append(ns, rng.IntN(1<<rng.IntN(31)))
	}
	for _, n := range ns {
		gotBits, gotOK := SmallestSubnetFor(n)
		wantBits, wantOK := smallestSubnetForSlow(n)
		if gotBits != wantBits || gotOK != wantOK {
			t.Fatalf("SmallestSubnetFor(%d) = /%d, %v; reference /%d, %v", n, gotBits, gotOK, wantBits, wantOK)
		}
	}
}

// freeAddressesSlow walks the subnet's prefixes in the order the subnet
// lists them, skipping what is not a canonical IPv4 prefix (a bare address
// is a /32, which has no usable address either), and takes each address
// that is not one of the first four or the last and not in use.
func freeAddressesSlow(subnet *network.Subnet, used map[netip.Addr]bool, k int) ([]netip.Addr, bool) {
	if k <= 0 {
		return nil, true
	}
	var out []netip.Addr
	for _, s := range subnet.Properties.AllPrefixes() {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() || p != p.Masked() {
			continue
		}
		size := 1 << (32 - p.Bits())
		a := p.Addr()
		for i := range size {
			if i >= 4 && i < size-1 && !used[a] {
				out = append(out, a)
				if len(out) == k {
					return out, true
				}
			}
			a = a.Next()
		}
	}
	return out, false
}

// TestFreeAddressesMatchesReference checks FreeAddresses against
// freeAddressesSlow, and against network.FreeAddress for k = 1, on seeded
// random subnets of one to three disjoint prefixes (small ones, ones at
// the ends of the IPv4 space, and text a subnet may hold that is not a
// usable prefix) with random addresses in use.
func TestFreeAddressesMatchesReference(t *testing.T) {
	bases := []netip.Addr{netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.0"),
		netip.MustParseAddr("192.168.7.0"), netip.MustParseAddr("172.16.255.0")}
	full, short := 0, 0
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 0x66726565))
		var prefixes []netip.Prefix
		var texts []string
		for range 1 + rng.IntN(3) {
			switch rng.IntN(12) {
			case 0:
				texts = append(texts, []string{"10.9.0.7", "10.9.0.1/24", "fd00::/64", "garbage", ""}[rng.IntN(5)])
				continue
			}
			base := bases[rng.IntN(len(bases))].As4()
			base[2] += byte(rng.IntN(4))
			p := netip.PrefixFrom(netip.AddrFrom4(base), 22+rng.IntN(11)).Masked()
			if slices.ContainsFunc(prefixes, p.Overlaps) {
				continue // Azure refuses a subnet whose prefixes overlap
			}
			prefixes = append(prefixes, p)
			texts = append(texts, p.String())
		}
		subnet := &network.Subnet{Name: "s"}
		if len(texts) > 0 && rng.IntN(2) == 0 {
			subnet.Properties.AddressPrefix, texts = texts[0], texts[1:]
		}
		subnet.Properties.AddressPrefixes = texts

		used := map[netip.Addr]bool{}
		density := rng.Float64()
		for _, p := range prefixes {
			for a := p.Addr(); a.IsValid() && p.Contains(a); a = a.Next() {
				if rng.Float64() < density {
					used[a] = true
				}
			}
		}
		used[netip.MustParseAddr("10.200.0.9")] = true // not in the subnet: no effect

		for _, k := range []int{-1, 0, 1, 2, rng.IntN(8), rng.IntN(300), rng.IntN(2000)} {
			calls := map[netip.Addr]int{}
			inUse := func(a netip.Addr) bool {
				calls[a]++
				return used[a]
			}
			got, ok := FreeAddresses(subnet, inUse, k)
			want, wantOK := freeAddressesSlow(subnet, used, k)
			if ok != wantOK || !slices.Equal(got, want) {
				t.Fatalf("seed %d: FreeAddresses(%q %q, k=%d) = %v, %v; reference %v, %v",
					seed, subnet.Properties.AddressPrefix, subnet.Properties.AddressPrefixes, k, got, ok, want, wantOK)
			}
			for a, n := range calls {
				if n > 1 {
					t.Fatalf("seed %d: inUse(%s) called %d times", seed, a, n)
				}
			}
			if k == 1 {
				a, ok := network.FreeAddress(subnet, func(a netip.Addr) bool { return used[a] })
				if ok != wantOK || (ok && a != want[0]) {
					t.Fatalf("seed %d: network.FreeAddress = %v, %v; FreeAddresses(1) = %v, %v", seed, a, ok, got, wantOK)
				}
			}
			if k > 0 && ok {
				full++
			} else if k > 0 {
				short++
			}
		}
	}
	if full < 300 || short < 300 {
		t.Errorf("generator too one-sided: %d requests met, %d short", full, short)
	}
}

// TestFreeAddressesAgreesWithCheckSize: a subnet has room for the
// AddressesNeeded of a pool exactly when FreeAddresses can hand out that
// many addresses, the addresses in use taken from the snapshot as
// CheckNetwork takes them.
func TestFreeAddressesAgreesWithCheckSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 0x73697a65))
	rooms := 0
	for i := range 200 {
		snap := testSnapshot()
		sn := &snap.VirtualNetworks[0].Properties.Subnets[0] // aks, 10.0.0.0/22 with 10.0.0.4 in use
		for range rng.IntN(60) {
			a := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(5)), byte(rng.IntN(256))}) // some outside the /22
			snap.NetworkInterfaces = append(snap.NetworkInterfaces, nic(fmt.Sprint("n", len(snap.NetworkInterfaces)), testSubnet, a.String()))
		}
		spec := testSpec()
		spec.AgentCount = 25 + rng.IntN(10) // around the /22's 1019 usable addresses
		used := AddressesInUse(snap, testSubnet)
		_, room := FreeAddresses(sn, func(a netip.Addr) bool { return used[a] }, AddressesNeeded(spec.AgentCount, DefaultMaxPods))
		short := len(targetsAt(t, CheckNetwork(snap, "eastus", spec), pathSubnetID)) > 0
		if room == short {
			t.Fatalf("case %d: %d agents, %d addresses in use: FreeAddresses finds room %v, CheckNetwork reports a short subnet %v",
				i, spec.AgentCount, len(used), room, short)
		}
		if room {
			rooms++
		}
	}
	if rooms < 50 || rooms > 150 {
		t.Errorf("generator too one-sided: room in %d of 200 cases", rooms)
	}
}
