package apiserver_test

import (
	"encoding/json"
	"strings"
	"testing"
)

const workspace = rg + "/providers/Microsoft.MachineLearningServices/workspaces/myws"

// TestWorkspaceCreatesWhatItNeeds: a workspace that names nothing gets a
// storage account, key vault and registry of its own in its group and
// region, and the two default datastores; a workspace naming resources
// must find them in its subscription and region; what it links cannot
// change.
func TestWorkspaceCreatesWhatItNeeds(t *testing.T) {
	e := newDataEnv(t)
	e.must(201, "PUT", rg, groupBody)
	w := e.must(201, "PUT", workspace, `{"location": "eastus"}`).json(t)
	p := w["properties"].(map[string]any)
	for _, f := range []string{"storageAccount", "keyVault", "containerRegistry"} {
		id, _ := p[f].(string)
		if !strings.HasPrefix(strings.ToLower(id), strings.ToLower(rg)+"/providers/") {
			t.Fatalf("%s = %q, want a new resource in the workspace's group", f, id)
		}
		r := e.must(200, "GET", id, nil).json(t)
		if r["location"] != "eastus" {
			t.Errorf("%s is in %v, want eastus", id, r["location"])
		}
	}
	ds := e.must(200, "GET", workspace+"/datastores", nil).json(t)["value"].([]any)
	names := map[string]map[string]any{}
	for _, d := range ds {
		m := d.(map[string]any)
		names[m["name"].(string)] = m["properties"].(map[string]any)
	}
	if names["workspaceblobstore"]["datastoreType"] != "AzureBlob" || names["workspacefilestore"]["datastoreType"] != "AzureFile" ||
		names["workspaceblobstore"]["isDefault"] != true {
		t.Fatalf("datastores: %v", names)
	}
	// The creator's token may use the new vault: an access policy.
	v := e.must(200, "GET", p["keyVault"].(string), nil).json(t)
	if !strings.Contains(string(mustJSON(t, v)), `"objectId":"admin"`) {
		t.Errorf("the new vault has no access policy for the creator: %v", v)
	}

	// Linked resources must exist, in the region.
	e.must(201, "PUT", rg+"/providers/Microsoft.Storage/storageAccounts/weststore", `{"location": "westus2"}`)
	er := e.wantError(400, "InvalidResourceReference", "PUT", rg+"/providers/Microsoft.MachineLearningServices/workspaces/ws2",
		`{"location": "eastus", "properties": {"storageAccount": "`+rg+`/providers/Microsoft.Storage/storageAccounts/weststore"}}`)
	if er.Target != "properties.storageAccount" || !strings.Contains(er.Message, "westus2") {
		t.Errorf("another region: %+v", er)
	}
	e.wantError(400, "InvalidResourceReference", "PUT", rg+"/providers/Microsoft.MachineLearningServices/workspaces/ws3",
		`{"location": "eastus", "properties": {"keyVault": "`+rg+`/providers/Microsoft.KeyVault/vaults/nosuchvault"}}`)
	// Nothing of a refused workspace was created.
	e.must(404, "GET", rg+"/providers/Microsoft.MachineLearningServices/workspaces/ws2", nil)

	// What a workspace links is fixed.
	e.wantError(400, "InvalidParameter", "PATCH", workspace,
		`{"properties": {"storageAccount": "`+rg+`/providers/Microsoft.Storage/storageAccounts/weststore"}}`)
	e.must(200, "PATCH", workspace, `{"properties": {"description": "changed"}}`)
	e.wantError(400, "InvalidParameter", "PUT", rg+"/providers/Microsoft.MachineLearningServices/workspaces/x", `{"location": "eastus"}`)

	// Deleting the workspace deletes its datastores, not what it linked.
	e.must(200, "DELETE", workspace, nil)
	e.must(404, "GET", workspace+"/datastores/workspaceblobstore", nil)
	e.must(200, "GET", p["storageAccount"].(string), nil)
}

// TestDatastoreWarnings: a datastore on a storage account other than the
// workspace's own that denies by default carries the 2019 article's
// constraint as a warning naming the feature and the setting.
func TestDatastoreWarnings(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", rg+"/providers/Microsoft.Storage/storageAccounts/openstore", `{"location": "eastus"}`)
	d := e.must(201, "PUT", workspace+"/datastores/open", `{"properties": {"datastoreType": "AzureBlob", "accountName": "openstore", "containerName": "data"}}`).json(t)
	if w := d["properties"].(map[string]any)["warnings"]; w != nil {
		t.Errorf("an open account: warnings %v", w)
	}
	d = e.must(201, "PUT", workspace+"/datastores/closed", `{"properties": {"datastoreType": "AzureBlob", "accountName": "mlstore", "containerName": "data"}}`).json(t)
	s := string(mustJSON(t, d))
	if !strings.Contains(s, "StorageAccountInVirtualNetwork") || !strings.Contains(s, "networkAcls.defaultAction Deny") {
		t.Errorf("a VNet-restricted account: %s", s)
	}
	e.wantError(400, "InvalidResourceReference", "PUT", workspace+"/datastores/none", `{"properties": {"datastoreType": "AzureBlob", "accountName": "nosuch", "containerName": "data"}}`)
	e.wantError(400, "InvalidParameter", "DELETE", workspace+"/datastores/workspaceblobstore", nil)
	e.must(200, "DELETE", workspace+"/datastores/closed", nil)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
