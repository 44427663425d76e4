package apiserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"
)

// selfSigned is a PEM certificate for host and its key.
func selfSigned(t *testing.T, host string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// tlsAKSBody is an inference cluster in the subnet with sslConfiguration ssl.
func tlsAKSBody(t *testing.T, ssl map[string]any) string {
	b, err := json.Marshal(ssl)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"location": "eastus", "properties": {"computeType": "AKS", "properties": {
		"agentCount": 1, "clusterPurpose": "DevTest", "sslConfiguration": %s,
		"aksNetworkingConfiguration": {"subnetId": %q, "serviceCidr": "10.2.0.0/16", "dnsServiceIP": "10.2.0.10", "dockerBridgeCidr": "172.17.0.1/16"}}}}`,
		b, vnet+"/subnets/default")
}

// frontEndOf reads a cluster's sslConfiguration and its front end.
func frontEndOf(t *testing.T, e *env, id string) (ssl map[string]any, fqdn string, doc string) {
	t.Helper()
	r := e.must(200, "GET", id, nil)
	var d struct {
		Properties struct {
			Properties struct {
				SSLConfiguration map[string]any
				SystemServices   []struct{ Fqdn string }
			}
		}
	}
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatal(err)
	}
	p := d.Properties.Properties
	if len(p.SystemServices) == 1 {
		fqdn = p.SystemServices[0].Fqdn
	}
	return p.SSLConfiguration, fqdn, string(r.body)
}

// TestInferenceClusterTLS: a cluster's sslConfiguration becomes the name
// of its scoring endpoint — the cname of the user's certificate, checked
// against its key when the cluster is created, or a name generated for
// the leaf domain label, whose certificate the deployment CA issues —
// and no two clusters, nor a platform service, share a name.
func TestInferenceClusterTLS(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	cert, key := selfSigned(t, "ml.contoso.com")
	_, otherKey := selfSigned(t, "ml.contoso.com")

	// The key of another certificate: refused, naming the key.
	er := e.wantError(400, "UserError", "PUT", inference, tlsAKSBody(t, map[string]any{"status": "Enabled", "cname": "ml.contoso.com", "cert": cert, "key": otherKey}))
	if er.Target != "properties.properties.sslConfiguration.key" || !strings.Contains(er.Message, "is not the private key of the certificate for ml.contoso.com") {
		t.Fatalf("a mismatched key: %+v", er)
	}
	// A cname the certificate is not for: refused, naming the cname.
	er = e.wantError(400, "UserError", "PUT", inference, tlsAKSBody(t, map[string]any{"status": "Enabled", "cname": "scoring.fabrikam.com", "cert": cert, "key": key}))
	if er.Target != "properties.properties.sslConfiguration.cname" {
		t.Fatalf("another cname: %+v", er)
	}
	// A platform service's domain: refused.
	blobCert, blobKey := selfSigned(t, "mlquickstartstore.blob.core.windows.net")
	er = e.wantError(400, "UserError", "PUT", inference, tlsAKSBody(t, map[string]any{"cname": "mlquickstartstore.blob.core.windows.net", "cert": blobCert, "key": blobKey}))
	if er.Target != "properties.properties.sslConfiguration.cname" || !strings.Contains(er.Message, "blob.core.windows.net") {
		t.Fatalf("a platform name: %+v", er)
	}
	e.must(404, "GET", inference, nil)

	// The user's pair: kept (the key sealed, neither shown), the cname
	// the front end's name.
	e.must(201, "PUT", inference, tlsAKSBody(t, map[string]any{"status": "Enabled", "cname": "ML.contoso.com", "cert": cert, "key": key}))
	ssl, fqdn, doc := frontEndOf(t, e, inference)
	if ssl["status"] != "Enabled" || ssl["cname"] != "ML.contoso.com" || fqdn != "ml.contoso.com" {
		t.Fatalf("sslConfiguration %v, fqdn %q", ssl, fqdn)
	}
	if strings.Contains(doc, "PRIVATE KEY") || strings.Contains(doc, "BEGIN CERTIFICATE") {
		t.Fatalf("the compute shows its certificate or key: %s", doc)
	}
	// Another cluster with the same cname: the name is taken.
	er = e.wantError(400, "DnsRecordInUse", "PUT", workspace+"/computes/otheraks", tlsAKSBody(t, map[string]any{"cname": "ml.contoso.com", "cert": cert, "key": key}))
	if !strings.Contains(er.Message, "myaks") {
		t.Fatalf("a taken cname: %+v", er)
	}

	// A leaf domain label: a name of Azure's pattern, certified by the
	// deployment CA.
	auto := workspace + "/computes/autoaks"
	e.must(201, "PUT", auto, tlsAKSBody(t, map[string]any{"status": "Auto", "leafDomainLabel": "contoso"}))
	ssl, fqdn, _ = frontEndOf(t, e, auto)
	if ssl["status"] != "Auto" || ssl["leafDomainLabel"] != "contoso" || !regexp.MustCompile(`^contoso[a-z0-9]{6}\.eastus\.cloudapp\.azure\.com$`).MatchString(fqdn) {
		t.Fatalf("sslConfiguration %v, fqdn %q", ssl, fqdn)
	}
	// Deleting the first cluster frees its name.
	e.must(200, "DELETE", inference, nil)
	e.must(201, "PUT", workspace+"/computes/otheraks", tlsAKSBody(t, map[string]any{"cname": "ml.contoso.com", "cert": cert, "key": key}))
}

// TestInferenceClusterTLSNeedsSecrets: a server that keeps no secrets
// cannot keep the certificate's key, and says so.
func TestInferenceClusterTLSNeedsSecrets(t *testing.T) {
	e := newEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.wantError(400, "OperationNotSupported", "PUT", inference, tlsAKSBody(t, map[string]any{"leafDomainLabel": "contoso"}))
}
