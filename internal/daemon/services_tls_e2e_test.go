package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// TLS on the inference cluster's front end, end to end: the cluster's
// sslConfiguration — the user's certificate for a cname, or one the
// deployment CA issues for a leaf domain label — makes the front end
// take scoring calls on 443 of its address too, under that name; the
// scoring URI is https://<name>/api/v1/service/<name>/score; the NSG
// admits 443 on its own, and a refusal there names the rule.

// tlsModel is the model the TLS tests serve.
const tlsModel = `{"weights": [1, -1], "bias": 0}`

// userCA is the user's own certificate authority, which issued the
// certificate given to the cluster.
type userCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newUserCA(t *testing.T) *userCA {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Contoso test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &userCA{cert: c, key: k, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a server certificate for host and its key, in PEM.
func (ca *userCA) issue(t *testing.T, host string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// putTLSAKS creates myaks in the quickstart's subnet, one node, with the
// sslConfiguration ssl.
func (s *liveServer) putTLSAKS(ssl map[string]any) error {
	b, err := json.Marshal(ssl)
	if err != nil {
		s.t.Fatal(err)
	}
	aks := fmt.Sprintf(`{"location": "eastus", "properties": {"computeType": "AKS", "properties": {"agentCount": 1, "clusterPurpose": "DevTest",
		"sslConfiguration": %s,
		"aksNetworkingConfiguration": {"subnetId": "%s/providers/Microsoft.Network/virtualNetworks/mynetwork/subnets/default",
		"serviceCidr": "10.2.0.0/16", "dnsServiceIP": "10.2.0.10", "dockerBridgeCidr": "172.17.0.1/16"}}}}`, b, qsGroup)
	_, err = s.c.Put(context.Background(), qsWorkspace+"/computes/myaks", json.RawMessage(aks), "")
	return err
}

// frontEnd reads myaks's front end: its public IP and its TLS name.
func (s *liveServer) frontEnd() (publicIP, fqdn string) {
	s.t.Helper()
	var d struct {
		Properties struct {
			Properties struct {
				SystemServices []struct{ PublicIPAddress, Fqdn string }
			}
		}
	}
	if err := s.c.GetInto(context.Background(), qsWorkspace+"/computes/myaks", &d); err != nil {
		s.t.Fatal(err)
	}
	fe := d.Properties.Properties.SystemServices
	if len(fe) != 1 {
		s.t.Fatalf("myaks's front end: %+v", fe)
	}
	return fe[0].PublicIPAddress, fe[0].Fqdn
}

// admitTLS makes the quickstart's scoring rule admit 443 as well as 80.
func admitTLS(m string) string {
	return strings.Replace(m, "      source: 203.0.113.0/24\n      destinationPorts: 80\n", "      source: 203.0.113.0/24\n      destinationPorts: [80, 443]\n", 1)
}

// scoreTLS scores from the quickstart's allowed network over hc.
func (s *liveServer) scoreTLS(hc *http.Client, uri, key string) (client.ScoreResult, error) {
	return s.c.Score(context.Background(), hc, uri, key, []byte(`{"data": [[2, -1], [-2, 1]]}`))
}

func wantProbabilities(t *testing.T, r client.ScoreResult, err error) {
	t.Helper()
	var probs []float64
	if err != nil || r.Status != 200 || json.Unmarshal(r.Body, &probs) != nil || len(probs) != 2 || probs[0] < 0.5 || probs[1] > 0.5 {
		t.Fatalf("scoring: %v %d %s", err, r.Status, r.Body)
	}
}

// TestServeOverTLSWithOwnCertificate: the user's certificate and key for
// ml.contoso.com, checked against each other when the cluster is
// created; the service scored at https://ml.contoso.com/... once the NSG
// admits 443 (refused by DenyAllInBound before, while port 80 works), and
// from elsewhere refused on 443 naming the rule.
func TestServeOverTLSWithOwnCertificate(t *testing.T) {
	needPython(t)
	s := startLive(t, t.TempDir())
	s.quickstart(0, 1, nil)
	s.registerFileModel(tlsModel)
	ca := newUserCA(t)
	cert, key := ca.issue(t, "ml.contoso.com")
	_, otherKey := ca.issue(t, "ml.contoso.com")
	ctx := context.Background()

	// The key of another certificate: refused, naming the key.
	err := s.putTLSAKS(map[string]any{"status": "Enabled", "cname": "ml.contoso.com", "cert": cert, "key": otherKey})
	if e, ok := armerror.As(err); !ok || e.Code != "UserError" || !strings.Contains(e.Error(), "sslConfiguration.key") || !strings.Contains(e.Error(), "is not the private key") {
		t.Fatalf("a mismatched key: %v", err)
	}
	if err := s.putTLSAKS(map[string]any{"status": "Enabled", "cname": "ml.contoso.com", "cert": cert, "key": key}); err != nil {
		t.Fatal(err)
	}
	s.putService(scoreScript)
	p := s.waitService(func(p api.ServiceProperties) bool {
		return p.State == api.ServiceHealthy || p.State == api.ServiceFailed
	})
	if p.State != api.ServiceHealthy {
		t.Fatalf("service %s: %+v", p.State, p.Error)
	}
	if p.ScoringURI != "https://ml.contoso.com/api/v1/service/mysvc/score" || p.SwaggerURI != "https://ml.contoso.com/api/v1/service/mysvc/swagger.json" {
		t.Fatalf("scoring URI %s, swagger URI %s", p.ScoringURI, p.SwaggerURI)
	}
	var keys api.ServiceKeys
	if err := s.c.Post(ctx, qsService+"/listKeys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	hc, err := s.c.DataPlane(ctx, "203.0.113.10")
	if err != nil {
		t.Fatal(err)
	}
	trusting, err := client.TrustCAs(hc, ca.pem)
	if err != nil {
		t.Fatal(err)
	}

	// The quickstart's NSG admits 203.0.113.0/24 on 80 only: 443 is
	// refused by DenyAllInBound, while port 80 keeps working.
	_, err = s.scoreTLS(trusting, p.ScoringURI, keys.PrimaryKey)
	if e, ok := armerror.As(err); !ok || e.Code != "ConnectionDenied" || !strings.Contains(e.Message, "DenyAllInBound") || !strings.Contains(e.Message, ":443") {
		t.Fatalf("443 before the NSG admits it: %v, want a refusal by DenyAllInBound", err)
	}
	pip, fqdn := s.frontEnd()
	if fqdn != "ml.contoso.com" {
		t.Errorf("the front end's fqdn is %q", fqdn)
	}
	r, err := s.scoreTLS(hc, "http://"+pip+":80/api/v1/service/mysvc/score", keys.PrimaryKey)
	wantProbabilities(t, r, err)

	// Admitted on 443: scored over TLS, trusting the user's CA.
	s.quickstart(0, 1, admitTLS)
	r, err = s.scoreTLS(trusting, p.ScoringURI, keys.PrimaryKey)
	wantProbabilities(t, r, err)
	// Without the user's CA the certificate is refused, with the reason.
	_, err = s.scoreTLS(hc, p.ScoringURI, keys.PrimaryKey)
	if e, ok := armerror.As(err); !ok || e.Code != client.CodeScoringCertificateUntrusted || !strings.Contains(e.Message, "Contoso test CA") {
		t.Fatalf("a client without the user's CA: %v", err)
	}
	// From elsewhere: refused on 443, naming the rule.
	other, err := s.c.DataPlane(ctx, "8.8.8.8")
	if err != nil {
		t.Fatal(err)
	}
	if other, err = client.TrustCAs(other, ca.pem); err != nil {
		t.Fatal(err)
	}
	_, err = s.scoreTLS(other, p.ScoringURI, keys.PrimaryKey)
	if e, ok := armerror.As(err); !ok || e.Code != "ConnectionDenied" || !strings.Contains(e.Message, "DenyAllInBound") {
		t.Fatalf("scoring from 8.8.8.8 over https: %v, want a refusal by DenyAllInBound", err)
	}
	// Deleting the service leaves the name to the cluster's front end;
	// its scoring URI answers 404.
	if _, err := s.c.Do(ctx, "DELETE", qsService, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := s.scoreTLS(trusting, p.ScoringURI, keys.PrimaryKey); err != nil || r.Status != http.StatusNotFound {
		t.Fatalf("a deleted service over https: %v %d %s", err, r.Status, r.Body)
	}
}

// TestServeOverTLSWithGeneratedCertificate: a leaf domain label gets a
// name of Azure's pattern, which the virtual cloud resolves to the front
// end, and a certificate the deployment CA issues, which the client
// trusts as it is.
func TestServeOverTLSWithGeneratedCertificate(t *testing.T) {
	needPython(t)
	s := startLive(t, t.TempDir())
	s.quickstart(0, 1, admitTLS)
	s.registerFileModel(tlsModel)
	ctx := context.Background()
	if err := s.putTLSAKS(map[string]any{"status": "Auto", "leafDomainLabel": "contoso"}); err != nil {
		if e, ok := armerror.As(err); ok && e.Code == "OperationNotSupported" && strings.Contains(e.Message, "no deployment CA") {
			t.Skip("the server runs without a deployment CA for inference clusters: daemon.go does not set apiserver.Config.CA yet")
		}
		t.Fatal(err)
	}
	_, fqdn := s.frontEnd()
	if !regexp.MustCompile(`^contoso[a-z0-9]{6}\.eastus\.cloudapp\.azure\.com$`).MatchString(fqdn) {
		t.Fatalf("the generated name %q", fqdn)
	}
	s.putService(scoreScript)
	p := s.waitService(func(p api.ServiceProperties) bool {
		return p.State == api.ServiceHealthy || p.State == api.ServiceFailed
	})
	if p.State != api.ServiceHealthy || p.ScoringURI != "https://"+fqdn+"/api/v1/service/mysvc/score" {
		t.Fatalf("service %s at %s: %+v", p.State, p.ScoringURI, p.Error)
	}
	var keys api.ServiceKeys
	if err := s.c.Post(ctx, qsService+"/listKeys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	hc, err := s.c.DataPlane(ctx, "203.0.113.10")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.scoreTLS(hc, p.ScoringURI, keys.PrimaryKey)
	wantProbabilities(t, r, err)
	// The certificate is the deployment CA's, for the generated name.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+fqdn+"/api/v1/service/mysvc/swagger.json", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	leaf := resp.TLS.PeerCertificates[0]
	if leaf.Issuer.CommonName != "vnetml deployment CA" || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != fqdn {
		t.Errorf("the certificate: issuer %q, names %v", leaf.Issuer.CommonName, leaf.DNSNames)
	}
	// From elsewhere: refused on 443, naming the rule.
	other, err := s.c.DataPlane(ctx, "8.8.8.8")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.scoreTLS(other, p.ScoringURI, keys.PrimaryKey); err == nil || !strings.Contains(err.Error(), "DenyAllInBound") {
		t.Fatalf("scoring from 8.8.8.8 over https: %v, want a refusal by DenyAllInBound", err)
	}
}
