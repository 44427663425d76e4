package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// storageAccountUpdateCmd is `vnetml storage account update NAME`.
type storageAccountUpdateCmd struct{ firewallUpdate }

func newStorageAccountUpdateCmd(e *env) *cobra.Command {
	c := &storageAccountUpdateCmd{firewallUpdate{env: e}}
	cmd := &cobra.Command{
		Use:   "update NAME [-g GROUP] [--default-action Allow|Deny] [--bypass ...] [--vnet-rule SUBNET_ID]... [--ip-rule CIDR]... [--add-ip-rule CIDR]... [--remove-ip-rule CIDR]... [--add-vnet-rule SUBNET_ID]... [--remove-vnet-rule SUBNET_ID]... [--public-network-access Enabled|Disabled]",
		Short: "Change a storage account's firewall",
		Long: `Change a storage account's firewall (properties.networkAcls) and print the
account. Each flag given replaces its field and leaves the others as they
are: --ip-rule and --vnet-rule replace the whole list of their rules;
--add-ip-rule, --remove-ip-rule, --add-vnet-rule and --remove-vnet-rule
change the lists in place. The account is read, changed and written back
on the condition that nobody wrote it in between (it is read again if
somebody did).

The firewall decides each data-plane request from the moment the command
returns; requests already admitted are not recalled.`,
		Example: `  vnetml storage account update mlstore -g mygroup --default-action Deny --ip-rule 198.51.100.0/24
  vnetml storage account update mlstore --add-ip-rule 203.0.113.7 --bypass AzureServices,Logging
  vnetml storage account update mlstore --public-network-access Disabled`,
		Args: nameArg("the name of the storage account to change"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.acl.register(f, aclStorage, true)
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

func (c *storageAccountUpdateCmd) run(ctx context.Context, args []string) error {
	return c.update(ctx, storageType, args[0], false, "--public-network-access", nil)
}
