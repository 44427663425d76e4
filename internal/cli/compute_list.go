package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

// computeListCmd is `vnetml compute list [-w WORKSPACE]`: the SDK's
// ComputeTarget.list(ws).
type computeListCmd struct {
	env *env
	ws  computeFlags
	out outputFlag
}

func newComputeListCmd(e *env) *cobra.Command {
	c := &computeListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list [-w WORKSPACE] [-g GROUP] [-o table|json]",
		Short: "List the compute clusters of a workspace",
		Long: `List the compute clusters of the workspace given with -w, else of every
workspace in the resource group given with -g, else in the subscription:
each one's VM size and priority, provisioning state, current/target node
count and allocation state (Steady, or Resizing while nodes come and go).`,
		Example: `  vnetml compute list -w myworkspace -g mygroup
  vnetml compute list -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.out.register(f)
	c.ws.register(f)
	f.Lookup("workspace-name").Usage = "the workspace (default: every workspace in the group or subscription)"
	return cmd
}

func (c *computeListCmd) run(ctx context.Context, _ []string) error {
	var docs []json.RawMessage
	where := ""
	if c.ws.workspace != "" {
		cl, ws, err := c.ws.open(ctx)
		if err != nil {
			return err
		}
		if docs, err = cl.List(ctx, ws+"/computes"); err != nil {
			return err
		}
		where = "workspace " + lastSegment(ws)
	} else {
		cl, r, err := c.ws.srv.client()
		if err != nil {
			return err
		}
		x, err := newTarget(computeType, "", &typeFlags{group: c.ws.group}, r.subscription)
		if err != nil {
			return err
		}
		if docs, err = x.list(ctx, cl); err != nil {
			return err
		}
		where = x.where()
	}
	if c.out.json() {
		if docs == nil {
			docs = []json.RawMessage{}
		}
		return writeJSON(c.env.stdout, docs)
	}
	if len(docs) == 0 {
		_, err := fmt.Fprintf(c.env.stdout, "No computes in %s.\n", where)
		return internalErr(err)
	}
	return typeTable(computeType, docs).write(c.env.stdout)
}
