package nodeagent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Agent is a node agent process that a Spawner manages: one it started or
// one it adopted. The exported fields never change; the methods are safe
// for concurrent use. The Secret field prints and logs as [REDACTED].
type Agent struct {
	NodeID    string
	ClusterID string
	PID       int
	// Management and Control are the agent's real loopback listeners: the
	// targets of fabric.Expose for the node's ports 29876 and 29877.
	Management netip.AddrPort
	Control    netip.AddrPort
	StartedAt  time.Time
	Secret     Secret
	// Adopted marks an agent that another spawner started (Spawner.Adopt).
	Adopted bool

	sp       *Spawner
	dir      string
	proc     *os.Process
	group    bool          // signals go to the agent's process group
	done     chan struct{} // closed when the process exited
	err      error         // why; set before done closes
	stopping atomic.Bool
	quit     chan struct{} // closed: stop renewing the lease
	quitOnce sync.Once
}

// Dir returns the node's state directory.
func (a *Agent) Dir() string { return a.dir }

// Done is closed when the agent process has exited, whatever the cause.
//
// For an agent this spawner started it closes as soon as the process
// exits (the spawner waits for its child). An adopted agent is not this
// process's child: its liveness is polled every
// SpawnerConfig.PollInterval through a process handle (on Linux a pidfd,
// which a reused pid cannot fool), and a zombie counts as exited.
func (a *Agent) Done() <-chan struct{} { return a.done }

// Err returns nil while the agent runs and an *ExitError once Done is
// closed.
func (a *Agent) Err() error {
	select {
	case <-a.done:
		return a.err
	default:
		return nil
	}
}

func (a *Agent) String() string {
	return fmt.Sprintf("node agent %s (cluster %s, pid %d, management %s, control %s)", a.NodeID, a.ClusterID, a.PID, a.Management, a.Control)
}

// GoString keeps %#v from printing the internals.
func (a *Agent) GoString() string { return a.String() }

// LogValue implements slog.LogValuer.
func (a *Agent) LogValue() slog.Value {
	return slog.GroupValue(slog.String("node", a.NodeID), slog.String("cluster", a.ClusterID), slog.Int("pid", a.PID),
		slog.String("management", a.Management.String()), slog.String("control", a.Control.String()), slog.Bool("adopted", a.Adopted))
}

// ExitError is why an agent's process is gone.
type ExitError struct {
	NodeID string
	PID    int
	// Status is the process's exit status ("exit status 1", "signal:
	// killed"); an adopted agent's is unknown.
	Status string
	// Stopped tells that Stop ended it.
	Stopped bool
	// LastLog is the last line of agent.log, which says why the agent
	// exited when it exited by itself (a lease that expired).
	LastLog string
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("node agent %s (pid %d) exited: %s", e.NodeID, e.PID, e.Status)
	if e.Stopped {
		s += ", as it was asked to"
	}
	if e.LastLog != "" {
		s += "; its log ends with: " + e.LastLog
	}
	return s
}

// exited records the end of the process: it kills what is left of its
// process group and the process groups of its jobs that are still theirs
// (no process outlives its agent), and closes done.
func (a *Agent) exited(ps *os.ProcessState) {
	if a.group {
		kill(a.proc, true)
	}
	killRecordedJobs(a.dir)
	status := "gone (not a child of this server, so its exit status is unknown)"
	if ps != nil {
		status = ps.String()
	}
	a.err = &ExitError{NodeID: a.NodeID, PID: a.PID, Status: status, Stopped: a.stopping.Load(),
		LastLog: lastLine(filepath.Join(a.dir, logFile))}
	a.endLease()
	close(a.done)
	if a.sp != nil && !a.stopping.Load() {
		a.sp.log.Warn("node agent exited", "agent", a, "error", a.err)
	}
}

// watchAdopted polls an adopted agent's liveness until it is gone.
func (a *Agent) watchAdopted(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if !alive(a.proc) {
			a.exited(nil)
			return
		}
	}
}

// keepalive renews the agent's lease over loopback until Stop, Detach or
// its exit.
func (a *Agent) keepalive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.quit:
			return
		case <-a.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(every, 30*time.Second))
		_, err := a.Renew(ctx, nil)
		cancel()
		if err != nil && a.Err() == nil && !a.stopping.Load() {
			a.sp.log.Warn("node agent: renewing the lease failed", "agent", a, "error", err)
		}
	}
}

func (a *Agent) endLease() { a.quitOnce.Do(func() { close(a.quit) }) }

// killWait bounds the wait for an exit after SIGKILL.
const killWait = 10 * time.Second

// Stop stops the agent: SIGTERM to its process group, up to
// SpawnerConfig.StopGrace (or until ctx ends) for it to exit, then SIGKILL
// to the group; then it removes the node's state directory. Stopping an
// agent that already exited only removes the directory.
func (a *Agent) Stop(ctx context.Context) error {
	a.stopping.Store(true)
	a.endLease()
	if a.Err() == nil {
		// An adopted agent is signalled only while its handle says it
		// lives: its pid could name another process once it is gone.
		if !a.Adopted || alive(a.proc) {
			if err := terminate(a.proc, a.group); err != nil {
				a.sp.log.Warn("node agent: SIGTERM failed", "agent", a, "error", err)
			}
		}
		grace := time.NewTimer(a.sp.cfg.StopGrace)
		select {
		case <-a.done:
		case <-grace.C:
		case <-ctx.Done():
		}
		grace.Stop()
		if a.Err() == nil && (!a.Adopted || alive(a.proc)) {
			if err := kill(a.proc, a.group); err != nil {
				return fmt.Errorf("nodeagent: stopping %v: %w", a, err)
			}
		}
		t := time.NewTimer(killWait)
		defer t.Stop()
		select {
		case <-a.done:
		case <-t.C:
			return fmt.Errorf("nodeagent: %v did not exit within %v of SIGKILL", a, killWait)
		}
	}
	a.sp.forget(a)
	if err := os.RemoveAll(a.dir); err != nil {
		return fmt.Errorf("nodeagent: removing the state of node %s: %w", a.NodeID, err)
	}
	return nil
}

// lastLine returns the last non-empty line of a file, shortened.
func lastLine(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	const tail = 4 << 10
	var off int64
	if fi, err := f.Stat(); err == nil && fi.Size() > tail {
		off = fi.Size() - tail
	}
	b := make([]byte, tail)
	n, _ := f.ReadAt(b, off)
	b = bytes.TrimRight(b[:n], "\r\n\t ")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	if len(b) > 1000 {
		b = append(b[:1000:1000], "..."...)
	}
	return string(b)
}
