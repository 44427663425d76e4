package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
)

// keyVaultCreateCmd is `vnetml keyvault create NAME -g GROUP`.
type keyVaultCreateCmd struct {
	env      *env
	srv      serverFlags
	out      outputFlag
	acl      aclFlags
	group    string
	location string
	rbac     bool
	objectID string
}

// tenantID is the tenant of every vnetml deployment.
const tenantID = "00000000-0000-0000-0000-000000000000"

func newKeyVaultCreateCmd(e *env) *cobra.Command {
	c := &keyVaultCreateCmd{env: e}
	cmd := &cobra.Command{
		Use:   "create NAME -g GROUP [-l LOCATION] [--default-action Allow|Deny] [--bypass AzureServices|None] [--vnet-rule SUBNET_ID]... [--ip-rule CIDR]... [--enable-rbac-authorization] [--object-id TOKEN]",
		Short: "Create a key vault, with its firewall and an access policy",
		Long: `Create a key vault (standard SKU) and print it with its firewall. The vault
gets a virtual address in its region's AzureKeyVault service tag, where its
secrets endpoint answers on 443.

Who may use its secrets: without --enable-rbac-authorization, the access
policies; the vault is created with one that gives every secret permission
to --object-id, the name of a vnetml token (default: your own token, as
az keyvault create grants the signed-in user). With --enable-rbac-authorization, roles
decide: Owner and Contributor on the vault may do everything, Reader may
list. An Owner of the vault's scope may always use it.

The firewall (properties.networkAcls): --default-action Deny admits only a
subnet given with --vnet-rule (it needs the Microsoft.KeyVault service
endpoint), a public address or range given with --ip-rule, or trusted
services with --bypass AzureServices. Without firewall flags the vault
admits every network.

A vault that exists is not changed: the command fails with Conflict (use
'vnetml keyvault update').`,
		Example: `  vnetml keyvault create ml-vault -g mygroup
  vnetml keyvault create ml-vault -g mygroup --default-action Deny --bypass AzureServices --ip-rule 203.0.113.0/24
  vnetml keyvault create ci-vault -g mygroup --object-id ci`,
		Args: nameArg("the name of the key vault to create (3-24 letters, digits and '-')"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, true)
	locationFlag(f, &c.location)
	c.acl.register(f, aclVault, false)
	f.BoolVar(&c.rbac, "enable-rbac-authorization", false, "let the tokens' roles decide who uses the secrets, instead of access policies")
	f.Var(text(&c.objectID, "TOKEN"), "object-id", "the token name the vault's access policy gives every secret permission to (default: your own)")
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

// keyVaultBody is what a create puts.
type keyVaultBody struct {
	Location   string `json:"location"`
	Properties struct {
		TenantID string `json:"tenantId"`
		SKU      struct {
			Family string `json:"family"`
			Name   string `json:"name"`
		} `json:"sku"`
		AccessPolicies          []network.AccessPolicy  `json:"accessPolicies,omitempty"`
		NetworkAcls             *network.NetworkRuleSet `json:"networkAcls,omitempty"`
		EnableRbacAuthorization *bool                   `json:"enableRbacAuthorization,omitempty"`
	} `json:"properties"`
}

func (c *keyVaultCreateCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	if c.group == "" {
		l.Addf(codeMissingArgument, "--resource-group", "-g/--resource-group is required: the resource group to create the key vault in")
	}
	c.acl.check(&l)
	if c.rbac && c.objectID != "" {
		l.Addf(codeInvalidArgument, "--object-id", "--object-id names the identity of an access policy, and with --enable-rbac-authorization the vault uses roles, not access policies: give one or the other")
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, r, err := c.srv.client()
	if err != nil {
		return err
	}
	var body keyVaultBody
	body.Location = firstOf(c.location, defaultLocation)
	p := &body.Properties
	p.TenantID, p.SKU.Family, p.SKU.Name = tenantID, "A", "standard"
	p.NetworkAcls = c.acl.newRuleSet()
	if c.rbac {
		p.EnableRbacAuthorization = &c.rbac
	} else {
		who := c.objectID
		if who == "" {
			var me api.WhoAmI
			if err := cl.GetInto(ctx, api.WhoAmIPath, &me); err != nil {
				return err
			}
			who = me.TokenName
		}
		p.AccessPolicies = []network.AccessPolicy{{TenantID: tenantID, ObjectID: who,
			Permissions: network.PolicyPermissions{Secrets: []string{"all"}}}}
	}
	id := network.MakeID(r.subscription, c.group, network.TypeKeyVault, args[0])
	doc, err := createOnly(ctx, cl, keyVaultType, id, body, "change its firewall with `vnetml keyvault update "+args[0]+" -g "+c.group+"`")
	if err != nil {
		return retargetErr(err, aclTargets)
	}
	if w := ineffective(p.NetworkAcls); w != "" {
		warn(c.env.stderr, w)
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, doc)
	}
	return printWithFirewall(c.env.stdout, keyVaultType, doc)
}
