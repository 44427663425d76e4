package nodeagent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary is also the agent: with envAgent set it runs `vnetml
// agent` (the tests' SpawnerConfig.Command re-executes it so), and with
// envSleep it stands in for a job the agent started.
const (
	envAgent = "VNETML_TEST_AGENT"
	// envChildDir makes the agent start a job's stand-in first and write
	// its pid to <dir>/<agent pid>.
	envChildDir = "VNETML_TEST_AGENT_CHILD_DIR"
	envSleep    = "VNETML_TEST_SLEEP"
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(envAgent) == "1":
		os.Exit(agentMain())
	case os.Getenv(envSleep) == "1":
		// A job: it runs until killed (or a minute, should a test leak it).
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func agentMain() int {
	if dir := os.Getenv(envChildDir); dir != "" {
		if err := startChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "test agent:", err)
			return 1
		}
	}
	cmd := Command(os.Stdout, os.Stderr)
	cmd.SetArgs(os.Args[1:])
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "vnetml agent:", err)
		return 1
	}
	return 0
}

// startChild starts a job's stand-in in the agent's process group, as the
// agent will start jobs.
func startChild(dir string) error {
	c := exec.Command(os.Args[0])
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VNETML_TEST_") {
			c.Env = append(c.Env, kv)
		}
	}
	c.Env = append(c.Env, envSleep+"=1", "GORACE=atexit_sleep_ms=0")
	if err := c.Start(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), []byte(strconv.Itoa(c.Process.Pid)), 0o600)
}
