package nodeagent

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill the job's leader when the agent
// dies, however it dies (SIGKILL included).
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
