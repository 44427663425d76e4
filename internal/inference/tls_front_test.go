package inference

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/fabric"
)

// testCA is a certificate authority of the tests: the user's own, which
// issued the certificate of the cluster's sslConfiguration.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "contoso test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return &testCA{cert: c, key: k, pool: pool}
}

// leaf issues a server certificate for host, in PEM with its key.
func (ca *testCA) leaf(t *testing.T, host string) (certPEM, keyPEM string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// allowTLS admits the scoring callers' range on TCP 443, after
// allow-scoring (which admits them on 80 only).
const allowTLS = `{"name": "allow-scoring-tls", "properties": {"priority": 110, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
	"sourceAddressPrefix": "203.0.113.0/24", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "443"}}`

// tlsClient is an HTTPS client of a caller at from: it resolves host
// names through the fabric's names, as the CLI's tunnel does, and trusts
// roots only.
func (e *testEnv) tlsClient(tb testing.TB, from netip.Addr, roots *x509.CertPool) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			a, ok := e.fab.Resolve(host)
			if !ok {
				return nil, fmt.Errorf("%s does not resolve", host)
			}
			var p uint16
			fmt.Sscan(port, &p)
			return e.fab.Dial(ctx, fabric.Endpoint{Addr: from}, netip.AddrPortFrom(a, p))
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func httpsScoreURL(host, name string) string {
	return fmt.Sprintf("https://%s/api/v1/service/%s/score", host, name)
}

// TestFrontEndTLS: with the cluster's certificate the front end also
// takes scoring calls on 443 of its address, terminating TLS with it,
// under the name it registers; port 80 goes on; the NSG decides 443 on
// its own, and a refusal there names the rule.
func TestFrontEndTLS(t *testing.T) {
	e := newEnv(t, goEcho, "")
	e.fab.Apply(testEngine(t, allowTLS))
	ca := newTestCA(t)
	cert, key := ca.leaf(t, "ml.contoso.com")
	sp := spec("secure")
	sp.TLS = &TLS{Host: "ml.contoso.com", Addr: publicFE, CertPEM: cert, KeyPEM: key}
	e.deploy(t, sp, api.ServiceHealthy)
	if a, ok := e.fab.Resolve("ml.contoso.com"); !ok || a != publicFE {
		t.Fatalf("ml.contoso.com resolves to %v %v, want the front end's public IP %v", a, ok, publicFE)
	}

	const body = `{"data": [[1, 2]]}`
	hc := e.tlsClient(t, admitted, ca.pool)
	resp, err := hc.Post(httpsScoreURL("ml.contoso.com", "secure"), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("scoring over https: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "ml.contoso.com" {
		t.Fatalf("scoring over https: %d, TLS %+v", resp.StatusCode, resp.TLS)
	}
	// Port 80 keeps working, as azureml-fe's does.
	if a := call(t, e.client(t, admitted), http.MethodPost, scoreURL("secure"), "", body); a.status != http.StatusOK || a.body != body {
		t.Fatalf("scoring over http: %d %s", a.status, a.body)
	}
	// A client that does not trust the user's CA refuses the certificate.
	if _, err := e.tlsClient(t, admitted, x509.NewCertPool()).Post(httpsScoreURL("ml.contoso.com", "secure"), "application/json", strings.NewReader(body)); err == nil {
		t.Fatal("a client without the CA accepted the certificate")
	}

	// From outside the allowed range: refused on 443 by DenyAllInBound.
	_, err = e.fab.Dial(context.Background(), fabric.Endpoint{Addr: refused}, netip.AddrPortFrom(publicFE, FrontEndTLSPort))
	var denied *fabric.Denied
	if !errors.As(err, &denied) || !strings.Contains(denied.Verdict.Explain(), "DenyAllInBound") {
		t.Fatalf("a call from %s to 443: %v, want a refusal by DenyAllInBound", refused, err)
	}
	// Without the rule for 443, even the allowed range is refused there,
	// while 80 still admits it: each port is admitted on its own.
	e.fab.Apply(testEngine(t))
	_, err = hc.Post(httpsScoreURL("ml.contoso.com", "secure"), "application/json", strings.NewReader(body))
	if !errors.As(err, &denied) || !strings.Contains(denied.Verdict.Explain(), "DenyAllInBound") || denied.Dst.Port() != FrontEndTLSPort {
		t.Fatalf("443 without its rule: %v, want a refusal by DenyAllInBound", err)
	}
	if a := call(t, e.client(t, admitted), http.MethodPost, scoreURL("secure"), "", body); a.status != http.StatusOK {
		t.Fatalf("port 80 without the 443 rule: %d %s", a.status, a.body)
	}
	e.fab.Apply(testEngine(t, allowTLS))

	// A new certificate restarts the front end with it.
	cert2, key2 := ca.leaf(t, "ml.contoso.com")
	sp.TLS = &TLS{Host: "ml.contoso.com", Addr: publicFE, CertPEM: cert2, KeyPEM: key2}
	sp.Generation++
	e.deploy(t, sp, api.ServiceHealthy)
	resp, err = e.tlsClient(t, admitted, ca.pool).Post(httpsScoreURL("ml.contoso.com", "secure"), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want, _ := pem.Decode([]byte(cert2)); string(resp.TLS.PeerCertificates[0].Raw) != string(want.Bytes) {
		t.Error("the front end serves the old certificate after the change")
	}

	// TLS off: 443 closes and the name goes.
	sp.TLS = nil
	sp.Generation++
	e.deploy(t, sp, api.ServiceHealthy)
	if _, ok := e.fab.Resolve("ml.contoso.com"); ok {
		t.Error("the name still resolves with TLS off")
	}
	_, err = e.fab.Dial(context.Background(), fabric.Endpoint{Addr: admitted}, netip.AddrPortFrom(publicFE, FrontEndTLSPort))
	var nothing *fabric.Refused
	if !errors.As(err, &nothing) {
		t.Errorf("443 with TLS off: %v, want nothing listening", err)
	}
}

// TestFrontEndTLSBadPair: a pair the front end cannot serve fails the
// deployment's Upsert, and nothing is left listening.
func TestFrontEndTLSBadPair(t *testing.T) {
	e := newEnv(t, goEcho, "")
	ca := newTestCA(t)
	cert, _ := ca.leaf(t, "ml.contoso.com")
	_, otherKey := ca.leaf(t, "ml.contoso.com")
	sp := spec("secure")
	sp.TLS = &TLS{Host: "ml.contoso.com", Addr: publicFE, CertPEM: cert, KeyPEM: otherKey}
	err := e.ctl.Upsert(sp)
	if err == nil || !strings.Contains(err.Error(), "cannot serve TLS for ml.contoso.com") {
		t.Fatalf("Upsert: %v", err)
	}
	if _, ok := e.fab.Resolve("ml.contoso.com"); ok {
		t.Error("the name of a front end that did not start resolves")
	}
}

// TestFrontEndTLSClose: closing the controller takes the name back.
func TestFrontEndTLSClose(t *testing.T) {
	e := newEnv(t, goEcho, "")
	ca := newTestCA(t)
	cert, key := ca.leaf(t, "ml.contoso.com")
	sp := spec("secure")
	sp.TLS = &TLS{Host: "ml.contoso.com", Addr: publicFE, CertPEM: cert, KeyPEM: key}
	e.deploy(t, sp, api.ServiceHealthy)
	e.ctl.Close()
	if _, ok := e.fab.Resolve("ml.contoso.com"); ok {
		t.Error("the name resolves after Close")
	}
}
