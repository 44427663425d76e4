package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// computeShowCmd is `vnetml compute show NAME -w WORKSPACE`: the SDK's
// ComputeTarget(ws, name) with get_status().
type computeShowCmd struct {
	env *env
	ws  computeFlags
	out outputFlag
}

func newComputeShowCmd(e *env) *cobra.Command {
	c := &computeShowCmd{env: e}
	cmd := &cobra.Command{
		Use:   "show NAME -w WORKSPACE [-g GROUP] [-o table|json]",
		Short: "Show a compute cluster's settings and status",
		Long: `Show a compute cluster: its settings (VM size and priority, scale settings,
administrator, subnet, remote login), its status as the SDK's get_status()
reports it (allocation state and since when, current and target node
counts, nodes by state: idle, running, preparing, unusable, leaving,
preempted), the network resources it created, and its errors — a partial
allocation, or unusable nodes with the rule that blocks them. -o json prints
the compute's document, status included, as the server answers GET.`,
		Example: `  vnetml compute show cpucluster -w myworkspace -g mygroup
  vnetml compute show cpucluster -w myworkspace -o json | jq .properties.properties.nodeStateCounts`,
		Args: nameArg("the name of the compute to show"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.out.register(f)
	c.ws.register(f)
	return cmd
}

func (c *computeShowCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.ws.check(&l, "of the compute")
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	_, _, doc, err := c.ws.get(ctx, args[0])
	if err != nil {
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, doc)
	}
	return printCompute(c.env.stdout, doc)
}
