package cli

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// create makes the workspace with a storage account, key vault and
// registry of its own and the two default datastores, and prints them;
// show prints the same; the vault holds the storage account's key, which
// the datastores' credentials name.
func TestWorkspaceCreateLinksResourcesAndDatastores(t *testing.T) {
	s := newDataServer(t)
	created := s.ok("workspace", "create", "mlws", "-g", "mygroup", "--description", "experiments")
	var ws struct {
		ID         string `json:"id"`
		Properties struct {
			StorageAccount, KeyVault, ContainerRegistry, Description, WorkspaceID string
		} `json:"properties"`
	}
	decode(t, s.ok("workspace", "show", "mlws", "-g", "mygroup", "-o", "json"), &ws)
	p := ws.Properties
	if p.StorageAccount == "" || p.KeyVault == "" || p.ContainerRegistry == "" || p.Description != "experiments" || p.WorkspaceID == "" {
		t.Fatalf("workspace: %+v", ws)
	}
	for _, want := range []string{
		"Workspace mlws in resource group mygroup (eastus), workspace id " + p.WorkspaceID + ": Succeeded\nexperiments\n",
		"workspace           mlws  ",
		"storage account     " + lastSegment(p.StorageAccount) + "  ", p.StorageAccount,
		"key vault           " + lastSegment(p.KeyVault) + "  ", p.KeyVault,
		"container registry  " + lastSegment(p.ContainerRegistry) + "  ", p.ContainerRegistry,
		"workspaceblobstore  AzureBlob  " + lastSegment(p.StorageAccount) + "  azureml-blobstore-" + p.WorkspaceID + "  true",
		"workspacefilestore  AzureFile  " + lastSegment(p.StorageAccount) + "  azureml-filestore-" + p.WorkspaceID + "  false",
	} {
		if !strings.Contains(created, want) {
			t.Errorf("create does not show %q:\n%s", want, created)
		}
	}
	if diff := cmp.Diff(created, s.ok("workspace", "show", "mlws")); diff != "" {
		t.Errorf("show differs from create (-create +show):\n%s", diff)
	}

	var stores []struct {
		Name       string `json:"name"`
		Properties struct {
			Credentials struct{ SecretName, KeyVault string }
		} `json:"properties"`
	}
	decode(t, s.ok("workspace", "datastore", "list", "-w", "mlws", "-g", "mygroup", "-o", "json"), &stores)
	if len(stores) != 2 || stores[0].Name != "workspaceblobstore" || stores[1].Name != "workspacefilestore" {
		t.Fatalf("datastores: %+v", stores)
	}
	// The linked resources are real: the account and vault answer, and the
	// vault holds the key the datastores name.
	s.ok("storage", "account", "show", lastSegment(p.StorageAccount))
	var secrets []struct{ ID string }
	decode(t, s.ok("keyvault", "secret", "list", "--vault-name", lastSegment(p.KeyVault), "-o", "json"), &secrets)
	found := false
	for _, sec := range secrets {
		found = found || secretName(sec.ID) == stores[0].Properties.Credentials.SecretName
	}
	if !found || stores[0].Properties.Credentials.KeyVault != p.KeyVault {
		t.Errorf("the vault's secrets %+v lack the datastore's credential %+v", secrets, stores[0].Properties.Credentials)
	}

	if out := s.ok("workspace", "list"); !strings.Contains(out, "mlws  mygroup        eastus    "+lastSegment(p.StorageAccount)) {
		t.Errorf("list:\n%s", out)
	}
	wantFail(t, s.run("workspace", "create", "mlws", "-g", "mygroup"), exitInput, "Conflict", "already exists")
	wantFail(t, s.run("workspace", "create", "mlws2"), exitInput, "(--resource-group)")
	wantFail(t, s.run("workspace", "create", "ab", "-g", "mygroup"), exitInput, "InvalidParameter (NAME)")
	wantFail(t, s.run("workspace", "create", "mlws3", "-g", "mygroup", "--keyvault", "nosuch"), exitInput, "(--keyvault)", "does not exist")
	wantFail(t, s.run("workspace", "show", "nosuch"), exitInput, "NotFound", "nosuch")
	wantFail(t, s.run("workspace", "datastore", "list"), exitInput, "(--workspace-name)")

	// A workspace over resources that exist: linked, not created.
	s.ok("storage", "account", "create", "mystore", "-g", "mygroup")
	s.ok("keyvault", "create", "my-vault", "-g", "mygroup")
	var ws2 struct {
		Properties struct{ StorageAccount, KeyVault string } `json:"properties"`
	}
	decode(t, s.ok("workspace", "create", "mlws2", "-g", "mygroup", "--storage-account", "mystore", "--keyvault", "my-vault", "-o", "json"), &ws2)
	if lastSegment(ws2.Properties.StorageAccount) != "mystore" || lastSegment(ws2.Properties.KeyVault) != "my-vault" {
		t.Errorf("linked: %+v", ws2.Properties)
	}

	if out := s.ok("workspace", "delete", "mlws", "-g", "mygroup"); out != "Deleted workspace mygroup/mlws\n" {
		t.Errorf("delete: %q", out)
	}
	if out := s.ok("workspace", "delete", "mlws", "-g", "mygroup"); out != "Workspace mygroup/mlws did not exist\n" {
		t.Errorf("delete again: %q", out)
	}
}

// Every new command explains itself: a long help, an example, and its
// flags with their placeholders.
func TestWorkspaceCommandsHelp(t *testing.T) {
	server := []string{"--endpoint URL", "--token TOKEN", "--subscription ID"}
	dataPlane := slices.Concat(server, []string{"--client-address IP"})
	acl := []string{"--default-action Allow|Deny", "--vnet-rule SUBNET_ID", "--ip-rule CIDR"}
	update := slices.Concat(acl, []string{"--add-ip-rule CIDR", "--remove-ip-rule CIDR", "--add-vnet-rule SUBNET_ID", "--remove-vnet-rule SUBNET_ID"})
	cases := []struct {
		path  string
		flags []string
	}{
		{"workspace", []string{"create", "show", "list", "delete", "datastore"}},
		{"workspace create", with(server, "-g, --resource-group GROUP", "-l, --location LOCATION", "--storage-account ID", "--keyvault ID",
			"--container-registry ID", "--description TEXT", "-o, --output json|table")},
		{"workspace show", with(server, "-g, --resource-group GROUP")},
		{"workspace list", server},
		{"workspace delete", server},
		{"workspace datastore list", with(server, "-w, --workspace-name WORKSPACE")},
		{"storage", []string{"account", "blob"}},
		{"storage account create", with(slices.Concat(server, acl), "--bypass AzureServices,Logging,Metrics|None", "--public-network-access Enabled|Disabled")},
		{"storage account update", with(slices.Concat(server, update), "--public-network-access Enabled|Disabled")},
		{"storage account show", server},
		{"storage account list", server},
		{"storage account delete", server},
		{"storage account keys list", server},
		{"storage account keys renew", with(server, "--key key1|key2")},
		{"storage blob upload", with(dataPlane, "--account-name ACCOUNT", "-c, --container-name CONTAINER", "-n, --name NAME", "-f, --file FILE",
			"--auth-mode key|login", "--file-share", "--no-progress")},
		{"storage blob download", with(dataPlane, "--account-name ACCOUNT", "-f, --file FILE", "--no-progress", "FILE.part.etag")},
		{"storage blob list", with(dataPlane, "--prefix PREFIX")},
		{"storage blob delete", with(dataPlane, "-n, --name NAME")},
		{"keyvault", []string{"create", "update", "show", "list", "delete", "secret"}},
		{"keyvault create", with(slices.Concat(server, acl), "--bypass AzureServices|None", "--enable-rbac-authorization", "--object-id TOKEN")},
		{"keyvault update", with(slices.Concat(server, update), "--enable-rbac-authorization")},
		{"keyvault show", server},
		{"keyvault list", server},
		{"keyvault delete", server},
		{"keyvault secret set", with(dataPlane, "--vault-name VAULT", "-n, --name NAME", "--value VALUE", "--file FILE")},
		{"keyvault secret show", with(dataPlane, "--vault-name VAULT")},
		{"keyvault secret list", with(dataPlane, "--vault-name VAULT")},
		{"keyvault secret delete", with(dataPlane, "--vault-name VAULT")},
		{"login", []string{"--client-address IP"}},
	}
	root := newRootCmd(&env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard})
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			cmd, _, err := root.Find(strings.Fields(tc.path))
			if err != nil || cmd.CommandPath() != "vnetml "+tc.path {
				t.Fatalf("no command %q: %v", tc.path, err)
			}
			if cmd.Long == "" && !cmd.HasSubCommands() || (!cmd.HasSubCommands() && cmd.Example == "") {
				t.Errorf("%s lacks a long help or an example", tc.path)
			}
			r := run(t, append(strings.Fields(tc.path), "--help")...)
			wantOK(t, r)
			for _, f := range tc.flags {
				if !strings.Contains(r.stdout, f) {
					t.Errorf("help does not mention %q:\n%s", f, r.stdout)
				}
			}
		})
	}
	// The data-plane flag is only where a data plane is reached.
	r := run(t, "storage", "account", "show", "--help")
	if strings.Contains(r.stdout, "--client-address") {
		t.Error("storage account show offers --client-address")
	}
	wantFail(t, run(t, "storage", "blobs"), exitInput, `"blobs" is not a command of "vnetml storage"; did you mean blob?`)
}

// with is base and more, in a new slice.
func with(base []string, more ...string) []string { return slices.Concat(base, more) }
