package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// keyVaultShowCmd is `vnetml keyvault show NAME`.
type keyVaultShowCmd struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	group string
}

func newKeyVaultShowCmd(e *env) *cobra.Command {
	c := &keyVaultShowCmd{env: e}
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
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

func (c *keyVaultShowCmd) run(ctx context.Context, args []string) error {
	cl, r, err := c.srv.client()
	if err != nil {
		return err
	}
	id, err := findResource(ctx, cl, keyVaultType, r.subscription, c.group, args[0])
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
	return printWithFirewall(c.env.stdout, keyVaultType, doc)
}
