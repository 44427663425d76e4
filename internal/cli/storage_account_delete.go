package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// storageAccountDeleteCmd is `vnetml storage account delete NAME`.
type storageAccountDeleteCmd struct {
	env   *env
	srv   serverFlags
	group string
}

func newStorageAccountDeleteCmd(e *env) *cobra.Command {
	c := &storageAccountDeleteCmd{env: e}
	cmd := &cobra.Command{
		Use:   "delete NAME [-g GROUP]",
		Short: "Delete a storage account",
		Long: `Delete a storage account with its keys; its endpoints stop answering. An
account that does not exist is not an error (as az).`,
		Example: `  vnetml storage account delete mlstore -g mygroup`,
		Args:    nameArg("the name of the storage account to delete"),
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.srv.register(f)
	return cmd
}

func (c *storageAccountDeleteCmd) run(ctx context.Context, args []string) error {
	return deleteResource(ctx, c.env, &c.srv, storageType, c.group, args[0])
}
