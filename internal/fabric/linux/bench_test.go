//go:build linux

package linux_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/fabrictest"
	"github.com/vnetml/vnetml/internal/fabric/linux"
	"github.com/vnetml/vnetml/internal/fabric/userspace"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// The kernel fabric against the userspace fabric and plain loopback, in
// one run, on the conformance network: node1 (10.0.0.5) connects to
// node0 (10.0.0.4), whose NSGs the kernel evaluates (the subnet's, then
// node0's own) — through the veths and the router's nftables table.
//
//   - direct: a plain loopback dial and accept in the host;
//   - userspace: the userspace fabric's Dial (the engine's verdict, the
//     authenticated header over loopback);
//   - kernel: the kernel fabric's Dial (the engine's verdict, then a
//     socket in node1's namespace through the router to node0's);
//   - kernel-process: what a confined process pays: a plain connect from
//     inside node1's namespace, no engine.

var (
	benchNode0 = fabric.Endpoint{NIC: fabrictest.Node0, Addr: netip.MustParseAddr("10.0.0.4")}
	benchNode1 = fabric.Endpoint{NIC: fabrictest.Node1, Addr: netip.MustParseAddr("10.0.0.5")}
)

// path is one way from node1 to node0 that the benchmarks measure.
type path struct {
	name   string
	listen func(b *testing.B) net.Listener
	dial   func() (net.Conn, error)
}

// paths are direct loopback, the userspace fabric and the kernel fabric,
// over the conformance network (the fabrics closed with b).
func paths(b *testing.B) []path {
	k := newFabric(b)
	k.Apply(fabrictest.Engine(b))
	u := userspace.New(userspace.Options{})
	b.Cleanup(func() { u.Close() })
	u.Apply(fabrictest.Engine(b))
	ctx := context.Background()
	dst := netip.AddrPortFrom(benchNode0.Addr, 22)
	var direct net.Listener
	listen := func(fn func() (net.Listener, error)) func(*testing.B) net.Listener {
		return func(b *testing.B) net.Listener {
			ln, err := fn()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { ln.Close() })
			return ln
		}
	}
	return []path{
		{"direct", listen(func() (net.Listener, error) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			direct = ln
			return ln, err
		}), func() (net.Conn, error) { return net.Dial("tcp", direct.Addr().String()) }},
		{"userspace", listen(func() (net.Listener, error) { return u.Listen(ctx, benchNode0, 22) }),
			func() (net.Conn, error) { return u.Dial(ctx, benchNode1, dst) }},
		{"kernel", listen(func() (net.Listener, error) { return k.Listen(ctx, benchNode0, 22) }),
			func() (net.Conn, error) { return k.Dial(ctx, benchNode1, dst) }},
		{"kernel-process", listen(func() (net.Listener, error) { return listenIn(b, k, benchNode0, 23), nil }), processDialer(b, k)},
	}
}

// processDialer dials node0:23 the way a process confined to node1 does:
// from one thread inside node1's namespace, no engine.
func processDialer(b *testing.B, k *linux.Fabric) func() (net.Conn, error) {
	dials := make(chan chan dialResult)
	go k.Do(benchNode1, func() error {
		for reply := range dials {
			c, err := net.Dial("tcp4", "10.0.0.4:23")
			reply <- dialResult{c, err}
		}
		return nil
	})
	b.Cleanup(func() { close(dials) })
	reply := make(chan dialResult)
	return func() (net.Conn, error) {
		dials <- reply
		r := <-reply
		return r.c, r.err
	}
}

func BenchmarkConnect(b *testing.B) {
	for _, p := range paths(b) {
		b.Run(p.name, func(b *testing.B) { fabrictest.MeasureConnect(b, p.listen(b), p.dial) })
	}
}

type dialResult struct {
	c   net.Conn
	err error
}

// listenIn listens with a plain socket inside ep's namespace.
func listenIn(b testing.TB, f *linux.Fabric, ep fabric.Endpoint, port uint16) net.Listener {
	var ln net.Listener
	if err := f.Do(ep, func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(ep.Addr, port).String())
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return ln
}

// BenchmarkThroughput: bulk bytes one way over one connection, 256 KiB
// writes, on the same paths (kernel-process is the kernel's path too).
func BenchmarkThroughput(b *testing.B) {
	for _, p := range paths(b) {
		if p.name == "kernel-process" {
			continue
		}
		b.Run(p.name, func(b *testing.B) { fabrictest.MeasureThroughput(b, p.listen(b), p.dial) })
	}
}

// BenchmarkApply1000Rules: the time to apply a network whose subnet NSG
// has 1,000 rules (random prefixes, tags and ports, both directions) — the
// kernel fabric's Apply (compile to nftables text, one nft transaction,
// routes) — against compiling the engine from the same snapshot, in the
// same run.
func BenchmarkApply1000Rules(b *testing.B) {
	raw := thousandRules(b)
	// Two networks that differ in one rule's access, applied in turn, so
	// that every Apply rewrites the table.
	other := []byte(strings.Replace(string(raw), `"access":"Allow","destinationAddressPrefix":"*","destinationPortRange":"1000-1000"`, `"access":"Deny","destinationAddressPrefix":"*","destinationPortRange":"1000-1000"`, 1))
	if string(other) == string(raw) {
		b.Fatal("the second network is the first")
	}
	compileRaw := func(raw []byte) *flow.Engine {
		var snap network.Snapshot
		if err := snap.DecodeBytes("bench", raw); err != nil {
			b.Fatal(err)
		}
		if err := snap.Finish(); err != nil {
			b.Fatal(err)
		}
		return flow.Compile(&snap, servicetag.LocalCloud())
	}
	compile := func() *flow.Engine { return compileRaw(raw) }
	b.Run("engine-compile", func(b *testing.B) {
		for b.Loop() {
			compile()
		}
	})
	b.Run("kernel-apply", func(b *testing.B) {
		k := newFabric(b)
		engs := []*flow.Engine{compile(), compileRaw(other)}
		k.Apply(engs[1]) // namespaces made once; each op rewrites the rules
		i := 0
		for b.Loop() {
			k.Apply(engs[i%2])
			i++
		}
		if err := k.Err(); err != nil {
			b.Fatal(err)
		}
	})
}

// thousandRules is the differential test's network with 1,000 rules in
// the NSG of subnet a.
func thousandRules(b testing.TB) []byte {
	srcs := []string{"Internet", "VirtualNetwork", "BatchNodeManagement", "Storage", "*"}
	var rules []string
	for i := range 1000 {
		src := srcs[i%len(srcs)]
		if i%3 == 0 {
			src = fmt.Sprintf("10.%d.%d.0/24", 100+i/250, i%250)
		}
		rules = append(rules, fmt.Sprintf(`{"name": "r%d", "properties": {"priority": %d, "direction": %q, "access": %q, "protocol": %q,
			"sourceAddressPrefix": %q, "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "%d-%d"}}`,
			i, 100+i, []string{"Inbound", "Outbound"}[i%2], []string{"Allow", "Deny"}[i%7%2], []string{"Tcp", "Udp", "*"}[i%3], src, 1000+i, 1000+i+i%50))
	}
	docs := []string{
		fmt.Sprintf(`{"id": "%s/networkSecurityGroups/nsg-a", "location": "eastus", "properties": {"securityRules": [%s]}}`, diffSub, strings.Join(rules, ",")),
		fmt.Sprintf(`{"id": "%s/virtualNetworks/vnet", "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [
			{"name": "a", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": "%s/networkSecurityGroups/nsg-a"}}},
			{"name": "b", "properties": {"addressPrefix": "10.0.1.0/24"}}]}}`, diffSub, diffSub),
		nicDoc(diffNICA0, "10.0.0.4", "a", "", false, false),
		nicDoc(diffNICA1, "10.0.0.5", "a", "", false, false),
		nicDoc(diffNICB0, "10.0.1.4", "b", "", false, false),
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte("["+strings.Join(docs, ",")+"]"), &list); err != nil {
		b.Fatal(err)
	}
	for _, d := range list {
		id := d["id"].(string)
		d["name"] = id[strings.LastIndexByte(id, '/')+1:]
	}
	out, _ := json.Marshal(list)
	return out
}
