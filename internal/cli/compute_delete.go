package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// computeDeleteCmd is `vnetml compute delete NAME -w WORKSPACE`: the
// SDK's AmlCompute.delete().
type computeDeleteCmd struct {
	env *env
	ws  computeFlags
}

// computeDeleteTargets name what to change for each target the server
// may refuse a delete or detach at: underlyingResourceAction is the query
// parameter the command sets, not one the user gives, so the refusal (an
// attached compute deleted, a created one detached) is about NAME.
var computeDeleteTargets = map[string]string{"underlyingResourceAction": "NAME"}

func newComputeDeleteCmd(e *env) *cobra.Command {
	c := &computeDeleteCmd{env: e}
	cmd := &cobra.Command{
		Use:   "delete NAME -w WORKSPACE [-g GROUP]",
		Short: "Delete a compute cluster: its nodes and the network resources it made",
		Long: `Delete a compute cluster: its nodes stop (their agents and everything they
run), their network interfaces go, and so do the network security group,
public IP address and load balancer the cluster created. A compute that
does not exist is not an error (as az). Deleting an attached cluster is
refused: detach it with 'vnetml compute detach', which removes the compute
and leaves the managed cluster running.`,
		Example: `  vnetml compute delete cpucluster -w myworkspace -g mygroup`,
		Args:    nameArg("the name of the compute to delete"),
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	c.ws.register(cmd.Flags())
	return cmd
}

func (c *computeDeleteCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.ws.check(&l, "of the compute")
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, ws, err := c.ws.open(ctx)
	if err != nil {
		return err
	}
	existed, err := cl.Delete(ctx, ws+"/computes/"+args[0])
	if err != nil {
		return retargetErr(err, computeDeleteTargets)
	}
	shown := lastSegment(ws) + "/" + args[0]
	if existed {
		_, err = fmt.Fprintf(c.env.stdout, "Deleted compute %s\n", shown)
	} else {
		_, err = fmt.Fprintf(c.env.stdout, "Compute %s did not exist\n", shown)
	}
	return internalErr(err)
}
