package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// keyVaultDeleteCmd is `vnetml keyvault delete NAME`.
type keyVaultDeleteCmd struct {
	env   *env
	srv   serverFlags
	group string
}

func newKeyVaultDeleteCmd(e *env) *cobra.Command {
	c := &keyVaultDeleteCmd{env: e}
	cmd := &cobra.Command{
		Use:   "delete NAME [-g GROUP]",
		Short: "Delete a key vault",
		Long: `Delete a key vault; its secrets endpoint stops answering. A vault that
does not exist is not an error (as az).`,
		Example: `  vnetml keyvault delete ml-vault -g mygroup`,
		Args:    nameArg("the name of the key vault to delete"),
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.srv.register(f)
	return cmd
}

func (c *keyVaultDeleteCmd) run(ctx context.Context, args []string) error {
	return deleteResource(ctx, c.env, &c.srv, keyVaultType, c.group, args[0])
}
