//go:build linux

package linux

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/fabric/fabrictest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestRouterRulesetGolden: the conformance network's router table, as the
// kernel gets it — read it to see how NSGs, routes' NAT and the dispatch
// maps become nftables. It needs no kernel; the conformance and
// differential tests hold the kernel to it.
func TestRouterRulesetGolden(t *testing.T) {
	p := planOf(fabrictest.Engine(t))
	if len(p.vnets) != 1 {
		t.Fatalf("%d VNets, want 1", len(p.vnets))
	}
	var ports []routerPort
	for i, pp := range p.vnets[0].ports {
		ports = append(ports, routerPort{ifname: fmt.Sprintf("i%d", i+1), ics: pp.ics})
	}
	got := routerRuleset(ports)
	golden := filepath.Join("testdata", "conformance-router.nft")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("the router's table changed (-golden +got; run with -update if intended):\n%s", d)
	}
}
