package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// The run commands are the Azure ML SDK v1's experiment runs:
// Experiment.submit(ScriptRunConfig) and wait_for_completion(show_output)
// (submit), Run.get_details (show), Experiment.get_runs (list), cancel,
// get_all_logs (logs), get_metrics (metrics) and download_files
// (download). This file holds what they share; each command is in its own
// file.

func newRunCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Submit experiment runs to a compute cluster and follow them (Experiment.submit, az ml run ...)",
		Long: `Run scripts on a workspace's compute clusters, as the Azure ML SDK v1's
Experiment.submit(ScriptRunConfig(...)) does, and follow them.

'vnetml run submit' packs the source directory into a snapshot (the SDK's
limits, 300 MB and 2000 files, and its .amlignore/.gitignore rules),
uploads it to a datastore of the workspace from your client address —
through the storage account's firewall, as the SDK did from a laptop — and
submits the run. The node downloads the snapshot from inside the virtual
network, runs the script, and reports to run history: its status, its
driver log and its metrics; ./outputs goes to the workspace's storage.
Whatever the network refuses on the way fails the run with the rule that
refused it and the fix.

The commands that take a RUN_ID find its experiment by listing the
workspace's experiments; --experiment saves the search.`,
		Args: noArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(newRunSubmitCmd(e), newRunShowCmd(e), newRunListCmd(e), newRunCancelCmd(e),
		newRunLogsCmd(e), newRunMetricsCmd(e), newRunDownloadCmd(e))
	return cmd
}

// runFlags say which workspace (and experiment) a run command addresses,
// and which server.
type runFlags struct {
	srv        serverFlags
	group      string
	workspace  string
	experiment string
}

// register adds the flags; expUsage is what --experiment means to the
// command.
func (f *runFlags) register(fs *pflag.FlagSet, expUsage string) {
	fs.VarP(text(&f.workspace, "WORKSPACE"), "workspace", "w", "the workspace (required; --workspace-name is the same flag)")
	fs.VarP(text(&f.experiment, "EXPERIMENT"), "experiment", "e", expUsage)
	groupFlag(fs, &f.group, false)
	f.srv.register(fs)
	// az ml names it --workspace-name, the compute commands too.
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "workspace-name" {
			name = "workspace"
		}
		return pflag.NormalizedName(name)
	})
}

// check adds the problems of the shared flags to l.
func (f *runFlags) check(l *armerror.List) {
	if f.workspace == "" {
		l.Addf(codeMissingArgument, "--workspace", "-w/--workspace is required: the workspace of the runs")
	}
	if f.experiment != "" && !experimentName.MatchString(f.experiment) {
		l.Addf(codeInvalidArgument, "--experiment", "--experiment %q is not an experiment name: 1 to 255 letters, digits, '_' and '-', starting with a letter or digit", f.experiment)
	}
}

// open returns a client, the resolved server flags and the workspace's id.
func (f *runFlags) open(ctx context.Context) (*client.Client, serverFlags, string, error) {
	cl, r, err := f.srv.client()
	if err != nil {
		return nil, r, "", err
	}
	id, err := findResource(ctx, cl, workspaceType, r.subscription, f.group, f.workspace)
	if err != nil {
		return nil, r, "", retargetErr(err, map[string]string{"NAME": "--workspace"})
	}
	return cl, r, id, nil
}

var (
	// experimentName and runIDName are the server's rules (and the
	// SDK's), checked here so that a bad name is refused before a
	// snapshot is packed and uploaded.
	experimentName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$`)
	runIDName      = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$`)
)

// runArg is the positional RUN_ID of the commands that take one.
func runArg(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usageErr(armerror.New(codeMissingArgument, "RUN_ID", "RUN_ID is required: the run's id, as `vnetml run list` shows it"))
	case len(args) > 1:
		return usageErr(armerror.New(codeInvalidArgument, "", "unexpected argument %q: %s takes one RUN_ID; every other input is a flag",
			args[1], cmd.CommandPath()))
	case !runIDName.MatchString(args[0]):
		return usageErr(armerror.New(codeInvalidArgument, "RUN_ID", "%q is not a run id: 1 to 255 letters, digits, '_', '-' and '.', not starting with '.'", args[0]))
	}
	return nil
}

// openRun connects and finds the run runID (see findRun).
func (f *runFlags) openRun(ctx context.Context, runID string) (*client.Client, api.Run, error) {
	cl, _, ws, err := f.open(ctx)
	if err != nil {
		return nil, api.Run{}, err
	}
	r, err := f.findRun(ctx, cl, ws, runID)
	return cl, r, err
}

// findRun returns the run runID of the workspace ws: in --experiment, or
// else in whichever experiment has it (those whose name the id starts
// with, as the SDK's ids do, are asked first).
func (f *runFlags) findRun(ctx context.Context, cl *client.Client, ws, runID string) (api.Run, error) {
	if f.experiment != "" {
		r, err := cl.GetRun(ctx, client.RunPath(ws, f.experiment, runID))
		if isNotFound(err) {
			return r, armerror.New(codeNotFound, "RUN_ID", "Run %s was not found in experiment %s of workspace %s; see its runs with `vnetml run list -w %s -e %s`",
				runID, f.experiment, f.workspace, f.workspace, f.experiment)
		}
		return r, err
	}
	exps, err := cl.ListExperiments(ctx, ws)
	if err != nil {
		return api.Run{}, err
	}
	sort.SliceStable(exps, func(i, j int) bool {
		pi, pj := strings.HasPrefix(runID, exps[i]+"_"), strings.HasPrefix(runID, exps[j]+"_")
		if pi != pj {
			return pi
		}
		return pi && len(exps[i]) > len(exps[j])
	})
	for _, e := range exps {
		r, err := cl.GetRun(ctx, client.RunPath(ws, e, runID))
		if isNotFound(err) {
			continue
		}
		return r, err
	}
	where := "it has no experiments yet (vnetml run submit creates them)"
	if len(exps) > 0 {
		sort.Strings(exps)
		where = "in none of its experiments (" + strings.Join(exps, ", ") + ")"
	}
	return api.Run{}, armerror.New(codeNotFound, "RUN_ID", "Run %s was not found in workspace %s: %s; see the runs with `vnetml run list -w %s`",
		runID, f.workspace, where, f.workspace)
}

// isNotFound reports whether err is the server's 404 of a resource.
func isNotFound(err error) bool {
	a, ok := armerror.As(err)
	return ok && (a.Code == codeResourceNotFound || a.Code == codeNotFound || a.Code == "ExperimentNotFound" || a.Code == "RunNotFound")
}

// runDuration is how long a run ran: start to end, or to now while it
// runs; 0 before it starts.
func runDuration(p api.RunProperties, now time.Time) time.Duration {
	if p.StartTimeUtc == nil {
		return 0
	}
	end := now
	if p.EndTimeUtc != nil {
		end = *p.EndTimeUtc
	}
	return max(end.Sub(*p.StartTimeUtc), 0)
}

// clock renders a duration as Python prints a timedelta, to the second:
// 0:00:12, 1:02:03.
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	return fmt.Sprintf("%d:%02d:%02d", h, m, d/time.Second)
}

// utc renders a time as RFC 3339 in UTC to the second, or "" for none.
func utc(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// printRunSummary prints the SDK's execution summary of a run.
func printRunSummary(w io.Writer, r api.Run, now time.Time) {
	p := r.Properties
	fmt.Fprintf(w, "\nExecution Summary\n=================\nRunId: %s\nStatus: %s\n", firstOf(p.RunID, r.Name), p.Status)
	if s := utc(p.StartTimeUtc); s != "" {
		fmt.Fprintf(w, "Started: %s\n", s)
	}
	if s := utc(p.EndTimeUtc); s != "" {
		fmt.Fprintf(w, "Ended: %s\n", s)
	}
	if p.StartTimeUtc != nil {
		fmt.Fprintf(w, "Duration: %s\n", clock(runDuration(p, now)))
	}
	if p.Error != nil {
		fmt.Fprintf(w, "Error: %s: %s\n", p.Error.Code, p.Error.Message)
	}
}

// runEnded is the error (and exit status 1) of a run that ended other
// than Completed, with its error message; nil for a completed run.
func runEnded(r api.Run) error {
	p := r.Properties
	if p.Status == client.RunCompleted {
		return nil
	}
	msg := "no error was recorded"
	if p.Error != nil {
		msg = p.Error.Code + ": " + p.Error.Message
	}
	return fmt.Errorf("run %s %s: %s", firstOf(p.RunID, r.Name), p.Status, msg)
}
