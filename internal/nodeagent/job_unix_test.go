//go:build unix

package nodeagent

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/storageauth"
)

// leakEnv is in the agent's environment; no job may see it.
const leakEnv = "VNETML_TEST_SERVER_SETTING"

// jobAgent starts a node's agent for job tests, with a short grace period
// for jobs, and checks when the test ends that it exits cleanly (a data
// race in the agent process would make it exit 66).
func jobAgent(t *testing.T) *Agent {
	t.Helper()
	h := newHarness(t)
	sp := h.spawner(SpawnerConfig{Command: agentCommand(t, "VNETML_AGENT_JOB_GRACE=300ms", leakEnv+"=secret")})
	a := h.start(sp, "node-1")
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

func submit(t *testing.T, a *Agent, spec job.Spec) job.Status {
	t.Helper()
	st, err := a.SubmitJob(testCtx(t), nil, spec)
	if err != nil {
		t.Fatalf("SubmitJob: %v", err)
	}
	return st
}

// waitJob polls the agent until cond holds for the run's status.
func waitJob(t *testing.T, a *Agent, runID, what string, cond func(job.Status) bool) job.Status {
	t.Helper()
	var st job.Status
	waitFor(t, 20*time.Second, what+" (run "+runID+")", func() bool {
		var err error
		st, err = a.JobStatus(testCtx(t), nil, runID)
		if err != nil {
			t.Fatalf("JobStatus: %v", err)
		}
		return cond(st)
	})
	return st
}

// waitReported waits until the attempt is over and run history has it all.
func waitReported(t *testing.T, a *Agent, runID string) job.Status {
	t.Helper()
	return waitJob(t, a, runID, "the attempt reported", func(st job.Status) bool { return job.Terminal(st.State) && st.Reported })
}

// python returns the interpreter's own path (not a version manager's
// shim), or skips.
func python(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skip("python3 is not installed")
	}
	return strings.TrimSpace(string(out))
}

func errCode(st job.Status) string {
	if st.Error == nil {
		return ""
	}
	return st.Error.Code
}

// A job that prints and exits 0: its log reaches run history exactly,
// its outputs and log are uploaded, it is Completed; it ran with the
// environment of the contract and nothing of the agent's; its HTTPS
// request left through the node-local proxy with the deployment CA. A
// second run of the same snapshot downloads nothing.
func TestJobCompletes(t *testing.T) {
	t.Parallel()
	py := python(t)
	c := newTestCloud(t)
	e := c.egress()
	a := jobAgent(t)
	tmp := t.TempDir()
	c.putBlob(artContainer, "probe.txt", []byte("probe-ok"))
	snap := c.putSnapshot(map[string]string{"data/input.txt": "input line\n"})

	script := `echo "out 1"
echo "err 1" >&2
cat data/input.txt
mkdir -p outputs/sub
echo result > outputs/a.txt
printf x > "outputs/sub/b c.txt"
env > "$TESTDIR/env.txt"
"$PY" -c 'import os, urllib.request; print(urllib.request.urlopen(os.environ["PROBE"]).read().decode())'
echo "out 2"`
	spec := c.spec("run-1", snap, e, script)
	spec.Env = map[string]string{"TESTDIR": tmp, "PY": py, "PROBE": c.sas(artContainer, "probe.txt", storageauth.PermRead), "HOME": "/nope"}
	st := submit(t, a, spec)
	if st.RunID != "run-1" || st.Attempt != 1 || st.State != job.Preparing {
		t.Errorf("submit answered %+v, want attempt 1 of run-1 Preparing", st)
	}
	st = waitReported(t, a, "run-1")
	if st.State != job.Completed || st.Error != nil || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("status %+v (error %+v), want Completed with exit 0; run history has %q", st, st.Error, c.hist.logOf("run-1"))
	}
	const wantLog = "out 1\nerr 1\ninput line\nprobe-ok\nout 2\n"
	if got := c.hist.logOf("run-1"); got != wantLog {
		t.Errorf("run history's log = %q, want %q", got, wantLog)
	}
	if st.LogLength != int64(len(wantLog)) {
		t.Errorf("LogLength %d, want %d", st.LogLength, len(wantLog))
	}
	if d := cmp.Diff([]string{job.Preparing, job.Running, job.Finalizing, job.Completed}, c.hist.states("run-1")); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	evs := c.hist.eventsOf("run-1")
	last := evs[len(evs)-1]
	if d := cmp.Diff([]string{"a.txt", "sub/b c.txt"}, last.Outputs); d != "" || last.ExitCode == nil || *last.ExitCode != 0 || last.NodeID != "node-1" || last.Attempt != 1 {
		t.Errorf("terminal event %+v; outputs (-want +got):\n%s", last, d)
	}
	prefix := "ExperimentRun/dcid.run-1/"
	for name, want := range map[string]string{"outputs/a.txt": "result\n", "outputs/sub/b c.txt": "x", job.DriverLog: wantLog} {
		if got, ok := c.blob(artContainer, prefix+name); !ok || got != want {
			t.Errorf("blob %s = %q (exists %v), want %q", prefix+name, got, ok, want)
		}
	}

	// The environment.
	b, err := os.ReadFile(filepath.Join(tmp, "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	jobDir := filepath.Join(a.Dir(), jobsDir, "run-1-1")
	for k, want := range map[string]string{
		job.EnvRunID: "run-1", job.EnvExperiment: "exp", job.EnvAttempt: "1", job.EnvHistory: spec.History,
		job.EnvToken: testToken, job.EnvArtifactsURL: spec.Artifacts.URL, job.EnvArtifactsPrefix: prefix, job.EnvNodeID: "node-1",
		"HOME": jobDir, "SSL_CERT_FILE": filepath.Join(jobDir, caFile), "REQUESTS_CA_BUNDLE": filepath.Join(jobDir, caFile),
		"PYTHONUNBUFFERED": "1", "NO_PROXY": "", "no_proxy": "", "TESTDIR": tmp, "PATH": os.Getenv("PATH"),
	} {
		if got, ok := env[k]; !ok || got != want {
			t.Errorf("the job's %s = %q (set %v), want %q", k, got, ok, want)
		}
	}
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		if !strings.HasPrefix(env[k], "http://job:") || !strings.Contains(env[k], "@127.0.0.1:") {
			t.Errorf("the job's %s = %q, want the node-local proxy with its credentials", k, env[k])
		}
	}
	for k := range env {
		if k == leakEnv || strings.HasPrefix(k, "VNETML_AGENT") || strings.HasPrefix(k, "GORACE") {
			t.Errorf("the job sees the agent's %s", k)
		}
	}
	// Reported: the job directory is gone, the snapshot is cached.
	waitFor(t, 10*time.Second, "the job directory removed once reported", func() bool {
		_, err := os.Stat(jobDir)
		return errors.Is(err, os.ErrNotExist)
	})
	if n := c.snapshotGets.Load(); n != 1 {
		t.Errorf("%d snapshot downloads, want 1", n)
	}

	// Another run of the same snapshot downloads nothing.
	submit(t, a, c.spec("run-2", snap, e, "cat data/input.txt"))
	if st := waitReported(t, a, "run-2"); st.State != job.Completed {
		t.Fatalf("run-2: %+v (%+v)", st, st.Error)
	}
	if got := c.hist.logOf("run-2"); got != "input line\n" {
		t.Errorf("run-2's log %q", got)
	}
	if n := c.snapshotGets.Load(); n != 1 {
		t.Errorf("%d snapshot downloads after a second run of the same snapshot, want 1", n)
	}
}

// A command that fails: Failed, UserError, its status and the end of its
// log; outputs and log are uploaded all the same.
func TestJobFails(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := jobAgent(t)
	snap := c.putSnapshot(map[string]string{"x": "x"})
	submit(t, a, c.spec("run-f", snap, e, `mkdir outputs; echo partial > outputs/p.txt; i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); done; exit 3`))
	st := waitReported(t, a, "run-f")
	if st.State != job.Failed || errCode(st) != job.CodeUserError || st.ExitCode == nil || *st.ExitCode != 3 {
		t.Fatalf("status %+v (%+v), want Failed, UserError, exit 3", st, st.Error)
	}
	var lines []string
	for i := 11; i <= 30; i++ {
		lines = append(lines, "line "+strconv.Itoa(i))
	}
	want := "the command exited with status 3; the end of its log:\n" + strings.Join(lines, "\n")
	if st.Error.Message != want {
		t.Errorf("message %q,\nwant %q", st.Error.Message, want)
	}
	if _, ok := c.blob(artContainer, "ExperimentRun/dcid.run-f/outputs/p.txt"); !ok {
		t.Error("the outputs of a failed run were not uploaded")
	}
	if got, _ := c.blob(artContainer, "ExperimentRun/dcid.run-f/"+job.DriverLog); !strings.HasSuffix(got, "line 30\n") {
		t.Errorf("uploaded driver log %q", got)
	}
	evs := c.hist.eventsOf("run-f")
	if last := evs[len(evs)-1]; last.State != job.Failed || last.Error == nil || last.Error.Message != want {
		t.Errorf("terminal event %+v", last)
	}

	// A command that does not exist is the user's error, and named.
	submit(t, a, func() job.Spec {
		s := c.spec("run-nx", snap, e, "")
		s.Argv = []string{"no-such-command-xyz", "arg"}
		return s
	}())
	st = waitReported(t, a, "run-nx")
	if st.State != job.Failed || errCode(st) != job.CodeUserError || !strings.Contains(st.Error.Message, `"no-such-command-xyz" was not found`) {
		t.Errorf("status %+v (%+v), want Failed, UserError, naming the command", st, st.Error)
	}
}

// Every way the snapshot cannot be had is explained: what, from where, to
// what, why.
func TestJobSnapshotFailures(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	a := jobAgent(t)
	snap := c.putSnapshot(map[string]string{"x": "x"})
	const prefix = "Preparing failed: node 10.0.0.5 could not download the snapshot from storage account mystore "

	cases := []struct {
		name     string
		setup    func(e *testEgress, s *job.Spec)
		code     string
		message  string // exact, or a prefix with prefixOnly
		contains bool
	}{
		{"denied by the network rules", func(e *testEgress, _ *job.Spec) { e.setDeny(storageAddr, true) },
			job.CodeNetwork, prefix + "(198.18.1.4:443): " + deniedRule, false},
		{"refused by the storage firewall", func(*testEgress, *job.Spec) { c.firewall.Store(true) },
			job.CodeNetwork, prefix + "(mystore.blob.core.windows.net:443): the storage account's firewall refused it: AuthorizationFailure: " +
				"This request is not authorized to perform this operation. The firewall of storage account mystore refused the request from 10.0.0.5: networkAcls.defaultAction is Deny. (networkAcls)", false},
		{"missing", func(_ *testEgress, s *job.Spec) {
			s.Snapshot.URL = c.sas(snapContainer, "snapshots/nothing.tar.gz", storageauth.PermRead)
		}, job.CodeSnapshot, prefix + "(mystore.blob.core.windows.net:443): BlobNotFound", true},
		{"hash mismatch", func(_ *testEgress, s *job.Spec) { s.Snapshot.SHA256 = sha([]byte("another")) },
			job.CodeSnapshot, "Preparing failed: the snapshot node 10.0.0.5 downloaded from storage account mystore (mystore.blob.core.windows.net:443) is not the run's: its SHA-256 is " + snap.sha, true},
	}
	for i, tc := range cases {
		// One at a time: the node runs one attempt at a time, and the
		// firewall is the account's.
		e := c.egress()
		run := "run-s" + strconv.Itoa(i)
		spec := c.spec(run, snap, e, "echo never")
		tc.setup(e, &spec)
		submit(t, a, spec)
		st := waitReported(t, a, run)
		c.firewall.Store(false)
		if st.State != job.Failed || errCode(st) != tc.code {
			t.Errorf("%s: %+v (%+v), want Failed with %s", tc.name, st, st.Error, tc.code)
			continue
		}
		if got := st.Error.Message; tc.contains && !strings.HasPrefix(got, tc.message) || !tc.contains && got != tc.message {
			t.Errorf("%s: message\n%q, want\n%q", tc.name, got, tc.message)
		}
		if d := cmp.Diff([]string{job.Preparing, job.Failed}, c.hist.states(run)); d != "" {
			t.Errorf("%s: events (-want +got):\n%s", tc.name, d)
		}
		if c.hist.logOf(run) != "" {
			t.Errorf("%s: a log for a command that never ran", tc.name)
		}
	}
}

// Past its maximum duration the job is stopped and the run fails with
// RunTimeout.
func TestJobTimeout(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := jobAgent(t)
	spec := c.spec("run-t", c.putSnapshot(map[string]string{"x": "x"}), e, "echo started; sleep 60")
	spec.MaxDurationSeconds = 1
	submit(t, a, spec)
	st := waitReported(t, a, "run-t")
	want := "the run exceeded its maximum duration of 1 seconds (max_run_duration_seconds); the job was stopped"
	if st.State != job.Failed || errCode(st) != job.CodeTimeout || st.Error.Message != want {
		t.Fatalf("status %+v (%+v), want Failed: %s", st, st.Error, want)
	}
	if got := c.hist.logOf("run-t"); got != "started\n" {
		t.Errorf("log %q", got)
	}
}

// A node runs one attempt at a time; the same submission again is
// harmless; cancel stops the job (SIGKILL when it ignores SIGTERM) and
// reports it Canceled; health says running, then idle.
func TestJobCancelAndBusy(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := jobAgent(t)
	ctx := testCtx(t)
	snap := c.putSnapshot(map[string]string{"x": "x"})
	spec := c.spec("run-c", snap, e, `trap "" TERM; echo ready; while :; do sleep 0.05; done`)
	submit(t, a, spec)
	waitFor(t, 20*time.Second, "the job's output in run history", func() bool { return c.hist.logOf("run-c") == "ready\n" })
	if hi, err := a.ControlHealth(ctx, nil); err != nil || hi.State != StateRunning {
		t.Errorf("health %+v, %v: want running", hi, err)
	}

	_, err := a.SubmitJob(ctx, nil, c.spec("run-other", snap, e, "echo"))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 409 || se.Err == nil || se.Err.Code != "NodeBusy" || !strings.Contains(se.Err.Message, "run-c") {
		t.Errorf("a second run: %v, want 409 NodeBusy naming run-c", err)
	}
	if st, err := a.SubmitJob(ctx, nil, spec); err != nil || st.State != job.Running || st.RunID != "run-c" {
		t.Errorf("the same attempt again: %+v, %v; want its status", st, err)
	}

	if err := a.CancelJob(ctx, nil, "run-c"); err != nil {
		t.Fatal(err)
	}
	st := waitReported(t, a, "run-c")
	if st.State != job.Canceled || errCode(st) != job.CodeCanceled {
		t.Errorf("status %+v (%+v), want Canceled", st, st.Error)
	}
	if d := cmp.Diff([]string{job.Preparing, job.Running, job.Finalizing, job.Canceled}, c.hist.states("run-c")); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if hi, err := a.ControlHealth(ctx, nil); err != nil || hi.State != StateIdle {
		t.Errorf("health %+v, %v: want idle", hi, err)
	}
	// Unknown runs.
	for name, call := range map[string]func() error{
		"status": func() error { _, err := a.JobStatus(ctx, nil, "nope"); return err },
		"cancel": func() error { return a.CancelJob(ctx, nil, "nope") },
		"rebind": func() error { return a.RebindJob(ctx, nil, "nope", "") },
	} {
		if err := call(); !errors.As(err, &se) || se.StatusCode != 404 {
			t.Errorf("%s of an unknown run: %v, want 404", name, err)
		}
	}
}

// A spec the agent cannot run is refused with what is wrong.
func TestJobBadSpec(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := jobAgent(t)
	good := c.spec("run-b", testSnapshot{sha: sha(nil), blob: "snapshots/x.tar.gz"}, e, "echo")
	for _, tc := range []struct {
		name, want string
		edit       func(*job.Spec)
	}{
		{"empty argv", "argv", func(s *job.Spec) { s.Argv = nil }},
		{"bad run id", "runId", func(s *job.Spec) { s.RunID = "../etc" }},
		{"attempt 0", "attempt 0", func(s *job.Spec) { s.Attempt = 0 }},
		{"plain http snapshot", "snapshot.url", func(s *job.Spec) { s.Snapshot.URL = "http://" + storageHost + "/c/b" }},
		{"bad sha", "snapshot.sha256", func(s *job.Spec) { s.Snapshot.SHA256 = "abc" }},
		{"no container", "artifacts.url", func(s *job.Spec) { s.Artifacts.URL = "https://" + storageHost + "/" }},
		{"bad history", "history", func(s *job.Spec) { s.History = "::" }},
		{"bad proxy", "proxy", func(s *job.Spec) { s.Proxy = "socks5://x:1" }},
		{"no CA", "caCert", func(s *job.Spec) { s.CACert = "" }},
	} {
		s := good
		tc.edit(&s)
		_, err := a.SubmitJob(testCtx(t), nil, s)
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 400 || se.Err == nil || se.Err.Code != "InvalidJobSpec" || !strings.Contains(se.Err.Message, tc.want) {
			t.Errorf("%s: %v, want 400 InvalidJobSpec about %s", tc.name, err, tc.want)
		}
	}
}

// The node's egress proxy changes under a running job (a restarted
// server): reports that the old one refused go through the new one, and
// the job's new connections leave through it.
func TestJobRebind(t *testing.T) {
	t.Parallel()
	py := python(t)
	c := newTestCloud(t)
	old, next := c.egress(), c.egress()
	old.setDeny(historyAddr, true)
	a := jobAgent(t)
	tmp := t.TempDir()
	c.putBlob(artContainer, "probe.txt", []byte("probe-ok"))
	spec := c.spec("run-r", c.putSnapshot(map[string]string{"x": "x"}), old, `echo hello
while [ ! -e "$TESTDIR/go" ]; do sleep 0.02; done
"$PY" -c 'import os, urllib.request; print(urllib.request.urlopen(os.environ["PROBE"]).read().decode())'`)
	spec.Env = map[string]string{"TESTDIR": tmp, "PY": py, "PROBE": c.sas(artContainer, "probe.txt", storageauth.PermRead)}
	submit(t, a, spec)
	waitJob(t, a, "run-r", "Running", func(st job.Status) bool { return st.State == job.Running && st.LogLength > 0 })
	waitFor(t, 20*time.Second, "a report refused by the old proxy", func() bool { _, d := old.counts(historyAddr); return d > 0 })
	if got := c.hist.eventsOf("run-r"); len(got) != 0 {
		t.Fatalf("run history got %v through a proxy that refuses it", got)
	}
	oldStorage, _ := old.counts(storageAddr)

	if err := a.RebindJob(testCtx(t), nil, "run-r", next.url); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the reports through the new proxy", func() bool {
		return slices.Equal(c.hist.states("run-r"), []string{job.Preparing, job.Running}) && c.hist.logOf("run-r") == "hello\n"
	})
	if err := os.WriteFile(filepath.Join(tmp, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st := waitReported(t, a, "run-r")
	if st.State != job.Completed {
		t.Fatalf("status %+v (%+v); log %q", st, st.Error, c.hist.logOf("run-r"))
	}
	if got := c.hist.logOf("run-r"); got != "hello\nprobe-ok\n" {
		t.Errorf("log %q", got)
	}
	if n, _ := old.counts(storageAddr); n != oldStorage {
		t.Errorf("the old proxy carried %d connections to storage after the rebind", n-oldStorage)
	}
	if n, _ := next.counts(storageAddr); n == 0 {
		t.Error("the new proxy carried no connection to storage")
	}
}

// Run history that lost the tail of a log answers 409 with its length;
// run history that fails answers 503: the log arrives whole, once.
func TestJobLogResend(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := jobAgent(t)
	tmp := t.TempDir()
	spec := c.spec("run-l", c.putSnapshot(map[string]string{"x": "x"}), e,
		`echo first; while [ ! -e "$TESTDIR/go" ]; do sleep 0.02; done; echo second; head -c 200000 /dev/zero | tr '\0' a; echo`)
	spec.Env = map[string]string{"TESTDIR": tmp}
	submit(t, a, spec)
	waitFor(t, 20*time.Second, "the first line in run history", func() bool { return c.hist.logOf("run-l") == "first\n" })
	c.hist.truncate("run-l", 3)
	c.hist.set(func(h *history) { h.failLogs = 2 })
	if err := os.WriteFile(filepath.Join(tmp, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st := waitReported(t, a, "run-l")
	want := "first\nsecond\n" + strings.Repeat("a", 200000) + "\n"
	if got := c.hist.logOf("run-l"); got != want || st.State != job.Completed {
		t.Errorf("state %s, log of %d bytes, want %d: %.40q", st.State, len(got), len(want), got)
	}
	c.hist.set(func(h *history) {
		if h.log409s == 0 {
			t.Error("run history never answered 409: the test tested nothing")
		}
		if h.maxChunk > maxLogChunk {
			t.Errorf("a log chunk of %d bytes", h.maxChunk)
		}
	})
}

// Run history answers 409 to an event: the attempt is no longer the
// run's; the job is stopped and nothing more is reported.
func TestJobSuperseded(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := jobAgent(t)
	c.hist.set(func(h *history) { h.conflict["run-x"] = true })
	submit(t, a, c.spec("run-x", c.putSnapshot(map[string]string{"x": "x"}), e, "sleep 60"))
	st := waitJob(t, a, "run-x", "Canceled", func(st job.Status) bool { return st.State == job.Canceled })
	if st.Reported || errCode(st) != job.CodeCanceled || !strings.Contains(st.Error.Message, "no longer takes reports") {
		t.Errorf("status %+v (%+v)", st, st.Error)
	}
	waitFor(t, 10*time.Second, "the job directory removed", func() bool {
		_, err := os.Stat(filepath.Join(a.Dir(), jobsDir, "run-x-1"))
		return errors.Is(err, os.ErrNotExist)
	})
}

// Uploads refused by the network rules fail the run, explained.
func TestJobUploadDenied(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := jobAgent(t)
	tmp := t.TempDir()
	spec := c.spec("run-u", c.putSnapshot(map[string]string{"x": "x"}), e,
		`mkdir outputs; echo r > outputs/r.txt; while [ ! -e "$TESTDIR/go" ]; do sleep 0.02; done`)
	spec.Env = map[string]string{"TESTDIR": tmp}
	// The artifacts are in another account: the connection that fetched
	// the snapshot would be reused, and an established flow survives a
	// rule change.
	spec.Artifacts.URL = strings.Replace(spec.Artifacts.URL, storageHost, artHost, 1)
	spec.Artifacts.Account = "artstore"
	submit(t, a, spec)
	waitJob(t, a, "run-u", "Running", func(st job.Status) bool { return st.State == job.Running })
	e.setDeny(artAddr, true)
	os.WriteFile(filepath.Join(tmp, "go"), nil, 0o600)
	st := waitReported(t, a, "run-u")
	want := "Finalizing failed: node 10.0.0.5 could not upload the outputs to storage account artstore (198.18.1.5:443): " + deniedRule
	if st.State != job.Failed || errCode(st) != job.CodeNetwork || st.Error.Message != want {
		t.Errorf("status %+v (%+v), want Failed: %s", st, st.Error, want)
	}
}

// startSleeper starts a job whose child sleeps, and returns the pids of
// the job's leader and of that child.
func startSleeper(t *testing.T, c *testCloud, a *Agent, run string) (leader, child int) {
	t.Helper()
	tmp := t.TempDir()
	spec := c.spec(run, c.putSnapshot(map[string]string{"x": "x"}), c.egress(),
		`sleep 60 & echo $! > "$TESTDIR/child.tmp"; mv "$TESTDIR/child.tmp" "$TESTDIR/child"; echo $$ > "$TESTDIR/leader.tmp"; mv "$TESTDIR/leader.tmp" "$TESTDIR/leader"; wait`)
	spec.Env = map[string]string{"TESTDIR": tmp}
	submit(t, a, spec)
	read := func(name string) int {
		var pid int
		waitFor(t, 20*time.Second, "the job's "+name, func() bool {
			b, err := os.ReadFile(filepath.Join(tmp, name))
			if err != nil {
				return false
			}
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
			return err == nil
		})
		return pid
	}
	leader, child = read("leader"), read("child")
	t.Cleanup(func() { // should the test fail
		syscall.Kill(child, syscall.SIGKILL)
		syscall.Kill(leader, syscall.SIGKILL)
	})
	return leader, child
}

// No process of a job outlives its agent, stopped or killed.
func TestJobDiesWithItsAgent(t *testing.T) {
	t.Parallel()
	t.Run("stopped", func(t *testing.T) {
		t.Parallel()
		c := newTestCloud(t)
		a := jobAgent(t)
		leader, child := startSleeper(t, c, a, "run-stop")
		if err := a.Stop(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		waitGone(t, leader, 5*time.Second)
		waitGone(t, child, 5*time.Second)
		// What could be reported quickly was.
		evs := c.hist.eventsOf("run-stop")
		if len(evs) == 0 || evs[len(evs)-1].State != job.Failed || evs[len(evs)-1].Error == nil || evs[len(evs)-1].Error.Code != job.CodeNodeLost {
			t.Errorf("events %+v, want the last Failed with NodeLost", evs)
		}
	})
	t.Run("killed", func(t *testing.T) {
		t.Parallel()
		c := newTestCloud(t)
		a := jobAgent(t)
		leader, child := startSleeper(t, c, a, "run-kill")
		if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitDone(t, a, 5*time.Second)
		waitGone(t, leader, 5*time.Second)
		waitGone(t, child, 5*time.Second)
	})
}

// A recorded process group is killed only while it is still the job's.
func TestProcRecordProvesTheJob(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	start := func(env ...string) *exec.Cmd {
		cmd := exec.Command("sh", "-c", "sleep 60 & wait")
		cmd.Env = append(os.Environ(), env...)
		newGroup(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
		return cmd
	}
	stranger := start()
	pid := stranger.Process.Pid
	startTime, ok := procStart(pid)
	if !ok {
		t.Fatal("no start time")
	}
	// Another start time and another tag: a stranger that got the pid.
	if (procRecord{PGID: pid, Start: startTime + 1, Tag: "ours"}).kill() {
		t.Error("killed a group that is not the job's")
	}
	if gone(pid) {
		t.Fatal("the stranger is gone")
	}
	// The leader as recorded.
	if !(procRecord{PGID: pid, Start: startTime}).kill() {
		t.Error("did not kill the job's group, proven by its leader")
	}
	waitGone(t, pid, 5*time.Second)

	// The tag, once the leader is gone.
	tagged := start(jobTagEnv + "=tag-1")
	waitFor(t, 5*time.Second, "the leader's child", func() bool { return len(liveGroupMembers(tagged.Process.Pid)) == 2 })
	syscall.Kill(tagged.Process.Pid, syscall.SIGKILL) // the leader only: its child sleeps on
	tagged.Wait()
	if !(procRecord{PGID: tagged.Process.Pid, Tag: "tag-1"}).kill() {
		t.Error("did not kill the job's group, proven by the tag of its child")
	}
	waitFor(t, 5*time.Second, "the group gone", func() bool { return len(liveGroupMembers(tagged.Process.Pid)) == 0 })
}
