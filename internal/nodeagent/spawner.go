package nodeagent

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SpawnerConfig configures a Spawner.
type SpawnerConfig struct {
	// Command returns the command that runs `vnetml agent ARGS...`. The
	// server's runs its own executable:
	//
	//	exe, _ := os.Executable()
	//	func(ctx context.Context, args ...string) *exec.Cmd {
	//		return exec.CommandContext(ctx, exe, append([]string{"agent"}, args...)...)
	//	}
	//
	// ctx is never canceled: the agent outlives the call that starts it.
	// The spawner sets Stdin, Stdout, Stderr and the process group; Env
	// stays as Command made it (the agent needs nothing of the server's).
	// The command must exec the agent itself, not a shell around it.
	Command func(ctx context.Context, args ...string) *exec.Cmd
	// Confine, when set, rewrites the command of a node's agent so that
	// it runs inside the node's network — the kernel fabric's namespace of
	// its NIC, where its jobs and replicas run too. It must still exec the
	// agent itself (ip netns exec does). A spawner that confines adopts no
	// agent a previous server left: their namespaces are not this
	// server's (they are reaped and their nodes replaced).
	Confine func(ctx context.Context, spec NodeSpec, cmd *exec.Cmd) (*exec.Cmd, error)
	// StateRoot is the directory of the nodes' state directories; it is
	// created (0700) if need be.
	StateRoot string
	// Logger receives the agents' unexpected exits and failed renewals;
	// nil discards.
	Logger *slog.Logger
	// Lease is the --lease of the agents started (0: DefaultLease).
	Lease time.Duration
	// RenewEvery is how often the spawner renews the lease of each agent
	// it manages, over loopback (0: Lease/3; negative: never, and the
	// server must renew through the fabric before each lease runs out).
	RenewEvery time.Duration
	// ReadyTimeout bounds how long a started agent has to listen (0: 15s).
	ReadyTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM (0: 10s).
	StopGrace time.Duration
	// PollInterval is how often an adopted agent's liveness is checked
	// (0: 250ms).
	PollInterval time.Duration
	// ProbeTimeout bounds the health request that proves an agent's
	// identity before it is adopted or reaped (0: 3s).
	ProbeTimeout time.Duration
}

// NodeSpec names the node whose agent to start.
type NodeSpec struct {
	NodeID    string
	ClusterID string
	// NIC and Addr are the node's network interface and address (for
	// Confine).
	NIC  string
	Addr netip.Addr
}

// Spawner starts, adopts, watches and stops node agents. Its methods are
// safe for concurrent use.
type Spawner struct {
	cfg SpawnerConfig
	log *slog.Logger

	mu     sync.Mutex
	agents map[string]*Agent // by node id; nil while starting or adopting
	closed bool
}

// ErrClosed is returned by Start and Adopt after StopAll or Detach.
var ErrClosed = errors.New("nodeagent: the spawner has been stopped")

// NewSpawner returns a spawner. It manages no agent until Start or Adopt.
func NewSpawner(cfg SpawnerConfig) *Spawner {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.RenewEvery == 0 {
		cfg.RenewEvery = cfg.Lease / 3
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 15 * time.Second
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 10 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 3 * time.Second
	}
	return &Spawner{cfg: cfg, log: cfg.Logger, agents: map[string]*Agent{}}
}

// reserve claims a node id for a Start or an Adopt; release undoes it.
func (s *Spawner) reserve(nodeID string) error {
	if !validNodeID(nodeID) {
		return fmt.Errorf("nodeagent: %q is not a node id (letters, digits, '.', '_', '-'; at most 128)", nodeID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, ok := s.agents[nodeID]; ok {
		return fmt.Errorf("nodeagent: node %s already has an agent managed by this spawner", nodeID)
	}
	s.agents[nodeID] = nil
	return nil
}

func (s *Spawner) release(nodeID string) {
	s.mu.Lock()
	if s.agents[nodeID] == nil {
		delete(s.agents, nodeID)
	}
	s.mu.Unlock()
}

// register makes a managed; false when the spawner was closed meanwhile.
func (s *Spawner) register(a *Agent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		delete(s.agents, a.NodeID)
		return false
	}
	s.agents[a.NodeID] = a
	if s.cfg.RenewEvery > 0 {
		go a.keepalive(s.cfg.RenewEvery)
	}
	return true
}

func (s *Spawner) forget(a *Agent) {
	s.mu.Lock()
	if s.agents[a.NodeID] == a {
		delete(s.agents, a.NodeID)
	}
	s.mu.Unlock()
}

func (s *Spawner) dir(nodeID string) string { return filepath.Join(s.cfg.StateRoot, nodeID) }

// Start starts the agent of a node: it creates the node's state directory
// (0700) and secret (0600), starts the process in a process group of its
// own, and returns once the agent listens. A state directory left from an
// agent that is gone is replaced; one whose agent still runs is refused
// (Adopt or Reap it).
func (s *Spawner) Start(ctx context.Context, spec NodeSpec) (*Agent, error) {
	if s.cfg.Command == nil {
		return nil, errors.New("nodeagent: SpawnerConfig.Command is not set")
	}
	if spec.ClusterID == "" {
		return nil, fmt.Errorf("nodeagent: node %s: no cluster id", spec.NodeID)
	}
	if err := s.reserve(spec.NodeID); err != nil {
		return nil, err
	}
	a, err := s.start(ctx, spec)
	if err != nil {
		s.release(spec.NodeID)
		return nil, err
	}
	if !s.register(a) {
		a.Stop(context.WithoutCancel(ctx))
		return nil, ErrClosed
	}
	return a, nil
}

func (s *Spawner) start(ctx context.Context, spec NodeSpec) (*Agent, error) {
	dir := s.dir(spec.NodeID)
	if old, err := s.probe(ctx, spec.NodeID); err == nil {
		old.proc.Release()
		return nil, fmt.Errorf("nodeagent: node %s already has a running agent (pid %d) that this spawner does not manage: adopt or reap it", spec.NodeID, old.PID)
	} else if !errors.Is(err, ErrNoAgent) {
		return nil, err
	}
	killRecordedJobs(dir) // of an agent that died unseen
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.cfg.StateRoot, 0o700); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	fail := func(err error) (*Agent, error) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nodeagent: starting the agent of node %s: %w", spec.NodeID, err)
	}
	secret, err := newSecret(filepath.Join(dir, secretFile))
	if err != nil {
		return fail(err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fail(err)
	}
	defer logf.Close() // the agent has its own descriptor
	r, w, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	defer r.Close()
	cmd := s.cfg.Command(context.WithoutCancel(ctx), "--node-id", spec.NodeID, "--cluster", spec.ClusterID,
		"--token-file", filepath.Join(dir, secretFile), "--state-dir", dir, "--lease", s.cfg.Lease.String())
	if s.cfg.Confine != nil {
		if cmd, err = s.cfg.Confine(context.WithoutCancel(ctx), spec, cmd); err != nil {
			w.Close()
			return fail(err)
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, w, logf
	newGroup(cmd)
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fail(err)
	}
	a := &Agent{NodeID: spec.NodeID, ClusterID: spec.ClusterID, PID: cmd.Process.Pid, Secret: secret,
		sp: s, dir: dir, proc: cmd.Process, group: groups, done: make(chan struct{}), quit: make(chan struct{})}
	// The exit is recorded once a's fields are final (published).
	published := make(chan struct{})
	go func() {
		cmd.Wait()
		<-published
		a.exited(cmd.ProcessState)
	}()
	rd, err := readReady(ctx, r, s.cfg.ReadyTimeout)
	if err == nil && rd.PID != a.PID {
		err = fmt.Errorf("the agent says it is pid %d, but the process started is %d: Command must run the agent itself, not a wrapper", rd.PID, a.PID)
	}
	if err == nil && (!rd.Management.IsValid() || !rd.Control.IsValid()) {
		err = errors.New("its ready line has no management or control address")
	}
	if err != nil {
		a.stopping.Store(true)
		close(published)
		kill(a.proc, a.group)
		select {
		case <-a.done:
			if e := (*ExitError)(nil); errors.As(a.err, &e) && e.LastLog != "" {
				err = fmt.Errorf("%w; its log ends with: %s", err, e.LastLog)
			}
		case <-time.After(killWait):
		}
		return fail(err)
	}
	a.Management, a.Control, a.StartedAt = rd.Management, rd.Control, time.Now().UTC()
	if rec, err := readRecord(dir); err == nil && rec.PID == a.PID {
		a.StartedAt = rec.StartedAt
	}
	close(published)
	return a, nil
}

// newSecret writes a new random node secret to a new file of mode 0600.
func newSecret(name string) (Secret, error) {
	b := make([]byte, 32)
	rand.Read(b)
	s := hex.EncodeToString(b)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(s + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return Secret(s), err
}

// readReady reads the agent's ready line.
func readReady(ctx context.Context, r *os.File, timeout time.Duration) (readyLine, error) {
	type result struct {
		rd  readyLine
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var res result
		line, err := bufio.NewReaderSize(r, 4096).ReadSlice('\n')
		switch {
		case errors.Is(err, io.EOF):
			res.err = errors.New("it exited before it was ready")
		case err != nil:
			res.err = fmt.Errorf("reading its ready line: %w", err)
		default:
			if err := json.Unmarshal(line, &res.rd); err != nil {
				res.err = fmt.Errorf("its ready line is not JSON: %w", err)
			}
		}
		ch <- res
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case res := <-ch:
		return res.rd, res.err
	case <-t.C:
		return readyLine{}, fmt.Errorf("it did not listen within %v", timeout)
	case <-ctx.Done():
		return readyLine{}, ctx.Err()
	}
}

// Adopt takes over the running agent of a node that no spawner of this
// process started (the server restarted): it reads agent.json and the
// secret from the node's state directory and requires the process to prove
// who it is — answer on its control port, with the node's secret, as that
// node and pid. A refusal wraps ErrNoAgent and says why; then the server
// reaps the node (Reap) or starts it afresh (Start).
func (s *Spawner) Adopt(ctx context.Context, nodeID string) (*Agent, error) {
	if err := s.reserve(nodeID); err != nil {
		return nil, err
	}
	a, err := s.probe(ctx, nodeID)
	if err == nil && s.cfg.Confine != nil {
		// A confined agent lives in the namespace a previous server's
		// fabric made for its node; this server's fabric made new ones,
		// and the old one is cut off from every network.
		a.proc.Release()
		err = errors.New("it is confined to a network namespace of the previous server's fabric, which this server does not use")
	}
	if err != nil {
		s.release(nodeID)
		return nil, fmt.Errorf("nodeagent: cannot adopt the agent of node %s: %w", nodeID, err)
	}
	a.sp, a.Adopted = s, true
	go a.watchAdopted(s.cfg.PollInterval)
	if !s.register(a) {
		a.Stop(context.WithoutCancel(ctx))
		return nil, ErrClosed
	}
	return a, nil
}

// probe finds the live agent of a node's state directory and checks who it
// is. The Agent it returns is not watched or managed. Every answer but a
// proven agent wraps ErrNoAgent, except ctx's end.
func (s *Spawner) probe(ctx context.Context, nodeID string) (_ *Agent, err error) {
	dir := s.dir(nodeID)
	rec, err := readRecord(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s (no agent started there, or it exited)", ErrNoAgent, recordFile)
	} else if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoAgent, err)
	}
	if rec.NodeID != nodeID {
		return nil, fmt.Errorf("%w: %s is for node %q", ErrNoAgent, recordFile, rec.NodeID)
	}
	b, err := readSmall(filepath.Join(dir, secretFile))
	if err != nil {
		return nil, fmt.Errorf("%w: the node secret: %v", ErrNoAgent, err)
	}
	a := &Agent{NodeID: nodeID, ClusterID: rec.ClusterID, PID: rec.PID, Management: rec.Management, Control: rec.Control,
		StartedAt: rec.StartedAt, Secret: Secret(strings.TrimSpace(string(b))), sp: s, dir: dir, done: make(chan struct{}), quit: make(chan struct{})}
	// The handle first: on Linux it pins the process (a pidfd), so what
	// answers below as that pid is the process the handle names.
	if rec.PID <= 0 {
		return nil, fmt.Errorf("%w: %s has no pid", ErrNoAgent, recordFile)
	}
	proc, err := os.FindProcess(rec.PID)
	if err != nil {
		return nil, fmt.Errorf("%w: its process (pid %d) is gone", ErrNoAgent, rec.PID)
	}
	if !alive(proc) {
		proc.Release()
		return nil, fmt.Errorf("%w: its process (pid %d) is gone", ErrNoAgent, rec.PID)
	}
	defer func() {
		if err != nil {
			proc.Release()
		}
	}()
	a.proc, a.group = proc, leadsGroup(rec.PID)
	pctx, cancel := context.WithTimeout(ctx, s.cfg.ProbeTimeout)
	defer cancel()
	var h HealthInfo
	err = a.call(pctx, nil, ControlPort, "GET", "/v1/health", &h)
	var se *StatusError
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &se) && se.StatusCode == 401:
		return nil, fmt.Errorf("%w: what answers at %s refused the node's secret: it is not this node's agent", ErrNoAgent, rec.Control)
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("%w: nothing listens at %s, its control port", ErrNoAgent, rec.Control)
	case err != nil:
		return nil, fmt.Errorf("%w: it does not answer as an agent at %s: %v", ErrNoAgent, rec.Control, err)
	case h.NodeID != nodeID:
		return nil, fmt.Errorf("%w: what answers at %s is the agent of node %q", ErrNoAgent, rec.Control, h.NodeID)
	case h.PID != rec.PID:
		return nil, fmt.Errorf("%w: the agent at %s is pid %d, not pid %d", ErrNoAgent, rec.Control, h.PID, rec.PID)
	case !alive(proc):
		return nil, fmt.Errorf("%w: its process (pid %d) is gone", ErrNoAgent, rec.PID)
	}
	if a.ClusterID == "" {
		a.ClusterID = h.ClusterID
	}
	return a, nil
}

// Orphan is a node state directory that this spawner does not manage.
type Orphan struct {
	NodeID    string
	ClusterID string // from agent.json; empty when it has none
	Dir       string
	PID       int // from agent.json; 0 when it has none
	// Alive tells that a live agent proved it is this node's: Adopt it
	// or Reap it. Otherwise Reason says what is there instead, and Reap
	// only removes the directory.
	Alive  bool
	Reason string
}

// Orphans lists the state directories under StateRoot that this spawner
// does not manage, sorted by node id, each probed as Adopt would (the
// probe goes to the control port, so it does not renew the orphan's
// lease).
func (s *Spawner) Orphans(ctx context.Context) ([]Orphan, error) {
	ents, err := os.ReadDir(s.cfg.StateRoot)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []Orphan
	for _, e := range ents {
		id := e.Name()
		if !e.IsDir() || !validNodeID(id) {
			continue
		}
		s.mu.Lock()
		_, managed := s.agents[id]
		s.mu.Unlock()
		if managed {
			continue
		}
		o := Orphan{NodeID: id, Dir: s.dir(id)}
		if rec, err := readRecord(o.Dir); err == nil {
			o.PID, o.ClusterID = rec.PID, rec.ClusterID
		}
		a, err := s.probe(ctx, id)
		switch {
		case err == nil:
			o.Alive = true
			a.proc.Release()
		case errors.Is(err, ErrNoAgent):
			o.Reason = err.Error()
		default:
			return out, err
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out, nil
}

// Reap ends a node that this spawner does not manage: if its agent proves
// who it is (as for Adopt), it is stopped as Agent.Stop stops one; then the
// state directory is removed. A process that does not prove it is this
// node's agent is never signalled — its pid may belong to another process
// by now — and an agent that merely hangs exits when its lease runs out.
func (s *Spawner) Reap(ctx context.Context, nodeID string) error {
	if err := s.reserve(nodeID); err != nil {
		return err
	}
	defer s.release(nodeID)
	a, err := s.probe(ctx, nodeID)
	switch {
	case err == nil:
		a.Adopted = true
		go a.watchAdopted(s.cfg.PollInterval)
		return a.Stop(ctx)
	case errors.Is(err, ErrNoAgent):
		// The agent is gone; its jobs may not be (each is checked to be
		// still that job before it is killed).
		killRecordedJobs(s.dir(nodeID))
		return os.RemoveAll(s.dir(nodeID))
	default:
		return err
	}
}

// Agents returns the agents this spawner manages.
func (s *Spawner) Agents() []*Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Agent, 0, len(s.agents))
	for _, a := range s.agents {
		if a != nil {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

// StopAll stops every agent the spawner started or adopted, at once, and
// makes later Start and Adopt calls fail: the server calls it when it
// shuts down, so that no agent outlives it.
func (s *Spawner) StopAll(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, a := range s.Agents() {
		wg.Go(func() {
			if err := a.Stop(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Detach stops managing the agents without stopping them, as a server
// about to be replaced by a new one would: their leases are no longer
// renewed, so each exits when its lease runs out unless another spawner
// adopts it first. Later Start and Adopt calls fail.
func (s *Spawner) Detach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for id, a := range s.agents {
		if a != nil {
			a.endLease()
			delete(s.agents, id)
		}
	}
}
