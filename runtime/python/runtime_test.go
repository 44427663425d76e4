package python

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run the run context (vnetml_run.py, as the node writes it
// into a job's directory) in python3 against a small run history over
// HTTPS, as a job does.

const testToken = "run-token-1"

// testHistory is run history for one run: it keeps the metric batches it
// took (a batch id seen before is ignored, as the real one does) and
// fails the next metric posts on demand.
type testHistory struct {
	srv *httptest.Server
	ca  string // the PEM file of its certificate: the job's SSL_CERT_FILE

	mu       sync.Mutex
	batches  map[string][]json.RawMessage
	metrics  []string // names, in the order taken
	posts    []string // the batch id of every metrics post
	failNext int      // metric posts still to answer 503
}

func newTestHistory(t *testing.T) *testHistory {
	t.Helper()
	h := &testHistory{batches: map[string][]json.RawMessage{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /h/metrics", h.postMetrics)
	mux.HandleFunc("GET /h/secrets/{name}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"name": r.PathValue("name"), "value": "s3"})
	})
	h.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			writeJSON(w, http.StatusUnauthorized, errorBody("Unauthorized", "wrong token"))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	h.ca = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(h.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (h *testHistory) postMetrics(w http.ResponseWriter, r *http.Request) {
	var b struct {
		BatchID string            `json:"batchId"`
		Metrics []json.RawMessage `json:"metrics"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.BatchID == "" {
		// Run history's answer to a body that is not JSON (NaN is not).
		writeJSON(w, http.StatusBadRequest, errorBody("InvalidRequest", "The request body is not valid JSON for this request"))
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.posts = append(h.posts, b.BatchID)
	if h.failNext > 0 {
		h.failNext--
		writeJSON(w, http.StatusServiceUnavailable, errorBody("ServiceUnavailable", "try again"))
		return
	}
	if _, seen := h.batches[b.BatchID]; !seen {
		h.batches[b.BatchID] = b.Metrics
		for _, m := range b.Metrics {
			var mm struct{ Name string }
			json.Unmarshal(m, &mm)
			h.metrics = append(h.metrics, mm.Name)
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"accepted": len(b.Metrics)})
}

func (h *testHistory) taken() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.metrics...)
}

// job is a python3 process running a script with the run context on its
// PYTHONPATH and a job's environment.
type job struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	done   chan struct{}
	runErr error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startJob starts script; env adds to the job's environment.
func startJob(t *testing.T, h *testHistory, script string, env ...string) *job {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	lib := t.TempDir()
	if err := os.CopyFS(lib, Lib); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, py, "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir, "PYTHONPATH=" + lib, "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1",
		"AZUREML_RUN_ID=r1", "AZUREML_EXPERIMENT_NAME=e", "AZUREML_RUN_HISTORY_URL=" + h.srv.URL + "/h",
		"AZUREML_RUN_TOKEN=" + testToken, "SSL_CERT_FILE=" + h.ca,
	}, env...)
	j := &job{cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = j.out, j.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		j.runErr = cmd.Wait()
		close(j.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-j.done
	})
	return j
}

// wait waits for the job to exit and returns its output.
func (j *job) wait(t *testing.T) (string, error) {
	t.Helper()
	select {
	case <-j.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the job did not exit; it wrote:\n%s", j.out)
	}
	return j.out.String(), j.runErr
}

func runJob(t *testing.T, h *testHistory, script string, env ...string) string {
	t.Helper()
	out, err := startJob(t, h, script, env...).wait(t)
	if err != nil {
		t.Fatalf("the job failed: %v\n%s", err, out)
	}
	return out
}

// waitFor waits until cond holds, for at most within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

// The embedded library is what the node writes: vnetml_run and the
// azureml.core shim.
func TestLibHoldsTheRunContext(t *testing.T) {
	for _, name := range []string{"vnetml_run.py", "azureml/__init__.py", "azureml/core/__init__.py"} {
		if _, err := fs.Stat(Lib, name); err != nil {
			t.Errorf("Lib lacks %s: %v", name, err)
		}
	}
}

// The run context logs, flushes and reads secrets, over HTTPS with the
// deployment CA only; azureml.core.Run is the same.
func TestRunContext(t *testing.T) {
	h := newTestHistory(t)
	out := runJob(t, h, `
from azureml.core import Run
run = Run.get_context()
run.log("accuracy", 0.5)
run.log_list("loss", [0.9, 0.5])
run.log("done", True)
run.flush()
print("secret", run.get_secret("db-password"))
`)
	if !strings.Contains(out, "secret s3\n") {
		t.Errorf("get_secret: %q", out)
	}
	if got, want := strings.Join(h.taken(), ","), "accuracy,loss,loss,done"; got != want {
		t.Errorf("metrics %s, want %s", got, want)
	}
}

// Through the node's proxy (HTTPS_PROXY with its credentials), as a job
// reaches run history: CONNECT with Proxy-Authorization, then TLS.
func TestRunContextThroughProxy(t *testing.T) {
	h := newTestHistory(t)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("job:pw"))
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get("Proxy-Authorization") != auth {
			http.Error(w, "credentials, and CONNECT", http.StatusProxyAuthRequired)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		pending, _ := brw.Reader.Peek(brw.Reader.Buffered())
		up.Write(pending)
		wg.Go(func() {
			io.Copy(c, up)
			c.Close()
		})
		io.Copy(up, c)
		up.Close()
	}))
	t.Cleanup(proxy.Close)
	pu := strings.Replace(proxy.URL, "http://", "http://job:pw@", 1)
	out := runJob(t, h, `
from vnetml_run import Run
run = Run.get_context()
run.log("accuracy", 0.5)
run.flush()
print("secret", run.get_secret("db-password"))
`, "HTTPS_PROXY="+pu, "https_proxy="+pu)
	if !strings.Contains(out, "secret s3\n") || len(h.taken()) != 1 {
		t.Errorf("through the proxy: %q, metrics %v", out, h.taken())
	}
}

// Review 7: regression tests for problems found in review. Each fails on
// the code as reviewed.

// A CONNECT that the network refuses: the node's proxy answers 403 with
// the rule and the fix, and http.client kept only "Tunnel connection
// failed: 403 Forbidden" (after eight tries, nine seconds). RunError must
// carry the explanation, at once.
func TestReview7ProxyRefusalKeepsTheNetworksExplanation(t *testing.T) {
	h := newTestHistory(t)
	const why = "connection refused by the network rules: denied by securityRules/DenyMLOut (priority 200) of NSG ml-nsg. " +
		"Allow outbound TCP 443 to AzureMachineLearning with a rule of priority below 200"
	var connects int
	var mu sync.Mutex
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		connects++
		mu.Unlock()
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Vnetml-Denied", "1")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, why+"\n")
	}))
	t.Cleanup(proxy.Close)
	out := runJob(t, h, `
from vnetml_run import Run, RunError
try:
    Run.get_context().get_secret("db-password")
except RunError as e:
    print("RunError:", e)
`, "HTTPS_PROXY="+proxy.URL, "https_proxy="+proxy.URL)
	if !strings.Contains(out, "RunError:") || !strings.Contains(out, "403") || !strings.Contains(out, why) {
		t.Errorf("a refused CONNECT: %q; want RunError with the status and the network's explanation %q", out, why)
	}
	mu.Lock()
	defer mu.Unlock()
	if connects != 1 {
		t.Errorf("%d CONNECTs for a refusal by the network rules, want 1: the answer does not change by asking again", connects)
	}
}

// A metric logged before a long stretch without another (an epoch of an
// hour, a job killed at its time limit) stayed in the buffer until the
// script exited, though the buffer is to be sent within a second.
func TestReview7MetricSentWithoutAnotherLog(t *testing.T) {
	h := newTestHistory(t)
	gate := filepath.Join(t.TempDir(), "go")
	j := startJob(t, h, `
import os, time
from vnetml_run import Run
Run.get_context().log("accuracy", 0.5)
while not os.path.exists(os.environ["GATE"]):
    time.sleep(0.01)
`, "GATE="+gate)
	waitFor(t, 10*time.Second, "the metric in run history while the script runs", func() bool { return len(h.taken()) == 1 })
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := j.wait(t); err != nil {
		t.Fatalf("the job failed: %v\n%s", err, out)
	}
	if got := h.taken(); len(got) != 1 {
		t.Errorf("metrics %v, want accuracy once", got)
	}
}

// A NaN went into the batch as JSON's NaN, which is not JSON: run history
// refused the whole batch, losing the metrics logged with it, and the
// error came from a later, innocent call. log refuses it, saying why.
func TestReview7NaNMetricDoesNotSinkTheBatch(t *testing.T) {
	h := newTestHistory(t)
	out := runJob(t, h, `
from vnetml_run import Run
run = Run.get_context()
run.log("accuracy", 0.5)
for bad in (float("nan"), float("inf"), 10**400):
    try:
        run.log("loss", bad)
    except ValueError as e:
        print("refused:", e)
run.log("accuracy", 0.75)
run.flush()
`)
	if strings.Count(out, "refused:") != 3 || !strings.Contains(out, "finite") {
		t.Errorf("log of NaN, inf and 10**400: %q; want each refused, saying why", out)
	}
	if got, want := strings.Join(h.taken(), ","), "accuracy,accuracy"; got != want {
		t.Errorf("metrics %s, want %s", got, want)
	}
}

// A batch whose posts all failed was dropped: a flush after run history
// came back sent nothing. It is kept with its batchId and sent again, so
// that run history takes it once.
func TestReview7FailedBatchIsKeptWithItsID(t *testing.T) {
	h := newTestHistory(t)
	h.failNext = 2
	out := runJob(t, h, `
import vnetml_run
from vnetml_run import Run, RunError
vnetml_run._TRIES = 2
run = Run.get_context()
run.log("accuracy", 0.5)
try:
    run.flush()
except RunError as e:
    print("first flush:", e)
run.flush()
`)
	if !strings.Contains(out, "first flush:") || !strings.Contains(out, "ServiceUnavailable") {
		t.Errorf("the first flush: %q; want a RunError with run history's answer", out)
	}
	if got := h.taken(); len(got) != 1 || got[0] != "accuracy" {
		t.Errorf("metrics %v, want accuracy once", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range h.posts {
		if id != h.posts[0] {
			t.Errorf("posts of one batch carried ids %v: a retry must keep the batch's id", h.posts)
			break
		}
	}
}
