// Package pki owns the deployment's certificate authority: the CA whose
// certificate clients of the virtual cloud trust, and the certificates it
// issues to the platform services that speak TLS at their virtual
// addresses (storage accounts, key vaults, registries).
//
// The CA is an ECDSA P-256 key and a self-signed certificate kept in the
// data directory (ca.crt, and ca.key with mode 0600), created on first use.
// Leaf certificates are issued in memory at start and never written.
package pki

import (
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
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// File names of the CA in its directory.
const (
	CertFile = "ca.crt"
	KeyFile  = "ca.key"
)

// PermittedDomains are the DNS domains a deployment CA may sign for: the
// host names of storage accounts, key vaults, registries, run history
// (<region>.experiments.azureml.net) and the scoring endpoints of
// inference clusters with a generated certificate
// (<label><suffix>.<region>.cloudapp.azure.com).
var PermittedDomains = []string{"blob.core.windows.net", "file.core.windows.net", "vault.azure.net", "azurecr.io", "experiments.azureml.net", "cloudapp.azure.com"}

// CA is a deployment's certificate authority.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// LoadOrCreateCA loads the CA from dir, creating it when neither file
// exists. A key file readable by others is refused, as a half-present pair.
func LoadOrCreateCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist):
		return create(certPath, keyPath)
	case certErr != nil:
		return nil, fmt.Errorf("pki: %w (the CA key is present: restore %s or remove both files to create a new CA)", certErr, CertFile)
	case keyErr != nil:
		return nil, fmt.Errorf("pki: %w (the CA certificate is present: restore %s or remove both files to create a new CA)", keyErr, KeyFile)
	}
	return load(certPath, keyPath)
}

func create(certPath, keyPath string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "vnetml deployment CA", Organization: []string{"vnetml"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// Clients are told to trust this CA: it may sign for the virtual
		// cloud's service names only, so that its key, should it leak,
		// cannot impersonate any other site.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         PermittedDomains,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFile(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, certPEM: certPEM, key: key}, nil
}

// writeFile writes a new file durably; it refuses to replace one.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	return f.Close()
}

func load(certPath, keyPath string) (*CA, error) {
	fi, err := os.Stat(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("pki: %s has mode %v: the CA key must be readable by its owner only (chmod 600 %s)", keyPath, fi.Mode().Perm(), keyPath)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "EC PRIVATE KEY" {
		return nil, fmt.Errorf("pki: %s is not a PEM EC private key", keyPath)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", keyPath, err)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("pki: %s is not a PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", certPath, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("pki: %s does not belong to the key in %s", certPath, keyPath)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("pki: %s is not a CA certificate", certPath)
	}
	return &CA{cert: cert, certPEM: pem.EncodeToMemory(cb), key: key}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

// CertPEM returns the CA certificate, PEM-encoded: what clients trust.
func (ca *CA) CertPEM() []byte { return ca.certPEM }

// Pool returns a pool holding the CA certificate only.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Issue returns a server certificate for the DNS names (wildcards
// allowed) and addresses, valid for validity from an hour ago.
func (ca *CA) Issue(names []string, addrs []netip.Addr, validity time.Duration) (tls.Certificate, error) {
	for _, n := range names {
		if !ca.Permits(n) {
			return tls.Certificate{}, fmt.Errorf("pki: the deployment CA may not sign for %q (its permitted domains are %s): it predates that service; "+
				"remove %s and %s from the data directory to create a new CA, and make clients trust the new one", n,
				strings.Join(ca.cert.PermittedDNSDomains, ", "), CertFile, KeyFile)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: first(names), Organization: []string{"vnetml"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
	}
	for _, a := range addrs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// Permits reports whether the CA may sign for the DNS name (a wildcard
// name counts as its parent domain).
func (ca *CA) Permits(name string) bool {
	if len(ca.cert.PermittedDNSDomains) == 0 {
		return true
	}
	name = strings.ToLower(strings.TrimPrefix(name, "*."))
	for _, d := range ca.cert.PermittedDNSDomains {
		d = strings.ToLower(strings.TrimPrefix(d, "."))
		if name == d || strings.HasSuffix(name, "."+d) {
			return true
		}
	}
	return false
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// Leaf is a server certificate that renews itself: GetCertificate (for a
// tls.Config) hands out the current one and issues the next when less
// than a third of its life is left.
type Leaf struct {
	ca       *CA
	names    []string
	validity time.Duration
	mu       sync.Mutex
	cur      *tls.Certificate
}

// NewLeaf issues a first certificate for names.
func (ca *CA) NewLeaf(names []string, validity time.Duration) (*Leaf, error) {
	l := &Leaf{ca: ca, names: names, validity: validity}
	if _, err := l.GetCertificate(nil); err != nil {
		return nil, err
	}
	return l, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (l *Leaf) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur != nil && time.Until(l.cur.Leaf.NotAfter) > l.validity/3 {
		return l.cur, nil
	}
	c, err := l.ca.Issue(l.names, nil, l.validity)
	if err != nil {
		if l.cur != nil && time.Now().Before(l.cur.Leaf.NotAfter) {
			return l.cur, nil // keep serving the old one while it is valid
		}
		return nil, err
	}
	l.cur = &c
	return l.cur, nil
}
