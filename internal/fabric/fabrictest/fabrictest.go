// Package fabrictest is the conformance suite every fabric implementation
// passes (DESIGN.md §4): allow and deny by NSG in both directions,
// priority order, subnet and NIC NSGs together, a route that drops,
// forced tunneling through an appliance, service-tag rules, traffic inside
// a subnet, return traffic, a policy swap during a live connection, a
// forged source refused, and a flow log entry for each.
package fabrictest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/flow"
)

// Harness is how the suite drives one implementation.
type Harness struct {
	// New returns a fresh fabric; the suite closes it.
	New func(t *testing.T) fabric.Fabric
	// Forge tries to reach the virtual listener at dst the way a local
	// process that bypasses the fabric would, claiming to be src, and
	// returns the connection it got (or an error). The suite checks that
	// nothing it sends arrives.
	Forge func(t *testing.T, f fabric.Fabric, src, dst netip.AddrPort) (net.Conn, error)
	// ListenAs listens on a real loopback port as a process of ep does
	// (in ep's network namespace, for a fabric that confines ep there):
	// what Expose's target is.
	ListenAs func(t *testing.T, f fabric.Fabric, ep fabric.Endpoint) (net.Listener, error)
}

// Endpoints of the conformance network.
var (
	node0   = fabric.Endpoint{NIC: Node0, Addr: netip.MustParseAddr("10.0.0.4")}
	node1   = fabric.Endpoint{NIC: Node1, Addr: netip.MustParseAddr("10.0.0.5")}
	batch   = fabric.Endpoint{Addr: netip.MustParseAddr("198.18.3.9")}
	storage = fabric.Endpoint{Addr: netip.MustParseAddr("198.18.1.4")}
	client  = fabric.Endpoint{Addr: netip.MustParseAddr("203.0.113.7")}
	partner = fabric.Endpoint{Addr: netip.MustParseAddr("192.0.2.5")}
	pip0    = fabric.Endpoint{Addr: netip.MustParseAddr("198.51.100.4")} // node0's public IP
	pip1    = fabric.Endpoint{Addr: netip.MustParseAddr("198.51.100.5")} // node1's public IP
	hole    = fabric.Endpoint{Addr: netip.MustParseAddr("10.9.0.9")}
)

// wait bounds every blocking step of the suite; nothing sleeps.
const wait = 10 * time.Second

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		run  func(t *testing.T, s *suite)
	}{
		{"InboundAllowedByServiceTag", inboundAllowed},
		{"InboundDenied", inboundDenied},
		{"OutboundAllowedAndDenied", outbound},
		{"PriorityOrder", priorityOrder},
		{"SubnetAndNICNSGs", subnetAndNIC},
		{"RouteNoneDrops", routeDrops},
		{"ForcedTunnelThroughAppliance", appliance},
		{"IntraSubnet", intraSubnet},
		{"ReturnTraffic", returnTraffic},
		{"PolicySwapKeepsLiveConnections", policySwap},
		{"NothingListening", nothingListening},
		{"ForgedSourceRefused", forged},
		{"Expose", expose},
		{"ServiceFirewallPerRequest", serviceFirewall},
		{"DialEndpoint", dialEndpoint},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := h.New(t)
			t.Cleanup(func() { f.Close() })
			f.Apply(variant{}.engine(t))
			c.run(t, &suite{t: t, f: f, h: h})
		})
	}
}

type suite struct {
	t *testing.T
	f fabric.Fabric
	h Harness
}

// echo listens at ep:port and echoes every line back, prefixed with the
// caller's virtual address.
func (s *suite) echo(ep fabric.Endpoint, port uint16) net.Listener {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ln, err := s.f.Listen(ctx, ep, port)
	if err != nil {
		s.t.Fatalf("listen %v:%d: %v", ep.Addr, port, err)
	}
	if got := ln.Addr().String(); got != netip.AddrPortFrom(ep.Addr, port).String() {
		s.t.Errorf("listener address %s, want the virtual %v:%d", got, ep.Addr, port)
	}
	s.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, c.RemoteAddr().String()+" "+line); err != nil {
						return
					}
					if c.LocalAddr().String() != netip.AddrPortFrom(ep.Addr, port).String() {
						io.WriteString(c, "wrong-listener "+c.LocalAddr().String()+"\n")
						return
					}
				}
			}()
		}
	}()
	return ln
}

// dial connects src to dst.
func (s *suite) dial(src fabric.Endpoint, dst fabric.Endpoint, port uint16) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return s.f.Dial(ctx, src, netip.AddrPortFrom(dst.Addr, port))
}

// roundTrip sends a line and returns the answer, which names the source
// the listener saw.
func (s *suite) roundTrip(c net.Conn, line string) string {
	s.t.Helper()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		s.t.Fatalf("write: %v", err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(got, "\n")
}

// mustConnect dials and checks that the listener sees the virtual source.
func (s *suite) mustConnect(src, dst fabric.Endpoint, port uint16) net.Conn {
	s.t.Helper()
	return s.mustConnectSeen(src, dst, port, src.Addr)
}

// mustConnectSeen dials and checks that the listener sees the source as
// seen: src's address, or its public IP where the path translates it.
func (s *suite) mustConnectSeen(src, dst fabric.Endpoint, port uint16, seen netip.Addr) net.Conn {
	s.t.Helper()
	c, err := s.dial(src, dst, port)
	if err != nil {
		s.t.Fatalf("%v -> %v:%d: %v, want a connection", src.Addr, dst.Addr, port, err)
	}
	s.t.Cleanup(func() { c.Close() })
	if ra := c.RemoteAddr().String(); ra != netip.AddrPortFrom(dst.Addr, port).String() {
		s.t.Errorf("RemoteAddr %s, want the virtual destination", ra)
	}
	got := s.roundTrip(c, "hello")
	local := c.LocalAddr().(fabric.Addr)
	if want := netip.AddrPortFrom(seen, netip.AddrPort(local).Port()).String() + " hello"; got != want {
		s.t.Errorf("the listener saw %q, want %q (the virtual source)", got, want)
	}
	if netip.AddrPort(local).Addr() != src.Addr {
		s.t.Errorf("the dialer's LocalAddr %v, want %v", local, src.Addr)
	}
	return c
}

// mustConnectAs dials a public IP and checks that the connection reaches
// the listener of the NIC behind it (DNAT).
func (s *suite) mustConnectAs(src, dst fabric.Endpoint, port uint16, nic fabric.Endpoint) net.Conn {
	s.t.Helper()
	c, err := s.dial(src, dst, port)
	if err != nil {
		s.t.Fatalf("%v -> %v:%d: %v, want a connection to %v", src.Addr, dst.Addr, port, err, nic.Addr)
	}
	s.t.Cleanup(func() { c.Close() })
	got := s.roundTrip(c, "hello")
	if !strings.HasPrefix(got, src.Addr.String()+":") {
		s.t.Errorf("the listener of %v saw %q, want the client %v", nic.Addr, got, src.Addr)
	}
	recs, _, _, _ := s.f.Log().Query(fabric.Filter{Addr: dst.Addr}.Matches, 0, 0)
	if len(recs) == 0 || !strings.EqualFold(recs[len(recs)-1].DstNIC, nic.NIC) {
		s.t.Errorf("the flow log does not name %s as the destination NIC: %+v", nic.NIC, recs)
	}
	return c
}

// mustDeny dials and checks the refusal names the rule.
func (s *suite) mustDeny(src, dst fabric.Endpoint, port uint16, rule string) *fabric.Denied {
	s.t.Helper()
	c, err := s.dial(src, dst, port)
	if err == nil {
		c.Close()
		s.t.Fatalf("%v -> %v:%d connected, want a refusal by %s", src.Addr, dst.Addr, port, rule)
	}
	var d *fabric.Denied
	if !errors.As(err, &d) {
		s.t.Fatalf("%v -> %v:%d: %v, want a *fabric.Denied", src.Addr, dst.Addr, port, err)
	}
	if h := d.Verdict.Refusal(); h == nil || !strings.Contains(h.Rule, rule) {
		s.t.Errorf("refused by %+v, want %s", h, rule)
	}
	if !strings.Contains(err.Error(), rule) {
		s.t.Errorf("the error does not name the rule %s: %v", rule, err)
	}
	return d
}

// logged checks that the flow log holds a record of a flow from src to
// dst:port with the decision and rule.
func (s *suite) logged(src fabric.Endpoint, dst fabric.Endpoint, port uint16, decision, rule string) fabric.Record {
	s.t.Helper()
	recs, _, _, _ := s.f.Log().Query(fabric.Filter{Addr: dst.Addr}.Matches, 0, 0)
	for _, r := range recs {
		d, _ := netip.ParseAddrPort(r.Dst)
		sa, _ := netip.ParseAddrPort(r.Src)
		if d.Port() == port && sa.Addr() == src.Addr && r.Decision == decision && strings.Contains(r.Rule, rule) {
			return r
		}
	}
	s.t.Errorf("no flow log record %v -> %v:%d %s by %q among %+v", src.Addr, dst.Addr, port, decision, rule, recs)
	return fabric.Record{}
}

func inboundAllowed(t *testing.T, s *suite) {
	s.echo(node0, 29876)
	c := s.mustConnect(batch, node0, 29876)
	s.logged(batch, node0, 29876, "A", "securityRules/allow-batch")
	c.Close()
	// The end of the flow is logged with its bytes.
	recs, _, _, _ := s.f.Log().Query(fabric.Filter{Addr: node0.Addr}.Matches, 0, 0)
	ended := false
	for _, r := range recs {
		if r.State == "E" && r.BytesSent == int64(len("hello\n")) && r.BytesReceived > 0 {
			ended = true
			if tup := r.Tuple(); !strings.Contains(tup, ",198.18.3.9,10.0.0.4,") || !strings.Contains(tup, ",T,I,A,E,") {
				t.Errorf("flow tuple %q", tup)
			}
		}
	}
	if !ended {
		t.Errorf("no end record with the flow's bytes: %+v", recs)
	}
}

func inboundDenied(t *testing.T, s *suite) {
	s.echo(node0, 29876)
	d := s.mustDeny(client, pip0, 29876, "deny-internet")
	if h := d.Verdict.Refusal(); h.Hint == "" || !strings.Contains(h.Resource, "sub-nsg") {
		t.Errorf("refusal %+v: want the NSG and a hint", h)
	}
	r := s.logged(client, pip0, 29876, "D", "securityRules/deny-internet")
	if r.Reason == "" || r.State != "B" {
		t.Errorf("deny record %+v: want a reason", r)
	}
}

func outbound(t *testing.T, s *suite) {
	s.echo(storage, 443)
	s.echo(storage, 445)
	// Without a service endpoint, storage sees node0's public IP (SNAT).
	s.mustConnectSeen(node0, storage, 443, pip0.Addr)
	s.logged(node0, storage, 443, "A", "")
	s.mustDeny(node0, storage, 445, "deny-smb-out")
	s.logged(node0, storage, 445, "D", "securityRules/deny-smb-out")
}

func priorityOrder(t *testing.T, s *suite) {
	s.echo(node1, 9000)
	s.echo(node1, 8443)
	// 9000: deny at 2000 beats allow at 2500; 8443: allow at 3000 beats
	// the deny of all Internet at 4000.
	s.mustDeny(client, pip1, 9000, "deny-9000-first")
	s.mustConnectAs(client, pip1, 8443, node1)
	s.logged(client, pip1, 8443, "A", "allow-8443-first")
}

func subnetAndNIC(t *testing.T, s *suite) {
	s.echo(node0, 8080)
	s.echo(node1, 8080)
	// The subnet's NSG allows VirtualNetwork traffic; node0's own NSG
	// denies 8080.
	s.mustDeny(node1, node0, 8080, "deny-8080-in")
	s.mustConnect(node0, node1, 8080)
}

func routeDrops(t *testing.T, s *suite) {
	s.echo(hole, 80)
	c, err := s.dial(node0, hole, 80)
	if err == nil {
		c.Close()
		t.Fatal("a route with next hop None let a connection through")
	}
	var d *fabric.Denied
	if !errors.As(err, &d) || d.Verdict.Refusal() == nil || !strings.Contains(d.Verdict.Refusal().Rule+d.Verdict.Refusal().Detail, "blackhole") && !strings.Contains(err.Error(), "None") {
		t.Errorf("dropped by %v, want the route blackhole (None)", err)
	}
	s.logged(node0, hole, 80, "D", "")
}

func appliance(t *testing.T, s *suite) {
	s.echo(partner, 80)
	// The appliance forwards without translating (it has no public IP).
	s.mustConnect(node0, partner, 80)
	// Without IP forwarding the appliance drops what is routed to it.
	s.f.Apply(variant{noForwarding: true}.engine(t))
	c, err := s.dial(node0, partner, 80)
	if err == nil {
		c.Close()
		t.Fatal("an appliance without IP forwarding forwarded")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "forwarding") {
		t.Errorf("refusal %v does not say the appliance does not forward", err)
	}
}

func intraSubnet(t *testing.T, s *suite) {
	s.echo(node0, 22)
	s.mustConnect(node1, node0, 22)
	s.logged(node1, node0, 22, "A", "")
}

func returnTraffic(t *testing.T, s *suite) {
	// node0 may not open connections to Batch (deny-batch-out), yet its
	// answers on a connection Batch opened flow back.
	s.echo(batch, 443)
	s.mustDeny(node0, batch, 443, "deny-batch-out")
	s.echo(node0, 29877)
	c := s.mustConnect(batch, node0, 29877)
	for range 3 {
		if got := s.roundTrip(c, "again"); !strings.HasSuffix(got, " again") {
			t.Fatalf("answer %q", got)
		}
	}
}

func policySwap(t *testing.T, s *suite) {
	s.echo(node0, 29876)
	live := s.mustConnect(batch, node0, 29876)
	s.f.Apply(variant{batchDenied: true}.engine(t))
	// The connection admitted before the swap goes on...
	if got := s.roundTrip(live, "still"); !strings.HasSuffix(got, " still") {
		t.Errorf("live connection after the swap: %q", got)
	}
	// ...new ones are decided by the new rules.
	s.mustDeny(batch, node0, 29876, "allow-batch")
	s.f.Apply(variant{}.engine(t))
	s.mustConnect(batch, node0, 29876)
}

func nothingListening(t *testing.T, s *suite) {
	c, err := s.dial(batch, node0, 29876)
	if err == nil {
		c.Close()
		t.Fatal("connected to a port nothing listens on")
	}
	var r *fabric.Refused
	if !errors.As(err, &r) {
		t.Errorf("%v, want a *fabric.Refused", err)
	}
}

func forged(t *testing.T, s *suite) {
	if s.h.Forge == nil {
		t.Skip("the implementation offers no way to try a forgery")
	}
	ln := s.echo(node0, 29876)
	_ = ln
	// Internet clients are denied; a local process claiming to be Batch
	// must not get through either.
	c, err := s.h.Forge(t, s.f, netip.AddrPortFrom(batch.Addr, 40000), netip.AddrPortFrom(node0.Addr, 29876))
	if err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(wait))
		io.WriteString(c, "forged\n")
		if got, err := bufio.NewReader(c).ReadString('\n'); err == nil {
			t.Fatalf("a forged connection was served: %q", got)
		}
	}
	// The refusal is logged.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for after := uint64(0); ; {
		recs, last, _, _ := s.f.Log().Query(fabric.Filter{Decision: "D"}.Matches, after, 0)
		for _, r := range recs {
			if r.Dst == "10.0.0.4:29876" && r.Reason != "" {
				return
			}
		}
		after = last
		if err := s.f.Log().Wait(ctx, after); err != nil {
			t.Fatal("the refused forgery is not in the flow log")
		}
	}
}

func expose(t *testing.T, s *suite) {
	// A process of node0 listening on a real loopback port, served at the
	// virtual 10.0.0.4:29877.
	real, err := s.h.ListenAs(t, s.f, node0)
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	go func() {
		for {
			c, err := real.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	x, err := s.f.Expose(ctx, node0, 29877, real.Addr().(*net.TCPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	c, err := s.dial(batch, node0, 29877)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	io.WriteString(c, "ping\n")
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "ping\n" {
		t.Fatalf("exposed port answered %q, %v", got, err)
	}
	s.mustDeny(client, pip0, 29877, "deny-internet")

	// Closing the exposure ends the connections it carries, and no new
	// one reaches the target.
	x.Close()
	if n, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("a connection the closed exposure carried read %d bytes, %v; want it ended", n, err)
	}
	if c2, err := s.dial(batch, node0, 29877); err == nil {
		c2.SetDeadline(time.Now().Add(wait))
		if n, err := c2.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("a connection to a closed exposure read %d bytes, %v; want it refused or ended", n, err)
		}
		c2.Close()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// serviceFirewall: a platform service's listener gets the connections
// that only its firewall refuses, with the refusal in their Peer, so that
// it can answer each request with a 403; the NSGs still refuse at once.
func serviceFirewall(t *testing.T, s *suite) {
	svc := storage
	svc.Service = Storage
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ln, err := s.f.Listen(ctx, svc, 443)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan fabric.Peer, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p, ok := fabric.PeerOf(c)
			if !ok {
				t.Errorf("PeerOf an accepted connection: false")
			}
			peers <- p
			c.Close()
		}
	}()
	peerOf := func(src fabric.Endpoint) fabric.Peer {
		t.Helper()
		c, err := s.dial(src, storage, 443)
		if err != nil {
			t.Fatalf("%v -> storage:443: %v, want a connection (the firewall decides per request)", src.Addr, err)
		}
		defer c.Close()
		select {
		case p := <-peers:
			return p
		case <-ctx.Done():
			t.Fatal("no connection arrived")
		}
		return fabric.Peer{}
	}
	// node0 leaves without a service endpoint, in the account's region:
	// ipRules do not apply, defaultAction Deny refuses.
	p := peerOf(node0)
	if !fabric.FirewallOnly(&p.Verdict) {
		t.Errorf("node0's verdict %s, want a refusal by the firewall only", p.Verdict.Explain())
	}
	if h := p.Verdict.Refusal(); h == nil || h.Code != "AuthorizationFailure" || !strings.Contains(h.Rule, "defaultAction Deny") {
		t.Errorf("node0's refusal %+v, want AuthorizationFailure by defaultAction Deny", h)
	}
	if !strings.EqualFold(p.Src.NIC, Node0) {
		t.Errorf("peer NIC %q, want node0's", p.Src.NIC)
	}
	// The network admitted it: the flow log says so.
	s.logged(node0, storage, 443, "A", "")
	// The Internet client is in the ipRules.
	if p := peerOf(client); p.Verdict.Access != flow.Allow || p.Src.Addr != client.Addr {
		t.Errorf("client's peer %+v, want allowed from %v", p, client.Addr)
	}
	// An NSG refusal is still a refused connection.
	svc445 := svc
	ln2, err := s.f.Listen(ctx, svc445, 445)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	s.mustDeny(node0, storage, 445, "deny-smb-out")
}

// dialEndpoint: a destination named by its NIC is reached as by its
// address, under the same rules.
func dialEndpoint(t *testing.T, s *suite) {
	s.echo(node0, 29876)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := s.f.DialEndpoint(ctx, batch, node0, 29876)
	if err != nil {
		t.Fatalf("batch -> node0 (by NIC):29876: %v", err)
	}
	defer c.Close()
	if got := s.roundTrip(c, "hi"); !strings.HasPrefix(got, batch.Addr.String()+":") {
		t.Errorf("the listener saw %q, want the Batch address", got)
	}
	s.echo(node0, 8080)
	if _, err := s.f.DialEndpoint(ctx, client, node0, 8080); err == nil {
		t.Error("an Internet client reached node0's private address by naming its NIC")
	}
}
