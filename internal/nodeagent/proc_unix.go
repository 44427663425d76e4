//go:build unix

package nodeagent

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// groups tells whether agents get process groups of their own.
const groups = true

// newGroup makes cmd start in a process group of its own, whose id is its
// pid.
func newGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
}

// leadsGroup reports whether pid leads a process group (its own).
func leadsGroup(pid int) bool {
	g, err := syscall.Getpgid(pid)
	return err == nil && g == pid
}

// terminate asks p (and its process group, if group) to exit.
func terminate(p *os.Process, group bool) error { return sendSignal(p, group, syscall.SIGTERM) }

// kill kills p (and its process group, if group). With group, it also
// kills what is left of the group after p exited.
func kill(p *os.Process, group bool) error { return sendSignal(p, group, syscall.SIGKILL) }

func sendSignal(p *os.Process, group bool, sig syscall.Signal) error {
	var err error = syscall.ESRCH
	if group {
		err = syscall.Kill(-p.Pid, sig)
	}
	if errors.Is(err, syscall.ESRCH) { // no group (any more): the process alone
		err = p.Signal(sig)
	}
	if errors.Is(err, syscall.ESRCH) || errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// alive reports whether p is running. p comes from os.FindProcess, which on
// Linux holds a pidfd: the answer is about that very process even if its
// pid was reused. A zombie (dead, not reaped yet: its parent, the server
// that died, was replaced by an init that may never reap) is not alive.
func alive(p *os.Process) bool {
	err := p.Signal(syscall.Signal(0))
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !zombie(p.Pid)
}

// zombie reports whether pid is a zombie; false where /proc has no stat.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// checkPrivate refuses a secret file that others may read.
func checkPrivate(fi os.FileInfo) error {
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("mode %04o lets others read the node secret: it must be 0600", m)
	}
	return nil
}
