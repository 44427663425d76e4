package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/daemon"
)

// The run commands against a whole server: the quickstart's network
// (examples/quickstart/network.yaml: storage and key vault behind
// firewalls that admit the compute subnet and the default client address
// 203.0.113.10) and one node of cpucluster, an agent of this test binary.

const quickstartManifest = "../../examples/quickstart/network.yaml"

// newRunServer starts a server with compute, applies the quickstart and
// creates cpucluster with one node.
func newRunServer(t *testing.T) *dataServer {
	t.Helper()
	s := startDataServer(t, daemon.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		NodeCheckInterval: 20 * time.Millisecond, RunPollInterval: 50 * time.Millisecond,
		AgentCommand: func(ctx context.Context, args ...string) *exec.Cmd {
			c := exec.CommandContext(ctx, os.Args[0], append([]string{"agent"}, args...)...)
			c.Env = append(os.Environ(), envTestAgent+"=1", "GORACE=atexit_sleep_ms=0")
			return c
		}})
	s.ok("apply", "-f", quickstartManifest)
	s.ok("compute", "create", "cpucluster", "-w", "myworkspace", "-g", "mygroup", "--vm-size", "STANDARD_D2_V2",
		"--min-nodes", "1", "--max-nodes", "1", "--subnet", "mynetwork/default")
	return s
}

// source writes a source directory.
func source(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runCmd runs `vnetml run VERB ARGS...` as the admin, with the
// workspace flags: all before ARGS, which may end in -- ARGV.
func (s *dataServer) runCmd(ws []string, verb string, args ...string) result {
	s.t.Helper()
	pre := append([]string{"run", verb, "--endpoint", s.url, "--token", s.admin}, ws...)
	return run(s.t, append(pre, args...)...)
}

// runJSON returns `run show -o json` of a run.
func (s *dataServer) runJSON(id string) api.Run {
	s.t.Helper()
	var r api.Run
	decode(s.t, s.ok("run", "show", id, "-w", "myworkspace", "-o", "json"), &r)
	return r
}

// job is a run's script: it prints, writes outputs and, where Python is,
// logs metrics to run history as the SDK's Run.log does (a batch POSTed
// with the run's token, through the node's proxy).
var job = map[string]string{
	"run.sh": `echo "hello from $AZUREML_RUN_ID attempt $AZUREML_RUN_ATTEMPT"
echo "mode=$MODE"
mkdir -p outputs/sub
printf '{"weights": [1, 2]}\n' > outputs/model.json
echo x > outputs/sub/x.txt
if command -v python3 >/dev/null 2>&1; then python3 metrics.py; fi
echo done
`,
	"metrics.py": `import json, os, urllib.request
body = json.dumps({"batchId": "b1", "metrics": [
    {"name": "accuracy", "value": 0.5, "step": 1, "time": "2026-01-01T00:00:00Z"},
    {"name": "accuracy", "value": 0.75, "step": 2, "time": "2026-01-01T00:00:01Z"},
    {"name": "note", "value": "ok", "time": "2026-01-01T00:00:02Z"}]}).encode()
req = urllib.request.Request(os.environ["AZUREML_RUN_HISTORY_URL"] + "/metrics", data=body, method="POST",
    headers={"Authorization": "Bearer " + os.environ["AZUREML_RUN_TOKEN"], "Content-Type": "application/json"})
print("metrics", urllib.request.urlopen(req).status)
`,
	".amlignore":  "*.tmp\n",
	"scratch.tmp": "left out",
}

// submit --stream follows a run to its end (status changes, the log, the
// summary); a second submit of the same directory reuses the snapshot;
// show, list, logs, metrics and download see the run.
func TestRunSubmitStreamAndInspect(t *testing.T) {
	s := newRunServer(t)
	src := source(t, job)
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	with := func(args ...string) []string { return append(args, ws...) }

	r := s.runCmd(ws, "submit", "-e", "quickstart", "--compute", "cpucluster", "--source", src, "--datastore", "workspaceblobstore",
		"--run-id", "r1", "--env", "MODE=fast", "--stream", "--poll-interval", "50ms", "--", "sh", "run.sh")
	wantOK(t, r)
	out := r.stdout
	for _, w := range []string{"Packed 3 files", "from " + src + ": snapshot ", "Uploaded the snapshot to datastore workspaceblobstore (blob container",
		"of storage account mlquickstartstore) as snapshots/", "RunId: r1\nWeb View: none\n", "] Queued\n", "] Running\n",
		"hello from r1 attempt 1\n", "mode=fast\n", "done\n", "] Completed\n",
		"\nExecution Summary\n=================\nRunId: r1\nStatus: Completed\nStarted: ", "Duration: 0:00:"} {
		if !strings.Contains(out, w) {
			t.Errorf("submit --stream does not print %q:\n%s", w, out)
		}
	}
	// In order: the run's states, its log between them, the summary.
	order := []string{"] NotStarted\n", "] Queued\n", "] Running\n", "hello from r1", "done\n", "] Completed\n", "Execution Summary"}
	at := 0
	for _, w := range order {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("%q is not after %q in:\n%s", w, out[:at], out)
		}
		at += i
	}
	if !regexp.MustCompile(`\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] Running\n`).MatchString(out) {
		t.Errorf("status lines lack their time:\n%s", out)
	}

	// The same directory again: the snapshot is reused; the run id is
	// the SDK's.
	r = s.runCmd(ws, "submit", "-e", "quickstart", "--compute", "cpucluster", "--source", src, "--datastore", "workspaceblobstore", "--", "sh", "run.sh")
	wantOK(t, r)
	if !strings.Contains(r.stdout, "is unchanged: reused from datastore workspaceblobstore") || strings.Contains(r.stdout, "Uploaded") {
		t.Errorf("the second submit did not reuse the snapshot:\n%s", r.stdout)
	}
	m := regexp.MustCompile(`RunId: (quickstart_\d+_[0-9a-f]{8})\n`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no SDK-like run id in:\n%s", r.stdout)
	}
	second := m[1]

	// show: table and JSON, found without --experiment.
	show := s.ok(with("run", "show", "r1")...)
	for _, w := range []string{"Run r1 of experiment quickstart: Completed", "command", "sh run.sh", "target", "cpucluster",
		"on workspaceblobstore", "Status", "Queued", "Completed", "exitCode", "outputs/model.json", "outputs/sub/x.txt"} {
		if !strings.Contains(show, w) {
			t.Errorf("show does not print %q:\n%s", w, show)
		}
	}
	run := s.runJSON("r1")
	if p := run.Properties; p.Status != "Completed" || p.Experiment != "quickstart" || p.EnvironmentVariables["MODE"] != "fast" ||
		!slices.Contains(p.OutputFiles, "model.json") || p.Outputs == nil {
		t.Errorf("show -o json: %+v", p)
	}

	// list: both runs, newest first; -o json; an unknown experiment.
	list := s.ok(with("run", "list")...)
	if !strings.HasPrefix(list, "RunId ") || !strings.Contains(list, "r1 ") || !strings.Contains(list, second+" ") ||
		strings.Index(list, second) > strings.Index(list, "r1 ") {
		t.Errorf("list:\n%s", list)
	}
	for _, col := range []string{"Experiment", "Status", "Compute", "Started", "Duration", "quickstart", "cpucluster"} {
		if !strings.Contains(list, col) {
			t.Errorf("list lacks %q:\n%s", col, list)
		}
	}
	var runs []api.Run
	decode(t, s.ok(with("run", "list", "-e", "quickstart", "-o", "json")...), &runs)
	if len(runs) != 2 {
		t.Errorf("list -e quickstart -o json: %d runs", len(runs))
	}
	if out := s.ok(with("run", "list", "-e", "nosuch")...); out != "No runs in experiment nosuch of workspace myworkspace (its experiments: quickstart).\n" {
		t.Errorf("list of an unknown experiment: %q", out)
	}

	// logs, whole and followed (the run has ended: it returns).
	for _, args := range [][]string{{"run", "logs", "r1"}, {"run", "logs", "r1", "-e", "quickstart", "--follow", "--poll-interval", "50ms"}} {
		logs := s.ok(with(args...)...)
		if !strings.Contains(logs, "hello from r1 attempt 1\nmode=fast\n") || !strings.Contains(logs, "done\n") {
			t.Errorf("%v:\n%s", args, logs)
		}
	}

	// metrics, where Python logged them.
	if _, err := exec.LookPath("python3"); err == nil {
		met := s.ok(with("run", "metrics", "r1")...)
		for _, w := range []string{"Name", "Step", "Value", "accuracy  1     0.5", "accuracy  2     0.75", "note", "ok"} {
			if !strings.Contains(met, w) {
				t.Errorf("metrics lacks %q:\n%s", w, met)
			}
		}
		var ms []api.RunMetric
		decode(t, s.ok(with("run", "metrics", "r1", "-o", "json")...), &ms)
		if len(ms) != 3 || ms[0].Name != "accuracy" || ms[0].Step == nil || *ms[0].Step != 1 {
			t.Errorf("metrics -o json: %+v", ms)
		}
	} else {
		t.Log("python3 is not installed: metrics not logged")
	}

	// download: every output, then one file, then one that is not there.
	dest := t.TempDir()
	dl := s.ok(with("run", "download", "r1", "--dest", dest)...)
	if !strings.Contains(dl, "Downloaded outputs/model.json") || !strings.Contains(dl, "Downloaded outputs/sub/x.txt") {
		t.Errorf("download:\n%s", dl)
	}
	wantFile(t, filepath.Join(dest, "outputs", "model.json"), []byte("{\"weights\": [1, 2]}\n"))
	wantFile(t, filepath.Join(dest, "outputs", "sub", "x.txt"), []byte("x\n"))
	one := t.TempDir()
	s.ok(with("run", "download", "r1", "--path", "outputs/model.json", "--dest", one)...)
	if ents, _ := os.ReadDir(filepath.Join(one, "outputs")); len(ents) != 1 || ents[0].Name() != "model.json" {
		t.Errorf("--path outputs/model.json wrote %v", ents)
	}
	wantFail(t, s.run(with("run", "download", "r1", "--path", "outputs/nope.bin", "--dest", one)...), exitInput,
		"(--path)", "no output outputs/nope.bin", "outputs/model.json")
	// From an address the account's firewall does not admit: refused,
	// with the rule.
	wantFail(t, s.run(with("run", "download", "r1", "--dest", one, "--client-address", "198.51.100.7")...), exitInput,
		"AuthorizationFailure", "198.51.100.7")

	// A run that is nowhere.
	wantFail(t, s.run(with("run", "show", "nosuch")...), exitInput, "(RUN_ID)", "Run nosuch was not found in workspace myworkspace", "quickstart")
	wantFail(t, s.run(with("run", "show", "nosuch", "-e", "quickstart")...), exitInput, "(RUN_ID)", "not found in experiment quickstart")
}

// The failures: a run that fails or is canceled ends --stream with exit
// 1 and its error; the default datastore, a file share behind the
// firewall, fails at Preparing with the article's advice; an upload from
// an address the firewall refuses says how to admit it; an unknown
// datastore names those there are; a run is canceled.
func TestRunSubmitFailures(t *testing.T) {
	s := newRunServer(t)
	ws := []string{"-w", "myworkspace"}
	with := func(args ...string) []string { return append(args, ws...) }
	src := source(t, map[string]string{"fail.sh": "echo boom\nexit 3\n", "sleep.sh": "echo started\nexec sleep 600\n"})
	submit := func(args ...string) result {
		t.Helper()
		return s.runCmd(ws, "submit", append([]string{"-e", "failures", "--compute", "cpucluster", "--source", src, "--poll-interval", "50ms"}, args...)...)
	}

	r := submit("--datastore", "workspaceblobstore", "--run-id", "boom", "--stream", "--", "sh", "fail.sh")
	wantFail(t, r, exitInternal, "run boom Failed: ")
	for _, w := range []string{"boom\n", "] Failed\n", "Status: Failed", "Error: "} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("a failing run's stream lacks %q:\n%s", w, r.stdout)
		}
	}

	// The SDK's default datastore: the snapshot goes up to the file
	// share (the client is admitted), and the node, in the virtual
	// network, cannot mount it.
	r = submit("--run-id", "onfiles", "--stream", "--", "sh", "fail.sh")
	wantFail(t, r, exitInternal, "run onfiles Failed", "workspaceblobstore")
	if !strings.Contains(r.stdout, "Uploaded the snapshot to datastore workspacefilestore (file share") {
		t.Errorf("the snapshot did not go to the file share:\n%s", r.stdout)
	}

	// From outside the firewall's rules.
	r = submit("--datastore", "workspaceblobstore", "--client-address", "198.51.100.7", "--", "sh", "fail.sh")
	wantFail(t, r, exitInput, "AuthorizationFailure (--client-address)", "from 198.51.100.7 was refused", "mlquickstartstore",
		"vnetml storage account update mlquickstartstore --add-ip-rule 198.51.100.7/32")

	wantFail(t, submit("--datastore", "nosuchstore", "--", "sh", "fail.sh"), exitInput,
		"NotFound (--datastore)", `Datastore "nosuchstore" was not found`, "workspaceblobstore", "workspacefilestore")

	// Cancel a running run; the stream of a canceled run exits 1.
	r = submit("--datastore", "workspaceblobstore", "--run-id", "long", "--", "sh", "sleep.sh")
	wantOK(t, r)
	s.eventually("the run to start", func(out string) bool { return strings.Contains(out, "started") }, with("run", "logs", "long")...)
	out := s.ok(with("run", "cancel", "long")...)
	if !strings.Contains(out, "long") {
		t.Errorf("cancel: %s", out)
	}
	r = s.run(with("run", "logs", "long", "--follow", "--poll-interval", "50ms")...)
	if r.code != exitOK || !strings.Contains(r.stdout, "started") {
		t.Errorf("logs --follow of a canceled run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if st := s.runJSON("long").Properties.Status; st != "Canceled" {
		t.Errorf("after cancel the run is %s", st)
	}
	if out := s.ok(with("run", "cancel", "long")...); !strings.Contains(out, "has ended already: Canceled") {
		t.Errorf("cancel of an ended run: %s", out)
	}
}
