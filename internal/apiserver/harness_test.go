package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/apiserver"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/fabric/userspace"
	"github.com/vnetml/vnetml/internal/servicetag"
	"github.com/vnetml/vnetml/internal/store/sqlite"
)

const (
	sub  = "/subscriptions/" + apiserver.DefaultSubscription
	rg   = sub + "/resourceGroups/mygroup"
	net  = rg + "/providers/Microsoft.Network"
	vnet = net + "/virtualNetworks/mynetwork"
	nsg  = net + "/networkSecurityGroups/ml-nsg"
	nic  = net + "/networkInterfaces/node0"
	nw   = sub + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_eastus"
)

// env is a running API server over a sqlite store in a temporary
// directory, with its admin token.
type env struct {
	t     testing.TB
	dir   string
	http  *httptest.Server
	srv   *apiserver.Server
	st    *sqlite.Store
	fab   *userspace.Fabric
	admin string
	// data, when set before start, adds the workspace data planes (see
	// newDataEnv); their parts are then set.
	data *dataParts
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.start()
	t.Cleanup(e.stop)
	return e
}

// start opens the store in e.dir and starts a server over it.
func (e *env) start() {
	t := e.t
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, e.dir+"/vnetml.db")
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := a.Bootstrap(ctx, e.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if secret == "" {
		b, err := os.ReadFile(e.dir + "/admin.token")
		if err != nil {
			t.Fatal(err)
		}
		secret = strings.TrimSpace(string(b))
	}
	fab := userspace.New(userspace.Options{})
	cfg := apiserver.Config{Store: st, Tags: servicetag.LocalCloud(), Auth: a, Fabric: fab, TunnelRecheck: 20 * time.Millisecond}
	if e.data != nil {
		e.data.start(t, e.dir, &cfg)
	}
	srv, err := apiserver.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e.data != nil {
		e.data.srv.Store(srv)
		if err := srv.StartComputes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.st, e.srv, e.admin, e.fab = st, srv, secret, fab
	e.http = httptest.NewServer(srv.Handler())
}

func (e *env) stop() {
	if e.http == nil {
		return
	}
	e.http.Close()
	e.srv.Close()
	if e.data != nil {
		e.data.stop()
	}
	e.fab.Close()
	e.st.Close()
	e.http = nil
}

// with returns e reporting to t, for subtests.
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// restart stops the server and starts a new one over the same directory.
func (e *env) restart() {
	e.stop()
	e.start()
}

// reply is an HTTP answer.
type reply struct {
	status int
	body   []byte
	header http.Header
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// errorOf decodes an ARM error envelope.
func (r reply) errorOf(t testing.TB) *armerror.Error {
	t.Helper()
	var env armerror.Envelope
	if err := json.Unmarshal(r.body, &env); err != nil || env.Error == nil {
		t.Fatalf("answer (%d) is not an ARM error: %s", r.status, r.body)
	}
	return env.Error
}

// call sends a request with the admin token.
func (e *env) call(method, path string, body any, hdr ...string) reply {
	return e.callAs(e.admin, method, path, body, hdr...)
}

func (e *env) callAs(token, method, path string, body any, hdr ...string) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	if !strings.Contains(path, "api-version") {
		if strings.Contains(path, "?") {
			path += "&api-version=2023-09-01"
		} else {
			path += "?api-version=2023-09-01"
		}
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, body: b, header: resp.Header}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path string, body any, hdr ...string) reply {
	e.t.Helper()
	r := e.call(method, path, body, hdr...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.status, want, r.body)
	}
	return r
}

// wantError sends a request and checks the error's status and code.
func (e *env) wantError(status int, code, method, path string, body any, hdr ...string) *armerror.Error {
	e.t.Helper()
	r := e.call(method, path, body, hdr...)
	if r.status != status {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.status, status, r.body)
	}
	er := r.errorOf(e.t)
	if er.Code != code {
		e.t.Fatalf("%s %s: code %s, want %s\n%s", method, path, er.Code, code, r.body)
	}
	return er
}

// The secure network of the example, as ARM JSON bodies.
var (
	groupBody = `{"location": "eastus"}`
	nsgBody   = `{"location": "eastus", "properties": {"securityRules": [
		{"name": "allow-batch", "properties": {"priority": 200, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
		 "sourceAddressPrefix": "BatchNodeManagement", "sourcePortRange": "*", "destinationAddressPrefix": "VirtualNetwork", "destinationPortRange": "29876-29877"}},
		{"name": "deny-internet", "properties": {"priority": 4000, "direction": "Inbound", "access": "Deny", "protocol": "*",
		 "sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}]}}`
	vnetBody = `{"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
		"subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": "` + nsg + `"}}}]}}`
	nicBody = `{"location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
		"privateIPAddress": "10.0.0.4", "subnet": {"id": "` + vnet + `/subnets/default"}}}]}}`
)

// secureNetwork creates the example's group, NSG, VNet and NIC.
func (e *env) secureNetwork() {
	e.t.Helper()
	e.must(201, "PUT", rg, groupBody)
	e.must(201, "PUT", nsg, nsgBody)
	e.must(201, "PUT", vnet, vnetBody)
	e.must(201, "PUT", nic, nicBody)
}
