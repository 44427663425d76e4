package flow_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaissmai/bart"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

const realTagFile = "../../../shared/data/ServiceTags_Public.json"

func loadRealTags(tb testing.TB) *servicetag.Registry {
	tb.Helper()
	f, err := os.Open(realTagFile)
	if err != nil {
		tb.Skipf("real service tag file not available (%v); it lives in ../shared/data", err)
	}
	defer f.Close()
	r, err := servicetag.Load(f)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// benchNet builds a subnet NSG and a NIC NSG of n rules each, drawn from
// real service tags (regional and global), explicit prefixes and '*',
// with random ports, protocols and actions.
func benchNet(tags *servicetag.Registry, n int, seed uint64) *network.Snapshot {
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
			if i%2 == 1 {
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
					PrivateIPAddress: "10.0.0.4", Subnet: &network.SubResource{ID: subnetID("vnet", "default")}}}}}}},
	}
	return snap
}

// benchFlows draws inbound packets to 10.0.0.4: half aimed at a random
// rule of nsg (a source inside its remote set, a port inside its range, its
// protocol), so first matches fall early, late and nowhere; the rest from
// random addresses and ports.
func benchFlows(nsg *flow.NSG, n int, seed uint64) []flow.Packet {
	rng := rand.New(rand.NewPCG(seed, 2))
	rules := nsg.Rules(flow.Inbound)
	out := make([]flow.Packet, n)
	for i := range out {
		p := flow.Packet{Proto: []network.Protocol{network.ProtoTCP, network.ProtoUDP}[rng.IntN(2)], Dst: ip("10.0.0.4"),
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

// naiveNSG is the baseline: a first-match scan over rules whose sides are
// plain prefix lists, checked one prefix at a time.
type naiveRule struct {
	access         flow.Verdict
	proto          network.Protocol
	src, dst       []netip.Prefix
	sports, dports []network.PortRange
}

func naiveFrom(n *flow.NSG, d flow.Direction) []naiveRule {
	var out []naiveRule
	for _, r := range n.Rules(d) {
		out = append(out, naiveRule{access: r.Access, proto: r.Proto, src: r.Src.Prefixes(), dst: r.Dst.Prefixes(), sports: r.SrcPorts, dports: r.DstPorts})
	}
	return out
}

func naiveMatch(rules []naiveRule, p *flow.Packet) flow.Verdict {
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

type benchSetup struct {
	ic          *flow.IPConfig
	subnet, nic []naiveRule
	flows       []flow.Packet
}

func setupDecision(b *testing.B) benchSetup {
	tags := loadRealTags(b)
	e := flow.Compile(benchNet(tags, 1000, 1), tags)
	n, err := e.NIC("vm")
	if err != nil {
		b.Fatal(err)
	}
	ic, _ := n.IPConfigFor(netip.Addr{})
	return benchSetup{ic: ic, subnet: naiveFrom(ic.Subnet.NSG, flow.Inbound), nic: naiveFrom(ic.NSG, flow.Inbound), flows: benchFlows(ic.Subnet.NSG, 4096, 3)}
}

// BenchmarkDecision: one inbound decision over a subnet NSG and a NIC NSG
// of 1,000 rules each, built from the real tag file; the engine against
// the naive first-match scan, in the same run.
func BenchmarkDecision(b *testing.B) {
	s := setupDecision(b)
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p := &s.flows[i&4095]
			s.ic.Decide(flow.Inbound, p)
			i++
		}
	})
	b.Run("naive", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p := &s.flows[i&4095]
			if naiveMatch(s.subnet, p) == flow.Allow {
				naiveMatch(s.nic, p)
			}
			i++
		}
	})
}

// BenchmarkDecisionLatency reports the median and 99th percentile of single
// decisions, each timed on its own (the clock's own cost included).
func BenchmarkDecisionLatency(b *testing.B) {
	s := setupDecision(b)
	lat := make([]time.Duration, 0, 1<<16)
	i := 0
	for b.Loop() {
		p := &s.flows[i&4095]
		t0 := time.Now()
		s.ic.Decide(flow.Inbound, p)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkCompile: load the whole tag file and compile 2 NSGs x 1,000
// rules; reports the heap the engine holds.
func BenchmarkCompile(b *testing.B) {
	data, err := os.ReadFile(realTagFile)
	if err != nil {
		b.Skipf("real service tag file not available: %v", err)
	}
	b.ReportAllocs()
	var e *flow.Engine
	for b.Loop() {
		tags, err := servicetag.Load(strings.NewReader(string(data)))
		if err != nil {
			b.Fatal(err)
		}
		e = flow.Compile(benchNet(tags, 1000, 1), tags)
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heap-MB")
	runtime.KeepAlive(e)
}

// BenchmarkRouteLookup: a subnet's route lookup against a bare bart table
// holding the same prefixes, in the same run.
func BenchmarkRouteLookup(b *testing.B) {
	tags := loadRealTags(b)
	snap := benchNet(tags, 10, 1)
	// A route table with service-tag routes (~thousands of prefixes) and a 0/0.
	rt := network.RouteTable{Meta: network.Meta{Name: "rt", ID: sub + "/routeTables/rt"}}
	rt.Properties.Routes = append(rt.Properties.Routes, network.Route{Name: "default", Properties: network.RouteProperties{AddressPrefix: "0.0.0.0/0", NextHopType: "Internet"}})
	for i, tag := range []string{"AzureCloud.eastus", "Storage", "AzureMachineLearning", "BatchNodeManagement", "AzureKeyVault", "AzureContainerRegistry"} {
		rt.Properties.Routes = append(rt.Properties.Routes, network.Route{Name: fmt.Sprint("t", i), Properties: network.RouteProperties{AddressPrefix: tag, NextHopType: "Internet"}})
	}
	snap.RouteTables = []network.RouteTable{rt}
	snap.VirtualNetworks[0].Properties.Subnets[0].Properties.RouteTable = &network.SubResource{ID: rt.ID}
	e := flow.Compile(snap, tags)
	n, _ := e.NIC("vm")
	ic, _ := n.IPConfigFor(netip.Addr{})
	var bare bart.Table[int32]
	for i, r := range ic.Subnet.Routes() {
		if r.State == "Active" {
			bare.Insert(r.Prefix, int32(i))
		}
	}
	flows := benchFlows(ic.Subnet.NSG, 4096, 5)
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ic.Subnet.Route(flows[i&4095].Src)
			i++
		}
	})
	b.Run("bart", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			bare.Lookup(flows[i&4095].Src)
			i++
		}
	})
}

// The engine and the naive scan agree on the benchmark's own flows, and a
// decision allocates nothing (STYLE rule 4).
func TestBenchmarkSetupAgrees(t *testing.T) {
	tags := loadRealTags(t)
	e := flow.Compile(benchNet(tags, 1000, 1), tags)
	n, _ := e.NIC("vm")
	ic, _ := n.IPConfigFor(netip.Addr{})
	sub, nic := naiveFrom(ic.Subnet.NSG, flow.Inbound), naiveFrom(ic.NSG, flow.Inbound)
	flows := benchFlows(ic.Subnet.NSG, 4096, 3)
	allowed := 0
	for i := range flows {
		p := &flows[i]
		want := naiveMatch(sub, p)
		if want == flow.Allow {
			want = naiveMatch(nic, p)
		}
		if got := ic.Decide(flow.Inbound, p).Access; got != want {
			t.Fatalf("flow %d %+v: engine %v, naive %v", i, *p, got, want)
		}
		if want == flow.Allow {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(flows) {
		t.Fatalf("degenerate benchmark: %d of %d allowed", allowed, len(flows))
	}
	p := flows[0]
	if a := testing.AllocsPerRun(1000, func() { ic.Decide(flow.Inbound, &p) }); a != 0 {
		t.Errorf("Decide allocates %v times per call", a)
	}
}
