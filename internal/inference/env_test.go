package inference

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetml/vnetml/bench/loadgen"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/userspace"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/nodeagent"
	"github.com/vnetml/vnetml/internal/replica"
	"github.com/vnetml/vnetml/internal/servicetag"
	"github.com/vnetml/vnetml/runtime/python"
)

// The tests' inference cluster, in one subnet:
//
//	vnet 10.0.0.0/16, subnet default 10.0.0.0/24, NSG aks-nsg:
//	  allow-scoring (100): Inbound TCP from 203.0.113.0/24 to port 80;
//	  the default rules refuse the rest of the Internet (DenyAllInBound)
//	node0 10.0.0.4, pod addresses 10.0.0.20-.21
//	node1 10.0.0.5, pod addresses 10.0.0.30-.31
//	azureml-fe 10.0.0.100, public IP 198.51.100.10
//
// The front end, the fabric, pod exposure and routing are the real code;
// the nodes are fakeNodes, whose replicas are real local HTTP servers.
const (
	netSub   = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/inf/providers/Microsoft.Network"
	nsgID    = netSub + "/networkSecurityGroups/aks-nsg"
	subnetID = netSub + "/virtualNetworks/vnet/subnets/default"
	node0NIC = netSub + "/networkInterfaces/node0"
	node1NIC = netSub + "/networkInterfaces/node1"
	feNIC    = netSub + "/networkInterfaces/azureml-fe"
	cluster  = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/inf/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/myaks"
)

var (
	frontEnd = fabric.Endpoint{NIC: feNIC, Addr: netip.MustParseAddr("10.0.0.100")}
	publicFE = netip.MustParseAddr("198.51.100.10")
	// admitted is a caller in the NSG's allowed range; refused one outside.
	admitted = netip.MustParseAddr("203.0.113.7")
	refused  = netip.MustParseAddr("8.8.8.8")
	nodes    = []compute.NodeRef{
		{ID: "node0", NIC: node0NIC, Addr: netip.MustParseAddr("10.0.0.4")},
		{ID: "node1", NIC: node1NIC, Addr: netip.MustParseAddr("10.0.0.5")},
	}
	pods = map[string][]netip.Addr{
		strings.ToLower(node0NIC): {netip.MustParseAddr("10.0.0.20"), netip.MustParseAddr("10.0.0.21")},
		strings.ToLower(node1NIC): {netip.MustParseAddr("10.0.0.30"), netip.MustParseAddr("10.0.0.31")},
	}
)

func ipConfig(name, addr string, primary bool) string {
	return fmt.Sprintf(`{"name": %q, "properties": {"privateIPAddress": %q, "privateIPAllocationMethod": "Static", "primary": %v, "subnet": {"id": %q}}}`,
		name, addr, primary, subnetID)
}

// testEngine compiles the tests' network, with extra security rules of
// aks-nsg (JSON objects) before allow-scoring.
func testEngine(tb testing.TB, extraRules ...string) *flow.Engine {
	tb.Helper()
	nic := func(id string, cfgs ...string) string {
		return fmt.Sprintf(`{"id": %q, "name": %q, "location": "eastus", "properties": {"ipConfigurations": [%s]}}`,
			id, id[strings.LastIndexByte(id, '/')+1:], strings.Join(cfgs, ","))
	}
	docs := []string{
		fmt.Sprintf(`{"id": %q, "name": "aks-nsg", "location": "eastus", "properties": {"securityRules": [%s
			{"name": "allow-scoring", "properties": {"priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
			 "sourceAddressPrefix": "203.0.113.0/24", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "80"}}]}}`, nsgID, rulesBefore(extraRules)),
		fmt.Sprintf(`{"id": "%s/virtualNetworks/vnet", "name": "vnet", "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
			"subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": %q}}}]}}`, netSub, nsgID),
		fmt.Sprintf(`{"id": "%s/publicIPAddresses/fe-ip", "name": "fe-ip", "location": "eastus", "properties": {"ipAddress": %q, "publicIPAllocationMethod": "Static"}}`, netSub, publicFE),
		nic(node0NIC, ipConfig("ipconfig1", "10.0.0.4", true), ipConfig("pod0", "10.0.0.20", false), ipConfig("pod1", "10.0.0.21", false)),
		nic(node1NIC, ipConfig("ipconfig1", "10.0.0.5", true), ipConfig("pod0", "10.0.0.30", false), ipConfig("pod1", "10.0.0.31", false)),
		fmt.Sprintf(`{"id": %q, "name": "azureml-fe", "location": "eastus", "properties": {"ipConfigurations": [
			{"name": "ipconfig1", "properties": {"privateIPAddress": "10.0.0.100", "privateIPAllocationMethod": "Static", "subnet": {"id": %q},
			 "publicIPAddress": {"id": "%s/publicIPAddresses/fe-ip"}}}]}}`, feNIC, subnetID, netSub),
	}
	var snap network.Snapshot
	if err := snap.DecodeBytes("the tests' network", []byte("["+strings.Join(docs, ",")+"]")); err != nil {
		tb.Fatal(err)
	}
	if err := snap.Finish(); err != nil {
		tb.Fatal(err)
	}
	tags := servicetag.LocalCloud()
	if err := snap.Validate(tags); err != nil {
		tb.Fatalf("the tests' network is invalid: %v", err)
	}
	return flow.Compile(&snap, tags)
}

func rulesBefore(rules []string) string {
	if len(rules) == 0 {
		return ""
	}
	return strings.Join(rules, ",") + ","
}

// backend is what a replica runs.
type backend int

const (
	goEcho      backend = iota // loadgen.Echo behind a few test headers
	pythonScore                // runtime/python/vnetml_score.py in python3
	neverReady                 // a replica that stays Starting
	goMirror                   // answers with what it saw (relay_test.go)
)

// fakeNodes is the cluster's nodes for the tests: a replica is a real
// HTTP server on a loopback port, started when the controller asks.
// Safe for concurrent use.
type fakeNodes struct {
	backend backend
	entry   string // the entry script of pythonScore replicas

	mu       sync.Mutex
	replicas map[string]*fakeReplica // by replica id
}

type fakeReplica struct {
	spec   replica.Spec
	node   string
	status replica.Status
	pid    int // the python3 process's
	stop   func()
	logs   *lockedBuffer
}

func (n *fakeNodes) NodeRefs(string) []compute.NodeRef {
	return append([]compute.NodeRef(nil), nodes...)
}

func (n *fakeNodes) StartReplica(ctx context.Context, _, nodeID string, spec replica.Spec) (replica.Status, error) {
	n.mu.Lock()
	if r, ok := n.replicas[spec.ID]; ok {
		if r.spec.Generation == spec.Generation {
			st := r.status
			n.mu.Unlock()
			return st, nil
		}
		delete(n.replicas, spec.ID)
		n.mu.Unlock()
		r.stop()
	} else {
		n.mu.Unlock()
	}

	r := &fakeReplica{spec: spec, node: nodeID, logs: &lockedBuffer{}, stop: func() {}}
	r.status = replica.Status{ID: spec.ID, Generation: spec.Generation, State: replica.Starting}
	switch n.backend {
	case goEcho:
		port, stop, err := startGoReplica(spec.ID)
		if err != nil {
			return replica.Status{}, err
		}
		r.status.State, r.status.Port, r.stop = replica.Running, port, stop
	case goMirror:
		port, stop, err := startMirrorReplica(spec.ID)
		if err != nil {
			return replica.Status{}, err
		}
		r.status.State, r.status.Port, r.stop = replica.Running, port, stop
	case pythonScore:
		port, pid, stop, err := startPythonReplica(ctx, spec, n.entry, r.logs)
		if err != nil {
			return replica.Status{}, err
		}
		r.status.State, r.status.Port, r.pid, r.stop = replica.Running, port, pid, stop
	}
	n.mu.Lock()
	n.replicas[spec.ID] = r
	n.mu.Unlock()
	return r.status, nil
}

func (n *fakeNodes) ReplicaStatus(_ context.Context, _, _, id string) (replica.Status, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.replicas[id]
	if !ok {
		return replica.Status{}, &nodeagent.StatusError{Port: 29877, StatusCode: http.StatusNotFound}
	}
	return r.status, nil
}

func (n *fakeNodes) StopReplica(_ context.Context, _, _, id string) error {
	n.mu.Lock()
	r, ok := n.replicas[id]
	delete(n.replicas, id)
	n.mu.Unlock()
	if ok {
		r.stop()
	}
	return nil
}

func (n *fakeNodes) ReplicaLogs(_ context.Context, _, _, id string) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.replicas[id]
	if !ok {
		return "", &nodeagent.StatusError{Port: 29877, StatusCode: http.StatusNotFound}
	}
	return r.logs.String(), nil
}

func (n *fakeNodes) stopAll() {
	n.mu.Lock()
	rs := n.replicas
	n.replicas = map[string]*fakeReplica{}
	n.mu.Unlock()
	for _, r := range rs {
		r.stop()
	}
}

// replicaPort is the loopback port of a running replica (the direct
// baseline of the benchmarks), and the pid of its process when it is
// one of its own (0 for a Go replica, which runs in this process).
func (n *fakeNodes) replicaPort(id string) (port, pid int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r, ok := n.replicas[id]; ok {
		return r.status.Port, r.pid
	}
	return 0, 0
}

// startGoReplica serves the Go echo backend: loadgen.Echo, with the
// replica's id in X-Replica, whether an Authorization header reached it
// in X-Saw-Authorization, and a small swagger.json for GETs of it.
func startGoReplica(id string) (int, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Replica", id)
		if r.Header.Get("Authorization") != "" {
			w.Header().Set("X-Saw-Authorization", "yes")
		}
		if prefix, ok := strings.CutSuffix(r.URL.Path, "/swagger.json"); ok && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"swagger": "2.0", "info": map[string]string{"title": id}, "basePath": prefix})
			return
		}
		// loadgen.Echo streams the body back while reading it; without
		// full duplex, net/http discards the unread rest of a body over
		// 512 bytes when the response's header goes out, and the echo
		// ends short.
		http.NewResponseController(w).EnableFullDuplex()
		loadgen.Echo{}.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().(*net.TCPAddr).Port, func() { srv.Close() }, nil
}

// startPythonReplica runs vnetml_score.py as the node agent does, and
// waits for its ready line.
func startPythonReplica(ctx context.Context, spec replica.Spec, entry string, logs *lockedBuffer) (port, pid int, stop func(), err error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return 0, 0, nil, err
	}
	dir, err := os.MkdirTemp("", "vnetml-replica-")
	if err != nil {
		return 0, 0, nil, err
	}
	for name, data := range map[string][]byte{"vnetml_score.py": python.Score, "score.py": []byte(entry)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			os.RemoveAll(dir)
			return 0, 0, nil, err
		}
	}
	cmd := exec.Command(py, filepath.Join(dir, "vnetml_score.py"), "--entry", filepath.Join(dir, "score.py"), "--name", spec.Service,
		"--port", "0", "--workers", strconv.Itoa(spec.Workers), "--timeout-ms", strconv.Itoa(spec.TimeoutMs),
		"--max-body-bytes", strconv.FormatInt(spec.MaxBodyBytes, 10), "--max-wait-ms", strconv.Itoa(spec.MaxWaitMs))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AZUREML_MODEL_DIR="+dir)
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return 0, 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return 0, 0, nil, err
	}
	exited := make(chan struct{})
	stop = func() {
		cmd.Process.Kill()
		<-exited
		os.RemoveAll(dir)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(exited)
	}()
	var ready struct{ Port int }
	select {
	case s := <-line:
		if err := json.Unmarshal([]byte(s), &ready); err != nil || ready.Port == 0 {
			stop()
			return 0, 0, nil, fmt.Errorf("the scoring server did not start (%q): %s", s, logs.String())
		}
	case <-ctx.Done():
		stop()
		return 0, 0, nil, ctx.Err()
	}
	return ready.Port, cmd.Process.Pid, stop, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakePlatform hands out the pod addresses the tests' network gives each
// node interface, by name. Safe for concurrent use.
type fakePlatform struct {
	mu    sync.Mutex
	given map[string]netip.Addr // nic|name → address
}

func (p *fakePlatform) PodAddress(_ context.Context, nic, name string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := strings.ToLower(nic) + "|" + name
	if a, ok := p.given[key]; ok {
		return a, nil
	}
	taken := map[netip.Addr]bool{}
	for _, a := range p.given {
		taken[a] = true
	}
	for _, a := range pods[strings.ToLower(nic)] {
		if !taken[a] {
			p.given[key] = a
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("node interface %s has no free pod address", nic)
}

func (p *fakePlatform) ReleasePodAddress(_ context.Context, nic, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.given, strings.ToLower(nic)+"|"+name)
	return nil
}

// testEnv is a fabric with the tests' network applied and a controller
// whose services run on fakeNodes.
type testEnv struct {
	fab   *userspace.Fabric
	ctl   *Controller
	nodes *fakeNodes
}

func newEnv(tb testing.TB, b backend, entry string) *testEnv {
	tb.Helper()
	fab := userspace.New(userspace.Options{})
	fab.Apply(testEngine(tb))
	n := &fakeNodes{backend: b, entry: entry, replicas: map[string]*fakeReplica{}}
	// Rounds run when a test asks (Settled), not on a timer.
	ctl := New(Config{Fabric: fab, Nodes: n, Platform: &fakePlatform{given: map[string]netip.Addr{}}, Interval: time.Hour})
	tb.Cleanup(func() {
		ctl.Close()
		n.stopAll()
		fab.Close()
	})
	return &testEnv{fab: fab, ctl: ctl, nodes: n}
}

// spec is a service of the tests' cluster.
func spec(name string) Spec {
	return Spec{ID: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/inf/providers/Microsoft.MachineLearningServices/workspaces/ws/services/" + name,
		Name: name, ClusterID: cluster, FrontEnd: frontEnd, Generation: 1, Fixed: 1, Workers: 1, MaxWaitMs: 500, TimeoutMs: 60000}
}

// deploy runs a service and waits, one round of the controller at a
// time (Settled), until it is in the state want; it returns its status.
func (e *testEnv) deploy(tb testing.TB, sp Spec, want string) Status {
	tb.Helper()
	if err := e.ctl.Upsert(sp); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		e.ctl.Settled(ctx, sp.ID)
		st, ok := e.ctl.Status(sp.ID)
		if !ok {
			tb.Fatalf("service %s does not run", sp.Name)
		}
		if st.State == want {
			return st
		}
		if ctx.Err() != nil {
			tb.Fatalf("service %s is %s (%+v), never %s", sp.Name, st.State, st.Error, want)
		}
	}
}

// dialer dials the front end's public address through the fabric as an
// outside caller at from, whatever address the URL names.
func (e *testEnv) dialer(from netip.Addr) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, err
		}
		return e.fab.Dial(ctx, fabric.Endpoint{Addr: from}, ap)
	}
}

// client is an HTTP client of a caller at from.
func (e *testEnv) client(tb testing.TB, from netip.Addr) *http.Client {
	tr := &http.Transport{DialContext: e.dialer(from), DisableCompression: true}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// scoreURL is a service's scoring URI at the front end's public address.
func scoreURL(name string) string {
	return fmt.Sprintf("http://%s:%d/api/v1/service/%s/score", publicFE, FrontEndPort, name)
}

func swaggerURL(name string) string {
	return fmt.Sprintf("http://%s:%d/api/v1/service/%s/swagger.json", publicFE, FrontEndPort, name)
}

var errPython = errors.New("python3 is not installed: the scoring server runs in it")

func havePython() error {
	if _, err := exec.LookPath("python3"); err != nil {
		return errPython
	}
	return nil
}
