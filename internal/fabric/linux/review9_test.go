//go:build linux

package linux

// Review of issue 9 (the kernel fabric): each test here reproduces one
// finding. They build their own small networks; each needs root and
// nftables and skips without them.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/fabrictest"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// review9Open runs the reproductions of the findings the review left
// open (not fixed): they fail until those are fixed.
var review9Open = flag.Bool("review9.open", false, "run the review's reproductions of open findings (they fail)")

func openFinding(t *testing.T, n int) {
	t.Helper()
	if !*review9Open {
		t.Skipf("open finding %d of the issue 9 review: run with -review9.open to reproduce it", n)
	}
}

const rvSub = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rv/providers/Microsoft.Network"

func rvFabric(t testing.TB, o Options) *Fabric {
	t.Helper()
	if err := Check(); err != nil {
		t.Skip(err)
	}
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("closing the fabric: %v", err)
		}
	})
	return f
}

// rvEngine compiles a network given as ARM documents (names are taken
// from the ids).
func rvEngine(t testing.TB, docs ...string) *flow.Engine {
	t.Helper()
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
	var snap network.Snapshot
	if err := snap.DecodeBytes("review network", b); err != nil {
		t.Fatal(err)
	}
	if err := snap.Finish(); err != nil {
		t.Fatal(err)
	}
	tags := servicetag.LocalCloud()
	if err := snap.Validate(tags); err != nil {
		t.Fatalf("invalid network: %v\n%s", err, raw)
	}
	return flow.Compile(&snap, tags)
}

// rvVNet is a VNet document; subnets are "name prefix extra" triples
// (extra: more JSON properties, or "").
func rvVNet(name, space string, subnets ...[3]string) string {
	var ss []string
	for _, s := range subnets {
		ss = append(ss, fmt.Sprintf(`{"name": %q, "properties": {"addressPrefix": %q%s}}`, s[0], s[1], s[2]))
	}
	return fmt.Sprintf(`{"id": "%s/virtualNetworks/%s", "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": [%q]}, "subnets": [%s]}}`,
		rvSub, name, space, strings.Join(ss, ","))
}

// rvIC is an ip configuration: addr in vnet/subnet.
func rvIC(name, addr, vnet, subnet string, primary bool, extra string) string {
	return fmt.Sprintf(`{"name": %q, "properties": {"primary": %v, "privateIPAddress": %q, "privateIPAllocationMethod": "Static", "subnet": {"id": "%s/virtualNetworks/%s/subnets/%s"}%s}}`,
		name, primary, addr, rvSub, vnet, subnet, extra)
}

func rvNIC(name string, forwarding bool, extra string, ics ...string) string {
	return fmt.Sprintf(`{"id": "%s/networkInterfaces/%s", "location": "eastus", "properties": {"enableIPForwarding": %v%s, "ipConfigurations": [%s]}}`,
		rvSub, name, forwarding, extra, strings.Join(ics, ","))
}

func rvNICID(name string) string { return rvSub + "/networkInterfaces/" + name }

// rvListen listens at ep:port with a plain socket in ep's namespace (a
// confined process's listener), accepting and closing.
func rvListen(t testing.TB, f *Fabric, ep fabric.Endpoint, port uint16) {
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

// rvProbe connects from inside src's namespace (as a confined process
// does, not through Dial) and says what the kernel did.
func rvProbe(t testing.TB, f *Fabric, src fabric.Endpoint, dst netip.AddrPort) string {
	t.Helper()
	var err error
	d := net.Dialer{Timeout: 1500 * time.Millisecond}
	if src.Addr.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.Addr.AsSlice()}
	}
	if derr := f.Do(src, func() error {
		c, e := d.Dial("tcp4", dst.String())
		if e == nil {
			c.Close()
		}
		err = e
		return nil
	}); derr != nil {
		t.Fatal(derr)
	}
	var ne net.Error
	switch {
	case err == nil:
		return "connects"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "times out"
	}
	return "error: " + err.Error()
}

// rvWant is the outcome the engine's verdict implies for a probe (as the
// differential test reads it).
func rvWant(t testing.TB, eng *flow.Engine, src, dst flow.Endpoint, port uint16, listening bool) (string, flow.PathVerdict) {
	t.Helper()
	v, err := eng.Path(src, dst, network.ProtoTCP, 40000, port)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	switch {
	case v.Access == flow.Allow && listening:
		return "connects", v
	case v.Access == flow.Allow:
		return "refused", v
	}
	return "times out", v
}

// dnsQuery sends one UDP query for name to 168.63.129.16:53 from inside
// ep's namespace, and returns the answer's A records or the error.
func dnsQuery(f *Fabric, ep fabric.Endpoint, name string) (string, error) {
	var out string
	err := f.Do(ep, func() error {
		c, err := net.Dial("udp4", "168.63.129.16:53")
		if err != nil {
			return err
		}
		defer c.Close()
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		q, _ := b.Finish()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(q); err != nil {
			return err
		}
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		var m dnsmessage.Message
		if err := m.Unpack(buf[:n]); err != nil {
			return err
		}
		var as []string
		for _, a := range m.Answers {
			if r, ok := a.Body.(*dnsmessage.AResource); ok {
				as = append(as, netip.AddrFrom4(r.A).String())
			}
		}
		out = strings.Join(as, " ")
		return nil
	})
	return out, err
}

// Finding 1: svc routes every VNet's address space in its main table, and
// forwards what arrives from one VNet's uplink by that table: a process in
// VNet 1 reaches a NIC of VNet 2 — not peered — at its private address.
// The engine sends that packet to the Internet, where no NIC holds it.
// (VNet 2's space is outside RFC 1918, whose system routes are None; x
// has a public IP, so y's answer returns. Without one, y still receives
// the packets: UDP crosses one way.)
func TestReview9CrossVNetPrivate(t *testing.T) {
	f := rvFabric(t, Options{})
	eng := rvEngine(t,
		rvVNet("v1", "10.0.0.0/16", [3]string{"s", "10.0.0.0/24", ""}),
		rvVNet("v2", "20.1.0.0/16", [3]string{"s", "20.1.0.0/24", ""}),
		fmt.Sprintf(`{"id": "%s/publicIPAddresses/pipx", "location": "eastus", "properties": {"ipAddress": "198.51.100.9", "publicIPAllocationMethod": "Static"}}`, rvSub),
		rvNIC("x", false, "", rvIC("ipconfig1", "10.0.0.4", "v1", "s", true, fmt.Sprintf(`, "publicIPAddress": {"id": "%s/publicIPAddresses/pipx"}`, rvSub))),
		rvNIC("y", false, "", rvIC("ipconfig1", "20.1.0.4", "v2", "s", true, "")),
	)
	f.Apply(eng)
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	x := fabric.Endpoint{NIC: rvNICID("x"), Addr: netip.MustParseAddr("10.0.0.4")}
	y := fabric.Endpoint{NIC: rvNICID("y"), Addr: netip.MustParseAddr("20.1.0.4")}
	rvListen(t, f, y, 22)
	want, v := rvWant(t, eng, x.FlowEndpoint(), flow.Endpoint{Addr: y.Addr}, 22, false)
	got := rvProbe(t, f, x, netip.AddrPortFrom(y.Addr, 22))
	t.Logf("kernel %s, engine %s (%s)", got, want, v.Explain())
	if got != want {
		t.Errorf("VNet 1's x -> VNet 2's y (not peered) at its private address: kernel %s, engine %s (%s)", got, want, v.Explain())
	}
}

// Finding 2: where VNets' address spaces overlap, svc has no main route to
// them, and a UDP answer from svc (the DNS at 168.63.129.16) is routed
// without the VNet's mark (only accepted TCP sockets carry it): sendto
// meets the unreachable rule, and name resolution over UDP fails.
func TestReview9OverlapDNS(t *testing.T) {
	f := rvFabric(t, Options{})
	eng := rvEngine(t,
		rvVNet("v1", "10.0.0.0/16", [3]string{"s", "10.0.0.0/24", ""}),
		rvVNet("v2", "10.0.0.0/16", [3]string{"s", "10.0.0.0/24", ""}),
		rvNIC("p", false, "", rvIC("ipconfig1", "10.0.0.4", "v1", "s", true, "")),
		rvNIC("q", false, "", rvIC("ipconfig1", "10.0.0.4", "v2", "s", true, "")),
	)
	f.Apply(eng)
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	f.SetName("acct.blob.core.windows.net", netip.MustParseAddr("198.18.1.4"))
	for _, nic := range []string{"p", "q"} {
		got, err := dnsQuery(f, fabric.Endpoint{NIC: rvNICID(nic)}, "acct.blob.core.windows.net")
		if err != nil || got != "198.18.1.4" {
			t.Errorf("%s (overlapping VNets) resolves over UDP: %q, %v", nic, got, err)
		}
	}
}

// Finding 3: the engine exempts the host VIP (168.63.129.16: health
// probes, DNS) from the return-route check, as Azure does; the kernel
// routes answers to it by the subnet's user-defined routes, so forced
// tunneling (0.0.0.0/0 None, or through an appliance) breaks the load
// balancer's health probe and the platform's DNS (which docs/fabric.md
// says is always allowed).
func TestReview9HostVIPForcedTunneling(t *testing.T) {
	f := rvFabric(t, Options{})
	eng := rvEngine(t,
		fmt.Sprintf(`{"id": "%s/routeTables/rt", "location": "eastus", "properties": {"routes": [
			{"name": "forced", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "None"}}]}}`, rvSub),
		rvVNet("vn", "10.0.0.0/16", [3]string{"a", "10.0.0.0/24", fmt.Sprintf(`, "routeTable": {"id": "%s/routeTables/rt"}`, rvSub)}),
		rvNIC("a0", false, "", rvIC("ipconfig1", "10.0.0.4", "vn", "a", true, "")),
	)
	f.Apply(eng)
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	a0 := fabric.Endpoint{NIC: rvNICID("a0"), Addr: netip.MustParseAddr("10.0.0.4")}
	rvListen(t, f, a0, 80)
	probe := fabric.Endpoint{Addr: servicetag.HostVIP.Addr()}
	want, v := rvWant(t, eng, probe.FlowEndpoint(), a0.FlowEndpoint(), 80, true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := f.DialEndpoint(ctx, probe, a0, 80)
	got := "connects"
	if err != nil {
		got = "fails: " + err.Error()
	} else {
		c.Close()
	}
	if got != want {
		t.Errorf("the health probe from 168.63.129.16 to a0:80 under forced tunneling: kernel %s, engine %s (%s)", got, want, v.Explain())
	}
	f.SetName("acct.blob.core.windows.net", netip.MustParseAddr("198.18.1.4"))
	if got, err := dnsQuery(f, a0, "acct.blob.core.windows.net"); err != nil || got != "198.18.1.4" {
		t.Errorf("DNS from a0 under forced tunneling (docs: always allowed): %q, %v", got, err)
	}
}

// Finding 4: a namespace handle is closed (Apply removing a port or
// router, Close) while Listen, Dial, Expose or Do may still hold it from
// the topology they loaded: setns then uses a closed descriptor, whose
// number the process may have given to another namespace meanwhile — a
// socket is made in the wrong namespace (here: another fabric's).
func TestReview9UseAfterClose(t *testing.T) {
	if err := Check(); err != nil {
		t.Skip(err)
	}
	f1, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	f1.Apply(fabrictest.Engine(t))
	node0 := fabric.Endpoint{NIC: fabrictest.Node0}
	f1.Close()
	f2 := rvFabric(t, Options{})
	f2.Apply(fabrictest.Engine(t))
	var st, want unix.Stat_t
	if err := f2.Do(node0, func() error { return unix.Stat("/proc/thread-self/ns/net", &want) }); err != nil {
		t.Fatal(err)
	}
	var inodes []uint64
	for _, ep := range []fabric.Endpoint{node0, {NIC: fabrictest.Node1}, {NIC: fabrictest.NVA}} {
		err := f1.Do(ep, func() error { return unix.Stat("/proc/thread-self/ns/net", &st) })
		if err == nil {
			inodes = append(inodes, st.Ino)
		}
	}
	if len(inodes) > 0 {
		t.Errorf("Do on a closed fabric entered namespaces %v (f2's node0 is %d): a closed handle was used", inodes, want.Ino)
	}
}

// Finding 5: the forward chain accepts DNS to 168.63.129.16 before the
// per-port chains that drop spoofed sources: a port whose NIC does not
// forward sends a query with a neighbour's address, and the answer is
// delivered to the neighbour (a reflection past the spoofing check, which
// is not logged either).
func TestReview9DNSSpoof(t *testing.T) {
	f := rvFabric(t, Options{})
	f.Apply(fabrictest.Engine(t))
	node0 := fabric.Endpoint{NIC: fabrictest.Node0}
	node1 := fabric.Endpoint{NIC: fabrictest.Node1, Addr: netip.MustParseAddr("10.0.0.5")}
	var pc net.PacketConn
	if err := f.Do(node1, func() error {
		var err error
		pc, err = net.ListenPacket("udp4", "10.0.0.5:5353")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// node0 (no IP forwarding) sends a query from node1's address.
	err := f.Do(node0, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_TRANSPARENT, 1); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{10, 0, 0, 5}, Port: 5353}); err != nil {
			return err
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 9})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("x.example."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		q, _ := b.Finish()
		return unix.Sendto(fd, q, 0, &unix.SockaddrInet4{Addr: [4]byte{168, 63, 129, 16}, Port: 53})
	})
	if err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	buf := make([]byte, 512)
	if n, from, err := pc.ReadFrom(buf); err == nil {
		t.Errorf("node1 received %d bytes from %v: an answer to the query node0 sent with node1's address", n, from)
	}
}

// Finding 7: the DNS server's TCP side takes any number of connections,
// each a goroutine and a descriptor of the server's process for 10 s: a
// job (DNS is allowed whatever the NSGs say) holds thousands open.
func TestReview9DNSConnFlood(t *testing.T) {
	f := rvFabric(t, Options{})
	f.Apply(fabrictest.Engine(t))
	node0 := fabric.Endpoint{NIC: fabrictest.Node0}
	const n = 300
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err := f.Do(node0, func() error {
		for range n {
			c, err := net.DialTimeout("tcp4", "168.63.129.16:53", time.Second)
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 9})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("x.example."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	q, _ := b.Finish()
	msg := append([]byte{byte(len(q) >> 8), byte(len(q))}, q...)
	served := 0
	for _, c := range conns {
		c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Write(msg); err != nil {
			continue
		}
		var l [2]byte
		if _, err := c.Read(l[:]); err == nil {
			served++
		}
	}
	if served > maxDNSConns {
		t.Errorf("the DNS server held and served %d TCP connections of one port at once (bound %d)", served, maxDNSConns)
	}
}

// Finding 8: Dial names its destination by the one fabric listener at
// dst, whatever its VNet: with overlapping VNets, a NIC of VNet 1 dialing
// 10.0.0.4 (its own VNet's x, where a process listens) is refused because
// VNet 2's y listens through the fabric at the same address.
func TestReview9DialOtherVNetsListener(t *testing.T) {
	f := rvFabric(t, Options{})
	eng := rvEngine(t,
		rvVNet("v1", "10.0.0.0/16", [3]string{"s", "10.0.0.0/24", ""}),
		rvVNet("v2", "10.0.0.0/16", [3]string{"s", "10.0.0.0/24", ""}),
		rvNIC("x", false, "", rvIC("ipconfig1", "10.0.0.4", "v1", "s", true, "")),
		rvNIC("z", false, "", rvIC("ipconfig1", "10.0.0.5", "v1", "s", true, "")),
		rvNIC("y", false, "", rvIC("ipconfig1", "10.0.0.4", "v2", "s", true, "")),
	)
	f.Apply(eng)
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	x := fabric.Endpoint{NIC: rvNICID("x"), Addr: netip.MustParseAddr("10.0.0.4")}
	y := fabric.Endpoint{NIC: rvNICID("y"), Addr: netip.MustParseAddr("10.0.0.4")}
	z := fabric.Endpoint{NIC: rvNICID("z"), Addr: netip.MustParseAddr("10.0.0.5")}
	rvListen(t, f, x, 80)
	ctx := context.Background()
	ln, err := f.Listen(ctx, y, 80)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want, v := rvWant(t, eng, z.FlowEndpoint(), flow.Endpoint{Addr: x.Addr}, 80, true)
	c, err := f.Dial(ctx, z, netip.AddrPortFrom(x.Addr, 80))
	got := "connects"
	if err != nil {
		got = "fails: " + err.Error()
	} else {
		c.Close()
	}
	if got != want {
		t.Errorf("z -> 10.0.0.4:80 in its own VNet: Dial %s, engine %s (%s)", got, want, v.Explain())
	}
}

// Finding 9: Close deletes the namespaces but not their /etc/netns
// directories (resolv.conf): every fabric leaves one per port.
func TestReview9CloseLeavesEtcNetns(t *testing.T) {
	if err := Check(); err != nil {
		t.Skip(err)
	}
	f, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Apply(fabrictest.Engine(t))
	var dirs []string
	for _, pt := range f.ports {
		dirs = append(dirs, filepath.Join(etcNetns, pt.ns.name))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s is left after Close", d)
			os.RemoveAll(d)
		}
	}
}

// Finding 10: an appliance reached at a secondary ip configuration in
// another subnet: the engine applies that configuration's NSGs and its
// subnet's routes to what the appliance forwards; the kernel applies the
// primary configuration's (i_<if> and o_<if> fall back to _0, and the
// rule "iif <if>" looks up the primary's subnet table).
func TestReview9ApplianceSecondary(t *testing.T) {
	openFinding(t, 10)
	f := rvFabric(t, Options{})
	denyAll := fmt.Sprintf(`{"id": "%s/networkSecurityGroups/nsg-b", "location": "eastus", "properties": {"securityRules": [
		{"name": "deny-in", "properties": {"priority": 100, "direction": "Inbound", "access": "Deny", "protocol": "*",
		 "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}]}}`, rvSub)
	eng := rvEngine(t, denyAll,
		fmt.Sprintf(`{"id": "%s/routeTables/rt", "location": "eastus", "properties": {"routes": [
			{"name": "partner", "properties": {"addressPrefix": "192.0.2.0/24", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.2.4"}}]}}`, rvSub),
		rvVNet("vn", "10.0.0.0/16",
			[3]string{"a", "10.0.0.0/24", fmt.Sprintf(`, "routeTable": {"id": "%s/routeTables/rt"}`, rvSub)},
			[3]string{"b", "10.0.1.0/24", fmt.Sprintf(`, "networkSecurityGroup": {"id": "%s/networkSecurityGroups/nsg-b"}`, rvSub)},
			[3]string{"c", "10.0.2.0/24", ""}),
		rvNIC("a0", false, "", rvIC("ipconfig1", "10.0.0.4", "vn", "a", true, "")),
		rvNIC("nva", true, "", rvIC("ipconfig1", "10.0.1.4", "vn", "b", true, ""), rvIC("ipconfig2", "10.0.2.4", "vn", "c", false, "")),
	)
	f.Apply(eng)
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	a0 := fabric.Endpoint{NIC: rvNICID("a0"), Addr: netip.MustParseAddr("10.0.0.4")}
	partner := fabric.Endpoint{Addr: netip.MustParseAddr("192.0.2.5")}
	rvListen(t, f, partner, 80)
	want, v := rvWant(t, eng, a0.FlowEndpoint(), partner.FlowEndpoint(), 80, true)
	if got := rvProbe(t, f, a0, netip.AddrPortFrom(partner.Addr, 80)); got != want {
		t.Errorf("a0 -> 192.0.2.5:80 through the appliance's secondary configuration: kernel %s, engine %s (%s)", got, want, v.Explain())
	}
}

// Finding 11: svc is one TCP stack for every VNet: two NICs of
// overlapping VNets with the same address, connecting to a platform
// service from the same source port, are one 4-tuple there — the second
// connection is taken for the first's (it hangs, or is answered with the
// first's sequence numbers).
func TestReview9OverlapSameTuple(t *testing.T) {
	openFinding(t, 11)
	f := rvFabric(t, Options{})
	eng := rvEngine(t,
		rvVNet("v1", "10.0.0.0/16", [3]string{"s", "10.0.0.0/24", ""}),
		rvVNet("v2", "10.0.0.0/16", [3]string{"s", "10.0.0.0/24", ""}),
		rvNIC("p", false, "", rvIC("ipconfig1", "10.0.0.4", "v1", "s", true, "")),
		rvNIC("q", false, "", rvIC("ipconfig1", "10.0.0.4", "v2", "s", true, "")),
	)
	f.Apply(eng)
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ln, err := f.Listen(ctx, fabric.Endpoint{Addr: netip.MustParseAddr("198.18.1.4")}, 443)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dial := func(nic string) (net.Conn, error) {
		var c net.Conn
		d := net.Dialer{Timeout: 1500 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 4), Port: 40123}}
		err := f.Do(fabric.Endpoint{NIC: rvNICID(nic)}, func() error {
			var err error
			c, err = d.Dial("tcp4", "198.18.1.4:443")
			return err
		})
		return c, err
	}
	c1, err := dial("p")
	if err != nil {
		t.Fatalf("p: %v", err)
	}
	defer c1.Close()
	c2, err := dial("q")
	if err != nil {
		t.Errorf("q, another VNet's NIC, from the same address and port as p: %v", err)
		return
	}
	c2.Close()
}

// Finding 12: an appliance with a public IP, and a subnet forced through
// it: the engine says the Internet sees the appliance's public IP (SNAT),
// but the router decides a connection's NAT once, on its first pass (to
// the appliance, where nothing matches); on its second (from the
// appliance to the uplink) the nat chains are not consulted again, and
// the far end sees the private source.
func TestReview9ApplianceSNAT(t *testing.T) {
	openFinding(t, 12)
	f := rvFabric(t, Options{})
	eng := rvEngine(t,
		fmt.Sprintf(`{"id": "%s/publicIPAddresses/pipnva", "location": "eastus", "properties": {"ipAddress": "198.51.100.20", "publicIPAllocationMethod": "Static"}}`, rvSub),
		fmt.Sprintf(`{"id": "%s/routeTables/rt", "location": "eastus", "properties": {"routes": [
			{"name": "forced", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}}]}}`, rvSub),
		rvVNet("vn", "10.0.0.0/16",
			[3]string{"a", "10.0.0.0/24", fmt.Sprintf(`, "routeTable": {"id": "%s/routeTables/rt"}`, rvSub)},
			[3]string{"b", "10.0.1.0/24", ""}),
		rvNIC("a0", false, "", rvIC("ipconfig1", "10.0.0.4", "vn", "a", true, "")),
		rvNIC("nva", true, "", rvIC("ipconfig1", "10.0.1.4", "vn", "b", true, fmt.Sprintf(`, "publicIPAddress": {"id": "%s/publicIPAddresses/pipnva"}`, rvSub))),
	)
	f.Apply(eng)
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	a0 := fabric.Endpoint{NIC: rvNICID("a0"), Addr: netip.MustParseAddr("10.0.0.4")}
	client := fabric.Endpoint{Addr: netip.MustParseAddr("203.0.113.7")}
	var ln net.Listener
	if err := f.Do(client, func() error {
		var err error
		ln, err = net.Listen("tcp4", "203.0.113.7:80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()
	v, err := eng.Path(a0.FlowEndpoint(), client.FlowEndpoint(), network.ProtoTCP, 40000, 80)
	if err != nil || v.Access != flow.Allow {
		t.Fatalf("engine: %v %v", err, v.Explain())
	}
	if got := rvProbe(t, f, a0, netip.AddrPortFrom(client.Addr, 80)); got != "connects" {
		t.Fatalf("a0 -> 203.0.113.7:80 through the appliance: %s", got)
	}
	select {
	case src := <-seen:
		if src != v.Seen.Src.String() {
			t.Errorf("the Internet client saw the connection from %s; the engine says %s (the appliance's public IP)", src, v.Seen.Src)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("not accepted")
	}
}

// Finding 13: what Dial leaves in the pending tables for a listener that
// is not the fabric's (a process's: a node agent, a job) is never taken;
// the table was swept only past 1,024 entries, so below that an entry
// lived for ever, and a later connection with the same addresses and
// ports (a job of an overlapping VNet, say) inherited its peer and
// verdict. (And past 1,024 young entries every put scanned them all.)
func TestReview9PendingStale(t *testing.T) {
	f := rvFabric(t, Options{})
	eng := rvEngine(t,
		rvVNet("v1", "10.0.0.0/16", [3]string{"s", "10.0.0.0/24", ""}),
		rvNIC("x", false, "", rvIC("ipconfig1", "10.0.0.4", "v1", "s", true, "")),
		rvNIC("z", false, "", rvIC("ipconfig1", "10.0.0.5", "v1", "s", true, "")),
	)
	f.Apply(eng)
	x := fabric.Endpoint{NIC: rvNICID("x"), Addr: netip.MustParseAddr("10.0.0.4")}
	z := fabric.Endpoint{NIC: rvNICID("z"), Addr: netip.MustParseAddr("10.0.0.5")}
	rvListen(t, f, x, 22)
	c, err := f.Dial(context.Background(), z, netip.AddrPortFrom(x.Addr, 22))
	if err != nil {
		t.Fatal(err)
	}
	local := c.LocalAddr().(fabric.Addr)
	c.Close()
	key := [2]netip.AddrPort{netip.AddrPort(local), netip.AddrPortFrom(x.Addr, 22)}
	// Two minutes later (aged by hand), and another dial meanwhile.
	f.dials.mu.Lock()
	e, ok := f.dials.m[key]
	if !ok {
		f.dials.mu.Unlock()
		t.Fatalf("no pending peer for %v", key)
	}
	e.at = e.at.Add(-2 * time.Minute)
	f.dials.m[key] = e
	f.dials.mu.Unlock()
	f.dials.put([2]netip.AddrPort{}, fabric.Peer{})
	if p, ok := f.dials.take(key); ok {
		t.Errorf("a peer left two minutes ago is still handed out for %v: %+v", key, p.Src)
	}
}

// Finding 14: the kernel's log rules had no rate limit, nor had the
// reader: a job sent a datagram to each of a few thousand ports and its
// flows filled the flow log, evicting every earlier record (the userspace
// fabric bounds what a local flood writes). The reader now logs at most
// kernelLogPerSecond a second per VNet and counts the rest.
func TestReview9FlowLogFlood(t *testing.T) {
	f := rvFabric(t, Options{FlowLogSize: 1024})
	f.Apply(fabrictest.Engine(t))
	marker := f.flows.Append(fabric.Record{Time: time.Now(), Proto: "T", Src: "marker", Decision: "A", State: "B"})
	node0 := fabric.Endpoint{NIC: fabrictest.Node0}
	if err := f.Do(node0, func() error {
		c, err := net.ListenPacket("udp4", "10.0.0.4:0")
		if err != nil {
			return err
		}
		defer c.Close()
		for port := range 4000 {
			c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 1024 + port})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The limit's record says the rest of the flood is counted, not
	// logged; the marker is still there.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for after := marker; ; {
		recs, last, _, _ := f.flows.Query(func(r *fabric.Record) bool { return r.Src == "kernel" }, after, 0)
		if len(recs) > 0 {
			break
		}
		after = last
		if err := f.flows.Wait(ctx, after); err != nil {
			t.Fatal("no record says the flood was limited")
		}
	}
	if recs, _, _, _ := f.flows.Query(func(r *fabric.Record) bool { return r.Seq == marker }, 0, 1); len(recs) == 0 {
		t.Errorf("one job's datagrams evicted the flow log's earlier records (seq %d)", marker)
	}
}

// Finding 15: svc answers with a reset (a port nothing listens on) or an
// ICMP error (an address no namespace holds) without the VNet's mark
// (net.ipv4.fwmark_reflect is off), so with overlapping VNets neither
// finds its way back: the caller times out where the engine says allowed,
// nothing listening.
func TestReview9OverlapRefusals(t *testing.T) {
	f := rvFabric(t, Options{})
	eng := rvEngine(t,
		rvVNet("v1", "10.0.0.0/16", [3]string{"s", "10.0.0.0/24", ""}),
		rvVNet("v2", "10.0.0.0/16", [3]string{"s", "10.0.0.0/24", ""}),
		rvNIC("p", false, "", rvIC("ipconfig1", "10.0.0.4", "v1", "s", true, "")),
		rvNIC("q", false, "", rvIC("ipconfig1", "10.0.0.4", "v2", "s", true, "")),
	)
	f.Apply(eng)
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	ln, err := f.Listen(context.Background(), fabric.Endpoint{Addr: netip.MustParseAddr("198.18.1.4")}, 443)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := fabric.Endpoint{NIC: rvNICID("p"), Addr: netip.MustParseAddr("10.0.0.4")}
	for _, dst := range []netip.AddrPort{netip.MustParseAddrPort("198.18.1.4:444"), netip.MustParseAddrPort("8.8.8.8:80")} {
		want, v := rvWant(t, eng, p.FlowEndpoint(), flow.Endpoint{Addr: dst.Addr()}, dst.Port(), false)
		if got := rvProbe(t, f, p, dst); got != want {
			t.Errorf("p -> %v: kernel %s, engine %s (%s)", dst, got, want, v.Explain())
		}
	}
}

// The platform's DNS at 168.63.129.16 answers the virtual networks, not
// the Internet: an outside client's query goes unanswered. (The query is
// made by hand on a socket of the caller's namespace: net.Resolver looks
// up on goroutines of its own, outside the namespace Do entered.)
func TestHostVIPNotFromTheInternet(t *testing.T) {
	f := rvFabric(t, Options{})
	f.Apply(fabrictest.Engine(t))
	f.SetName("fabstore.blob.core.windows.net", netip.MustParseAddr("198.18.1.4"))
	resolve := func(ep fabric.Endpoint) error {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("fabstore.blob.core.windows.net."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		q, _ := b.Finish()
		return f.Do(ep, func() error {
			// From the caller's own address, as its packets leave.
			d := net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(ep.Addr, 0))}
			c, err := d.Dial("udp4", "168.63.129.16:53")
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(q); err != nil {
				return err
			}
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			if err != nil {
				return err
			}
			var p dnsmessage.Parser
			if _, err := p.Start(buf[:n]); err != nil {
				return err
			}
			p.SkipAllQuestions()
			if rs, err := p.AllAnswers(); err != nil || len(rs) != 1 {
				return fmt.Errorf("answers %v, %v", rs, err)
			}
			return nil
		})
	}
	if err := resolve(fabric.Endpoint{NIC: fabrictest.Node0, Addr: netip.MustParseAddr("10.0.0.4")}); err != nil {
		t.Fatalf("a node resolving a platform name: %v", err)
	}
	if err := resolve(fabric.Endpoint{Addr: netip.MustParseAddr("203.0.113.7")}); err == nil {
		t.Error("an Internet client got an answer from the platform's DNS")
	}
}
