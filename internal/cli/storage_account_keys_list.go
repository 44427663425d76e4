package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/client"
)

// storageAccountKeysListCmd is `vnetml storage account keys list NAME`.
type storageAccountKeysListCmd struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	group string
}

func newStorageAccountKeysListCmd(e *env) *cobra.Command {
	c := &storageAccountKeysListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list NAME [-g GROUP] [-o table|json]",
		Short: "Print a storage account's two access keys",
		Long: `Print a storage account's access keys, key1 and key2 (POST listKeys).
Either key signs requests to the account's data plane with full rights
(Shared Key), as 'vnetml storage blob --auth-mode key' does: keep them
secret. Listing keys needs Contributor on the account. -o json prints
them as az does: [{"keyName", "value", "permissions"}].`,
		Example: `  vnetml storage account keys list mlstore -g mygroup
  vnetml storage account keys list mlstore -o json`,
		Args: nameArg("the name of the storage account"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

// accountKey is one key as listKeys answers it.
type accountKey struct {
	KeyName     string `json:"keyName"`
	Value       string `json:"value"`
	Permissions string `json:"permissions"`
}

func (c *storageAccountKeysListCmd) run(ctx context.Context, args []string) error {
	return accountKeysAction(ctx, c.env, &c.srv, &c.out, c.group, args[0], "listKeys", nil)
}

// accountKeysAction posts action (listKeys or regenerateKey) to the
// account and prints the keys it answers.
func accountKeysAction(ctx context.Context, e *env, srv *serverFlags, out *outputFlag, group, name, action string, body any) error {
	cl, r, err := srv.client()
	if err != nil {
		return err
	}
	id, err := findResource(ctx, cl, storageType, r.subscription, group, name)
	if err != nil {
		return err
	}
	return printAccountKeys(ctx, e, cl, out, id+"/"+action, body)
}

func printAccountKeys(ctx context.Context, e *env, cl *client.Client, out *outputFlag, path string, body any) error {
	var keys struct {
		Keys []accountKey `json:"keys"`
	}
	if err := cl.Post(ctx, path, body, &keys); err != nil {
		return retargetErr(err, map[string]string{"keyName": "--key"})
	}
	if keys.Keys == nil {
		keys.Keys = []accountKey{}
	}
	if out.json() {
		return writeJSON(e.stdout, keys.Keys)
	}
	t := table{header: []string{"KeyName", "Permissions", "Value"}}
	for _, k := range keys.Keys {
		t.add(k.KeyName, k.Permissions, k.Value)
	}
	return t.write(e.stdout)
}
