package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// keyVaultListCmd is `vnetml keyvault list [-g GROUP]`.
type keyVaultListCmd struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	group string
}

func newKeyVaultListCmd(e *env) *cobra.Command {
	c := &keyVaultListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list [-g GROUP] [-o table|json]",
		Short: "List the key vaults of a resource group or of the subscription",
		Long: `List the key vaults of the resource group given with -g, else of the whole
subscription, with their virtual addresses and firewalls' default actions.`,
		Example: `  vnetml keyvault list
  vnetml keyvault list -g mygroup -o json`,
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

func (c *keyVaultListCmd) run(ctx context.Context, _ []string) error {
	return listResources(ctx, c.env, &c.srv, &c.out, keyVaultType, c.group)
}
