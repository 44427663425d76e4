package flow_test

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaissmai/bart"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/flow/flowbench"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

type benchSetup struct {
	ic          *flow.IPConfig
	subnet, nic []flowbench.NaiveRule
	flows       []flow.Packet
}

func setupDecision(b *testing.B, shape flowbench.Shape) benchSetup {
	tags := loadRealTags(b)
	e := flow.Compile(flowbench.Net(tags, 1000, shape, 1), tags)
	n, err := e.NIC("vm")
	if err != nil {
		b.Fatal(err)
	}
	ic, _ := n.IPConfigFor(netip.Addr{})
	return benchSetup{ic: ic, subnet: flowbench.NaiveFrom(ic.Subnet.NSG, flow.Inbound), nic: flowbench.NaiveFrom(ic.NSG, flow.Inbound), flows: flowbench.Flows(ic.Subnet.NSG, 4096, 3)}
}

// BenchmarkDecision: one inbound decision over a subnet NSG and a NIC NSG
// of 1,000 rules each, built from the real tag file; the engine against
// the naive first-match scan, in the same run. "split" has 500 rules per
// direction, "inbound" all 1,000 in the direction decided.
func BenchmarkDecision(b *testing.B) {
	for _, shape := range []flowbench.Shape{flowbench.Split, flowbench.Inbound} {
		s := setupDecision(b, shape)
		b.Run(shape.String()+"/engine", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := &s.flows[i&4095]
				s.ic.Decide(flow.Inbound, p)
				i++
			}
		})
		b.Run(shape.String()+"/naive", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := &s.flows[i&4095]
				if flowbench.NaiveMatch(s.subnet, p) == flow.Allow {
					flowbench.NaiveMatch(s.nic, p)
				}
				i++
			}
		})
	}
}

// BenchmarkDecisionLatency reports the median and 99th percentile of single
// decisions, each timed on its own (the clock's own cost included).
// The "clock" case times nothing: its p50 is the timing's own cost, the
// baseline to subtract.
func BenchmarkDecisionLatency(b *testing.B) {
	timed := func(b *testing.B, decide func(i int)) {
		lat := make([]time.Duration, 0, 1<<16)
		i := 0
		for b.Loop() {
			t0 := time.Now()
			decide(i)
			if len(lat) < cap(lat) {
				lat = append(lat, time.Since(t0))
			}
			i++
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
	b.Run("clock", func(b *testing.B) { timed(b, func(int) {}) })
	for _, shape := range []flowbench.Shape{flowbench.Split, flowbench.Inbound} {
		s := setupDecision(b, shape)
		b.Run(shape.String(), func(b *testing.B) {
			timed(b, func(i int) { s.ic.Decide(flow.Inbound, &s.flows[i&4095]) })
		})
	}
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
		e = flow.Compile(flowbench.Net(tags, 1000, flowbench.Split, 1), tags)
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
	snap := flowbench.Net(tags, 10, flowbench.Split, 1)
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
	flows := flowbench.Flows(ic.Subnet.NSG, 4096, 5)
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
	for _, shape := range []flowbench.Shape{flowbench.Split, flowbench.Inbound} {
		t.Run(shape.String(), func(t *testing.T) { testSetupAgrees(t, shape) })
	}
}

func testSetupAgrees(t *testing.T, shape flowbench.Shape) {
	tags := loadRealTags(t)
	e := flow.Compile(flowbench.Net(tags, 1000, shape, 1), tags)
	n, _ := e.NIC("vm")
	ic, _ := n.IPConfigFor(netip.Addr{})
	sub, nic := flowbench.NaiveFrom(ic.Subnet.NSG, flow.Inbound), flowbench.NaiveFrom(ic.NSG, flow.Inbound)
	flows := flowbench.Flows(ic.Subnet.NSG, 4096, 3)
	allowed := 0
	for i := range flows {
		p := &flows[i]
		want := flowbench.NaiveMatch(sub, p)
		if want == flow.Allow {
			want = flowbench.NaiveMatch(nic, p)
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

func TestBenchmarkTableStats(t *testing.T) {
	tags := loadRealTags(t)
	e := flow.Compile(flowbench.Net(tags, 1000, flowbench.Inbound, 1), tags)
	n, _ := e.NIC("vm")
	ic, _ := n.IPConfigFor(netip.Addr{})
	for _, d := range []flow.Direction{flow.Inbound, flow.Outbound} {
		st := ic.Stats(d)
		t.Logf("%s: %+v", d, st)
		if d == flow.Inbound && (st.Rules < 2006 || st.SrcIntervals == 0) {
			t.Errorf("inbound pair table holds %d rules, %d source intervals; want both NSGs' 1,003 rules", st.Rules, st.SrcIntervals)
		}
	}
}
