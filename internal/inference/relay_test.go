package inference

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
)

// The relay (relay.go) against its reference (oracle_test.go), and the
// cases of HTTP/1.1 a scoring caller can bring: kept-alive and pipelined
// requests, Expect, HTTP/1.0, a replica that closed a pooled connection,
// and any bytes at all (FuzzRelay).

var (
	relayN    = flag.Int("relay.n", 400, "TestRelayAgreesWithReference: random requests")
	relaySeed = flag.Uint64("relay.seed", 1, "TestRelayAgreesWithReference: the seed of the requests")
)

// mirrored is what a mirror replica saw of a request, and answers.
type mirrored struct {
	Method           string
	URI              string
	Host             string
	Proto            string
	Header           http.Header
	ContentLength    int64
	TransferEncoding []string
	Body             string
	BodyError        bool
}

var (
	mirrorMu      sync.Mutex
	mirrorServers = map[int]*http.Server{} // by port
	mirrorConns   atomic.Int64             // connections the mirrors accepted
)

// startMirrorReplica serves a replica that answers each request with what
// it saw (mirrored, as JSON), in the way its X-Answer header asks:
//
//	(none) Content-Length    chunked  in chunks      close  ended by closing
//	204    no content        500      a server error hop    with hop-by-hop headers
func startMirrorReplica(id string) (int, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		m := mirrored{Method: r.Method, URI: r.RequestURI, Host: r.Host, Proto: r.Proto, Header: r.Header,
			ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding, Body: string(b), BodyError: err != nil}
		out, _ := json.Marshal(m)
		w.Header().Set("X-Mirror", id)
		w.Header().Set("Content-Type", "application/json")
		switch r.Header.Get("X-Answer") {
		case "chunked":
			w.Write(out[:len(out)/2])
			http.NewResponseController(w).Flush()
			w.Write(out[len(out)/2:])
			return
		case "close":
			c, bw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			if r.Method == http.MethodHead {
				out = nil
			}
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Mirror: %s\r\nConnection: close\r\n\r\n%s", id, out)
			bw.Flush()
			return
		case "204":
			w.WriteHeader(http.StatusNoContent)
			return
		case "500":
			w.WriteHeader(http.StatusInternalServerError)
		case "hop":
			w.Header().Set("Connection", "X-Hop-Answer")
			w.Header().Set("X-Hop-Answer", "1")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Header().Set("Proxy-Authenticate", "Basic")
		}
		w.Write(out)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				mirrorConns.Add(1)
			}
		}}
	go srv.Serve(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	mirrorMu.Lock()
	mirrorServers[port] = srv
	mirrorMu.Unlock()
	return port, func() {
		srv.Close()
		mirrorMu.Lock()
		delete(mirrorServers, port)
		mirrorMu.Unlock()
	}, nil
}

// rawRequest is a request as bytes on the wire.
type rawRequest struct {
	method, target, proto string
	header                [][2]string
	body                  []byte
	chunks                []int // the body's chunk sizes; nil: Content-Length
	hasBody               bool
}

func (r rawRequest) bytes() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", r.method, r.target, r.proto)
	for _, h := range r.header {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	switch {
	case r.chunks != nil:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		rest := r.body
		for _, n := range r.chunks {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		b.WriteString("0\r\n\r\n")
	case r.hasBody:
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(r.body), r.body)
	default:
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

const (
	diffKey   = "diff-key-0123456789"
	diffLimit = 200
)

// randomRequest draws a request a caller might send the front end.
func randomRequest(rng *rand.Rand) rawRequest {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	path := pick("/api/v1/service/diff/score", "/api/v1/service/diff/score", "/api/v1/service/diff/score",
		"/api/v1/service/diff/swagger.json", "/", "/nope", "/api/v1/service/other/score", "/api/v1/service/diff/")
	if rng.IntN(4) == 0 {
		path += pick("?a=1", "?a=1&b=%20x", "?verbose=true#frag"[:15])
	}
	r := rawRequest{method: pick("GET", "POST", "POST", "POST", "PUT", "HEAD", "DELETE", "OPTIONS"), target: path, proto: "HTTP/1.1"}
	if rng.IntN(10) == 0 {
		r.target = "http://" + publicFE.String() + path
	}
	if rng.IntN(7) == 0 {
		r.proto = "HTTP/1.0"
	}
	if r.proto == "HTTP/1.1" || rng.IntN(2) == 0 {
		r.header = append(r.header, [2]string{"Host", pick(publicFE.String(), "scoring.example", "198.51.100.10:80")})
	}
	switch rng.IntN(10) {
	case 0:
	case 1:
		r.header = append(r.header, [2]string{"Authorization", "Bearer wrong"})
	default:
		r.header = append(r.header, [2]string{"Authorization", "Bearer " + diffKey})
	}
	extra := [][2]string{
		{"Content-Type", "application/json"}, {"X-Custom", "v" + strconv.Itoa(rng.IntN(100))},
		{"Connection", "X-Hop"}, {"X-Hop", "1"}, {"Keep-Alive", "timeout=1"}, {"Proxy-Connection", "keep-alive"},
		{"Forwarded", "for=192.0.2.1"}, {"X-Forwarded-For", "192.0.2.1"}, {"X-Forwarded-Host", "evil.example"},
		{"Cookie", "a=b"}, {"Accept", "*/*"}, {"User-Agent", "caller/1"}, {"Proxy-Authorization", "Basic eDp5"},
		{"Connection", "close"}, {"X-Custom", "second value"},
	}
	for _, h := range extra {
		if rng.IntN(4) == 0 {
			r.header = append(r.header, h)
		}
	}
	if rng.IntN(3) > 0 {
		r.header = append(r.header, [2]string{"X-Answer", pick("", "chunked", "close", "204", "500", "hop")})
	}
	switch rng.IntN(10) {
	case 0, 1, 2:
	case 3, 4:
		r.hasBody = true
		r.body = randomBody(rng, rng.IntN(2*diffLimit+1))
		r.chunks = []int{}
		for rest := len(r.body); rest > 0; {
			n := 1 + rng.IntN(rest)
			r.chunks = append(r.chunks, n)
			rest -= n
		}
	default:
		r.hasBody = true
		size := rng.IntN(60)
		if rng.IntN(4) == 0 {
			size = diffLimit - 2 + rng.IntN(5)
		}
		r.body = randomBody(rng, size)
	}
	return r
}

func randomBody(rng *rand.Rand, n int) []byte {
	const alphabet = `{}[]":,0123456789 abcdefghijklmnopqrstuvwxyz`
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

// exchanged is an answer as the test compares them: the status, the
// headers but those of framing and the date, and the body.
type exchanged struct {
	status int
	header http.Header
	body   string
}

func (x exchanged) String() string {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range x.header {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", x.status)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %q\n", k, x.header[k])
	}
	b.WriteString(x.body)
	return b.String()
}

// sendRaw writes raw on c and reads one answer to a request of method.
func sendRaw(c net.Conn, raw []byte, method string) (exchanged, error) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(raw); err != nil {
		return exchanged{}, err
	}
	return readAnswer(bufio.NewReader(c), method)
}

func readAnswer(br *bufio.Reader, method string) (exchanged, error) {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return exchanged{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return exchanged{}, fmt.Errorf("reading the body: %w", err)
	}
	h := resp.Header.Clone()
	for _, k := range []string{"Date", "Content-Length", "Transfer-Encoding", "Connection"} {
		h.Del(k)
	}
	return exchanged{status: resp.StatusCode, header: h, body: string(body)}, nil
}

// diffEnv is the tests' cluster with a mirror replica of service diff
// (key diffKey, bodies up to diffLimit bytes).
func diffEnv(tb testing.TB) (*testEnv, *front) {
	tb.Helper()
	e := newEnv(tb, goMirror, "")
	sp := spec("diff")
	sp.Keys = []string{diffKey}
	sp.MaxBodyBytes = diffLimit
	e.deploy(tb, sp, "Healthy")
	f := e.ctl.front(cluster)
	if f == nil {
		tb.Fatal("the cluster has no front end")
	}
	return e, f
}

func (e *testEnv) dialFront(tb testing.TB) net.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.fab.Dial(ctx, fabric.Endpoint{Addr: admitted}, netip.AddrPortFrom(publicFE, FrontEndPort))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// TestRelayAgreesWithReference sends seeded random requests, one a
// connection, to the front end and to the reference (net/http and
// httputil.ReverseProxy with the same route), and wants the same answers:
// status, headers, body — and, in the body, the same request as the
// replica saw it.
func TestRelayAgreesWithReference(t *testing.T) {
	e, f := diffEnv(t)
	ref := serveReference(t, f)
	rng := rand.New(rand.NewPCG(*relaySeed, 0x5eed))
	kinds := map[int]int{}
	for i := range *relayN {
		r := randomRequest(rng)
		raw := r.bytes()
		c := e.dialFront(t)
		got, err := sendRaw(c, raw, r.method)
		c.Close()
		if err != nil {
			t.Fatalf("request %d: the front end: %v\n%s", i, err, raw)
		}
		rc, err := net.Dial("tcp", ref)
		if err != nil {
			t.Fatal(err)
		}
		want, err := sendRaw(rc, raw, r.method)
		rc.Close()
		if err != nil {
			t.Fatalf("request %d: the reference: %v\n%s", i, err, raw)
		}
		if got.String() != want.String() {
			t.Fatalf("request %d:\n%s\nthe front end answered:\n%s\nthe reference:\n%s", i, raw, got, want)
		}
		kinds[got.status]++
	}
	t.Logf("%d requests, answers by status: %v", *relayN, kinds)
	// The draw must reach the replica, and the front end's own answers.
	for _, status := range []int{200, 401, 404, 413} {
		if kinds[status] == 0 {
			t.Errorf("no request drew a %d: the generator no longer covers it", status)
		}
	}
}

// TestRelayKeepAlive: pipelined requests on one connection are answered in
// order over one connection to the replica, and Connection: close ends it.
func TestRelayKeepAlive(t *testing.T) {
	e, _ := diffEnv(t)
	c := e.dialFront(t)
	defer c.Close()
	req := func(body, extra string) string {
		return fmt.Sprintf("POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%sContent-Length: %d\r\n\r\n%s", diffKey, extra, len(body), body)
	}
	before := mirrorConns.Load()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, req(`{"n": 1}`, "")+req(`{"n": 2}`, "X-Answer: chunked\r\n")+req(`{"n": 3}`, "Connection: close\r\n"))
	br := bufio.NewReader(c)
	for n := 1; n <= 3; n++ {
		a, err := readAnswer(br, "POST")
		if err != nil {
			t.Fatalf("answer %d: %v", n, err)
		}
		var m mirrored
		if err := json.Unmarshal([]byte(a.body), &m); err != nil || m.Body != fmt.Sprintf(`{"n": %d}`, n) {
			t.Fatalf("answer %d: %d %q (%v)", n, a.status, a.body, err)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after Connection: close the front end kept the connection (%v)", err)
	}
	if got := mirrorConns.Load() - before; got > 1 {
		t.Errorf("three calls in a row opened %d connections to the replica; want at most 1", got)
	}
}

// TestRelayExpectContinue: a caller that waits for 100 Continue gets it
// once the call is admitted, and a refusal without it otherwise.
func TestRelayExpectContinue(t *testing.T) {
	e, _ := diffEnv(t)
	head := func(key string) string {
		return "POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nExpect: 100-continue\r\nContent-Length: 8\r\n\r\n"
	}
	c := e.dialFront(t)
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, head(diffKey))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("want 100 Continue before the body; got %q, %v", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, `{"a": 1}`)
	a, err := readAnswer(br, "POST")
	var m mirrored
	if err != nil || json.Unmarshal([]byte(a.body), &m) != nil || m.Body != `{"a": 1}` || m.Header.Get("Expect") != "" {
		t.Fatalf("after 100 Continue: %v %+v; the replica saw %+v", err, a, m)
	}

	c2 := e.dialFront(t)
	defer c2.Close()
	got, err := sendRaw(c2, []byte(head("wrong")), "POST")
	if err != nil || got.status != http.StatusUnauthorized {
		t.Fatalf("a refused call with Expect: %v %+v", err, got)
	}
}

// TestRelayStaleReplicaConnection: a replica that closed the front end's
// idle connections (it restarted, say) costs no call a 502: the front end
// sees they are closed and dials again.
func TestRelayStaleReplicaConnection(t *testing.T) {
	e, _ := diffEnv(t)
	c := e.client(t, admitted)
	score := func() answer {
		return call(t, c, "POST", scoreURL("diff"), "Bearer "+diffKey, `{"x": 1}`)
	}
	for range 3 {
		if a := score(); a.status != http.StatusOK {
			t.Fatalf("scoring: %d %s", a.status, a.body)
		}
	}
	port, _ := e.nodes.replicaPort("diff-0")
	mirrorMu.Lock()
	srv := mirrorServers[port]
	mirrorMu.Unlock()
	srv.SetKeepAlivesEnabled(false) // closes its idle connections
	srv.SetKeepAlivesEnabled(true)
	for i := range 3 {
		if a := score(); a.status != http.StatusOK {
			t.Fatalf("call %d after the replica closed its connections: %d %s", i, a.status, a.body)
		}
	}
}

// FuzzRelay sends any bytes to the front end: it must not fail, answer
// every request it reads with well-formed HTTP/1.1, and pass on to the
// replica only requests it can read (a replica's own 400 would say it got
// one it could not).
func FuzzRelay(f *testing.F) {
	f.Add([]byte("POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + diffKey + "\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + diffKey + "\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte("GET /api/v1/service/diff/swagger.json HTTP/1.0\r\n\r\n"))
	f.Add([]byte("POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + diffKey + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
	f.Add([]byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"))
	e, _ := diffEnv(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		c := e.dialFront(t)
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write(in); err != nil {
			return
		}
		c.(interface{ CloseWrite() error }).CloseWrite()
		out, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("reading the answers: %v", err)
		}
		// The requests the front end could read, for their methods: a
		// HEAD's answer has no body whatever its length says.
		var methods []string
		for rd := bufio.NewReader(bytes.NewReader(in)); ; {
			req, err := http.ReadRequest(rd)
			if err != nil {
				break
			}
			methods = append(methods, req.Method)
			if io.Copy(io.Discard, req.Body); req.Body.Close() != nil {
				break
			}
		}
		br := bufio.NewReader(bytes.NewReader(out))
		for i := 0; ; i++ {
			if _, err := br.Peek(1); err == io.EOF {
				return
			}
			method := http.MethodGet
			if i < len(methods) {
				method = methods[i]
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				t.Fatalf("an answer that is not HTTP/1.1: %v\n%q", err, out)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("an answer's body: %v\n%q", err, out)
			}
			if resp.StatusCode == http.StatusBadRequest && resp.Header.Get("X-Mirror") == "" && !strings.Contains(string(body), `"code":"BadRequest"`) {
				t.Fatalf("the replica could not read a request the front end passed on:\n%q\nanswer %q", in, out)
			}
		}
	})
}

// TestRelayRefusalDoesNotReadTheBody: a call refused before its body is
// read (a wrong key, with 10 MB announced and a few bytes sent) is
// answered and its connection ended at once — the front end does not wait
// for a body it will not use.
func TestRelayRefusalDoesNotReadTheBody(t *testing.T) {
	e, _ := diffEnv(t)
	c := e.dialFront(t)
	defer c.Close()
	got, err := sendRaw(c, []byte("POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Length: 10485760\r\n\r\n{\"da"), "POST")
	if err != nil || got.status != http.StatusUnauthorized {
		t.Fatalf("%v %+v", err, got)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the refusal the connection read %d bytes, %v; want it ended", n, err)
	}
}

// TestRelayStripsAliasesAndSwaggerWrites: a header whose name spells a
// stripped one with underscores (X_Forwarded_For is X-Forwarded-For to a
// CGI or WSGI server) does not reach the replica; swagger.json, which
// needs no key, is only read; an HTTP/1.0 caller's Expect is ignored.
func TestRelayStripsAliasesAndSwaggerWrites(t *testing.T) {
	e, _ := diffEnv(t)
	c := e.dialFront(t)
	defer c.Close()
	got, err := sendRaw(c, []byte("POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+diffKey+
		"\r\nX_Forwarded_For: 192.0.2.1\r\nX_Custom_Thing: kept\r\nContent-Length: 2\r\n\r\n{}"), "POST")
	var m mirrored
	if err != nil || json.Unmarshal([]byte(got.body), &m) != nil {
		t.Fatalf("%v %+v", err, got)
	}
	// (net/http's canonical form of a name with underscores)
	_, alias := m.Header["X_forwarded_for"]
	_, kept := m.Header["X_custom_thing"]
	if alias || !kept {
		t.Errorf("the replica saw %v: want X_Forwarded_For stripped and X_Custom_Thing kept", m.Header)
	}

	c2 := e.dialFront(t)
	defer c2.Close()
	if got, err := sendRaw(c2, []byte("POST /api/v1/service/diff/swagger.json HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"), "POST"); err != nil || got.status != http.StatusMethodNotAllowed {
		t.Errorf("POST swagger.json: %v %+v, want 405", err, got)
	}

	c3 := e.dialFront(t)
	defer c3.Close()
	c3.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c3, "POST /api/v1/service/diff/score HTTP/1.0\r\nAuthorization: Bearer "+diffKey+"\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}")
	line, err := bufio.NewReader(c3).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		t.Errorf("an HTTP/1.0 call with Expect: first line %q, %v; want the answer, no 100 Continue", line, err)
	}
}

// TestRelayFailureHidesLoopback: a replica's connection that fails costs
// a 502 that says what happened, without the host's loopback addresses and
// ports (the fabric's business, not an Internet caller's).
func TestRelayFailureHidesLoopback(t *testing.T) {
	lo := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 45505}
	err := &net.OpError{Op: "write", Net: "tcp", Source: lo, Addr: lo, Err: syscall.ECONNRESET}
	a := (&front{}).failure(fmt.Errorf("sending: %w", err), &callerBody{})
	if a.status != http.StatusBadGateway || strings.Contains(a.msg, "127.0.0.1") || !strings.Contains(a.msg, "connection reset") {
		t.Errorf("the answer to a reset replica connection: %d %q; want a 502 saying it was reset, naming no loopback address", a.status, a.msg)
	}
}
