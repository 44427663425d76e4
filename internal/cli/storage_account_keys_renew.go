package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// storageAccountKeysRenewCmd is `vnetml storage account keys renew NAME --key key1|key2`.
type storageAccountKeysRenewCmd struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	group string
	key   string
}

func newStorageAccountKeysRenewCmd(e *env) *cobra.Command {
	c := &storageAccountKeysRenewCmd{env: e}
	cmd := &cobra.Command{
		Use:   "renew NAME --key key1|key2 [-g GROUP] [-o table|json]",
		Short: "Replace one of a storage account's access keys",
		Long: `Replace one of a storage account's access keys with a new random one
(POST regenerateKey) and print both keys. Requests signed with the old key
are refused from then on; the other key keeps working, so rotate one key
while clients use the other.

A workspace's key vault keeps a copy of its storage account's key
(the datastores' credential): after renewing key1, put the workspace again
to refresh it.`,
		Example: `  vnetml storage account keys renew mlstore -g mygroup --key key2`,
		Args:    nameArg("the name of the storage account"),
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	f.Var(text(&c.key, "key1|key2"), "key", "the key to replace (required)")
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

func (c *storageAccountKeysRenewCmd) run(ctx context.Context, args []string) error {
	key := strings.ToLower(c.key)
	switch {
	case c.key == "":
		return usageErr(armerror.New(codeMissingArgument, "--key", "--key is required: key1 or key2"))
	case key != "key1" && key != "key2":
		return usageErr(armerror.New(codeInvalidArgument, "--key", "--key %q is not key1 or key2", c.key))
	}
	return accountKeysAction(ctx, c.env, &c.srv, &c.out, c.group, args[0], "regenerateKey", map[string]string{"keyName": key})
}
