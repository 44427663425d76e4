// Package flowbench owns the flow engine's benchmark workloads: NSGs of
// rules drawn from a real service-tag file, flows aimed at them, and the
// naive first-match scan the engine is measured against. Benchmarks in
// internal/flow and the scripts under bench/ share them, so every figure in
// docs/benchmarks.md comes from the same workload.
package flowbench

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

const sub = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network"

// Shape says how an NSG's rules split between directions.
type Shape int

const (
	// Split alternates rules between inbound and outbound: 500 + 500.
	Split Shape = iota
	// Inbound puts every rule in the inbound direction, the one the
	// benchmarks decide: a first-match scan meets all of them.
	Inbound
)

func (s Shape) String() string {
	if s == Inbound {
		return "inbound"
	}
	return "split"
}

// Net builds a subnet NSG and a NIC NSG of n rules each (spread over the
// directions by shape), drawn from real service tags, with a NIC "vm" at
// 10.0.0.4 in subnet "default".
func Net(tags *servicetag.Registry, n int, shape Shape, seed uint64) *network.Snapshot {
	rng := rand.New(rand.NewPCG(seed, 1))
	var names []string
	for _, name := range tags.Names() {
		if t, _ := tags.Lookup(name); len(t.V4) > 0 {
			names = append(names, name)
		}
	}
	// Rules look like real policy: the remote side is a real service tag
	// (or, rarely, an explicit prefix), the local side the VNet or '*', and
	// ports are single well-known-style ports or short ranges.
	remote := func() string {
		if rng.IntN(20) == 0 {
			return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(rng.IntN(223) + 1), byte(rng.IntN(256)), 0, 0}), 16).String()
		}
		return names[rng.IntN(len(names))]
	}
	local := func() string { return []string{"VirtualNetwork", "*", "10.0.0.0/24"}[rng.IntN(3)] }
	port := func() string {
		if rng.IntN(4) == 0 {
			a := rng.IntN(60000)
			return fmt.Sprintf("%d-%d", a, a+rng.IntN(100))
		}
		return fmt.Sprint(rng.IntN(65536))
	}
	mkNSG := func(name string) network.NetworkSecurityGroup {
		nsg := network.NetworkSecurityGroup{Meta: network.Meta{Name: name, ID: sub + "/networkSecurityGroups/" + name}}
		prios := rng.Perm(3997)
		for i := range n {
			p := prios[i] + 100
			dir := network.DirectionInbound
			if shape == Split && i%2 == 1 {
				dir = network.DirectionOutbound
			}
			access := network.AccessAllow
			if rng.IntN(3) == 0 {
				access = network.AccessDeny
			}
			proto := []string{"Tcp", "Udp", "*"}[rng.IntN(3)]
			src, dst := remote(), local()
			if dir == network.DirectionOutbound {
				src, dst = dst, src
			}
			nsg.Properties.SecurityRules = append(nsg.Properties.SecurityRules, network.SecurityRule{
				Name: fmt.Sprintf("r%d", i),
				Properties: network.SecurityRuleProperties{Priority: &p, Direction: dir, Access: access, Protocol: proto,
					SourceAddressPrefix: src, DestinationAddressPrefix: dst, SourcePortRange: "*", DestinationPortRange: port()},
			})
		}
		return nsg
	}
	snap := &network.Snapshot{
		VirtualNetworks: []network.VirtualNetwork{{Meta: network.Meta{Name: "vnet", ID: sub + "/virtualNetworks/vnet", Location: "eastus"},
			Properties: network.VirtualNetworkProperties{AddressSpace: network.AddressSpace{AddressPrefixes: []string{"10.0.0.0/16"}},
				Subnets: []network.Subnet{{Name: "default", Properties: network.SubnetProperties{AddressPrefix: "10.0.0.0/24",
					NetworkSecurityGroup: &network.SubResource{ID: sub + "/networkSecurityGroups/subnet-nsg"}}}}}}},
		NetworkSecurityGroups: []network.NetworkSecurityGroup{mkNSG("subnet-nsg"), mkNSG("nic-nsg")},
		NetworkInterfaces: []network.NetworkInterface{{Meta: network.Meta{Name: "vm", ID: sub + "/networkInterfaces/vm"},
			Properties: network.NICProperties{NetworkSecurityGroup: &network.SubResource{ID: sub + "/networkSecurityGroups/nic-nsg"},
				IPConfigurations: []network.IPConfiguration{{Name: "c", Properties: network.IPConfigurationProperties{
					PrivateIPAddress: "10.0.0.4", Subnet: &network.SubResource{ID: sub + "/virtualNetworks/vnet/subnets/default"}}}}}}},
	}
	return snap
}

// Flows draws inbound packets to 10.0.0.4: half aimed at a random
// rule of nsg (a source inside its remote set, a port inside its range, its
// protocol), so first matches fall early, late and nowhere; the rest from
// random addresses and ports.
func Flows(nsg *flow.NSG, n int, seed uint64) []flow.Packet {
	rng := rand.New(rand.NewPCG(seed, 2))
	rules := nsg.Rules(flow.Inbound)
	out := make([]flow.Packet, n)
	for i := range out {
		p := flow.Packet{Proto: []network.Protocol{network.ProtoTCP, network.ProtoUDP}[rng.IntN(2)], Dst: netip.MustParseAddr("10.0.0.4"),
			Src:     netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}),
			SrcPort: uint16(rng.IntN(65536)), DstPort: uint16(rng.IntN(65536))}
		if r := rules[rng.IntN(len(rules))]; rng.IntN(2) == 0 && len(r.Src.Ranges()) > 0 {
			rg := r.Src.Ranges()[rng.IntN(len(r.Src.Ranges()))]
			lo, hi := rg.From().As4(), rg.To().As4()
			a, b := uint32(lo[0])<<24|uint32(lo[1])<<16|uint32(lo[2])<<8|uint32(lo[3]), uint32(hi[0])<<24|uint32(hi[1])<<16|uint32(hi[2])<<8|uint32(hi[3])
			x := a + uint32(rng.Uint64N(uint64(b-a)+1))
			p.Src = netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
			pr := r.DstPorts[rng.IntN(len(r.DstPorts))]
			p.DstPort = pr.First + uint16(rng.IntN(int(pr.Last-pr.First)+1))
			if r.Proto != network.ProtoAny {
				p.Proto = r.Proto
			}
		}
		out[i] = p
	}
	return out
}

// NaiveRule is one rule of the baseline: a first-match scan over rules whose sides are
// plain prefix lists, checked one prefix at a time.
type NaiveRule struct {
	access         flow.Verdict
	proto          network.Protocol
	src, dst       []netip.Prefix
	sports, dports []network.PortRange
}

// NaiveFrom lists an NSG direction's rules as plain prefix lists.
func NaiveFrom(n *flow.NSG, d flow.Direction) []NaiveRule {
	var out []NaiveRule
	for _, r := range n.Rules(d) {
		out = append(out, NaiveRule{access: r.Access, proto: r.Proto, src: r.Src.Prefixes(), dst: r.Dst.Prefixes(), sports: r.SrcPorts, dports: r.DstPorts})
	}
	return out
}

// NaiveMatch returns the access of the first rule that matches p.
func NaiveMatch(rules []NaiveRule, p *flow.Packet) flow.Verdict {
	in := func(ps []netip.Prefix, a netip.Addr) bool {
		for _, q := range ps {
			if q.Contains(a) {
				return true
			}
		}
		return false
	}
	inPorts := func(rs []network.PortRange, x uint16) bool {
		for _, r := range rs {
			if r.Contains(x) {
				return true
			}
		}
		return false
	}
	for i := range rules {
		r := &rules[i]
		if (r.proto == network.ProtoAny || r.proto == p.Proto) && in(r.src, p.Src) && in(r.dst, p.Dst) &&
			inPorts(r.sports, p.SrcPort) && inPorts(r.dports, p.DstPort) {
			return r.access
		}
	}
	return flow.Deny
}
