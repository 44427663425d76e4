//go:build unix

package nodeagent

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procStat is what the agent reads of /proc/<pid>/stat.
type procStat struct {
	state byte
	pgrp  int
	start uint64 // clock ticks after boot
}

func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice num_threads
	// itrealvalue starttime ...: comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return procStat{}, false
	}
	pgrp, err1 := strconv.Atoi(f[2])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || len(f[0]) != 1 {
		return procStat{}, false
	}
	return procStat{state: f[0][0], pgrp: pgrp, start: start}, true
}

// procStart returns a process's start time; false where /proc has none.
func procStart(pid int) (uint64, bool) {
	st, ok := readProcStat(pid)
	return st.start, ok
}

// ours reports whether the group r.PGID is still the job's: its leader,
// with the start time recorded, or a process carrying the job's tag. A
// group id is not reused while any process of the group exists, so a
// proof by one member holds for the group. Without /proc nothing proves
// it, and nothing is killed.
func (r procRecord) ours() bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	tag := []byte(jobTagEnv + "=" + r.Tag + "\x00")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := readProcStat(pid)
		if !ok || st.pgrp != r.PGID {
			continue
		}
		if pid == r.PGID && r.Start != 0 && st.start == r.Start {
			return true
		}
		if st.state == 'Z' || r.Tag == "" {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && (bytes.HasPrefix(env, tag) || bytes.Contains(env, append([]byte{0}, tag...))) {
			return true
		}
	}
	return false
}

func killGroupID(pgid int) { syscall.Kill(-pgid, syscall.SIGKILL) }

// exitStatus describes how the job's leader ended, and its exit code (a
// shell's 128+n for signal n).
func exitStatus(ps *os.ProcessState) (int, string) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig := ws.Signal()
		return 128 + int(sig), fmt.Sprintf("was killed by signal %d (%v)", int(sig), sig)
	}
	code := ps.ExitCode()
	return code, fmt.Sprintf("exited with status %d", code)
}
