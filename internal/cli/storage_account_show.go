package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// storageAccountShowCmd is `vnetml storage account show NAME`.
type storageAccountShowCmd struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	group string
}

func newStorageAccountShowCmd(e *env) *cobra.Command {
	c := &storageAccountShowCmd{env: e}
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
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

func (c *storageAccountShowCmd) run(ctx context.Context, args []string) error {
	cl, r, err := c.srv.client()
	if err != nil {
		return err
	}
	id, err := findResource(ctx, cl, storageType, r.subscription, c.group, args[0])
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
	return printWithFirewall(c.env.stdout, storageType, doc)
}
