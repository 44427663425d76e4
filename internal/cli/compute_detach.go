package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// computeDetachCmd is `vnetml compute detach NAME -w WORKSPACE`: the SDK's
// AksCompute.detach(), DELETE .../computes/{name}?underlyingResourceAction=Detach.
type computeDetachCmd struct {
	env *env
	ws  computeFlags
}

func newComputeDetachCmd(e *env) *cobra.Command {
	c := &computeDetachCmd{env: e}
	cmd := &cobra.Command{
		Use:   "detach NAME -w WORKSPACE [-g GROUP]",
		Short: "Detach an attached inference cluster: the compute goes, the cluster keeps running",
		Long: `Detach a managed cluster attached with 'vnetml compute attach', as the SDK's
AksCompute.detach() does: the compute, its front end (azureml-fe's network
interface and public IP) and the web services deployed to it go; the
managed cluster and its nodes keep running, ready to be attached again
(here or to another workspace) or deleted ('vnetml delete managedcluster').

A compute the workspace created is deleted, not detached ('vnetml compute
delete'); an attached one is detached, not deleted. A compute that does
not exist is not an error.`,
		Example: `  vnetml compute detach myaks -w myworkspace -g mygroup`,
		Args:    nameArg("the name of the compute to detach"),
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	c.ws.register(cmd.Flags())
	return cmd
}

func (c *computeDetachCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.ws.check(&l, "of the compute")
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, ws, err := c.ws.open(ctx)
	if err != nil {
		return err
	}
	id := ws + "/computes/" + args[0]
	shown := lastSegment(ws) + "/" + args[0]
	// The cluster it attaches, to say what keeps running.
	cluster := ""
	if doc, err := cl.Get(ctx, id); err == nil {
		var d struct {
			Properties struct {
				ResourceID string `json:"resourceId"`
			} `json:"properties"`
		}
		_ = json.Unmarshal(doc, &d)
		cluster = d.Properties.ResourceID
	}
	existed, err := cl.Delete(ctx, id+"?underlyingResourceAction=Detach")
	if err != nil {
		return retargetErr(err, computeDeleteTargets)
	}
	switch {
	case !existed:
		_, err = fmt.Fprintf(c.env.stdout, "Compute %s did not exist\n", shown)
	case cluster != "":
		_, err = fmt.Fprintf(c.env.stdout, "Detached compute %s; managed cluster %s (resource group %s) keeps running\n", shown, lastSegment(cluster), groupOfID(cluster))
	default:
		_, err = fmt.Fprintf(c.env.stdout, "Detached compute %s\n", shown)
	}
	return internalErr(err)
}
