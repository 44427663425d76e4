package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Review 7 (the run commands): regression tests for problems found in
// review. Each fails on the code as reviewed.

// --script ./train.py names a file inside --source, yet it was refused as
// "must be a path inside --source". It is taken, and submitted as the
// snapshot names the file: train.py.
func TestReview7ScriptWithDotSlashIsTaken(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"train.py", "src/train.py"} {
		if err := os.WriteFile(filepath.Join(src, filepath.FromSlash(name)), []byte("print(1)\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for script, want := range map[string]string{"./train.py": "train.py", "src//train.py": "src/train.py", "./src/../train.py": "train.py"} {
		c := &runSubmitCmd{env: &env{}, compute: "c", source: src, script: script,
			rf: runFlags{workspace: "ws", experiment: "exp"}}
		p, _, err := c.check()
		if err != nil {
			t.Errorf("--script %s: %v", script, err)
			continue
		}
		if p.Script != want {
			t.Errorf("--script %s is submitted as %q, want %q", script, p.Script, want)
		}
		packed, _, err := c.pack(&strings.Builder{})
		if err != nil {
			t.Errorf("--script %s: packing: %v", script, err)
			continue
		}
		os.Remove(packed)
	}
	// Outside --source, or no file at all, it is still refused.
	for _, script := range []string{"../train.py", "/train.py", ".", "./"} {
		c := &runSubmitCmd{env: &env{}, compute: "c", source: src, script: script, rf: runFlags{workspace: "ws", experiment: "exp"}}
		if _, _, err := c.check(); err == nil || !strings.Contains(err.Error(), "inside --source") {
			t.Errorf("--script %q: %v, want it refused as outside --source", script, err)
		}
	}
}

// run logs promised "the node's own lines about what it did (downloading
// the snapshot, starting the job)": the node writes none. What is there
// besides the job's output is run history's lines between attempts.
func TestReview7LogsHelpPromisesOnlyWhatIsThere(t *testing.T) {
	r := run(t, "run", "logs", "--help")
	wantOK(t, r)
	if strings.Contains(r.stdout, "downloading the snapshot") {
		t.Errorf("run logs --help promises lines nothing writes:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "--- attempt") {
		t.Errorf("run logs --help does not say what run history adds to the log:\n%s", r.stdout)
	}
}
