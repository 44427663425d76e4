package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCreateLoadIssueVerify(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.CertPEM()) != string(ca.CertPEM()) {
		t.Fatal("a second load made a different CA")
	}
	leaf, err := again.Issue([]string{"*.blob.core.windows.net"}, []netip.Addr{netip.MustParseAddr("198.18.1.4")}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	opts := x509.VerifyOptions{Roots: ca.Pool(), DNSName: "mystore.blob.core.windows.net"}
	if _, err := leaf.Leaf.Verify(opts); err != nil {
		t.Fatalf("a leaf of the reloaded CA does not verify against the first: %v", err)
	}
	opts.DNSName = "mystore.vault.azure.net"
	if _, err := leaf.Leaf.Verify(opts); err == nil {
		t.Fatal("the leaf verified for a name it was not issued for")
	}
	if err := leaf.Leaf.VerifyHostname("198.18.1.4"); err != nil {
		t.Fatalf("IP SAN: %v", err)
	}
	// A TLS config with it loads.
	_ = &tls.Config{Certificates: []tls.Certificate{leaf}}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateCA(dir); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, KeyFile)
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key: %v, want a refusal naming the fix", err)
	}
	os.Chmod(key, 0o600)
	os.Remove(filepath.Join(dir, CertFile))
	if _, err := LoadOrCreateCA(dir); err == nil || !strings.Contains(err.Error(), "remove both") {
		t.Fatalf("a key without its certificate: %v, want a refusal", err)
	}
	// Another CA's certificate with this key.
	other := t.TempDir()
	o, err := LoadOrCreateCA(other)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, CertFile), o.CertPEM(), 0o644)
	if _, err := LoadOrCreateCA(dir); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("a mismatched pair: %v, want a refusal", err)
	}
}

func TestNameConstraints(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Issuing outside the permitted domains is refused with the way out
	// (an older CA lacks a domain a newer service needs).
	if _, err := ca.Issue([]string{"www.example.com"}, nil, time.Hour); err == nil || !strings.Contains(err.Error(), "remove ca.crt and ca.key") {
		t.Fatalf("issuing for www.example.com: %v, want a refusal with the hint", err)
	}
	// Were it issued anyway, verification would refuse it: the CA's
	// constraints are critical.
	evil := issueUnchecked(t, ca, "www.example.com")
	if _, err := evil.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "www.example.com"}); err == nil {
		t.Fatal("a certificate for www.example.com verified against the deployment CA")
	}
	h, err := ca.Issue([]string{"*.experiments.azureml.net"}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "eastus.experiments.azureml.net"}); err != nil {
		t.Fatalf("a run-history certificate: %v", err)
	}
	l, err := ca.NewLeaf([]string{"*.vault.azure.net"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "ml-keyvault.vault.azure.net"}); err != nil {
		t.Fatalf("a vault certificate: %v", err)
	}
	if again, _ := l.GetCertificate(nil); again != c {
		t.Fatal("a fresh certificate was reissued")
	}
}

func TestLeafRenews(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := ca.NewLeaf([]string{"*.vault.azure.net"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := l.GetCertificate(nil)
	// Age it: a certificate with less than a third of its life left.
	l.mu.Lock()
	old := *first
	leaf := *first.Leaf
	leaf.NotAfter = time.Now().Add(10 * time.Minute)
	old.Leaf = &leaf
	l.cur = &old
	l.mu.Unlock()
	if next, _ := l.GetCertificate(nil); next == &old || time.Until(next.Leaf.NotAfter) < 50*time.Minute {
		t.Fatal("an aging certificate was not renewed")
	}
}

// issueUnchecked signs a certificate for name with ca's key, bypassing
// Issue's check.
func issueUnchecked(t *testing.T, ca *CA, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
