// Package egress owns the egress proxy a confined process reaches the
// virtual cloud through: HTTP CONNECT, plain HTTP proxying and SOCKS5 on one
// port, each connection dialed through the fabric from the endpoint's
// address (DESIGN.md §4).
//
// In the userspace fabric a job or a scoring replica has no route of its own
// into the virtual cloud. The fabric starts one Proxy per endpoint and points
// HTTP_PROXY, HTTPS_PROXY and ALL_PROXY (and their lower-case forms) at it;
// every destination the process asks for becomes one call of a Dialer, which
// the fabric admits or refuses by the network rules. The proxy knows nothing
// of the fabric: it turns what the client named into a virtual IPv4 address
// and port, and when the dial fails it shows the client why.
//
// The proxy speaks plaintext HTTP/1.1 and SOCKS5 on the same port and tells
// them apart by the first byte, so every variable can name the same address
// (http://user:pass@host:port for HTTP_PROXY and HTTPS_PROXY,
// socks5h://user:pass@host:port for ALL_PROXY so that names are resolved
// here, by the Resolver). With RequireCredentials, a client must present
// them: HTTP Proxy-Authorization (Basic), or SOCKS5's username/password
// method (RFC 1929).
//
// What a client sees when it does not get its connection:
//
//	outcome                                   HTTP                               SOCKS5 reply
//	malformed request                         400 Bad Request                    0x01 general failure (or close)
//	request head over the size limit          431                                -
//	IPv6 literal, or a name nobody resolves   502 Bad Gateway                    0x04 host unreachable
//	Dialer refused (the network rules)        403 Forbidden, X-Vnetml-Denied: 1  0x02 not allowed by ruleset
//	Dialer error wrapping ECONNREFUSED        502 Bad Gateway                    0x05 connection refused
//	Dialer error wrapping EHOSTUNREACH        502 Bad Gateway                    0x04 host unreachable
//	Dialer error wrapping ENETUNREACH         502 Bad Gateway                    0x03 network unreachable
//	Dialer timed out                          504 Gateway Timeout                0x06 TTL expired
//	unsupported SOCKS command / address type  -                                  0x07 / 0x08
//	credentials missing or wrong              407, Proxy-Authenticate            method 0xFF, or login status 0x01
//
// Every HTTP refusal is text/plain whose body explains it; a refusal by the
// network rules carries the Dialer's error text unchanged, which names the
// deciding rule and the fix. A refusal of a dial (every Dialer row above)
// also carries X-Vnetml-Destination: ip:port, the virtual address the
// client's name resolved to, which the rules judged.
//
// Limits, so that a slow or hostile client cannot hold a goroutine forever:
// a request head (or SOCKS5 handshake) must arrive within 30 s and an HTTP
// head may not exceed 64 KiB; a kept-alive HTTP connection idle for 30 s is
// closed; a Dialer call is given 30 s. A tunnel (CONNECT, SOCKS5, an upgraded
// connection) has no idle limit: it lasts until either side closes it or the
// proxy is closed.
package egress

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Dialer opens a connection to a virtual destination on behalf of the
// proxy's endpoint. A refusal by the network rules is an error whose text
// explains it (which rule, what to change); the proxy shows that text to the
// client.
//
// ctx bounds the dial only (the proxy gives up after 30 s); the connection
// lives on until the proxy closes it. A timeout is an error for which
// errors.Is(err, context.DeadlineExceeded) holds or that has a Timeout method
// returning true. An error that wraps syscall.ECONNREFUSED (nothing listens),
// syscall.EHOSTUNREACH or syscall.ENETUNREACH is a failure to reach the
// destination rather than a refusal; every other error is a refusal by the
// network rules. A Dialer's error type can join the first group by having
// an Is method that matches syscall.ECONNREFUSED.
//
// A Dialer must be safe for concurrent use.
type Dialer func(ctx context.Context, dst netip.AddrPort) (net.Conn, error)

// Resolver maps a host name to a virtual address (platform service names
// such as mystore.blob.core.windows.net); false when unknown. The proxy
// passes the name in lower case, without a trailing dot. Only IPv4 answers
// are used. A Resolver must be safe for concurrent use.
type Resolver func(host string) (netip.Addr, bool)

// Proxy is the egress proxy of one endpoint. Make one with New; the zero
// value is not usable.
//
// Concurrency: every method is safe for concurrent use. Serve may run on
// several listeners at once; Close stops them all.
type Proxy struct {
	dial    Dialer
	resolve Resolver
	log     *slog.Logger
	// requireAuth makes every client present user and pass
	// (RequireCredentials).
	requireAuth bool
	user, pass  string

	closed context.Context // done once Close is called
	close  context.CancelFunc

	// Limits; fields so that tests can shorten them.
	headTimeout   time.Duration // to read a request head (HTTP) or a handshake (SOCKS5), and idle between keep-alive requests
	dialTimeout   time.Duration // for one Dialer call
	maxHeadBytes  int64         // of one HTTP request head
	lingerTimeout time.Duration // to let a refused client read its answer before the connection is closed
}

const (
	defaultHeadTimeout   = 30 * time.Second
	defaultDialTimeout   = 30 * time.Second
	defaultMaxHeadBytes  = 64 << 10
	defaultLingerTimeout = 2 * time.Second
	lingerMaxBytes       = 256 << 10
)

// New returns a proxy that dials with dial and resolves names with resolve.
// resolve may be nil: then only IPv4 addresses can be reached. log may be
// nil: then nothing is logged, except a recovered panic, which goes to
// slog.Default. New panics if dial is nil.
func New(dial Dialer, resolve Resolver, log *slog.Logger) *Proxy {
	if dial == nil {
		panic("egress: New with a nil Dialer")
	}
	if resolve == nil {
		resolve = func(string) (netip.Addr, bool) { return netip.Addr{}, false }
	}
	closed, closeFn := context.WithCancel(context.Background())
	return &Proxy{
		dial: dial, resolve: resolve, log: log,
		closed: closed, close: closeFn,
		headTimeout: defaultHeadTimeout, dialTimeout: defaultDialTimeout,
		maxHeadBytes: defaultMaxHeadBytes, lingerTimeout: defaultLingerTimeout,
	}
}

// RequireCredentials makes the proxy serve only clients that present user
// and password: HTTP's Proxy-Authorization (Basic), SOCKS5's
// username/password method (RFC 1929). Without it, any process that can
// reach the proxy's port is served. Call it before Serve.
// Empty credentials are credentials too: they are required, not skipped.
func (p *Proxy) RequireCredentials(user, password string) {
	p.requireAuth, p.user, p.pass = true, user, password
}

// authorized reports whether a client's credentials are the proxy's, in
// constant time.
func (p *Proxy) authorized(user, pass string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(p.user))
	w := subtle.ConstantTimeCompare([]byte(pass), []byte(p.pass))
	return u&w == 1
}

// Serve accepts connections on ln until it is closed or ctx is done, and
// serves each in its own goroutine. It detects the protocol from the first
// byte: 0x05 → SOCKS5; anything else → HTTP/1.1 proxy requests (CONNECT
// host:port, and absolute-form requests such as GET http://host:port/path,
// which it forwards over a dialed connection in origin form, keeping the
// method, headers (minus hop-by-hop and Proxy-* headers) and body, streaming
// both ways, and keep-alive).
//
// When ctx is done or Close is called, Serve closes ln and every connection
// it serves, waits for their goroutines to end, and returns nil. Otherwise
// it returns the error that made Accept fail for good, after the same
// clean-up. Serve always closes ln.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.closed, cancel)
	defer stop()
	context.AfterFunc(ctx, func() { ln.Close() })

	var wg sync.WaitGroup
	err := p.accept(ctx, ln, &wg)
	cancel()
	ln.Close()
	wg.Wait()
	return err
}

func (p *Proxy) accept(ctx context.Context, ln net.Listener, wg *sync.WaitGroup) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Running out of file descriptors must not end the proxy:
			// wait a little, as net/http does, and try again.
			var tmp interface{ Temporary() bool }
			if errors.As(err, &tmp) && tmp.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return nil
				}
				continue
			}
			return err
		}
		backoff = 0
		wg.Go(func() { p.serveConn(ctx, c) })
	}
}

// Close stops accepting and closes every connection being served; every
// Serve returns. It always returns nil; calling it again does nothing.
func (p *Proxy) Close() error {
	p.close()
	return nil
}

// conn is one client connection.
type conn struct {
	p   *Proxy
	ctx context.Context // done when the connection must end
	c   net.Conn
	lr  *headLimit
	br  *bufio.Reader // reads c through lr
	bw  *bufio.Writer
	wg  sync.WaitGroup // goroutines the connection started besides its own
}

func (p *Proxy) serveConn(ctx context.Context, c net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	cc := &conn{p: p, ctx: ctx, c: c, lr: &headLimit{r: c, n: -1}}
	// Ending the context is how anything ends the connection: Close, the
	// Serve context, or this function returning.
	context.AfterFunc(ctx, func() { c.Close() })
	defer cc.wg.Wait()
	defer cancel()
	defer p.recover(c)

	cc.br = bufio.NewReaderSize(cc.lr, 4096)
	cc.bw = bufio.NewWriterSize(c, 4096)
	c.SetReadDeadline(time.Now().Add(p.headTimeout))
	first, err := cc.br.Peek(1)
	if err != nil {
		return
	}
	if first[0] == socksVersion {
		cc.serveSOCKS()
	} else {
		cc.serveHTTP()
	}
}

// recover keeps one client's bad luck from ending the process the proxy
// runs in (the fabric, and with it the server): the connection is closed and
// the panic logged with its stack.
func (p *Proxy) recover(c net.Conn) {
	r := recover()
	if r == nil {
		return
	}
	c.Close()
	log := p.log
	if log == nil {
		log = slog.Default()
	}
	log.Error("egress: panic serving a connection", "client", addrString(c.RemoteAddr()),
		"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
}

// headLimit bounds how much a client may send before the proxy knows what
// it wants, so that an endless request head cannot grow memory without
// bound. A negative n lifts the limit.
type headLimit struct {
	r io.Reader
	n int64
}

var errHeadTooLarge = errors.New("request head too large")

func (l *headLimit) Read(b []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(b)
	}
	if l.n == 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.r.Read(b)
	l.n -= int64(n)
	return n, err
}

// refusal is why the proxy did not connect a client to the destination it
// asked for: the HTTP status and the SOCKS5 reply are the two protocols'
// words for the same outcome.
type refusal struct {
	status int
	reply  byte
	denied bool // refused by the network rules: X-Vnetml-Denied: 1
	authn  bool // credentials missing or wrong: Proxy-Authenticate
	msg    string
	// dst is the virtual destination the dial was for, once a name was
	// resolved: X-Vnetml-Destination, so that a client that named a host
	// can say which address the rules judged.
	dst netip.AddrPort
}

func badRequest(format string, args ...any) *refusal {
	return &refusal{status: http.StatusBadRequest, reply: socksGeneralFailure,
		msg: "vnetml egress: bad request: " + fmt.Sprintf(format, args...)}
}

// destination maps the host and port a client named to a virtual address.
// host is bare: an IPv4 literal, an IPv6 literal without brackets, or a name.
func (p *Proxy) destination(host string, port uint16) (netip.AddrPort, *refusal) {
	if port == 0 {
		return netip.AddrPort{}, badRequest("port 0 of %q is not a destination", host)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Is4() {
			return netip.AddrPortFrom(a, port), nil
		}
		return netip.AddrPort{}, unreachable(host, "it is an IPv6 address, and the virtual network is IPv4")
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "" {
		return netip.AddrPort{}, badRequest("empty host name")
	}
	a, ok := p.resolve(name)
	if !ok {
		return netip.AddrPort{}, unreachable(host, "no platform service has that name")
	}
	if a = a.Unmap(); !a.Is4() {
		return netip.AddrPort{}, unreachable(host, "it does not resolve to an IPv4 address")
	}
	return netip.AddrPortFrom(a, port), nil
}

func unreachable(host, why string) *refusal {
	return &refusal{status: http.StatusBadGateway, reply: socksHostUnreachable,
		msg: fmt.Sprintf("vnetml egress: cannot reach %q: %s. Names of platform services "+
			"(such as mystore.blob.core.windows.net) resolve; any other destination must be given as "+
			"an IPv4 address of the virtual network.", host, why)}
}

// parsePort parses a decimal TCP port.
func parsePort(s string) (uint16, bool) {
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

// dialTo asks the Dialer for a connection to dst, within the dial timeout, and
// turns its failure into what the client is told.
func (p *Proxy) dialTo(ctx context.Context, dst netip.AddrPort) (net.Conn, *refusal) {
	dctx, cancel := context.WithTimeout(ctx, p.dialTimeout)
	defer cancel()
	c, err := p.dial(dctx, dst)
	if err == nil {
		if c == nil {
			return nil, &refusal{status: http.StatusBadGateway, reply: socksGeneralFailure,
				msg: fmt.Sprintf("vnetml egress: connecting to %s: the fabric returned no connection", dst)}
		}
		return c, nil
	}
	if c != nil {
		c.Close()
	}
	return nil, dialRefusal(ctx, dst, err)
}

func dialRefusal(ctx context.Context, dst netip.AddrPort, err error) *refusal {
	r := dialRefusalOf(ctx, dst, err)
	r.dst = dst
	return r
}

func dialRefusalOf(ctx context.Context, dst netip.AddrPort, err error) *refusal {
	var timeout interface{ Timeout() bool }
	switch {
	case ctx.Err() != nil:
		// The proxy is closing; the client will not read this anyway.
		return &refusal{status: http.StatusServiceUnavailable, reply: socksGeneralFailure,
			msg: "vnetml egress: the proxy is shutting down"}
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timeout) && timeout.Timeout():
		return &refusal{status: http.StatusGatewayTimeout, reply: socksTTLExpired,
			msg: fmt.Sprintf("vnetml egress: connecting to %s timed out: %v", dst, err)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &refusal{status: http.StatusBadGateway, reply: socksConnectionRefused,
			msg: fmt.Sprintf("vnetml egress: %s refused the connection: %v", dst, err)}
	case errors.Is(err, syscall.EHOSTUNREACH):
		return &refusal{status: http.StatusBadGateway, reply: socksHostUnreachable,
			msg: fmt.Sprintf("vnetml egress: %s is unreachable: %v", dst, err)}
	case errors.Is(err, syscall.ENETUNREACH):
		return &refusal{status: http.StatusBadGateway, reply: socksNetworkUnreachable,
			msg: fmt.Sprintf("vnetml egress: the network of %s is unreachable: %v", dst, err)}
	default:
		return &refusal{status: http.StatusForbidden, reply: socksNotAllowed, denied: true, msg: err.Error()}
	}
}

// lingerClose half-closes c and reads what the client still sends, for a
// bounded time and amount, before the connection is closed: closing a socket
// with unread data makes the kernel send a reset, which can destroy the
// answer the client has not read yet.
func (c *conn) lingerClose() {
	if cw, ok := c.c.(closeWriter); ok {
		if cw.CloseWrite() != nil {
			return
		}
	}
	c.c.SetReadDeadline(time.Now().Add(c.p.lingerTimeout))
	c.lr.n = -1
	io.CopyN(io.Discard, c.br, lingerMaxBytes)
}

type closeWriter interface{ CloseWrite() error }

// closeOnDone closes c when ctx is done, until the returned function is
// called.
func closeOnDone(ctx context.Context, c io.Closer) (stop func() bool) {
	return context.AfterFunc(ctx, func() { c.Close() })
}

// splice copies between a client and the server it asked for until both
// directions end, then closes both. toServer and toClient are bytes already
// read from one side for the other. When one side stops sending, the other
// is half-closed so that protocols which shut down writing to mark the end
// of a request still get their answer; if either connection cannot
// half-close, or a copy fails, the end of one direction ends both.
func splice(client net.Conn, toServer []byte, server net.Conn, toClient []byte) (sent, received int64) {
	_, ok1 := client.(closeWriter)
	_, ok2 := server.(closeWriter)
	half := ok1 && ok2
	var wg sync.WaitGroup
	wg.Go(func() { sent = pipe(server, client, toServer, half) })
	received = pipe(client, server, toClient, half)
	wg.Wait()
	client.Close()
	server.Close()
	return sent, received
}

func pipe(dst, src net.Conn, pending []byte, half bool) int64 {
	var n int64
	var err error
	if len(pending) > 0 {
		var m int
		m, err = dst.Write(pending)
		n += int64(m)
	}
	if err == nil {
		var m int64
		// io.Copy between two *net.TCPConn uses splice(2) on Linux.
		m, err = io.Copy(dst, src)
		n += m
	}
	if err == nil && half {
		err = dst.(closeWriter).CloseWrite()
	}
	if err != nil || !half {
		dst.Close()
		src.Close()
	}
	return n
}

// addrString formats a connection's address; a listener that is not TCP
// may give none.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// debugOn reports whether a debug record would be written, so that records
// are built only then.
func (p *Proxy) debugOn(ctx context.Context) bool {
	return p.log != nil && p.log.Enabled(ctx, slog.LevelDebug)
}

// logConn logs one connection the proxy carried, once it has ended.
func (p *Proxy) logConn(ctx context.Context, proto string, client net.Addr, dst netip.AddrPort, sent, received int64, extra ...slog.Attr) {
	if !p.debugOn(ctx) {
		return
	}
	attrs := append([]slog.Attr{
		slog.String("proto", proto), slog.String("client", addrString(client)), slog.String("dst", dst.String()),
		slog.Int64("sent", sent), slog.Int64("received", received),
	}, extra...)
	p.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelDebug, "egress connection", attrs...)
}

// logRefusal logs a connection the proxy did not make.
func (p *Proxy) logRefusal(ctx context.Context, proto string, client net.Addr, target string, r *refusal) {
	if !p.debugOn(ctx) {
		return
	}
	p.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelDebug, "egress refused",
		slog.String("proto", proto), slog.String("client", addrString(client)), slog.String("target", target),
		slog.Int("status", r.status), slog.Int("socks_reply", int(r.reply)), slog.Bool("denied", r.denied),
		slog.String("reason", r.msg))
}
