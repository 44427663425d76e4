//go:build !unix

package nodeagent

import (
	"errors"
	"os"
	"os/exec"
)

// Without process groups an agent is one process: stopping it kills it.

const groups = false

func newGroup(*exec.Cmd) {}

func leadsGroup(int) bool { return false }

func terminate(p *os.Process, _ bool) error { return kill(p, false) }

func kill(p *os.Process, _ bool) error {
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// alive reports whether p is running, as well as it can be told without
// Unix signals: a process is taken as alive while it can be found by pid.
func alive(p *os.Process) bool {
	q, err := os.FindProcess(p.Pid)
	if err != nil {
		return false
	}
	q.Release()
	return true
}

func checkPrivate(os.FileInfo) error { return nil }
