package daemon

import (
	"encoding/json"
	"os"
	"syscall"
	"testing"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/client"
)

// pidScript answers each call with the process that ran it.
const pidScript = `import os

def init():
    pass

def run(raw_data):
    return {"pid": os.getpid()}
`

// TestServiceSurvivesServerKill: a server killed with SIGKILL leaves its
// inference cluster's agents, and their replicas, running; the next server
// adopts them: the service is Healthy again, served by the very replica
// process that served it before, never restarted.
func TestServiceSurvivesServerKill(t *testing.T) {
	needPython(t)
	dir := t.TempDir()
	// The last server is killed too: its agents, left behind by design,
	// are stopped here (cleanups run last-in first-out, so after it).
	t.Cleanup(func() { killAgents(t, dir) })
	child := startServer(t, dir)
	c, err := client.New(child.url, child.token, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &liveServer{t: t, dir: dir, c: c}
	s.quickstart(0, 1, nil)
	p := s.deployFromFile(`{"weights": [1, -1], "bias": 0}`, pidScript, "PublicIp", 1)
	if p.State != api.ServiceHealthy {
		t.Fatalf("service %s: %+v", p.State, p.Error)
	}
	var keys api.ServiceKeys
	if err := s.c.Post(t.Context(), qsService+"/listKeys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	pid := func() int {
		status, body := s.score(t, "203.0.113.10", p.ScoringURI, keys.PrimaryKey, `{"data": [[1, 0]]}`)
		var out struct{ Pid int }
		if status != 200 || json.Unmarshal([]byte(body), &out) != nil || out.Pid == 0 {
			t.Fatalf("scoring: %d %s", status, body)
		}
		return out.Pid
	}
	before := pid()

	child.kill()
	child = startServer(t, dir)
	if s.c, err = client.New(child.url, child.token, client.Options{}); err != nil {
		t.Fatal(err)
	}
	p = s.waitService(func(p api.ServiceProperties) bool {
		return p.State == api.ServiceHealthy || p.State == api.ServiceFailed
	})
	if p.State != api.ServiceHealthy {
		t.Fatalf("after the restart the service is %s: %+v", p.State, p.Error)
	}
	if after := pid(); after != before {
		t.Fatalf("after the restart process %d serves the calls, not %d: the replica was started again, not adopted", after, before)
	}
	if len(p.Replicas) != 1 || p.Replicas[0].Restarts != 0 {
		t.Errorf("replicas after the restart: %+v, want one, never restarted", p.Replicas)
	}
	if err := syscallKill0(before); err != nil {
		t.Errorf("the replica process %d: %v", before, err)
	}
}

// syscallKill0 reports whether process pid exists.
func syscallKill0(pid int) error {
	proc, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return proc.Signal(syscall.Signal(0))
}
