package egress

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestCredentials: with RequireCredentials, only clients that present them
// are served — HTTP with Proxy-Authorization, SOCKS5 with RFC 1929.
func TestCredentials(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	bAddr := netip.MustParseAddrPort(strings.TrimPrefix(backend.URL, "http://"))
	p := New(func(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", bAddr.String())
	}, nil, nil)
	p.RequireCredentials("vnetml", "s3cret")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(context.Background(), ln)
	defer p.Close()

	get := func(proxy string) (int, error) {
		u, _ := url.Parse(proxy)
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}, Timeout: 10 * time.Second}
		resp, err := c.Get("http://10.1.2.3:80/x")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get("http://vnetml:s3cret@" + ln.Addr().String()); err != nil || code != 200 {
		t.Errorf("with credentials: %d %v", code, err)
	}
	if code, _ := get("http://" + ln.Addr().String()); code != http.StatusProxyAuthRequired {
		t.Errorf("without credentials: %d, want 407", code)
	}
	if code, _ := get("http://vnetml:wrong@" + ln.Addr().String()); code != http.StatusProxyAuthRequired {
		t.Errorf("with a wrong password: %d, want 407", code)
	}

	socks := func(offer []byte, user, pass string) []byte {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(append([]byte{5, byte(len(offer))}, offer...))
		r := bufio.NewReader(c)
		var sel [2]byte
		if _, err := io.ReadFull(r, sel[:]); err != nil || sel[1] != 2 {
			return sel[:]
		}
		msg := append([]byte{1, byte(len(user))}, user...)
		msg = append(append(msg, byte(len(pass))), pass...)
		c.Write(msg)
		var st [2]byte
		if _, err := io.ReadFull(r, st[:]); err != nil || st[1] != 0 {
			return append(sel[:], st[:]...)
		}
		c.Write([]byte{5, 1, 0, 1, 10, 1, 2, 3, 0, 80})
		var rep [10]byte
		io.ReadFull(r, rep[:])
		return append(append(sel[:], st[:]...), rep[:]...)
	}
	if got := socks([]byte{0}, "", ""); fmt.Sprint(got) != fmt.Sprint([]byte{5, 0xFF}) {
		t.Errorf("SOCKS5 offering no authentication: %v, want no acceptable method", got)
	}
	if got := socks([]byte{0, 2}, "vnetml", "wrong"); len(got) < 4 || got[3] == 0 {
		t.Errorf("SOCKS5 with a wrong password: %v, want a failed login", got)
	}
	if got := socks([]byte{2}, "vnetml", "s3cret"); len(got) != 14 || got[5] != 0 {
		t.Errorf("SOCKS5 with credentials: %v, want a login and a connection", got)
	}
}

// TestEmptyCredentialsStillRequired: RequireCredentials("", "") demands
// them; it does not leave the proxy open.
func TestEmptyCredentialsStillRequired(t *testing.T) {
	p := New(func(ctx context.Context, dst netip.AddrPort) (net.Conn, error) { return nil, fmt.Errorf("no") }, nil, nil)
	p.RequireCredentials("", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(context.Background(), ln)
	defer p.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte{5, 1, 0}) // offers no authentication only
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil || sel[1] != 0xFF {
		t.Errorf("no-auth greeting answered %v %v, want no acceptable method", sel, err)
	}
}
