package inference

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
)

// This file is the front end's HTTP/1.1 relay: one goroutine per caller's
// connection reads a request (net/http's parser), decides it (route), and
// passes it to a replica over a kept-alive connection of its own, then
// relays the answer — with no goroutine or channel between the caller's
// bytes and the replica's. net/http's server and httputil.ReverseProxy did
// the same job with four goroutines a connection and several hand-offs a
// request; on a small machine that cost as much CPU as the replica itself
// (docs/benchmarks.md). The reference they were stays beside it, in
// oracle_test.go, and the two are tested against each other.
//
// What goes on to the replica is written afresh, never copied from the
// caller: the request line in origin form, Host, the caller's headers but
// the hop-by-hop ones (and those Connection names), Authorization and the
// forwarding headers, then the body framed by the front end — Content-Length
// as parsed, or chunks it writes itself. A caller's framing cannot reach a
// replica, so neither can a request smuggled in it. The same holds for the
// answer on the way back: its status line is the front end's (with the
// replica's reason phrase only when valid), its head at most
// maxAnswerHeadBytes. Trailers are dropped both ways, and interim (1xx)
// answers; Upgrade, CONNECT and HTTP/2 are refused (TLS offers only
// http/1.1). Unlike net/http's server, the front end adds no Date header
// and guesses no Content-Type for a replica that sends none.

// Timeouts of a caller's connection, as the net/http server had them.
const (
	// frontHeaderTimeout bounds reading a request's head (and a TLS
	// handshake).
	frontHeaderTimeout = 30 * time.Second
	// frontIdleTimeout bounds the wait for a kept-alive connection's
	// next request.
	frontIdleTimeout = 2 * time.Minute
	// replicaIdleTimeout is how long a connection to a replica stays in
	// the pool unused.
	replicaIdleTimeout = 90 * time.Second
	// maxIdlePerReplica bounds the pool of one replica's idle
	// connections.
	maxIdlePerReplica = 64
	// maxDiscard is how much of an unread body the front end reads away
	// to keep the caller's connection after answering it itself.
	maxDiscard = 256 << 10
	// relayBufSize is each connection's read and write buffer.
	relayBufSize = 4 << 10
	// maxHeaderBytes bounds a request's head, as net/http's
	// DefaultMaxHeaderBytes (and the slack it allows) do.
	maxHeaderBytes = 1<<20 + 4096
)

// hopByHop are the headers that belong to one connection (RFC 9110 §7.6.1)
// and never travel on, with the forwarding headers the front end does not
// pass (a caller must not claim to be someone else) and the framing it
// writes itself. Keys are canonical.
var hopByHop = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true,
	"X-Forwarded-Proto": true,
}

// serve takes the callers' connections of one listener until the front
// end closes.
func (f *front) serve(ln net.Listener, tlsCfg *tls.Config) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-f.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: wait and go on, as net/http
			// does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-f.done:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		if tlsCfg != nil {
			c = tls.Server(c, tlsCfg)
		}
		if !f.track(c) {
			c.Close()
			return
		}
		go f.serveConn(c)
	}
}

// track adds a caller's connection to those close ends; false once the
// front end is closed.
func (f *front) track(c net.Conn) bool {
	f.connMu.Lock()
	defer f.connMu.Unlock()
	if f.conns == nil {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *front) untrack(c net.Conn) {
	f.connMu.Lock()
	delete(f.conns, c)
	f.connMu.Unlock()
	c.Close()
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, relayBufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, relayBufSize) }}
)

func getReader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func getWriter(w io.Writer) *bufio.Writer {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putReader(br *bufio.Reader) { br.Reset(nil); readerPool.Put(br) }
func putWriter(bw *bufio.Writer) { bw.Reset(nil); writerPool.Put(bw) }

// caller is one caller's connection.
type caller struct {
	c  net.Conn
	br *bufio.Reader // reads through lr
	bw *bufio.Writer
	lr limitReader
	// http10 is set while the request being answered is HTTP/1.0's.
	http10 bool
	// hungUp is set when the caller hung up during a call (watch).
	hungUp bool
}

// watchAfter is how long a call runs before the front end watches its
// caller: most calls are answered sooner, and pay nothing for it.
const watchAfter = 5 * time.Millisecond

// watch looks out, while the replica works on a call, for its caller
// hanging up, and then closes the connection to the replica — as
// net/http's server and ReverseProxy did, for the replica not to answer
// nobody — until the returned stop is called. Only calls not answered
// within watchAfter are watched: the watching is one more goroutine, a
// read and a wake-up. A caller that sent its next request already (it
// pipelines) is not watched.
func (cl *caller) watch(rc *replicaConn) (stop func()) {
	rc.SetReadDeadline(time.Now().Add(watchAfter))
	_, err := rc.br.Peek(1)
	rc.SetReadDeadline(time.Time{})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return func() {} // answered, or failed: receive says which
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := cl.br.Peek(1); err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			cl.hungUp = true
			rc.Conn.Close()
		}
	}()
	return func() {
		cl.c.SetReadDeadline(time.Unix(1, 0)) // ends the watch's read
		<-done
		cl.c.SetReadDeadline(time.Time{})
	}
}

// limitReader bounds what a request's head may read from the connection;
// left < 0 lifts the bound (for the body).
type limitReader struct {
	r    io.Reader
	left int64
	hit  bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return l.r.Read(p)
	}
	if l.left == 0 {
		l.hit = true
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// serveConn answers a caller's requests one after the other until the
// connection closes, a request asks to, or one cannot be read.
func (f *front) serveConn(c net.Conn) {
	defer f.untrack(c)
	defer linger(c)
	cl := &caller{c: c, bw: getWriter(c), lr: limitReader{r: c, left: -1}}
	cl.br = getReader(&cl.lr)
	defer func() { putReader(cl.br); putWriter(cl.bw) }()
	if tc, ok := c.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(context.Background(), frontHeaderTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return
		}
	}
	for {
		c.SetReadDeadline(time.Now().Add(frontIdleTimeout))
		if _, err := cl.br.Peek(1); err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(frontHeaderTimeout))
		cl.lr.left, cl.lr.hit = maxHeaderBytes-int64(cl.br.Buffered()), false
		req, err := http.ReadRequest(cl.br)
		cl.lr.left = -1
		if err != nil {
			var ne net.Error
			switch {
			case cl.lr.hit:
				cl.answer(ownAnswer{http.StatusRequestHeaderFieldsTooLarge, "RequestHeaderFieldsTooLarge", fmt.Sprintf("the request's head is over %d bytes", maxHeaderBytes)}, false)
			case !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !(errors.As(err, &ne) && ne.Timeout()):
				cl.answer(ownAnswer{http.StatusBadRequest, "BadRequest", "the request cannot be read: " + err.Error()}, false)
			}
			return
		}
		c.SetReadDeadline(time.Time{})
		cl.http10 = !req.ProtoAtLeast(1, 1)
		if !f.exchange(cl, req) {
			return
		}
	}
}

// lingerTimeout bounds how long a connection the front end ends waits for
// the caller to stop sending.
const lingerTimeout = time.Second

// linger ends the front end's side of a connection and reads away what the
// caller still sends (a body the front end refused, say), briefly: closing
// a socket with unread data resets it, and the caller may lose the answer.
func linger(c net.Conn) {
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.CopyN(io.Discard, c, maxDiscard)
}

// ownAnswer is an answer the front end gives itself, as JSON in the
// service error shape.
type ownAnswer struct {
	status    int
	code, msg string
}

// answer writes a; keep says whether the connection goes on after it.
func (cl *caller) answer(a ownAnswer, keep bool) error {
	body := jsonError(a.code, a.msg)
	bw := cl.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(a.status))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(a.status))
	bw.WriteString("\r\nContent-Type: application/json\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(body)))
	if a.status == http.StatusUnauthorized {
		bw.WriteString("\r\nWWW-Authenticate: " + wwwAuthenticate)
	}
	switch {
	case !keep:
		bw.WriteString("\r\nConnection: close")
	case cl.http10:
		bw.WriteString("\r\nConnection: keep-alive")
	}
	bw.WriteString("\r\n\r\n")
	bw.Write(body)
	return bw.Flush()
}

// exchange answers one request; it reports whether the connection goes on.
//
// The request's body is never closed: net/http's Close would read the rest
// of it, whatever its size, however slowly it comes. What the front end
// does not read of it ends the connection instead.
func (f *front) exchange(cl *caller, req *http.Request) bool {
	keep := !req.Close
	expect := req.Header.Get("Expect")
	switch {
	case req.ProtoMajor != 1:
		cl.answer(ownAnswer{http.StatusHTTPVersionNotSupported, "BadRequest", "the front end speaks HTTP/1.1"}, false)
		return false
	case req.ProtoMinor >= 1 && req.Host == "":
		cl.answer(ownAnswer{http.StatusBadRequest, "BadRequest", "the request has no Host header, which HTTP/1.1 requires"}, false)
		return false
	case !validHost(req.Host):
		cl.answer(ownAnswer{http.StatusBadRequest, "BadRequest", "the request's Host header is malformed"}, false)
		return false
	case req.Method == http.MethodConnect || req.Header.Get("Upgrade") != "":
		cl.answer(ownAnswer{http.StatusNotImplemented, "NotImplemented", "the front end passes scoring calls only: no CONNECT, no Upgrade"}, false)
		return false
	case expect != "" && !strings.EqualFold(expect, "100-continue"):
		cl.answer(ownAnswer{http.StatusExpectationFailed, "ExpectationFailed", fmt.Sprintf("unsupported Expect: %q; only 100-continue", expect)}, false)
		return false
	}
	ctx := f.ctx // a call ends when the front end closes
	s, sp, sl, own := f.route(ctx, req.Method, req.URL.Path, req.Header.Get("Authorization"), req.ContentLength)
	if own != nil {
		// The body, unread: read it away if it is small and came
		// unasked, else the connection ends with the answer.
		keep = keep && expect == "" && req.ContentLength >= 0 && req.ContentLength <= maxDiscard && cl.discard(req.Body)
		return cl.answer(*own, keep) == nil && keep
	}
	if expect != "" && !cl.http10 { // an HTTP/1.0 caller's Expect is ignored (RFC 9110 §10.1.1)
		cl.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if cl.bw.Flush() != nil {
			return false
		}
	}
	s.inflight.Add(1)
	s.sample()
	defer s.inflight.Add(-1)
	body := &callerBody{r: req.Body, limit: sp.maxBody()}
	var (
		resp *http.Response
		rc   *replicaConn
		err  error
	)
	if !sp.Retry {
		resp, rc, err = f.roundTrip(ctx, cl, sl.pod, req, body, req.ContentLength)
	} else {
		resp, rc, err = f.roundTripRetrying(ctx, cl, s, sp.Name, sl, req, body)
	}
	if err != nil {
		if cl.hungUp || body.err != nil && !body.tooLarge() {
			return false // the caller hung up, or its body broke off: nobody to answer
		}
		cl.answer(f.failure(err, body), false)
		return false
	}
	// The request is in full on the replica: whatever of the caller's
	// body is left (none, unless it sent more than it said) stays
	// unread, and ends the connection.
	keep = keep && body.done
	keep, err = cl.relay(req, resp, keep)
	f.release(rc, resp, err == nil)
	return err == nil && keep
}

// discard reads away a small body the front end did not pass on, within
// frontHeaderTimeout; it reports whether the body ended.
func (cl *caller) discard(body io.Reader) bool {
	cl.c.SetReadDeadline(time.Now().Add(frontHeaderTimeout))
	defer cl.c.SetReadDeadline(time.Time{})
	n, err := io.CopyN(io.Discard, body, maxDiscard+1)
	return err == io.EOF && n <= maxDiscard
}

// failure is the answer to a call that could not be passed on.
func (f *front) failure(err error, body *callerBody) ownAnswer {
	var denied *fabric.Denied
	switch {
	case body.tooLarge():
		return ownAnswer{http.StatusRequestEntityTooLarge, "RequestTooLarge", fmt.Sprintf("the request body is larger than %d bytes", body.limit)}
	case errors.As(err, &denied):
		return ownAnswer{http.StatusBadGateway, "ReplicaUnreachable", "the front end cannot reach the replica: " + denied.Verdict.Explain()}
	default:
		// A socket error names the host's loopback ports, which are no
		// caller's business: only what happened goes out.
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			err = op.Err
		}
		return ownAnswer{http.StatusBadGateway, "ReplicaUnreachable", "the front end lost the replica: " + err.Error()}
	}
}

// callerBody reads the caller's body on to the replica, bounded by the
// service's limit, and remembers how it ended.
type callerBody struct {
	r     io.Reader
	limit int64
	n     int64
	// done is set when the body ended cleanly; err when reading it
	// failed (a *http.MaxBytesError past the limit).
	done bool
	err  error
}

func (b *callerBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if rest := b.limit - b.n + 1; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		b.err = &http.MaxBytesError{Limit: b.limit}
		return 0, b.err
	}
	switch {
	case err == io.EOF:
		b.done = true
	case err != nil:
		b.err = err
	}
	return n, err
}

func (b *callerBody) tooLarge() bool {
	var tl *http.MaxBytesError
	return errors.As(b.err, &tl)
}

// roundTrip sends req to the replica at pod and reads the head of its
// answer. n is the body's length, -1 when unknown (then it goes in chunks).
// A caller that hangs up meanwhile ends the call (see watch).
func (f *front) roundTrip(ctx context.Context, cl *caller, pod netip.Addr, req *http.Request, body io.Reader, n int64) (*http.Response, *replicaConn, error) {
	rc, err := f.replicas.get(ctx, pod)
	if err != nil {
		return nil, nil, err
	}
	if err := rc.send(req, body, n); err != nil {
		rc.Close()
		return nil, nil, err
	}
	stop := cl.watch(rc)
	resp, err := rc.receive(req)
	stop()
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	return resp, rc, nil
}

// roundTripRetrying passes an idempotent call on, and when the replica
// fails before answering — its connection refused or lost, no byte of an
// answer read — passes it to another ready replica, up to MaxScoringTries.
// The body is read first (it is bounded), so that each try sends it whole.
func (f *front) roundTripRetrying(ctx context.Context, cl *caller, s *service, name string, sl *slot, req *http.Request, body *callerBody) (*http.Response, *replicaConn, error) {
	whole, err := io.ReadAll(body)
	if err != nil {
		return nil, nil, err
	}
	// By pod address: a round republishes every slot as a new copy, so
	// the replica that failed is another *slot by the next try.
	tried := map[netip.Addr]bool{}
	var last error
	for range MaxScoringTries {
		tried[sl.pod] = true
		resp, rc, err := f.roundTrip(ctx, cl, sl.pod, req, bytes.NewReader(whole), int64(len(whole)))
		if err == nil {
			return resp, rc, nil
		}
		last = err
		if cl.hungUp {
			break
		}
		if sl = s.pickExcept(tried); sl == nil || ctx.Err() != nil {
			break
		}
		f.c.log.Info("inference: a replica failed before answering; the idempotent call is tried on another", "service", name, "error", last)
	}
	return nil, nil, last
}

// relay writes the replica's answer to the caller; it reports whether the
// caller's connection goes on, and an error when it, or the replica's
// connection, broke off.
func (cl *caller) relay(req *http.Request, resp *http.Response, keep bool) (bool, error) {
	bw := cl.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(resp.StatusCode))
	bw.WriteByte(' ')
	bw.WriteString(reason(resp))
	bw.WriteString("\r\n")
	writeHeaders(bw, resp.Header, nil)
	bodiless := req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || resp.StatusCode < 200
	chunked := false
	switch {
	case bodiless:
		if cl := resp.Header.Get("Content-Length"); cl != "" && req.Method == http.MethodHead {
			bw.WriteString("Content-Length: " + cl + "\r\n")
		}
	case resp.ContentLength >= 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(resp.ContentLength, 10))
		bw.WriteString("\r\n")
	case req.ProtoAtLeast(1, 1):
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	default:
		keep = false // an HTTP/1.0 caller: the body ends with the connection
	}
	switch {
	case !keep:
		bw.WriteString("Connection: close\r\n")
	case !req.ProtoAtLeast(1, 1):
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
	var err error
	switch {
	case bodiless:
	case chunked:
		cw := httputil.NewChunkedWriter(bw)
		if _, err = io.Copy(cw, resp.Body); err == nil {
			cw.Close()
			_, err = bw.WriteString("\r\n")
		}
	case resp.ContentLength >= 0:
		_, err = io.CopyN(bw, resp.Body, resp.ContentLength)
	default:
		_, err = io.Copy(bw, resp.Body)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return keep, err
}

// reason is the reason phrase of the replica's status line when it is a
// valid one (RFC 9112 §4: tabs, spaces, visible and non-ASCII bytes), else
// the status code's standard text.
func reason(resp *http.Response) string {
	_, text, _ := strings.Cut(resp.Status, " ")
	for i := 0; i < len(text); i++ {
		if c := text[i]; c != '\t' && (c < ' ' || c == 0x7f) {
			return http.StatusText(resp.StatusCode)
		}
	}
	return text
}

// validHost reports whether a Host header's value is made of the bytes a
// host and port may hold (RFC 3986's reg-name, IP literals and port).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~:[]%!$&'()*+,;=@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// writeHeaders writes h but for the hop-by-hop headers, those its
// Connection header names, and those in also.
func writeHeaders(bw *bufio.Writer, h http.Header, also map[string]bool) {
	conn := h["Connection"]
	for k, vv := range h {
		if hopByHop[k] || also[k] || named(conn, k) {
			continue
		}
		if strings.IndexByte(k, '_') >= 0 {
			// X_Forwarded_For is X-Forwarded-For to a CGI or WSGI
			// server: an alias of a stripped header is stripped.
			if a := http.CanonicalHeaderKey(strings.ReplaceAll(k, "_", "-")); hopByHop[a] || also[a] || named(conn, a) {
				continue
			}
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
}

// named reports whether a Connection header's tokens name key.
func named(conn []string, key string) bool {
	for _, v := range conn {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), key) {
				return true
			}
		}
	}
	return false
}

// release ends a call's use of its replica connection: back to the pool
// when the answer was read whole and both sides keep it, else closed.
func (f *front) release(rc *replicaConn, resp *http.Response, whole bool) {
	if !whole || resp.Close {
		rc.Close() // first: closing the body would read the rest of it
		resp.Body.Close()
		return
	}
	resp.Body.Close()
	if !rc.clean() {
		rc.Close()
		return
	}
	f.replicas.put(rc)
}
