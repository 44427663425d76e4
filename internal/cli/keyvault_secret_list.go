package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// keyVaultSecretListCmd is `vnetml keyvault secret list`.
type keyVaultSecretListCmd struct {
	env *env
	sec secretFlags
	out outputFlag
}

func newKeyVaultSecretListCmd(e *env) *cobra.Command {
	c := &keyVaultSecretListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list --vault-name VAULT [-o table|json]",
		Short: "List a vault's secrets, without their values, through its firewall",
		Long: `List the secrets of a key vault, without their values (Key Vault does not
list them): name, whether enabled, when last updated. A workspace's vault
holds its storage account's key and connection string and its registry's
password.`,
		Example: `  vnetml keyvault secret list --vault-name ml-vault`,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.sec.register(f)
	c.out.register(f)
	return cmd
}

func (c *keyVaultSecretListCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	c.sec.check(&l)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	v, err := c.sec.open(ctx)
	if err != nil {
		return err
	}
	secrets, err := v.List(ctx)
	if err != nil {
		return vaultErr(err)
	}
	if secrets == nil {
		secrets = []client.Secret{}
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, secrets)
	}
	if len(secrets) == 0 {
		_, err := fmt.Fprintf(c.env.stdout, "No secrets in key vault %s.\n", c.sec.vault)
		return internalErr(err)
	}
	return secretTable(secrets, false).write(c.env.stdout)
}
