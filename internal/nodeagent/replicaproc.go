package nodeagent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/netns"
	"github.com/vnetml/vnetml/internal/replica"
	pyrt "github.com/vnetml/vnetml/runtime/python"
)

// exitInitFailed is vnetml_score.py's status when the entry script fails
// to load or its init() raises.
const exitInitFailed = 3

// prepare makes the replica directory: the deployment CA, the run context
// and the scoring server, the model's files downloaded through the node's
// egress, and the entry script.
func (r *replicaRun) prepare(ctx context.Context) *replica.Error {
	sysErr := func(err error) *replica.Error {
		return &replica.Error{Code: replica.CodeInitFailed, Message: fmt.Sprintf("node %s could not prepare the replica: %v", r.node(), err)}
	}
	if err := os.RemoveAll(r.dir); err != nil {
		return sysErr(err)
	}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return sysErr(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, caFile), []byte(r.spec.CACert), 0o644); err != nil {
		return sysErr(err)
	}
	lib := filepath.Join(r.dir, libDir)
	if err := writeLib(lib); err != nil {
		return sysErr(err)
	}
	if err := os.WriteFile(filepath.Join(lib, scoreFile), pyrt.Score, 0o644); err != nil {
		return sysErr(err)
	}
	if err := os.Mkdir(r.modelDir(), 0o700); err != nil {
		return sysErr(err)
	}
	cli := newHTTPClient(r.m.up.current(), r.roots)
	defer cli.CloseIdleConnections()
	for _, f := range r.spec.Model {
		if e := r.fetch(ctx, cli, f); e != nil {
			return e
		}
	}
	if n := len(r.spec.Model); n > 0 {
		r.m.log.Info("replica: model downloaded", "replica", r.spec.ID, "generation", r.spec.Generation, "files", n)
	}
	entry := r.entryPath()
	if err := os.MkdirAll(filepath.Dir(entry), 0o700); err != nil {
		return sysErr(err)
	}
	if err := os.WriteFile(entry, []byte(r.spec.Entry.Content), 0o644); err != nil {
		return sysErr(err)
	}
	if uid := r.m.cfg.uid; uid >= 0 {
		if err := os.Mkdir(filepath.Join(r.dir, tmpDir), 0o700); err != nil {
			return sysErr(err)
		}
		if err := handOver(r.dir, r.m.stateDir, uid); err != nil {
			return sysErr(fmt.Errorf("handing the replica's directory to its user: %w", err))
		}
	}
	return nil
}

// fetch downloads one model file through the node's egress, as a job's
// snapshot is: a refusal is explained as the job's are, naming the rule.
func (r *replicaRun) fetch(ctx context.Context, cli *http.Client, f replica.File) *replica.Error {
	u, _ := url.Parse(f.URL) // validated
	from := "storage account " + f.Account
	if f.Account == "" {
		from = u.Hostname()
	}
	t := newTransfer("", r.node(), "download model file "+f.Name+" from "+from, u)
	model := func(e *job.Error) *replica.Error { return &replica.Error{Code: replica.CodeModel, Message: e.Message} }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return model(t.error("", t.hostport, "the URL: "+bare(err)))
	}
	req.Header.Set("x-ms-version", storageVersion)
	resp, err := cli.Do(req)
	if err != nil {
		return model(t.failed(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return model(t.refused(resp, ""))
	}
	local := func(err error) *replica.Error {
		return &replica.Error{Code: replica.CodeModel, Message: fmt.Sprintf("node %s could not write model file %s: %v", r.node(), f.Name, err)}
	}
	dst := filepath.Join(r.modelDir(), filepath.FromSlash(f.Name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return local(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".download-*")
	if err != nil {
		return local(err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	_, err = io.Copy(tmp, resp.Body)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		return local(cerr)
	}
	if err != nil {
		return model(t.failed(err))
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return local(err)
	}
	return nil
}

// procOutcome is how one process of a replica ended.
type procOutcome struct {
	stopped bool
	// ready: it was ready, then exited (a crash). Otherwise it never was
	// (init() raised or timed out, or it could not start): the replica
	// is Failed.
	ready bool
	// why says how it ended ("exited with status 9") or why it could
	// not start; tail is the end of its output.
	why, tail string
}

// withOutput is a message about a process: what happened, then the end of
// its output.
func withOutput(summary, tail string) string {
	if tail == "" {
		return summary
	}
	return summary + ". The end of its output:\n" + tail
}

// runProcess runs the scoring server once: it starts it, waits for its
// ready line (Running), and returns when it exits or is stopped.
func (r *replicaRun) runProcess() procOutcome {
	initFailed := func(format string, args ...any) procOutcome {
		return procOutcome{why: fmt.Sprintf(format, args...)}
	}
	env := r.env()
	py, err := lookPath("python3", envValue(env, "PATH"), r.appDir())
	if err != nil {
		return initFailed("the scoring server cannot start on node %s: %v", r.node(), err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return initFailed("the scoring server cannot start on node %s: %v", r.node(), err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return initFailed("the scoring server cannot start on node %s: %v", r.node(), err)
	}
	s := r.spec
	name := s.Service
	if name == "" {
		name = s.ID
	}
	// Stdin nil is /dev/null. stdout carries the ready line only (the
	// server sends everything else, the entry script's prints included,
	// to stderr).
	cmd := &exec.Cmd{Path: py, Dir: r.appDir(), Env: env, Stdout: outW, Stderr: errW, Args: []string{
		"python3", filepath.Join(r.dir, libDir, scoreFile), "--entry", r.entryPath(), "--name", name, "--port", "0",
		"--workers", strconv.Itoa(s.Workers), "--timeout-ms", strconv.Itoa(s.TimeoutMs),
		"--max-body-bytes", strconv.FormatInt(s.MaxBodyBytes, 10), "--max-wait-ms", strconv.Itoa(s.MaxWaitMs)}}
	runAs(cmd, r.m.cfg.uid)
	var ns *netns.Handle
	if s.Netns != "" {
		if ns, err = netns.Open(s.Netns); err != nil {
			outR.Close()
			outW.Close()
			errR.Close()
			errW.Close()
			return initFailed("the scoring server cannot start in its pod's network on node %s: %v", r.node(), err)
		}
		defer ns.Close()
	}
	from := r.logs.written()
	var reaped atomic.Bool
	exited, err := startGroupIn(cmd, &reaped, ns)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return initFailed("the scoring server could not be started on node %s: %v", r.node(), bare(err))
	}
	rec := procRecord{PGID: cmd.Process.Pid, Tag: r.tag}
	rec.Start, _ = procStart(cmd.Process.Pid)
	if err := writeProcRecord(r.dir, rec); err != nil {
		r.m.log.Error("replica: cannot record the process group; it may outlive a killed agent", "replica", s.ID, "error", err)
	}

	ready := make(chan int, 1) // the port; 0 when stdout ended without the line
	var copies sync.WaitGroup
	copies.Go(func() { io.Copy(r.logs, errR) })
	copies.Go(func() {
		br := bufio.NewReader(outR)
		ready <- readScoreReady(br, r.logs)
		io.Copy(r.logs, br)
	})

	timeout := time.NewTimer(r.m.cfg.initTimeout)
	defer timeout.Stop()
	var (
		ps                *os.ProcessState
		out               procOutcome
		isReady, timedOut bool
		readyC            = ready
		timeoutC          = timeout.C
	)
wait:
	for {
		select {
		case port := <-readyC:
			readyC = nil
			if port > 0 { // else: wait for the exit, or the timeout
				isReady, timeoutC = true, nil
				r.running(port)
			}
		case ps = <-exited:
			break wait
		case <-timeoutC:
			timedOut = true
			ps = stopGroup(cmd.Process, &reaped, exited, 0, nil)
			break wait
		case <-r.stopped:
			out.stopped = true
			grace := r.m.cfg.grace
			select {
			case <-r.m.stopping:
				grace = 0
			default:
			}
			ps = stopGroup(cmd.Process, &reaped, exited, grace, r.m.stopping)
			break wait
		}
	}
	// What the leader left in its group goes with it; then the output
	// ends, unless a process escaped the group with a pipe.
	rec.kill()
	copied := make(chan struct{})
	go func() {
		copies.Wait()
		close(copied)
	}()
	t := time.NewTimer(2 * time.Second)
	select {
	case <-copied:
	case <-t.C:
		outR.Close()
		errR.Close()
		<-copied
	}
	t.Stop()
	outR.Close()
	errR.Close()
	os.Remove(filepath.Join(r.dir, procFile))
	if out.stopped {
		return out
	}
	if readyC != nil && !timedOut && <-readyC > 0 {
		isReady = true // it was ready, and exited before the line was read
	}
	code, how := exitStatus(ps)
	out = procOutcome{ready: isReady, why: how, tail: r.tailSince(from)}
	switch {
	case timedOut:
		out.why = fmt.Sprintf("init() of the entry script %s did not return within %v; the scoring server was killed", s.Entry.Name, r.m.cfg.initTimeout)
	case !isReady && code == exitInitFailed:
		out.why = fmt.Sprintf("the entry script %s failed: its init() raised, or it could not be loaded (the scoring server exited with status %d)", s.Entry.Name, code)
	case !isReady:
		out.why = fmt.Sprintf("the scoring server %s before it was ready", how)
	}
	return out
}

// readScoreReady reads the scoring server's ready line, {"port": N, "pid": P},
// and returns the port; 0 when stdout ended without one. What it read that
// is not that line goes to the log.
func readScoreReady(br *bufio.Reader, log io.Writer) int {
	line, err := br.ReadSlice('\n')
	if err != nil {
		log.Write(line)
		return 0
	}
	var rd struct {
		Port int `json:"port"`
	}
	if json.Unmarshal(line, &rd) != nil || rd.Port <= 0 || rd.Port > 65535 {
		log.Write(line)
		return 0
	}
	return rd.Port
}

// tailSince returns the last lines of the output written since offset
// from: the end of one process's output.
func (r *replicaRun) tailSince(from int64) string {
	b, cut := r.logs.since(from, 64<<10)
	if s := lastLines(b, cut, 40); s != "" {
		return s
	}
	return "(none)"
}

// env is the replica's environment, as a job's: a few of the agent's
// variables, the service's own, and the platform's, which win.
func (r *replicaRun) env() []string {
	m := agentEnv()
	maps.Copy(m, r.spec.Env)
	proxy := r.m.proxy.URL()
	if r.spec.Netns != "" {
		proxy = "" // in its pod's namespace the node's loopback proxy is out of reach; the network is direct
	}
	maps.Copy(m, egressEnv(proxy, filepath.Join(r.dir, caFile)))
	maps.Copy(m, map[string]string{
		"HOME":                 r.dir,
		"AZUREML_MODEL_DIR":    r.modelDir(),
		"AZUREML_ENTRY_SCRIPT": r.entryPath(),
		"PYTHONUNBUFFERED":     "1",
		jobTagEnv:              r.tag,
	})
	m["PYTHONPATH"] = pythonPath(filepath.Join(r.dir, libDir), r.spec.Env["PYTHONPATH"])
	if r.m.cfg.uid >= 0 {
		m["TMPDIR"] = filepath.Join(r.dir, tmpDir)
		m["PATH"] = publicPath(m["PATH"])
	}
	return envList(m)
}

// logRing keeps the last max bytes written to it. Its methods are safe for
// concurrent use.
type logRing struct {
	max int

	mu sync.Mutex
	// buf ends with the kept bytes; it grows to twice max before its
	// front is dropped, so that a write costs its length, amortized.
	buf   []byte
	total int64 // bytes ever written
}

func (l *logRing) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total += int64(len(p))
	if len(p) >= l.max {
		l.buf = append(l.buf[:0], p[len(p)-l.max:]...)
		return len(p), nil
	}
	if len(l.buf)+len(p) > 2*l.max {
		keep := l.max - len(p)
		l.buf = l.buf[:copy(l.buf, l.buf[len(l.buf)-keep:])]
	}
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// written is how many bytes were ever written.
func (l *logRing) written() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// since returns what was written after offset from, at most limit bytes
// of its end (and at most what is kept); cut tells that its start is not
// at from.
func (l *logRing) since(from int64, limit int) (b []byte, cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := int64(min(len(l.buf), l.max, limit))
	if d := l.total - from; d <= n {
		n = max(d, 0)
	} else {
		cut = true
	}
	return bytes.Clone(l.buf[int64(len(l.buf))-n:]), cut
}

// text is the kept log, starting at a line: a line cut by what was
// dropped is left out.
func (l *logRing) text() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := max(len(l.buf)-l.max, 0)
	b := l.buf[start:]
	if int64(len(b)) < l.total && (start == 0 || l.buf[start-1] != '\n') {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return bytes.Clone(b)
}
