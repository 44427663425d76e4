//go:build !unix

package nodeagent

import (
	"errors"
	"os/exec"
)

func handOver(dir, stateDir string, uid int) error {
	if uid < 0 {
		return nil
	}
	return errors.New("--job-uid is supported on Unix systems only")
}

func runAs(*exec.Cmd, int) {}

func publicPath(path string) string { return path }
