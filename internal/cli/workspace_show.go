package cli

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/client"
)

// workspaceShowCmd is `vnetml workspace show NAME [-g GROUP]`.
type workspaceShowCmd struct{ showByName }

func newWorkspaceShowCmd(e *env) *cobra.Command {
	c := &workspaceShowCmd{showByName{env: e}}
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
	c.register(cmd.Flags())
	return cmd
}

func (c *workspaceShowCmd) run(ctx context.Context, args []string) error {
	return c.show(ctx, workspaceType, args[0], func(cl *client.Client, doc json.RawMessage) error {
		return printWorkspace(ctx, c.env.stdout, cl, doc)
	})
}
