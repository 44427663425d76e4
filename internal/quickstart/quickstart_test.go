package quickstart

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/nodeagent"
)

// TestMain runs this binary as a node agent when the quickstart's server
// starts one (`<binary> agent ...`).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		cmd := nodeagent.Command(os.Stdout, os.Stderr)
		cmd.SetArgs(os.Args[2:])
		if err := cmd.Execute(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuickstart runs `vnetml quickstart` whole: every step must do what
// its title says, and the last must be refused with the article's advice.
func TestQuickstart(t *testing.T) { runQuickstart(t, t.TempDir()) }

// runQuickstart runs the quickstart with args, its data directory under
// tmp, and checks its output.
func runQuickstart(t *testing.T, tmp string, args ...string) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the quickstart's experiment is a Python script")
	}
	t.Setenv("TMPDIR", tmp) // the data directory, removed at the end either way
	var out, errOut bytes.Buffer
	cmd := Command(&out, &errOut)
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	if err := cmd.Execute(); err != nil {
		t.Fatalf("quickstart: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	o := out.String()
	for _, want := range []string{
		"6 created",                           // the manifest
		"Running",                             // the run's states
		"epoch  8",                            // its driver log
		"Status: Completed",                   // its end
		"accuracy",                            // its metrics
		`"weights"`,                           // model.json, downloaded through the firewall
		"Batch node management",               // the flows: management in,
		"storage mlquickstartstore",           // the snapshot and outputs,
		"run history",                         // the reports
		"AllowStorageOutbound",                // each with its rule
		"Healthy",                             // the web service
		"[0.8",                                // its answer from the allowed network
		"defaultSecurityRules/DenyAllInBound", // a caller from elsewhere, refused
		"front end azureml-fe",                // the scoring flows
		"Preparing failed: the snapshot is in datastore workspacefilestore", // the refusal
		"--datastore workspaceblobstore",                                    // and its fix
		"Done in",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("the quickstart's output lacks %q:\n%s", want, o)
		}
	}
	if strings.Contains(o, "The data directory is kept") {
		t.Error("the data directory was kept without --keep")
	}
}
