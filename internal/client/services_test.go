package client

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// fakeServices answers the web-service API for service s of testWS, and
// records what it is sent.
type fakeServices struct {
	mu       sync.Mutex
	deployed []api.Service
	regen    []string
	deleted  []string
	accepts  []string
}

func (f *fakeServices) serve(t *testing.T) *httptest.Server {
	t.Helper()
	id := ServicePath(testWS, "s")
	one := 1
	svc := api.Service{ID: id, Name: "s", Properties: api.ServiceProperties{ComputeTarget: "aks", Models: []string{"m:1"}, NumReplicas: &one,
		State: api.ServiceHealthy, ScoringURI: "http://198.51.100.4:80/api/v1/service/s/score"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch p := r.URL.Path; {
		case r.Method == http.MethodPut && p == id:
			var in api.Service
			json.NewDecoder(r.Body).Decode(&in)
			f.deployed = append(f.deployed, in)
			in.ID, in.Name, in.Properties.State = id, "s", api.ServiceTransitioning
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(in)
		case r.Method == http.MethodDelete && p == id:
			f.deleted = append(f.deleted, p)
			w.WriteHeader(http.StatusOK)
		case r.Method == http.MethodGet && p == id:
			json.NewEncoder(w).Encode(svc)
		case r.Method == http.MethodGet && p == testWS+"/services":
			json.NewEncoder(w).Encode(map[string]any{"value": []api.Service{{Name: "z"}, svc}})
		case r.Method == http.MethodPost && p == id+"/listKeys":
			json.NewEncoder(w).Encode(api.ServiceKeys{PrimaryKey: "p1", SecondaryKey: "s1"})
		case r.Method == http.MethodPost && p == id+"/regenerateKeys":
			var in struct{ KeyType string }
			json.NewDecoder(r.Body).Decode(&in)
			f.regen = append(f.regen, in.KeyType)
			json.NewEncoder(w).Encode(api.ServiceKeys{PrimaryKey: "p2", SecondaryKey: "s1"})
		case r.Method == http.MethodPost && p == id+"/token":
			json.NewEncoder(w).Encode(api.ServiceToken{AccessToken: "vnt.x"})
		case r.Method == http.MethodGet && p == id+"/logs":
			f.accepts = append(f.accepts, r.Header.Get("Accept"))
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "replica 0: ready\n")
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write(armerror.New("ResourceNotFound", "", "no %s %s", r.Method, p).MarshalEnvelope())
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestServicesClient(t *testing.T) {
	f := &fakeServices{}
	c, err := New(f.serve(t).URL, "tok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := ServicePath(testWS, "s")

	in := api.Service{Properties: api.ServiceProperties{ComputeTarget: "aks", Models: []string{"m"},
		EntryScript: api.ServiceScript{Name: "score.py", Content: "def init(): pass\n"}, EnvironmentVariables: map[string]string{"A": "1"}}}
	got, err := c.DeployService(ctx, testWS, "s", in)
	if err != nil || got.ID != id || got.Properties.State != api.ServiceTransitioning {
		t.Errorf("DeployService: %v %+v", err, got)
	}
	if diff := cmp.Diff([]api.Service{in}, f.deployed); diff != "" {
		t.Errorf("the deployment sent (-want +got):\n%s", diff)
	}
	if s, err := c.GetService(ctx, id); err != nil || s.Properties.State != api.ServiceHealthy || *s.Properties.NumReplicas != 1 {
		t.Errorf("GetService: %v %+v", err, s)
	}
	if _, err := c.GetService(ctx, ServicePath(testWS, "nosuch")); armerror.Codes(err)[0] != "ResourceNotFound" {
		t.Errorf("GetService of no service: %v", err)
	}
	list, err := c.ListServices(ctx, testWS)
	if err != nil || len(list) != 2 || list[0].Name != "s" || list[1].Name != "z" {
		t.Errorf("ListServices, by name: %v %+v", err, list)
	}
	if k, err := c.ServiceKeys(ctx, id); err != nil || k != (api.ServiceKeys{PrimaryKey: "p1", SecondaryKey: "s1"}) {
		t.Errorf("ServiceKeys: %v %+v", err, k)
	}
	if k, err := c.RegenerateServiceKey(ctx, id, KeyPrimary); err != nil || k.PrimaryKey != "p2" {
		t.Errorf("RegenerateServiceKey: %v %+v", err, k)
	}
	if tok, err := c.ServiceToken(ctx, id); err != nil || tok.AccessToken != "vnt.x" {
		t.Errorf("ServiceToken: %v %+v", err, tok)
	}
	if logs, err := c.ServiceLogs(ctx, id); err != nil || logs != "replica 0: ready\n" {
		t.Errorf("ServiceLogs: %v %q", err, logs)
	}
	if existed, err := c.DeleteService(ctx, id); err != nil || !existed {
		t.Errorf("DeleteService: %v %v", existed, err)
	}
	if diff := cmp.Diff([]string{"Primary"}, f.regen); diff != "" {
		t.Errorf("regenerated (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{id}, f.deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"text/plain"}, f.accepts); diff != "" {
		t.Errorf("logs asked for (-want +got):\n%s", diff)
	}
}

// Score sends the data with the credential, and returns every HTTP
// answer; Err reads the front end's error envelope or a plain body.
func TestScore(t *testing.T) {
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		b, _ := io.ReadAll(r.Body)
		switch {
		case r.Header.Get("Content-Type") != "application/json":
			w.WriteHeader(http.StatusUnsupportedMediaType)
		case r.Header.Get("Authorization") == "":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error": {"code": "Unauthorized", "message": "send one of the service's keys"}}`)
		case string(b) == `{"boom": 1}`:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "Traceback (most recent call last):\nKeyError: 'data'\n")
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `[0.9]`)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, "tok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hc := srv.Client()
	uri := srv.URL + "/api/v1/service/s/score"

	r, err := c.Score(ctx, hc, uri, "k1", []byte(`{"data": [[1, 2]]}`))
	if err != nil || r.Status != 200 || string(r.Body) != "[0.9]" || r.ContentType != "application/json" || r.Err() != nil {
		t.Errorf("a scoring call: %v %+v", err, r)
	}
	r, err = c.Score(ctx, hc, uri, "", []byte(`{}`))
	if e := r.Err(); err != nil || r.Status != 401 || e == nil || e.Code != "Unauthorized" || e.Message != "send one of the service's keys" {
		t.Errorf("without a key: %v %+v %+v", err, r, e)
	}
	r, err = c.Score(ctx, hc, uri, "k1", []byte(`{"boom": 1}`))
	if e := r.Err(); err != nil || e == nil || e.Code != "InternalServerError" || !strings.HasSuffix(e.Message, "KeyError: 'data'") {
		t.Errorf("run() raised: %v %+v", err, e)
	}
	if diff := cmp.Diff([]string{"Bearer k1", "", "Bearer k1"}, auth); diff != "" {
		t.Errorf("Authorization sent (-want +got):\n%s", diff)
	}
	if _, err := c.Score(ctx, hc, "http://127.0.0.1:1/score", "", nil); armerror.Codes(err)[0] != "DataPlaneUnreachable" {
		t.Errorf("nobody there: %v", err)
	}
}

// A caller the network refuses gets the tunnel's explanation, with the
// rule, as an ARM error — not Go's "Proxy Authentication Required".
func TestScoreRefusedByTheNetwork(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	tlsSrv.Close()
	var from string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == api.CAPath:
			w.Write(ca)
		case r.Method == http.MethodConnect:
			from = r.Header.Get(api.ClientAddressHeader)
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "denied by security rule DenyAllInBound of ml-nsg\n")
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
	hc, err := c.DataPlane(ctx, "8.8.8.8")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Score(ctx, hc, "http://198.51.100.4:80/api/v1/service/s/score", "k", []byte(`{}`))
	e, ok := armerror.As(err)
	if !ok || e.Code != "ConnectionDenied" || !strings.Contains(e.Message, "DenyAllInBound") || from != "8.8.8.8" {
		t.Errorf("a refused call: %v (from %q)", err, from)
	}
}
