package python_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/runtime/python"
)

// These tests run the scoring server (vnetml_score.py, as the node writes
// it beside a deployment's entry script) in python3 with real entry
// scripts. Entry scripts that must stay busy block on a TCP connection to
// a gate the test holds, so the test knows when run() has started and
// decides when it returns.

const within = 20 * time.Second // the deadline of every wait

// scoreLog is the replica's stderr, read while it runs.
type scoreLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *scoreLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *scoreLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// replica is one vnetml_score.py process.
type replica struct {
	url      string // http://127.0.0.1:port
	modelDir string // its AZUREML_MODEL_DIR
	pid      int
	stderr   *scoreLog
	line     string        // its first stdout line
	rest     string        // the rest of its stdout, set once it closed it
	done     chan struct{} // closed when the process has exited
	err      error         // its exit, once done
}

// launch starts the server on an entry script in a fresh directory holding
// model.txt (its AZUREML_MODEL_DIR) and waits until it printed its line or
// exited.
func launch(t *testing.T, entry string, env []string, args ...string) *replica {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the scoring server runs in it")
	}
	dir := t.TempDir()
	models := filepath.Join(dir, "models")
	for name, data := range map[string][]byte{
		"vnetml_score.py":         python.Score,
		"app/score.py":            []byte(entry),
		"models/model.txt":        []byte("model-v7\n"),
		"app/helper_for_score.py": []byte("GREETING = 'hi'\n"),
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(py, append([]string{filepath.Join(dir, "vnetml_score.py"), "--entry", filepath.Join(dir, "app", "score.py")}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AZUREML_MODEL_DIR="+models, "PYTHONDONTWRITEBYTECODE=1")
	cmd.Env = append(cmd.Env, env...)
	r := &replica{modelDir: models, stderr: &scoreLog{}, done: make(chan struct{})}
	cmd.Stderr = r.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		br := bufio.NewReader(out)
		line, _ := br.ReadString('\n')
		first <- line
		rest, _ := io.ReadAll(br)
		r.rest = string(rest)
		r.err = cmd.Wait() // after the reads, as exec requires
		close(r.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			t.Logf("replica stderr:\n%s", r.stderr)
		}
	})
	select {
	case r.line = <-first:
	case <-time.After(within):
		t.Fatalf("the replica printed nothing within %v; stderr:\n%s", within, r.stderr)
	}
	if r.line == "" {
		return r // exited without its line: the caller looks at why
	}
	var hello struct{ Port, Pid int }
	if err := json.Unmarshal([]byte(r.line), &hello); err != nil || hello.Port == 0 {
		t.Fatalf("first stdout line %q is not {\"port\": N, \"pid\": P}: %v", r.line, err)
	}
	if hello.Pid != cmd.Process.Pid {
		t.Errorf("pid %d, want %d", hello.Pid, cmd.Process.Pid)
	}
	r.url = "http://127.0.0.1:" + strconv.Itoa(hello.Port)
	r.pid = hello.Pid
	return r
}

// exited waits for the process to end and returns its exit status.
func (r *replica) exited(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(within):
		t.Fatalf("the replica did not exit within %v", within)
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return 0
}

func (r *replica) running(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
		t.Fatalf("the replica exited (%v); stderr:\n%s", r.err, r.stderr)
	default:
	}
}

// waitLog waits until the replica's stderr holds s.
func (r *replica) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(r.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("stderr has no %q within %v:\n%s", s, within, r.stderr)
		}
		select {
		case <-r.done:
			if !strings.Contains(r.stderr.String(), s) {
				t.Fatalf("the replica exited without logging %q:\n%s", s, r.stderr)
			}
		case <-time.After(10 * time.Millisecond): // poll the log: the condition has no event
		}
	}
}

type answer struct {
	status int
	body   string
	header http.Header
	took   time.Duration
}

var client = &http.Client{Timeout: within}

func (r *replica) do(t *testing.T, method, path string, body io.Reader) answer {
	t.Helper()
	a, err := r.try(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (r *replica) try(method, path string, body io.Reader) (answer, error) {
	req, err := http.NewRequest(method, r.url+path, body)
	if err != nil {
		return answer{}, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header, time.Since(start)}, err
}

func (r *replica) score(t *testing.T, body string) answer {
	t.Helper()
	return r.do(t, "POST", "/score", strings.NewReader(body))
}

// scoreAsync sends a scoring request and delivers its answer later.
func (r *replica) scoreAsync(body string) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		a, err := r.try("POST", "/score", strings.NewReader(body))
		if err != nil {
			a.status, a.body = -1, err.Error()
		}
		ch <- a
	}()
	return ch
}

func await(t *testing.T, ch <-chan answer) answer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(within):
		t.Fatalf("no answer within %v", within)
		return answer{}
	}
}

// gate is where blocking run() calls wait: each connects, names itself
// and waits for one byte.
type gate struct {
	ln    net.Listener
	calls chan gateCall
}

type gateCall struct {
	tag  string
	conn net.Conn
}

func newGate(t *testing.T) *gate {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, calls: make(chan gateCall, 16)}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				tag, _ := bufio.NewReader(c).ReadString('\n')
				g.calls <- gateCall{strings.TrimSpace(tag), c}
			}()
		}
	}()
	return g
}

// env tells the replica where the gate is.
func (g *gate) env() []string {
	return []string{"GATE_PORT=" + strconv.Itoa(g.ln.Addr().(*net.TCPAddr).Port)}
}

// arrived waits for the next run() to reach the gate.
func (g *gate) arrived(t *testing.T) gateCall {
	t.Helper()
	select {
	case c := <-g.calls:
		return c
	case <-time.After(within):
		t.Fatalf("no run() reached the gate within %v", within)
		return gateCall{}
	}
}

func (c gateCall) release(t *testing.T) {
	t.Helper()
	if _, err := c.conn.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
}

// entry is the entry script of most tests: run() takes {"op": ...}.
const entry = `
import json, os, socket, threading
from helper_for_score import GREETING

model = None
model_dir_at_init = None
lock = threading.Lock()
active = peak = 0

def init():
    global model, model_dir_at_init
    print("init prints this; it must not reach the replica's stdout")
    model_dir_at_init = os.environ.get("AZUREML_MODEL_DIR")
    with open(os.path.join(model_dir_at_init, "model.txt")) as f:
        model = f.read().strip()

def run(raw_data):
    global active, peak
    if not isinstance(raw_data, str):
        raise TypeError("raw_data is a %s, not a str" % type(raw_data).__name__)
    data = json.loads(raw_data)
    op = data.get("op")
    if op == "dict":
        return {"model": model, "model_dir": model_dir_at_init, "x": data.get("x"), "greeting": GREETING}
    if op == "list":
        return [1, "two", None]
    if op == "str":
        return "plain text"
    if op == "raw":
        return raw_data
    if op == "fail":
        raise ValueError("cannot score %r" % data.get("x"))
    if op == "peak":
        return peak
    if op == "block":
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            s = socket.create_connection(("127.0.0.1", int(os.environ["GATE_PORT"])))
            s.sendall((data["tag"] + "\n").encode())
            s.recv(1)
            s.close()
        finally:
            with lock:
                active -= 1
        return {"released": data["tag"]}
    raise KeyError(op)
`

func TestScoreHoldsTheServer(t *testing.T) {
	if !bytes.HasPrefix(python.Score, []byte(`"""vnetml_score:`)) {
		t.Fatalf("Score does not hold vnetml_score.py: %.40q", python.Score)
	}
}

func TestScoreEntryScriptContract(t *testing.T) {
	t.Parallel()
	r := launch(t, entry, nil, "--name", "svc")
	tests := []struct {
		name, path, body string
		status           int
		want             any // the decoded JSON body
	}{
		{"dict becomes an object", "/score", `{"op": "dict", "x": 3}`, 200, nil},
		{"list becomes an array", "/score", `{"op": "list"}`, 200, []any{1.0, "two", nil}},
		{"str becomes a JSON string", "/score", `{"op": "str"}`, 200, "plain text"},
		{"raw_data is the body as text", "/score", `{"op":  "raw"}`, 200, `{"op":  "raw"}`},
		{"router path passes through", "/api/v1/service/svc/score", `{"op": "str"}`, 200, "plain text"},
		{"query string ignored", "/score?verbose=1", `{"op": "list"}`, 200, []any{1.0, "two", nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := r.do(t, "POST", tt.path, strings.NewReader(tt.body))
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got any
			if err := json.Unmarshal([]byte(a.body), &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", a.body, err)
			}
			if tt.want == nil {
				return
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}

	t.Run("init saw the model directory", func(t *testing.T) {
		a := r.score(t, `{"op": "dict", "x": 3}`)
		var got map[string]any
		if err := json.Unmarshal([]byte(a.body), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"model": "model-v7", "model_dir": r.modelDir, "x": 3.0, "greeting": "hi"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("run() after init() read AZUREML_MODEL_DIR (-want +got):\n%s", d)
		}
	})

	t.Run("exception is a 500 with the traceback", func(t *testing.T) {
		a := r.score(t, `{"op": "fail", "x": 42}`)
		if a.status != 500 {
			t.Fatalf("status %d, want 500: %s", a.status, a.body)
		}
		for _, s := range []string{"Traceback (most recent call last)", "ValueError: cannot score 42", `in run`} {
			if !strings.Contains(a.body, s) {
				t.Errorf("body lacks %q:\n%s", s, a.body)
			}
		}
		if strings.Contains(a.body, "_work") {
			t.Errorf("the traceback shows the server's own frame:\n%s", a.body)
		}
		r.waitLog(t, "ValueError: cannot score 42")
		if a := r.score(t, `{"op": "str"}`); a.status != 200 {
			t.Errorf("after a failed run(): %d %s", a.status, a.body)
		}
	})

	t.Run("liveness", func(t *testing.T) {
		for _, p := range []string{"/", "/api/v1/service/svc/"} {
			if a := r.do(t, "GET", p, nil); a.status != 200 || a.body != "Healthy" {
				t.Errorf("GET %s: %d %q, want 200 Healthy", p, a.status, a.body)
			}
		}
	})

	t.Run("wrong routes and methods", func(t *testing.T) {
		for _, c := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/score", 405},
			{"POST", "/", 405},
			{"GET", "/nowhere", 404},
			{"POST", "/api/v1/service/svc/nowhere", 404},
		} {
			if a := r.do(t, c.method, c.path, strings.NewReader("{}")); a.status != c.status {
				t.Errorf("%s %s: %d, want %d", c.method, c.path, a.status, c.status)
			}
		}
	})

	t.Run("one stdout line; prints go to stderr; requests logged", func(t *testing.T) {
		r.waitLog(t, "init prints this")
		r.waitLog(t, "POST /score 200")
	})

	// Stopping the replica closes stdout: nothing followed the line.
	if err := syscallTerm(r); err != nil {
		t.Fatal(err)
	}
	if code := r.exited(t); code != 0 {
		t.Errorf("SIGTERM: exit status %d, want 0", code)
	}
	if r.rest != "" {
		t.Errorf("stdout after the first line: %q", r.rest)
	}
}

func TestScoreConcurrency(t *testing.T) {
	t.Parallel()
	t.Run("requests beyond the workers wait for one", func(t *testing.T) {
		t.Parallel()
		g := newGate(t)
		r := launch(t, entry, g.env(), "--workers", "2", "--max-wait-ms", "60000")
		a := r.scoreAsync(`{"op": "block", "tag": "a"}`)
		b := r.scoreAsync(`{"op": "block", "tag": "b"}`)
		first, second := g.arrived(t), g.arrived(t) // both run() at once
		c := r.scoreAsync(`{"op": "block", "tag": "c"}`)
		first.release(t)
		third := g.arrived(t)
		if third.tag != "c" {
			t.Fatalf("third run() is %q, want c", third.tag)
		}
		second.release(t)
		third.release(t)
		for _, ch := range []<-chan answer{a, b, c} {
			if got := await(t, ch); got.status != 200 {
				t.Errorf("%d %s", got.status, got.body)
			}
		}
		if got := r.score(t, `{"op": "peak"}`); got.body != "2" {
			t.Errorf("at most %s run() calls at once, want 2", got.body)
		}
	})
	t.Run("past the wait is a 503", func(t *testing.T) {
		t.Parallel()
		g := newGate(t)
		r := launch(t, entry, g.env(), "--workers", "2", "--max-wait-ms", "150")
		a := r.scoreAsync(`{"op": "block", "tag": "a"}`)
		b := r.scoreAsync(`{"op": "block", "tag": "b"}`)
		first, second := g.arrived(t), g.arrived(t)
		got := r.score(t, `{"op": "str"}`)
		if got.status != 503 || !strings.Contains(got.body, "max_request_wait_time=150") {
			t.Errorf("a third request with both workers busy: %d %q, want 503", got.status, got.body)
		}
		if got.took < 150*time.Millisecond {
			t.Errorf("503 after %v, before the 150 ms wait", got.took)
		}
		first.release(t)
		second.release(t)
		await(t, a)
		await(t, b)
		if got := r.score(t, `{"op": "str"}`); got.status != 200 {
			t.Errorf("once a worker is free: %d %s", got.status, got.body)
		}
	})
}

func TestScoreTimeout(t *testing.T) {
	t.Parallel()
	g := newGate(t)
	r := launch(t, entry, g.env(), "--workers", "2", "--timeout-ms", "200")
	slow := r.scoreAsync(`{"op": "block", "tag": "slow"}`)
	held := g.arrived(t)
	got := await(t, slow)
	if got.status != 504 || !strings.Contains(got.body, "scoring_timeout_ms=200") {
		t.Fatalf("run() past the timeout: %d %q, want 504", got.status, got.body)
	}
	// The slow run() still holds a worker; the other one serves.
	if got := r.score(t, `{"op": "str"}`); got.status != 200 {
		t.Errorf("next request: %d %s", got.status, got.body)
	}
	held.release(t)
	r.waitLog(t, "returned 200 after")
	r.running(t)
	if got := r.score(t, `{"op": "peak"}`); got.status != 200 || got.body != "1" {
		t.Errorf("after the late return: %d %s", got.status, got.body)
	}
}

func TestScoreEntryScriptFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, entry string
		want        []string // on stderr
	}{
		{"init raises", "def init():\n    raise RuntimeError('cannot load model from ' + 'disk')\n\ndef run(raw):\n    return raw\n",
			[]string{"Traceback (most recent call last)", "RuntimeError: cannot load model from disk", "in init", "exits with status 3"}},
		{"import fails", "import no_such_module_anywhere\n\ndef init(): pass\ndef run(raw): return raw\n",
			[]string{"Traceback (most recent call last)", "No module named 'no_such_module_anywhere'"}},
		{"syntax error", "def init(:\n", []string{"SyntaxError"}},
		{"no run", "def init():\n    pass\n", []string{"defines no run() function"}},
		{"init exits", "import sys\ndef init():\n    sys.exit(0)\ndef run(raw): return raw\n", []string{"SystemExit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := launch(t, tt.entry, nil)
			if code := r.exited(t); code != 3 {
				t.Errorf("exit status %d, want 3", code)
			}
			if r.line != "" || r.rest != "" {
				t.Errorf("stdout %q, want nothing", r.line+r.rest)
			}
			for _, s := range tt.want {
				if !strings.Contains(r.stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}

// chunked hides a body's length so that the client sends it chunked.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestScoreBodyLimit(t *testing.T) {
	t.Parallel()
	r := launch(t, entry, nil, "--max-body-bytes", "32")
	fits := `{"op": "raw", "pad": "12345678"}` // 32 bytes
	over := `{"op": "raw", "pad": "123456789"}`
	if len(fits) != 32 {
		t.Fatal(len(fits))
	}
	tests := []struct {
		name   string
		body   io.Reader
		status int
	}{
		{"at the limit", strings.NewReader(fits), 200},
		{"over the limit", strings.NewReader(over), 413},
		{"chunked at the limit", chunked{strings.NewReader(fits)}, 200},
		{"chunked over the limit", chunked{strings.NewReader(over)}, 413},
		{"chunked far over the limit", chunked{strings.NewReader(strings.Repeat("x", 1<<20))}, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := r.do(t, "POST", "/score", tt.body)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if tt.status == 200 && a.body != strconv.Quote(fits) {
				t.Errorf("body %s", a.body)
			}
			if tt.status == 413 && !strings.Contains(a.body, "limit of 32") {
				t.Errorf("body %q", a.body)
			}
		})
	}
	if a := r.score(t, `{"op": "str"}`); a.status != 200 {
		t.Errorf("after the 413s: %d %s", a.status, a.body)
	}
}

func TestScoreSwagger(t *testing.T) {
	t.Parallel()
	type schema struct {
		Type    string `json:"type"`
		Example any    `json:"example"`
	}
	type doc struct {
		Swagger  string
		BasePath string
		Info     struct{ Title string }
		Paths    map[string]map[string]struct {
			OperationID string
			Parameters  []struct{ In string }
		}
		Definitions map[string]schema
	}
	get := func(t *testing.T, r *replica, path string) doc {
		t.Helper()
		a := r.do(t, "GET", path, nil)
		if a.status != 200 {
			t.Fatalf("GET %s: %d %s", path, a.status, a.body)
		}
		var d doc
		if err := json.Unmarshal([]byte(a.body), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}

	withSamples := entry + `
input_sample = {"data": [[1, 2, 3]], "method": "predict"}
output_sample = [0.25]
`
	r := launch(t, withSamples, nil, "--name", "diabetes")
	d := get(t, r, "/swagger.json")
	if d.Swagger != "2.0" || d.Info.Title != "diabetes" || d.BasePath != "/" {
		t.Errorf("swagger %q title %q basePath %q", d.Swagger, d.Info.Title, d.BasePath)
	}
	if op := d.Paths["/score"]["post"]; op.OperationID == "" || len(op.Parameters) != 1 || op.Parameters[0].In != "body" {
		t.Errorf("/score post: %+v", op)
	}
	if _, ok := d.Paths["/"]["get"]; !ok {
		t.Error("no GET /")
	}
	want := map[string]schema{
		"ServiceInput":  {"object", map[string]any{"data": []any{[]any{1.0, 2.0, 3.0}}, "method": "predict"}},
		"ServiceOutput": {"array", []any{0.25}},
	}
	for name, w := range want {
		if diff := cmp.Diff(w, d.Definitions[name]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if d := get(t, r, "/api/v1/service/diabetes/swagger.json"); d.BasePath != "/api/v1/service/diabetes" {
		t.Errorf("through the router: basePath %q", d.BasePath)
	}

	r = launch(t, entry, nil)
	d = get(t, r, "/swagger.json")
	if in := d.Definitions["ServiceInput"]; in.Example != nil {
		t.Errorf("no input_sample, yet an example: %+v", in)
	}
	if _, ok := d.Paths["/score"]; !ok {
		t.Error("no /score without samples")
	}
}

func syscallTerm(r *replica) error {
	p, err := os.FindProcess(r.pid)
	if err != nil {
		return err
	}
	return p.Signal(syscall.SIGTERM)
}
