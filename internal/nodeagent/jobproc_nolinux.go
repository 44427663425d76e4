//go:build !linux

package nodeagent

import "os/exec"

// setDeathSignal does nothing where the kernel has no death signal: there
// a job is ended by its agent, or by the spawner from its procRecord.
func setDeathSignal(*exec.Cmd) {}
