package nodeagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/netns"
)

// jobTagEnv carries, in every process of a job, a random tag that the
// job's procRecord holds too: how a process found in the job's process
// group later is told to be the job's and not a stranger's that was given
// a reused pid.
const jobTagEnv = "VNETML_JOB_TAG"

// procRecord is process.json in a job directory, written once the job
// started and removed once its process group is gone. It lets whoever
// finds it — the spawner when its agent died, was killed or is reaped, or
// a restarted agent — end a job that would otherwise outlive its agent:
// the job's leader dies with the agent (the death signal, on Linux), but
// what the leader started lives on in the group.
type procRecord struct {
	PGID int `json:"pgid"`
	// Start is the leader's start time, in clock ticks after boot (Linux's
	// /proc/<pid>/stat), 0 if unknown.
	Start uint64 `json:"start"`
	Tag   string `json:"tag"`
}

func writeProcRecord(dir string, r procRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+procFile+"-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, procFile))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", procFile, err)
	}
	return nil
}

// kill kills what is left of the job's process group, if a process in it
// proves to be the job's (see ours): never a group that merely has the
// number.
func (r procRecord) kill() bool {
	if r.PGID <= 1 || !r.ours() {
		return false
	}
	killGroupID(r.PGID)
	return true
}

// killRecordedJobs kills the process groups of the jobs and replicas
// recorded under a node's state directory, each only if it is still that
// job's or replica's, and removes the records. It returns the groups
// killed.
func killRecordedJobs(stateDir string) []int {
	matches, _ := filepath.Glob(filepath.Join(stateDir, jobsDir, "*", procFile))
	more, _ := filepath.Glob(filepath.Join(stateDir, replicasDir, "*", procFile))
	matches = append(matches, more...)
	var killed []int
	for _, m := range matches {
		b, err := readSmall(m)
		var r procRecord
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err == nil && r.kill() {
			killed = append(killed, r.PGID)
		}
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			os.Remove(m)
		}
	}
	return killed
}

// execute runs the command until it exits or is stopped. ran tells that
// it started; stopped is the reason it was stopped for, if it was (a stop
// that comes after the command exited by itself changes nothing).
func (a *attempt) execute() (res result, ran bool, stopped stopReason) {
	env := a.env()
	path, err := lookPath(a.spec.Argv[0], envValue(env, "PATH"), a.wd())
	if err != nil {
		return result{state: job.Failed, err: &job.Error{Code: job.CodeUserError, Message: "Running failed: " + err.Error()}}, false, a.stopReason()
	}
	logf, err := os.OpenFile(a.logPath(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return result{state: job.Failed, err: &job.Error{Code: job.CodeSystem, Message: "Running failed: " + err.Error()}}, false, a.stopReason()
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return result{state: job.Failed, err: &job.Error{Code: job.CodeSystem, Message: "Running failed: " + err.Error()}}, false, a.stopReason()
	}
	// Stdin nil is /dev/null; one pipe takes both stdout and stderr, in
	// the order the job writes them.
	cmd := &exec.Cmd{Path: path, Args: a.spec.Argv, Dir: a.wd(), Env: env, Stdout: pw, Stderr: pw}
	runAs(cmd, a.j.uid)
	exited, err := startGroup(cmd, &a.reaped)
	pw.Close()
	if err != nil {
		pr.Close()
		return result{state: job.Failed, err: &job.Error{Code: job.CodeUserError, Message: fmt.Sprintf(
			"Running failed: the command %q could not be started: %v", a.spec.Argv[0], bare(err))}}, false, a.stopReason()
	}
	rec := procRecord{PGID: cmd.Process.Pid, Tag: a.tag}
	rec.Start, _ = procStart(cmd.Process.Pid)
	if err := writeProcRecord(a.dir, rec); err != nil {
		a.j.log.Error("job: cannot record the job's process group; it may outlive a killed agent", "run", a.spec.RunID, "error", err)
	}
	a.setState(job.Running)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		a.copyLog(pr, logf)
	}()

	var ps *os.ProcessState
	select {
	case ps = <-exited:
	case <-a.stopped:
		stopped = a.stopReason()
		ps = a.stopProcess(cmd.Process, exited)
	}
	// What the leader left behind in its group goes with it (where
	// waitExited could not do it first, if a process proves it the job's);
	// then the output ends, unless a process escaped the group with the
	// pipe.
	rec.kill()
	t := time.NewTimer(2 * time.Second)
	select {
	case <-copied:
	case <-t.C:
		pr.Close()
		<-copied
	}
	t.Stop()
	pr.Close()
	os.Remove(filepath.Join(a.dir, procFile))
	a.rep.closeLog()

	code, how := exitStatus(ps)
	res = result{state: job.Completed, exitCode: &code}
	if code != 0 {
		msg := "the command " + how
		if tail := tailLines(a.logPath(), 20); tail != "" {
			msg += "; the end of its log:\n" + tail
		}
		res.state, res.err = job.Failed, &job.Error{Code: job.CodeUserError, Message: msg}
	}
	return res, true, stopped
}

// startGroup starts cmd as the leader of a process group of its own that
// cannot outlive the agent: the leader has the death signal, and once it
// exits what it left in its group is killed before it is reaped. It
// returns once cmd started (or could not); exited then receives the
// leader's state once it is reaped, after reaped is set. cmd's Stdout and
// Stderr must be files (pipes), so that reaping waits for no copying.
func startGroup(cmd *exec.Cmd, reaped *atomic.Bool) (<-chan *os.ProcessState, error) {
	return startGroupIn(cmd, reaped, nil)
}

// startGroupIn is startGroup in the network namespace ns (nil: the
// agent's).
func startGroupIn(cmd *exec.Cmd, reaped *atomic.Bool, ns *netns.Handle) (<-chan *os.ProcessState, error) {
	newGroup(cmd)
	setDeathSignal(cmd)
	started := make(chan error, 1)
	exited := make(chan *os.ProcessState, 1)
	go func() {
		// The kernel sends the death signal when the THREAD that started
		// the process exits, not the agent: keep this one until it ends.
		runtime.LockOSThread()
		if ns != nil {
			// The thread starts the process inside ns, and never serves
			// another goroutine again: it ends with this one.
			if err := ns.Enter(); err != nil {
				started <- err
				return
			}
		} else {
			defer runtime.UnlockOSThread()
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		if waitExited(cmd.Process.Pid) {
			// The leader is gone but not reaped: its group is still
			// surely ours, so what it left there goes with it now, tag
			// or no tag (a child started with a clean environment has
			// none, and procRecord.kill could not prove it ours).
			killGroupID(cmd.Process.Pid)
		}
		cmd.Wait()
		reaped.Store(true)
		exited <- cmd.ProcessState
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return exited, nil
}

// stopGroup stops a process group startGroup started: SIGTERM to the
// group, up to grace (cut short when hurry closes), then SIGKILL; SIGKILL
// at once when grace is 0. It returns the leader's state.
func stopGroup(p *os.Process, reaped *atomic.Bool, exited <-chan *os.ProcessState, grace time.Duration, hurry <-chan struct{}) *os.ProcessState {
	signal := func(hard bool) {
		if reaped.Load() {
			return // the group's leftovers are procRecord.kill's, which checks they are ours
		}
		if hard {
			kill(p, true)
		} else {
			terminate(p, true)
		}
	}
	if grace <= 0 {
		signal(true)
		return <-exited
	}
	signal(false)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case ps := <-exited:
		return ps
	case <-t.C:
	case <-hurry:
	}
	signal(true)
	return <-exited
}

// stopProcess stops the job's process group: SIGTERM, the grace period,
// SIGKILL; SIGKILL at once when the agent is stopping.
func (a *attempt) stopProcess(p *os.Process, exited <-chan *os.ProcessState) *os.ProcessState {
	grace := a.j.grace
	if a.stopReason() == stopShutdown {
		grace = 0
	}
	return stopGroup(p, &a.reaped, exited, grace, a.j.stopping)
}

// copyLog appends the job's output to the driver log until the pipe ends.
func (a *attempt) copyLog(r *os.File, w *os.File) {
	buf := make([]byte, 32<<10)
	failed := false
	for {
		n, err := r.Read(buf)
		if n > 0 && !failed {
			m, werr := w.Write(buf[:n])
			a.logLen.Add(int64(m))
			a.rep.poke()
			if werr != nil {
				// The job goes on; its output past this point is lost,
				// and the agent's log says so.
				failed = true
				a.j.log.Error("job: writing the driver log failed", "run", a.spec.RunID, "error", werr)
			}
		}
		if err != nil {
			return
		}
	}
}

// env is the job's environment: a few of the agent's variables (never
// anything else of it: the agent's environment is the server's business),
// the run's own, and the platform's, which win.
func (a *attempt) env() []string {
	m := agentEnv()
	maps.Copy(m, a.spec.Env)
	nodeID := a.spec.NodeID
	if nodeID == "" {
		nodeID = a.j.nodeID
	}
	maps.Copy(m, egressEnv(a.j.proxy.URL(), filepath.Join(a.dir, caFile)))
	maps.Copy(m, map[string]string{
		"HOME":                 a.dir,
		job.EnvRunID:           a.spec.RunID,
		job.EnvExperiment:      a.spec.Experiment,
		job.EnvAttempt:         strconv.Itoa(a.spec.Attempt),
		job.EnvHistory:         a.spec.History,
		job.EnvToken:           a.spec.Token,
		job.EnvArtifactsURL:    a.spec.Artifacts.URL,
		job.EnvArtifactsPrefix: a.spec.Artifacts.Prefix,
		job.EnvNodeID:          nodeID,
		"PYTHONUNBUFFERED":     "1",
		jobTagEnv:              a.tag,
	})
	m["PYTHONPATH"] = pythonPath(filepath.Join(a.dir, libDir), a.spec.Env["PYTHONPATH"])
	if a.j.uid >= 0 {
		m["TMPDIR"] = filepath.Join(a.dir, tmpDir) // the agent's is not the job user's
		m["PATH"] = publicPath(m["PATH"])
	}
	return envList(m)
}

// agentEnv is what a process the agent starts gets of the agent's own
// environment: PATH, LANG, LC_*, TZ and TMPDIR, never anything else (the
// agent's environment is the server's business).
func agentEnv() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "LANG" || k == "TZ" || k == "TMPDIR" || strings.HasPrefix(k, "LC_") {
			m[k] = v
		}
	}
	return m
}

// egressEnv sends a process's connections through the node-local proxy
// (proxy, with its credentials), trusting the deployment CA (the file ca).
func egressEnv(proxy, ca string) map[string]string {
	return map[string]string{
		"HTTP_PROXY":         proxy,
		"HTTPS_PROXY":        proxy,
		"http_proxy":         proxy,
		"https_proxy":        proxy,
		"NO_PROXY":           "",
		"no_proxy":           "",
		"SSL_CERT_FILE":      ca,
		"REQUESTS_CA_BUNDLE": ca,
	}
}

// pythonPath puts the run context (lib) first on PYTHONPATH, then the
// user's own.
func pythonPath(lib, user string) string {
	if user != "" {
		lib += string(os.PathListSeparator) + user
	}
	return lib
}

// envList is m as an environment, sorted, with a PATH.
func envList(m map[string]string) []string {
	if _, ok := m["PATH"]; !ok {
		m["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	env := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		env = append(env, k+"="+m[k])
	}
	return env
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// lookPath finds the command as the job's PATH (not the agent's) says; a
// name with a slash is relative to the working directory.
func lookPath(name, path, wd string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("the command %q cannot be run: %v", name, err)
		}
		return p, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(wd, dir)
		}
		if p := filepath.Join(dir, name); executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the command %q was not found: no executable file of that name in the job's PATH (%s)", name, path)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return errors.Unwrap(err)
	case fi.IsDir():
		return errors.New("it is a directory")
	case runtime.GOOS != "windows" && fi.Mode()&0o111 == 0:
		return errors.New("it is not executable")
	}
	return nil
}

// tailLines returns the last n lines of a file (of its last 64 KiB).
func tailLines(name string, n int) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	const tail = 64 << 10
	var off int64
	if fi, err := f.Stat(); err == nil && fi.Size() > tail {
		off = fi.Size() - tail
	}
	b := make([]byte, tail)
	m, _ := f.ReadAt(b, off)
	return lastLines(b[:m], off > 0, n)
}

// lastLines returns the last n lines of b, each of at most 1000 bytes;
// cut tells that b starts in the middle of a line, which is left out.
func lastLines(b []byte, cut bool, n int) string {
	b = bytes.TrimRight(b, "\r\n")
	lines := bytes.Split(b, []byte("\n"))
	if cut && len(lines) > 1 {
		lines = lines[1:] // the first is cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 1000 { // a progress bar redrawn with \r, a blob of data
			lines[i] = append(l[:1000:1000], "..."...)
		}
	}
	return string(bytes.Join(lines, []byte("\n")))
}
