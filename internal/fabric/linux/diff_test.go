//go:build linux

package linux_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/linux"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// The differential test: random NSGs and routes over one network, random
// TCP probes between its NICs and outside addresses, each made by a
// socket inside the source's namespace (not through the fabric's Dial,
// which asks the engine first), and each outcome compared with the
// engine's verdict: allowed and listening → connects; allowed and nothing
// listening → refused; denied → times out (dropped, as Azure drops).
//
//	subnet a 10.0.0.0/24 (random NSG, random route table)
//	  a0 10.0.0.4 (public IP 198.51.100.4, random NIC NSG)   a1 10.0.0.5
//	subnet b 10.0.1.0/24 (random NSG)
//	  b0 10.0.1.4 (IP forwarding at random, random NIC NSG: the appliance)
//	outside: Batch 198.18.3.9 and storage 198.18.1.4 (service tags),
//	Internet clients 203.0.113.7 and 192.0.2.5

var (
	diffSeed    = flag.Uint64("diff.seed", 0, "run the differential test with this seed only")
	diffConfigs = flag.Int("diff.configs", 10, "random configurations of the differential test")
)

const (
	diffProbes  = 30                      // probes per configuration
	probeWait   = 1500 * time.Millisecond // how long a dropped probe is given before it counts as timed out
	diffSub     = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/diff/providers/Microsoft.Network"
	diffNICA0   = diffSub + "/networkInterfaces/a0"
	diffNICA1   = diffSub + "/networkInterfaces/a1"
	diffNICB0   = diffSub + "/networkInterfaces/b0"
	diffPublic0 = "198.51.100.4"
)

var (
	listenPorts = []uint16{22, 80, 443}
	probePorts  = []uint16{22, 80, 443, 8080} // nothing listens on 8080
	diffNICs    = []fabric.Endpoint{
		{NIC: diffNICA0, Addr: netip.MustParseAddr("10.0.0.4")},
		{NIC: diffNICA1, Addr: netip.MustParseAddr("10.0.0.5")},
		{NIC: diffNICB0, Addr: netip.MustParseAddr("10.0.1.4")},
	}
	diffOutside = []fabric.Endpoint{
		{Addr: netip.MustParseAddr("198.18.3.9")},
		{Addr: netip.MustParseAddr("198.18.1.4")},
		{Addr: netip.MustParseAddr("203.0.113.7")},
		{Addr: netip.MustParseAddr("192.0.2.5")},
	}
)

func TestKernelAgreesWithEngine(t *testing.T) {
	f := newFabric(t)
	seeds := []uint64{}
	if *diffSeed != 0 {
		seeds = append(seeds, *diffSeed)
	} else {
		for i := range *diffConfigs {
			seeds = append(seeds, uint64(1000+i))
		}
	}
	// Listeners everywhere, made once: raw kernel sockets in each
	// endpoint's namespace, which accept and close.
	f.Apply(diffEngine(t, rand.New(rand.NewPCG(1, 1))))
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	for _, ep := range append(append([]fabric.Endpoint{}, diffNICs...), diffOutside...) {
		for _, port := range listenPorts {
			listenRaw(t, f, ep, port)
		}
	}
	flows, disagreements := 0, 0
	seen := map[string]int{}
	for _, seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, seed))
		eng := diffEngine(t, rng)
		f.Apply(eng)
		if err := f.Err(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		probes := randomProbes(rng)
		results := make([]string, len(probes))
		outcomes := make([]string, len(probes))
		var wg sync.WaitGroup
		for i, p := range probes {
			wg.Go(func() { outcomes[i], results[i] = p.check(f, eng) })
		}
		wg.Wait()
		for i, r := range results {
			flows++
			seen[outcomes[i]]++
			if r != "" {
				disagreements++
				t.Errorf("seed %d, probe %d %s: %s", seed, i, probes[i], r)
			}
		}
		if t.Failed() {
			t.Logf("seed %d network: %s", seed, lastJSON)
		}
	}
	t.Logf("%d flows over %d configurations, %d disagreements; kernel outcomes %v", flows, len(seeds), disagreements, seen)
	if *diffSeed == 0 {
		for _, o := range []string{"connects", "refused", "times out"} {
			if seen[o] == 0 {
				t.Errorf("no probe %s: the drawn networks do not exercise every outcome", o)
			}
		}
	}
}

// listenRaw listens at ep:port with a plain socket in ep's namespace.
func listenRaw(t *testing.T, f *linux.Fabric, ep fabric.Endpoint, port uint16) {
	t.Helper()
	var ln net.Listener
	if err := f.Do(ep, func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(ep.Addr, port).String())
		return err
	}); err != nil {
		t.Fatalf("listen %v:%d: %v", ep.Addr, port, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

type probe struct {
	src fabric.Endpoint
	dst netip.Addr
	// dstNIC is the NIC at dst, when dst is a NIC's private address (the
	// engine is asked by address; this only names the listener).
	port uint16
}

func (p probe) String() string {
	return fmt.Sprintf("%v -> %v:%d", p.src.Addr, p.dst, p.port)
}

// check makes the probe and returns the kernel's outcome, and "" when it
// is the engine's, else what differs.
func (p probe) check(f *linux.Fabric, eng *flow.Engine) (outcome, diff string) {
	outcome, want, diff := p.run(f, eng)
	if diff == "" && outcome != want {
		diff = want
	}
	return outcome, diff
}

func (p probe) run(f *linux.Fabric, eng *flow.Engine) (kernel, want, diff string) {
	var sport uint16
	var err error
	d := net.Dialer{Timeout: probeWait, Control: func(_, _ string, rc syscall.RawConn) error {
		var berr error
		rc.Control(func(fd uintptr) {
			if berr = unix.Bind(int(fd), &unix.SockaddrInet4{Addr: p.src.Addr.As4()}); berr != nil {
				return
			}
			sa, gerr := unix.Getsockname(int(fd))
			if gerr != nil {
				berr = gerr
				return
			}
			sport = uint16(sa.(*unix.SockaddrInet4).Port)
		})
		return berr
	}}
	if derr := f.Do(p.src, func() error {
		c, e := d.DialContext(context.Background(), "tcp4", netip.AddrPortFrom(p.dst, p.port).String())
		if e == nil {
			c.Close()
		}
		err = e
		return nil
	}); derr != nil {
		return "", "", derr.Error()
	}
	kernel = "connects"
	var ne net.Error
	switch {
	case err == nil:
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		kernel = "refused"
	case errors.As(err, &ne) && ne.Timeout():
		kernel = "times out"
	default:
		return "", "", "probe failed: " + err.Error()
	}
	if sport == 0 {
		return "", "", "no source port"
	}
	src := flow.Endpoint{NIC: p.src.NIC, Addr: p.src.Addr}
	v, perr := eng.Path(src, flow.Endpoint{Addr: p.dst}, network.ProtoTCP, sport, p.port)
	want = "times out"
	switch {
	case perr != nil:
		return kernel, "", "engine: " + perr.Error()
	case v.Access == flow.Allow && listening(p.port):
		want = "connects"
	case v.Access == flow.Allow:
		want = "refused"
	}
	if kernel != want {
		return kernel, want, fmt.Sprintf("kernel %s, engine %s (source port %d): %s", kernel, want, sport, v.Explain())
	}
	return kernel, want, ""
}

func listening(port uint16) bool {
	for _, p := range listenPorts {
		if p == port {
			return true
		}
	}
	return false
}

// randomProbes draws probes between distinct endpoints, at least one of
// them in the VNet; a NIC calling the public IP of a NIC of its own VNet
// (hairpin) is left out: the kernel fabric does not carry it
// (docs/fabric.md).
func randomProbes(rng *rand.Rand) []probe {
	all := append(append([]fabric.Endpoint{}, diffNICs...), diffOutside...)
	dsts := []netip.Addr{netip.MustParseAddr(diffPublic0)}
	for _, ep := range all {
		dsts = append(dsts, ep.Addr)
	}
	var out []probe
	for len(out) < diffProbes {
		src := all[rng.IntN(len(all))]
		dst := dsts[rng.IntN(len(dsts))]
		if dst == src.Addr || (src.NIC != "" && dst.String() == diffPublic0) {
			continue
		}
		if src.NIC == "" && !slices.ContainsFunc(diffNICs, func(n fabric.Endpoint) bool { return n.Addr == dst }) && dst.String() != diffPublic0 {
			continue // outside to outside: no virtual network is crossed, and the engine decides nothing
		}
		out = append(out, probe{src: src, dst: dst, port: probePorts[rng.IntN(len(probePorts))]})
	}
	return out
}

var lastJSON string

// diffEngine draws a configuration of the network.
func diffEngine(t *testing.T, rng *rand.Rand) *flow.Engine {
	t.Helper()
	pick := func(list ...string) string { return list[rng.IntN(len(list))] }
	prefixes := []string{"*", "*", "VirtualNetwork", "Internet", "10.0.0.0/24", "10.0.1.4", "10.0.0.4", "203.0.113.0/24",
		"192.0.2.5", "BatchNodeManagement", "Storage", "AzureLoadBalancer"}
	nsg := func(name string) (string, bool) {
		if rng.IntN(4) == 0 {
			return "", false
		}
		var rules []string
		used := map[int]bool{}
		for range rng.IntN(7) {
			prio := 100 + rng.IntN(40)*10
			if used[prio] {
				continue
			}
			used[prio] = true
			rules = append(rules, fmt.Sprintf(`{"name": "r%d", "properties": {"priority": %d, "direction": %q, "access": %q, "protocol": %q,
				"sourceAddressPrefix": %q, "sourcePortRange": %q, "destinationAddressPrefix": %q, "destinationPortRange": %q}}`,
				prio, prio, pick("Inbound", "Outbound"), pick("Allow", "Deny"), pick("Tcp", "Tcp", "*", "Udp"),
				pick(prefixes...), pick("*", "*", "*", "1024-65535", "0-1023"), pick(prefixes...), pick("*", "80", "443", "22", "80-443", "8080")))
		}
		id := diffSub + "/networkSecurityGroups/" + name
		return fmt.Sprintf(`{"id": %q, "location": "eastus", "properties": {"securityRules": [%s]}}`, id, strings.Join(rules, ",")), true
	}
	var docs []string
	ref := func(doc string, ok bool, name string) string {
		if !ok {
			return ""
		}
		docs = append(docs, doc)
		return fmt.Sprintf(`, "networkSecurityGroup": {"id": %q}`, diffSub+"/networkSecurityGroups/"+name)
	}
	subA := ref2(nsg("nsg-a"))(ref, "nsg-a")
	subB := ref2(nsg("nsg-b"))(ref, "nsg-b")
	nicA0 := ref2(nsg("nsg-a0"))(ref, "nsg-a0")
	nicB0 := ref2(nsg("nsg-b0"))(ref, "nsg-b0")
	routeTable := ""
	if rng.IntN(3) > 0 {
		pool := []string{
			`{"name": "partner-nva", "properties": {"addressPrefix": "192.0.2.0/24", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}}`,
			`{"name": "partner-none", "properties": {"addressPrefix": "192.0.2.0/24", "nextHopType": "None"}}`,
			`{"name": "forced", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}}`,
			`{"name": "default-internet", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}}`,
			`{"name": "clients-none", "properties": {"addressPrefix": "203.0.113.0/24", "nextHopType": "None"}}`,
			`{"name": "b-none", "properties": {"addressPrefix": "10.0.1.0/24", "nextHopType": "None"}}`,
			`{"name": "batch-internet", "properties": {"addressPrefix": "BatchNodeManagement", "nextHopType": "Internet"}}`,
		}
		var routes []string
		seen := map[string]bool{}
		for range 1 + rng.IntN(3) {
			r := pool[rng.IntN(len(pool))]
			prefix := r[strings.Index(r, `"addressPrefix": "`)+18:]
			prefix = prefix[:strings.IndexByte(prefix, '"')]
			if seen[prefix] {
				continue
			}
			seen[prefix] = true
			routes = append(routes, r)
		}
		docs = append(docs, fmt.Sprintf(`{"id": %q, "location": "eastus", "properties": {"routes": [%s]}}`, diffSub+"/routeTables/rt", strings.Join(routes, ",")))
		routeTable = fmt.Sprintf(`, "routeTable": {"id": %q}`, diffSub+"/routeTables/rt")
	}
	docs = append(docs,
		fmt.Sprintf(`{"id": "%s/publicIPAddresses/pip0", "location": "eastus", "properties": {"ipAddress": %q, "publicIPAllocationMethod": "Static"}}`, diffSub, diffPublic0),
		fmt.Sprintf(`{"id": "%s/virtualNetworks/vnet", "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [
			{"name": "a", "properties": {"addressPrefix": "10.0.0.0/24"%s%s}},
			{"name": "b", "properties": {"addressPrefix": "10.0.1.0/24"%s}}]}}`, diffSub, subA, routeTable, subB),
		nicDoc(diffNICA0, "10.0.0.4", "a", nicA0, false, true),
		nicDoc(diffNICA1, "10.0.0.5", "a", "", false, false),
		nicDoc(diffNICB0, "10.0.1.4", "b", nicB0, rng.IntN(2) == 0, false),
	)
	raw := "[" + strings.Join(docs, ",\n") + "]"
	var list []map[string]any
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		t.Fatalf("%v in %s", err, raw)
	}
	for _, d := range list {
		id := d["id"].(string)
		d["name"] = id[strings.LastIndexByte(id, '/')+1:]
	}
	b, _ := json.Marshal(list)
	lastJSON = string(b)
	var snap network.Snapshot
	if err := snap.DecodeBytes("differential network", b); err != nil {
		t.Fatal(err)
	}
	if err := snap.Finish(); err != nil {
		t.Fatal(err)
	}
	tags := servicetag.LocalCloud()
	if err := snap.Validate(tags); err != nil {
		t.Fatalf("the drawn network is invalid: %v\n%s", err, raw)
	}
	return flow.Compile(&snap, tags)
}

// ref2 adapts nsg's two results to ref.
func ref2(doc string, ok bool) func(func(string, bool, string) string, string) string {
	return func(ref func(string, bool, string) string, name string) string { return ref(doc, ok, name) }
}

func nicDoc(id, addr, subnet, nsg string, forwarding, public bool) string {
	pip := ""
	if public {
		pip = fmt.Sprintf(`, "publicIPAddress": {"id": "%s/publicIPAddresses/pip0"}`, diffSub)
	}
	return fmt.Sprintf(`{"id": %q, "location": "eastus", "properties": {"enableIPForwarding": %v %s, "ipConfigurations": [
		{"name": "ipconfig1", "properties": {"privateIPAddress": %q, "privateIPAllocationMethod": "Static", "subnet": {"id": "%s/virtualNetworks/vnet/subnets/%s"}%s}}]}}`,
		id, forwarding, nsg, addr, diffSub, subnet, pip)
}
