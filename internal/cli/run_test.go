package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
)

// The run commands explain themselves: usage, a long help, an example,
// and every flag with its placeholder.
func TestRunCommandsHelp(t *testing.T) {
	ws := []string{"-w, --workspace WORKSPACE", "-e, --experiment EXPERIMENT", "-g, --resource-group GROUP", "--subscription ID", "--endpoint URL", "--token TOKEN"}
	cases := []struct {
		path  string
		flags []string
	}{
		{"run submit", append(ws, "--compute CLUSTER", "--source DIR", "--script FILE", "--arg ARG", "--env NAME=VALUE", "--datastore NAME",
			"--max-duration DURATION", "--max-retries N", "--run-id ID", "--stream", "--client-address IP", "-o, --output json|table",
			"(--script FILE [--arg ARG]... | -- ARGV...)", "300 MB and 2000 files", ".amlignore", "wait_for_completion(show_output=True)", "Exit status")},
		{"run show", append(ws, "RUN_ID", "-o, --output json|table", "get_details")},
		{"run list", append(ws, "-o, --output json|table", "get_runs")},
		{"run cancel", append(ws, "RUN_ID")},
		{"run logs", append(ws, "RUN_ID", "-f, --follow")},
		{"run metrics", append(ws, "RUN_ID", "-o, --output json|table")},
		{"run download", append(ws, "RUN_ID", "--path PATH", "--dest DIR", "--client-address IP", "outside")},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			r := run(t, append(strings.Fields(tc.path), "--help")...)
			wantOK(t, r)
			if !strings.Contains(r.stdout, "Usage:\n  vnetml "+tc.path+" ") {
				t.Errorf("no usage line:\n%s", r.stdout)
			}
			if !strings.Contains(r.stdout, "Examples:\n  vnetml "+tc.path) {
				t.Errorf("no example:\n%s", r.stdout)
			}
			for _, f := range tc.flags {
				if !strings.Contains(r.stdout, f) {
					t.Errorf("help does not mention %q:\n%s", f, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "poll-interval") {
				t.Errorf("the hidden --poll-interval shows:\n%s", r.stdout)
			}
		})
	}
	r := run(t, "run")
	wantOK(t, r)
	for _, sub := range []string{"submit", "show", "list", "cancel", "logs", "metrics", "download"} {
		if !strings.Contains(r.stdout, "\n  "+sub+" ") {
			t.Errorf("vnetml run does not list %s:\n%s", sub, r.stdout)
		}
	}
	if !strings.Contains(run(t, "--help").stdout, "\n  run ") {
		t.Error("vnetml --help does not list run")
	}
}

// Bad input is refused before anything is packed or sent, each problem
// naming its flag, all at once.
func TestRunSubmitUsage(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "train.py"), []byte("print(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"run", "submit", "-w", "ws", "-e", "exp", "--compute", "c", "--source", src}
	with := func(args ...string) []string { return append(append([]string(nil), base...), args...) }
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"script and argv", with("--script", "train.py", "--", "python3", "train.py"), []string{"(--script)", "--script and a command after -- cannot be combined"}},
		{"neither script nor argv", with(), []string{"(--script)", "give the script to run with --script FILE", "or the command after --"}},
		{"arg with argv", with("--arg", "x", "--", "sh", "run.sh"), []string{"(--arg)", "--arg goes with --script"}},
		{"env without =", with("--script", "train.py", "--env", "MODE"), []string{"(--env)", `--env "MODE" is not NAME=VALUE`}},
		{"env without name", with("--script", "train.py", "--env", "=x"), []string{"(--env)", "no name"}},
		{"env twice", with("--script", "train.py", "--env", "A=1", "--env", "A=2"), []string{"(--env)", "sets A twice"}},
		{"positional before --", with("--script", "train.py", "extra"), []string{`unexpected argument "extra"`, "after --"}},
		{"bad duration", with("--script", "train.py", "--max-duration", "soon"), []string{"(--max-duration)", "not a positive duration"}},
		{"bad retries", with("--script", "train.py", "--max-retries", "many"), []string{"(--max-retries)", "not a whole number"}},
		{"negative retries", with("--script", "train.py", "--max-retries", "-1"), []string{"(--max-retries)", "negative"}},
		{"bad run id", with("--script", "train.py", "--run-id", ".hidden"), []string{"(--run-id)", "not a run id"}},
		{"script outside source", with("--script", "../train.py"), []string{"(--script)", "inside --source"}},
		{"poll interval too short", with("--script", "train.py", "--poll-interval", "1ms"), []string{"(--poll-interval)", "too short"}},
		{"everything missing", []string{"run", "submit", "--script", "train.py"},
			[]string{"4 errors in the command line", "(--workspace)", "(--experiment)", "(--compute)", "(--source)"}},
		{"bad experiment", []string{"run", "submit", "-w", "ws", "-e", "my experiment", "--compute", "c", "--source", src, "--script", "train.py"},
			[]string{"(--experiment)", "not an experiment name"}},
		{"script not in source", with("--script", "nope.py"), []string{"(--script)", "--script nope.py is not in the snapshot", "no such file"}},
		{"source not a directory", with("--script", "train.py", "--source", filepath.Join(src, "train.py")), []string{"(--source)", "not a directory"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			wantFail(t, r, exitInput, tc.want...)
		})
	}
}

// A script the ignore file leaves out is named as such.
func TestRunSubmitScriptIgnored(t *testing.T) {
	src := t.TempDir()
	for name, body := range map[string]string{"train.py": "print(1)\n", ".amlignore": "*.py\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, "run", "submit", "-w", "ws", "-e", "exp", "--compute", "c", "--source", src, "--script", "train.py")
	wantFail(t, r, exitInput, "(--script)", ".amlignore (or .gitignore) leaves it out")
}

// A source directory over the SDK's limits is refused with the SDK's
// words and a hint, before any server is asked.
func TestRunSubmitSnapshotTooManyFiles(t *testing.T) {
	src := t.TempDir()
	for i := range 2001 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%04d.txt", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, "run", "submit", "-w", "ws", "-e", "exp", "--compute", "c", "--source", src, "--", "true")
	wantFail(t, r, exitInput, "SnapshotTooManyFiles (--source)", "While attempting to take snapshot of "+src,
		"exceeds the limit of 2000 files", ".amlignore", "datastore")
}

func TestRunIDCommandsUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"no run id", []string{"run", "show", "-w", "ws"}, []string{"(RUN_ID)", "RUN_ID is required"}},
		{"two run ids", []string{"run", "logs", "a", "b", "-w", "ws"}, []string{`unexpected argument "b"`}},
		{"bad run id", []string{"run", "cancel", "a/b", "-w", "ws"}, []string{"(RUN_ID)", "not a run id"}},
		{"no workspace", []string{"run", "metrics", "r1"}, []string{"(--workspace)", "-w/--workspace is required"}},
		{"path outside outputs", []string{"run", "download", "r1", "-w", "ws", "--path", "../etc/passwd"}, []string{"(--path)", "not under outputs/"}},
		{"list positional", []string{"run", "list", "-w", "ws", "extra"}, []string{`unexpected argument "extra"`}},
		{"bad experiment", []string{"run", "list", "-w", "ws", "-e", "a/b"}, []string{"(--experiment)", "not an experiment name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantFail(t, run(t, tc.args...), exitInput, tc.want...)
		})
	}
	// --workspace-name is --workspace (az ml's name, the compute
	// commands' flag).
	r := run(t, "run", "submit", "--workspace-name", "ws", "--script", "x.py")
	wantFail(t, r, exitInput, "(--experiment)")
	if strings.Contains(r.stderr, "(--workspace)") {
		t.Errorf("--workspace-name was not taken for --workspace:\n%s", r.stderr)
	}
}

func TestNewRunIDIsTheSDKs(t *testing.T) {
	id := newRunID("quickstart", time.Unix(1700000000, 0))
	if !strings.HasPrefix(id, "quickstart_1700000000_") || len(id) != len("quickstart_1700000000_")+8 || !runIDName.MatchString(id) {
		t.Errorf("run id %q", id)
	}
	if newRunID("e", time.Unix(1, 0)) == newRunID("e", time.Unix(1, 0)) {
		t.Error("two run ids of the same second are equal")
	}
}

func TestClockIsPythons(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0:00:00", 12*time.Second + 400*time.Millisecond: "0:00:12", 62 * time.Minute: "1:02:00", 27 * time.Hour: "27:00:00"} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}

// The follower's output keeps the log's lines whole: a status line goes
// between them, never inside one.
func TestLineWriterKeepsLinesWhole(t *testing.T) {
	var b bytes.Buffer
	l := &lineWriter{w: &b}
	io.WriteString(l, "epoch 1\nepo")
	l.line("[t] Running")
	io.WriteString(l, "ch 2\nlast")
	if err := l.flush(); err != nil {
		t.Fatal(err)
	}
	if want := "epoch 1\n[t] Running\nepoch 2\nlast\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestMetricValue(t *testing.T) {
	for v, want := range map[any]string{0.5: "0.5", float64(3): "3", "x": "x", true: "True", nil: "None"} {
		if got := metricValue(v); got != want {
			t.Errorf("metricValue(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestRunEnded(t *testing.T) {
	if err := runEnded(api.Run{Properties: api.RunProperties{RunID: "r", Status: "Completed"}}); err != nil {
		t.Errorf("a completed run: %v", err)
	}
	err := runEnded(api.Run{Properties: api.RunProperties{RunID: "r", Status: "Failed", Error: &api.RunError{Code: "NetworkError", Message: "rule X of nsg Y"}}})
	if err == nil || !strings.Contains(err.Error(), "run r Failed: NetworkError: rule X of nsg Y") {
		t.Errorf("a failed run: %v", err)
	}
	// Exit status 1, not the input's 2.
	var errb bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &errb}
	if code := e.report(nil, err); code != exitInternal {
		t.Errorf("a failed run exits %d", code)
	}
}

// Blob names from storage never lead a download outside DEST.
func TestOutputPath(t *testing.T) {
	for name, want := range map[string]string{
		"p/model.json":       "outputs/model.json",
		"p/sub/x.txt":        "outputs/sub/x.txt",
		"p/../../etc/passwd": "",
		"p/../x":             "",
		"p/a/../../x":        "",
		"p//x":               "",
		"p/./x":              "",
		"p/a\\..\\x":         "",
		"p/":                 "",
		"p/dir/":             "",
		"other/x":            "",
	} {
		got, ok := outputPath("p/", name)
		if got != want || ok != (want != "") {
			t.Errorf("outputPath(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}
