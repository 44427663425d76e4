package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// runShowCmd is `vnetml run show RUN_ID`: the SDK's Run.get_details().
type runShowCmd struct {
	env *env
	rf  runFlags
	out outputFlag
}

func newRunShowCmd(e *env) *cobra.Command {
	c := &runShowCmd{env: e}
	cmd := &cobra.Command{
		Use:   "show RUN_ID -w WORKSPACE [-g GROUP] [-e EXPERIMENT] [-o table|json]",
		Short: "Show a run: what it runs, where, its status history and its error",
		Long: `Show a run, as the SDK's Run.get_details(): what it runs (script and
arguments, or command), on which compute and node, from which snapshot and
datastore; its status and the time of each change (attempts included);
its start, end and duration; its exit code and error — for a run the
network failed, the rule that refused it and the fix; and its output files.
-o json prints the run's document as the server answers it.`,
		Example: `  vnetml run show quickstart_1700000000_1a2b3c4d -w myworkspace
  vnetml run show quickstart_1700000000_1a2b3c4d -w myworkspace -e quickstart -o json`,
		Args: runArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.rf.register(f, "the run's experiment (default: found by listing the workspace's)")
	c.out.register(f)
	return cmd
}

func (c *runShowCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.rf.check(&l)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	_, r, err := c.rf.openRun(ctx, args[0])
	if err != nil {
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, r)
	}
	return internalErr(printRun(c.env.stdout, r, time.Now()))
}

// printRun prints a run: a line saying what and where it is, its
// settings, its status history, its error and outputs.
func printRun(w io.Writer, r api.Run, now time.Time) error {
	p := r.Properties
	fmt.Fprintf(w, "Run %s of experiment %s: %s\n\n", firstOf(p.RunID, r.Name), p.Experiment, p.Status)
	t := table{header: []string{"Property", "Value"}}
	if p.Script != "" {
		t.add("script", strings.TrimSpace("python3 "+p.Script+" "+strings.Join(p.Arguments, " ")))
	} else {
		t.add("command", strings.Join(p.Command, " "))
	}
	t.add("target", p.Target)
	if p.NodeID != "" {
		t.add("node", strings.TrimSpace(p.NodeID+" "+p.NodeAddress))
	}
	if p.Attempt > 0 {
		t.add("attempt", strconv.Itoa(p.Attempt))
	}
	t.add("snapshot", p.SnapshotID+" on "+p.SourceDirectoryDataStore)
	for _, kv := range []struct{ k, v string }{{"created", utc(p.CreatedUtc)}, {"started", utc(p.StartTimeUtc)}, {"ended", utc(p.EndTimeUtc)}} {
		if kv.v != "" {
			t.add(kv.k, kv.v)
		}
	}
	if p.StartTimeUtc != nil {
		t.add("duration", clock(runDuration(p, now)))
	}
	if p.MaxRunDurationSeconds > 0 {
		t.add("maxRunDuration", clock(time.Duration(p.MaxRunDurationSeconds)*time.Second))
	}
	if p.MaxRetries > 0 {
		t.add("maxRetries", strconv.Itoa(p.MaxRetries))
	}
	if p.ExitCode != nil {
		t.add("exitCode", strconv.Itoa(*p.ExitCode))
	}
	if p.SubmittedBy != "" {
		t.add("submittedBy", p.SubmittedBy)
	}
	if err := t.write(w); err != nil {
		return err
	}
	if len(p.StatusTransitions) > 0 {
		fmt.Fprintln(w)
		st := table{header: []string{"Status", "Time", "Attempt"}}
		for _, tr := range p.StatusTransitions {
			a := ""
			if tr.Attempt > 0 {
				a = strconv.Itoa(tr.Attempt)
			}
			st.add(tr.Status, tr.Time.UTC().Format(time.RFC3339), a)
		}
		if err := st.write(w); err != nil {
			return err
		}
	}
	if p.Error != nil {
		fmt.Fprintf(w, "\nError: %s: %s\n", p.Error.Code, p.Error.Message)
	}
	if len(p.OutputFiles) > 0 {
		fmt.Fprintf(w, "\nOutputs (vnetml run download %s):\n", firstOf(p.RunID, r.Name))
		for _, f := range p.OutputFiles {
			fmt.Fprintf(w, "  outputs/%s\n", f)
		}
	}
	_, err := fmt.Fprint(w)
	return err
}
