package nodeagent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// config is what `vnetml agent` runs with.
type config struct {
	NodeID    string
	ClusterID string
	TokenFile string
	StateDir  string
	Lease     time.Duration
	// JobGrace is how long a job has between SIGTERM and SIGKILL when it
	// is canceled or runs out of time, and a replica when it is stopped.
	JobGrace time.Duration
	// ReplicaInitTimeout bounds a replica's start, init() included;
	// ReplicaBackoff is the wait before a crashed replica's first restart.
	ReplicaInitTimeout time.Duration
	ReplicaBackoff     time.Duration
	// JobUID, when not negative, is the user jobs and replicas run as
	// (jobuser_unix.go); negative: the agent's own.
	JobUID int
}

func (c *config) validate() error {
	switch {
	case !validNodeID(c.NodeID):
		return fmt.Errorf("--node-id %q: give the node's id (letters, digits, '.', '_', '-'; at most 128)", c.NodeID)
	case c.ClusterID == "":
		return errors.New("--cluster: give the cluster's id")
	case c.TokenFile == "":
		return errors.New("--token-file: give the file holding the node secret (never the secret itself)")
	case c.StateDir == "":
		return errors.New("--state-dir: give the node's state directory")
	case c.Lease <= 0:
		return fmt.Errorf("--lease %v: give a positive duration, such as 10m", c.Lease)
	case c.JobGrace <= 0:
		return fmt.Errorf("--job-grace %v: give a positive duration, such as 10s", c.JobGrace)
	case c.ReplicaInitTimeout <= 0:
		return fmt.Errorf("--replica-init-timeout %v: give a positive duration, such as 5m", c.ReplicaInitTimeout)
	case c.ReplicaBackoff <= 0:
		return fmt.Errorf("--replica-backoff %v: give a positive duration, such as 1s", c.ReplicaBackoff)
	}
	if fi, err := os.Stat(c.StateDir); err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("--state-dir %s: not a directory", c.StateDir)
	}
	return nil
}

// validNodeID reports whether id can name a node and its state directory.
func validNodeID(id string) bool {
	if id == "" || len(id) > 128 || id[0] == '.' || id[0] == '-' {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// readSecret reads the node secret from a file only its owner may read.
func readSecret(name string) ([]byte, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	if err := checkPrivate(fi); err != nil {
		return nil, fmt.Errorf("--token-file %s: %w", name, err)
	}
	b, err := readSmall(name)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) < minSecretLen {
		return nil, fmt.Errorf("--token-file %s: the secret is shorter than %d characters", name, minSecretLen)
	}
	return b, nil
}

// errLeaseExpired is why an agent whose server stopped renewing exits.
type errLeaseExpired struct{ lease time.Duration }

func (e errLeaseExpired) Error() string {
	return fmt.Sprintf("lease expired: no authenticated management request for %v; the server that started this agent is gone or stopped renewing", e.lease)
}

// runAgent runs the node agent until ctx ends (a signal: it returns nil)
// or its lease runs out. It writes the ready line to ready once both
// listeners listen and agent.json is written, and never writes to ready
// again.
func runAgent(ctx context.Context, c config, ready io.Writer, log *slog.Logger) error {
	if err := c.validate(); err != nil {
		return err
	}
	secret, err := readSecret(c.TokenFile)
	if err != nil {
		return err
	}
	a := &agent{cfg: c, secret: secret, pid: os.Getpid(), start: time.Now()}
	a.lease.d, a.lease.start = c.Lease, a.start

	var lc net.ListenConfig
	mln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer mln.Close()
	cln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer cln.Close()
	rd := readyLine{PID: a.pid, Management: mln.Addr().(*net.TCPAddr).AddrPort(), Control: cln.Addr().(*net.TCPAddr).AddrPort()}

	// Jobs and replicas of an agent of this node that died are ended, and
	// their directories removed, before this one runs any.
	if killed := killRecordedJobs(c.StateDir); len(killed) > 0 {
		log.Warn("node agent: killed the jobs and replicas a previous agent of this node left", "groups", killed)
	}
	os.RemoveAll(filepath.Join(c.StateDir, jobsDir))
	os.RemoveAll(filepath.Join(c.StateDir, replicasDir))
	if a.jobs, err = newJobs(c.StateDir, c.NodeID, c.JobGrace, c.JobUID, log); err != nil {
		return err
	}
	defer a.jobs.shutdown(context.Background()) // when the agent fails to start; a no-op after the one below
	// The replicas leave the node as the jobs do: through the jobs' uplink
	// and node-local proxy, which outlive them.
	a.replicas = newReplicas(c.StateDir, c.NodeID, replicaConfig{grace: c.JobGrace, initTimeout: c.ReplicaInitTimeout, backoff: c.ReplicaBackoff, uid: c.JobUID},
		a.jobs.up, a.jobs.proxy, log)
	defer a.replicas.shutdown()

	rec := record{NodeID: c.NodeID, ClusterID: c.ClusterID, PID: a.pid, Management: rd.Management, Control: rd.Control, StartedAt: a.start.UTC()}
	if err := writeRecord(c.StateDir, rec); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(c.StateDir, recordFile))

	mgmt, ctrl := a.server(true), a.server(false)
	served := make(chan error, 2)
	go func() { served <- mgmt.Serve(mln) }()
	go func() { served <- ctrl.Serve(cln) }()

	lctx, stopLease := context.WithCancel(ctx)
	defer stopLease()
	expired := make(chan struct{})
	go func() {
		if a.lease.wait(lctx) {
			close(expired)
		}
	}()

	b, _ := json.Marshal(rd)
	if _, err := ready.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing the ready line: %w", err)
	}
	log.Info("node agent ready", "cluster", c.ClusterID, "pid", a.pid, "management", rd.Management, "control", rd.Control, "lease", c.Lease)

	var exit error
	select {
	case <-ctx.Done():
		log.Info("node agent stopping: asked to")
	case <-expired:
		exit = errLeaseExpired{c.Lease}
	case err := <-served:
		exit = fmt.Errorf("serving: %w", err)
	}
	// The replicas and jobs die at once; what the jobs have to report
	// gets a few seconds.
	a.replicas.shutdown()
	jctx, jcancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	a.jobs.shutdown(jctx)
	jcancel()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	mgmt.Shutdown(sctx)
	ctrl.Shutdown(sctx)
	if exit != nil {
		// The last line of agent.log: the spawner reports it as the
		// reason of the exit.
		log.Error("node agent exiting: " + exit.Error())
	} else {
		log.Info("node agent exiting: stopped")
	}
	return exit
}

// agent is the running agent's state.
type agent struct {
	cfg      config
	secret   []byte
	pid      int
	start    time.Time
	lease    lease
	jobs     *jobs
	replicas *replicas
}

// server serves one port. Every request must carry the node secret;
// on the management port an authenticated request renews the lease.
func (a *agent) server(management bool) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", a.health)
	if management {
		mux.HandleFunc("POST /v1/lease", a.renew)
	} else {
		a.jobRoutes(mux)
		a.replicaRoutes(mux)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vnetml-agent"`)
			writeJSON(w, http.StatusUnauthorized, armerror.Envelope{Error: armerror.New("Unauthorized", "",
				"the node agent requires Authorization: Bearer <node secret>; only the server that started this node has it")})
			return
		}
		if management {
			a.lease.renew()
		}
		mux.ServeHTTP(w, r)
	})
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

func (a *agent) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const scheme = "Bearer " // case-insensitive, as RFC 9110 says
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(scheme):]), a.secret) == 1
}

func (a *agent) health(w http.ResponseWriter, _ *http.Request) {
	state := StateIdle
	if a.jobs != nil && a.jobs.busy() {
		state = StateRunning
	}
	writeJSON(w, http.StatusOK, HealthInfo{
		NodeID: a.cfg.NodeID, ClusterID: a.cfg.ClusterID, State: state,
		UptimeSeconds: int64(time.Since(a.start) / time.Second), PID: a.pid,
	})
}

func (a *agent) renew(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, LeaseInfo{NodeID: a.cfg.NodeID, LeaseSeconds: a.lease.d.Seconds(), ExpiresAt: a.lease.renew().UTC()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v) // cannot fail: plain structs
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// lease ends the agent when no renewal came for d.
type lease struct {
	d     time.Duration
	start time.Time
	last  atomic.Int64 // the last renewal, as time since start (monotonic)
}

// renew renews the lease and returns when it now expires.
func (l *lease) renew() time.Time {
	now := time.Now()
	l.last.Store(int64(now.Sub(l.start)))
	return now.Add(l.d)
}

// wait returns true when the lease expired, false when ctx ended first.
func (l *lease) wait(ctx context.Context) bool {
	t := time.NewTimer(l.d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			idle := time.Since(l.start) - time.Duration(l.last.Load())
			if idle >= l.d {
				return true
			}
			t.Reset(l.d - idle)
		}
	}
}
