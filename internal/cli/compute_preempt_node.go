package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// computePreemptNodeCmd is `vnetml compute preempt-node NAME --node-id
// ID`: vnetml's eviction of a low-priority node, as Azure reclaims
// capacity.
type computePreemptNodeCmd struct {
	env    *env
	ws     computeFlags
	nodeID string
}

func newComputePreemptNodeCmd(e *env) *cobra.Command {
	c := &computePreemptNodeCmd{env: e}
	cmd := &cobra.Command{
		Use:   "preempt-node NAME -w WORKSPACE [-g GROUP] --node-id ID",
		Short: "Preempt a low-priority node, as Azure does when it needs the capacity back",
		Long: `Preempt a node of a low-priority cluster (--vm-priority lowpriority), as
Azure does when it reclaims capacity: the node turns preempted and leaves,
what it ran is lost, and the cluster adds a node again if it needs one.
Use it to see how your runs cope with preemption. Dedicated nodes are
never preempted: the server refuses. The node ids are those of
'vnetml compute list-nodes'.`,
		Example: `  vnetml compute preempt-node lowpri -w myworkspace -g mygroup --node-id tvmps_0123456789abcdef01234567_p`,
		Args:    nameArg("the name of the compute whose node to preempt"),
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.nodeID, "ID"), "node-id", "the node to preempt (required; see vnetml compute list-nodes)")
	c.ws.register(f)
	return cmd
}

func (c *computePreemptNodeCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.ws.check(&l, "of the compute")
	if c.nodeID == "" {
		l.Addf(codeMissingArgument, "--node-id", "--node-id is required: the node to preempt (see vnetml compute list-nodes)")
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, id, _, err := c.ws.get(ctx, args[0])
	if err != nil {
		return err
	}
	if err := cl.Post(ctx, id+"/preemptNode", map[string]string{"nodeId": c.nodeID}, nil); err != nil {
		return retargetErr(err, map[string]string{"nodeId": "--node-id"})
	}
	_, err = fmt.Fprintf(c.env.stdout, "Preempted node %s of compute %s: it leaves, and the cluster adds a node if it needs one.\n", c.nodeID, args[0])
	return internalErr(err)
}
