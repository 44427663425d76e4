package egress

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// FuzzFirstBytes sends arbitrary first bytes — an HTTP request head, a
// SOCKS5 greeting and request, or neither — to a proxy whose Dialer always
// refuses, then ends its side. The proxy must never panic, and must answer
// with a well-formed refusal or close, never leave the client hanging.
func FuzzFirstBytes(f *testing.F) {
	for _, seed := range []string{
		"",
		"GET http://10.0.0.5/ HTTP/1.1\r\nHost: 10.0.0.5\r\n\r\n",
		"GET http://svc.internal:8080/a?b HTTP/1.1\r\n\r\n",
		"POST http://10.0.0.5/ HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
		"POST http://10.0.0.5/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"CONNECT 10.0.0.5:443 HTTP/1.1\r\n\r\n",
		"CONNECT svc.internal:443 HTTP/1.1\r\n\r\n",
		"CONNECT [::1]:443 HTTP/1.0\r\n\r\n",
		"GET /origin HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://[::1 HTTP/1.1\r\n\r\n",
		"\x16\x03\x01\x00\x05hello",
		"\x04\x01\x00\x50\x0a\x00\x00\x05\x00",
		"\x05",
		"\x05\x00",
		"\x05\x01\x00",
		"\x05\x01\x02",
		"\x05\x01\x00\x05\x01\x00\x01\x0a\x00\x00\x05\x00\x50",
		"\x05\x01\x00\x05\x01\x00\x03\x0csvc.internal\x01\xbb",
		"\x05\x01\x00\x05\x01\x00\x03\x00\x01\xbb",
		"\x05\x01\x00\x05\x02\x00\x01\x0a\x00\x00\x05\x00\x50",
		"\x05\x01\x00\x05\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x50",
		"\x05\x01\x00\x05\x01\x00\x07",
	} {
		f.Add([]byte(seed))
	}
	h := newRecordHandler(slog.LevelError)
	refuse := func(context.Context, netip.AddrPort) (net.Conn, error) {
		return nil, errors.New("denied by securityRules/deny-all (fuzz)")
	}
	resolve := func(host string) (netip.Addr, bool) {
		if host == "svc.internal" {
			return netip.MustParseAddr("10.0.0.5"), true
		}
		return netip.Addr{}, false
	}
	// A Unix socket rather than loopback TCP: hundreds of thousands of
	// connections would exhaust the ephemeral ports in TIME_WAIT and stall
	// the fuzzer. The proxy does not care what its listener is.
	ln, err := net.Listen("unix", filepath.Join(f.TempDir(), "proxy.sock"))
	if err != nil {
		f.Fatal(err)
	}
	tp := startProxyOn(f, ln, refuse, resolve, slog.New(h))

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("unix", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Only a safety net: the proxy has the whole input and the end of
		// it long before this.
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(data); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Fatal(err)
		}
		c.(*net.UnixConn).CloseWrite()
		out, err := io.ReadAll(c)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("neither answered nor closed: %v (got %q)", err, out)
		}
		if recs := h.atLeast(slog.LevelError); len(recs) > 0 {
			t.Fatalf("the proxy logged %q: %v", recs[0].Message, recs[0])
		}
		if len(out) == 0 {
			return
		}
		if len(data) > 0 && data[0] == socksVersion {
			checkSOCKSAnswer(t, out)
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		if err != nil {
			t.Fatalf("answer is not HTTP: %v: %q", err, out)
		}
		switch resp.StatusCode {
		case 400, 431, 502, 505:
		case 403:
			if resp.Header.Get("X-Vnetml-Denied") != "1" {
				t.Fatalf("403 without X-Vnetml-Denied: %q", out)
			}
		default:
			t.Fatalf("status %d to a proxy that reaches nothing: %q", resp.StatusCode, out)
		}
		if !resp.Close {
			t.Fatalf("a refusal keeps the connection: %q", out)
		}
	})
}

// checkSOCKSAnswer checks what a SOCKS5 client got from a proxy that
// reaches nothing: a method selection, then at most one failure reply.
func checkSOCKSAnswer(t *testing.T, out []byte) {
	if out[0] != socksVersion || len(out) < 2 {
		t.Fatalf("SOCKS5 answer %x", out)
	}
	switch out[1] {
	case socksNoAcceptable:
		if len(out) != 2 {
			t.Fatalf("more after no acceptable method: %x", out)
		}
		return
	case socksNoAuth:
	default:
		t.Fatalf("method %#x selected", out[1])
	}
	rest := out[2:]
	if len(rest) == 0 {
		return
	}
	if len(rest) != 10 || rest[0] != socksVersion || rest[2] != 0 || rest[3] != socksAtypIPv4 {
		t.Fatalf("SOCKS5 reply %x", rest)
	}
	switch rest[1] {
	case socksGeneralFailure, socksNotAllowed, socksHostUnreachable, socksCommandUnsupported, socksAtypUnsupported:
	default:
		t.Fatalf("SOCKS5 reply code %#x from a proxy that reaches nothing", rest[1])
	}
}
