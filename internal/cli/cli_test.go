package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// example is the shipped example the README's main command runs.
const example = "../../examples/secure-network/network.json"

// result is what one run of the command tree printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the command tree with args, stdin empty.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runIn(t, "", args...)
}

// runIn runs the command tree with args and the given stdin.
func runIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), code}
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// wantOK fails the test unless r exited 0 with an empty stderr.
func wantOK(t *testing.T, r result) {
	t.Helper()
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// wantFail fails the test unless r exited with code and its stderr holds
// every one of want.
func wantFail(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d; stderr:\n%s", r.code, code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
		}
	}
}

func TestHelpMentionsEveryFlag(t *testing.T) {
	common := []string{"--resources FILE", "--service-tags FILE", "-o, --output json|table", "--nic NIC"}
	cases := []struct {
		path  string
		flags []string
	}{
		{"network watcher test-ip-flow", append(common, "--direction Inbound|Outbound", "--protocol TCP|UDP",
			"--local IP:PORT", "--remote IP:PORT", "--queries FILE")},
		{"network watcher show-next-hop", append(common, "--source-ip IP", "--dest-ip IP")},
		{"network nic list-effective-nsg", common},
		{"network nic show-effective-route-table", common},
		{"version", []string{"-o, --output json|table"}},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			r := run(t, append(strings.Fields(tc.path), "--help")...)
			wantOK(t, r)
			if !strings.Contains(r.stdout, "Usage:\n  vnetml "+tc.path) {
				t.Errorf("help has no usage line for %q:\n%s", tc.path, r.stdout)
			}
			for _, f := range tc.flags {
				if !strings.Contains(r.stdout, f) {
					t.Errorf("help does not mention %q:\n%s", f, r.stdout)
				}
			}
		})
	}
}

func TestHelpOfGroups(t *testing.T) {
	cases := map[string][]string{
		"":                {"network", "version"},
		"network":         {"watcher", "nic"},
		"network watcher": {"test-ip-flow", "show-next-hop"},
		"network nic":     {"list-effective-nsg", "show-effective-route-table"},
	}
	for path, subs := range cases {
		t.Run(path, func(t *testing.T) {
			for _, args := range [][]string{strings.Fields(path), append(strings.Fields(path), "--help")} {
				r := run(t, args...)
				wantOK(t, r)
				if strings.Contains(r.stdout, "[flags]") {
					t.Errorf("%q: a group's usage offers to run it with flags:\n%s", args, r.stdout)
				}
				for _, s := range subs {
					if !strings.Contains(r.stdout, "\n  "+s+" ") {
						t.Errorf("%q: help does not list %q:\n%s", args, s, r.stdout)
					}
				}
			}
		})
	}
}

// Every command of the tree explains itself: a short line, and for the
// commands that do the work, an example.
func TestEveryCommandDocumented(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" {
			t.Errorf("%s has no Short help", c.CommandPath())
		}
		if !c.HasSubCommands() && c.Name() != "version" && c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCmd(&env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}))
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown command", []string{"network", "wat"}, []string{`"wat" is not a command of "vnetml network"`, "did you mean watcher", "vnetml network --help"}},
		{"unknown root command", []string{"netwrk"}, []string{`"netwrk" is not a command of "vnetml"`, "did you mean network"}},
		{"unknown flag", []string{"network", "watcher", "test-ip-flow", "--bogus"}, []string{"(--bogus)", "unknown flag", "test-ip-flow --help"}},
		{"flag without value", []string{"network", "nic", "list-effective-nsg", "--nic"}, []string{"(--nic)", "needs an argument"}},
		{"positional argument", []string{"network", "watcher", "test-ip-flow", "--resources", "a.json", "b.json"}, []string{`unexpected argument "b.json"`, "--resources a.json --resources b.json"}},
		{"bad output", []string{"network", "nic", "list-effective-nsg", "--resources", example, "--nic", "node0", "-o", "yaml"}, []string{"(--output)", `"yaml" is not supported`}},
		{"missing resources and nic", []string{"network", "nic", "show-effective-route-table"}, []string{"2 errors in the command line", "(--resources)", "(--nic)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			wantFail(t, r, exitInput, tc.want...)
			if r.stdout != "" {
				t.Errorf("stdout not empty:\n%s", r.stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	r := run(t, "version")
	wantOK(t, r)
	if !strings.HasPrefix(r.stdout, "vnetml ") {
		t.Errorf("version printed %q", r.stdout)
	}
	r = run(t, "version", "-o", "json")
	wantOK(t, r)
	for _, f := range []string{`"version":`, `"go":`, `"platform":`} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("version -o json lacks %s:\n%s", f, r.stdout)
		}
	}
	r = run(t, "--version")
	wantOK(t, r)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// A failure to print the answer is not the user's fault: exit 1.
func TestInternalErrorExits1(t *testing.T) {
	var errb bytes.Buffer
	code := Run(context.Background(), []string{"network", "watcher", "test-ip-flow", "--resources", example,
		"--nic", "node0", "--direction", "Inbound", "--protocol", "TCP", "--local", "10.0.0.4:29876", "--remote", "198.18.3.9:443", "-o", "json"},
		strings.NewReader(""), failingWriter{}, &errb)
	if code != exitInternal {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInternal, errb.String())
	}
	if !strings.Contains(errb.String(), "internal error: disk full") {
		t.Errorf("stderr: %s", errb.String())
	}
}

func TestMainRunsTheTree(t *testing.T) {
	var out bytes.Buffer
	if code := Main([]string{"version"}, strings.NewReader(""), &out, io.Discard); code != 0 {
		t.Fatalf("Main exit %d", code)
	}
}
