package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// runMetricsCmd is `vnetml run metrics RUN_ID`: the SDK's
// Run.get_metrics(), each logged value a row.
type runMetricsCmd struct {
	env *env
	rf  runFlags
	out outputFlag
}

func newRunMetricsCmd(e *env) *cobra.Command {
	c := &runMetricsCmd{env: e}
	cmd := &cobra.Command{
		Use:   "metrics RUN_ID -w WORKSPACE [-g GROUP] [-e EXPERIMENT] [-o table|json]",
		Short: "List the metrics a run logged",
		Long: `List the metrics a run logged (run.log in the SDK), in the order they were
logged: each value's name, step and value. -o json prints them as the
server answers, with their times.`,
		Example: `  vnetml run metrics quickstart_1700000000_1a2b3c4d -w myworkspace
  vnetml run metrics quickstart_1700000000_1a2b3c4d -w myworkspace -o json`,
		Args: runArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.rf.register(f, "the run's experiment (default: found by listing the workspace's)")
	c.out.register(f)
	return cmd
}

func (c *runMetricsCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.rf.check(&l)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, r, err := c.rf.openRun(ctx, args[0])
	if err != nil {
		return err
	}
	ms, err := cl.RunMetrics(ctx, r.ID)
	if err != nil {
		return err
	}
	if c.out.json() {
		if ms == nil {
			ms = []api.RunMetric{}
		}
		return writeJSON(c.env.stdout, ms)
	}
	if len(ms) == 0 {
		_, err := fmt.Fprintf(c.env.stdout, "Run %s logged no metrics.\n", args[0])
		return internalErr(err)
	}
	t := table{header: []string{"Name", "Step", "Value", "Time"}}
	for _, m := range ms {
		step := ""
		if m.Step != nil {
			step = strconv.FormatInt(*m.Step, 10)
		}
		t.add(m.Name, step, metricValue(m.Value), m.Time.UTC().Format(time.RFC3339))
	}
	return t.write(c.env.stdout)
}

// metricValue renders a metric's value: numbers as Python prints them
// (0.5, 3), strings as they are, booleans as True and False.
func metricValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return x.String()
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
