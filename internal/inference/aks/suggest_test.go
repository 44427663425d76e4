package aks

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
)

// This file tests the ranges CheckNetwork's messages propose — a service
// CIDR with its DNS service IP, a docker bridge — on seeded random
// networks: each is the first free range by freeRangeSlow over the ranges
// the rules name (worked out here from how the network was generated, not
// from netView), and following the advice clears the finding: CheckNetwork
// reports nothing more at that field.

// randomNet is a generated network and what the cluster must avoid in it.
type randomNet struct {
	snap   *network.Snapshot
	subnet string // the cluster's subnet id
	// inNet: the virtual network's space and subnets and its connected
	// peers' spaces, as parsed IPv4 prefixes.
	inNet      []netip.Prefix
	bridge     netip.Prefix // the docker bridge, masked
	bridgeText string
}

// netGen generates networks whose ranges crowd the RFC 1918 blocks, so
// proposals must skip them.
type netGen struct {
	rng *rand.Rand
	n   int // names made
}

// prefix returns a prefix in or near a private block, or now and then a
// public one; its text keeps host bits when hostBits.
func (g *netGen) prefix(minBits, maxBits int) netip.Prefix {
	base := []netip.Prefix{rfc1918[0], rfc1918[1], rfc1918[2], netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("172.30.0.0/15")}[g.rng.IntN(5)]
	f, l := firstLast(base)
	span := uint64(v4int(l)-v4int(f)) + 1
	if g.rng.IntN(2) == 0 {
		span = min(span, 1<<(16+g.rng.IntN(7))) // crowd the start, where proposals begin
	}
	at := v4int(f) + uint32(g.rng.Uint64N(span))
	bits := max(base.Bits(), minBits+g.rng.IntN(maxBits-minBits+1))
	if g.rng.IntN(6) == 0 {
		bits = minBits + g.rng.IntN(maxBits-minBits+1) // may be wider than its block
	}
	return netip.PrefixFrom(addrOf(at), bits).Masked()
}

// within returns a prefix inside p, at least /bits long.
func (g *netGen) within(p netip.Prefix, bits int) netip.Prefix {
	bits = min(32, max(bits, p.Bits()))
	f, l := firstLast(p)
	at := v4int(f) + uint32(g.rng.Uint64N(uint64(v4int(l)-v4int(f))+1))
	return netip.PrefixFrom(addrOf(at), bits).Masked()
}

func (g *netGen) name(kind string) string {
	g.n++
	return fmt.Sprintf("%s%d", kind, g.n)
}

func (g *netGen) network() randomNet {
	const rg = "/subscriptions/" + testSub + "/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/"
	var r randomNet
	vnet := network.VirtualNetwork{Meta: network.Meta{Name: "vnet1", ID: testVNetID, Location: "eastus"}}
	var space []netip.Prefix
	for range 1 + g.rng.IntN(2) {
		p := g.prefix(8, 22)
		space = append(space, p)
		vnet.Properties.AddressSpace.AddressPrefixes = append(vnet.Properties.AddressSpace.AddressPrefixes, p.String())
		r.inNet = append(r.inNet, p)
	}
	if g.rng.IntN(5) == 0 { // ignored: not IPv4 prefixes
		vnet.Properties.AddressSpace.AddressPrefixes = append(vnet.Properties.AddressSpace.AddressPrefixes, "fd00::/48", "nonsense")
	}
	for i := range 1 + g.rng.IntN(6) {
		sn := network.Subnet{Name: g.name("subnet")}
		if i == 0 {
			sn.Name = "aks"
		}
		for j := range 1 + g.rng.IntN(2) {
			p := g.within(space[g.rng.IntN(len(space))], 16+g.rng.IntN(13))
			if g.rng.IntN(8) == 0 {
				p = g.prefix(16, 28) // outside the space: still a subnet's range
			}
			if j == 0 && g.rng.IntN(2) == 0 {
				sn.Properties.AddressPrefix = p.String()
			} else {
				sn.Properties.AddressPrefixes = append(sn.Properties.AddressPrefixes, p.String())
			}
			r.inNet = append(r.inNet, p)
		}
		vnet.Properties.Subnets = append(vnet.Properties.Subnets, sn)
	}
	r.snap = &network.Snapshot{}
	for range g.rng.IntN(4) {
		name := g.name("peer")
		p := g.prefix(8, 24)
		pe := network.VirtualNetworkPeering{Name: "to-" + name, Properties: network.PeeringProperties{
			RemoteVirtualNetwork: &network.SubResource{ID: rg + name},
			PeeringState:         []string{"Connected", "", "connected", "Disconnected", "Initiated"}[g.rng.IntN(5)],
		}}
		connected := pe.Properties.PeeringState == "" || strings.EqualFold(pe.Properties.PeeringState, "Connected")
		if g.rng.IntN(2) == 0 { // known by the peering's copy of its space
			pe.Properties.RemoteAddressSpace = &network.AddressSpace{AddressPrefixes: []string{p.String()}}
		} else { // in the snapshot, which wins over a stale copy
			if g.rng.IntN(3) == 0 {
				pe.Properties.RemoteAddressSpace = &network.AddressSpace{AddressPrefixes: []string{g.prefix(8, 24).String()}}
			}
			r.snap.VirtualNetworks = append(r.snap.VirtualNetworks, network.VirtualNetwork{
				Meta:       network.Meta{Name: name, ID: rg + name, Location: "eastus"},
				Properties: network.VirtualNetworkProperties{AddressSpace: network.AddressSpace{AddressPrefixes: []string{p.String()}}},
			})
		}
		if connected {
			r.inNet = append(r.inNet, p)
		}
		vnet.Properties.VirtualNetworkPeerings = append(vnet.Properties.VirtualNetworkPeerings, pe)
	}
	r.snap.VirtualNetworks = append([]network.VirtualNetwork{vnet}, r.snap.VirtualNetworks...)
	r.snap.Normalize()
	r.subnet = testVNetID + "/subnets/aks"

	// The docker bridge, written as a bridge address with its length.
	br := g.prefix(8, 28)
	if g.rng.IntN(3) == 0 {
		br = netip.MustParsePrefix("172.17.0.0/16")
	}
	r.bridge = br
	r.bridgeText = netip.PrefixFrom(br.Addr().Next(), br.Bits()).String()
	return r
}

// parseSuggestion splits "P (with dnsServiceIP D)" or "P"; ok is false
// for the fallback wording, which proposes no range.
func parseSuggestion(t *testing.T, s string) (p netip.Prefix, dns netip.Addr, ok bool) {
	t.Helper()
	if s == "a private range no network here uses" {
		return p, dns, false
	}
	ps, rest, withDNS := strings.Cut(s, " (with dnsServiceIP ")
	var err error
	if p, err = netip.ParsePrefix(ps); err != nil {
		t.Fatalf("suggestion %q: %v", s, err)
	}
	if withDNS {
		if dns, err = netip.ParseAddr(strings.TrimSuffix(rest, ")")); err != nil || !strings.HasSuffix(rest, ")") {
			t.Fatalf("suggestion %q: DNS service IP %q: %v", s, rest, err)
		}
	}
	return p, dns, true
}

// targetsAt returns the findings of err at target.
func targetsAt(t *testing.T, err error, target string) []finding {
	var out []finding
	for _, f := range findings(t, err) {
		if f.Target == target {
			out = append(out, f)
		}
	}
	return out
}

// walkable is the longest prefix freeRangeSlow can walk an /8 for quickly.
const walkable = 20

// TestSuggestServiceCIDR: the proposed service CIDR is freeRangeSlow's
// first private range of the length asked that touches no part of the
// network, no connected peer, no AKS-reserved range and not the docker
// bridge; its DNS service IP is the .10 address; and CheckNetwork accepts
// both.
func TestSuggestServiceCIDR(t *testing.T) {
	proposed, none := 0, 0
	for seed := range uint64(300) {
		g := &netGen{rng: rand.New(rand.NewPCG(seed, 0x737663))}
		r := g.network()
		c := newNetView(r.snap, r.subnet)
		if c.subnet == nil {
			t.Fatalf("seed %d: the generated subnet is not found", seed)
		}
		c.bridge = r.bridge // as CheckNetwork sets it
		avoid := append(append([]netip.Prefix{r.bridge}, aksReserved...), r.inNet...)

		for range 3 {
			bits := MinServiceCIDRBits + g.rng.IntN(29-MinServiceCIDRBits)
			s := c.suggestService(bits)
			p, dns, ok := parseSuggestion(t, s)
			if bits <= walkable {
				want, wantOK := freeRangeSlow(bits, rfc1918, avoid)
				if ok != wantOK || p != want {
					t.Fatalf("seed %d: suggestService(%d) = %q; reference %v, %v (avoiding %v)", seed, bits, s, want, wantOK, avoid)
				}
			}
			if !ok {
				none++
				continue
			}
			proposed++
			if p.Addr() != netip.MustParseAddr("10.0.0.0") {
				t.Logf("nontrivial %s", p)
			}
			if p.Bits() != bits || !private(p) || p != p.Masked() {
				t.Fatalf("seed %d: suggestService(%d) = %q: not a private /%d", seed, bits, s, bits)
			}
			for _, a := range avoid {
				if overlapsSlow(a, p) {
					t.Fatalf("seed %d: suggestService(%d) = %q overlaps %s", seed, bits, s, a)
				}
			}
			if want, _ := nth(p, 10); dns != want {
				t.Fatalf("seed %d: suggestService(%d) = %q, want DNS service IP %s", seed, bits, s, want)
			}

			// Following the advice clears the service CIDR and DNS findings.
			spec := testSpec()
			spec.Network.SubnetID = r.subnet
			spec.Network.ServiceCIDR, spec.Network.DNSServiceIP, spec.Network.DockerBridgeCIDR = p.String(), dns.String(), r.bridgeText
			err := CheckNetwork(r.snap, "eastus", spec)
			for _, target := range []string{pathServiceCIDR, pathDNSIP} {
				if fs := targetsAt(t, err, target); len(fs) > 0 {
					t.Fatalf("seed %d: the proposed %s with %s still fails: %+v", seed, p, dns, fs)
				}
			}
		}
	}
	t.Logf("%d proposals, %d without one", proposed, none)
	if proposed < 300 || none < 5 {
		t.Errorf("generator too one-sided: %d proposals, %d without one", proposed, none)
	}
}

// TestSuggestBridge: the proposed docker bridge is freeRangeSlow's first
// range of the length asked in 172.16/12, 192.168/16 then 10/8 that
// touches neither the network, nor a connected peer, nor the service
// CIDR, written as its first host; and CheckNetwork accepts it.
func TestSuggestBridge(t *testing.T) {
	proposed, none := 0, 0
	for seed := range uint64(300) {
		g := &netGen{rng: rand.New(rand.NewPCG(seed, 0x627264))}
		r := g.network()
		c := newNetView(r.snap, r.subnet)
		svc := g.prefix(12, 28)
		if g.rng.IntN(8) == 0 {
			svc = netip.Prefix{} // the service CIDR did not parse
		}
		avoid := append([]netip.Prefix{svc}, r.inNet...)

		for range 3 {
			bits := 8 + g.rng.IntN(21)
			s := c.suggestBridge(bits, svc)
			var p netip.Prefix
			ok := s != "a private range no network here uses"
			if ok {
				raw, err := netip.ParsePrefix(s)
				if err != nil || raw.Addr() != raw.Masked().Addr().Next() || raw.Bits() != bits {
					t.Fatalf("seed %d: suggestBridge(%d) = %q: not a /%d written as its first host (%v)", seed, bits, s, bits, err)
				}
				p = raw.Masked()
			}
			if bits <= walkable {
				want, wantOK := freeRangeSlow(bits, bridgeBlocks, avoid)
				if ok != wantOK || p != want {
					t.Fatalf("seed %d: suggestBridge(%d, %s) = %q; reference %v, %v (avoiding %v)", seed, bits, svc, s, want, wantOK, avoid)
				}
			}
			if !ok {
				none++
				continue
			}
			proposed++
			if p.Addr() != netip.MustParseAddr("172.16.0.0") {
				t.Logf("nontrivialbr %s", p)
			}
			for _, a := range avoid {
				if indexable(a) && overlapsSlow(a, p) {
					t.Fatalf("seed %d: suggestBridge(%d, %s) = %q overlaps %s", seed, bits, svc, s, a)
				}
			}

			spec := testSpec()
			spec.Network.SubnetID = r.subnet
			spec.Network.DockerBridgeCIDR = s
			if svc.IsValid() {
				spec.Network.ServiceCIDR = svc.String()
			} else {
				spec.Network.ServiceCIDR = "not a CIDR"
			}
			if fs := targetsAt(t, CheckNetwork(r.snap, "eastus", spec), pathBridge); len(fs) > 0 {
				t.Fatalf("seed %d: the proposed bridge %s with service CIDR %s still fails: %+v", seed, s, spec.Network.ServiceCIDR, fs)
			}
		}
	}
	t.Logf("%d proposals, %d without one", proposed, none)
	if proposed < 300 || none < 5 {
		t.Errorf("generator too one-sided: %d proposals, %d without one", proposed, none)
	}
}

// TestDNSForMatchesReference: dnsFor proposes the .10 address where it is
// neither the broadcast address nor outside, else the .2, and nothing in a
// /31 or /32; what it proposes passes checkDNS.
func TestDNSForMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 0x646e73))
	for bits := range 33 {
		for range 10 {
			p := netip.PrefixFrom(addrOf(rng.Uint32()), bits).Masked()
			first, last := firstLast(p)
			var want netip.Addr
			for _, n := range []int{10, 2} { // the n-th address after the first, walked
				a := first
				for range n {
					a = a.Next()
				}
				if a.IsValid() && p.Contains(a) && a != last {
					want = a
					break
				}
			}
			got, ok := dnsFor(p)
			if got != want || ok != want.IsValid() {
				t.Fatalf("dnsFor(%s) = %v, %v; want %v", p, got, ok, want)
			}
			if !ok {
				continue
			}
			var l armerror.List
			(&netView{}).checkDNS(&l, got.String(), p, true)
			if len(l.Errs) > 0 {
				t.Fatalf("dnsFor(%s) = %s, which checkDNS refuses: %v", p, got, l.Err())
			}
		}
	}
}
