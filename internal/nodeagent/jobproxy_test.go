package nodeagent

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/storageauth"
)

func startTestLocalProxy(t *testing.T, upstream string) (*localProxy, *uplink) {
	t.Helper()
	up := newUplink()
	if err := up.set(upstream); err != nil {
		t.Fatal(err)
	}
	p, err := startLocalProxy(up, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p, up
}

// rawConnect sends CONNECT target to the proxy at addr with auth (empty:
// none) and returns the answer and its body.
func rawConnect(t *testing.T, addr, auth, target string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if auth != "" {
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(auth)) + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, "" // a tunnel: what follows is the destination's
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp, string(b)
}

func proxyAuth(p *localProxy) string { return p.user + ":" + p.pass }

// The job's CONNECT is chained to the upstream with the node's
// credentials; a refusal by the network rules reaches the job as the
// upstream said it, headers and explanation; a granted one is a tunnel
// that TLS goes through with the deployment CA.
func TestLocalProxyConnect(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	e.setDeny(historyAddr, true)
	p, _ := startTestLocalProxy(t, e.url)
	addr := p.ln.Addr().String()

	resp, body := rawConnect(t, addr, proxyAuth(p), historyHost+":443")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Vnetml-Denied") != "1" ||
		resp.Header.Get("X-Vnetml-Destination") != historyAddr.String() || strings.TrimSpace(body) != deniedPrefix+deniedRule {
		t.Errorf("denied CONNECT: %d %v %q", resp.StatusCode, resp.Header, body)
	}

	resp, _ = rawConnect(t, addr, "", storageHost+":443")
	if resp.StatusCode != http.StatusProxyAuthRequired || resp.Header.Get("Proxy-Authenticate") == "" {
		t.Errorf("CONNECT without credentials: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = rawConnect(t, addr, "job:wrong", storageHost+":443")
	if resp.StatusCode != http.StatusProxyAuthRequired {
		t.Errorf("CONNECT with wrong credentials: %d", resp.StatusCode)
	}

	c.putBlob(artContainer, "probe.txt", []byte("probe-ok"))
	pu, _ := url.Parse(p.URL())
	cli := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: c.ca.Pool()}}}
	defer cli.CloseIdleConnections()
	r, err := cli.Get(c.sas(artContainer, "probe.txt", storageauth.PermRead))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || string(b) != "probe-ok" {
		t.Errorf("GET through the tunnel: %d %q", r.StatusCode, b)
	}
	if n, _ := e.counts(storageAddr); n != 1 {
		t.Errorf("the upstream dialed storage %d times, want 1", n)
	}
}

// Plain HTTP requests are forwarded through the upstream; a rebind
// changes the upstream of the connections made after it; without an
// upstream the proxy dials itself.
func TestLocalProxyForwardAndRebind(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != "" {
			t.Error("the job's proxy credentials reached the server")
		}
		io.WriteString(w, "hello "+r.URL.RequestURI())
	}))
	t.Cleanup(plain.Close)
	// Two addresses of one server: the egress proxy keeps a connection to
	// a destination for the next request, and a flow once admitted
	// survives a rule change.
	web, denied := netip.MustParseAddrPort("198.18.3.1:80"), netip.MustParseAddrPort("198.18.3.2:80")
	c.mu.Lock()
	c.routes[web] = plain.Listener.Addr().String()
	c.routes[denied] = plain.Listener.Addr().String()
	c.mu.Unlock()
	first, second := c.egress(), c.egress()
	p, up := startTestLocalProxy(t, first.url)
	pu, _ := url.Parse(p.URL())

	get := func(target string) (int, http.Header, string) {
		t.Helper()
		tr := &http.Transport{Proxy: http.ProxyURL(pu), DisableKeepAlives: true}
		r, err := (&http.Client{Transport: tr}).Get(target)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, r.Header, string(b)
	}
	if code, _, body := get("http://198.18.3.1/x?sig=a%2Fb"); code != 200 || body != "hello /x?sig=a%2Fb" {
		t.Errorf("forwarded GET: %d %q", code, body)
	}
	first.setDeny(denied, true)
	if code, h, body := get("http://198.18.3.2/x"); code != http.StatusForbidden || h.Get("X-Vnetml-Denied") != "1" || !strings.Contains(body, deniedRule) {
		t.Errorf("denied GET: %d %v %q", code, h, body)
	}

	if err := up.set(second.url); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get("http://198.18.3.1/y"); code != 200 {
		t.Errorf("GET after the rebind: %d", code)
	}
	if n, _ := second.counts(web); n != 1 {
		t.Errorf("the new upstream carried %d requests, want 1", n)
	}

	// No upstream: the proxy connects by itself (a kernel fabric).
	if err := up.set(""); err != nil {
		t.Fatal(err)
	}
	if code, _, body := get(plain.URL + "/direct"); code != 200 || body != "hello /direct" {
		t.Errorf("direct GET: %d %q", code, body)
	}
	resp, _ := rawConnect(t, p.ln.Addr().String(), proxyAuth(p), plain.Listener.Addr().String())
	if resp.StatusCode != 200 {
		t.Errorf("direct CONNECT: %d", resp.StatusCode)
	}
}
