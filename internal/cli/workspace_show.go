package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// workspaceShowCmd is `vnetml workspace show NAME [-g GROUP]`.
type workspaceShowCmd struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	group string
}

func newWorkspaceShowCmd(e *env) *cobra.Command {
	c := &workspaceShowCmd{env: e}
	cmd := &cobra.Command{
		Use:   "show NAME [-g GROUP] [-o table|json]",
		Short: "Show a workspace, the resources it links and its datastores",
		Long: `Show a workspace: the storage account, key vault and container registry it
links, with their ids, and its datastores with the warnings the 2019
article's constraints raise for them. Without -g the workspace is looked
for in the whole subscription. -o json prints the workspace's document.`,
		Example: `  vnetml workspace show ml -g mygroup
  vnetml workspace show ml -o json`,
		Args: nameArg("the name of the workspace to show"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

func (c *workspaceShowCmd) run(ctx context.Context, args []string) error {
	cl, r, err := c.srv.client()
	if err != nil {
		return err
	}
	id, err := findResource(ctx, cl, workspaceType, r.subscription, c.group, args[0])
	if err != nil {
		return err
	}
	doc, err := cl.Get(ctx, id)
	if err != nil {
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, doc)
	}
	return printWorkspace(ctx, c.env.stdout, cl, doc)
}
