package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// workspaceDeleteCmd is `vnetml workspace delete NAME [-g GROUP]`.
type workspaceDeleteCmd struct {
	env   *env
	srv   serverFlags
	group string
}

func newWorkspaceDeleteCmd(e *env) *cobra.Command {
	c := &workspaceDeleteCmd{env: e}
	cmd := &cobra.Command{
		Use:   "delete NAME [-g GROUP]",
		Short: "Delete a workspace and its datastores",
		Long: `Delete a workspace with its datastores. The resources it links (storage
account, key vault, container registry) stay: delete them with their own
commands. A workspace that does not exist is not an error (as az).`,
		Example: `  vnetml workspace delete ml -g mygroup`,
		Args:    nameArg("the name of the workspace to delete"),
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.srv.register(f)
	return cmd
}

func (c *workspaceDeleteCmd) run(ctx context.Context, args []string) error {
	return deleteResource(ctx, c.env, &c.srv, workspaceType, c.group, args[0])
}
