package nodeagent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const testSecret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestCommandRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
		return p
	}
	good := write("secret", testSecret+"\n", 0o600)
	open := write("open", testSecret, 0o644)
	short := write("short", "abc", 0o600)
	args := func(over ...string) []string {
		a := map[string]string{"--node-id": "node-1", "--cluster": "c", "--token-file": good, "--state-dir": dir}
		for i := 0; i+1 < len(over); i += 2 {
			a[over[i]] = over[i+1]
		}
		var out []string
		for k, v := range a {
			if v != "-" {
				out = append(out, k, v)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
		unix bool
	}{
		{"no node id", args("--node-id", "-"), "--node-id", false},
		{"a path as node id", args("--node-id", "../x"), "--node-id", false},
		{"no cluster", args("--cluster", "-"), "--cluster", false},
		{"no token file", args("--token-file", "-"), "--token-file", false},
		{"a token file others may read", args("--token-file", open), "0600", true},
		{"a short secret", args("--token-file", short), "shorter", false},
		{"no state dir", args("--state-dir", filepath.Join(dir, "nope")), "--state-dir", false},
		{"no lease", append(args(), "--lease", "0s"), "--lease", false},
		{"an argument", append(args(), "extra"), "unknown command", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unix && runtime.GOOS == "windows" {
				t.Skip("file modes are Unix's")
			}
			var stdout, stderr bytes.Buffer
			cmd := Command(&stdout, &stderr)
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one about %s", err, tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("wrote %q to stdout: the ready line of an agent that does not run", stdout.String())
			}
		})
	}
}

// The agent in this process: its flags from the environment; it exits
// when its context ends and takes agent.json with it.
func TestCommandRunsFromEnvAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "secret")
	if err := os.WriteFile(token, []byte(testSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VNETML_AGENT_NODE_ID", "node-env")
	t.Setenv("VNETML_AGENT_CLUSTER", "cluster-env")
	t.Setenv("VNETML_AGENT_TOKEN_FILE", token)
	t.Setenv("VNETML_AGENT_STATE_DIR", dir)
	t.Setenv("VNETML_AGENT_LEASE", "1h")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	actx, stop := context.WithCancel(ctx)
	defer stop()
	pr, pw := io.Pipe()
	cmd := Command(pw, io.Discard)
	cmd.SetArgs([]string{})
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.ExecuteContext(actx)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no ready line: %v (%v)", err, <-exited)
	}
	go io.Copy(io.Discard, pr)
	var rd readyLine
	if err := json.Unmarshal(line, &rd); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	if rd.PID != os.Getpid() || !rd.Management.Addr().IsLoopback() || !rd.Control.Addr().IsLoopback() {
		t.Errorf("ready line %+v", rd)
	}
	rec, err := readRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.NodeID != "node-env" || rec.ClusterID != "cluster-env" || rec.Management != rd.Management || rec.Control != rd.Control {
		t.Errorf("agent.json = %+v, want what the ready line says", rec)
	}
	a := &Agent{NodeID: "node-env", Management: rd.Management, Control: rd.Control, Secret: testSecret}
	li, err := a.Renew(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if li.LeaseSeconds != time.Hour.Seconds() {
		t.Errorf("lease %v s, want $VNETML_AGENT_LEASE's hour", li.LeaseSeconds)
	}

	stop()
	if err := <-exited; err != nil {
		t.Errorf("agent: %v, want a clean exit", err)
	}
	if _, err := os.Stat(filepath.Join(dir, recordFile)); !os.IsNotExist(err) {
		t.Errorf("agent.json outlived the agent: %v", err)
	}
}

func TestCommandIsHidden(t *testing.T) {
	cmd := Command(io.Discard, io.Discard)
	if !cmd.Hidden || cmd.Name() != "agent" {
		t.Errorf("command %q hidden=%v: want a hidden `agent`", cmd.Name(), cmd.Hidden)
	}
	for _, f := range []string{"node-id", "cluster", "token-file", "state-dir", "lease", "job-grace"} {
		fl := cmd.Flags().Lookup(f)
		if fl == nil {
			t.Errorf("no --%s", f)
		} else if !strings.Contains(fl.Usage, envOf[f]) {
			t.Errorf("--%s does not name $%s", f, envOf[f])
		}
	}
}
