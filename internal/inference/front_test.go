package inference

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/fabric"
)

// These tests drive the front end as a caller does: over HTTP on a
// connection the fabric decided, to the front end's public address.
// Replicas are real HTTP servers (env_test.go), exposed at their pod
// addresses by the controller.

type answer struct {
	status int
	header http.Header
	body   string
	err    api.ServiceError // the front end's own error, when it answered one
}

// call sends a request and reads the whole answer.
func call(t *testing.T, c *http.Client, method, url, auth, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	var e struct{ Error api.ServiceError }
	if json.Unmarshal(b, &e) == nil {
		a.err = e.Error
	}
	return a
}

func TestKeyAuth(t *testing.T) {
	e := newEnv(t, goEcho, "")
	sp := spec("keyed")
	sp.Keys = []string{"primary-key-0123456789", "secondary-key-9876543210"}
	e.deploy(t, sp, api.ServiceHealthy)
	c := e.client(t, admitted)
	const body = `{"data": [[1, 2]]}`

	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"not bearer", "Basic cHJpbWFyeS1rZXk=", http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"wrong key", "Bearer not-the-key", http.StatusUnauthorized},
		{"a prefix of the key", "Bearer primary-key", http.StatusUnauthorized},
		{"primary", "Bearer " + sp.Keys[0], http.StatusOK},
		{"secondary", "Bearer " + sp.Keys[1], http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, c, http.MethodPost, scoreURL("keyed"), tc.auth, body)
			if a.status != tc.status {
				t.Fatalf("%d %s, want %d", a.status, a.body, tc.status)
			}
			if tc.status == http.StatusOK {
				if a.body != body {
					t.Errorf("the replica answered %q, want the echo of %q", a.body, body)
				}
				if a.header.Get("X-Saw-Authorization") != "" {
					t.Error("the key reached the replica: the front end must keep it")
				}
				return
			}
			if got := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got)
			}
			if a.err.Code != "Unauthorized" || a.err.Message == "" {
				t.Errorf("error %+v, want Unauthorized with a message", a.err)
			}
			if tc.auth == "" && !strings.Contains(a.err.Message, "key") {
				t.Errorf("a call without a key is told %q, want how to send one", a.err.Message)
			}
		})
	}
}

func TestTokenAuth(t *testing.T) {
	e := newEnv(t, goEcho, "")
	sp := spec("tokened")
	sp.TokenKey = []byte("the service's token key, 32 bytes")
	e.deploy(t, sp, api.ServiceHealthy)
	other := spec("other")
	other.TokenKey = sp.TokenKey // same key, another service: the id is signed too
	c := e.client(t, admitted)
	now := time.Now()

	for _, tc := range []struct {
		name, auth string
		status     int
		says       string
	}{
		{"valid", "Bearer " + Token(sp, now.Add(time.Hour)), http.StatusOK, ""},
		{"expired", "Bearer " + Token(sp, now.Add(-time.Minute)), http.StatusUnauthorized, "expired"},
		{"another service's", "Bearer " + Token(other, now.Add(time.Hour)), http.StatusUnauthorized, "not this service's"},
		{"forged", "Bearer vnt.AAAAAAAAAAA" + strings.Repeat("A", 43), http.StatusUnauthorized, "not this service's"},
		{"none", "", http.StatusUnauthorized, "token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, c, http.MethodPost, scoreURL("tokened"), tc.auth, `{"data": 1}`)
			if a.status != tc.status {
				t.Fatalf("%d %s, want %d", a.status, a.body, tc.status)
			}
			if tc.status == http.StatusUnauthorized {
				if a.header.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate challenge")
				}
				if !strings.Contains(a.err.Message, tc.says) {
					t.Errorf("error %+v, want it to say %q", a.err, tc.says)
				}
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, goEcho, "")
	sp := spec("small")
	sp.MaxBodyBytes = 1024
	e.deploy(t, sp, api.ServiceHealthy)
	c := e.client(t, admitted)

	if a := call(t, c, http.MethodPost, scoreURL("small"), "", strings.Repeat("x", 1024)); a.status != http.StatusOK {
		t.Errorf("a body of exactly the limit: %d %s", a.status, a.body)
	}
	a := call(t, c, http.MethodPost, scoreURL("small"), "", strings.Repeat("x", 1025))
	if a.status != http.StatusRequestEntityTooLarge || a.err.Code != "RequestTooLarge" || !strings.Contains(a.err.Message, "1024") {
		t.Errorf("a body over the limit: %d %s, want 413 RequestTooLarge naming the limit", a.status, a.body)
	}
	// Without a Content-Length the limit holds while the body streams to
	// the replica.
	req, _ := http.NewRequest(http.MethodPost, scoreURL("small"), io.MultiReader(strings.NewReader(strings.Repeat("y", 4096))))
	req.ContentLength = -1
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a chunked body over the limit: %d %s, want 413", resp.StatusCode, b)
	}
}

func TestUnknownServiceAndPath(t *testing.T) {
	e := newEnv(t, goEcho, "")
	e.deploy(t, spec("known"), api.ServiceHealthy)
	c := e.client(t, admitted)
	for _, tc := range []struct {
		name, method, url string
		status            int
		code              string
	}{
		{"unknown service", http.MethodPost, scoreURL("unknown"), http.StatusNotFound, "ServiceNotFound"},
		{"unknown operation", http.MethodPost, "http://" + publicFE.String() + "/api/v1/service/known/predict", http.StatusNotFound, "NotFound"},
		{"no service", http.MethodGet, "http://" + publicFE.String() + "/api/v1/service/", http.StatusNotFound, "NotFound"},
		{"root", http.MethodGet, "http://" + publicFE.String() + "/", http.StatusOK, "Healthy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, c, tc.method, tc.url, "", "")
			if a.status != tc.status || a.err.Code != tc.code {
				t.Errorf("%d %s, want %d %s", a.status, a.body, tc.status, tc.code)
			}
		})
	}
}

func TestNoReadyReplica(t *testing.T) {
	e := newEnv(t, neverReady, "")
	st := e.deploy(t, spec("starting"), api.ServiceTransitioning)
	if len(st.Replicas) != 1 {
		t.Fatalf("replicas %+v, want one starting", st.Replicas)
	}
	a := call(t, e.client(t, admitted), http.MethodPost, scoreURL("starting"), "", `{}`)
	if a.status != http.StatusServiceUnavailable || a.err.Code != "NoReplicaReady" || !strings.Contains(a.err.Message, api.ServiceTransitioning) {
		t.Errorf("%d %s, want 503 NoReplicaReady saying the service is %s", a.status, a.body, api.ServiceTransitioning)
	}
}

func TestRoundRobin(t *testing.T) {
	e := newEnv(t, goEcho, "")
	sp := spec("pair")
	sp.Fixed = 2
	st := e.deploy(t, sp, api.ServiceHealthy)
	if len(st.Replicas) != 2 || st.Replicas[0].NodeID == st.Replicas[1].NodeID {
		t.Fatalf("replicas %+v, want two on different nodes", st.Replicas)
	}
	c := e.client(t, admitted)
	var seen []string
	for range 6 {
		a := call(t, c, http.MethodPost, scoreURL("pair"), "", `{"i": 1}`)
		if a.status != http.StatusOK {
			t.Fatalf("%d %s", a.status, a.body)
		}
		seen = append(seen, a.header.Get("X-Replica"))
	}
	for i := range seen {
		if seen[i] == "" || i > 0 && seen[i] == seen[i-1] {
			t.Fatalf("replicas answered in the order %q, want them to alternate", seen)
		}
	}
}

// TestNSG: a caller the NSG refuses cannot connect to the front end (the
// refusal names the default rule), while one it admits scores; the flow
// log holds both decisions.
func TestNSG(t *testing.T) {
	e := newEnv(t, goEcho, "")
	e.deploy(t, spec("guarded"), api.ServiceHealthy)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fe := netip.AddrPortFrom(publicFE, FrontEndPort)

	_, err := e.fab.Dial(ctx, fabric.Endpoint{Addr: refused}, fe)
	var denied *fabric.Denied
	if !errors.As(err, &denied) {
		t.Fatalf("%v -> %v: %v, want a *fabric.Denied", refused, fe, err)
	}
	if h := denied.Verdict.Refusal(); h == nil || !strings.Contains(h.Rule, "DenyAllInBound") {
		t.Errorf("refused by %+v, want DenyAllInBound", h)
	}
	// Over HTTP the caller sees the refusal as a failed connection.
	if _, err := e.client(t, refused).Post(scoreURL("guarded"), "application/json", strings.NewReader("{}")); !errors.As(err, &denied) {
		t.Errorf("scoring from %v: %v, want the fabric's refusal", refused, err)
	}

	if a := call(t, e.client(t, admitted), http.MethodPost, scoreURL("guarded"), "", `{"ok": true}`); a.status != http.StatusOK {
		t.Errorf("scoring from %v: %d %s", admitted, a.status, a.body)
	}
	recs, _, _, _ := e.fab.Log().Query(fabric.Filter{Addr: publicFE}.Matches, 0, 0)
	var allowed, deny bool
	for _, r := range recs {
		src, _ := netip.ParseAddrPort(r.Src)
		switch {
		case src.Addr() == admitted && r.Decision == "A" && strings.Contains(r.Rule, "allow-scoring"):
			allowed = true
		case src.Addr() == refused && r.Decision == "D" && strings.Contains(r.Rule, "DenyAllInBound"):
			deny = true
		}
	}
	if !allowed || !deny {
		t.Errorf("the flow log lacks the admitted (%v) or the refused (%v) caller: %+v", allowed, deny, recs)
	}
}

// TestOutOfRotation: a rule that refuses the load balancer's health
// probe (AzureLoadBalancer) before the default rule takes the front end
// out of rotation: callers get a 503 naming the rule, until the rule goes.
func TestOutOfRotation(t *testing.T) {
	e := newEnv(t, goEcho, "")
	sp := spec("probed")
	e.deploy(t, sp, api.ServiceHealthy)
	c := e.client(t, admitted)
	e.fab.Apply(testEngine(t, `{"name": "deny-probes", "properties": {"priority": 110, "direction": "Inbound", "access": "Deny",
		"protocol": "*", "sourceAddressPrefix": "AzureLoadBalancer", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}`))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.ctl.Settled(ctx, sp.ID)
	if st, _ := e.ctl.Status(sp.ID); st.State != api.ServiceUnhealthy || st.Error == nil || !strings.Contains(st.Error.Message, "deny-probes") {
		t.Errorf("with the probe refused the service is %s %+v, want Unhealthy naming deny-probes", st.State, st.Error)
	}
	a := call(t, c, http.MethodPost, scoreURL("probed"), "", `{}`)
	if a.status != http.StatusServiceUnavailable || a.err.Code != "FrontEndOutOfRotation" || !strings.Contains(a.err.Message, "deny-probes") {
		t.Errorf("%d %s, want 503 FrontEndOutOfRotation naming deny-probes", a.status, a.body)
	}
	e.fab.Apply(testEngine(t))
	e.ctl.Settled(ctx, sp.ID)
	if a := call(t, c, http.MethodPost, scoreURL("probed"), "", `{}`); a.status != http.StatusOK {
		t.Errorf("back in rotation: %d %s", a.status, a.body)
	}
}

func TestSwaggerPassthrough(t *testing.T) {
	e := newEnv(t, goEcho, "")
	sp := spec("documented")
	sp.Keys = []string{"k"}
	e.deploy(t, sp, api.ServiceHealthy)
	// swagger.json needs no key, as on Azure: it is how a caller learns
	// how to call.
	a := call(t, e.client(t, admitted), http.MethodGet, swaggerURL("documented"), "", "")
	var doc struct{ Swagger, BasePath string }
	if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &doc) != nil || doc.Swagger != "2.0" {
		t.Fatalf("%d %s, want the replica's swagger.json", a.status, a.body)
	}
	if doc.BasePath != "/api/v1/service/documented" {
		t.Errorf("the replica was asked for %q, want the scoring URI's path unchanged", doc.BasePath)
	}
}

// TestScoringDuringRounds: calls go on, from a few callers at once, while
// the controller checks the replicas round after round (run with -race:
// the front end reads the replicas that the rounds update).
func TestScoringDuringRounds(t *testing.T) {
	e := newEnv(t, goEcho, "")
	sp := spec("busy")
	sp.Fixed = 2
	e.deploy(t, sp, api.ServiceHealthy)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls atomic.Int64
	for range 4 {
		c := e.client(t, admitted)
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Post(scoreURL("busy"), "application/json", strings.NewReader(`{}`))
				if err != nil {
					t.Errorf("a call during the rounds: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("a call during the rounds: %s", resp.Status)
					return
				}
				calls.Add(1)
			}
		})
	}
	for range 100 {
		e.ctl.Settled(context.Background(), sp.ID)
		if st, _ := e.ctl.Status(sp.ID); st.State != api.ServiceHealthy {
			t.Errorf("the service went %s during the calls: %+v", st.State, st.Error)
		}
	}
	close(stop)
	wg.Wait()
	if calls.Load() == 0 {
		t.Error("no call went through during the rounds")
	}
}

// TestPythonReplica: the real scoring server behind the front end:
// run()'s answer, swagger.json with the scoring URI's base path, and the
// key kept from the replica.
func TestPythonReplica(t *testing.T) {
	if err := havePython(); err != nil {
		t.Skip(err)
	}
	e := newEnv(t, pythonScore, benchEntry)
	sp := spec("pyscore")
	sp.Keys = []string{"the-key"}
	e.deploy(t, sp, api.ServiceHealthy)
	c := e.client(t, admitted)

	a := call(t, c, http.MethodPost, scoreURL("pyscore"), "Bearer the-key", `{"data": [[1, 2], [3, 4]]}`)
	if a.status != http.StatusOK || strings.TrimSpace(a.body) != "[3, 7]" {
		t.Fatalf("%d %s, want [3, 7]", a.status, a.body)
	}
	a = call(t, c, http.MethodGet, swaggerURL("pyscore"), "", "")
	var doc struct {
		BasePath string
		Info     struct{ Title string }
	}
	if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &doc) != nil || doc.BasePath != "/api/v1/service/pyscore" || doc.Info.Title != "pyscore" {
		t.Errorf("swagger.json: %d %s", a.status, a.body)
	}
	if a := call(t, c, http.MethodPost, scoreURL("pyscore"), "Bearer wrong", `{"data": []}`); a.status != http.StatusUnauthorized {
		t.Errorf("a wrong key: %d %s", a.status, a.body)
	}
}
