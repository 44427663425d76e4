package flow_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/flow/flowref"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// The differential tests check the engine against flowref, the slow oracle
// written from the spec, on seeded random snapshots and flows. A failure
// names the seed and configuration, prints the snapshot as JSON and the
// flow, so that it reproduces with the same seed.

// TestDifferentialLocalCloud compares IP flow verify (and Decide for
// protocols Network Watcher does not take) and next hop with the built-in
// local cloud's tags.
func TestDifferentialLocalCloud(t *testing.T) {
	seeds, configs, flows := 20, 10, 250
	if testing.Short() {
		seeds, configs, flows = 5, 6, 100
	}
	tags := servicetag.LocalCloud()
	st := runDifferential(t, tags, tags.Names(), seeds, configs, flows)
	if !testing.Short() && st.configs == seeds*configs && (st.configs < 200 || st.verify < 50000 || st.nextHop < 50000) {
		t.Errorf("too few comparisons: %+v", st)
	}
}

// TestDifferentialServiceTagsPublic uses Azure's real tag file with rules
// and routes naming real tags.
func TestDifferentialServiceTagsPublic(t *testing.T) {
	tags := loadRealTags(t)
	names := []string{
		"Storage", "Storage.EastUS", "Storage.WestEurope", "AzureCloud.eastus", "AzureCloud.westus2",
		"AzureMachineLearning", "AzureMachineLearning.EastUS", "BatchNodeManagement.EastUS",
		"AzureKeyVault.EastUS", "AzureKeyVault", "AzureActiveDirectory", "AzureResourceManager",
		"AzureFrontDoor.Frontend", "AzureFrontDoor.FirstParty", "AzureMonitor", "MicrosoftContainerRegistry.EastUS",
		"AzureContainerRegistry.WestUS2", "Sql.WestEurope", "EventHub.EastUS", "AzureCloud",
	}
	for _, n := range names {
		if _, ok := tags.Lookup(n); !ok {
			t.Fatalf("tag %s not in the file", n)
		}
	}
	seeds, configs, flows := 4, 5, 150
	if testing.Short() {
		seeds, configs, flows = 2, 3, 60
	}
	runDifferential(t, tags, names, seeds, configs, flows)
}

type diffStats struct{ configs, verify, nextHop int }

// runDifferential runs each seed as a parallel subtest (rerun one with
// -run 'TestName/seeds/seed=N') and returns the totals.
func runDifferential(t *testing.T, tags *servicetag.Registry, tagNames []string, seeds, configs, flows int) diffStats {
	per := make([]diffStats, seeds)
	t.Run("seeds", func(t *testing.T) {
		for seed := range seeds {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				t.Parallel()
				per[seed] = diffSeed(t, tags, tagNames, uint64(seed), configs, flows)
			})
		}
	})
	var st diffStats
	for _, s := range per {
		st.configs, st.verify, st.nextHop = st.configs+s.configs, st.verify+s.verify, st.nextHop+s.nextHop
	}
	t.Logf("%d configurations, %d verify and %d next hop comparisons", st.configs, st.verify, st.nextHop)
	return st
}

func diffSeed(t *testing.T, tags *servicetag.Registry, tagNames []string, seed uint64, configs, flows int) diffStats {
	var st diffStats
	rng := rand.New(rand.NewPCG(seed, 0x766e65746d6c))
	failures := 0
	for c := range configs {
		g := newGen(rng, tags, tagNames)
		snap := g.snapshot()
		snap.Normalize()
		doc, _ := json.MarshalIndent(snap, "", "  ")
		e := flow.Compile(snap, tags)
		var diffs []string
		for range flows {
			fl := g.flow()
			if d := compareVerify(e, snap, tags, fl); d != "" {
				diffs = append(diffs, d)
			}
			if d := compareNextHop(e, snap, tags, fl); d != "" {
				diffs = append(diffs, d)
			}
			st.verify++
			st.nextHop++
		}
		st.configs++
		if len(diffs) > 0 {
			failures++
			t.Errorf("seed %d configuration %d: %d mismatches, first:\n%s", seed, c, len(diffs), strings.Join(diffs[:min(len(diffs), 5)], "\n"))
			if failures == 1 {
				t.Logf("snapshot of seed %d configuration %d:\n%s", seed, c, doc)
			}
			if failures >= 3 {
				t.Fatal("too many failing configurations")
			}
		}
	}
	return st
}

// flowCase is one generated query: a NIC, one of its addresses (or not),
// a remote end, a protocol and a direction.
type flowCase struct {
	nic    string
	dir    string
	proto  network.Protocol
	local  netip.AddrPort
	remote netip.AddrPort
}

func (f flowCase) String() string {
	return fmt.Sprintf("nic=%s dir=%s proto=%s local=%s remote=%s", f.nic, f.dir, f.proto, f.local, f.remote)
}

func compareVerify(e *flow.Engine, snap *network.Snapshot, tags *servicetag.Registry, f flowCase) string {
	wantAccess, wantRule, wantErr := flowref.IPFlowVerify(snap, tags, f.nic, f.dir, f.proto, f.local, f.remote)
	dir, _ := flow.ParseDirection(f.dir)
	var gotAccess, gotRule string
	var gotErr error
	if f.proto.HasPorts() {
		var res flow.VerifyResult
		res, gotErr = e.IPFlowVerify(flow.VerifyQuery{NIC: f.nic, Direction: dir, Protocol: f.proto, Local: f.local, Remote: f.remote})
		gotAccess, gotRule = res.Access, res.RuleName
	} else {
		// Network Watcher takes TCP and UDP only: check Decide directly.
		var n *flow.NIC
		var ic *flow.IPConfig
		if n, gotErr = e.NIC(f.nic); gotErr == nil {
			ic, gotErr = n.IPConfigFor(f.local.Addr())
		}
		if gotErr == nil {
			p := flow.Packet{Proto: f.proto, Src: f.local.Addr(), SrcPort: f.local.Port(), Dst: f.remote.Addr(), DstPort: f.remote.Port()}
			if dir == flow.Inbound {
				p = p.Reverse()
			}
			d := ic.Decide(dir, &p)
			gotAccess, gotRule = d.Access.String(), d.RuleName()
		}
	}
	if (gotErr != nil) != (wantErr != nil) {
		return fmt.Sprintf("verify %v: engine error %v, oracle error %v", f, gotErr, wantErr)
	}
	if gotErr == nil && (gotAccess != wantAccess || gotRule != wantRule) {
		return fmt.Sprintf("verify %v: engine %s %q, oracle %s %q", f, gotAccess, gotRule, wantAccess, wantRule)
	}
	return ""
}

func compareNextHop(e *flow.Engine, snap *network.Snapshot, tags *servicetag.Registry, f flowCase) string {
	src, dst := f.local.Addr(), f.remote.Addr()
	wantType, wantIP, wantTable, wantErr := flowref.NextHop(snap, tags, f.nic, src, dst)
	res, gotErr := e.NextHop(f.nic, src, dst)
	if (gotErr != nil) != (wantErr != nil) {
		return fmt.Sprintf("next hop %s -> %s via %s: engine error %v, oracle error %v", src, dst, f.nic, gotErr, wantErr)
	}
	if gotErr == nil && (res.NextHopType != wantType || res.NextHopIPAddress != wantIP || res.RouteTableID != wantTable) {
		return fmt.Sprintf("next hop %s -> %s via %s: engine {%s %q %s}, oracle {%s %q %s}", src, dst, f.nic,
			res.NextHopType, res.NextHopIPAddress, res.RouteTableID, wantType, wantIP, wantTable)
	}
	return ""
}

// TestDecideAllocatesNothing proves the per-packet path is allocation free.
func TestDecideAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tags := servicetag.LocalCloud()
	var ic *flow.IPConfig
	for tries := 0; ic == nil; tries++ {
		if tries == 1000 {
			t.Fatal("no generated NIC has NSGs at both levels")
		}
		snap := newGen(rng, tags, tags.Names()).snapshot()
		e := flow.Compile(snap, tags)
		for _, n := range snap.NetworkInterfaces {
			cn, err := e.NIC(n.ID)
			if err != nil || len(cn.IPConfigs) == 0 {
				continue
			}
			if c := cn.IPConfigs[0]; c.NSG != nil && c.Subnet.NSG != nil && len(c.NSG.Rules(flow.Inbound)) > 10 {
				ic = c
				break
			}
		}
	}
	packets := []flow.Packet{
		{Proto: network.ProtoTCP, Src: ic.Addr, SrcPort: 50000, Dst: netip.MustParseAddr("8.8.8.8"), DstPort: 443},
		{Proto: network.ProtoUDP, Src: netip.MustParseAddr("203.0.113.9"), SrcPort: 53, Dst: ic.Addr, DstPort: 53},
		{Proto: network.ProtoICMP, Src: ic.Addr, Dst: netip.MustParseAddr("168.63.129.16")},
	}
	var sink flow.Verdict
	allocs := testing.AllocsPerRun(1000, func() {
		for i := range packets {
			sink ^= ic.Decide(flow.Outbound, &packets[i]).Access
			sink ^= ic.Decide(flow.Inbound, &packets[i]).Access
		}
	})
	if allocs != 0 {
		t.Errorf("Decide allocates %v times per run, want 0", allocs)
	}
	_ = sink
}
