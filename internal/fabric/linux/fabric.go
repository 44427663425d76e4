//go:build linux

package linux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// Options configure a Fabric.
type Options struct {
	// Logger receives kernel programming errors and disagreements
	// between the kernel and the engine; nil discards.
	Logger *slog.Logger
	// FlowLogSize is how many flow records are kept (0: the default).
	FlowLogSize int
}

// Fabric is the kernel fabric. Create it with New; Close deletes every
// namespace it made.
type Fabric struct {
	id    string // the prefix of its namespaces' names
	log   *slog.Logger
	flows *fabric.FlowLog
	eng   atomic.Pointer[flow.Engine]

	// applyMu serializes Apply; it guards the topology below, which
	// readers see through snapshot (an immutable copy).
	applyMu   sync.Mutex
	svc, inet *netns
	routers   map[string]*router
	ports     map[portKey]*port
	// svcState is what svc last got: its routes (and the lines that
	// delete those of its main table), its nftables text.
	svcState struct {
		routes, ruleset string
		undo            []string
	}
	nextRouter int
	nextPort   int
	applyErr   error
	openReader func(*router) (closer, error)

	topo atomic.Pointer[topology]

	addrMu  sync.Mutex
	outside map[netip.Addr]*netns // outside addresses added to svc or inet

	mu       sync.Mutex
	bindings map[netip.AddrPort][]fabric.Endpoint // the endpoints listening at each address
	names    fabric.Names
	closers  map[io.Closer]struct{}
	closed   bool

	// dials are the peers of connections dialed through the fabric, by
	// (source, destination) as the listener sees them, until accepted.
	dials pending[fabric.Peer]
	// dialed are the flows Dial logged, by (source, destination) as the
	// router's forward hook sees them (before SNAT, after DNAT), until
	// its reader meets them.
	dialed pending[struct{}]
}

// topology is what Listen and Dial read: the namespace of every port and
// router, published whole by Apply.
type topology struct {
	ports   map[portKey]*port
	routers map[string]*router
	addrs   map[*port][]netip.Addr // each port's addresses (port.addrs changes under applyMu)
}

var _ fabric.Fabric = (*Fabric)(nil)

var seq atomic.Int32

// New checks the requirements (Check), clears namespaces that crashed
// fabrics left, and creates the services and internet namespaces.
func New(o Options) (*Fabric, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	sweep()
	f := &Fabric{
		id:  fmt.Sprintf("%s%d-%d", namePrefix, os.Getpid(), seq.Add(1)),
		log: o.Logger, flows: fabric.NewFlowLog(o.FlowLogSize),
		routers: map[string]*router{}, ports: map[portKey]*port{},
		outside: map[netip.Addr]*netns{}, bindings: map[netip.AddrPort][]fabric.Endpoint{}, closers: map[io.Closer]struct{}{},
	}
	f.openReader = f.startReader
	f.topo.Store(&topology{ports: map[portKey]*port{}, routers: map[string]*router{}})
	if err := f.setupOutside(context.Background()); err != nil {
		f.deleteAll()
		return nil, fmt.Errorf("fabric: setting up the services and internet namespaces: %w", err)
	}
	if err := f.serveDNS(); err != nil {
		f.Close()
		return nil, fmt.Errorf("fabric: serving the platform's DNS: %w", err)
	}
	return f, nil
}

// ErrNoEngine is returned by Dial before the first Apply.
var ErrNoEngine = errors.New("fabric: no network applied yet: the fabric decides nothing until the server compiles the network")

// Apply implements fabric.Fabric: it makes the namespaces, links, routes
// and nftables tables match eng, then publishes eng. A kernel error is
// logged and kept (Err); the engine is published anyway, so that what
// the fabric explains is the network as configured.
func (f *Fabric) Apply(eng *flow.Engine) {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	err := f.applyPlan(context.Background(), planOf(eng))
	t := &topology{ports: make(map[portKey]*port, len(f.ports)), routers: make(map[string]*router, len(f.routers)),
		addrs: make(map[*port][]netip.Addr, len(f.ports))}
	for k, p := range f.ports {
		t.ports[k] = p
		t.addrs[p] = p.addrs
	}
	for k, r := range f.routers {
		t.routers[k] = r
	}
	f.topo.Store(t)
	f.eng.Store(eng)
	f.applyErr = err
	if err != nil {
		f.log.Error("fabric: the kernel does not match the network", "error", err)
	}
}

// Err returns the error of the last Apply, if the kernel could not be
// made to match it.
func (f *Fabric) Err() error {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	return f.applyErr
}

// Log implements fabric.Fabric.
func (f *Fabric) Log() *fabric.FlowLog { return f.flows }

// SetName implements fabric.Fabric.
func (f *Fabric) SetName(name string, addr netip.Addr) { f.names.Set(name, addr) }

// Resolve implements fabric.Fabric: a registered name, or an IPv4 literal.
func (f *Fabric) Resolve(name string) (netip.Addr, bool) { return f.names.Resolve(name) }

// where is the namespace of an endpoint, its port (nil outside the
// VNets) and its address (a NIC's primary one when ep names none).
func (f *Fabric) where(ctx context.Context, eng *flow.Engine, ep fabric.Endpoint) (*netns, *port, netip.Addr, error) {
	if !ep.Addr.IsValid() && ep.NIC == "" {
		return nil, nil, netip.Addr{}, errors.New("fabric: an endpoint needs a NIC or an address")
	}
	if ep.NIC == "" {
		if !ep.Addr.Is4() {
			return nil, nil, netip.Addr{}, fmt.Errorf("fabric: %v: a virtual address is IPv4", ep.Addr)
		}
		ns, err := f.outsideNS(ctx, eng, epKey{addr: ep.Addr, service: ep.Service != ""})
		return ns, nil, ep.Addr, err
	}
	if eng == nil {
		return nil, nil, netip.Addr{}, &fabric.Unresolved{Err: ErrNoEngine}
	}
	n, err := eng.NIC(ep.NIC)
	if err != nil {
		return nil, nil, netip.Addr{}, &fabric.Unresolved{Err: err}
	}
	ic, err := n.IPConfigFor(ep.Addr)
	if err != nil {
		return nil, nil, netip.Addr{}, &fabric.Unresolved{Err: err}
	}
	k := portKey{nic: network.Key(n.ID), addr: ic.Addr, vnet: network.Key(ic.Subnet.VNet.ID)}
	pt := f.topo.Load().ports[k]
	if pt == nil {
		return nil, nil, netip.Addr{}, &fabric.Unresolved{Err: fmt.Errorf("fabric: network interface %s has no namespace: %v", n.Name, f.Err())}
	}
	return pt.ns, pt, ic.Addr, nil
}

// Listen implements fabric.Fabric: a listening socket at ep's address in
// ep's namespace. The kernel admits connections; the engine names their
// peer (and, for a service, whether its firewall refuses them).
func (f *Fabric) Listen(ctx context.Context, ep fabric.Endpoint, port uint16) (net.Listener, error) {
	eng := f.eng.Load()
	ns, pt, addr, err := f.where(ctx, eng, ep)
	if err != nil {
		return nil, err
	}
	ep.Addr = addr
	var ln net.Listener
	err = ns.do(func() error {
		var err error
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp4", netip.AddrPortFrom(ep.Addr, port).String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fabric: listen on %s: %w", netip.AddrPortFrom(ep.Addr, port), err)
	}
	l := &listener{Listener: ln, f: f, ep: ep, port: pt, at: netip.AddrPortFrom(ep.Addr, port)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		ln.Close()
		return nil, net.ErrClosed
	}
	f.closers[l] = struct{}{}
	f.bindings[l.at] = append(f.bindings[l.at], ep)
	return l, nil
}

type listener struct {
	net.Listener
	f    *Fabric
	ep   fabric.Endpoint
	port *port // nil outside the VNets
	at   netip.AddrPort
	once sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := c.(*net.TCPConn)
		remote := tc.RemoteAddr().(*net.TCPAddr).AddrPort()
		local := tc.LocalAddr().(*net.TCPAddr).AddrPort()
		remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
		local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
		peer, ok := l.f.peerOf(tc, l, remote, local)
		if !ok {
			// The kernel admitted what the engine refuses: they disagree.
			// Trust the stricter, and say so.
			l.f.log.Error("fabric: the kernel admitted a connection the engine refuses", "from", remote, "to", local, "verdict", peer.Verdict.Explain())
			c.Close()
			continue
		}
		return &conn{TCPConn: tc, peer: peer, hasPeer: true}, nil
	}
}

func (l *listener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() {
		f := l.f
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.closers, l)
		eps := f.bindings[l.at]
		for i, ep := range eps {
			if ep == l.ep {
				eps = append(eps[:i:i], eps[i+1:]...)
				break
			}
		}
		if len(eps) == 0 {
			delete(f.bindings, l.at)
		} else {
			f.bindings[l.at] = eps
		}
	})
	return err
}

// peerOf names who opened an accepted connection: the endpoint that
// dialed it through the fabric, or else the one the engine places at its
// source address, with the engine's verdict. False when the verdict
// refuses at the network (not only at a service's firewall).
func (f *Fabric) peerOf(c *net.TCPConn, l *listener, remote, local netip.AddrPort) (fabric.Peer, bool) {
	if p, ok := f.dials.take([2]netip.AddrPort{remote, local}); ok {
		return p, true
	}
	eng := f.eng.Load()
	src := f.sourceOf(c, l, remote.Addr())
	p := fabric.Peer{Src: src, SrcPort: remote.Port()}
	if eng == nil {
		return p, false
	}
	dst := l.ep
	if l.port != nil {
		dst.Addr = local.Addr()
	}
	v, err := eng.Path(src.FlowEndpoint(), dst.FlowEndpoint(), network.ProtoTCP, remote.Port(), local.Port())
	if err != nil {
		p.Verdict = flow.PathVerdict{Access: flow.Deny, Hops: []flow.Hop{{Stage: flow.StageDelivery, Access: flow.Deny, Detail: err.Error()}}}
		return p, false
	}
	p.Verdict = v
	return p, v.Access == flow.Allow || (dst.Service != "" && fabric.FirewallOnly(&v))
}

// sourceOf places a connection's source: a port of the listener's VNet
// (for a listener in svc, of the VNet its mark names), a NIC whose public
// IP it is, or an outside address.
func (f *Fabric) sourceOf(c *net.TCPConn, l *listener, a netip.Addr) fabric.Endpoint {
	eng := f.eng.Load()
	if eng == nil {
		return fabric.Endpoint{Addr: a}
	}
	vnet := ""
	if l.port != nil {
		vnet = l.port.key.vnet
	} else if m := socketMark(c); m != 0 {
		for _, r := range f.topo.Load().routers {
			if r.mark() == m {
				vnet = r.key
			}
		}
	}
	if vnet != "" {
		for _, ic := range eng.IPConfigsAt(a) {
			if network.Key(ic.Subnet.VNet.ID) == vnet {
				return fabric.Endpoint{NIC: ic.NIC.ID, Addr: ic.Addr}
			}
		}
	}
	if ic, ok := eng.PublicIPOf(a); ok {
		return fabric.Endpoint{NIC: ic.NIC.ID, Addr: ic.Addr}
	}
	return fabric.Endpoint{Addr: a}
}

func socketMark(c *net.TCPConn) uint32 {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var m int
	rc.Control(func(fd uintptr) { m, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK) })
	return uint32(m)
}

// conn is a kernel connection with the fabric's view of it.
type conn struct {
	*net.TCPConn
	peer    fabric.Peer
	hasPeer bool
	// The dialing side counts bytes and logs the flow's end.
	f           *Fabric
	rec         fabric.Record
	sent, recvd atomic.Int64
	closeOnce   sync.Once
}

// Peer implements fabric.PeerOf.
func (c *conn) Peer() (fabric.Peer, bool) { return c.peer, c.hasPeer }

func (c *conn) LocalAddr() net.Addr {
	return fabric.Addr(c.TCPConn.LocalAddr().(*net.TCPAddr).AddrPort())
}
func (c *conn) RemoteAddr() net.Addr {
	return fabric.Addr(c.TCPConn.RemoteAddr().(*net.TCPAddr).AddrPort())
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	c.recvd.Add(int64(n))
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.TCPConn.Write(p)
	c.sent.Add(int64(n))
	return n, err
}

// ReadFrom and WriteTo keep TCPConn's fast paths (splice, sendfile) and
// the byte counts.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.TCPConn.ReadFrom(r)
	c.sent.Add(n)
	return n, err
}

func (c *conn) WriteTo(w io.Writer) (int64, error) {
	n, err := c.TCPConn.WriteTo(w)
	c.recvd.Add(n)
	return n, err
}

func (c *conn) Close() error {
	err := c.TCPConn.Close()
	c.closeOnce.Do(func() {
		if c.f == nil {
			return
		}
		c.f.untrack(c)
		r := c.rec
		r.Time, r.State = time.Now(), "E"
		r.BytesSent, r.BytesReceived = c.sent.Load(), c.recvd.Load()
		c.f.flows.Append(r)
	})
	return err
}

// Dial implements fabric.Fabric.
func (f *Fabric) Dial(ctx context.Context, src fabric.Endpoint, dst netip.AddrPort) (net.Conn, error) {
	// The destination as the engine should see it: the endpoint listening
	// there when there is exactly one (a platform service with its
	// firewall, a NIC reached by its private address), else the address.
	dstEp := fabric.Endpoint{Addr: dst.Addr()}
	f.mu.Lock()
	eps := f.bindings[dst]
	f.mu.Unlock()
	if len(eps) == 1 && reaches(f.eng.Load(), src, eps[0]) {
		dstEp = eps[0]
	}
	return f.dial(ctx, src, dstEp, dst)
}

// reaches reports whether a packet from src to the address of listener ep
// can be the one ep receives: not when both are NICs and ep's VNet is
// neither src's nor peered with it — with overlapping address spaces, the
// address is then another NIC's in src's own VNet, which the engine finds
// from the address alone.
func reaches(eng *flow.Engine, src, ep fabric.Endpoint) bool {
	if eng == nil || src.NIC == "" || ep.NIC == "" {
		return true
	}
	vnetOf := func(e fabric.Endpoint) *flow.VNet {
		n, err := eng.NIC(e.NIC)
		if err != nil {
			return nil
		}
		ic, err := n.IPConfigFor(e.Addr)
		if err != nil {
			return nil
		}
		return ic.Subnet.VNet
	}
	a, b := vnetOf(src), vnetOf(ep)
	if a == nil || b == nil || a == b {
		return true
	}
	return slices.Contains(a.PeerKeys(), network.Key(b.ID))
}

// DialEndpoint implements fabric.Fabric.
func (f *Fabric) DialEndpoint(ctx context.Context, src, dst fabric.Endpoint, port uint16) (net.Conn, error) {
	return f.dial(ctx, src, dst, netip.AddrPortFrom(dst.Addr, port))
}

// dial decides with the engine and connects with the kernel: a socket in
// src's namespace, bound to src's address; the engine's verdict for its
// port; a refusal returned at once (the kernel would drop the packets: a
// caller would wait for nothing); else a connect that the kernel's rules
// admit or not on their own.
func (f *Fabric) dial(ctx context.Context, src, dstEp fabric.Endpoint, dst netip.AddrPort) (net.Conn, error) {
	eng := f.eng.Load()
	if eng == nil {
		return nil, &fabric.Unresolved{Err: ErrNoEngine}
	}
	ns, pt, addr, err := f.where(ctx, eng, src)
	if err != nil {
		return nil, err
	}
	src.Addr = addr
	var (
		v      flow.PathVerdict
		denied error
		mark   uint32
		rec    fabric.Record
	)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var sport uint16
		var serr error
		rc.Control(func(fd uintptr) {
			sa := &unix.SockaddrInet4{Addr: src.Addr.As4()}
			if serr = unix.Bind(int(fd), sa); serr != nil {
				return
			}
			var got unix.Sockaddr
			if got, serr = unix.Getsockname(int(fd)); serr == nil {
				sport = uint16(got.(*unix.SockaddrInet4).Port)
			}
		})
		if serr != nil {
			return fmt.Errorf("binding %s: %w", src.Addr, serr)
		}
		var err error
		v, err = eng.Path(src.FlowEndpoint(), dstEp.FlowEndpoint(), network.ProtoTCP, sport, dst.Port())
		if err != nil {
			denied = &fabric.Unresolved{Err: fmt.Errorf("fabric: %s -> %s: %w", src.Addr, dst, err)}
			f.flows.Append(fabric.Record{Time: time.Now(), Proto: "T", Src: src.Addr.String(), Dst: dst.String(), SrcNIC: src.NIC, DstNIC: dstEp.NIC,
				Decision: "D", State: "B", Stage: "decision", Reason: err.Error()})
			return denied
		}
		logged := &v
		if dstEp.Service != "" && fabric.FirewallOnly(&v) {
			nv := v
			nv.Access, nv.Hops = flow.Allow, v.Hops[:len(v.Hops)-1]
			logged = &nv
		} else if v.Access == flow.Deny {
			f.flows.Append(fabric.RecordOf(src, sport, dstEp, dst.Port(), &v))
			denied = &fabric.Denied{Src: netip.AddrPortFrom(src.Addr, sport), Dst: dst, Verdict: v}
			return denied
		}
		rec = fabric.RecordOf(src, sport, dstEp, dst.Port(), logged)
		if v.SeenNIC != "" {
			rec.DstNIC = v.SeenNIC
		}
		// A platform address reaching a port at its private address:
		// the VNet's mark picks its uplink (address spaces overlap).
		if pt == nil && v.SeenNIC != "" && v.Seen.Dst == dst.Addr() {
			if n, err := eng.NIC(v.SeenNIC); err == nil {
				if ic, err := n.IPConfigFor(v.Seen.Dst); err == nil {
					if r := f.topo.Load().routers[network.Key(ic.Subnet.VNet.ID)]; r != nil {
						mark = r.mark()
					}
				}
			}
		}
		if mark != 0 {
			rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark)) })
			if serr != nil {
				return serr
			}
		}
		// The listener meets the packet as delivered: after DNAT and SNAT.
		key := [2]netip.AddrPort{netip.AddrPortFrom(v.Seen.Src, sport), netip.AddrPortFrom(v.Seen.Dst, dst.Port())}
		f.dials.put(key, fabric.Peer{Src: src, SrcPort: sport, Verdict: v})
		f.dialed.put([2]netip.AddrPort{netip.AddrPortFrom(v.Packet.Src, sport), netip.AddrPortFrom(v.Seen.Dst, dst.Port())}, struct{}{})
		return nil
	}}
	var c net.Conn
	err = ns.do(func() error {
		var err error
		c, err = d.DialContext(ctx, "tcp4", dst.String())
		return err
	})
	if denied != nil {
		return nil, denied
	}
	if err != nil {
		if v.Packet.Src.IsValid() {
			f.dials.take([2]netip.AddrPort{netip.AddrPortFrom(v.Seen.Src, v.Packet.SrcPort), netip.AddrPortFrom(v.Seen.Dst, dst.Port())})
		}
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
			f.flows.Append(rec)
			end := rec
			end.Time, end.State, end.Reason = time.Now(), "E", fmt.Sprintf("allowed, but nothing listens at %s", netip.AddrPortFrom(v.Seen.Dst, dst.Port()))
			f.flows.Append(end)
			return nil, &fabric.Refused{Src: netip.AddrPortFrom(src.Addr, v.Packet.SrcPort), Dst: dst}
		}
		if ctx.Err() != nil && v.Access == flow.Allow {
			f.log.Error("fabric: the kernel dropped a connection the engine allows", "from", src.Addr, "to", dst, "verdict", v.Explain())
		}
		return nil, fmt.Errorf("fabric: %s -> %s: %w", src.Addr, dst, err)
	}
	f.flows.Append(rec)
	vc := &conn{TCPConn: c.(*net.TCPConn), f: f, rec: rec}
	if !f.track(vc) {
		c.Close()
		return nil, net.ErrClosed
	}
	return vc, nil
}

// Expose implements fabric.Fabric: a listener at ep's address in ep's
// namespace whose connections are spliced to target, dialed inside that
// namespace too — where ep's processes run (Command), so that a process
// listening on its own loopback is served at its virtual address.
func (f *Fabric) Expose(ctx context.Context, ep fabric.Endpoint, port uint16, target netip.AddrPort) (fabric.Closer, error) {
	ns, _, _, err := f.where(ctx, f.eng.Load(), ep)
	if err != nil {
		return nil, err
	}
	ln, err := f.Listen(ctx, ep, port)
	if err != nil {
		return nil, err
	}
	return fabric.Relay(ln, func() (net.Conn, error) {
		var c net.Conn
		err := ns.do(func() error {
			var err error
			c, err = net.Dial("tcp", target.String())
			return err
		})
		return c, err
	}, f.log), nil
}

// Command implements fabric.Fabric: the process starts inside ep's
// namespace (through `ip netns exec`, which enters it, mounts the
// namespace's resolv.conf — the platform's DNS — over /etc/resolv.conf in
// a mount namespace of its own, and then executes the program itself, so
// the process is the program), with a small environment — never the
// server's secrets — and VNETML_ADDRESS. It needs no proxy: the kernel
// carries its connections and enforces the rules on every packet, raw
// sockets included.
func (f *Fabric) Command(ctx context.Context, ep fabric.Endpoint, name string, args ...string) (*exec.Cmd, error) {
	ns, _, addr, err := f.where(ctx, f.eng.Load(), ep)
	if err != nil {
		return nil, err
	}
	ep.Addr = addr
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.name, path}, args...)...)
	cmd.Env = append(fabric.InheritedEnv(), "VNETML_ADDRESS="+ep.Addr.String())
	return cmd, nil
}

// NetnsPath implements fabric.Namespaced: the path of ep's namespace.
func (f *Fabric) NetnsPath(ep fabric.Endpoint) (string, error) {
	ns, _, _, err := f.where(context.Background(), f.eng.Load(), ep)
	if err != nil {
		return "", err
	}
	return filepath.Join(netnsDir, ns.name), nil
}

var _ fabric.Namespaced = (*Fabric)(nil)

// EgressProxy implements fabric.Fabric: the kernel fabric needs none.
func (f *Fabric) EgressProxy(fabric.Endpoint) (string, error) { return "", nil }

// Do runs fn on a thread inside ep's namespace: sockets it creates belong
// to ep's network, as a process confined there would have them. Tests and
// benchmarks use it to act as such a process.
func (f *Fabric) Do(ep fabric.Endpoint, fn func() error) error {
	ns, _, _, err := f.where(context.Background(), f.eng.Load(), ep)
	if err != nil {
		return err
	}
	return ns.do(fn)
}

func (f *Fabric) track(c io.Closer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.closers[c] = struct{}{}
	return true
}

func (f *Fabric) untrack(c io.Closer) {
	f.mu.Lock()
	delete(f.closers, c)
	f.mu.Unlock()
}

// Close implements fabric.Fabric: it closes every listener and connection
// and deletes every namespace the fabric made.
func (f *Fabric) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	cs := make([]io.Closer, 0, len(f.closers))
	for c := range f.closers {
		cs = append(cs, c)
	}
	f.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	return f.deleteAll()
}

// deleteAll deletes every namespace of the fabric.
func (f *Fabric) deleteAll() error {
	for _, r := range f.routers {
		if r.reader != nil {
			r.reader.Close()
		}
	}
	var names []string
	for _, p := range f.ports {
		p.ns.close()
		names = append(names, p.ns.name)
		os.RemoveAll(filepath.Join(etcNetns, p.ns.name)) // its resolv.conf
	}
	for _, r := range f.routers {
		r.ns.close()
		names = append(names, r.ns.name)
	}
	for _, ns := range []*netns{f.svc, f.inet} {
		if ns != nil {
			ns.close()
		}
	}
	names = append(names, f.id+"-svc", f.id+"-inet")
	f.ports, f.routers = map[portKey]*port{}, map[string]*router{}
	return delNetns(names...)
}
