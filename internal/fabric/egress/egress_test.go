package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testNet is a fake fabric: virtual destinations routed to real loopback
// servers, platform names, and a record of every dial.
type testNet struct {
	mu     sync.Mutex
	routes map[netip.AddrPort]string
	names  map[string]netip.Addr
	dials  []netip.AddrPort
}

func newTestNet() *testNet {
	return &testNet{routes: map[netip.AddrPort]string{}, names: map[string]netip.Addr{}}
}

// route makes the virtual destination reach the real address.
func (n *testNet) route(virtual, real string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.routes[netip.MustParseAddrPort(virtual)] = real
}

func (n *testNet) name(name, addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.names[name] = netip.MustParseAddr(addr)
}

func (n *testNet) dial(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	n.mu.Lock()
	n.dials = append(n.dials, dst)
	real, ok := n.routes[dst]
	n.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("connection refused by the network rules: no rule allows %s (test network)", dst)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", real)
}

func (n *testNet) resolve(host string) (netip.Addr, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a, ok := n.names[host]
	return a, ok
}

func (n *testNet) dialed() []netip.AddrPort {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]netip.AddrPort(nil), n.dials...)
}

// testProxy is a proxy serving on a loopback listener.
type testProxy struct {
	*Proxy
	addr string
	done chan struct{} // closed when Serve has returned
	err  error         // what Serve returned, once done
}

func startProxy(t testing.TB, dial Dialer, resolve Resolver, log *slog.Logger, tune ...func(*Proxy)) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startProxyOn(t, ln, dial, resolve, log, tune...)
}

func startProxyOn(t testing.TB, ln net.Listener, dial Dialer, resolve Resolver, log *slog.Logger, tune ...func(*Proxy)) *testProxy {
	t.Helper()
	p := New(dial, resolve, log)
	for _, f := range tune {
		f(p)
	}
	tp := &testProxy{Proxy: p, addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		tp.err = p.Serve(context.Background(), ln)
		close(tp.done)
	}()
	t.Cleanup(func() {
		p.Close()
		tp.wait(t)
	})
	return tp
}

// wait waits for Serve to return and checks that it returned nil.
func (tp *testProxy) wait(t testing.TB) {
	t.Helper()
	select {
	case <-tp.done:
		if tp.err != nil {
			t.Errorf("Serve returned %v", tp.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// dial connects to the proxy; the deadline only keeps a broken test from
// hanging.
func (tp *testProxy) dial(t testing.TB) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// startEcho starts a TCP server that echoes what it reads, and half-closes
// when its client does.
func startEcho(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c)
			})
		}
	})
	return ln.Addr().String()
}

// seen is one request as the test HTTP server saw it.
type seen struct {
	method, uri, host, remote string
	header                    http.Header
	trailer                   http.Header
	body                      string
	proto                     string
}

// origin is an HTTP server that records what reaches it.
type origin struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func startOrigin(t testing.TB, tls bool) *origin {
	t.Helper()
	o := &origin{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		o.mu.Lock()
		o.reqs = append(o.reqs, seen{method: r.Method, uri: r.RequestURI, host: r.Host, remote: r.RemoteAddr,
			header: r.Header.Clone(), trailer: r.Trailer.Clone(), body: string(b), proto: r.Proto})
		o.mu.Unlock()
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "part1,")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part2")
			w.Header().Set("X-Sum", "42")
			return
		case "/connection-header":
			w.Header().Set("Connection", "X-Hop")
			w.Header().Set("X-Hop", "1")
			w.Header().Set("Keep-Alive", "timeout=5")
		}
		w.Header().Set("X-Origin", "yes")
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	})
	if tls {
		o.Server = httptest.NewTLSServer(h)
	} else {
		o.Server = httptest.NewServer(h)
	}
	t.Cleanup(o.Close)
	return o
}

func (o *origin) requests() []seen {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]seen(nil), o.reqs...)
}

func (o *origin) hostPort() string {
	return strings.TrimPrefix(strings.TrimPrefix(o.URL, "http://"), "https://")
}

// roundTrip writes a raw request on c and reads the response.
func roundTrip(t testing.TB, c net.Conn, br *bufio.Reader, method, raw string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response to %q: %v", firstLine(raw), err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body of the response to %q: %v", firstLine(raw), err)
	}
	return resp, string(b)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

// expectClosed reads c to its end and fails unless it ends cleanly or is
// reset (no more bytes).
func expectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading until the proxy closes: %v", err)
	}
	if len(b) > 0 {
		t.Fatalf("unexpected bytes before close: %q", b)
	}
}

func TestConnectEcho(t *testing.T) {
	n := newTestNet()
	n.route("10.0.0.9:7", startEcho(t))
	n.name("echo.internal", "10.0.0.9")
	tp := startProxy(t, n.dial, n.resolve, nil)

	for _, target := range []string{"10.0.0.9:7", "echo.internal:7", "ECHO.Internal.:7"} {
		t.Run(target, func(t *testing.T) {
			c := tp.dial(t)
			br := bufio.NewReader(c)
			fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
			resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			io.WriteString(c, "hello through the fabric")
			// Half-close: the echo server sees the end, echoes, and ends.
			c.CloseWrite()
			got, err := io.ReadAll(br)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "hello through the fabric" {
				t.Fatalf("echo %q", got)
			}
		})
	}
}

func TestConnectDataBeforeReply(t *testing.T) {
	n := newTestNet()
	n.route("10.0.0.9:7", startEcho(t))
	tp := startProxy(t, n.dial, n.resolve, nil)
	c := tp.dial(t)
	// The request and the first bytes of the tunnel in one write, as a
	// client that does not wait for the 200 sends them.
	io.WriteString(c, "CONNECT 10.0.0.9:7 HTTP/1.1\r\nHost: 10.0.0.9:7\r\n\r\nearly bytes")
	c.CloseWrite()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	got, _ := io.ReadAll(br)
	if string(got) != "early bytes" {
		t.Fatalf("echo %q", got)
	}
}

// TestLoopbackIsNotSpecial: 127.0.0.1 goes to the Dialer like any address,
// and "localhost" is a name like any other, which the Resolver decides.
func TestLoopbackIsNotSpecial(t *testing.T) {
	n := newTestNet()
	echo := startEcho(t)
	n.route(echo, echo)
	tp := startProxy(t, n.dial, n.resolve, nil)

	c := tp.dial(t)
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\n", echo)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: %v %v", echo, resp, err)
	}
	if d := n.dialed(); len(d) != 1 || d[0].String() != echo {
		t.Fatalf("dialed %v, want [%s]", d, echo)
	}

	_, port, _ := net.SplitHostPort(echo)
	c2 := tp.dial(t)
	resp, body := roundTrip(t, c2, bufio.NewReader(c2), http.MethodConnect, "CONNECT localhost:"+port+" HTTP/1.1\r\n\r\n")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, `"localhost"`) {
		t.Fatalf("CONNECT localhost: %d %q", resp.StatusCode, body)
	}
	if d := n.dialed(); len(d) != 1 {
		t.Fatalf("localhost was dialed: %v", d)
	}
}

func TestDialFailures(t *testing.T) {
	refusedAddr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := ln.Addr().String()
		ln.Close()
		return a
	}()
	const rule = "outbound TCP 10.0.0.4:50000 -> 10.0.0.8:80 denied by securityRules/deny-internet (priority 100, NSG mygroup/ml-nsg on subnet default). Allow it with a priority below 100."
	cases := []struct {
		name   string
		dial   Dialer
		status int
		reply  byte
		body   string
		denied bool
	}{
		{"denied", func(context.Context, netip.AddrPort) (net.Conn, error) { return nil, errors.New(rule) },
			http.StatusForbidden, socksNotAllowed, rule, true},
		{"proxy dial timeout", func(ctx context.Context, _ netip.AddrPort) (net.Conn, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}, http.StatusGatewayTimeout, socksTTLExpired, "timed out", false},
		{"dialer timeout", func(context.Context, netip.AddrPort) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: timeoutError{}}
		}, http.StatusGatewayTimeout, socksTTLExpired, "timed out", false},
		{"nothing listens", func(ctx context.Context, _ netip.AddrPort) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", refusedAddr)
		}, http.StatusBadGateway, socksConnectionRefused, "refused the connection", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tp := startProxy(t, tc.dial, nil, nil, func(p *Proxy) { p.dialTimeout = 10 * time.Millisecond })
			requests := map[string]string{
				http.MethodConnect: "CONNECT 10.0.0.8:80 HTTP/1.1\r\nHost: 10.0.0.8:80\r\n\r\n",
				http.MethodGet:     "GET http://10.0.0.8/x HTTP/1.1\r\nHost: 10.0.0.8\r\n\r\n",
				http.MethodPost:    "POST http://10.0.0.8/x HTTP/1.1\r\nHost: 10.0.0.8\r\nContent-Length: 5\r\n\r\nhello",
			}
			for method, raw := range requests {
				c := tp.dial(t)
				br := bufio.NewReader(c)
				resp, body := roundTrip(t, c, br, method, raw)
				if resp.StatusCode != tc.status {
					t.Errorf("%s: status %d, want %d (%q)", method, resp.StatusCode, tc.status, body)
				}
				if !strings.Contains(body, tc.body) {
					t.Errorf("%s: body %q does not contain %q", method, body, tc.body)
				}
				if got := resp.Header.Get("Content-Type"); got != "text/plain" {
					t.Errorf("%s: Content-Type %q", method, got)
				}
				if got := resp.Header.Get("X-Vnetml-Denied") == "1"; got != tc.denied {
					t.Errorf("%s: X-Vnetml-Denied %q, want it %v", method, resp.Header.Get("X-Vnetml-Denied"), tc.denied)
				}
				if got := resp.Header.Get("X-Vnetml-Destination"); got != "10.0.0.8:80" {
					t.Errorf("%s: X-Vnetml-Destination %q, want 10.0.0.8:80", method, got)
				}
				expectClosed(t, br2conn{br, c})
			}
			c := tp.dial(t)
			rep := socksHandshake(t, c, socksIPv4Request(socksConnect, "10.0.0.8", 80))
			if rep[1] != tc.reply {
				t.Errorf("SOCKS5 reply %#x, want %#x", rep[1], tc.reply)
			}
			expectClosed(t, c)
		})
	}
}

// A client that named a platform service learns which address the rules
// judged; a refusal before any dial names none.
func TestRefusalNamesTheDestination(t *testing.T) {
	n := newTestNet()
	n.name("mystore.blob.core.windows.net", "198.18.1.4")
	tp := startProxy(t, n.dial, n.resolve, nil)
	cases := []struct{ method, raw, want string }{
		{http.MethodConnect, "CONNECT mystore.blob.core.windows.net:443 HTTP/1.1\r\n\r\n", "198.18.1.4:443"},
		{http.MethodGet, "GET http://mystore.blob.core.windows.net/c/b HTTP/1.1\r\nHost: mystore.blob.core.windows.net\r\n\r\n", "198.18.1.4:80"},
		{http.MethodConnect, "CONNECT nosuch.example.com:443 HTTP/1.1\r\n\r\n", ""},
	}
	for _, tc := range cases {
		c := tp.dial(t)
		resp, body := roundTrip(t, c, bufio.NewReader(c), tc.method, tc.raw)
		if got := resp.Header.Get("X-Vnetml-Destination"); got != tc.want {
			t.Errorf("%s: X-Vnetml-Destination %q, want %q (%d %q)", firstLine(tc.raw), got, tc.want, resp.StatusCode, body)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// br2conn reads through a bufio.Reader that already holds some of c.
type br2conn struct {
	*bufio.Reader
	net.Conn
}

func (b br2conn) Read(p []byte) (int, error) { return b.Reader.Read(p) }

func TestUnreachableDestination(t *testing.T) {
	n := newTestNet()
	tp := startProxy(t, n.dial, n.resolve, nil)
	cases := []struct{ method, raw, host string }{
		{http.MethodConnect, "CONNECT nosuch.example.com:443 HTTP/1.1\r\n\r\n", "nosuch.example.com"},
		{http.MethodGet, "GET http://nosuch.example.com/x HTTP/1.1\r\nHost: nosuch.example.com\r\n\r\n", "nosuch.example.com"},
		{http.MethodConnect, "CONNECT [::1]:443 HTTP/1.1\r\n\r\n", "::1"},
		{http.MethodGet, "GET http://[2001:db8::1]:8080/ HTTP/1.1\r\n\r\n", "2001:db8::1"},
		{http.MethodConnect, "CONNECT [::ffff:10.0.0.1]:443 HTTP/1.1\r\n\r\n", "::ffff:10.0.0.1"},
		{http.MethodGet, "GET http://10.1/ HTTP/1.1\r\n\r\n", "10.1"},
	}
	for _, tc := range cases {
		t.Run(firstLine(tc.raw), func(t *testing.T) {
			c := tp.dial(t)
			resp, body := roundTrip(t, c, bufio.NewReader(c), tc.method, tc.raw)
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d (%q)", resp.StatusCode, body)
			}
			for _, want := range []string{`"` + tc.host + `"`, "Names of platform services", "IPv4 address"} {
				if !strings.Contains(body, want) {
					t.Errorf("body %q does not contain %q", body, want)
				}
			}
			if resp.Header.Get("X-Vnetml-Denied") != "" {
				t.Error("an unknown name is not a denial by the rules")
			}
		})
	}
	for _, host := range []string{"nosuch.example.com", "::1"} {
		t.Run("socks5 "+host, func(t *testing.T) {
			c := tp.dial(t)
			rep := socksHandshake(t, c, socksDomainRequest(socksConnect, host, 443))
			if rep[1] != socksHostUnreachable {
				t.Fatalf("reply %#x, want host unreachable", rep[1])
			}
		})
	}
	if d := n.dialed(); len(d) != 0 {
		t.Fatalf("dialed %v", d)
	}
}

func TestMalformedHTTP(t *testing.T) {
	n := newTestNet()
	tp := startProxy(t, n.dial, n.resolve, nil, func(p *Proxy) { p.maxHeadBytes = 4 << 10 })
	cases := []struct {
		name   string
		raw    string
		status int
	}{
		{"garbage", "GARBAGE\r\n\r\n", 400},
		{"no version", "GET http://10.0.0.5/\r\n\r\n", 400},
		{"bad header line", "GET http://10.0.0.5/ HTTP/1.1\r\nno colon here\r\n\r\n", 400},
		{"origin form", "GET /x HTTP/1.1\r\nHost: 10.0.0.5\r\n\r\n", 400},
		{"https absolute", "GET https://10.0.0.5/ HTTP/1.1\r\n\r\n", 400},
		{"connect without port", "CONNECT 10.0.0.5 HTTP/1.1\r\n\r\n", 400},
		{"connect port 0", "CONNECT 10.0.0.5:0 HTTP/1.1\r\n\r\n", 400},
		{"connect path", "CONNECT /rpc HTTP/1.1\r\nHost: 10.0.0.5:80\r\n\r\n", 400},
		{"port too large", "GET http://10.0.0.5:99999/ HTTP/1.1\r\n\r\n", 400},
		{"two content lengths", "POST http://10.0.0.5/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"bad transfer encoding", "POST http://10.0.0.5/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"http/2", "GET http://10.0.0.5/ HTTP/2.0\r\n\r\n", 505},
		{"head too large", "GET http://10.0.0.5/ HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", 431},
		{"truncated", "GET http://10.0.0.5/ HTTP/1.1\r\nHost: x", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tp.dial(t)
			io.WriteString(c, tc.raw)
			c.CloseWrite()
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tc.status, body)
			}
			if !strings.HasPrefix(string(body), "vnetml egress: ") {
				t.Errorf("body %q does not explain", body)
			}
			expectClosed(t, br2conn{br, c})
		})
	}
	if d := n.dialed(); len(d) != 0 {
		t.Fatalf("dialed %v", d)
	}
}

// TestSlowClient: a client that stops in the middle of its request head,
// or stays idle between requests, is disconnected after the head timeout.
func TestSlowClient(t *testing.T) {
	o := startOrigin(t, false)
	n := newTestNet()
	n.route("10.0.0.5:80", o.hostPort())
	tp := startProxy(t, n.dial, n.resolve, nil, func(p *Proxy) { p.headTimeout = 50 * time.Millisecond })

	for _, first := range []string{"", "GET http://10.0.0.5/ HT", "\x05", "\x05\x01\x00\x05\x01"} {
		t.Run(fmt.Sprintf("%q", first), func(t *testing.T) {
			c := tp.dial(t)
			io.WriteString(c, first)
			// Whatever the proxy answers, it must close.
			io.ReadAll(c)
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("connection still open")
			}
		})
	}
	t.Run("idle keep-alive", func(t *testing.T) {
		c := tp.dial(t)
		br := bufio.NewReader(c)
		resp, _ := roundTrip(t, c, br, http.MethodGet, "GET http://10.0.0.5/a HTTP/1.1\r\nHost: 10.0.0.5\r\n\r\n")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		expectClosed(t, br2conn{br, c})
	})
}

// TestClose: Close ends every connection in flight — tunnels, a
// keep-alive connection, a half-sent head — and Serve returns nil.
func TestClose(t *testing.T) {
	o := startOrigin(t, false)
	n := newTestNet()
	n.route("10.0.0.9:7", startEcho(t))
	n.route("10.0.0.5:80", o.hostPort())
	tp := startProxy(t, n.dial, n.resolve, nil)

	connect := tp.dial(t)
	cbr := bufio.NewReader(connect)
	io.WriteString(connect, "CONNECT 10.0.0.9:7 HTTP/1.1\r\n\r\n")
	if resp, err := http.ReadResponse(cbr, &http.Request{Method: http.MethodConnect}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	io.WriteString(connect, "ping")
	if b := readN(t, cbr, 4); b != "ping" {
		t.Fatalf("echo %q", b)
	}

	socks := tp.dial(t)
	if rep := socksHandshake(t, socks, socksIPv4Request(socksConnect, "10.0.0.9", 7)); rep[1] != socksSucceeded {
		t.Fatalf("SOCKS5 reply %#x", rep[1])
	}

	keep := tp.dial(t)
	kbr := bufio.NewReader(keep)
	if resp, _ := roundTrip(t, keep, kbr, http.MethodGet, "GET http://10.0.0.5/a HTTP/1.1\r\nHost: 10.0.0.5\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}

	half := tp.dial(t)
	io.WriteString(half, "GET http://10.0.0.5/ HTTP/1.1\r\nHost: 10.")

	tp.Close()
	tp.wait(t)
	for name, r := range map[string]io.Reader{"connect": cbr, "socks": socks, "keep-alive": kbr, "half head": half} {
		if b, err := io.ReadAll(r); len(b) > 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%s: read %q, %v after Close", name, b, err)
		}
	}
	// A closed proxy serves nothing more.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Serve(context.Background(), ln); err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve left its listener open: %v", err)
	}
}

func TestServeContext(t *testing.T) {
	n := newTestNet()
	n.route("10.0.0.9:7", startEcho(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := New(n.dial, n.resolve, nil)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, ln) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	io.WriteString(c, "CONNECT 10.0.0.9:7 HTTP/1.1\r\n\r\n")
	if resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return when its context ended")
	}
	if b, err := io.ReadAll(br); len(b) > 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("tunnel: read %q, %v", b, err)
	}
}

func readN(t testing.TB, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// recordHandler keeps log records for a test to look at.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
	notify  chan struct{}
	level   slog.Level
}

func newRecordHandler(level slog.Level) *recordHandler {
	return &recordHandler{notify: make(chan struct{}, 1), level: level}
}

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	select {
	case h.notify <- struct{}{}:
	default:
	}
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// find waits for a record with the message whose attributes satisfy ok.
func (h *recordHandler) find(t testing.TB, msg string, ok func(map[string]slog.Value) bool) map[string]slog.Value {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		for _, r := range h.records {
			if r.Message != msg {
				continue
			}
			attrs := map[string]slog.Value{}
			r.Attrs(func(a slog.Attr) bool {
				attrs[a.Key] = a.Value
				return true
			})
			if ok(attrs) {
				h.mu.Unlock()
				return attrs
			}
		}
		h.mu.Unlock()
		select {
		case <-h.notify:
		case <-deadline:
			t.Fatalf("no %q record", msg)
		}
	}
}

func (h *recordHandler) atLeast(level slog.Level) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.records {
		if r.Level >= level {
			out = append(out, r)
		}
	}
	return out
}

func TestLog(t *testing.T) {
	o := startOrigin(t, false)
	n := newTestNet()
	n.route("10.0.0.9:7", startEcho(t))
	n.route("10.0.0.5:80", o.hostPort())
	h := newRecordHandler(slog.LevelDebug)
	tp := startProxy(t, n.dial, n.resolve, slog.New(h))

	c := tp.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "CONNECT 10.0.0.9:7 HTTP/1.1\r\n\r\n")
	if _, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "12345")
	c.CloseWrite()
	io.ReadAll(br)
	h.find(t, "egress connection", func(a map[string]slog.Value) bool {
		return a["proto"].String() == "connect" && a["dst"].String() == "10.0.0.9:7" &&
			a["sent"].Int64() == 5 && a["received"].Int64() == 5
	})

	c2 := tp.dial(t)
	br2 := bufio.NewReader(c2)
	resp, body := roundTrip(t, c2, br2, http.MethodGet, "GET http://10.0.0.5/x HTTP/1.1\r\nHost: 10.0.0.5\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	h.find(t, "egress connection", func(a map[string]slog.Value) bool {
		return a["proto"].String() == "http" && a["dst"].String() == "10.0.0.5:80" &&
			a["sent"].Int64() > 0 && a["received"].Int64() > 0 && a["requests"].Int64() == 1
	})

	c3 := tp.dial(t)
	roundTrip(t, c3, bufio.NewReader(c3), http.MethodConnect, "CONNECT 10.0.0.99:22 HTTP/1.1\r\n\r\n")
	h.find(t, "egress refused", func(a map[string]slog.Value) bool {
		return a["target"].String() == "10.0.0.99:22" && a["status"].Int64() == 403 && a["denied"].Bool()
	})
}
