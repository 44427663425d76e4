package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/client"
)

// ARM types of Azure ML workspaces and the registries they link.
const (
	armWorkspace = "Microsoft.MachineLearningServices/workspaces"
	armRegistry  = "Microsoft.ContainerRegistry/registries"
)

// The workspace's types, for the helpers of workspace_resource.go.
var (
	workspaceType = &resourceType{name: "workspace", noun: "workspace", plural: "workspaces",
		aliases: []string{"workspaces"}, armType: armWorkspace, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, {"StorageAccount", docRef("properties.storageAccount")},
			{"KeyVault", docRef("properties.keyVault")}, {"ContainerRegistry", docRef("properties.containerRegistry")}, stateCol}}
	datastoreType = &resourceType{name: "datastore", noun: "datastore", plural: "datastores",
		aliases: []string{"datastores"}, armType: armWorkspace + "/datastores", scope: scopeChild, parent: workspaceType, parentFlag: "workspace-name", segment: "datastores",
		columns: []column{nameCol, {"Type", docField("properties.datastoreType")}, {"Account", docField("properties.accountName")},
			{"Container/Share", docField("properties.containerName", "properties.shareName")},
			{"Default", docBool("properties.isDefault")}, {"SecretName", docField("properties.credentials.secretName")}}}
)

// docRef shows the resource id at path by its name.
func docRef(path string) func(map[string]any) string {
	return func(d map[string]any) string {
		for _, v := range docPick(d, strings.Split(path, ".")) {
			if s := docStr(v); s != "" {
				return lastSegment(s)
			}
		}
		return ""
	}
}

func newWorkspaceCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workspace",
		Short: "Manage Azure ML workspaces and their datastores (az ml workspace ...)",
		Long: `Manage Azure Machine Learning workspaces. A workspace links a storage
account (its default datastores: workspaceblobstore, a blob container, and
workspacefilestore, a file share), a key vault (which holds the storage
account's key and the registry's password) and a container registry. The
server creates those it is not given, in the workspace's resource group.

To put the workspace in a virtual network as the 2019 article does, restrict
its storage account and key vault with 'vnetml storage account update' and
'vnetml keyvault update' (--default-action Deny, --vnet-rule SUBNET_ID,
--bypass AzureServices).`,
		Args: noArgs,
		RunE: groupRun,
	}
	datastore := &cobra.Command{
		Use:   "datastore",
		Short: "A workspace's datastores (az ml datastore ...)",
		Args:  noArgs,
		RunE:  groupRun,
	}
	datastore.AddCommand(newWorkspaceDatastoreListCmd(e))
	cmd.AddCommand(newWorkspaceCreateCmd(e), newWorkspaceShowCmd(e), newWorkspaceListCmd(e), newWorkspaceDeleteCmd(e), newWorkspaceDiagnoseCmd(e), datastore)
	return cmd
}

// workspaceView is what the workspace commands print of a workspace.
type workspaceView struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Location   string `json:"location"`
	Properties struct {
		Description       string `json:"description"`
		StorageAccount    string `json:"storageAccount"`
		KeyVault          string `json:"keyVault"`
		ContainerRegistry string `json:"containerRegistry"`
		WorkspaceID       string `json:"workspaceId"`
		ProvisioningState string `json:"provisioningState"`
	} `json:"properties"`
}

// datastoreWarning is one of the 2019 article's constraints a datastore
// runs into, as the server computes them.
type datastoreWarning struct {
	Code    string `json:"code"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

// printWorkspace prints a workspace as a table of its resources (the
// workspace and what it links), then its datastores and their warnings.
func printWorkspace(ctx context.Context, w io.Writer, cl *client.Client, doc json.RawMessage) error {
	var ws workspaceView
	if err := json.Unmarshal(doc, &ws); err != nil {
		return internalErr(fmt.Errorf("the server's workspace is not JSON: %w", err))
	}
	p := ws.Properties
	fmt.Fprintf(w, "Workspace %s in resource group %s (%s), workspace id %s: %s\n", ws.Name, groupOfID(ws.ID), ws.Location, p.WorkspaceID, p.ProvisioningState)
	if p.Description != "" {
		fmt.Fprintf(w, "%s\n", p.Description)
	}
	fmt.Fprintln(w)
	t := table{header: []string{"Resource", "Name", "Id"}}
	t.add("workspace", ws.Name, ws.ID)
	for _, r := range []struct{ what, id string }{
		{"storage account", p.StorageAccount}, {"key vault", p.KeyVault}, {"container registry", p.ContainerRegistry},
	} {
		if r.id != "" {
			t.add(r.what, lastSegment(r.id), r.id)
		}
	}
	if err := t.write(w); err != nil {
		return err
	}
	stores, err := cl.List(ctx, ws.ID+"/datastores")
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(stores) == 0 {
		_, err := fmt.Fprintln(w, "No datastores.")
		return internalErr(err)
	}
	if err := typeTable(datastoreType, stores).write(w); err != nil {
		return err
	}
	return printDatastoreWarnings(w, stores)
}

// printDatastoreWarnings prints the warnings of datastores, one a line.
func printDatastoreWarnings(w io.Writer, stores []json.RawMessage) error {
	for _, raw := range stores {
		var ds struct {
			Name       string `json:"name"`
			Properties struct {
				Warnings []datastoreWarning `json:"warnings"`
			} `json:"properties"`
		}
		if json.Unmarshal(raw, &ds) != nil {
			continue
		}
		for _, f := range ds.Properties.Warnings {
			if _, err := fmt.Fprintf(w, "%s: datastore %s: %s: %s\n", f.Level, ds.Name, f.Code, f.Message); err != nil {
				return internalErr(err)
			}
		}
	}
	return nil
}
