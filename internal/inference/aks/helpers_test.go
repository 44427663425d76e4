package aks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

const (
	testSub    = "11111111-2222-3333-4444-555555555555"
	testSubnet = "/subscriptions/" + testSub + "/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/aks"
	testAKS    = "/subscriptions/" + testSub + "/resourceGroups/aksrg/providers/Microsoft.ContainerService/managedClusters/prod"
)

var testCtx = SpecContext{WorkspaceSubscription: testSub, WorkspaceLocation: "eastus"}

// finding is one error of a result, flattened.
type finding struct {
	Code, Target, Message string
}

// findings flattens err (nil: none); it fails the test unless err is an
// *armerror.Error whose every entry has a code and a message.
func findings(t testing.TB, err error) []finding {
	t.Helper()
	if err == nil {
		return nil
	}
	e, ok := err.(*armerror.Error)
	if !ok {
		t.Fatalf("error %v is a %T, not an *armerror.Error", err, err)
	}
	list := []*armerror.Error{e}
	if len(e.Details) > 0 {
		if e.Code != CodeInvalidContent || !strings.HasSuffix(e.Message, "; see details") {
			t.Fatalf("multi-error wrapper %+v", e)
		}
		list = e.Details
	}
	var out []finding
	for _, d := range list {
		if d.Code == "" || d.Message == "" || len(d.Details) > 0 {
			t.Fatalf("malformed detail %+v", d)
		}
		out = append(out, finding{d.Code, d.Target, d.Message})
	}
	return out
}

// codesAt flattens findings to "code@target", for compact expectations.
func codesAt(fs []finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code+"@"+f.Target)
	}
	return out
}

// minimal is the smallest body the SDK sends: provisioning_configuration()
// with nothing set (the SDK then deletes properties.properties).
func minimal() map[string]any {
	return map[string]any{
		"location":   "eastus",
		"properties": map[string]any{"computeType": "AKS"},
	}
}

// set sets (or, with v == del, deletes) the value at a dotted path of doc,
// creating objects on the way.
func set(doc map[string]any, path string, v any) map[string]any {
	keys := strings.Split(path, ".")
	m := doc
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	if v == del {
		delete(m, keys[len(keys)-1])
	} else {
		m[keys[len(keys)-1]] = v
	}
	return doc
}

var del = new(int)

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	pairOnce          sync.Once
	testCert, testKey string
)

// certPair returns a self-signed PEM certificate for ml.contoso.com and
// its key, made once per test binary.
func certPair(t testing.TB) (cert, key string) {
	t.Helper()
	pairOnce.Do(func() {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "ml.contoso.com"},
			DNSNames:     []string{"ml.contoso.com"},
			NotBefore:    time.Unix(0, 0),
			NotAfter:     time.Unix(0, 0).Add(100 * 365 * 24 * time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			panic(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			panic(err)
		}
		testCert = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		testKey = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	})
	return testCert, testKey
}
