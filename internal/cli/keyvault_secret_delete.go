package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// keyVaultSecretDeleteCmd is `vnetml keyvault secret delete`.
type keyVaultSecretDeleteCmd struct {
	env  *env
	sec  secretFlags
	name string
}

func newKeyVaultSecretDeleteCmd(e *env) *cobra.Command {
	c := &keyVaultSecretDeleteCmd{env: e}
	cmd := &cobra.Command{
		Use:   "delete --vault-name VAULT -n NAME",
		Short: "Delete a secret with every version, through the vault's firewall",
		Long: `Delete a secret of a key vault, with every version of it. A secret that
does not exist is an error (SecretNotFound), as in Key Vault.`,
		Example: `  vnetml keyvault secret delete --vault-name ml-vault -n db-password`,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.VarP(text(&c.name, "NAME"), "name", "n", "the secret (required)")
	c.sec.register(f)
	return cmd
}

func (c *keyVaultSecretDeleteCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	c.sec.check(&l)
	if c.name == "" {
		l.Addf(codeMissingArgument, "--name", "-n/--name is required: the secret to delete")
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	v, err := c.sec.open(ctx)
	if err != nil {
		return err
	}
	if err := v.Delete(ctx, c.name); err != nil {
		return vaultErr(err)
	}
	_, err = fmt.Fprintf(c.env.stdout, "Deleted secret %s of key vault %s.\n", c.name, c.sec.vault)
	return internalErr(err)
}
