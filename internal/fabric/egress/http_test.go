package egress

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAbsoluteForm(t *testing.T) {
	o := startOrigin(t, false)
	n := newTestNet()
	n.route("10.0.0.5:80", o.hostPort())
	n.name("svc.internal", "10.0.0.5")
	tp := startProxy(t, n.dial, n.resolve, nil)
	c := tp.dial(t)
	br := bufio.NewReader(c)

	steps := []struct {
		method, raw string
		status      int
		body        string
	}{
		{http.MethodGet, "GET http://svc.internal/a%2Fb?q=1%20x HTTP/1.1\r\nHost: svc.internal\r\n" +
			"Proxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\nproxy-extra: 1\r\n" +
			"Connection: keep-alive, X-Hop\r\nX-Hop: drop me\r\nX-Keep: keep me\r\nUser-Agent: raw-test\r\n\r\n",
			200, "GET /a/b "},
		{http.MethodPost, "POST http://svc.internal/post HTTP/1.1\r\nHost: svc.internal\r\nContent-Length: 11\r\n\r\nhello world",
			200, "POST /post hello world"},
		{http.MethodPost, "POST http://svc.internal/chunk HTTP/1.1\r\nHost: svc.internal\r\nTransfer-Encoding: chunked\r\n" +
			"Trailer: X-Check\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Check: ok\r\n\r\n",
			200, "POST /chunk hello world"},
		{http.MethodHead, "HEAD http://svc.internal/head HTTP/1.1\r\nHost: svc.internal\r\n\r\n", 200, ""},
		{http.MethodGet, "GET http://svc.internal/chunked HTTP/1.1\r\nHost: svc.internal\r\n\r\n", 200, "part1,part2"},
		{http.MethodGet, "GET http://svc.internal/connection-header HTTP/1.1\r\nHost: svc.internal\r\n\r\n", 200, "GET /connection-header "},
		{http.MethodGet, "GET http://10.0.0.5 HTTP/1.1\r\nHost: 10.0.0.5\r\n\r\n", 200, "GET / "},
	}
	for _, s := range steps {
		resp, body := roundTrip(t, c, br, s.method, s.raw)
		if resp.StatusCode != s.status || body != s.body {
			t.Fatalf("%s: %d %q, want %d %q", firstLine(s.raw), resp.StatusCode, body, s.status, s.body)
		}
		if resp.Close {
			t.Fatalf("%s: the proxy closes a keep-alive connection", firstLine(s.raw))
		}
		switch resp.Request.Method {
		case http.MethodGet:
			if strings.Contains(s.raw, "/chunked") {
				if got := resp.Trailer.Get("X-Sum"); got != "42" {
					t.Errorf("response trailer X-Sum %q", got)
				}
				if len(resp.TransferEncoding) == 0 {
					t.Error("a streamed response lost its chunking")
				}
			}
			if strings.Contains(s.raw, "/connection-header") {
				for _, k := range []string{"X-Hop", "Keep-Alive", "Connection"} {
					if v := resp.Header.Get(k); v != "" {
						t.Errorf("response hop-by-hop header %s: %q reached the client", k, v)
					}
				}
			}
		}
	}

	reqs := o.requests()
	if len(reqs) != len(steps) {
		t.Fatalf("origin saw %d requests", len(reqs))
	}
	r0 := reqs[0]
	if r0.uri != "/a%2Fb?q=1%20x" || r0.host != "svc.internal" {
		t.Errorf("origin saw %q for host %q, want the origin form /a%%2Fb?q=1%%20x for svc.internal", r0.uri, r0.host)
	}
	for k := range r0.header {
		if strings.HasPrefix(k, "Proxy-") || k == "X-Hop" {
			t.Errorf("origin saw header %s", k)
		}
	}
	if r0.header.Get("X-Keep") != "keep me" || r0.header.Get("User-Agent") != "raw-test" {
		t.Errorf("origin header %v", r0.header)
	}
	if reqs[1].header.Get("Content-Length") != "11" || reqs[1].body != "hello world" {
		t.Errorf("POST: %v %q", reqs[1].header, reqs[1].body)
	}
	if reqs[2].body != "hello world" || reqs[2].trailer.Get("X-Check") != "ok" {
		t.Errorf("chunked POST: %q trailer %v", reqs[2].body, reqs[2].trailer)
	}
	for i, r := range reqs {
		if r.uri[0] != '/' {
			t.Errorf("request %d: %q is not in origin form", i, r.uri)
		}
		if r.remote != r0.remote {
			t.Errorf("request %d came over %s, not the kept-alive %s", i, r.remote, r0.remote)
		}
	}
	if d := n.dialed(); len(d) != 1 {
		t.Errorf("dialed %v: want one kept-alive connection", d)
	}
}

// TestAbsoluteFormSwitchDestination: one client connection, requests to two
// servers in turn.
func TestAbsoluteFormSwitchDestination(t *testing.T) {
	o1, o2 := startOrigin(t, false), startOrigin(t, false)
	n := newTestNet()
	n.route("10.0.0.5:80", o1.hostPort())
	n.route("10.0.0.6:8080", o2.hostPort())
	tp := startProxy(t, n.dial, n.resolve, nil)
	c := tp.dial(t)
	br := bufio.NewReader(c)
	for _, u := range []string{"http://10.0.0.5/1", "http://10.0.0.6:8080/2", "http://10.0.0.5/3"} {
		resp, body := roundTrip(t, c, br, http.MethodGet, "GET "+u+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || !strings.HasSuffix(body, u[strings.LastIndex(u, "/"):]+" ") {
			t.Fatalf("%s: %d %q", u, resp.StatusCode, body)
		}
	}
	if len(o1.requests()) != 2 || len(o2.requests()) != 1 {
		t.Fatalf("origins saw %d and %d requests", len(o1.requests()), len(o2.requests()))
	}
	if got := o2.requests()[0].host; got != "10.0.0.6:8080" {
		t.Fatalf("Host %q: the absolute URL's authority wins over the Host header", got)
	}
}

func newProxyTransport(t *testing.T, proxyAddr string, userinfo *url.Userinfo) *http.Transport {
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr, User: userinfo})}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// TestHTTPClient drives the proxy with net/http's own client, the way a Go
// program with HTTP_PROXY set would.
func TestHTTPClient(t *testing.T) {
	o := startOrigin(t, false)
	n := newTestNet()
	n.route("10.0.0.5:80", o.hostPort())
	n.name("svc.internal", "10.0.0.5")
	tp := startProxy(t, n.dial, n.resolve, nil)
	client := &http.Client{Transport: newProxyTransport(t, tp.addr, url.UserPassword("job", "secret"))}

	var reused []bool
	for i, path := range []string{"/one", "/two"} {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = append(reused, info.Reused) },
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc.internal"+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "GET "+path+" " || resp.Header.Get("X-Origin") != "yes" {
			t.Fatalf("request %d: %d %q %v", i, resp.StatusCode, b, resp.Header)
		}
	}
	if len(reused) != 2 || !reused[1] {
		t.Errorf("client connection reuse %v: the second request should reuse the first connection", reused)
	}
	resp, err := client.Post("http://svc.internal/upload", "application/json", strings.NewReader(`{"data": [[1,2,3]]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `POST /upload {"data": [[1,2,3]]}` {
		t.Fatalf("POST: %q", b)
	}
	for _, r := range o.requests() {
		if r.header.Get("Proxy-Authorization") != "" {
			t.Errorf("the proxy credentials reached the origin: %v", r.header)
		}
		if !strings.HasPrefix(r.uri, "/") {
			t.Errorf("origin saw %q", r.uri)
		}
	}
	if d := n.dialed(); len(d) != 1 {
		t.Errorf("dialed %v: want one kept-alive connection", d)
	}
}

func TestHTTPClientTLSThroughConnect(t *testing.T) {
	o := startOrigin(t, true)
	n := newTestNet()
	n.route("10.0.0.7:443", o.hostPort())
	// httptest's certificate is for example.com.
	n.name("example.com", "10.0.0.7")
	tp := startProxy(t, n.dial, n.resolve, nil)
	tr := newProxyTransport(t, tp.addr, nil)
	tr.TLSClientConfig = o.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	resp, err := (&http.Client{Transport: tr}).Get("https://example.com/secure?x=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "GET /secure " || resp.TLS == nil {
		t.Fatalf("%d %q tls=%v", resp.StatusCode, b, resp.TLS != nil)
	}
	if r := o.requests(); len(r) != 1 || r[0].uri != "/secure?x=1" {
		t.Fatalf("origin saw %+v", r)
	}

	// A destination the rules refuse: the client reports the proxy's 403.
	_, err = (&http.Client{Transport: tr}).Get("https://10.0.0.8/")
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("refused CONNECT: %v", err)
	}
}

func TestExpectContinue(t *testing.T) {
	o := startOrigin(t, false)
	n := newTestNet()
	n.route("10.0.0.5:80", o.hostPort())
	tp := startProxy(t, n.dial, n.resolve, nil)
	tr := newProxyTransport(t, tp.addr, nil)
	// Long enough that the body goes only after a relayed 100 Continue.
	tr.ExpectContinueTimeout = 60e9
	var got100 atomic.Bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got100Continue: func() { got100.Store(true) },
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://10.0.0.5/put", strings.NewReader("the body"))
	req.Header.Set("Expect", "100-continue")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "PUT /put the body" || !got100.Load() {
		t.Fatalf("%q, 100 Continue relayed: %v", b, got100.Load())
	}
}

// TestStreaming: the proxy passes a request body and a response body on as
// they come, without waiting for either to end.
func TestStreaming(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Without this, net/http's server drains the body before it
		// writes a response.
		http.NewResponseController(w).EnableFullDuplex()
		first := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, first); err != nil {
			return
		}
		fmt.Fprintf(w, "got %s;", first)
		w.(http.Flusher).Flush()
		rest, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "then %s", rest)
	}))
	t.Cleanup(srv.Close)
	n := newTestNet()
	n.route("10.0.0.5:80", strings.TrimPrefix(srv.URL, "http://"))
	tp := startProxy(t, n.dial, n.resolve, nil)
	c := tp.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "POST http://10.0.0.5/s HTTP/1.1\r\nHost: 10.0.0.5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodPost})
	if err != nil {
		t.Fatal(err)
	}
	// The server has the first chunk and answered; the rest comes only now.
	if got := readN(t, resp.Body, len("got first;")); got != "got first;" {
		t.Fatalf("first part %q", got)
	}
	io.WriteString(c, "4\r\nlast\r\n0\r\n\r\n")
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "then last" {
		t.Fatalf("rest %q %v", rest, err)
	}
}

func TestUpgrade(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	upgradeHeader := make(chan http.Header, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		upgradeHeader <- req.Header
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nwelcome;")
		io.Copy(c, br)
		c.(*net.TCPConn).CloseWrite()
	}()
	n := newTestNet()
	n.route("10.0.0.10:80", ln.Addr().String())
	tp := startProxy(t, n.dial, n.resolve, nil)
	c := tp.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET http://10.0.0.10/ws HTTP/1.1\r\nHost: 10.0.0.10\r\nConnection: keep-alive, Upgrade\r\nUpgrade: echo\r\nProxy-Authorization: x\r\n\r\n")
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "echo" || !strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	h := <-upgradeHeader
	if h.Get("Upgrade") != "echo" || h.Get("Connection") != "Upgrade" || h.Get("Proxy-Authorization") != "" {
		t.Fatalf("server saw %v", h)
	}
	if got := readN(t, br, len("welcome;")); got != "welcome;" {
		t.Fatalf("%q", got)
	}
	io.WriteString(c, "frames")
	c.CloseWrite()
	if b, err := io.ReadAll(br); err != nil || string(b) != "frames" {
		t.Fatalf("%q %v", b, err)
	}
}

// TestEarlyResponse: a server that answers before it has read the request
// body; the client gets the answer, and the connection ends.
func TestEarlyResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}))
	t.Cleanup(srv.Close)
	n := newTestNet()
	n.route("10.0.0.5:80", strings.TrimPrefix(srv.URL, "http://"))
	tp := startProxy(t, n.dial, n.resolve, nil)
	c := tp.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "POST http://10.0.0.5/big HTTP/1.1\r\nHost: 10.0.0.5\r\nContent-Length: 10000000\r\n\r\n")
	io.WriteString(c, strings.Repeat("x", 64<<10))
	resp, body := roundTrip(t, c, br, http.MethodPost, "")
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body != "too large\n" || !resp.Close {
		t.Fatalf("%d %q close=%v", resp.StatusCode, body, resp.Close)
	}
}

// TestStaleUpstream: a kept-alive server connection that the server closed
// while idle is redialed for a request without a body; a request with a
// body is not sent twice.
func TestStaleUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// One request per connection, then close, without saying so.
			br := bufio.NewReader(c)
			if req, err := http.ReadRequest(br); err == nil {
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
			c.Close()
		}
	}()
	n := newTestNet()
	n.route("10.0.0.5:80", ln.Addr().String())
	tp := startProxy(t, n.dial, n.resolve, nil)
	c := tp.dial(t)
	br := bufio.NewReader(c)
	for i := range 2 {
		resp, body := roundTrip(t, c, br, http.MethodGet, "GET http://10.0.0.5/ HTTP/1.1\r\nHost: 10.0.0.5\r\n\r\n")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("GET %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if d := n.dialed(); len(d) != 2 {
		t.Fatalf("dialed %v, want a redial for the second GET", d)
	}
	resp, body := roundTrip(t, c, br, http.MethodPost, "POST http://10.0.0.5/ HTTP/1.1\r\nHost: 10.0.0.5\r\nContent-Length: 1\r\n\r\nx")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "no valid response") {
		t.Fatalf("POST over a stale connection: %d %q", resp.StatusCode, body)
	}
	if d := n.dialed(); len(d) != 2 {
		t.Fatalf("dialed %v: a request with a body must not be retried", d)
	}
}

func TestHTTP10Client(t *testing.T) {
	o := startOrigin(t, false)
	n := newTestNet()
	n.route("10.0.0.5:80", o.hostPort())
	tp := startProxy(t, n.dial, n.resolve, nil)
	c := tp.dial(t)
	br := bufio.NewReader(c)
	resp, body := roundTrip(t, c, br, http.MethodGet, "GET http://10.0.0.5/chunked HTTP/1.0\r\n\r\n")
	if resp.StatusCode != 200 || body != "part1,part2" || len(resp.TransferEncoding) != 0 || !resp.Close {
		t.Fatalf("%d %q te=%v close=%v", resp.StatusCode, body, resp.TransferEncoding, resp.Close)
	}
	expectClosed(t, br2conn{br, c})
}

// TestPython runs a real program with HTTP_PROXY pointing at the proxy.
func TestPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: cannot check a real program's proxy client")
	}
	o := startOrigin(t, false)
	n := newTestNet()
	// The httptest address itself, as the destination: the proxy hands
	// it to the Dialer like any other (here: straight through).
	n.route(o.hostPort(), o.hostPort())
	n.route("10.0.0.5:80", o.hostPort())
	n.name("svc.internal", "10.0.0.5")
	tp := startProxy(t, n.dial, n.resolve, nil)

	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.Contains(strings.ToLower(k), "proxy") {
			env = append(env, kv)
		}
	}
	env = append(env, "HTTP_PROXY=http://"+tp.addr, "http_proxy=http://"+tp.addr)
	for _, u := range []string{"http://" + o.hostPort() + "/x", "http://svc.internal/y"} {
		cmd := exec.CommandContext(t.Context(), py, "-c", "import urllib.request; print(urllib.request.urlopen('"+u+"').read())")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python3 %s: %v\n%s", u, err, out)
		}
		path := u[strings.LastIndex(u, "/"):]
		if want := "b'GET " + path + " '\n"; string(out) != want {
			t.Fatalf("python3 printed %q, want %q", out, want)
		}
	}
	d := n.dialed()
	if len(d) != 2 || d[0].String() != o.hostPort() {
		t.Fatalf("dialed %v: the requests did not go through the proxy", d)
	}
}

// TestBadUpstream: a server that answers with something other than HTTP
// gets the client a 502, whether or not the request body is all sent.
func TestBadUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n")
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, br)
			}()
		}
	}()
	n := newTestNet()
	n.route("10.0.0.5:80", ln.Addr().String())
	tp := startProxy(t, n.dial, n.resolve, nil, func(p *Proxy) { p.lingerTimeout = 50 * time.Millisecond })
	for name, raw := range map[string]string{
		"whole body":   "POST http://10.0.0.5/ HTTP/1.1\r\nHost: 10.0.0.5\r\nContent-Length: 5\r\n\r\nhello",
		"partial body": "POST http://10.0.0.5/ HTTP/1.1\r\nHost: 10.0.0.5\r\nContent-Length: 500\r\n\r\nhello",
		"chunked":      "POST http://10.0.0.5/ HTTP/1.1\r\nHost: 10.0.0.5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
		"no body":      "GET http://10.0.0.5/ HTTP/1.1\r\nHost: 10.0.0.5\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := tp.dial(t)
			br := bufio.NewReader(c)
			resp, body := roundTrip(t, c, br, http.MethodPost, raw)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "no valid response") {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
		})
	}
}
