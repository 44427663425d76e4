package apiserver_test

import (
	"strings"
	"testing"
)

func TestCreateGetListNetwork(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()

	v := e.must(200, "GET", vnet, nil).json(t)
	if v["etag"] == "" || v["id"] != vnet || v["type"] != "Microsoft.Network/virtualNetworks" {
		t.Errorf("GET vnet = %v", v)
	}
	props := v["properties"].(map[string]any)
	if props["provisioningState"] != "Succeeded" || props["resourceGuid"] == "" {
		t.Errorf("vnet properties = %v", props)
	}
	subnet := props["subnets"].([]any)[0].(map[string]any)
	if subnet["id"] != vnet+"/subnets/default" || subnet["etag"] != v["etag"] {
		t.Errorf("subnet = %v; want its id and the VNet's etag", subnet)
	}
	ipcs := subnet["properties"].(map[string]any)["ipConfigurations"].([]any)
	if len(ipcs) != 1 || ipcs[0].(map[string]any)["id"] != nic+"/ipConfigurations/ipconfig1" {
		t.Errorf("subnet ipConfigurations = %v, want the NIC's", ipcs)
	}
	g := e.must(200, "GET", nsg, nil).json(t)
	gp := g["properties"].(map[string]any)
	if len(gp["defaultSecurityRules"].([]any)) != 6 || len(gp["subnets"].([]any)) != 1 {
		t.Errorf("NSG properties = %v; want 6 default rules and the subnet it is attached to", gp)
	}

	// Child resources are resources of their own.
	sn := e.must(200, "GET", vnet+"/subnets/default", nil).json(t)
	if sn["name"] != "default" {
		t.Errorf("GET subnet = %v", sn)
	}
	e.must(201, "PUT", vnet+"/subnets/second", `{"properties": {"addressPrefix": "10.0.1.0/24"}}`)
	list := e.must(200, "GET", vnet+"/subnets", nil).json(t)
	if n := len(list["value"].([]any)); n != 2 {
		t.Errorf("list subnets: %d, want 2", n)
	}
	e.must(200, "PUT", vnet+"/subnets/second", `{"properties": {"addressPrefix": "10.0.2.0/24"}}`)
	e.must(200, "DELETE", vnet+"/subnets/second", nil)
	e.must(204, "DELETE", vnet+"/subnets/second", nil)
	e.must(404, "GET", vnet+"/subnets/second", nil)

	rules := e.must(200, "GET", nsg+"/securityRules", nil).json(t)["value"].([]any)
	if len(rules) != 2 {
		t.Errorf("security rules: %v", rules)
	}
	for _, path := range []string{rg + "/providers/Microsoft.Network/virtualNetworks", sub + "/providers/Microsoft.Network/virtualNetworks"} {
		l := e.must(200, "GET", path, nil).json(t)["value"].([]any)
		if len(l) != 1 {
			t.Errorf("GET %s: %d items, want 1", path, len(l))
		}
	}
	groups := e.must(200, "GET", sub+"/resourceGroups", nil).json(t)["value"].([]any)
	if len(groups) != 2 { // mygroup and NetworkWatcherRG
		t.Errorf("groups = %v", groups)
	}
	e.must(200, "GET", nw, nil)
}

func TestDynamicAddresses(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	dyn := `{"location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": "` + vnet + `/subnets/default"}}}]}}`
	var got []string
	for _, n := range []string{"a", "b"} {
		r := e.must(201, "PUT", net+"/networkInterfaces/"+n, dyn).json(t)
		ipc := r["properties"].(map[string]any)["ipConfigurations"].([]any)[0].(map[string]any)["properties"].(map[string]any)
		if ipc["privateIPAllocationMethod"] != "Dynamic" {
			t.Errorf("allocation method = %v", ipc["privateIPAllocationMethod"])
		}
		got = append(got, ipc["privateIPAddress"].(string))
	}
	// node0 holds 10.0.0.4; the first usable address is .4.
	if strings.Join(got, ",") != "10.0.0.5,10.0.0.6" {
		t.Errorf("dynamic addresses = %v, want 10.0.0.5,10.0.0.6", got)
	}
	// An update keeps the address.
	r := e.must(200, "PUT", net+"/networkInterfaces/a", dyn).json(t)
	if a := r["properties"].(map[string]any)["ipConfigurations"].([]any)[0].(map[string]any)["properties"].(map[string]any)["privateIPAddress"]; a != "10.0.0.5" {
		t.Errorf("after update: %v, want 10.0.0.5 kept", a)
	}
	pip := e.must(201, "PUT", net+"/publicIPAddresses/pip0", `{"location": "eastus", "sku": {"name": "Standard"}}`).json(t)
	if a := pip["properties"].(map[string]any)["ipAddress"]; a != "198.51.100.1" {
		t.Errorf("public IP = %v, want 198.51.100.1", a)
	}
}

// TestApply: a batch is one transaction — all or nothing; it reports what
// it created, changed or left alone; a dry run writes nothing.
func TestApply(t *testing.T) {
	e := newEnv(t)
	res := func(id, body string) string {
		return strings.Replace(body, "{", `{"id": "`+id+`", `, 1)
	}
	batch := `{"resources": [` + strings.Join([]string{res(rg, groupBody), res(nsg, nsgBody), res(vnet, vnetBody), res(nic, nicBody)}, ",") + `]}`
	dry := e.must(200, "POST", "/providers/vnetml.Resources/apply?dryRun=true", batch).json(t)
	if dry["dryRun"] != true || len(dry["resources"].([]any)) != 4 {
		t.Fatalf("dry run = %v", dry)
	}
	e.must(404, "GET", rg, nil)
	actions := func(r map[string]any) string {
		var out []string
		for _, x := range r["resources"].([]any) {
			out = append(out, x.(map[string]any)["action"].(string))
		}
		return strings.Join(out, ",")
	}
	if a := actions(e.must(200, "POST", "/providers/vnetml.Resources/apply", batch).json(t)); a != "created,created,created,created" {
		t.Errorf("first apply: %s", a)
	}
	if a := actions(e.must(200, "POST", "/providers/vnetml.Resources/apply", batch).json(t)); a != "unchanged,unchanged,unchanged,unchanged" {
		t.Errorf("second apply: %s", a)
	}
	changed := strings.Replace(batch, "29876-29877", "29876-29878", 1)
	if a := actions(e.must(200, "POST", "/providers/vnetml.Resources/apply", changed).json(t)); a != "unchanged,changed,unchanged,unchanged" {
		t.Errorf("apply with a changed rule: %s", a)
	}
	// One bad resource fails the whole batch, with every error and its place.
	bad := strings.Replace(batch, `"10.0.0.0/24"`, `"10.0.0.0/33"`, 1)
	bad = strings.Replace(bad, `"priority": 200`, `"priority": 5`, 1)
	er := e.wantError(400, "InvalidRequestContent", "POST", "/providers/vnetml.Resources/apply", bad)
	if len(er.Details) < 2 {
		t.Errorf("want both errors: %v", er)
	}
	e.must(200, "GET", nsg+"/securityRules/allow-batch", nil)
}
