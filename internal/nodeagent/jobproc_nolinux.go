//go:build !linux

package nodeagent

import "os/exec"

// setDeathSignal does nothing where the kernel has no death signal: there
// a job is ended by its agent, or by the spawner from its procRecord.
func setDeathSignal(*exec.Cmd) {}

// waitExited cannot wait without reaping here: what the job's leader
// leaves in its group is killed once a process of the group proves it is
// the job's (procRecord.kill).
func waitExited(int) bool { return false }
