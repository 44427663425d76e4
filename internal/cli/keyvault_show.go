package cli

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/client"
)

// keyVaultShowCmd is `vnetml keyvault show NAME`.
type keyVaultShowCmd struct{ showByName }

func newKeyVaultShowCmd(e *env) *cobra.Command {
	c := &keyVaultShowCmd{showByName{env: e}}
	cmd := &cobra.Command{
		Use:   "show NAME [-g GROUP] [-o table|json]",
		Short: "Show a key vault, its firewall and its access policies",
		Long: `Show a key vault: its virtual address, its firewall's default action,
bypass, IP rules and virtual network rules, and who may use its secrets.
Without -g the vault is looked for in the whole subscription. -o json
prints its document.`,
		Example: `  vnetml keyvault show ml-vault -g mygroup
  vnetml keyvault show ml-vault -o json`,
		Args: nameArg("the name of the key vault to show"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	c.register(cmd.Flags())
	return cmd
}

func (c *keyVaultShowCmd) run(ctx context.Context, args []string) error {
	return c.show(ctx, keyVaultType, args[0], func(_ *client.Client, doc json.RawMessage) error {
		return printWithFirewall(c.env.stdout, keyVaultType, doc)
	})
}
