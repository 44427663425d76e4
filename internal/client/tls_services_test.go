package client

import (
	"context"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// A scoring endpoint's certificate from a CA the client does not trust is
// refused with a code and the issuer; TrustCAs adds the user's CA; a
// certificate for another name is refused naming both.
func TestScoreTLSTrust(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[0.9]`)
	}))
	defer srv.Close()
	c, err := New(srv.URL, "tok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// 127.0.0.1 is a name of httptest's certificate; localhost is not.
	uri := srv.URL + "/api/v1/service/s/score"
	plain := &http.Client{Transport: &http.Transport{}}
	_, err = c.Score(ctx, plain, uri, "k", []byte(`{}`))
	if e, ok := armerror.As(err); !ok || e.Code != CodeScoringCertificateUntrusted || !strings.Contains(e.Message, "which this client does not trust") {
		t.Fatalf("an untrusted certificate: %v", err)
	}

	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	trusting, err := TrustCAs(plain, ca)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Score(ctx, trusting, uri, "k", []byte(`{}`)); err != nil || r.Status != 200 {
		t.Fatalf("trusting the CA: %v %+v", err, r)
	}
	// The client it came from is unchanged.
	if _, err := c.Score(ctx, plain, uri, "k", []byte(`{}`)); err == nil {
		t.Error("TrustCAs changed the client it was given")
	}
	other := strings.Replace(uri, "127.0.0.1", "localhost", 1)
	_, err = c.Score(ctx, trusting, other, "k", []byte(`{}`))
	if e, ok := armerror.As(err); !ok || e.Code != CodeScoringCertificateUntrusted || !strings.Contains(e.Message, "not for localhost") {
		t.Fatalf("a certificate for another name: %v", err)
	}

	if _, err := TrustCAs(plain, []byte("not PEM")); armerror.Codes(err)[0] != "InvalidCACert" {
		t.Errorf("no certificate: %v", err)
	}
	if _, err := TrustCAs(&http.Client{Transport: http.NewFileTransport(http.Dir("."))}, ca); err == nil {
		t.Error("a client of another transport was accepted")
	}
}

// Through the data plane an https scoring URI goes through the server's
// CONNECT to host:443, with the caller's address, and the TLS inside it
// is verified for the URI's host (SNI) against the deployment CA.
func TestScoreHTTPSThroughTheTunnel(t *testing.T) {
	front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"sni": "`+r.TLS.ServerName+`"}`)
	}))
	defer front.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw})
	var target, from string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == api.CAPath:
			w.Write(ca)
		case r.Method == http.MethodConnect:
			target, from = r.Host, r.Header.Get(api.ClientAddressHeader)
			if !strings.HasSuffix(r.Host, ":443") {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			hj, _ := w.(http.Hijacker)
			conn, _, err := hj.Hijack()
			if err != nil {
				return
			}
			io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
			go pipeTo(conn, front.Listener.Addr().String())
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, "tok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hc, err := c.DataPlane(ctx, "203.0.113.10")
	if err != nil {
		t.Fatal(err)
	}
	// httptest's certificate is for example.com: the name the URI gives.
	r, err := c.Score(ctx, hc, "https://example.com/api/v1/service/s/score", "k", []byte(`{}`))
	if err != nil || r.Status != 200 || string(r.Body) != `{"sni": "example.com"}` {
		t.Fatalf("scoring over https: %v %+v", err, r)
	}
	if target != "example.com:443" || from != "203.0.113.10" {
		t.Errorf("CONNECT %s from %s", target, from)
	}
}

// pipeTo joins a hijacked connection to a TCP address, both ways, until
// either ends.
func pipeTo(conn net.Conn, addr string) {
	defer conn.Close()
	up, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, conn); done <- struct{}{} }()
	go func() { io.Copy(conn, up); done <- struct{}{} }()
	<-done
}
