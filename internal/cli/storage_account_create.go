package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
)

// storageAccountCreateCmd is `vnetml storage account create NAME -g GROUP`.
type storageAccountCreateCmd struct {
	env      *env
	srv      serverFlags
	out      outputFlag
	acl      aclFlags
	group    string
	location string
}

func newStorageAccountCreateCmd(e *env) *cobra.Command {
	c := &storageAccountCreateCmd{env: e}
	cmd := &cobra.Command{
		Use:   "create NAME -g GROUP [-l LOCATION] [--default-action Allow|Deny] [--bypass ...] [--vnet-rule SUBNET_ID]... [--ip-rule CIDR]... [--public-network-access Enabled|Disabled]",
		Short: "Create a storage account, with its firewall",
		Long: `Create a storage account (StorageV2, Standard_LRS) and print it with its
firewall. The account gets a virtual address in its region's Storage
service tag, where its blob (443) and file share (445) endpoints answer.

The firewall (properties.networkAcls, as az storage account create sets
it): --default-action Deny admits only what a rule admits: a subnet given
with --vnet-rule (it needs the Microsoft.Storage service endpoint), a
public address or range given with --ip-rule (clients on the Internet, as
'vnetml storage blob' calls from), or a trusted service when --bypass
holds AzureServices. --public-network-access Disabled refuses everything
but trusted services. Without firewall flags the account admits every
network.

An account that exists is not changed: the command fails with Conflict
(use 'vnetml storage account update').`,
		Example: `  vnetml storage account create mlstore -g mygroup
  vnetml storage account create mlstore -g mygroup --default-action Deny --ip-rule 203.0.113.0/24 \
      --vnet-rule /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup/providers/Microsoft.Network/virtualNetworks/mynetwork/subnets/default`,
		Args: nameArg("the name of the storage account to create (3-24 lower-case letters and digits)"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, true)
	locationFlag(f, &c.location)
	c.acl.register(f, aclStorage, false)
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

// storageAccountBody is what a create puts.
type storageAccountBody struct {
	Location string `json:"location"`
	Kind     string `json:"kind"`
	SKU      struct {
		Name string `json:"name"`
	} `json:"sku"`
	Properties struct {
		NetworkAcls         *network.NetworkRuleSet `json:"networkAcls,omitempty"`
		PublicNetworkAccess string                  `json:"publicNetworkAccess,omitempty"`
	} `json:"properties"`
}

func (c *storageAccountCreateCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	if c.group == "" {
		l.Addf(codeMissingArgument, "--resource-group", "-g/--resource-group is required: the resource group to create the storage account in")
	}
	c.acl.check(&l)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, r, err := c.srv.client()
	if err != nil {
		return err
	}
	var body storageAccountBody
	body.Location, body.Kind, body.SKU.Name = firstOf(c.location, defaultLocation), "StorageV2", "Standard_LRS"
	body.Properties.NetworkAcls = c.acl.newRuleSet()
	body.Properties.PublicNetworkAccess = c.acl.publicAccess
	id := network.MakeID(r.subscription, c.group, network.TypeStorageAccount, args[0])
	doc, err := createOnly(ctx, cl, storageType, id, body, "change its firewall with `vnetml storage account update "+args[0]+" -g "+c.group+"`")
	if err != nil {
		return retargetErr(err, aclTargets)
	}
	if w := ineffective(body.Properties.NetworkAcls); w != "" {
		warn(c.env.stderr, w)
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, doc)
	}
	return printWithFirewall(c.env.stdout, storageType, doc)
}
