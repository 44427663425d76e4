//go:build unix

package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/replica"
	"github.com/vnetml/vnetml/internal/storageauth"
)

// These tests run real agents that run vnetml_score.py in python3 with
// small entry scripts, whose model files come from the blob store over
// TLS through the fabric's egress proxy.

// replicaAgent starts a node's agent for replica tests, with a short
// grace period and restart backoff, and checks when the test ends that it
// exits cleanly (66 is a data race).
func replicaAgent(t *testing.T, env ...string) *Agent {
	t.Helper()
	replicaPath(t)
	h := newHarness(t)
	env = append([]string{"VNETML_AGENT_JOB_GRACE=300ms", "VNETML_AGENT_REPLICA_BACKOFF=10ms", leakEnv + "=secret"}, env...)
	a := h.start(h.spawner(SpawnerConfig{Command: agentCommand(t, env...)}), "node-1")
	t.Cleanup(func() {
		if a.Err() != nil {
			return // the test ended it
		}
		if err := a.Stop(context.Background()); err != nil {
			t.Errorf("stopping the agent: %v", err)
		}
		if e := exitError(t, a); e.Status != "exit status 0" {
			t.Errorf("the agent exited with %s (66 is a data race; its log ends with %q)", e.Status, e.LastLog)
		}
	})
	return a
}

// pythonDir is the directory of python3 itself.
var pythonDir = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	return filepath.Dir(strings.TrimSpace(string(out))), err
})

// replicaPath is a PATH that finds python3 itself first; it skips the
// test without python3.
func replicaPath(t *testing.T) string {
	t.Helper()
	dir, err := pythonDir()
	if err != nil {
		t.Skip("python3 is not installed")
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// scoreEntry is the entry script of most tests: init() reads the model,
// run() echoes, tells its pid and environment, or crashes on demand.
const scoreEntry = `import json, os

def init():
    global model, vocab
    d = os.environ["AZUREML_MODEL_DIR"]
    with open(os.path.join(d, "model.json")) as f:
        model = json.load(f)
    with open(os.path.join(d, "sub", "vocab.txt")) as f:
        vocab = f.read().split()
    print("init says hi", flush=True)

def run(raw_data):
    data = json.loads(raw_data)
    if data.get("crash"):
        os._exit(9)
    if data.get("env"):
        return dict(os.environ)
    return {"version": model["version"], "vocab": vocab, "echo": data, "pid": os.getpid()}
`

// testModel is the model scoreEntry loads.
func testModel(version string) map[string]string {
	return map[string]string{"model.json": `{"version": "` + version + `"}`, "sub/vocab.txt": "a b\n"}
}

// replicaSpec uploads the model's files and returns the spec of a
// replica that serves them with entry. Its PATH finds the interpreter
// itself first, not a version manager's shim, which takes its time.
func (c *testCloud) replicaSpec(id string, gen int64, e *testEgress, entry string, model map[string]string) replica.Spec {
	c.t.Helper()
	var files []replica.File
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range model {
			if !yield(k) {
				return
			}
		}
	}) {
		blob := "models/" + id + "-" + strconv.FormatInt(gen, 10) + "/" + name
		c.putBlob(snapContainer, blob, []byte(model[name]))
		files = append(files, replica.File{Name: name, URL: c.sas(snapContainer, blob, storageauth.PermRead), Account: "mystore"})
	}
	return replica.Spec{ID: id, Generation: gen, Service: "svc", Model: files, Env: map[string]string{"PATH": replicaPath(c.t)},
		Entry:   replica.Script{Name: "score.py", Content: entry},
		Workers: 2, MaxWaitMs: 1000, TimeoutMs: 10000, MaxBodyBytes: 1 << 20,
		CACert: string(c.ca.CertPEM()), Proxy: e.url, NodeAddress: testNodeAddr, PodAddress: "10.0.1.7"}
}

func startReplica(t *testing.T, a *Agent, spec replica.Spec) replica.Status {
	t.Helper()
	st, err := a.StartReplica(testCtx(t), nil, spec)
	if err != nil {
		t.Fatalf("StartReplica: %v", err)
	}
	return st
}

// waitReplica polls the agent until cond holds for the replica's status.
func waitReplica(t *testing.T, a *Agent, id, what string, cond func(replica.Status) bool) replica.Status {
	t.Helper()
	var st replica.Status
	waitFor(t, 20*time.Second, what+" (replica "+id+")", func() bool {
		var err error
		st, err = a.ReplicaStatus(testCtx(t), nil, id)
		if err != nil {
			t.Fatalf("ReplicaStatus: %v", err)
		}
		return cond(st)
	})
	return st
}

func waitRunning(t *testing.T, a *Agent, id string, restarts int) replica.Status {
	t.Helper()
	st := waitReplica(t, a, id, fmt.Sprintf("Running after %d restarts", restarts), func(st replica.Status) bool {
		if st.State == replica.Failed {
			t.Fatalf("replica %s Failed: %+v", id, st.Error)
		}
		return st.State == replica.Running && st.Restarts == restarts
	})
	if st.Port <= 0 {
		t.Fatalf("Running without a port: %+v", st)
	}
	return st
}

func waitFailed(t *testing.T, a *Agent, id string) replica.Status {
	t.Helper()
	st := waitReplica(t, a, id, "Failed", func(st replica.Status) bool { return st.State == replica.Failed })
	if st.Port != 0 || st.Error == nil {
		t.Errorf("Failed with port %d and error %+v", st.Port, st.Error)
	}
	return st
}

// score posts body to the replica's /score on its loopback port, on a
// connection of its own.
func score(t *testing.T, port int, body string) (int, []byte, error) {
	t.Helper()
	cli := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, "http://127.0.0.1:"+strconv.Itoa(port)+"/score", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// scoreJSON scores and decodes run()'s answer.
func scoreJSON(t *testing.T, port int, body string, out any) {
	t.Helper()
	code, b, err := score(t, port, body)
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST /score: %d %q, %v", code, b, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("run() answered %q: %v", b, err)
	}
}

type scored struct {
	Version string         `json:"version"`
	Vocab   []string       `json:"vocab"`
	Echo    map[string]any `json:"echo"`
	PID     int            `json:"pid"`
}

func statusCode(err error) (int, string) {
	var se *StatusError
	if !errors.As(err, &se) {
		return 0, ""
	}
	if se.Err == nil {
		return se.StatusCode, ""
	}
	return se.StatusCode, se.Err.Code
}

// A replica starts, serves run() over its model on its port, with the
// environment of the contract; the same spec again is harmless; it is
// restarted when it crashes and serves again; its logs say all of it; it
// stops, and is forgotten.
func TestReplicaServesCrashesAndStops(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := replicaAgent(t)
	ctx := testCtx(t)
	spec := c.replicaSpec("svc-1", 1, e, scoreEntry, testModel("v1"))
	spec.Env["GREETING"], spec.Env["HOME"], spec.Env["PYTHONPATH"] = "hello", "/nope", "/extra"

	st := startReplica(t, a, spec)
	if st.ID != "svc-1" || st.Generation != 1 || st.State != replica.Starting || st.Port != 0 {
		t.Errorf("StartReplica answered %+v, want generation 1 of svc-1 Starting", st)
	}
	st = waitRunning(t, a, "svc-1", 0)
	if st.Error != nil {
		t.Errorf("Running with error %+v", st.Error)
	}
	var got scored
	scoreJSON(t, st.Port, `{"data": [1, 2]}`, &got)
	if got.Version != "v1" || !slices.Equal(got.Vocab, []string{"a", "b"}) || fmt.Sprint(got.Echo["data"]) != "[1 2]" || got.PID <= 0 {
		t.Errorf("run() answered %+v", got)
	}
	if granted, _ := e.counts(storageAddr); granted == 0 {
		t.Error("the model was not downloaded through the node's egress proxy")
	}

	// The environment.
	var env map[string]string
	scoreJSON(t, st.Port, `{"env": true}`, &env)
	dir := filepath.Join(a.Dir(), replicasDir, "svc-1-1")
	for k, want := range map[string]string{
		"AZUREML_MODEL_DIR": filepath.Join(dir, modelDir), "HOME": dir, "GREETING": "hello",
		"SSL_CERT_FILE": filepath.Join(dir, caFile), "REQUESTS_CA_BUNDLE": filepath.Join(dir, caFile),
		"PYTHONUNBUFFERED": "1", "PYTHONPATH": filepath.Join(dir, libDir) + ":/extra", "NO_PROXY": "",
	} {
		if v, ok := env[k]; !ok || v != want {
			t.Errorf("the replica's %s = %q (set %v), want %q", k, v, ok, want)
		}
	}
	if env["PATH"] != spec.Env["PATH"] {
		t.Errorf("the replica's PATH = %q, want the spec's %q", env["PATH"], spec.Env["PATH"])
	}
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		if !strings.HasPrefix(env[k], "http://job:") || !strings.Contains(env[k], "@127.0.0.1:") {
			t.Errorf("the replica's %s = %q, want the node-local proxy with its credentials", k, env[k])
		}
	}
	for k := range env {
		if k == leakEnv || strings.HasPrefix(k, "VNETML_AGENT") || strings.HasPrefix(k, "GORACE") {
			t.Errorf("the replica sees the agent's %s", k)
		}
	}

	// The same spec again: its status.
	if again := startReplica(t, a, spec); again.State != replica.Running || again.Port != st.Port {
		t.Errorf("the same spec again answered %+v, want its status %+v", again, st)
	}
	if all, err := a.Replicas(ctx, nil); err != nil || len(all) != 1 || all[0].ID != "svc-1" || all[0].State != replica.Running {
		t.Errorf("Replicas = %+v, %v", all, err)
	}
	logs, err := a.ReplicaLogs(ctx, nil, "svc-1")
	if err != nil || !strings.Contains(logs, "init says hi") || !strings.Contains(logs, "invoking init()") {
		t.Errorf("logs %q, %v: want init()'s print and the server's log", logs, err)
	}

	// A crash: restarted, and it serves again.
	if code, b, err := score(t, st.Port, `{"crash": true}`); err == nil {
		t.Fatalf("a crashing run() answered %d %q", code, b)
	}
	st2 := waitRunning(t, a, "svc-1", 1)
	if st2.Error == nil || st2.Error.Code != replica.CodeCrashed || !strings.Contains(st2.Error.Message, "exited with status 9 while it served") {
		t.Errorf("status after the crash %+v (error %+v), want ReplicaCrashed", st2, st2.Error)
	}
	var got2 scored
	scoreJSON(t, st2.Port, `{"again": 1}`, &got2)
	if got2.Version != "v1" || got2.PID == got.PID {
		t.Errorf("after the restart run() answered %+v (before: pid %d)", got2, got.PID)
	}
	if !gone(got.PID) {
		t.Errorf("the crashed process %d is still there", got.PID)
	}
	logs, _ = a.ReplicaLogs(ctx, nil, "svc-1")
	if strings.Count(logs, "init says hi") != 2 || !strings.Contains(logs, "vnetml agent: the scoring server exited with status 9 while it served; it is restarted in") {
		t.Errorf("logs after the restart %q", logs)
	}

	// Stopped: gone at once, and forgotten.
	if err := a.StopReplica(ctx, nil, "svc-1"); err != nil {
		t.Fatal(err)
	}
	if !gone(got2.PID) {
		t.Errorf("the replica's process %d outlived its stop", got2.PID)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the replica directory outlived the replica: %v", err)
	}
	if _, err := a.ReplicaStatus(ctx, nil, "svc-1"); !isCode(err, 404, "ReplicaNotFound") {
		t.Errorf("status of a stopped replica: %v, want 404 ReplicaNotFound", err)
	}
	if err := a.StopReplica(ctx, nil, "svc-1"); !isCode(err, 404, "ReplicaNotFound") {
		t.Errorf("stopping it again: %v, want 404 ReplicaNotFound", err)
	}
	if _, err := a.ReplicaLogs(ctx, nil, "svc-1"); !isCode(err, 404, "ReplicaNotFound") {
		t.Errorf("its logs: %v, want 404 ReplicaNotFound", err)
	}
	if all, err := a.Replicas(ctx, nil); err != nil || all == nil || len(all) != 0 {
		t.Errorf("Replicas = %#v, %v; want an empty list", all, err)
	}
}

func isCode(err error, status int, code string) bool {
	s, c := statusCode(err)
	return s == status && c == code
}

// An entry script that cannot start fails the replica with its traceback,
// in the status and in the logs.
func TestReplicaInitFails(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := replicaAgent(t)
	cases := []struct {
		name, entry string
		want        []string
	}{
		{"init raises", "def init():\n    raise ValueError('no model here')\n\ndef run(raw):\n    return raw\n",
			[]string{"its init() raised", "exited with status 3", "Traceback (most recent call last)", `score.py", line 2, in init`, "ValueError: no model here"}},
		{"no run", "def init():\n    pass\n", []string{"exited with status 3", "defines no run() function"}},
		{"syntax error", "def init(:\n", []string{"exited with status 3", "SyntaxError"}},
		{"exits in init", "import os\n\ndef init():\n    os._exit(5)\n\ndef run(raw):\n    return raw\n",
			[]string{"the scoring server exited with status 5 before it was ready"}},
	}
	id := func(name string) string { return strings.ReplaceAll(name, " ", "-") }
	for _, tc := range cases { // all at once: a node serves any number of replicas
		startReplica(t, a, c.replicaSpec(id(tc.name), 1, e, tc.entry, nil))
	}
	for _, tc := range cases {
		id := id(tc.name)
		st := waitFailed(t, a, id)
		if st.Error.Code != replica.CodeInitFailed {
			t.Errorf("%s: %+v, want InitFailed", tc.name, st.Error)
			continue
		}
		logs, err := a.ReplicaLogs(testCtx(t), nil, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(st.Error.Message, w) {
				t.Errorf("%s: message %q does not say %q", tc.name, st.Error.Message, w)
			}
			if !strings.Contains(logs, w) {
				t.Errorf("%s: logs %q do not say %q", tc.name, logs, w)
			}
		}
		if _, err := os.Stat(filepath.Join(a.Dir(), replicasDir, id+"-1")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the directory of a Failed replica is still there: %v", tc.name, err)
		}
	}
}

// An init() that never returns fails the replica at the agent's init
// timeout, and its process is killed.
func TestReplicaInitTimeout(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	a := replicaAgent(t, "VNETML_AGENT_REPLICA_INIT_TIMEOUT=1s")
	tmp := t.TempDir()
	spec := c.replicaSpec("slow", 1, c.egress(), `import os, time

def init():
    with open(os.path.join(os.environ["TESTDIR"], "pid.tmp"), "w") as f:
        f.write(str(os.getpid()))
    os.rename(os.path.join(os.environ["TESTDIR"], "pid.tmp"), os.path.join(os.environ["TESTDIR"], "pid"))
    time.sleep(3600)

def run(raw):
    return raw
`, nil)
	spec.Env["TESTDIR"] = tmp
	startReplica(t, a, spec)
	st := waitFailed(t, a, "slow")
	if st.Error.Code != replica.CodeInitFailed || !strings.Contains(st.Error.Message, "init() of the entry script score.py did not return within 1s") {
		t.Errorf("error %+v, want InitFailed: did not return within 1s", st.Error)
	}
	b, err := os.ReadFile(filepath.Join(tmp, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(b))
	if pid <= 0 || !gone(pid) {
		t.Errorf("the process %d of a timed-out init() is still there", pid)
	}
}

// A model file the network does not let the node fetch fails the replica
// with the refusal explained, as a job's snapshot.
func TestReplicaModelRefused(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	a := replicaAgent(t)
	const prefix = "node 10.0.0.5 could not download model file model.json from storage account mystore "
	cases := []struct {
		name, message string
		exact         bool
		setup         func(e *testEgress, s *replica.Spec)
	}{
		{"denied by the network rules", prefix + "(198.18.1.4:443): " + deniedRule, true,
			func(e *testEgress, _ *replica.Spec) { e.setDeny(storageAddr, true) }},
		{"refused by the storage firewall", prefix + "(mystore.blob.core.windows.net:443): the storage account's firewall refused it: AuthorizationFailure: ", false,
			func(*testEgress, *replica.Spec) { c.firewall.Store(true) }},
		{"missing", prefix + "(mystore.blob.core.windows.net:443): BlobNotFound", false,
			func(_ *testEgress, s *replica.Spec) {
				s.Model[0].URL = c.sas(snapContainer, "models/nothing.json", storageauth.PermRead)
			}},
	}
	for i, tc := range cases {
		// One at a time: the firewall is the account's.
		e := c.egress()
		id := "m" + strconv.Itoa(i)
		spec := c.replicaSpec(id, 1, e, scoreEntry, testModel("v1"))
		tc.setup(e, &spec)
		startReplica(t, a, spec)
		st := waitFailed(t, a, id)
		c.firewall.Store(false)
		if st.Error.Code != replica.CodeModel {
			t.Errorf("%s: %+v, want ModelDownload", tc.name, st.Error)
			continue
		}
		if got := st.Error.Message; tc.exact && got != tc.message || !tc.exact && !strings.HasPrefix(got, tc.message) {
			t.Errorf("%s: message\n%q, want\n%q", tc.name, got, tc.message)
		}
		if logs, _ := a.ReplicaLogs(testCtx(t), nil, id); !strings.Contains(logs, st.Error.Message) {
			t.Errorf("%s: logs %q do not say why", tc.name, logs)
		}
	}
}

// A replica that keeps crashing is Failed with CrashLoop after its sixth
// crash within ten minutes.
func TestReplicaCrashLoop(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	a := replicaAgent(t)
	startReplica(t, a, c.replicaSpec("loop", 1, c.egress(), scoreEntry, testModel("v1")))
	for i := range crashLoopCrashes + 1 {
		st := waitRunning(t, a, "loop", i)
		if _, _, err := score(t, st.Port, `{"crash": true}`); err == nil {
			t.Fatalf("crash %d: run() answered", i+1)
		}
	}
	st := waitFailed(t, a, "loop")
	if st.Restarts != crashLoopCrashes || st.Error.Code != replica.CodeCrashLoop ||
		!strings.Contains(st.Error.Message, "crashed 6 times within 10m0s, and is not restarted any more") ||
		!strings.Contains(st.Error.Message, "exited with status 9") {
		t.Errorf("status %+v (error %+v), want Failed, CrashLoop, %d restarts", st, st.Error, crashLoopCrashes)
	}
}

// A new generation replaces the replica: the old process stops, the new
// one serves the new model and script. An older generation is refused.
func TestReplicaRedeploy(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := replicaAgent(t)
	ctx := testCtx(t)
	startReplica(t, a, c.replicaSpec("svc", 1, e, scoreEntry, testModel("v1")))
	st := waitRunning(t, a, "svc", 0)
	var v1 scored
	scoreJSON(t, st.Port, `{}`, &v1)

	entry2 := strings.Replace(scoreEntry, `"version": model["version"]`, `"version": model["version"] + "-script2"`, 1)
	st = startReplica(t, a, c.replicaSpec("svc", 2, e, entry2, testModel("v2")))
	if st.Generation != 2 || st.State != replica.Starting {
		t.Errorf("generation 2 answered %+v, want Starting", st)
	}
	st = waitRunning(t, a, "svc", 0)
	var v2 scored
	scoreJSON(t, st.Port, `{}`, &v2)
	if st.Generation != 2 || v2.Version != "v2-script2" {
		t.Errorf("generation 2: %+v serves %+v", st, v2)
	}
	if !gone(v1.PID) {
		t.Errorf("generation 1's process %d outlived its replacement", v1.PID)
	}
	if _, err := os.Stat(filepath.Join(a.Dir(), replicasDir, "svc-1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("generation 1's directory is still there: %v", err)
	}
	if _, err := a.StartReplica(ctx, nil, c.replicaSpec("svc", 1, e, scoreEntry, testModel("v1"))); !isCode(err, 409, "StaleReplicaGeneration") {
		t.Errorf("generation 1 again: %v, want 409 StaleReplicaGeneration", err)
	}
	if all, err := a.Replicas(ctx, nil); err != nil || len(all) != 1 || all[0].Generation != 2 {
		t.Errorf("Replicas = %+v, %v", all, err)
	}
}

// A spec the agent cannot serve is refused with everything that is wrong.
func TestReplicaBadSpec(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	a := replicaAgent(t)
	s := c.replicaSpec("ok", 1, c.egress(), scoreEntry, testModel("v1"))
	s.ID = "../x"
	s.Generation = 0
	s.Model = append(s.Model, replica.File{Name: "../up", URL: s.Model[0].URL}, replica.File{Name: "model.json/x", URL: "http://" + storageHost + "/c/b"})
	s.Entry = replica.Script{Name: "/abs/score.txt"}
	s.Workers, s.TimeoutMs, s.MaxWaitMs, s.MaxBodyBytes = 0, 0, -1, 0
	s.CACert = ""
	s.Proxy = "socks5://x:1"
	s.Env = map[string]string{"A=B": "c"}
	_, err := a.StartReplica(testCtx(t), nil, s)
	if !isCode(err, 400, replica.CodeInvalidSpec) {
		t.Fatalf("%v, want 400 %s", err, replica.CodeInvalidSpec)
	}
	var se *StatusError
	errors.As(err, &se)
	for _, want := range []string{`id "../x"`, "generation 0", `model[2].name "../up"`, `model[3].url`, `"model.json" is a file`,
		"entry.name", "entry.content", "env:", "workers 0", "maxWaitMs -1", "timeoutMs 0", "maxBodyBytes 0", "caCert", "proxy"} {
		if !strings.Contains(se.Err.Message, want) {
			t.Errorf("the refusal %q does not say %s", se.Err.Message, want)
		}
	}
	// Without the node secret, nothing.
	stranger := &Agent{NodeID: a.NodeID, Management: a.Management, Control: a.Control, Secret: testSecret}
	if _, err := stranger.Replicas(testCtx(t), nil); !isCode(err, 401, "Unauthorized") {
		t.Errorf("without the secret: %v, want 401", err)
	}
}

// No process of a replica outlives its agent, stopped or killed: neither
// the scoring server nor what its entry script started.
func TestReplicaDiesWithItsAgent(t *testing.T) {
	t.Parallel()
	const entry = `import os, subprocess

def init():
    global child
    child = subprocess.Popen(["sleep", "60"])

def run(raw):
    return {"pid": os.getpid(), "child": child.pid}
`
	start := func(t *testing.T) (a *Agent, server, child int) {
		c := newTestCloud(t)
		a = replicaAgent(t)
		startReplica(t, a, c.replicaSpec("svc", 1, c.egress(), entry, nil))
		st := waitRunning(t, a, "svc", 0)
		var pids struct{ PID, Child int }
		scoreJSON(t, st.Port, `{}`, &pids)
		t.Cleanup(func() { // should the test fail
			syscall.Kill(pids.Child, syscall.SIGKILL)
			syscall.Kill(pids.PID, syscall.SIGKILL)
		})
		return a, pids.PID, pids.Child
	}
	t.Run("stopped", func(t *testing.T) {
		t.Parallel()
		a, server, child := start(t)
		if err := a.Stop(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		waitGone(t, server, 5*time.Second)
		waitGone(t, child, 5*time.Second)
	})
	t.Run("killed", func(t *testing.T) {
		t.Parallel()
		a, server, child := start(t)
		if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitDone(t, a, 5*time.Second)
		waitGone(t, server, 5*time.Second)
		waitGone(t, child, 5*time.Second)
	})
}

// The log keeps the last bytes written, whole lines first.
func TestLogRing(t *testing.T) {
	l := &logRing{max: 10}
	for _, s := range []string{"ab\n", "cd\n", "efgh\n", "ij\n"} {
		io.WriteString(l, s)
	}
	if got := string(l.text()); got != "efgh\nij\n" {
		t.Errorf("text %q", got)
	}
	if b, cut := l.since(3, 100); string(b) != "d\nefgh\nij\n" || !cut {
		t.Errorf("since 3: %q %v", b, cut)
	}
	if b, cut := l.since(9, 100); string(b) != "h\nij\n" || cut {
		t.Errorf("since 9: %q %v", b, cut)
	}
	io.WriteString(l, strings.Repeat("x", 25))
	if got := string(l.text()); got != strings.Repeat("x", 10) || l.written() != 39 {
		t.Errorf("after a long write: %q, %d written", got, l.written())
	}
	for range 100 {
		io.WriteString(l, "0123\n")
	}
	if got := string(l.text()); got != "0123\n0123\n" || cap(l.buf) > 64 {
		t.Errorf("after many writes: %q (buffer of %d)", got, cap(l.buf))
	}
}
