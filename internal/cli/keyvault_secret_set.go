package cli

import (
	"context"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// keyVaultSecretSetCmd is `vnetml keyvault secret set`.
type keyVaultSecretSetCmd struct {
	env   *env
	sec   secretFlags
	out   outputFlag
	name  string
	value string
	file  string
}

func newKeyVaultSecretSetCmd(e *env) *cobra.Command {
	c := &keyVaultSecretSetCmd{env: e}
	cmd := &cobra.Command{
		Use:   "set --vault-name VAULT -n NAME (--value VALUE | --file FILE)",
		Short: "Set a secret: a new version of it, through the vault's firewall",
		Long: `Set a secret of a key vault: a new version of it becomes the current one.
The value is --value (it ends up in shell history: prefer --file) or the
contents of --file (- reads stdin), as they are.

The request calls the vault from your client address, as a client on the
Internet, and presents your vnetml token: the vault's firewall judges the
address (Forbidden, ForbiddenByFirewall), then its access policies or
roles the token. The table shows the new version; -o json prints it
with its value, as az does.`,
		Example: `  vnetml keyvault secret set --vault-name ml-vault -n db-password --file password.txt
  printf %s "$TOKEN" | vnetml keyvault secret set --vault-name ml-vault -n api-token --file -`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.VarP(text(&c.name, "NAME"), "name", "n", "the secret (required)")
	f.Var(text(&c.value, "VALUE"), "value", "the secret's value")
	f.Var(text(&c.file, "FILE"), "file", "a file holding the secret's value (- reads stdin)")
	c.sec.register(f)
	c.out.register(f)
	return cmd
}

// maxSecretSize is Key Vault's limit on a secret's value.
const maxSecretSize = 25 << 10

func (c *keyVaultSecretSetCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	c.sec.check(&l)
	if c.name == "" {
		l.Addf(codeMissingArgument, "--name", "-n/--name is required: the secret to set")
	}
	switch {
	case c.value != "" && c.file != "":
		l.Addf(codeInvalidArgument, "--file", "--value and --file cannot be combined: give the value one way")
	case c.value == "" && c.file == "":
		l.Addf(codeMissingArgument, "--value", "--value or --file is required: the secret's value")
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	value := c.value
	if c.file != "" {
		var r io.Reader = c.env.stdin
		if c.file != "-" {
			f, err := os.Open(c.file)
			if err != nil {
				return usageErr(armerror.New(codeInvalidArgument, "--file", "cannot read the secret's file: %v", err))
			}
			defer f.Close()
			r = f
		}
		b, err := io.ReadAll(io.LimitReader(r, maxSecretSize+1))
		if err != nil {
			return usageErr(armerror.New(codeInvalidArgument, "--file", "cannot read the secret's file: %v", err))
		}
		if len(b) > maxSecretSize {
			return usageErr(armerror.New(codeInvalidArgument, "--file", "%s holds more than %d bytes, Key Vault's limit for a secret", c.file, maxSecretSize))
		}
		value = string(b)
	}
	v, err := c.sec.open(ctx)
	if err != nil {
		return err
	}
	s, err := v.Set(ctx, c.name, value)
	if err != nil {
		return vaultErr(err)
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, s)
	}
	return secretTable([]client.Secret{s}, false).write(c.env.stdout)
}
