package cli

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/client"
)

// storageAccountShowCmd is `vnetml storage account show NAME`.
type storageAccountShowCmd struct{ showByName }

func newStorageAccountShowCmd(e *env) *cobra.Command {
	c := &storageAccountShowCmd{showByName{env: e}}
	cmd := &cobra.Command{
		Use:   "show NAME [-g GROUP] [-o table|json]",
		Short: "Show a storage account and its firewall",
		Long: `Show a storage account: its virtual address and its firewall's default
action, bypass, IP rules and virtual network rules. Without -g the account
is looked for in the whole subscription. -o json prints its document.`,
		Example: `  vnetml storage account show mlstore -g mygroup
  vnetml storage account show mlstore -o json`,
		Args: nameArg("the name of the storage account to show"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	c.register(cmd.Flags())
	return cmd
}

func (c *storageAccountShowCmd) run(ctx context.Context, args []string) error {
	return c.show(ctx, storageType, args[0], func(_ *client.Client, doc json.RawMessage) error {
		return printWithFirewall(c.env.stdout, storageType, doc)
	})
}
