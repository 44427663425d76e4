package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// workspaceListCmd is `vnetml workspace list [-g GROUP]`.
type workspaceListCmd struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	group string
}

func newWorkspaceListCmd(e *env) *cobra.Command {
	c := &workspaceListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list [-g GROUP] [-o table|json]",
		Short: "List the workspaces of a resource group or of the subscription",
		Long: `List the workspaces of the resource group given with -g, else of the whole
subscription, with the storage account, key vault and registry each links.`,
		Example: `  vnetml workspace list
  vnetml workspace list -g mygroup -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

func (c *workspaceListCmd) run(ctx context.Context, _ []string) error {
	return listResources(ctx, c.env, &c.srv, &c.out, workspaceType, c.group)
}
