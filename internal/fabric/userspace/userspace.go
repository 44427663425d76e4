// Package userspace is the fabric that runs on every OS without
// privileges (DESIGN.md §4): each virtual listener is a real loopback
// listener; each virtual connection is a loopback connection that starts
// with a PROXY protocol v2 header carrying the virtual source and
// destination, authenticated with the deployment's key, so that a
// listener refuses anything that did not come through the fabric's
// decision; a confined process reaches the virtual cloud through a
// per-endpoint egress proxy (HTTP CONNECT, plain HTTP proxying and SOCKS5)
// that dials from the endpoint's address.
//
// What it does not stop: confinement is cooperative. A process that
// ignores its proxy settings can open any loopback or real network
// connection its user may, and a process of the server's user that reads
// the key file can forge headers. docs/fabric.md says this in full; the
// linux fabric (network namespaces and nftables) is the boundary that
// holds against such a process.
package userspace

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/egress"
	"github.com/vnetml/vnetml/internal/fabric/proxyproto"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// Options configure a Fabric. The zero value is usable (a fresh key, no
// log, the default flow log size).
type Options struct {
	// Key authenticates headers; the zero Key means a fresh random one
	// (fine in one process; a deployment keeps its key in a file so that
	// processes it starts can verify too).
	Key proxyproto.Key
	// Logger receives refused forgeries and proxy errors; nil discards.
	Logger *slog.Logger
	// FlowLogSize is how many flow records are kept (0: the default).
	FlowLogSize int
	// HandshakeTimeout bounds reading a connection's header (0: 5s).
	HandshakeTimeout time.Duration
}

// Fabric is the userspace fabric. Create it with New.
type Fabric struct {
	key       proxyproto.Key
	verifier  *proxyproto.Verifier
	log       *slog.Logger
	flows     *fabric.FlowLog
	handshake time.Duration
	eng       atomic.Pointer[flow.Engine]

	mu sync.RWMutex
	// bindings are the listeners at each virtual address: one, or one per
	// network interface where virtual networks overlap.
	bindings map[netip.AddrPort][]*binding
	names    fabric.Names
	proxies  map[string]*egressProxy
	closers  map[io.Closer]struct{} // listeners, exposures and live connections
	closed   bool

	ports sync.Map // netip.Addr → *atomic.Uint32: the next ephemeral port of a source

	// peers are the peers of connections dialed whose header the
	// listener has not read yet, by the header's source and destination.
	peerMu sync.Mutex
	peers  map[[2]netip.AddrPort]pendingPeer
}

type pendingPeer struct {
	peer fabric.Peer
	at   time.Time
}

// putPeer remembers the peer of a connection about to be written to a
// listener; the listener takes it with takePeer. Entries of connections
// whose header was never read are dropped once they are older than a
// header may be.
func (f *Fabric) putPeer(k [2]netip.AddrPort, p fabric.Peer) {
	now := time.Now()
	f.peerMu.Lock()
	defer f.peerMu.Unlock()
	if f.peers == nil {
		f.peers = map[[2]netip.AddrPort]pendingPeer{}
	}
	if len(f.peers) >= 1024 {
		for k, e := range f.peers {
			if now.Sub(e.at) > proxyproto.MaxSkew {
				delete(f.peers, k)
			}
		}
	}
	f.peers[k] = pendingPeer{peer: p, at: now}
}

func (f *Fabric) takePeer(k [2]netip.AddrPort) (fabric.Peer, bool) {
	f.peerMu.Lock()
	defer f.peerMu.Unlock()
	e, ok := f.peers[k]
	delete(f.peers, k)
	return e.peer, ok
}

var _ fabric.Fabric = (*Fabric)(nil)

// binding is a virtual address served by a real loopback listener.
type binding struct {
	ep    fabric.Endpoint
	vaddr netip.AddrPort
	real  netip.AddrPort
	// exposure is set (under Fabric.mu) when the binding is an exposed
	// port: dial then connects straight to its target.
	exposure *exposure
}

// exposure is an exposed port's target, and the connections dialed
// straight to it, which its closing ends. The fabric decided each, so
// nothing is gained by passing them through its loopback listener and a
// relay, and the relay cost a hop of copying on every byte.
type exposure struct {
	target netip.AddrPort
	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
}

// carry adds c to the connections x ends; false once x is closed.
func (x *exposure) carry(c *conn) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return false
	}
	x.conns[c] = struct{}{}
	return true
}

func (x *exposure) drop(c *conn) {
	x.mu.Lock()
	delete(x.conns, c)
	x.mu.Unlock()
}

// close ends the connections x carries as the relay's closing did: their
// dialers read an end of stream (not a use of a closed connection), and
// close them in their time.
func (x *exposure) close() {
	x.mu.Lock()
	x.closed = true
	cs := x.conns
	x.conns = nil
	x.mu.Unlock()
	for c := range cs {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			tc.CloseRead()
			tc.CloseWrite()
		} else {
			c.Close()
		}
	}
}

// exposed is an Expose's Closer: its relay (for connections that reach
// the loopback listener otherwise) and its exposure.
type exposed struct {
	relay fabric.Closer
	x     *exposure
}

func (e exposed) Close() error {
	err := e.relay.Close()
	e.x.close()
	return err
}

type egressProxy struct {
	proxy *egress.Proxy
	addr  string
	// secret is the proxy's password: only the processes it is handed to
	// (in their proxy URLs) are served.
	secret string
}

// New returns a fabric. It decides nothing until Apply gives it an engine.
func New(o Options) *Fabric {
	if o.Key == (proxyproto.Key{}) {
		o.Key = proxyproto.NewKey()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 5 * time.Second
	}
	return &Fabric{
		key: o.Key, verifier: proxyproto.NewVerifier(o.Key, nil), log: o.Logger,
		flows: fabric.NewFlowLog(o.FlowLogSize), handshake: o.HandshakeTimeout,
		bindings: map[netip.AddrPort][]*binding{},
		proxies:  map[string]*egressProxy{}, closers: map[io.Closer]struct{}{},
	}
}

// ErrNoEngine is returned by Dial before the first Apply.
var ErrNoEngine = errors.New("fabric: no network applied yet: the fabric decides nothing until the server compiles the network")

// Apply implements fabric.Fabric.
func (f *Fabric) Apply(eng *flow.Engine) { f.eng.Store(eng) }

// Log implements fabric.Fabric.
func (f *Fabric) Log() *fabric.FlowLog { return f.flows }

// SetName implements fabric.Fabric.
func (f *Fabric) SetName(name string, addr netip.Addr) { f.names.Set(name, addr) }

// Resolve implements fabric.Fabric: a registered name, or an IPv4 literal.
func (f *Fabric) Resolve(name string) (netip.Addr, bool) { return f.names.Resolve(name) }

// track registers something to close with the fabric; false when the
// fabric is closed already.
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

// Listen implements fabric.Fabric.
func (f *Fabric) Listen(ctx context.Context, ep fabric.Endpoint, port uint16) (net.Listener, error) {
	if !ep.Addr.Is4() {
		return nil, fmt.Errorf("fabric: listen on %v: a virtual address is IPv4", ep.Addr)
	}
	vaddr := netip.AddrPortFrom(ep.Addr, port)
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	real := ln.Addr().(*net.TCPAddr).AddrPort()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		ln.Close()
		return nil, net.ErrClosed
	}
	for _, o := range f.bindings[vaddr] {
		if o.ep.NIC == "" || ep.NIC == "" || strings.EqualFold(o.ep.NIC, ep.NIC) {
			f.mu.Unlock()
			ln.Close()
			return nil, fmt.Errorf("fabric: listen on %s: address already in use", vaddr)
		}
	}
	b := &binding{ep: ep, vaddr: vaddr, real: real}
	f.bindings[vaddr] = append(f.bindings[vaddr], b)
	l := &listener{f: f, ln: ln, b: b, accepted: make(chan net.Conn, acceptBacklog), done: make(chan struct{}),
		handshakes: make(chan struct{}, maxHandshakes)}
	f.closers[l] = struct{}{}
	f.mu.Unlock()
	go l.loop()
	return l, nil
}

// Limits of one listener, against a local process that floods its
// loopback port: headers being read at once, admitted connections the
// application has not accepted yet (a backlog), refusals logged per second.
const (
	maxHandshakes   = 256
	acceptBacklog   = 128
	refusalsLogged  = 10
	acceptRetryBase = 5 * time.Millisecond
)

// listener accepts the real connections of a binding, and hands on those
// whose header the fabric wrote for this address.
type listener struct {
	f          *Fabric
	ln         net.Listener
	b          *binding
	accepted   chan net.Conn
	handshakes chan struct{} // a semaphore
	done       chan struct{}
	closeOnce  sync.Once

	refusalMu  sync.Mutex
	refusalSec int64 // the unix second being counted
	refusals   int   // refusals in that second
}

func (l *listener) loop() {
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.Close()
				return
			}
			// Out of file descriptors, say: wait and try again, as
			// net/http does; one exhausted moment must not close the
			// virtual listener for good.
			backoff = min(max(2*backoff, acceptRetryBase), time.Second)
			select {
			case <-time.After(backoff):
			case <-l.done:
				return
			}
			continue
		}
		backoff = 0
		select {
		case l.handshakes <- struct{}{}:
			go func() {
				defer func() { <-l.handshakes }()
				l.handshake(c)
			}()
		default:
			c.Close() // too many headers being read at once
			l.refuse(c, "too many connections are being set up at once")
		}
	}
}

// refuse logs a refused loopback connection: at most refusalsLogged a
// second per listener, then one record saying how many more there were.
func (l *listener) refuse(c net.Conn, why string) {
	now := time.Now()
	l.refusalMu.Lock()
	if s := now.Unix(); s != l.refusalSec {
		if extra := l.refusals - refusalsLogged; extra > 0 {
			l.f.flows.Append(fabric.Record{Time: now, Proto: "T", Src: "127.0.0.1", Dst: l.b.vaddr.String(), DstNIC: l.b.ep.NIC,
				Decision: "D", State: "B", Stage: "fabric", Reason: fmt.Sprintf("%d more refused loopback connections in the second before", extra)})
		}
		l.refusalSec, l.refusals = s, 0
	}
	l.refusals++
	log := l.refusals <= refusalsLogged
	l.refusalMu.Unlock()
	if !log {
		return
	}
	l.f.flows.Append(fabric.Record{
		Time: now, Proto: "T", Src: c.RemoteAddr().String(), Dst: l.b.vaddr.String(), DstNIC: l.b.ep.NIC,
		Decision: "D", State: "B", Stage: "fabric",
		Reason: fmt.Sprintf("a loopback connection to %s was refused: %s; only connections the fabric decided may reach a virtual endpoint", l.b.vaddr, why),
	})
	l.f.log.Warn("fabric: refused a connection that bypassed the fabric", "virtual", l.b.vaddr, "from", c.RemoteAddr(), "reason", why)
}

// handshake reads and checks a connection's header. A connection without
// a valid one did not come through the fabric: it is refused and logged.
func (l *listener) handshake(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(l.f.handshake))
	h, err := l.f.verifier.Read(c)
	if err == nil && h.Dst != l.b.vaddr {
		// Signed for another address: a connection decided for X must
		// never be delivered to Y (a loopback port reused by a new
		// listener between a decision and its connection).
		err = fmt.Errorf("its header is for %s", h.Dst)
	}
	if err != nil {
		c.Close()
		l.refuse(c, fmt.Sprintf("no valid fabric header (%v)", err))
		return
	}
	c.SetReadDeadline(time.Time{})
	vc := &conn{Conn: c, local: fabric.Addr(h.Dst), remote: fabric.Addr(h.Src)}
	vc.peer, vc.hasPeer = l.f.takePeer([2]netip.AddrPort{h.Src, h.Dst})
	select {
	case l.accepted <- vc:
	case <-l.done:
		c.Close()
	default:
		c.Close() // the application is not accepting: a full backlog
		l.refuse(c, "the listener's backlog is full")
	}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.accepted:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		l.f.mu.Lock()
		bs := l.f.bindings[l.b.vaddr]
		for i, b := range bs {
			if b == l.b {
				bs = append(bs[:i:i], bs[i+1:]...)
				break
			}
		}
		if len(bs) == 0 {
			delete(l.f.bindings, l.b.vaddr)
		} else {
			l.f.bindings[l.b.vaddr] = bs
		}
		delete(l.f.closers, l)
		l.f.mu.Unlock()
		l.ln.Close()
		close(l.done)
		for {
			select {
			case c := <-l.accepted:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (l *listener) Addr() net.Addr { return fabric.Addr(l.b.vaddr) }

// RealAddr returns the loopback address behind a virtual one (tests use it
// to try to bypass the fabric).
func (f *Fabric) RealAddr(vaddr netip.AddrPort) (netip.AddrPort, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	bs := f.bindings[vaddr]
	if len(bs) == 0 {
		return netip.AddrPort{}, false
	}
	return bs[0].real, true
}

// ephemeral returns the next ephemeral port of a source address.
func (f *Fabric) ephemeral(a netip.Addr) uint16 {
	v, _ := f.ports.LoadOrStore(a, new(atomic.Uint32))
	ctr := v.(*atomic.Uint32)
	n := ctr.Add(1)
	const first, count = 49152, 65536 - 49152
	if n == 1 {
		// Start each source somewhere random, as kernels do.
		ctr.Add(uint32(mrand.IntN(count)))
		n = ctr.Load()
	}
	return uint16(first + n%count)
}

// Dial implements fabric.Fabric.
func (f *Fabric) Dial(ctx context.Context, src fabric.Endpoint, dst netip.AddrPort) (net.Conn, error) {
	eng := f.eng.Load()
	if eng == nil {
		return nil, &fabric.Unresolved{Err: ErrNoEngine}
	}
	// The destination as the engine should see it: the endpoint listening
	// there when there is exactly one (a platform service with its
	// firewall, or a NIC reached from outside by its private address, as
	// Batch management reaches nodes); else the bare address, which the
	// engine delivers within the source's network.
	f.mu.RLock()
	if bs := f.bindings[dst]; len(bs) == 1 {
		dstEp := bs[0].ep
		f.mu.RUnlock()
		return f.dial(ctx, eng, src, dstEp, dst)
	}
	f.mu.RUnlock()
	return f.dial(ctx, eng, src, fabric.Endpoint{Addr: dst.Addr()}, dst)
}

// DialEndpoint implements fabric.Fabric.
func (f *Fabric) DialEndpoint(ctx context.Context, src, dst fabric.Endpoint, port uint16) (net.Conn, error) {
	eng := f.eng.Load()
	if eng == nil {
		return nil, &fabric.Unresolved{Err: ErrNoEngine}
	}
	return f.dial(ctx, eng, src, dst, netip.AddrPortFrom(dst.Addr, port))
}

func (f *Fabric) dial(ctx context.Context, eng *flow.Engine, src, dstEp fabric.Endpoint, dst netip.AddrPort) (net.Conn, error) {
	srcAddr := src.Addr
	if !srcAddr.IsValid() && src.NIC != "" {
		if n, err := eng.NIC(src.NIC); err == nil && len(n.IPConfigs) > 0 {
			srcAddr = n.IPConfigs[0].Addr
		}
	}
	sport := f.ephemeral(srcAddr)
	v, err := eng.Path(src.FlowEndpoint(), dstEp.FlowEndpoint(), network.ProtoTCP, sport, dst.Port())
	if err != nil {
		// Not a rule's refusal: an endpoint the network does not know.
		from := src.NIC
		if from == "" {
			from = srcAddr.String()
		}
		f.flows.Append(fabric.Record{Time: time.Now(), Proto: "T", Src: from, Dst: dst.String(), SrcNIC: src.NIC, DstNIC: dstEp.NIC,
			Decision: "D", State: "B", Stage: "decision", Reason: err.Error()})
		return nil, &fabric.Unresolved{Err: fmt.Errorf("fabric: %s -> %s: %w", from, dst, err)}
	}
	src.Addr = v.Packet.Src
	from := netip.AddrPortFrom(v.Packet.Src, sport)
	logged := &v
	if dstEp.Service != "" && fabric.FirewallOnly(&v) {
		// The network delivers it; the service's firewall refuses its
		// requests one by one (and logs them). The flow is logged as the
		// network decided it.
		nv := v
		nv.Access, nv.Hops = flow.Allow, v.Hops[:len(v.Hops)-1]
		logged = &nv
	} else if v.Access == flow.Deny {
		f.flows.Append(fabric.RecordOf(src, sport, dstEp, dst.Port(), &v))
		return nil, &fabric.Denied{Src: from, Dst: dst, Verdict: v}
	}
	rec := fabric.RecordOf(src, sport, dstEp, dst.Port(), logged)
	// The listener of the packet as delivered: a public IP translated to
	// its NIC's private address, on that very NIC where networks overlap.
	seen := netip.AddrPortFrom(v.Seen.Dst, dst.Port())
	var b *binding
	var x *exposure
	f.mu.RLock()
	for _, c := range f.bindings[seen] {
		if c.ep.NIC == "" && v.SeenNIC == "" || c.ep.NIC != "" && network.SameID(c.ep.NIC, v.SeenNIC) {
			b, x = c, c.exposure
		}
	}
	f.mu.RUnlock()
	if b != nil {
		rec.DstNIC = b.ep.NIC
	}
	refused := func(why string) error {
		f.flows.Append(rec)
		end := rec
		end.Time, end.State, end.Reason = time.Now(), "E", why
		f.flows.Append(end)
		return &fabric.Refused{Src: from, Dst: dst}
	}
	if b == nil {
		return nil, refused(fmt.Sprintf("allowed, but nothing listens at %s", seen))
	}
	var d net.Dialer
	if x != nil {
		return f.dialExposure(ctx, x, from, dst, rec, refused)
	}
	c, err := d.DialContext(ctx, "tcp", b.real.String())
	if err != nil {
		return nil, refused(fmt.Sprintf("allowed, but the listener at %s is gone", seen))
	}
	hdr := proxyproto.Header{Src: netip.AddrPortFrom(v.Seen.Src, sport), Dst: seen}
	pk := [2]netip.AddrPort{hdr.Src, hdr.Dst}
	f.putPeer(pk, fabric.Peer{Src: src, SrcPort: sport, Verdict: v})
	if err := proxyproto.Write(c, hdr, f.key); err != nil {
		f.takePeer(pk)
		c.Close()
		return nil, fmt.Errorf("fabric: starting %s -> %s: %w", from, dst, err)
	}
	vc := &conn{Conn: c, local: fabric.Addr(from), remote: fabric.Addr(dst), f: f, rec: rec}
	if !f.track(vc) {
		c.Close()
		return nil, net.ErrClosed
	}
	f.flows.Append(rec)
	return vc, nil
}

// dialExposure connects a decided flow straight to an exposed port's
// target.
func (f *Fabric) dialExposure(ctx context.Context, x *exposure, from, dst netip.AddrPort, rec fabric.Record, refused func(string) error) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", x.target.String())
	if err != nil {
		return nil, refused(fmt.Sprintf("allowed, but the exposed port's target %s does not answer", x.target))
	}
	vc := &conn{Conn: c, local: fabric.Addr(from), remote: fabric.Addr(dst), f: f, rec: rec, x: x}
	if !x.carry(vc) {
		c.Close()
		return nil, refused(fmt.Sprintf("allowed, but the port at %s is no longer exposed", dst))
	}
	if !f.track(vc) {
		x.drop(vc)
		c.Close() // not vc: its flow was never logged as begun
		return nil, net.ErrClosed
	}
	f.flows.Append(rec)
	return vc, nil
}

// conn is a virtual connection over a loopback one. The dialing side
// counts bytes and logs the flow's end.
type conn struct {
	net.Conn
	local, remote fabric.Addr
	f             *Fabric // nil on the accepting side
	rec           fabric.Record
	sent, recvd   atomic.Int64
	closeOnce     sync.Once
	peer          fabric.Peer // the accepting side's
	hasPeer       bool
	x             *exposure // the exposed port it was dialed straight to
}

// Peer implements fabric.PeerOf.
func (c *conn) Peer() (fabric.Peer, bool) { return c.peer, c.hasPeer }

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.recvd.Add(int64(n))
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.sent.Add(int64(n))
	return n, err
}

// SyscallConn gives the loopback socket, for a caller that peeks at a
// kept-alive connection to learn whether its peer closed it.
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// CloseWrite half-closes, so that request/response protocols work.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		if c.x != nil {
			c.x.drop(c)
		}
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

// Expose implements fabric.Fabric: the fabric's dials to the port connect
// straight to target once decided (see exposure), and anything else its
// listener admits is spliced there, until the returned Closer is closed
// (which also ends the connections it is carrying). ctx bounds only the
// setting up.
func (f *Fabric) Expose(ctx context.Context, ep fabric.Endpoint, port uint16, target netip.AddrPort) (fabric.Closer, error) {
	ln, err := f.Listen(ctx, ep, port)
	if err != nil {
		return nil, err
	}
	x := &exposure{target: target, conns: map[*conn]struct{}{}}
	f.mu.Lock()
	ln.(*listener).b.exposure = x
	f.mu.Unlock()
	return exposed{relay: fabric.Relay(ln, func() (net.Conn, error) { return net.Dial("tcp", target.String()) }, f.log), x: x}, nil
}

// Command implements fabric.Fabric: the process gets a small environment
// — the server's PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TZ, TMPDIR,
// TERM and SYSTEMROOT, never its secrets — plus HTTP_PROXY, HTTPS_PROXY and
// ALL_PROXY (and their lower-case forms) pointing at ep's egress proxy,
// an empty NO_PROXY so that nothing skips it, and VNETML_ADDRESS, ep's
// virtual address. The caller appends what the process needs.
func (f *Fabric) Command(ctx context.Context, ep fabric.Endpoint, name string, args ...string) (*exec.Cmd, error) {
	p, err := f.proxyFor(ep)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, name, args...)
	env := fabric.InheritedEnv()
	cred := "vnetml:" + p.secret + "@"
	httpProxy, socks := "http://"+cred+p.addr, "socks5h://"+cred+p.addr
	env = append(env, "HTTP_PROXY="+httpProxy, "HTTPS_PROXY="+httpProxy, "ALL_PROXY="+socks,
		"http_proxy="+httpProxy, "https_proxy="+httpProxy, "all_proxy="+socks, "NO_PROXY=", "no_proxy=",
		"VNETML_ADDRESS="+ep.Addr.String())
	cmd.Env = env
	return cmd, nil
}

// EgressProxy implements fabric.Fabric.
func (f *Fabric) EgressProxy(ep fabric.Endpoint) (string, error) {
	p, err := f.proxyFor(ep)
	if err != nil {
		return "", err
	}
	return "http://vnetml:" + p.secret + "@" + p.addr, nil
}

// proxyFor returns ep's egress proxy, starting it on first use.
func (f *Fabric) proxyFor(ep fabric.Endpoint) (*egressProxy, error) {
	key := ep.NIC + "|" + ep.Addr.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, net.ErrClosed
	}
	if p, ok := f.proxies[key]; ok {
		return p, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	px := egress.New(func(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
		return f.Dial(ctx, ep, dst)
	}, f.Resolve, f.log)
	secret := rand.Text()
	px.RequireCredentials("vnetml", secret)
	go px.Serve(context.Background(), ln)
	p := &egressProxy{proxy: px, addr: ln.Addr().String(), secret: secret}
	f.proxies[key] = p
	f.closers[px] = struct{}{}
	return p, nil
}

// Close implements fabric.Fabric.
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
	return nil
}
