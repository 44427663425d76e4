package nodeagent

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// route is the node's way out into the virtual cloud at one moment: the
// upstream egress proxy (nil: connections are dialed directly, as on a
// kernel fabric) and the transport that forwards the jobs' plain HTTP
// requests through it. A rebind publishes a new route and closes the old
// one's changed channel, so that a report waiting to be retried tries
// again at once.
type route struct {
	raw     string // as the server gave it
	proxy   *url.URL
	fwd     *http.Transport
	changed chan struct{}
}

// uplink holds the current route. Readers take it without a lock; a
// rebind swaps it.
type uplink struct {
	mu  sync.Mutex // serialises set
	cur atomic.Pointer[route]
}

func newUplink() *uplink {
	u := &uplink{}
	u.cur.Store(newRoute("", nil))
	return u
}

func newRoute(raw string, proxy *url.URL) *route {
	r := &route{raw: raw, proxy: proxy, changed: make(chan struct{})}
	r.fwd = &http.Transport{
		Proxy:                 proxyFunc(proxy),
		DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
		ResponseHeaderTimeout: 5 * time.Minute, // a job's request may be slow; it is the job's to bound
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		DisableCompression:    true, // what the job asked for, byte for byte
	}
	return r
}

func proxyFunc(proxy *url.URL) func(*http.Request) (*url.URL, error) {
	if proxy == nil {
		return nil
	}
	return http.ProxyURL(proxy)
}

func (u *uplink) current() *route { return u.cur.Load() }

// set makes proxy (http://user:password@host:port, or "" for none) the
// way out from now on. Connections already made keep their way: as in
// Azure, an established flow survives.
func (u *uplink) set(proxy string) error {
	p, err := parseProxy(proxy)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	old := u.cur.Swap(newRoute(proxy, p))
	close(old.changed)
	old.fwd.CloseIdleConnections()
	return nil
}

// parseProxy checks an upstream proxy's URL: http://[user:password@]host:port.
func parseProxy(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// Not url's error: it quotes the URL, and with it the password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("proxy: not a URL: %v", err)
	case u.Scheme != "http":
		return nil, fmt.Errorf("proxy %s: give an http:// URL (the node's egress proxy speaks plain HTTP)", redactURL(u))
	case u.Hostname() == "" || u.Port() == "":
		return nil, fmt.Errorf("proxy %s: give host:port", redactURL(u))
	case u.Path != "" && u.Path != "/" || u.RawQuery != "":
		return nil, fmt.Errorf("proxy %s: a proxy URL has no path or query", redactURL(u))
	}
	return u, nil
}

// redactURL prints a URL without its password and query (a SAS).
func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	c.RawQuery, c.ForceQuery = "", false
	return c.String()
}

// dialTimeout bounds one dial of the proxy (or, without one, of the
// destination); the fabric's egress proxy gives up on its own dials after
// 30 s as well.
const dialTimeout = 30 * time.Second

// localProxy is the node-local egress proxy that jobs get in HTTP_PROXY
// and HTTPS_PROXY: it chains every connection to the current route, so
// that a rebind changes where a running job's new connections go without
// the job knowing. It serves CONNECT and absolute-form plain HTTP, only to
// clients that present its own random credentials.
type localProxy struct {
	up         *uplink
	log        *slog.Logger
	user, pass string
	ln         net.Listener
	srv        *http.Server
	done       chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]struct{} // hijacked tunnels, closed by close
}

func startLocalProxy(up *uplink, log *slog.Logger) (*localProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the jobs' egress proxy: %w", err)
	}
	b := make([]byte, 16)
	rand.Read(b)
	p := &localProxy{up: up, log: log, user: "job", pass: hex.EncodeToString(b), ln: ln,
		done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		defer close(p.done)
		p.srv.Serve(ln)
	}()
	return p, nil
}

// URL is what a job's proxy variables say.
func (p *localProxy) URL() string {
	return "http://" + p.user + ":" + p.pass + "@" + p.ln.Addr().String()
}

// close stops the proxy and every connection it carries.
func (p *localProxy) close() {
	p.srv.Close()
	<-p.done
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

func (p *localProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *localProxy) authorized(r *http.Request) bool {
	u, pw, ok := parseProxyBasic(r.Header.Get("Proxy-Authorization"))
	if !ok {
		return false
	}
	a := subtle.ConstantTimeCompare([]byte(u), []byte(p.user))
	b := subtle.ConstantTimeCompare([]byte(pw), []byte(p.pass))
	return a&b == 1
}

func parseProxyBasic(h string) (user, pass string, ok bool) {
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

func (p *localProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="vnetml node"`)
		proxyError(w, http.StatusProxyAuthRequired, "vnetml node: this proxy serves the node's job only (the credentials are in its HTTP_PROXY)")
		return
	}
	switch {
	case r.Method == http.MethodConnect:
		p.connect(w, r)
	case r.URL.Scheme == "http" && r.URL.Host != "":
		p.forward(w, r)
	default:
		proxyError(w, http.StatusBadRequest, fmt.Sprintf("vnetml node: %s %s is not a proxy request: ask for an absolute http:// URL, or CONNECT host:port for https", r.Method, r.RequestURI))
	}
}

func proxyError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// connect serves CONNECT host:port: a CONNECT to the upstream proxy with
// its credentials, whose refusal (a 403 of the network rules, with its
// X-Vnetml-* headers and its explanation) the job sees as it came.
func (p *localProxy) connect(w http.ResponseWriter, r *http.Request) {
	target := r.Host
	if _, port, err := net.SplitHostPort(target); err != nil || port == "" {
		proxyError(w, http.StatusBadRequest, fmt.Sprintf("vnetml node: CONNECT needs host:port, not %q", target))
		return
	}
	rt := p.up.current()
	ctx, cancel := context.WithTimeout(r.Context(), dialTimeout)
	defer cancel()
	up, ubr, refusal := dialTunnel(ctx, rt.proxy, target)
	if refusal != nil {
		refusal.write(w)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		proxyError(w, http.StatusInternalServerError, "vnetml node: cannot take over the connection")
		return
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	c.SetDeadline(time.Time{}) // the server's header deadline; a tunnel has none
	p.track(c, true)
	p.track(up, true)
	defer p.track(c, false)
	defer p.track(up, false)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		c.Close()
		up.Close()
		return
	}
	// Bytes already read on either side (a TLS ClientHello sent without
	// waiting for the 200) go first.
	toUp, _ := brw.Reader.Peek(brw.Reader.Buffered())
	var toClient []byte
	if ubr != nil {
		toClient, _ = ubr.Peek(ubr.Buffered())
	}
	splice(c, toUp, up, toClient)
}

// upstreamRefusal is a CONNECT the upstream proxy did not grant (or could
// not be asked), as the job is to see it.
type upstreamRefusal struct {
	status int
	header http.Header // the X-Vnetml-* headers
	body   string
}

func (u *upstreamRefusal) write(w http.ResponseWriter) {
	for k, vs := range u.header {
		w.Header()[k] = vs
	}
	proxyError(w, u.status, strings.TrimRight(u.body, "\n"))
}

// dialTunnel opens a connection to target: through proxy with CONNECT, or
// directly when proxy is nil. The reader holds what the proxy sent after
// its answer, if anything.
func dialTunnel(ctx context.Context, proxy *url.URL, target string) (net.Conn, *bufio.Reader, *upstreamRefusal) {
	var d net.Dialer
	if proxy == nil {
		c, err := d.DialContext(ctx, "tcp", target)
		if err != nil {
			return nil, nil, &upstreamRefusal{status: http.StatusBadGateway, body: fmt.Sprintf("vnetml node: connecting to %s: %v", target, err)}
		}
		return c, nil, nil
	}
	c, err := d.DialContext(ctx, "tcp", proxy.Host)
	if err != nil {
		return nil, nil, &upstreamRefusal{status: http.StatusBadGateway,
			body: fmt.Sprintf("vnetml node: the node's egress proxy (%s) cannot be reached: %v", proxy.Host, err)}
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if proxy.User != nil {
		pw, _ := proxy.User.Password()
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(proxy.User.Username()+":"+pw)) + "\r\n"
	}
	br := bufio.NewReader(c)
	var resp *http.Response
	if _, err = io.WriteString(c, req+"\r\n"); err == nil {
		resp, err = http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	}
	if !stop() {
		err = errors.Join(err, ctx.Err())
	}
	c.SetDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, nil, &upstreamRefusal{status: http.StatusBadGateway,
			body: fmt.Sprintf("vnetml node: the node's egress proxy (%s) did not answer CONNECT %s: %v", proxy.Host, target, err)}
	}
	if resp.StatusCode == http.StatusOK {
		return c, br, nil
	}
	defer c.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	ref := &upstreamRefusal{status: resp.StatusCode, header: http.Header{}, body: string(body)}
	for k, vs := range resp.Header {
		if strings.HasPrefix(k, "X-Vnetml-") {
			ref.header[k] = vs
		}
	}
	if resp.StatusCode == http.StatusProxyAuthRequired {
		// The agent's credentials, not the job's: the job cannot fix it.
		ref.status = http.StatusBadGateway
		ref.body = "vnetml node: the node's egress proxy refused the node's credentials: " + ref.body
	}
	return nil, nil, ref
}

// forward forwards an absolute-form plain HTTP request through the route's
// transport and relays the answer, streaming.
func (p *localProxy) forward(w http.ResponseWriter, r *http.Request) {
	rt := p.up.current()
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Close = false
	for _, k := range []string{"Proxy-Authorization", "Proxy-Connection", "Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		out.Header.Del(k)
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	resp, err := rt.fwd.RoundTrip(out)
	if err != nil {
		proxyError(w, http.StatusBadGateway, fmt.Sprintf("vnetml node: forwarding %s %s: %v", r.Method, redactURL(r.URL), err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusProxyAuthRequired {
		// The upstream refused the node's credentials, not the job's: a
		// 407 would send the job after its own HTTP_PROXY (as for CONNECT).
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		proxyError(w, http.StatusBadGateway, "vnetml node: the node's egress proxy refused the node's credentials: "+strings.TrimSpace(string(body)))
		return
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Trailer", "Transfer-Encoding", "Upgrade"} {
		resp.Header.Del(k)
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			rc.Flush() // a stream reaches the job as it comes
		}
		if err != nil {
			return
		}
	}
}

// splice copies between a and b until both directions end, half-closing
// each side when the other stops sending, then closes both.
func splice(a net.Conn, toB []byte, b net.Conn, toA []byte) {
	var wg sync.WaitGroup
	wg.Go(func() { pipe(b, a, toB) })
	pipe(a, b, toA)
	wg.Wait()
	a.Close()
	b.Close()
}

func pipe(dst, src net.Conn, pending []byte) {
	var err error
	if len(pending) > 0 {
		_, err = dst.Write(pending)
	}
	if err == nil {
		_, err = io.Copy(dst, src)
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		if cw.CloseWrite() == nil {
			return
		}
	}
	dst.Close()
	src.Close()
}
