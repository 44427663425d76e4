package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/network"
)

// workspaceCreateCmd is `vnetml workspace create NAME -g GROUP`.
type workspaceCreateCmd struct {
	env               *env
	srv               serverFlags
	out               outputFlag
	group             string
	location          string
	storageAccount    string
	keyVault          string
	containerRegistry string
	description       string
}

func newWorkspaceCreateCmd(e *env) *cobra.Command {
	c := &workspaceCreateCmd{env: e}
	cmd := &cobra.Command{
		Use:   "create NAME -g GROUP [-l LOCATION] [--storage-account ID] [--keyvault ID] [--container-registry ID] [--description TEXT]",
		Short: "Create a workspace, with the storage account, key vault and registry it links",
		Long: `Create an Azure ML workspace in a resource group, and print it with the
resources it links and its two default datastores (workspaceblobstore and
workspacefilestore, on its storage account).

--storage-account, --keyvault and --container-registry link existing
resources: give a full resource id, or a name for one in the workspace's
resource group. They must be in the workspace's subscription and region.
Each one not given is created in the resource group with a name derived
from the workspace's. The storage account's key goes into the key vault,
where the datastores' credentials point.

A workspace that exists is not changed: the command fails with Conflict.`,
		Example: `  vnetml workspace create ml -g mygroup
  vnetml workspace create ml -g mygroup -l eastus --storage-account mlstore --keyvault ml-vault \
      --description "experiments behind the virtual network"`,
		Args: nameArg("the name of the workspace to create (3-33 letters, digits, '-' and '_')"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	groupFlag(f, &c.group, true)
	locationFlag(f, &c.location)
	f.Var(text(&c.storageAccount, "ID"), "storage-account", "the storage account to link: an id, or a name in the group (default: create one)")
	f.Var(text(&c.keyVault, "ID"), "keyvault", "the key vault to link: an id, or a name in the group (default: create one)")
	f.Var(text(&c.containerRegistry, "ID"), "container-registry", "the container registry to link: an id, or a name in the group (default: create one)")
	f.Var(text(&c.description, "TEXT"), "description", "what the workspace is for")
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

// workspaceFlags maps the workspace's fields to the flags that set them.
var workspaceFlags = map[string]string{
	"name": "NAME", "location": "--location", "properties.storageAccount": "--storage-account",
	"properties.keyVault": "--keyvault", "properties.containerRegistry": "--container-registry",
	"properties.description": "--description",
}

func (c *workspaceCreateCmd) run(ctx context.Context, args []string) error {
	if err := needGroup(c.group, "workspace"); err != nil {
		return err
	}
	cl, r, err := c.srv.client()
	if err != nil {
		return err
	}
	type props struct {
		Description       string `json:"description,omitempty"`
		StorageAccount    string `json:"storageAccount,omitempty"`
		KeyVault          string `json:"keyVault,omitempty"`
		ContainerRegistry string `json:"containerRegistry,omitempty"`
	}
	body := struct {
		Location   string `json:"location"`
		Properties props  `json:"properties"`
	}{firstOf(c.location, defaultLocation), props{
		Description:       c.description,
		StorageAccount:    resourceRef(r.subscription, c.group, network.TypeStorageAccount, c.storageAccount),
		KeyVault:          resourceRef(r.subscription, c.group, network.TypeKeyVault, c.keyVault),
		ContainerRegistry: resourceRef(r.subscription, c.group, armRegistry, c.containerRegistry),
	}}
	id := network.MakeID(r.subscription, c.group, armWorkspace, args[0])
	doc, err := createOnly(ctx, cl, workspaceType, id, body, "see it with `vnetml workspace show "+args[0]+" -g "+c.group+"`")
	if err != nil {
		return retargetErr(err, workspaceFlags)
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, doc)
	}
	return printWorkspace(ctx, c.env.stdout, cl, doc)
}
