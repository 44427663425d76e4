package nodeagent

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/replica"
)

// Defaults of the agent's replica settings (--replica-init-timeout,
// --replica-backoff).
const (
	// DefaultReplicaInitTimeout is how long a replica's init() may run
	// before the replica fails: loading a model takes a while.
	DefaultReplicaInitTimeout = 5 * time.Minute
	// DefaultReplicaBackoff is how long a crashed replica waits before
	// its first restart; each further crash within crashLoopWindow
	// doubles it, up to maxReplicaBackoff.
	DefaultReplicaBackoff = time.Second
)

const (
	maxReplicaBackoff = time.Minute
	// A replica that crashes more than crashLoopCrashes times within
	// crashLoopWindow is Failed with CodeCrashLoop, not restarted again.
	crashLoopCrashes = 5
	crashLoopWindow  = 10 * time.Minute
)

// The files of a replica directory, <state dir>/replicas/<id>-<generation>/:
// ca.pem and lib/ as a job's, process.json while a process runs, and
// these.
const (
	replicasDir = "replicas"
	modelDir    = "model" // the model's files: AZUREML_MODEL_DIR
	appDir      = "app"   // the entry script; the working directory
	scoreFile   = "vnetml_score.py"
)

// replicaConfig is how the agent runs replicas.
type replicaConfig struct {
	grace       time.Duration // between SIGTERM and SIGKILL when one is stopped
	initTimeout time.Duration
	backoff     time.Duration
	uid         int // the replicas' user; negative: the agent's
}

// replicas runs the node's web-service replicas, any number at once, and
// remembers them until they are deleted. They share the jobs' way out of
// the node (uplink and node-local proxy). Its methods are safe for
// concurrent use.
type replicas struct {
	stateDir string
	nodeID   string
	cfg      replicaConfig
	log      *slog.Logger
	up       *uplink
	proxy    *localProxy

	stopping chan struct{} // closed when the agent stops: no grace any more
	wg       sync.WaitGroup
	shutOnce sync.Once

	mu   sync.Mutex
	byID map[string]*replicaRun
	// leaving holds the replicas deleted but not gone yet: one started
	// again under the id waits for its directory and processes to go.
	leaving map[string]*replicaRun
	closed  bool
}

func newReplicas(stateDir, nodeID string, cfg replicaConfig, up *uplink, proxy *localProxy, log *slog.Logger) *replicas {
	return &replicas{stateDir: stateDir, nodeID: nodeID, cfg: cfg, log: log, up: up, proxy: proxy,
		stopping: make(chan struct{}), byID: map[string]*replicaRun{}, leaving: map[string]*replicaRun{}}
}

// errNoReplica is what a request about a replica the node does not have
// gets; staleError what a spec older than the replica's gets.
var errNoReplica = errors.New("no such replica")

type staleError struct {
	id       string
	have, as int64
}

func (e *staleError) Error() string {
	return fmt.Sprintf("replica %s runs generation %d; generation %d is older: redeploy with a newer generation", e.id, e.have, e.as)
}

// start starts a replica; started is false when the node already has that
// id and generation (its status is the answer). A newer generation
// replaces the replica of that id: the old one is stopped, then the new
// one starts. The spec's proxy becomes the node's way out either way (a
// restarted server's new egress proxy).
func (m *replicas) start(spec replica.Spec) (st replica.Status, started bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return st, false, errClosed
	}
	old := m.byID[spec.ID]
	if old != nil && spec.Generation < old.spec.Generation {
		return st, false, &staleError{spec.ID, old.spec.Generation, spec.Generation}
	}
	if spec.Proxy != m.up.current().raw {
		if err := m.up.set(spec.Proxy); err != nil {
			return st, false, err
		}
		m.log.Info("replica: the node's egress proxy changed", "replica", spec.ID)
	}
	if old != nil && spec.Generation == old.spec.Generation {
		return old.status(), false, nil
	}
	prev := old
	if prev == nil {
		prev = m.leaving[spec.ID]
	}
	r := m.newRun(spec, prev)
	if old != nil {
		old.stop()
	}
	m.byID[spec.ID] = r
	m.wg.Add(1)
	go r.run()
	return r.status(), true, nil
}

func (m *replicas) get(id string) (*replicaRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.byID[id]; r != nil {
		return r, nil
	}
	return nil, errNoReplica
}

// list returns the status of every replica, by id.
func (m *replicas) list() []replica.Status {
	m.mu.Lock()
	all := slices.Collect(maps.Values(m.byID))
	m.mu.Unlock()
	out := make([]replica.Status, 0, len(all))
	for _, r := range all {
		out = append(out, r.status())
	}
	slices.SortFunc(out, func(a, b replica.Status) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// remove forgets a replica and stops it; it returns once its processes
// are gone, or ctx ended (the stop goes on).
func (m *replicas) remove(ctx context.Context, id string) error {
	m.mu.Lock()
	r := m.byID[id]
	if r != nil {
		delete(m.byID, id)
		m.leaving[id] = r
	}
	m.mu.Unlock()
	if r == nil {
		return errNoReplica
	}
	r.stop()
	select {
	case <-r.done:
	case <-ctx.Done():
	}
	return nil
}

// shutdown kills every replica at once and waits until they are gone.
// Only the first call does anything.
func (m *replicas) shutdown() {
	m.shutOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		all := slices.Collect(maps.Values(m.byID))
		m.mu.Unlock()
		close(m.stopping)
		for _, r := range all {
			r.stop()
		}
		m.wg.Wait()
	})
}

// replicaRun is one generation of a replica on this node: its directory,
// and the scoring server's processes one after the other, restarted when
// one crashes.
type replicaRun struct {
	m     *replicas
	spec  replica.Spec
	dir   string
	tag   string // marks its processes (VNETML_JOB_TAG): see procRecord
	roots *x509.CertPool
	logs  *logRing
	// prev is the generation it replaces: it starts once that is gone.
	// Only run reads it.
	prev *replicaRun

	stopOnce sync.Once
	stopped  chan struct{} // closed by stop
	done     chan struct{} // closed once its processes are gone and its directory removed

	mu       sync.Mutex
	state    string
	port     int
	restarts int
	err      *replica.Error
}

func (m *replicas) newRun(spec replica.Spec, prev *replicaRun) *replicaRun {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(spec.CACert)) // validated
	b := make([]byte, 16)
	rand.Read(b)
	return &replicaRun{m: m, spec: spec, tag: hex.EncodeToString(b), roots: roots, prev: prev,
		dir:  filepath.Join(m.stateDir, replicasDir, spec.ID+"-"+strconv.FormatInt(spec.Generation, 10)),
		logs: &logRing{max: replica.MaxLogBytes}, state: replica.Starting,
		stopped: make(chan struct{}), done: make(chan struct{})}
}

func (r *replicaRun) stop() { r.stopOnce.Do(func() { close(r.stopped) }) }

func (r *replicaRun) isStopped() bool {
	select {
	case <-r.stopped:
		return true
	default:
		return false
	}
}

func (r *replicaRun) status() replica.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return replica.Status{ID: r.spec.ID, Generation: r.spec.Generation, State: r.state, Port: r.port, Restarts: r.restarts, Error: r.err}
}

// node names the node in messages: its address in the virtual network.
func (r *replicaRun) node() string {
	if r.spec.NodeAddress != "" {
		return r.spec.NodeAddress
	}
	return r.m.nodeID
}

func (r *replicaRun) modelDir() string { return filepath.Join(r.dir, modelDir) }
func (r *replicaRun) appDir() string   { return filepath.Join(r.dir, appDir) }
func (r *replicaRun) entryPath() string {
	return filepath.Join(r.appDir(), filepath.FromSlash(r.spec.Entry.Name))
}

// note writes a line of the agent's into the replica's log, between the
// output of its processes.
func (r *replicaRun) note(format string, args ...any) {
	fmt.Fprintf(r.logs, "vnetml agent: "+format+"\n", args...)
}

func (r *replicaRun) running(port int) {
	r.mu.Lock()
	r.state, r.port = replica.Running, port
	r.mu.Unlock()
	r.m.log.Info("replica: running", "replica", r.spec.ID, "generation", r.spec.Generation, "port", port)
}

func (r *replicaRun) fail(e *replica.Error) {
	r.mu.Lock()
	r.state, r.port, r.err = replica.Failed, 0, e
	r.mu.Unlock()
	r.m.log.Warn("replica: failed", "replica", r.spec.ID, "generation", r.spec.Generation, "code", e.Code)
}

// run runs the replica until it is stopped or Failed. Either way its
// directory is removed once its processes are gone, before it says Failed:
// a Failed replica is remembered (its status and log) until it is deleted
// or replaced.
func (r *replicaRun) run() {
	defer r.m.wg.Done()
	defer close(r.done)
	defer func() {
		r.m.mu.Lock()
		if r.m.leaving[r.spec.ID] == r {
			delete(r.m.leaving, r.spec.ID)
		}
		r.m.mu.Unlock()
	}()
	if r.prev != nil {
		<-r.prev.done // bounded: it was stopped before this one started
		r.prev = nil  // not to keep every generation's log
	}
	if r.isStopped() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	var f *failure
	if e := r.prepare(ctx); e != nil {
		f = &failure{e, e.Message}
	} else {
		f = r.serve()
	}
	os.RemoveAll(r.dir)
	if f != nil && !r.isStopped() {
		r.note("%s", f.note)
		r.fail(f.err)
	}
}

// failure is why a replica failed: its status's error, and the line its
// log gets (which has the process's output already).
type failure struct {
	err  *replica.Error
	note string
}

// serve runs the scoring server, restarting it with backoff when it
// crashes after it was ready, until it is stopped (nil) or fails.
func (r *replicaRun) serve() *failure {
	var crashes []time.Time
	for {
		out := r.runProcess()
		switch {
		case out.stopped:
			return nil
		case !out.ready:
			return &failure{&replica.Error{Code: replica.CodeInitFailed, Message: withOutput(out.why, out.tail)}, out.why}
		}
		now := time.Now()
		crashes = slices.DeleteFunc(crashes, func(t time.Time) bool { return now.Sub(t) >= crashLoopWindow })
		crashes = append(crashes, now)
		if len(crashes) > crashLoopCrashes {
			why := fmt.Sprintf("the scoring server %s; the replica crashed %d times within %v, and is not restarted any more", out.why, len(crashes), crashLoopWindow)
			return &failure{&replica.Error{Code: replica.CodeCrashLoop, Message: withOutput(why, out.tail)}, why}
		}
		delay := min(r.m.cfg.backoff<<(len(crashes)-1), maxReplicaBackoff)
		r.mu.Lock()
		r.restarts++
		n := r.restarts
		why := fmt.Sprintf("the scoring server %s while it served; it is restarted in %v (restart %d)", out.why, delay, n)
		r.state, r.port = replica.Starting, 0
		r.err = &replica.Error{Code: replica.CodeCrashed, Message: withOutput(why, out.tail)}
		r.mu.Unlock()
		r.note("%s", why)
		r.m.log.Warn("replica: crashed", "replica", r.spec.ID, "generation", r.spec.Generation, "exit", out.why, "restart", n, "in", delay)
		t := time.NewTimer(delay)
		select {
		case <-r.stopped:
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
