package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// computeUpdateCmd is `vnetml compute update NAME -w WORKSPACE`: the
// SDK's AmlCompute.update(min_nodes, max_nodes,
// idle_seconds_before_scaledown).
type computeUpdateCmd struct {
	env         *env
	ws          computeFlags
	out         outputFlag
	minNodes    string
	maxNodes    string
	idleSeconds string
}

func newComputeUpdateCmd(e *env) *cobra.Command {
	c := &computeUpdateCmd{env: e}
	cmd := &cobra.Command{
		Use:   "update NAME -w WORKSPACE [-g GROUP] [--min-nodes N] [--max-nodes N] [--idle-seconds-before-scaledown SECONDS]",
		Short: "Change a compute cluster's scale settings",
		Long: `Change a compute cluster's scale settings, the only settings a cluster can
change (as the SDK's AmlCompute.update): --min-nodes, --max-nodes and
--idle-seconds-before-scaledown; each one not given keeps its value. The
result must still have max-nodes at least min-nodes. The cluster follows at
once: it adds nodes up to the new min-nodes, and removes idle nodes past
max-nodes. To change anything else, delete the cluster and create it again.`,
		Example: `  vnetml compute update cpucluster -w myworkspace -g mygroup --max-nodes 8
  vnetml compute update cpucluster -w myworkspace --min-nodes 0 --idle-seconds-before-scaledown 300`,
		Args: nameArg("the name of the compute to change"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.minNodes, "N"), "min-nodes", "the nodes the cluster keeps even when idle")
	f.Var(text(&c.maxNodes, "N"), "max-nodes", "the most nodes the cluster scales to")
	f.Var(text(&c.idleSeconds, "SECONDS"), "idle-seconds-before-scaledown", "how long a node stays idle before the cluster removes it")
	c.out.register(f)
	c.ws.register(f)
	return cmd
}

func (c *computeUpdateCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.ws.check(&l, "of the compute")
	if c.minNodes == "" && c.maxNodes == "" && c.idleSeconds == "" {
		l.Addf(codeMissingArgument, "", "nothing to change: give --min-nodes, --max-nodes or --idle-seconds-before-scaledown")
	}
	scale := map[string]any{}
	if n, ok := intArg(&l, "--min-nodes", c.minNodes); ok {
		scale["minNodeCount"] = n
	}
	if n, ok := intArg(&l, "--max-nodes", c.maxNodes); ok {
		scale["maxNodeCount"] = n
	}
	if n, ok := intArg(&l, "--idle-seconds-before-scaledown", c.idleSeconds); ok {
		if n < 0 {
			l.Addf(codeInvalidArgument, "--idle-seconds-before-scaledown", "--idle-seconds-before-scaledown %d is negative", n)
		}
		scale["nodeIdleTimeBeforeScaleDown"] = fmt.Sprintf("PT%dS", n)
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, id, _, err := c.ws.get(ctx, args[0])
	if err != nil {
		return err
	}
	patch := map[string]any{"properties": map[string]any{"properties": map[string]any{"scaleSettings": scale}}}
	doc, err := cl.Patch(ctx, id, patch)
	if err != nil {
		return retargetErr(err, computeTargets)
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, doc)
	}
	return printCompute(c.env.stdout, doc)
}
