package aks

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	mrand "math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// tlsNow is the clock of the key pair checks: the test certificates are
// valid from a day before to a year after it.
var tlsNow = time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)

// issued is a PEM certificate and key made for a test.
type issued struct{ cert, key string }

// issue makes a self-signed certificate for names with key k (a new
// ECDSA key when nil), changed by edit.
func issue(t *testing.T, k crypto.Signer, names []string, edit func(*x509.Certificate)) issued {
	t.Helper()
	if k == nil {
		var err error
		if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    tlsNow.Add(-24 * time.Hour),
		NotAfter:     tlsNow.Add(365 * 24 * time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return issued{
		cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		key:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})),
	}
}

// TestCheckKeyPair: each problem of a user's certificate and key is
// found when the cluster is created, on the field at fault, with a fix.
func TestCheckKeyPair(t *testing.T) {
	good := issue(t, nil, []string{"ml.contoso.com"}, nil)
	other := issue(t, nil, []string{"ml.contoso.com"}, nil)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPair := issue(t, rsaKey, []string{"ml.contoso.com"}, nil)
	wildcard := issue(t, nil, []string{"*.contoso.com"}, nil)
	expired := issue(t, nil, []string{"ml.contoso.com"}, func(c *x509.Certificate) { c.NotAfter = tlsNow.Add(-time.Hour) })
	future := issue(t, nil, []string{"ml.contoso.com"}, func(c *x509.Certificate) { c.NotBefore = tlsNow.Add(time.Hour) })
	clientOnly := issue(t, nil, []string{"ml.contoso.com"}, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	encrypted := "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
	legacyEncrypted := "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"

	const (
		cert  = pathSSL + ".cert"
		key   = pathSSL + ".key"
		cname = pathSSL + ".cname"
	)
	tests := []struct {
		name      string
		cert, key string
		cname     string
		want      []string // code@target of each finding
		wantText  []string // in the messages
	}{
		{"a pair for the cname", good.cert, good.key, "ml.contoso.com", nil, nil},
		{"an RSA pair", rsaPair.cert, rsaPair.key, "ml.contoso.com", nil, nil},
		{"a chain after the certificate", good.cert + other.cert, good.key, "ml.contoso.com", nil, nil},
		{"a wildcard covers the cname", wildcard.cert, wildcard.key, "ml.contoso.com", nil, nil},
		{"cname with a trailing dot", good.cert, good.key, "ml.contoso.com.", nil, nil},
		{"the key of another certificate", good.cert, other.key, "ml.contoso.com",
			[]string{"UserError@" + key}, []string{"is not the private key of the certificate for ml.contoso.com", "ECDSA P-256", "give the key the certificate was issued for"}},
		{"an RSA key for an ECDSA certificate", good.cert, rsaPair.key, "ml.contoso.com",
			[]string{"UserError@" + key}, []string{"public key is ECDSA P-256", "the key is RSA 2048"}},
		{"swapped", good.key, good.cert, "ml.contoso.com",
			[]string{"UserError@" + cert}, []string{"they are swapped", "--ssl-cert-pem-file"}},
		{"no certificate", "not a certificate", good.key, "ml.contoso.com",
			[]string{"UserError@" + cert}, []string{"holds no PEM certificate", "-----BEGIN CERTIFICATE-----"}},
		{"a certificate that does not parse", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", good.key, "ml.contoso.com",
			[]string{"UserError@" + cert}, []string{"does not parse"}},
		{"no key", good.cert, good.cert, "ml.contoso.com",
			[]string{"UserError@" + key}, []string{"holds no PEM private key (it holds CERTIFICATE)"}},
		{"an encrypted key", good.cert, encrypted, "ml.contoso.com",
			[]string{"UserError@" + key}, []string{"encrypted with a passphrase", "openssl pkey"}},
		{"a legacy encrypted key", good.cert, legacyEncrypted, "ml.contoso.com",
			[]string{"UserError@" + key}, []string{"encrypted with a passphrase"}},
		{"expired", expired.cert, expired.key, "ml.contoso.com",
			[]string{"UserError@" + cert}, []string{"expired on", "renew it"}},
		{"not valid yet", future.cert, future.key, "ml.contoso.com",
			[]string{"UserError@" + cert}, []string{"is not valid until"}},
		{"a client certificate", clientOnly.cert, clientOnly.key, "ml.contoso.com",
			[]string{"UserError@" + cert}, []string{"not for server authentication"}},
		{"another name", good.cert, good.key, "scoring.fabrikam.com",
			[]string{"UserError@" + cname}, []string{`is for ml.contoso.com, not for cname "scoring.fabrikam.com"`}},
		{"every problem at once", expired.cert, other.key, "scoring.fabrikam.com",
			[]string{"UserError@" + key, "UserError@" + cert, "UserError@" + cname}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l armerror.List
			CheckKeyPair(&l, tc.cert, tc.key, tc.cname, tlsNow)
			var got []string
			var text strings.Builder
			for _, e := range l.Errs {
				got = append(got, e.Code+"@"+e.Target)
				text.WriteString(e.Message + "\n")
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("findings %v, want %v:\n%s", got, tc.want, text.String())
			}
			for _, w := range tc.wantText {
				if !strings.Contains(text.String(), w) {
					t.Errorf("the message lacks %q:\n%s", w, text.String())
				}
			}
		})
	}
}

// TestDecodeSpecKeyMismatch: the check runs when the body is decoded, and
// the error names the key.
func TestDecodeSpecKeyMismatch(t *testing.T) {
	cert, _ := certPair(t)
	other := issue(t, nil, []string{"ml.contoso.com"}, nil)
	body := set(minimal(), "properties.properties.sslConfiguration", map[string]any{"status": "Enabled", "cname": "ml.contoso.com", "cert": cert, "key": other.key})
	_, err := DecodeSpec(mustJSON(t, body), testCtx)
	fs := findings(t, err)
	if len(fs) != 1 || fs[0].Code != CodeUserError || fs[0].Target != pathSSL+".key" || !strings.Contains(fs[0].Message, "is not the private key") {
		t.Fatalf("findings %+v", fs)
	}
}

// TestLeafDomainName: <label><6 random>.<location>.cloudapp.azure.com,
// one DNS label before the location, drawn from the reader given.
func TestLeafDomainName(t *testing.T) {
	re := regexp.MustCompile(`^contoso[a-z0-9]{6}\.eastus\.cloudapp\.azure\.com$`)
	seen := map[string]bool{}
	for range 50 {
		n, err := LeafDomainName("contoso", "East US", rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(n) || !validHostname(n) {
			t.Fatalf("name %q", n)
		}
		seen[n] = true
	}
	if len(seen) < 45 {
		t.Errorf("50 names, %d different: the suffix is not random", len(seen))
	}
	// The same bytes give the same name; every byte maps into the alphabet.
	a, _ := LeafDomainName("contoso", "westus2", bytes.NewReader([]byte{0, 35, 36, 255, 100, 7}))
	if a != "contosoa9ad2h.westus2.cloudapp.azure.com" {
		t.Errorf("name %q", a)
	}
	// The longest label still makes a DNS label.
	long := "a" + strings.Repeat("b", MaxLeafLabelLen-1)
	n, err := LeafDomainName(long, "eastus", rand.Reader)
	if err != nil || !validHostname(n) || len(strings.Split(n, ".")[0]) != 63 {
		t.Errorf("longest label: %q %v", n, err)
	}
	if _, err := LeafDomainName("contoso", "eastus", bytes.NewReader(nil)); err == nil {
		t.Error("a reader with nothing to give made a name")
	}
	// Seeded random labels: every name is a host name.
	r := mrand.New(mrand.NewPCG(1, 2))
	for range 200 {
		label := "a" + strings.Repeat("x", r.IntN(MaxLeafLabelLen-1))
		n, err := LeafDomainName(label, "eastus", rand.Reader)
		if err != nil || !validHostname(n) {
			t.Fatalf("label %q: %q %v", label, n, err)
		}
	}
}

// TestLeafLabelTooLong: a label that leaves no room for the suffix is
// refused with the limit.
func TestLeafLabelTooLong(t *testing.T) {
	label := "a" + strings.Repeat("b", MaxLeafLabelLen)
	body := set(minimal(), "properties.properties.sslConfiguration", map[string]any{"leafDomainLabel": label})
	_, err := DecodeSpec(mustJSON(t, body), testCtx)
	fs := findings(t, err)
	if len(fs) != 1 || fs[0].Target != pathSSL+".leafDomainLabel" || !strings.Contains(fs[0].Message, "give at most 57") {
		t.Fatalf("findings %+v", fs)
	}
}
