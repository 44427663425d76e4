package cli

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// keyVaultSecretShowCmd is `vnetml keyvault secret show`.
type keyVaultSecretShowCmd struct {
	env  *env
	sec  secretFlags
	out  outputFlag
	name string
}

func newKeyVaultSecretShowCmd(e *env) *cobra.Command {
	c := &keyVaultSecretShowCmd{env: e}
	cmd := &cobra.Command{
		Use:   "show --vault-name VAULT -n NAME [-o table|json]",
		Short: "Show a secret's current version and its value, through the vault's firewall",
		Long: `Show the current version of a secret of a key vault, with its value: in
the table's Value column, or the value field of -o json (as az prints it).`,
		Example: `  vnetml keyvault secret show --vault-name ml-vault -n db-password
  vnetml keyvault secret show --vault-name ml-vault -n db-password -o json | jq -r .value`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.VarP(text(&c.name, "NAME"), "name", "n", "the secret (required)")
	c.sec.register(f)
	c.out.register(f)
	return cmd
}

func (c *keyVaultSecretShowCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	c.sec.check(&l)
	if c.name == "" {
		l.Addf(codeMissingArgument, "--name", "-n/--name is required: the secret to show")
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	v, err := c.sec.open(ctx)
	if err != nil {
		return err
	}
	s, err := v.Get(ctx, c.name)
	if err != nil {
		return vaultErr(err)
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, s)
	}
	return secretTable([]client.Secret{s}, true).write(c.env.stdout)
}

// secretTable is the table of secrets: name, version, whether enabled,
// when last updated, content type, and the value when withValue.
func secretTable(secrets []client.Secret, withValue bool) *table {
	t := &table{header: []string{"Name", "Version", "Enabled", "Updated", "ContentType"}}
	if withValue {
		t.header = append(t.header, "Value")
	}
	for _, s := range secrets {
		updated := ""
		if s.Attributes.Updated > 0 {
			updated = time.Unix(s.Attributes.Updated, 0).UTC().Format(time.RFC3339)
		}
		row := []string{secretName(s.ID), secretVersion(s.ID), strconv.FormatBool(s.Attributes.Enabled), updated, s.ContentType}
		if withValue {
			row = append(row, s.Value)
		}
		t.add(row...)
	}
	return t
}
