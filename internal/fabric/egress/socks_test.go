package egress

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func socksIPv4Request(cmd byte, ip string, port uint16) []byte {
	a := netip.MustParseAddr(ip).As4()
	b := append([]byte{socksVersion, cmd, 0x00, socksAtypIPv4}, a[:]...)
	return binary.BigEndian.AppendUint16(b, port)
}

func socksDomainRequest(cmd byte, host string, port uint16) []byte {
	b := append([]byte{socksVersion, cmd, 0x00, socksAtypDomain, byte(len(host))}, host...)
	return binary.BigEndian.AppendUint16(b, port)
}

// socksHandshake offers no authentication, sends req, and returns the
// proxy's 10-byte reply.
func socksHandshake(t testing.TB, c net.Conn, req []byte) []byte {
	t.Helper()
	if _, err := c.Write([]byte{socksVersion, 1, socksNoAuth}); err != nil {
		t.Fatal(err)
	}
	var m [2]byte
	if _, err := io.ReadFull(c, m[:]); err != nil {
		t.Fatal(err)
	}
	if m != [2]byte{socksVersion, socksNoAuth} {
		t.Fatalf("method selection % x", m)
	}
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	rep := make([]byte, 10)
	if _, err := io.ReadFull(c, rep); err != nil {
		t.Fatal(err)
	}
	if rep[0] != socksVersion || rep[2] != 0 || rep[3] != socksAtypIPv4 || !bytes.Equal(rep[4:], make([]byte, 6)) {
		t.Fatalf("reply % x: want 05 xx 00 01 and bound address 0.0.0.0:0", rep)
	}
	return rep
}

// socks5Dial is a minimal SOCKS5 client, written from RFC 1928 without
// looking at the proxy: no authentication, CONNECT by IPv4 address or
// domain name.
func socks5Dial(ctx context.Context, proxy, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var port uint16
	if _, err := fmt.Sscanf(portStr, "%d", &port); err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", proxy)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (net.Conn, error) {
		c.Close()
		return nil, err
	}
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		return fail(err)
	}
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil {
		return fail(err)
	}
	if sel[0] != 5 || sel[1] != 0 {
		return fail(fmt.Errorf("socks5: method %#x", sel[1]))
	}
	req := []byte{5, 1, 0}
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		b := a.As4()
		req = append(append(req, 1), b[:]...)
	} else {
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = append(req, byte(port>>8), byte(port))
	if _, err := c.Write(req); err != nil {
		return fail(err)
	}
	var rep [4]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		return fail(err)
	}
	if rep[1] != 0 {
		return fail(fmt.Errorf("socks5: reply %#x", rep[1]))
	}
	var skip int
	switch rep[3] {
	case 1:
		skip = 4 + 2
	case 4:
		skip = 16 + 2
	case 3:
		var l [1]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return fail(err)
		}
		skip = int(l[0]) + 2
	default:
		return fail(fmt.Errorf("socks5: address type %#x", rep[3]))
	}
	if _, err := io.ReadFull(c, make([]byte, skip)); err != nil {
		return fail(err)
	}
	return c, nil
}

func TestSOCKS5Connect(t *testing.T) {
	n := newTestNet()
	n.route("10.0.0.9:7", startEcho(t))
	n.name("echo.internal", "10.0.0.9")
	tp := startProxy(t, n.dial, n.resolve, nil)
	for name, req := range map[string][]byte{
		"ipv4":           socksIPv4Request(socksConnect, "10.0.0.9", 7),
		"domain":         socksDomainRequest(socksConnect, "echo.internal", 7),
		"domain is ipv4": socksDomainRequest(socksConnect, "10.0.0.9", 7),
	} {
		t.Run(name, func(t *testing.T) {
			c := tp.dial(t)
			if rep := socksHandshake(t, c, req); rep[1] != socksSucceeded {
				t.Fatalf("reply %#x", rep[1])
			}
			io.WriteString(c, "over socks")
			c.CloseWrite()
			if b, err := io.ReadAll(c); err != nil || string(b) != "over socks" {
				t.Fatalf("echo %q %v", b, err)
			}
		})
	}
	t.Run("request with data in one write", func(t *testing.T) {
		c := tp.dial(t)
		io.WriteString(c, "\x05\x02\x02\x00")
		msg := append(socksIPv4Request(socksConnect, "10.0.0.9", 7), "optimistic"...)
		if sel := readN(t, c, 2); sel != "\x05\x00" {
			t.Fatalf("method selection %q", sel)
		}
		c.Write(msg)
		c.CloseWrite()
		b, err := io.ReadAll(c)
		if err != nil || string(b[10:]) != "optimistic" || b[1] != socksSucceeded {
			t.Fatalf("got %q %v", b, err)
		}
	})
}

func TestSOCKS5Client(t *testing.T) {
	o := startOrigin(t, false)
	n := newTestNet()
	n.route("10.0.0.5:80", o.hostPort())
	n.name("svc.internal", "10.0.0.5")
	tp := startProxy(t, n.dial, n.resolve, nil)

	t.Run("hand-written client", func(t *testing.T) {
		tr := &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return socks5Dial(ctx, tp.addr, addr)
		}}
		defer tr.CloseIdleConnections()
		for _, u := range []string{"http://svc.internal/by-name", "http://10.0.0.5/by-address"} {
			resp, err := (&http.Client{Transport: tr}).Get(u)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			path := u[strings.LastIndex(u, "/"):]
			if resp.StatusCode != 200 || string(b) != "GET "+path+" " {
				t.Fatalf("%s: %d %q", u, resp.StatusCode, b)
			}
		}
	})
	t.Run("net/http socks5 proxy", func(t *testing.T) {
		tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "socks5", Host: tp.addr})}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Post("http://svc.internal/post", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "POST /post payload" {
			t.Fatalf("%d %q", resp.StatusCode, b)
		}
	})
	t.Run("refused", func(t *testing.T) {
		_, err := socks5Dial(context.Background(), tp.addr, "10.0.0.6:80")
		if err == nil || !strings.Contains(err.Error(), "0x2") {
			t.Fatalf("dial a destination the rules refuse: %v", err)
		}
	})
}

func TestSOCKS5Unsupported(t *testing.T) {
	n := newTestNet()
	n.route("10.0.0.9:7", startEcho(t))
	tp := startProxy(t, n.dial, n.resolve, nil)
	ipv6 := append([]byte{5, socksConnect, 0, socksAtypIPv6}, netip.MustParseAddr("2001:db8::1").AsSlice()...)
	ipv6 = append(ipv6, 0, 80)
	cases := []struct {
		name  string
		req   []byte
		reply byte
	}{
		{"bind", socksIPv4Request(0x02, "10.0.0.9", 7), socksCommandUnsupported},
		{"udp associate", socksIPv4Request(0x03, "10.0.0.9", 7), socksCommandUnsupported},
		{"unknown command", socksDomainRequest(0x7f, "x", 7), socksCommandUnsupported},
		{"ipv6 address", ipv6, socksAtypUnsupported},
		{"unknown address type", []byte{5, socksConnect, 0, 0x09, 1, 2, 3, 4, 0, 80}, socksAtypUnsupported},
		{"version 4 request", []byte{4, socksConnect, 0, socksAtypIPv4, 10, 0, 0, 9, 0, 7}, socksGeneralFailure},
		{"empty domain", socksDomainRequest(socksConnect, "", 7), socksGeneralFailure},
		{"port 0", socksIPv4Request(socksConnect, "10.0.0.9", 0), socksGeneralFailure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tp.dial(t)
			if rep := socksHandshake(t, c, tc.req); rep[1] != tc.reply {
				t.Fatalf("reply %#x, want %#x", rep[1], tc.reply)
			}
			expectClosed(t, c)
		})
	}
	for name, greeting := range map[string][]byte{
		"username/password only": {5, 1, 0x02},
		"no methods":             {5, 0},
		"gssapi and others":      {5, 3, 0x01, 0x02, 0x80},
	} {
		t.Run(name, func(t *testing.T) {
			c := tp.dial(t)
			c.Write(greeting)
			b, err := io.ReadAll(c)
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			if !bytes.Equal(b, []byte{5, socksNoAcceptable}) {
				t.Fatalf("got % x, want 05 ff then close", b)
			}
		})
	}
	if d := n.dialed(); len(d) != 0 {
		t.Fatalf("dialed %v", d)
	}
}
