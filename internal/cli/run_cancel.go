package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// runCancelCmd is `vnetml run cancel RUN_ID`: the SDK's Run.cancel().
type runCancelCmd struct {
	env *env
	rf  runFlags
	out outputFlag
}

func newRunCancelCmd(e *env) *cobra.Command {
	c := &runCancelCmd{env: e}
	cmd := &cobra.Command{
		Use:   "cancel RUN_ID -w WORKSPACE [-g GROUP] [-e EXPERIMENT] [-o table|json]",
		Short: "Cancel a run",
		Long: `Cancel a run, as the SDK's Run.cancel(): a run that has not started is
canceled at once; a running one is stopped on its node, and its status
becomes Canceled once the node has stopped it. A run that has ended is
left as it is. -o json prints the run as the server answers.`,
		Example: `  vnetml run cancel quickstart_1700000000_1a2b3c4d -w myworkspace`,
		Args:    runArg,
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.rf.register(f, "the run's experiment (default: found by listing the workspace's)")
	c.out.register(f)
	return cmd
}

func (c *runCancelCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.rf.check(&l)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, r, err := c.rf.openRun(ctx, args[0])
	if err != nil {
		return err
	}
	was := r.Properties.Status
	if !client.RunTerminal(was) {
		if r, err = cl.CancelRun(ctx, r.ID); err != nil {
			return err
		}
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, r)
	}
	p := r.Properties
	switch {
	case client.RunTerminal(was):
		_, err = fmt.Fprintf(c.env.stdout, "Run %s has ended already: %s.\n", args[0], was)
	case p.Status == client.RunCanceled:
		_, err = fmt.Fprintf(c.env.stdout, "Run %s is canceled.\n", args[0])
	default:
		_, err = fmt.Fprintf(c.env.stdout, "Canceling run %s (%s): its node stops it; `vnetml run show %s -w %s` shows when it is Canceled.\n",
			args[0], p.Status, args[0], c.rf.workspace)
	}
	return internalErr(err)
}
