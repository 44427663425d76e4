package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pemFiles writes a CA, a server certificate it issued for host, that
// certificate's key and another key, as PEM files; it returns their
// paths.
func pemFiles(t *testing.T, host string) (caFile, certFile, keyFile, otherKeyFile string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, leafKey, otherKey := newKey(), newKey(), newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Contoso test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER),
		write("key.pem", "PRIVATE KEY", keyDER(leafKey)), write("other-key.pem", "PRIVATE KEY", keyDER(otherKey))
}

// The TLS commands against a whole server: compute create --type aks
// with the SDK's ssl flags (a key that is not the certificate's is
// refused naming --ssl-key-pem-file), a service deployed to it with an
// https scoring URI, and service score over https — refused on 443 until
// the NSG admits it (the hint names TCP 443), then answered when the
// user's CA is given, refused naming --scoring-ca-cert without it.
func TestServiceScoreOverTLS(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the scoring server is Python")
	}
	s := newComputeServer(t)
	s.ok("apply", "-f", quickstartManifest)
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	with := func(args ...string) []string { return append(args, ws...) }
	model := script(t, "model.json", `{"weights": [1, -1], "bias": 0}`)
	s.ok(with("model", "register", "--name", "mymodel", "--file", model)...)
	caFile, certFile, keyFile, otherKeyFile := pemFiles(t, "ml.contoso.com")
	aks := func(key string) []string {
		return with("compute", "create", "myaks", "--type", "aks", "--agent-count", "1", "--cluster-purpose", "DevTest",
			"--vnet-resourcegroup-name", "mygroup", "--vnet-name", "mynetwork", "--subnet-name", "default",
			"--service-cidr", "10.2.0.0/16", "--dns-service-ip", "10.2.0.10", "--docker-bridge-cidr", "172.17.0.1/16",
			"--ssl-cname", "ml.contoso.com", "--ssl-cert-pem-file", certFile, "--ssl-key-pem-file", key)
	}
	wantFail(t, s.run(aks(otherKeyFile)...), exitInput, "--ssl-key-pem-file", "is not the private key of the certificate for ml.contoso.com")
	s.ok(append(aks(keyFile), "--wait", "--poll-interval", "5ms")...)

	entry := script(t, "score.py", quickstartScore)
	r := s.run(with("service", "deploy", "mysvc", "--compute", "myaks", "--model", "mymodel", "--entry", entry, "--num-replicas", "1",
		"--wait", "--timeout", "2m", "--poll-interval", "20ms")...)
	wantOK(t, r)
	if !strings.Contains(r.stdout, "Scoring URI: https://ml.contoso.com/api/v1/service/mysvc/score\n") {
		t.Fatalf("deploy --wait:\n%s", r.stdout)
	}
	const request = `{"data": [[2, -1], [-2, 1]]}`
	score := func(args ...string) []string {
		return with(append([]string{"service", "score", "mysvc", "--data", request}, args...)...)
	}
	// The quickstart's NSG admits the office on 80 only.
	wantFail(t, s.run(score("--scoring-ca-cert", caFile)...), exitInput,
		"ConnectionDenied (--from)", "DenyAllInBound", "admit your network on TCP 443", "destination port 443")
	rule := `{"properties": {"priority": 135, "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "203.0.113.0/24",
		"sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "443"}}`
	if _, err := s.c.Put(context.Background(), "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup/providers/Microsoft.Network/networkSecurityGroups/ml-nsg/securityRules/AllowScoringTLSFromOffice",
		[]byte(rule), ""); err != nil {
		t.Fatal(err)
	}
	var probs []float64
	decode(t, s.ok(score("--scoring-ca-cert", caFile)...), &probs)
	if len(probs) != 2 || probs[0] < 0.5 || probs[1] > 0.5 {
		t.Errorf("score over https: %v", probs)
	}
	wantFail(t, s.run(score()...), exitInput, "ScoringCertificateUntrusted", "Contoso test CA", "--scoring-ca-cert FILE")
	wantFail(t, s.run(score("--scoring-ca-cert", caFile, "--from", "8.8.8.8")...), exitInput,
		"ConnectionDenied (--from)", "DenyAllInBound", "admit your network on TCP 443")
}
