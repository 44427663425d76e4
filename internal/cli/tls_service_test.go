package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// The TLS flags: compute create --type aks takes the SDK's
// ssl_cname / ssl_cert_pem_file / ssl_key_pem_file / leaf_domain_label
// (the first names still work, unlisted); service score takes --scoring-ca-cert.
func TestTLSFlagsHelp(t *testing.T) {
	r := run(t, "compute", "create", "--help")
	wantOK(t, r)
	for _, f := range []string{"--ssl-cname NAME", "--ssl-cert-pem-file FILE", "--ssl-key-pem-file FILE", "--ssl-leaf-domain-label LABEL", "cloudapp.azure.com"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("compute create --help lacks %q", f)
		}
	}
	for _, f := range []string{"--ssl-cert-file", "--ssl-key-file"} {
		if strings.Contains(r.stdout, f+" ") {
			t.Errorf("compute create --help lists the old %s", f)
		}
	}
	r = run(t, "service", "score", "--help")
	wantOK(t, r)
	for _, f := range []string{"--scoring-ca-cert FILE", "https://<host>/api/v1/service/<name>/score", "443"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("service score --help lacks %q:\n%s", f, r.stdout)
		}
	}
}

// --scoring-ca-cert is checked before any call: a file that is not there, or
// holds no certificate, is refused naming the flag.
func TestScoreCACertFlag(t *testing.T) {
	t.Setenv("VNETML_ENDPOINT", "http://127.0.0.1:1") // nothing is called
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	score := []string{"service", "score", "mysvc", "-w", "ws", "--data", "{}", "--scoring-ca-cert"}
	wantFail(t, run(t, append(score, filepath.Join(dir, "missing.pem"))...), exitInput, "--scoring-ca-cert", "no such file or directory")
	wantFail(t, run(t, append(score, notPEM)...), exitInput, "--scoring-ca-cert", "holds no PEM certificate")
	// The old flag names of compute create still read their files.
	wantFail(t, run(t, "compute", "create", "aks1", "--type", "aks", "-w", "ws", "--ssl-cert-file", filepath.Join(dir, "missing.pem")),
		exitInput, "--ssl-cert-pem-file", "no such file or directory")
}

// A refusal names the port of the scoring URI — 443 for https — and an
// untrusted certificate points at --scoring-ca-cert.
func TestExplainScoreError(t *testing.T) {
	denied := armerror.New("ConnectionDenied", "", "denied by security rule DenyAllInBound")
	for _, tc := range []struct {
		uri, port string
	}{
		{"http://198.51.100.4:80/api/v1/service/s/score", "80"},
		{"https://ml.contoso.com/api/v1/service/s/score", "443"},
		{"https://ml.contoso.com:8443/api/v1/service/s/score", "8443"},
		{"http://198.51.100.4/api/v1/service/s/score", "80"},
	} {
		err := explainScoreError(denied, "s", "8.8.8.8", api.ServiceProperties{ScoringURI: tc.uri, ComputeTarget: "myaks"})
		e, ok := armerror.As(err)
		if !ok || e.Target != "--from" || !strings.Contains(e.Message, "admit your network on TCP "+tc.port+" ") ||
			!strings.Contains(e.Message, "destination port "+tc.port+")") || !strings.Contains(e.Message, "DenyAllInBound") {
			t.Errorf("%s: %v", tc.uri, err)
		}
	}
	untrusted := armerror.New(client.CodeScoringCertificateUntrusted, "", "Calling https://ml.contoso.com/...: not trusted")
	err := explainScoreError(untrusted, "s", "8.8.8.8", api.ServiceProperties{ComputeTarget: "myaks"})
	if e, ok := armerror.As(err); !ok || e.Target != "--scoring-ca-cert" || !strings.Contains(e.Message, "--scoring-ca-cert FILE") {
		t.Errorf("untrusted: %v", err)
	}
	other := errors.New("boom")
	if explainScoreError(other, "s", "8.8.8.8", api.ServiceProperties{}) != other {
		t.Error("an error of another kind was changed")
	}
}
