//go:build !unix

package nodeagent

import (
	"fmt"
	"os"
)

// Without process groups and /proc, a job is its process alone: its agent
// kills it, and nothing can prove later that a pid is still the job's.

func procStart(int) (uint64, bool) { return 0, false }

func (procRecord) ours() bool { return false }

func killGroupID(int) {}

func exitStatus(ps *os.ProcessState) (int, string) {
	code := ps.ExitCode()
	return code, fmt.Sprintf("exited with status %d", code)
}
