//go:build unix

package nodeagent

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// harness starts agents for one test and makes sure that none outlives
// it, even when the test or the spawner fails.
type harness struct {
	t    *testing.T
	root string

	mu       sync.Mutex
	spawners []*Spawner
	groups   []int // the process groups of the agents started
	log      lockedBuffer
}

// lockedBuffer collects the spawners' logs; it outlives the test, unlike
// t.Log.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, root: t.TempDir()}
	t.Cleanup(h.cleanup) // after t.TempDir's: runs before it
	return h
}

func (h *harness) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, sp := range h.spawners {
		if err := sp.StopAll(ctx); err != nil {
			h.t.Errorf("StopAll: %v", err)
		}
	}
	for _, g := range h.groups {
		if live := liveGroupMembers(g); len(live) > 0 {
			syscall.Kill(-g, syscall.SIGKILL)
			h.t.Errorf("processes %v of agent group %d outlived the test", live, g)
		} else if !gone(g) { // the agent, out of its group
			syscall.Kill(g, syscall.SIGKILL)
			h.t.Errorf("agent %d outlived the test", g)
		}
	}
}

// agentCommand re-executes the test binary as `vnetml agent`.
func agentCommand(t *testing.T, env ...string) func(context.Context, ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, exe, args...)
		// Under -race, a process sleeps a second before it exits unless
		// told not to.
		cmd.Env = append(append(os.Environ(), envAgent+"=1", "GORACE=atexit_sleep_ms=0"), env...)
		return cmd
	}
}

// spawner returns a spawner over the harness's state root.
func (h *harness) spawner(cfg SpawnerConfig) *Spawner {
	if cfg.Command == nil {
		cfg.Command = agentCommand(h.t)
	}
	cfg.StateRoot = h.root
	if cfg.Logger == nil {
		// A real handler, so that what is logged is read under -race.
		cfg.Logger = slog.New(slog.NewTextHandler(&h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sp := NewSpawner(cfg)
	h.mu.Lock()
	h.spawners = append(h.spawners, sp)
	h.mu.Unlock()
	return sp
}

func (h *harness) start(sp *Spawner, node string) *Agent {
	h.t.Helper()
	a, err := sp.Start(testCtx(h.t), NodeSpec{NodeID: node, ClusterID: "cluster-1"})
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.groups = append(h.groups, a.PID)
	h.mu.Unlock()
	return a
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitDone(t *testing.T, a *Agent, within time.Duration) {
	t.Helper()
	select {
	case <-a.Done():
		return
	default:
	}
	select {
	case <-a.Done():
	case <-time.After(within):
		t.Fatalf("%v did not exit within %v", a, within)
	}
}

// waitGone waits until pid is gone: no such process, or a zombie (which an
// init that does not reap may keep forever).
func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs after %v", pid, within)
		}
		<-tick.C
	}
}

func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) || zombie(pid)
}

// liveGroupMembers returns the processes of group g that are not zombies.
func liveGroupMembers(g int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil { // no /proc: ask the kernel whether the group exists
		if syscall.Kill(-g, 0) == nil {
			return []int{g}
		}
		return nil
	}
	var live []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(g) {
			live = append(live, pid)
		}
	}
	return live
}

// childOf returns the pid of the job stand-in the agent pid started.
func childOf(t *testing.T, dir string, pid int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(pid)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// exitedPID returns the pid of a process that has exited and been reaped.
func exitedPID(t *testing.T) int {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(exe, "-test.run=^$")
	c.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

func exitError(t *testing.T, a *Agent) *ExitError {
	t.Helper()
	var e *ExitError
	if !errors.As(a.Err(), &e) {
		t.Fatalf("Err() = %v, want an *ExitError", a.Err())
	}
	return e
}
