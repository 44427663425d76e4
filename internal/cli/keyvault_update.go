package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// keyVaultUpdateCmd is `vnetml keyvault update NAME`.
type keyVaultUpdateCmd struct {
	firewallUpdate
	rbac bool
}

func newKeyVaultUpdateCmd(e *env) *cobra.Command {
	c := &keyVaultUpdateCmd{firewallUpdate: firewallUpdate{env: e}}
	cmd := &cobra.Command{
		Use:   "update NAME [-g GROUP] [--default-action Allow|Deny] [--bypass AzureServices|None] [--vnet-rule SUBNET_ID]... [--ip-rule CIDR]... [--add-ip-rule CIDR]... [--remove-ip-rule CIDR]... [--add-vnet-rule SUBNET_ID]... [--remove-vnet-rule SUBNET_ID]... [--enable-rbac-authorization=true|false]",
		Short: "Change a key vault's firewall or authorization",
		Long: `Change a key vault's firewall (properties.networkAcls) or how it authorizes
(--enable-rbac-authorization=true|false), and print the vault. Each flag
given replaces its field and leaves the others as they are: --ip-rule and
--vnet-rule replace the whole list of their rules; --add-ip-rule,
--remove-ip-rule, --add-vnet-rule and --remove-vnet-rule change the lists
in place. The access policies are kept. The vault is read, changed and
written back on the condition that nobody wrote it in between.`,
		Example: `  vnetml keyvault update ml-vault -g mygroup --default-action Deny --bypass AzureServices
  vnetml keyvault update ml-vault --add-ip-rule 198.51.100.0/24
  vnetml keyvault update ml-vault --enable-rbac-authorization=true`,
		Args: nameArg("the name of the key vault to change"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, false)
	c.acl.register(f, aclVault, true)
	f.BoolVar(&c.rbac, "enable-rbac-authorization", false, "true: the tokens' roles decide who uses the secrets; false: the access policies do")
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

func (c *keyVaultUpdateCmd) run(ctx context.Context, args []string) error {
	rbacGiven := c.acl.changed("enable-rbac-authorization")
	return c.update(ctx, keyVaultType, args[0], rbacGiven, "--enable-rbac-authorization", func(props map[string]any) {
		if rbacGiven {
			props["enableRbacAuthorization"] = c.rbac
		}
	})
}
