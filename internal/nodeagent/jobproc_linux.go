package nodeagent

import (
	"os/exec"
	"syscall"
	"unsafe"
)

// setDeathSignal makes the kernel kill the job's leader when the agent
// dies, however it dies (SIGKILL included).
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// waitExited blocks until the child pid has exited, without reaping it
// (waitid with WNOWAIT, as os/exec does before it reaps): until it is
// reaped its pid — the id of the job's process group — cannot be given
// to another process, so what is left of the group is the job's, whether
// or not it carries the job's tag.
func waitExited(pid int) bool {
	const (
		pPID    = 1         // P_PID
		wNOWAIT = 0x1000000 // WNOWAIT
	)
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])),
			syscall.WEXITED|wNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return errno == 0
		}
	}
}
