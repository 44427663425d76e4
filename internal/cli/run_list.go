package cli

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// runListCmd is `vnetml run list`: the SDK's Experiment.get_runs(), for
// one experiment or all of a workspace's.
type runListCmd struct {
	env *env
	rf  runFlags
	out outputFlag
}

func newRunListCmd(e *env) *cobra.Command {
	c := &runListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list -w WORKSPACE [-g GROUP] [-e EXPERIMENT] [-o table|json]",
		Short: "List the runs of an experiment, or of every experiment of a workspace",
		Long: `List runs, newest first, as the SDK's Experiment.get_runs(): the runs of
--experiment, or of every experiment of the workspace without it. The table
shows each run's id, experiment, status, compute, start time and duration
(so far, for a run still running); -o json prints the runs' documents.`,
		Example: `  vnetml run list -w myworkspace
  vnetml run list -w myworkspace -e quickstart -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.rf.register(f, "list the runs of this experiment only (default: every experiment's)")
	c.out.register(f)
	return cmd
}

func (c *runListCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	c.rf.check(&l)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, _, ws, err := c.rf.open(ctx)
	if err != nil {
		return err
	}
	runs, err := cl.ListRuns(ctx, ws, c.rf.experiment)
	if err != nil {
		if isNotFound(err) && c.rf.experiment != "" {
			return armerror.New(codeNotFound, "--experiment", "Experiment %s was not found in workspace %s: an experiment is created by its first run%s",
				c.rf.experiment, c.rf.workspace, knownNames(ctx, cl, ws+"/experiments"))
		}
		return err
	}
	sortRuns(runs)
	if c.out.json() {
		if runs == nil {
			runs = []api.Run{}
		}
		return writeJSON(c.env.stdout, runs)
	}
	if len(runs) == 0 {
		where := "workspace " + c.rf.workspace
		if c.rf.experiment != "" {
			where = "experiment " + c.rf.experiment + " of " + where
			// A typo of an experiment lists nothing, as the SDK's
			// get_runs of a new experiment: name those there are.
			if exps, err := cl.ListExperiments(ctx, ws); err == nil && !slices.Contains(exps, c.rf.experiment) && len(exps) > 0 {
				where += " (its experiments: " + strings.Join(exps, ", ") + ")"
			}
		}
		_, err := fmt.Fprintf(c.env.stdout, "No runs in %s.\n", where)
		return internalErr(err)
	}
	now := time.Now()
	t := table{header: []string{"RunId", "Experiment", "Status", "Compute", "Started", "Duration"}}
	for _, r := range runs {
		p := r.Properties
		d := ""
		if p.StartTimeUtc != nil {
			d = clock(runDuration(p, now))
		}
		t.add(firstOf(p.RunID, r.Name), p.Experiment, p.Status, p.Target, utc(p.StartTimeUtc), d)
	}
	return t.write(c.env.stdout)
}

// sortRuns orders runs newest first (by creation), then by id.
func sortRuns(runs []api.Run) {
	created := func(r api.Run) time.Time {
		if t := r.Properties.CreatedUtc; t != nil {
			return *t
		}
		return time.Time{}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		ci, cj := created(runs[i]), created(runs[j])
		if !ci.Equal(cj) {
			return ci.After(cj)
		}
		return runs[i].ID < runs[j].ID
	})
}
