package nodeagent

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/snapshot"
	pyrt "github.com/vnetml/vnetml/runtime/python"
)

// StateRunning is the state of an agent with an attempt in progress.
const StateRunning = "running"

// DefaultJobGrace is how long a job has to exit after SIGTERM when it is
// canceled or runs out of time, before SIGKILL.
const DefaultJobGrace = 10 * time.Second

// The files of a job directory, <state dir>/jobs/<run id>-<attempt>/.
const (
	jobsDir      = "jobs"
	snapshotsDir = "snapshots"
	workDir      = "wd"     // the job's working directory: the snapshot
	caFile       = "ca.pem" // Spec.CACert: SSL_CERT_FILE
	libDir       = "lib"    // the Python run context (runtime/python): PYTHONPATH
	tmpDir       = "tmp"    // TMPDIR of a job run as its own user (--job-uid)
	driverLog    = "70_driver_log.txt"
	procFile     = "process.json" // the job's process group, while it runs
)

// keepSnapshots is how many snapshots a node keeps cached.
const keepSnapshots = 8

// keepFinished bounds the finished attempts the agent remembers for GET.
const keepFinished = 64

// stopReason is why an attempt is stopped before its command ends by
// itself; the first reason wins.
type stopReason int32

const (
	notStopped     stopReason = iota
	stopCanceled              // POST cancel
	stopTimeout               // past MaxDurationSeconds
	stopSuperseded            // run history answered 409: not the run's attempt any more
	stopShutdown              // the agent is stopping
)

// jobs runs the node's attempts, one at a time, and remembers the last
// ones. Its methods are safe for concurrent use.
type jobs struct {
	stateDir string
	nodeID   string
	grace    time.Duration
	uid      int // the jobs' user; negative: the agent's
	log      *slog.Logger
	up       *uplink
	proxy    *localProxy
	snaps    *snapshotCache

	// stopping closes when the agent stops: a job being stopped gets no
	// grace. reportCtx ends once reports had their last chance.
	stopping     chan struct{}
	reportCtx    context.Context
	endReporting context.CancelFunc
	wg           sync.WaitGroup // the attempts' goroutines

	shutOnce sync.Once

	mu     sync.Mutex
	byRun  map[string]*attempt // the latest attempt of each run
	order  []string            // the runs of byRun, oldest first
	active *attempt            // the attempt not over yet, if any
	closed bool
}

func newJobs(stateDir, nodeID string, grace time.Duration, uid int, log *slog.Logger) (*jobs, error) {
	up := newUplink()
	px, err := startLocalProxy(up, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &jobs{stateDir: stateDir, nodeID: nodeID, grace: grace, uid: uid, log: log, up: up, proxy: px,
		snaps:    &snapshotCache{dir: filepath.Join(stateDir, snapshotsDir), keep: keepSnapshots},
		stopping: make(chan struct{}), reportCtx: ctx, endReporting: cancel, byRun: map[string]*attempt{}}, nil
}

// busy reports whether an attempt is in progress.
func (j *jobs) busy() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.active != nil
}

// errClosed, errNoRun and *busyError are what submit, cancel and rebind
// refuse with; jobhttp maps them to statuses.
var (
	errClosed = errors.New("the node agent is stopping")
	errNoRun  = errors.New("no such run")
)

type busyError struct {
	runID   string
	attempt int
}

func (e *busyError) Error() string {
	return fmt.Sprintf("the node runs attempt %d of run %s; a node runs one attempt at a time: cancel it, or submit to an idle node", e.attempt, e.runID)
}

// submit starts an attempt. The same run and attempt again answers its
// status (started false); another attempt while one is in progress is a
// *busyError.
func (j *jobs) submit(spec job.Spec) (st job.Status, started bool, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return st, false, errClosed
	}
	if a := j.byRun[spec.RunID]; a != nil && a.spec.Attempt == spec.Attempt {
		return a.status(), false, nil
	}
	if a := j.active; a != nil {
		return st, false, &busyError{a.spec.RunID, a.spec.Attempt}
	}
	a, err := j.newAttempt(spec)
	if err != nil {
		return st, false, err
	}
	if spec.Proxy != j.up.current().raw {
		if err := j.up.set(spec.Proxy); err != nil {
			os.RemoveAll(a.dir)
			return st, false, err
		}
	}
	if _, ok := j.byRun[spec.RunID]; !ok {
		j.order = append(j.order, spec.RunID)
	}
	j.byRun[spec.RunID] = a
	j.active = a
	j.forgetOld()
	j.wg.Add(1)
	go a.run()
	return a.status(), true, nil
}

// forgetOld forgets the oldest finished runs beyond keepFinished.
func (j *jobs) forgetOld() {
	for len(j.order) > keepFinished {
		i := slices.IndexFunc(j.order, func(id string) bool { a := j.byRun[id]; return a != j.active && a.isOver() })
		if i < 0 {
			return
		}
		delete(j.byRun, j.order[i])
		j.order = slices.Delete(j.order, i, i+1)
	}
}

func (j *jobs) attempt(runID string) (*attempt, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	a := j.byRun[runID]
	if a == nil {
		return nil, errNoRun
	}
	return a, nil
}

func (j *jobs) status(runID string) (job.Status, error) {
	a, err := j.attempt(runID)
	if err != nil {
		return job.Status{}, err
	}
	return a.status(), nil
}

// cancel stops the run's attempt, if it is in progress.
func (j *jobs) cancel(runID string) (job.Status, error) {
	a, err := j.attempt(runID)
	if err != nil {
		return job.Status{}, err
	}
	a.stop(stopCanceled)
	return a.status(), nil
}

// rebind makes proxy the node's way out from now on: the agent's reports
// and the job's new connections.
func (j *jobs) rebind(runID, proxy string) (job.Status, error) {
	a, err := j.attempt(runID)
	if err != nil {
		return job.Status{}, err
	}
	if err := j.up.set(proxy); err != nil {
		return job.Status{}, err
	}
	j.log.Info("job: the node's egress proxy changed", "run", runID)
	return a.status(), nil
}

// shutdown kills the jobs at once, gives their reports until ctx ends, and
// stops the node-local proxy. Only the first call does anything.
func (j *jobs) shutdown(ctx context.Context) { j.shutOnce.Do(func() { j.shutdownNow(ctx) }) }

func (j *jobs) shutdownNow(ctx context.Context) {
	j.mu.Lock()
	j.closed = true
	all := slices.Collect(maps.Values(j.byRun))
	j.mu.Unlock()
	close(j.stopping)
	for _, a := range all {
		a.stop(stopShutdown)
	}
	done := make(chan struct{})
	go func() {
		j.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		j.endReporting()
		<-done
	}
	j.endReporting()
	j.proxy.close()
}

// attempt is one attempt of a run on this node.
type attempt struct {
	j     *jobs
	spec  job.Spec
	dir   string
	roots *x509.CertPool
	tag   string // marks the job's processes (VNETML_JOB_TAG): see procRecord
	rep   *reporter

	logLen  atomic.Int64  // bytes of the driver log written
	reason  atomic.Int32  // a stopReason
	stopped chan struct{} // closed on the first stop
	over    chan struct{} // closed once the terminal state is decided
	reaped  atomic.Bool   // the job's leader was waited for: its pid may be reused
	// superseded: run history answered 409 to an event; whatever the
	// attempt was stopped for, it reports and uploads nothing more.
	superseded atomic.Bool

	mu       sync.Mutex
	state    string
	exitCode *int
	err      *job.Error
	cli      *http.Client
	cliRoute *route
}

func (j *jobs) newAttempt(spec job.Spec) (*attempt, error) {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(spec.CACert)) // validated
	b := make([]byte, 16)
	rand.Read(b)
	a := &attempt{j: j, spec: spec, roots: roots, tag: hex.EncodeToString(b), state: job.Preparing,
		dir:     filepath.Join(j.stateDir, jobsDir, spec.RunID+"-"+strconv.Itoa(spec.Attempt)),
		stopped: make(chan struct{}), over: make(chan struct{})}
	a.rep = newReporter(a)
	if err := os.RemoveAll(a.dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(a.logPath(), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	return a, nil
}

func (a *attempt) logPath() string { return filepath.Join(a.dir, driverLog) }
func (a *attempt) wd() string      { return filepath.Join(a.dir, workDir) }

// node names the node in messages: its address in the virtual network.
func (a *attempt) node() string {
	if a.spec.NodeAddress != "" {
		return a.spec.NodeAddress
	}
	return a.j.nodeID
}

func (a *attempt) stop(r stopReason) {
	if a.reason.CompareAndSwap(int32(notStopped), int32(r)) {
		close(a.stopped)
	}
}

func (a *attempt) stopReason() stopReason { return stopReason(a.reason.Load()) }

func (a *attempt) isOver() bool {
	select {
	case <-a.over:
		return true
	default:
		return false
	}
}

func (a *attempt) status() job.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return job.Status{RunID: a.spec.RunID, Attempt: a.spec.Attempt, State: a.state, ExitCode: a.exitCode, Error: a.err,
		LogLength: a.logLen.Load(), Reported: a.rep.isReported()}
}

// client is the agent's HTTP client for the attempt on the current route.
func (a *attempt) client() *http.Client {
	rt := a.j.up.current()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cliRoute != rt {
		if a.cli != nil {
			a.cli.CloseIdleConnections()
		}
		a.cli, a.cliRoute = newHTTPClient(rt, a.roots), rt
	}
	return a.cli
}

func (a *attempt) historyTransfer() transfer {
	u, _ := url.Parse(a.spec.History) // validated
	return newTransfer("Reporting", a.node(), "report to run history", u)
}

// setState records and reports a state that is not terminal.
func (a *attempt) setState(state string) {
	a.mu.Lock()
	a.state = state
	a.mu.Unlock()
	a.rep.event(job.Event{Attempt: a.spec.Attempt, State: state, Time: time.Now().UTC(), NodeID: a.spec.NodeID})
}

// result is how an attempt ended.
type result struct {
	state    string
	exitCode *int
	err      *job.Error
	outputs  []string
}

// run runs the attempt, from Preparing to its terminal state, and waits
// for its reports.
func (a *attempt) run() {
	defer a.j.wg.Done()
	go a.rep.run(a.j.reportCtx)
	a.setState(job.Preparing)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	// The limit counts from the attempt's start, Preparing included, and
	// ends when the command does.
	endLimit := func() bool { return false }
	if d := a.spec.MaxDurationSeconds; d > 0 {
		endLimit = time.AfterFunc(time.Duration(d)*time.Second, func() { a.stop(stopTimeout) }).Stop
	}

	var (
		res    result
		ran    bool
		reason stopReason
	)
	if jerr := a.prepare(ctx); jerr != nil {
		res, reason = result{state: job.Failed, err: jerr}, a.stopReason()
	} else if reason = a.stopReason(); reason == notStopped {
		res, ran, reason = a.execute()
	}
	endLimit()
	switch reason {
	case stopCanceled:
		res.state, res.err = job.Canceled, &job.Error{Code: job.CodeCanceled, Message: "the run was canceled; the job was stopped"}
	case stopTimeout:
		res.state, res.err = job.Failed, &job.Error{Code: job.CodeTimeout, Message: fmt.Sprintf(
			"the run exceeded its maximum duration of %d seconds (max_run_duration_seconds); the job was stopped", a.spec.MaxDurationSeconds)}
	case stopSuperseded:
		res.state, res.err = job.Canceled, &job.Error{Code: job.CodeCanceled, Message: fmt.Sprintf(
			"run history no longer takes reports of attempt %d (the run was canceled, or retried elsewhere); the job was stopped", a.spec.Attempt)}
	case stopShutdown:
		res.state, res.err = job.Failed, &job.Error{Code: job.CodeNodeLost, Message: fmt.Sprintf(
			"the agent of node %s was stopped while the attempt ran; the job was killed", a.node())}
	}
	// Outputs and the log are kept whenever the command ran, unless the
	// attempt is no longer the run's (they would overwrite the outputs of
	// the attempt that is) or the node is going away.
	if ran && reason != stopShutdown && !a.superseded.Load() {
		a.setState(job.Finalizing)
		outs, jerr := a.finalize()
		res.outputs = outs
		select {
		case <-a.j.stopping: // the uploads were cut short: the node is going away
			if jerr != nil {
				res.state, res.err = job.Failed, &job.Error{Code: job.CodeNodeLost, Message: fmt.Sprintf(
					"the agent of node %s was stopped while it uploaded the outputs", a.node())}
			}
		default:
			if jerr != nil && res.state == job.Completed {
				res.state, res.err = job.Failed, jerr
			}
		}
	}
	a.finish(res)
}

// finish records the terminal state, reports it after the whole log, and
// removes the job directory once run history has both.
func (a *attempt) finish(res result) {
	a.mu.Lock()
	a.state, a.exitCode, a.err = res.state, res.exitCode, res.err
	a.mu.Unlock()
	a.rep.closeLog()
	if !a.superseded.Load() {
		a.rep.event(job.Event{Attempt: a.spec.Attempt, State: res.state, Time: time.Now().UTC(), NodeID: a.spec.NodeID,
			Error: res.err, ExitCode: res.exitCode, Outputs: res.outputs})
	}
	a.j.mu.Lock()
	if a.j.active == a {
		a.j.active = nil
	}
	a.j.mu.Unlock()
	close(a.over)
	a.j.log.Info("job: attempt over", "run", a.spec.RunID, "attempt", a.spec.Attempt, "state", res.state, "error", res.err)
	<-a.rep.done
	if a.rep.isReported() || a.superseded.Load() {
		os.RemoveAll(a.dir)
	}
}

// prepare makes the working directory: the deployment CA, and the
// snapshot, from the cache or downloaded through the node's egress.
func (a *attempt) prepare(ctx context.Context) *job.Error {
	sysErr := func(err error) *job.Error {
		return &job.Error{Code: job.CodeSystem, Message: fmt.Sprintf("Preparing failed: node %s: %v", a.node(), err)}
	}
	if err := os.WriteFile(filepath.Join(a.dir, caFile), []byte(a.spec.CACert), 0o644); err != nil {
		return sysErr(err)
	}
	if err := writeLib(filepath.Join(a.dir, libDir)); err != nil {
		return sysErr(err)
	}
	if err := os.Mkdir(a.wd(), 0o700); err != nil {
		return sysErr(err)
	}
	s := a.spec.Snapshot
	u, _ := url.Parse(s.URL) // validated
	t := newTransfer("Preparing", a.node(), "download the snapshot from storage account "+s.Account, u)
	f, hit, jerr := a.j.snaps.get(ctx, a.client(), s, t)
	if jerr != nil {
		return jerr
	}
	defer f.Close()
	if err := snapshot.Extract(f, a.wd(), snapshot.Limits{}); err != nil {
		if hit {
			// A damaged cache must not fail every run of this snapshot
			// here: the next attempt downloads it again.
			os.Remove(f.Name())
		}
		return &job.Error{Code: job.CodeSnapshot, Message: fmt.Sprintf("Preparing failed: the snapshot %s from storage account %s cannot be unpacked on node %s: %v",
			s.SHA256, s.Account, a.node(), err)}
	}
	if a.j.uid >= 0 {
		if err := os.Mkdir(filepath.Join(a.dir, tmpDir), 0o700); err != nil {
			return sysErr(err)
		}
		// The driver log stays the agent's: the job writes to it through
		// its pipe only.
		if err := handOver(a.dir, a.j.stateDir, a.j.uid); err != nil {
			return sysErr(fmt.Errorf("handing the job's directory to its user: %w", err))
		}
		if err := os.Lchown(a.logPath(), os.Getuid(), os.Getgid()); err != nil {
			return sysErr(err)
		}
	}
	a.j.log.Info("job: snapshot ready", "run", a.spec.RunID, "attempt", a.spec.Attempt, "snapshot", s.SHA256, "cached", hit)
	return nil
}

// finalize uploads the job's outputs, then the driver log, to the run's
// artifacts, and returns the outputs uploaded.
func (a *attempt) finalize() ([]string, *job.Error) {
	ctx, cancel := context.WithCancel(a.j.reportCtx)
	defer cancel()
	go func() {
		select {
		case <-a.j.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	ar := a.spec.Artifacts
	c, err := parseContainer(ar)
	if err != nil {
		return nil, &job.Error{Code: job.CodeSystem, Message: "Finalizing failed: the artifacts URL: " + err.Error()}
	}
	u, _ := url.Parse(ar.URL)
	dir := filepath.Join(a.wd(), job.OutputsDir)
	files, err := outputs(dir)
	if err != nil {
		return nil, &job.Error{Code: job.CodeSystem, Message: fmt.Sprintf("Finalizing failed: listing the outputs: %v", err)}
	}
	var done []string
	t := newTransfer("Finalizing", a.node(), "upload the outputs to storage account "+ar.Account, u)
	for _, f := range files {
		up := uploader{cli: a.client(), maxPut: defaultMaxPut, block: defaultBlock}
		if jerr := up.upload(ctx, c, c.prefix+job.OutputsDir+"/"+f, filepath.Join(dir, filepath.FromSlash(f)), t); jerr != nil {
			return done, jerr
		}
		done = append(done, f)
	}
	t.what = "upload the driver log to storage account " + ar.Account
	up := uploader{cli: a.client(), maxPut: defaultMaxPut, block: defaultBlock}
	return done, up.upload(ctx, c, c.prefix+job.DriverLog, a.logPath(), t)
}

// writeLib writes the Python run context (vnetml_run, and its azureml.core
// shim) into dir, which the job gets on its PYTHONPATH.
func writeLib(dir string) error {
	return fs.WalkDir(pyrt.Lib, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := pyrt.Lib.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
