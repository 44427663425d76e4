package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// runLogsCmd is `vnetml run logs RUN_ID`: the driver log
// (azureml-logs/70_driver_log.txt of the SDK's get_all_logs), whole or
// followed.
type runLogsCmd struct {
	env    *env
	rf     runFlags
	poll   pollFlag
	follow bool
}

func newRunLogsCmd(e *env) *cobra.Command {
	c := &runLogsCmd{env: e}
	cmd := &cobra.Command{
		Use:   "logs RUN_ID -w WORKSPACE [-g GROUP] [-e EXPERIMENT] [--follow]",
		Short: "Print a run's driver log, or follow it until the run ends",
		Long: `Print a run's driver log: what its script wrote to stdout and stderr,
each attempt's in turn, with run history's own lines between them: why
an attempt's node was lost, and where the next attempt runs ("--- attempt
2 on node ... ---"). With --follow the command goes on printing as the
run writes, until the run ends; a stream that breaks off is taken up
again where it stopped.`,
		Example: `  vnetml run logs quickstart_1700000000_1a2b3c4d -w myworkspace
  vnetml run logs quickstart_1700000000_1a2b3c4d -w myworkspace --follow`,
		Args: runArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.BoolVarP(&c.follow, "follow", "f", false, "go on printing the log as the run writes it, until the run ends")
	c.rf.register(f, "the run's experiment (default: found by listing the workspace's)")
	c.poll.register(f)
	return cmd
}

func (c *runLogsCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.rf.check(&l)
	interval := c.poll.check(&l)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, r, err := c.rf.openRun(ctx, args[0])
	if err != nil {
		return err
	}
	if c.follow {
		fol := &runFollower{cl: cl, id: r.ID, interval: interval, out: &lineWriter{w: c.env.stdout}}
		_, err := fol.follow(ctx)
		return err
	}
	rc, err := cl.RunLogs(ctx, r.ID, 0, false)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(c.env.stdout, rc)
	return internalErr(err)
}
