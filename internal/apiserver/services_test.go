package apiserver_test

import (
	"net/netip"
	"strings"
	"testing"
)

// TestStorageAccountsAndVaults: the workspace services as ARM resources —
// their firewalls validated as Azure does, an address in their region's
// service tag, global names, and host names the fabric resolves.
func TestStorageAccountsAndVaults(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	acct := rg + "/providers/Microsoft.Storage/storageAccounts/mystore"
	body := `{"location": "eastus", "sku": {"name": "Standard_LRS"}, "properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices",
		"virtualNetworkRules": [{"id": "` + vnet + `/subnets/default"}]}}}`
	// The subnet has no Microsoft.Storage service endpoint yet.
	er := e.wantError(400, "NetworkAclsValidationFailure", "PUT", acct, body)
	if !strings.Contains(er.Message, "ServiceEndpoints") {
		t.Errorf("message: %s", er.Message)
	}
	e.must(200, "PUT", vnet+"/subnets/default", `{"properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": "`+nsg+`"},
		"serviceEndpoints": [{"service": "Microsoft.Storage"}, {"service": "Microsoft.KeyVault"}]}}`)
	storageTag := netip.MustParsePrefix("198.18.1.0/24") // Storage.EastUS in the local cloud
	addrOf := func(r map[string]any) netip.Addr {
		a, _ := netip.ParseAddr(r["properties"].(map[string]any)["virtualAddress"].(string))
		return a
	}
	r := e.must(201, "PUT", acct, body).json(t)
	p := r["properties"].(map[string]any)
	first := addrOf(r)
	if !storageTag.Contains(first) || first.As4()[3] < 4 || p["primaryEndpoints"].(map[string]any)["blob"] != "https://mystore.blob.core.windows.net/" {
		t.Errorf("storage account = %v", p)
	}
	// The address stays across updates; a second account gets another.
	r = e.must(200, "PUT", acct, strings.Replace(body, `"Deny"`, `"Allow"`, 1)).json(t)
	if addrOf(r) != first {
		t.Errorf("address moved: %v", r["properties"])
	}
	r = e.must(201, "PUT", rg+"/providers/Microsoft.Storage/storageAccounts/second", `{"location": "eastus"}`).json(t)
	secondAddr := addrOf(r)
	if secondAddr == first || !storageTag.Contains(secondAddr) {
		t.Errorf("second account: %v", r["properties"])
	}
	// A deleted account's address does not go straight to the next one
	// created, and comes back when the account is created again.
	e.must(200, "DELETE", rg+"/providers/Microsoft.Storage/storageAccounts/second", nil)
	r = e.must(201, "PUT", rg+"/providers/Microsoft.Storage/storageAccounts/third", `{"location": "eastus"}`).json(t)
	thirdAddr := addrOf(r)
	if thirdAddr == secondAddr {
		t.Errorf("the next account took the deleted one's address %v", secondAddr)
	}
	if a := addrOf(e.must(201, "PUT", rg+"/providers/Microsoft.Storage/storageAccounts/second", `{"location": "eastus"}`).json(t)); a != secondAddr {
		t.Errorf("recreated, second got %v, want its address %v back", a, secondAddr)
	}
	e.must(201, "PUT", sub+"/resourceGroups/other", groupBody)
	e.wantError(409, "StorageAccountAlreadyTaken", "PUT", sub+"/resourceGroups/other/providers/Microsoft.Storage/storageAccounts/mystore", `{"location": "eastus"}`)
	e.wantError(400, "AccountNameInvalid", "PUT", rg+"/providers/Microsoft.Storage/storageAccounts/My-Store", `{"location": "eastus"}`)
	e.wantError(400, "InvalidResourceLocation", "PUT", rg+"/providers/Microsoft.Storage/storageAccounts/moon", `{"location": "moon"}`)

	kv := rg + "/providers/Microsoft.KeyVault/vaults/ml-keyvault"
	r = e.must(201, "PUT", kv, `{"location": "eastus", "properties": {"tenantId": "t", "sku": {"name": "standard"},
		"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices", "ipRules": [{"value": "203.0.113.0/24"}]}}}`).json(t)
	vaultAddr := addrOf(r)
	if p := r["properties"].(map[string]any); !netip.MustParsePrefix("198.18.2.0/24").Contains(vaultAddr) || p["vaultUri"] != "https://ml-keyvault.vault.azure.net/" {
		t.Errorf("key vault = %v", p)
	}
	e.wantError(400, "VaultNameNotValid", "PUT", rg+"/providers/Microsoft.KeyVault/vaults/a--b", `{"location": "eastus"}`)

	// The fabric resolves their host names.
	if a, ok := e.fab.Resolve("mystore.blob.core.windows.net"); !ok || a != first {
		t.Errorf("blob host resolves to %v %v", a, ok)
	}
	if a, ok := e.fab.Resolve("ml-keyvault.vault.azure.net"); !ok || a != vaultAddr {
		t.Errorf("vault host resolves to %v %v", a, ok)
	}
	e.must(200, "DELETE", rg+"/providers/Microsoft.Storage/storageAccounts/second", nil)
	if _, ok := e.fab.Resolve("second.blob.core.windows.net"); ok {
		t.Error("a deleted account's name still resolves")
	}
	if a, ok := e.fab.Resolve("third.blob.core.windows.net"); !ok || a != thirdAddr {
		t.Errorf("third resolves to %v %v", a, ok)
	}
	l := e.must(200, "GET", sub+"/providers/Microsoft.Storage/storageAccounts", nil).json(t)["value"].([]any)
	if len(l) != 2 {
		t.Errorf("accounts listed: %d", len(l))
	}
}
