package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// storageAccountListCmd is `vnetml storage account list [-g GROUP]`.
type storageAccountListCmd struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	group string
}

func newStorageAccountListCmd(e *env) *cobra.Command {
	c := &storageAccountListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list [-g GROUP] [-o table|json]",
		Short: "List the storage accounts of a resource group or of the subscription",
		Long: `List the storage accounts of the resource group given with -g, else of the
whole subscription, with their virtual addresses and firewalls' default
actions.`,
		Example: `  vnetml storage account list
  vnetml storage account list -g mygroup -o json`,
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

func (c *storageAccountListCmd) run(ctx context.Context, _ []string) error {
	return listResources(ctx, c.env, &c.srv, &c.out, storageType, c.group)
}
