package egress

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// serveHTTP serves HTTP/1.1 proxy requests on the connection until the
// client closes it or asks to, a tunnel takes it over, or a request cannot
// be served.
//
// Plain requests keep one connection to the server they went to, and reuse
// it for the next request to the same destination; a request to another
// destination closes it and dials anew (clients of a confined job talk to
// one service at a time, and every dial is one decision in the flow log).
func (c *conn) serveHTTP() {
	var up *upstream
	defer func() {
		if up != nil {
			c.dropUpstream(up)
		}
	}()
	for {
		// The deadline bounds both a slow request head and the idle time
		// between keep-alive requests.
		c.c.SetReadDeadline(time.Now().Add(c.p.headTimeout))
		c.lr.n = c.p.maxHeadBytes
		req, err := http.ReadRequest(c.br)
		if err != nil {
			switch {
			case err == io.EOF, c.ctx.Err() != nil, errors.Is(err, os.ErrDeadlineExceeded):
				// Closed between requests, the proxy closing, or a client
				// too slow to finish its head: nothing to answer.
			case errors.Is(err, errHeadTooLarge) || c.lr.n == 0:
				c.refuseHTTP("", &refusal{status: http.StatusRequestHeaderFieldsTooLarge,
					msg: fmt.Sprintf("vnetml egress: request head larger than %d bytes", c.p.maxHeadBytes)})
			default:
				c.refuseHTTP("", badRequest("%v", err))
			}
			return
		}
		c.lr.n = -1
		c.c.SetReadDeadline(time.Time{})
		if req.ProtoMajor != 1 {
			c.refuseHTTP(req.RequestURI, &refusal{status: http.StatusHTTPVersionNotSupported,
				msg: "vnetml egress: the proxy speaks HTTP/1.x, not " + req.Proto})
			return
		}
		if c.p.requireAuth {
			u, pw, ok := parseBasic(req.Header.Get("Proxy-Authorization"))
			if !ok || !c.p.authorized(u, pw) {
				c.refuseHTTP(req.RequestURI, &refusal{status: http.StatusProxyAuthRequired, authn: true,
					msg: "vnetml egress: this proxy serves only the processes of its endpoint (the credentials are in their HTTP_PROXY)"})
				return
			}
		}
		if req.Method == http.MethodConnect {
			c.serveConnect(req)
			return
		}
		if !c.forward(req, &up) {
			return
		}
	}
}

// serveConnect answers CONNECT host:port and splices the tunnel.
func (c *conn) serveConnect(req *http.Request) {
	target := req.RequestURI
	if req.URL.Host == "" || req.URL.Port() == "" {
		c.refuseHTTP(target, badRequest("CONNECT needs host:port (as in CONNECT mystore.blob.core.windows.net:443), not %q", target))
		return
	}
	port, ok := parsePort(req.URL.Port())
	if !ok {
		c.refuseHTTP(target, badRequest("bad port in %q", target))
		return
	}
	dst, ref := c.p.destination(req.URL.Hostname(), port)
	if ref != nil {
		c.refuseHTTP(target, ref)
		return
	}
	up, ref := c.p.dialTo(c.ctx, dst)
	if ref != nil {
		c.refuseHTTP(target, ref)
		return
	}
	stop := closeOnDone(c.ctx, up)
	defer stop()
	c.bw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
	if err := c.bw.Flush(); err != nil {
		up.Close()
		return
	}
	// A client may send its first bytes (a TLS ClientHello) without
	// waiting for the 200; they are in the reader's buffer.
	pending, _ := c.br.Peek(c.br.Buffered())
	sent, received := splice(c.c, pending, up, nil)
	c.p.logConn(c.ctx, "connect", c.c.RemoteAddr(), dst, sent, received)
}

// upstream is a connection a plain request was forwarded over.
type upstream struct {
	dst      netip.AddrPort
	conn     net.Conn // as the Dialer returned it
	cc       *countConn
	br       *bufio.Reader
	bw       *bufio.Writer
	requests int
	stop     func() bool // undoes closing conn when the client connection ends
}

func (c *conn) newUpstream(dst netip.AddrPort, nc net.Conn) *upstream {
	cc := &countConn{Conn: nc}
	return &upstream{dst: dst, conn: nc, cc: cc,
		br: bufio.NewReaderSize(cc, 4096), bw: bufio.NewWriterSize(cc, 4096),
		stop: closeOnDone(c.ctx, nc)}
}

// dropUpstream closes up and logs what it carried.
func (c *conn) dropUpstream(up *upstream) {
	up.stop()
	up.conn.Close()
	c.p.logConn(c.ctx, "http", c.c.RemoteAddr(), up.dst, up.cc.written.Load(), up.cc.read.Load(),
		slog.Int("requests", up.requests))
}

// forward forwards one absolute-form request and relays its response. It
// reports whether the client connection can carry another request.
func (c *conn) forward(req *http.Request, upp **upstream) bool {
	target := req.RequestURI
	origin, host, port, ref := absoluteTarget(req)
	if ref != nil {
		c.refuseHTTP(target, ref)
		return false
	}
	dst, ref := c.p.destination(host, port)
	if ref != nil {
		c.refuseHTTP(target, ref)
		return false
	}
	chunked := len(req.TransferEncoding) > 0 // http.ReadRequest accepts "chunked" only
	var body *bodyReader
	if req.Body != nil && req.Body != http.NoBody {
		body = &bodyReader{r: req.Body}
	}
	upgrade := requestHeader(req, chunked)

	var (
		up    *upstream
		resp  *http.Response
		wdone chan error
	)
	for attempt := 0; ; attempt++ {
		up = *upp
		if up != nil && up.dst != dst {
			c.dropUpstream(up)
			up, *upp = nil, nil
		}
		if up == nil {
			nc, ref := c.p.dialTo(c.ctx, dst)
			if ref != nil {
				c.refuseHTTP(target, ref)
				return false
			}
			up = c.newUpstream(dst, nc)
			*upp = up
		}
		reused := up.requests > 0
		up.requests++
		before := up.cc.read.Load()

		// The request goes out while the response is read, so that a
		// server can answer 100 Continue, or refuse an upload early,
		// without a deadlock.
		u, done := up, make(chan error, 1)
		wdone = done
		c.wg.Go(func() {
			err := errPanic
			defer func() { done <- err }()
			defer c.p.recover(u.conn)
			if err = c.writeRequest(u, req, origin, body, chunked); err != nil {
				u.conn.Close()
			}
		})
		var informed bool
		var err error
		resp, informed, err = c.readResponse(up, req)
		if err == nil {
			break
		}
		c.dropUpstream(up)
		*upp = nil
		// A kept-alive connection the server closed while it was idle
		// fails before any byte of a response: a request without a body
		// can safely go again over a new connection, as net/http does.
		if reused && body == nil && !informed && up.cc.read.Load() == before && attempt == 0 && c.ctx.Err() == nil {
			<-done
			continue
		}
		if !informed {
			c.stopWriter(up, done)
			c.refuseHTTP(target, &refusal{status: http.StatusBadGateway, reply: socksGeneralFailure,
				msg: fmt.Sprintf("vnetml egress: %s sent no valid response: %v", dst, err)})
		}
		return false
	}

	bodyDone := body == nil || body.done.Load()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return c.switchProtocols(req, resp, upgrade, bodyDone, upp, wdone)
	}
	keep, err := c.relayResponse(req, resp, up, !bodyDone)
	if err != nil {
		return false
	}
	if !bodyDone {
		// The server answered before the whole request arrived; the
		// rest of the body makes this connection unusable for another
		// request. Let the body drain (bounded) so that closing does not
		// reset the connection before the client has read the answer.
		if cw, ok := c.c.(closeWriter); ok {
			cw.CloseWrite()
		}
		deadline := time.Now().Add(c.p.lingerTimeout)
		c.c.SetReadDeadline(deadline)
		up.conn.SetWriteDeadline(deadline)
		<-wdone
		return false
	}
	if werr := <-wdone; werr != nil || resp.Close || up.br.Buffered() > 0 {
		c.dropUpstream(up)
		*upp = nil
	}
	return keep
}

var errPanic = errors.New("panic writing the request")

// stopWriter ends a request writer that is still running, so that the
// client connection is the handler's alone again: the server connection is
// closed, and a client still sending its body has lingerTimeout to finish.
func (c *conn) stopWriter(up *upstream, wdone <-chan error) {
	up.conn.Close()
	c.c.SetReadDeadline(time.Now().Add(c.p.lingerTimeout))
	<-wdone
}

// absoluteTarget checks that req is an absolute-form http:// request and
// returns its origin-form request target and the host and port it names.
func absoluteTarget(req *http.Request) (origin, host string, port uint16, ref *refusal) {
	u := req.URL
	switch {
	case u.Scheme == "":
		return "", "", 0, badRequest("%s %s is not a proxy request: ask for an absolute URL "+
			"(GET http://host:port/path) or CONNECT host:port", req.Method, req.RequestURI)
	case u.Scheme != "http":
		return "", "", 0, badRequest("%s URLs are not forwarded as plain requests: use CONNECT (HTTPS_PROXY)", u.Scheme)
	case u.Host == "":
		return "", "", 0, badRequest("no host in %q", req.RequestURI)
	}
	port = 80
	if p := u.Port(); p != "" {
		var ok bool
		if port, ok = parsePort(p); !ok {
			return "", "", 0, badRequest("bad port in %q", req.RequestURI)
		}
	}
	return originForm(req.RequestURI), u.Hostname(), port, nil
}

// originForm is the origin form of an absolute-form request target, byte
// for byte (signed URLs such as SAS tokens must not be re-encoded):
// http://host:port/path?query → /path?query.
func originForm(uri string) string {
	if i := strings.Index(uri, "://"); i >= 0 {
		uri = uri[i+3:]
	}
	j := strings.IndexAny(uri, "/?#")
	if j < 0 {
		return "/"
	}
	uri = uri[j:]
	if k := strings.IndexByte(uri, '#'); k >= 0 {
		uri = uri[:k]
	}
	if !strings.HasPrefix(uri, "/") {
		uri = "/" + uri
	}
	return uri
}

// hopHeaders belong to one hop of a connection and are not forwarded
// (RFC 9110 §7.6.1), whatever Connection lists besides.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = textproto.TrimString(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

func hasToken(vs []string, token string) bool {
	for _, v := range vs {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(tok), token) {
				return true
			}
		}
	}
	return false
}

// requestHeader turns the client's header into the one sent to the server:
// without hop-by-hop and Proxy-* headers, framed by the proxy itself (so
// that nothing the client lists in Connection can change how the body is
// delimited). It returns the protocol the client asks to switch to, if any.
func requestHeader(req *http.Request, chunked bool) (upgrade string) {
	h := req.Header
	if hasToken(h["Connection"], "upgrade") {
		upgrade = h.Get("Upgrade")
	}
	teTrailers := hasToken(h["Te"], "trailers")
	_, hadLength := h["Content-Length"]
	removeHopByHop(h)
	for k := range h {
		if len(k) >= 6 && strings.EqualFold(k[:6], "proxy-") {
			delete(h, k)
		}
	}
	h.Del("Content-Length")
	if teTrailers {
		h.Set("Te", "trailers")
	}
	switch {
	case upgrade != "":
		h.Set("Connection", "Upgrade")
		h.Set("Upgrade", upgrade)
	case req.Close:
		h.Set("Connection", "close")
	}
	switch {
	case chunked:
		h.Set("Transfer-Encoding", "chunked")
		announceTrailer(h, req.Trailer)
	case req.ContentLength > 0 || hadLength:
		h.Set("Content-Length", strconv.FormatInt(max(req.ContentLength, 0), 10))
	}
	return upgrade
}

func announceTrailer(h, trailer http.Header) {
	if len(trailer) == 0 {
		return
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range trailer {
			if !yield(k) {
				return
			}
		}
	})
	h.Set("Trailer", strings.Join(keys, ", "))
}

// bodyReader notes when a request body has been read to its end.
type bodyReader struct {
	r    io.Reader
	done atomic.Bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.done.Store(true)
	}
	return n, err
}

// writeRequest writes req to the server in origin form, streaming its body.
func (c *conn) writeRequest(up *upstream, req *http.Request, origin string, body *bodyReader, chunked bool) error {
	w := up.bw
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(origin)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(req.Host)
	w.WriteString("\r\n")
	req.Header.Write(w)
	w.WriteString("\r\n")
	// The head goes out before the body: the server may answer 100
	// Continue, or refuse, before the client sends the body.
	if err := w.Flush(); err != nil || body == nil {
		return err
	}
	if err := copyBody(w, body, chunked, func() bool { return c.br.Buffered() == 0 }); err != nil {
		return err
	}
	if chunked {
		writeLastChunk(w, req.Trailer)
	}
	return w.Flush()
}

// readResponse reads the server's final response, passing interim ones
// (100 Continue, 103 Early Hints) on to the client. informed reports
// whether any was passed on.
func (c *conn) readResponse(up *upstream, req *http.Request) (resp *http.Response, informed bool, err error) {
	for range 16 {
		resp, err = http.ReadResponse(up.br, req)
		if err != nil {
			return nil, informed, err
		}
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, informed, nil
		}
		if !req.ProtoAtLeast(1, 1) {
			continue // an HTTP/1.0 client does not expect interim responses
		}
		removeHopByHop(resp.Header)
		c.bw.WriteString("HTTP/1.1 " + resp.Status + "\r\n")
		resp.Header.Write(c.bw)
		c.bw.WriteString("\r\n")
		informed = true
		if err := c.bw.Flush(); err != nil {
			return nil, informed, err
		}
	}
	return nil, informed, errors.New("too many interim responses")
}

// relayResponse writes resp to the client, streaming its body. It reports
// whether the client connection can carry another request; mustClose says
// it cannot whatever the response.
func (c *conn) relayResponse(req *http.Request, resp *http.Response, up *upstream, mustClose bool) (keep bool, err error) {
	h := resp.Header
	length := h["Content-Length"]
	removeHopByHop(h)
	h.Del("Content-Length")
	closeClient := mustClose || req.Close
	bodyless := req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || resp.StatusCode < 200
	chunked := false
	switch {
	case bodyless:
		// Content-Length of a HEAD or 304 response describes the
		// representation, not this message: pass it on as it came.
		if length != nil {
			h["Content-Length"] = length
		}
	case resp.ContentLength >= 0 && len(resp.TransferEncoding) == 0:
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	case req.ProtoAtLeast(1, 1):
		// Chunked, or delimited by the server closing: chunk it, so
		// that the client connection survives.
		chunked = true
		h.Set("Transfer-Encoding", "chunked")
		announceTrailer(h, resp.Trailer)
	default:
		// An HTTP/1.0 client knows no chunking: the end of the body is
		// the end of the connection.
		closeClient = true
	}
	switch {
	case closeClient:
		h.Set("Connection", "close")
	case !req.ProtoAtLeast(1, 1):
		h.Set("Connection", "keep-alive")
	}
	c.bw.WriteString("HTTP/1.1 " + resp.Status + "\r\n")
	h.Write(c.bw)
	c.bw.WriteString("\r\n")
	if !bodyless {
		if err := copyBody(c.bw, resp.Body, chunked, func() bool { return up.br.Buffered() == 0 }); err != nil {
			return false, err
		}
		if chunked {
			writeLastChunk(c.bw, resp.Trailer)
		}
	}
	if err := c.bw.Flush(); err != nil {
		return false, err
	}
	return !closeClient, nil
}

// switchProtocols relays a 101 Switching Protocols response (a WebSocket
// upgrade) and splices the connection that follows.
func (c *conn) switchProtocols(req *http.Request, resp *http.Response, upgrade string, bodyDone bool, upp **upstream, wdone chan error) bool {
	up := *upp
	if upgrade == "" || !bodyDone {
		c.stopWriter(up, wdone)
		c.refuseHTTP(req.RequestURI, &refusal{status: http.StatusBadGateway, reply: socksGeneralFailure,
			msg: fmt.Sprintf("vnetml egress: %s switched protocols on a request that did not ask to", up.dst)})
		return false
	}
	if err := <-wdone; err != nil {
		return false
	}
	h := resp.Header
	proto := h.Get("Upgrade")
	removeHopByHop(h)
	h.Set("Connection", "Upgrade")
	h.Set("Upgrade", proto)
	c.bw.WriteString("HTTP/1.1 " + resp.Status + "\r\n")
	h.Write(c.bw)
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		return false
	}
	*upp = nil
	up.stop()
	stop := closeOnDone(c.ctx, up.conn)
	defer stop()
	toServer, _ := c.br.Peek(c.br.Buffered())
	toClient, _ := up.br.Peek(up.br.Buffered())
	already := int64(len(toClient)) // read through up.cc, and counted again by splice
	sent, received := splice(c.c, toServer, up.conn, toClient)
	c.p.logConn(c.ctx, "http", c.c.RemoteAddr(), up.dst, up.cc.written.Load()+sent, up.cc.read.Load()+received-already,
		slog.Int("requests", up.requests), slog.String("upgrade", proto))
	return false
}

// refuseHTTP answers a request the proxy does not carry out, and closes
// the connection.
func (c *conn) refuseHTTP(target string, r *refusal) {
	body := r.msg + "\n"
	fmt.Fprintf(c.bw, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n", r.status, http.StatusText(r.status))
	if r.denied {
		c.bw.WriteString("X-Vnetml-Denied: 1\r\n")
	}
	if r.dst.IsValid() {
		c.bw.WriteString("X-Vnetml-Destination: " + r.dst.String() + "\r\n")
	}
	if r.authn {
		c.bw.WriteString("Proxy-Authenticate: Basic realm=\"vnetml egress\"\r\n")
	}
	fmt.Fprintf(c.bw, "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	c.bw.Flush()
	c.p.logRefusal(c.ctx, "http", c.c.RemoteAddr(), target, r)
	c.lingerClose()
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyBody copies a message body from r to w, chunked if asked. It flushes
// w whenever drained reports that nothing more is ready to read, so that a
// stream reaches its reader as it comes.
func copyBody(w *bufio.Writer, r io.Reader, chunked bool, drained func() bool) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if chunked {
				w.WriteString(strconv.FormatInt(int64(n), 16))
				w.WriteString("\r\n")
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if chunked {
				w.WriteString("\r\n")
			}
			if drained() {
				if err := w.Flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// writeLastChunk ends a chunked body, with its trailer.
func writeLastChunk(w *bufio.Writer, trailer http.Header) {
	w.WriteString("0\r\n")
	trailer.Write(w)
	w.WriteString("\r\n")
}

// countConn counts the bytes a connection carries.
type countConn struct {
	net.Conn
	read, written atomic.Int64
}

func (c *countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

func (c *countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.written.Add(int64(n))
	return n, err
}

// parseBasic decodes "Basic base64(user:password)".
func parseBasic(h string) (user, pass string, ok bool) {
	scheme, cred, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(b), ":")
}
