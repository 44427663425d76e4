package manifest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
)

// wantErr is one expected error: its code, its target, and a piece of its
// message (the hint that says what to write instead).
type wantErr struct {
	Code, Target, Hint string
}

// errorsOf flattens Parse's error: the error itself, or its details.
func errorsOf(t *testing.T, err error) []*armerror.Error {
	t.Helper()
	e, ok := armerror.As(err)
	if !ok {
		t.Fatalf("Parse returned %T, want *armerror.Error: %v", err, err)
	}
	if len(e.Details) == 0 {
		return []*armerror.Error{e}
	}
	if e.Code != CodeInvalidManifest {
		t.Errorf("code of an error with details = %s, want %s", e.Code, CodeInvalidManifest)
	}
	return e.Details
}

func checkErrors(t *testing.T, err error, want []wantErr) {
	t.Helper()
	if err == nil {
		t.Fatalf("Parse succeeded, want %d error(s)", len(want))
	}
	got := errorsOf(t, err)
	var g []wantErr
	for i, e := range got {
		w := wantErr{Code: e.Code, Target: e.Target}
		if i < len(want) && strings.Contains(e.Message, want[i].Hint) {
			w.Hint = want[i].Hint
		} else {
			w.Hint = e.Message
		}
		g = append(g, w)
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("errors (-want +got):\n%s\nerror: %v", diff, err)
	}
}

const head = "location: eastus\nresourceGroups:\n- name: rg\n" // resources below start on line 4

func TestErrors(t *testing.T) {
	const bad = CodeInvalidManifest
	tests := []struct {
		name string
		src  string
		want []wantErr
	}{
		{"unknown field with suggestion", head + `  virtualNetworks:
  - name: v
    addressSpace: [10.0.0.0/16]
    subnets:
    - name: default
      adressPrefix: 10.0.0.0/24
`, []wantErr{
			{bad, "t.yaml:9:7", `resourceGroups[0].virtualNetworks[0].subnets[0]: unknown field "adressPrefix": did you mean "addressPrefix"?`},
		}},
		{"unknown field, case", head + "  networkinterfaces: []\n", []wantErr{
			{bad, "t.yaml:4:3", `unknown field "networkinterfaces": did you mean "networkInterfaces"?`},
		}},
		{"unknown field, ARM spelling", head + `  networkSecurityGroups:
  - name: n
    rules:
    - {name: r, priority: 100, sourceAddressPrefix: Internet}
`, []wantErr{
			{bad, "t.yaml:7:32", `unknown field "sourceAddressPrefix": write "source"`},
		}},
		{"unknown field, nothing close", head + "  frobnicate: 1\n", []wantErr{
			{bad, "t.yaml:4:3", `a resource group takes name, location, tags, locks`},
		}},
		{"unknown top-level field", "resourcegroup: x\n", []wantErr{
			{bad, "t.yaml:1:1", `unknown field "resourcegroup": did you mean "resourceGroups"?`},
		}},
		{"resources outside a group", "virtualNetworks: []\n", []wantErr{
			{bad, "t.yaml:1:1", `declare resources inside their resource group`},
		}},
		{"properties in a typed resource", head + "  routeTables: [{name: r, properties: {routes: []}}]\n", []wantErr{
			{bad, "t.yaml:4:27", `manifest fields are written flat`},
		}},
		{"list where a string belongs", head + "  routeTables: [{name: [a, b]}]\n", []wantErr{
			{bad, "t.yaml:4:24", `routeTables[0].name: want a string, not a list`},
		}},
		{"string where a list belongs", head + "  virtualNetworks: [{name: v, addressSpace: 10.0.0.0/16}]\n", []wantErr{
			{bad, "t.yaml:4:45", `"addressSpace" is "10.0.0.0/16"; write a list, e.g. addressSpace: [10.0.0.0/16]`},
		}},
		{"mapping where a list belongs", head + "  networkSecurityGroups: {name: n}\n", []wantErr{
			{bad, "t.yaml:4:26", `"networkSecurityGroups" is a mapping; write a list`},
		}},
		{"scalar where a resource belongs", head + "  networkSecurityGroups: [n]\n", []wantErr{
			{bad, "t.yaml:4:27", `a network security group is a mapping of fields (name, location, tags, rules, locks), not "n"`},
		}},
		{"missing name", head + "  publicIPAddresses: [{sku: Standard}]\n", []wantErr{
			{bad, "t.yaml:4:23", `publicIPAddresses[0]: missing "name": a public IP address needs one, e.g. name: pip0`},
		}},
		{"empty name", head + "  publicIPAddresses: [{name: ''}]\n", []wantErr{
			{bad, "t.yaml:4:30", `"name" is empty`},
		}},
		{"name with a slash", head + "  publicIPAddresses: [{name: a/b}]\n", []wantErr{
			{bad, "t.yaml:4:30", `contains /; a name is one segment of an ARM id`},
		}},
		{"missing priority", head + "  networkSecurityGroups: [{name: n, rules: [{name: r}]}]\n", []wantErr{
			{bad, "t.yaml:4:45", `rules[0]: missing "priority": a security rule needs one, e.g. priority: 100`},
		}},
		{"quoted priority", head + "  networkSecurityGroups: [{name: n, rules: [{name: r, priority: '100'}]}]\n", []wantErr{
			{bad, "t.yaml:4:65", `write an integer (without quotes), e.g. priority: 100`},
		}},
		{"fractional priority", head + "  networkSecurityGroups: [{name: n, rules: [{name: r, priority: 100.5}]}]\n", []wantErr{
			{bad, "t.yaml:4:65", `"priority" is the number 100.5; write an integer`},
		}},
		{"huge priority", head + "  networkSecurityGroups: [{name: n, rules: [{name: r, priority: 99999999999999999999}]}]\n", []wantErr{
			{bad, "t.yaml:4:65", `"priority" is the number 99999999999999999999; write an integer`},
		}},
		{"boolean in quotes", head + "  routeTables: [{name: r, disableBgpRoutePropagation: 'true'}]\n", []wantErr{
			{bad, "t.yaml:4:55", `write true or false`},
		}},
		{"duplicate NSG names, any case", head + "  networkSecurityGroups:\n  - name: ml-nsg\n  - name: ML-NSG\n", []wantErr{
			{bad, "t.yaml:6:5", `Microsoft.Network/networkSecurityGroups "ML-NSG" is declared twice, first at t.yaml:5`},
		}},
		{"duplicate with other errors", head + "  routeTables: [{name: r}, {name: r}, {name: q, colour: red}]\n", []wantErr{
			{bad, "t.yaml:4:28", `Microsoft.Network/routeTables "r" is declared twice, first at t.yaml:4`},
			{bad, "t.yaml:4:49", `unknown field "colour": a route table takes name`},
		}},
		{"duplicate subnet names", head + "  virtualNetworks: [{name: v, addressSpace: [10.0.0.0/8], subnets: [{name: a, addressPrefix: 10.0.0.0/24}, {name: A, addressPrefix: 10.0.1.0/24}]}]\n", []wantErr{
			{bad, "t.yaml:4:108", `subnet "A" is declared twice here, first on line 4`},
		}},
		{"duplicate rule names", head + "  networkSecurityGroups: [{name: n, rules: [{name: r, priority: 1}, {name: r, priority: 2}]}]\n", []wantErr{
			{bad, "t.yaml:4:69", `security rule "r" is declared twice here`},
		}},
		{"duplicate groups", "location: eastus\nresourceGroups: [{name: g}, {name: G}]\n", []wantErr{
			{bad, "t.yaml:2:29", `Microsoft.Resources/resourceGroups "G" is declared twice`},
		}},
		{"duplicate field", head + "  location: eastus\n  location: westus\n", []wantErr{
			{bad, "t.yaml:5:3", `field "location" is given twice; keep one`},
		}},
		{"invalid lock level", head + "  locks: [{name: l, level: CanNotDelet}]\n", []wantErr{
			{bad, "t.yaml:4:28", `"CanNotDelet" is not a lock level: did you mean "CanNotDelete"? write CanNotDelete`},
		}},
		{"missing lock level", head + "  locks: [{name: l}]\n", []wantErr{
			{bad, "t.yaml:4:11", `missing "level": a lock needs one, e.g. level: CanNotDelete`},
		}},
		{"reference as an ARM object", head + `  virtualNetworks:
  - name: v
    addressSpace: [10.0.0.0/16]
    subnets:
    - name: s
      addressPrefix: 10.0.0.0/24
      networkSecurityGroup: {id: /subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n}
`, []wantErr{
			{bad, "t.yaml:10:29", `write the id itself, /subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n`},
		}},
		{"reference group/name", head + "  networkInterfaces: [{name: nic, subnet: v/s, networkSecurityGroup: other/n}]\n", []wantErr{
			{bad, "t.yaml:4:70", `to name a network security group in another resource group, write its full id, e.g. /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/other/providers/Microsoft.Network/networkSecurityGroups/n`},
		}},
		{"reference id of the wrong type", head + "  networkInterfaces: [{name: nic, subnet: v/s, networkSecurityGroup: /subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/n}]\n", []wantErr{
			{bad, "t.yaml:4:70", `is the id of a Microsoft.Network/routeTables; write the name or id of a network security group`},
		}},
		{"reference, bad id", head + "  networkInterfaces: [{name: nic, subnet: /subscriptions/s/resourcegroups/rg/providers//x}]\n", []wantErr{
			{bad, "t.yaml:4:43", `is not a resource id: it has an empty segment`},
		}},
		{"subnet without its network", head + "  networkInterfaces: [{name: nic, subnet: default}]\n", []wantErr{
			{bad, "t.yaml:4:43", `"default" names no virtual network: write vnet/subnet, e.g. mynetwork/default`},
		}},
		{"missing subnet", head + "  networkInterfaces: [{name: nic}]\n", []wantErr{
			{bad, "t.yaml:4:23", `missing "subnet"`},
		}},
		{"missing peering remote", head + "  virtualNetworks: [{name: v, addressSpace: [10.0.0.0/8], peerings: [{name: p}]}]\n", []wantErr{
			{bad, "t.yaml:4:70", `missing "remoteVirtualNetwork"`},
		}},
		{"missing address space", head + "  virtualNetworks: [{name: v}]\n", []wantErr{
			{bad, "t.yaml:4:21", `missing "addressSpace"`},
		}},
		{"missing route fields", head + "  routeTables: [{name: r, routes: [{name: x}]}]\n", []wantErr{
			{bad, "t.yaml:4:36", `missing "addressPrefix"`},
			{bad, "t.yaml:4:36", `missing "nextHopType"`},
		}},
		{"storage account name with capitals and hyphens", head + "  storageAccounts: [{name: ML-Store}]\n", []wantErr{
			{bad, "t.yaml:4:28", `"ML-Store" is not a storage account name: write 3 to 24 lowercase letters and digits, no hyphens, e.g. mlstore`},
		}},
		{"storage account name too short", head + "  storageAccounts: [{name: st}]\n", []wantErr{
			{bad, "t.yaml:4:28", `storageAccounts[0].name: "st" is not a storage account name`},
		}},
		{"key vault name with two hyphens", head + "  keyVaults: [{name: ml--kv}]\n", []wantErr{
			{bad, "t.yaml:4:22", `"ml--kv" is not a key vault name: write 3 to 24 letters, digits and hyphens that start with a letter`},
		}},
		{"key vault name starting with a digit", head + "  keyVaults: [{name: 1vault}]\n", []wantErr{
			{bad, "t.yaml:4:22", `keyVaults[0].name: "1vault" is not a key vault name`},
		}},
		{"firewall without default action", head + "  storageAccounts: [{name: mlstore, firewall: {ipRules: [203.0.113.0/24]}}]\n", []wantErr{
			{bad, "t.yaml:4:47", `storageAccounts[0].firewall: missing "defaultAction": a firewall needs one, e.g. defaultAction: Deny`},
		}},
		{"firewall field misspelt", head + "  keyVaults: [{name: ml-kv, firewall: {defaultAction: Deny, ipRule: [198.51.100.7]}}]\n", []wantErr{
			{bad, "t.yaml:4:61", `keyVaults[0].firewall: unknown field "ipRule": did you mean "ipRules"?`},
		}},
		{"networkAcls for firewall", head + "  storageAccounts: [{name: mlstore, networkAcls: {defaultAction: Deny}}]\n", []wantErr{
			{bad, "t.yaml:4:37", `unknown field "networkAcls": write "firewall"`},
		}},
		{"empty bypass", head + "  storageAccounts: [{name: mlstore, firewall: {defaultAction: Deny, bypass: []}}]\n", []wantErr{
			{bad, "t.yaml:4:77", `"bypass" is an empty list: write None`},
		}},
		{"vnet rule without its network", head + "  keyVaults: [{name: ml-kv, firewall: {defaultAction: Deny, virtualNetworkRules: [default]}}]\n", []wantErr{
			{bad, "t.yaml:4:83", `virtualNetworkRules[0]: "default" names no virtual network: write vnet/subnet`},
		}},
		{"vnet rule flag on storage", head + "  storageAccounts: [{name: mlstore, firewall: {defaultAction: Deny, virtualNetworkRules: [{subnet: v/s, ignoreMissingVnetServiceEndpoint: true}]}}]\n", []wantErr{
			{bad, "t.yaml:4:105", `unknown field "ignoreMissingVnetServiceEndpoint": a storage account's rule has no such flag (key vaults only)`},
		}},
		{"vnet rule as an ARM reference", head + "  keyVaults: [{name: ml-kv, firewall: {defaultAction: Deny, virtualNetworkRules: [{id: v/s}]}}]\n", []wantErr{
			{bad, "t.yaml:4:84", `virtualNetworkRules[0]: unknown field "id": write "subnet": the subnet's name (mynetwork/default) or full id`},
		}},
		{"storage accounts outside a group", "storageAccounts: []\n", []wantErr{
			{bad, "t.yaml:1:1", `resourceGroups: [{name: mygroup, storageAccounts: [...]}]`},
		}},
		{"verbatim without type", head + "  resources: [{name: lb, properties: {}}]\n", []wantErr{
			{bad, "t.yaml:4:15", `resources[0]: missing "type": an ARM resource needs its type, e.g. type: Microsoft.Network/loadBalancers`},
		}},
		{"verbatim child with a short name", head + "  resources: [{name: s, type: Microsoft.Network/virtualNetworks/subnets}]\n", []wantErr{
			{bad, "t.yaml:4:22", `is named with 2 segment(s) (parent/child for a child resource, as in ARM templates), e.g. mynetwork/default`},
		}},
		{"verbatim in another group", head + "  resources: [{id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/elsewhere/providers/Microsoft.Network/loadBalancers/lb}]\n", []wantErr{
			{bad, "t.yaml:4:20", `is in resource group elsewhere of subscription 00000000-0000-0000-0000-000000000000, not in rg`},
		}},
		{"verbatim type disagrees with id", "resources: [{id: /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/lb, type: Microsoft.Network/routeTables}]\n", []wantErr{
			{bad, "t.yaml:1:104", `type "Microsoft.Network/routeTables" does not match the id, which is of a Microsoft.Network/loadBalancers`},
		}},
		{"verbatim name disagrees with id", "resources: [{id: /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/lb, name: other}]\n", []wantErr{
			{bad, "t.yaml:1:104", `name "other" does not match the id, which names "lb"`},
		}},
		{"top-level verbatim without id", "resources: [{type: Microsoft.Network/loadBalancers, name: lb}]\n", []wantErr{
			{bad, "t.yaml:1:13", `missing "id": a resource under the top-level resources needs its full id`},
		}},
		{"NaN in verbatim", head + "  resources: [{type: A.B/c, name: x, properties: {v: .nan}}]\n", []wantErr{
			{bad, "t.yaml:4:54", `properties.v: the number .nan has no JSON form`},
		}},
		{"custom tag", head + "  routeTables: [{name: !secret r}]\n", []wantErr{
			{bad, "t.yaml:4:24", `the tag !secret is not supported`},
		}},
		{"merge key", head + "  <<: {location: westus}\n", []wantErr{
			{bad, "t.yaml:4:3", `merge keys (<<) are not supported`},
		}},
		{"group without location", "resourceGroups: [{name: g}]\n", []wantErr{
			{bad, "t.yaml:1:18", `resource group "g" has no location: write location: eastus on the group, or once at the top of the manifest`},
		}},
		{"aliases refused", "location: &l eastus\nresourceGroups: [{name: g, location: *l}]\n", []wantErr{
			{bad, "t.yaml:2:38", `aliases (*l) are not supported; write the value out`},
		}},
		{"syntax error", "resourceGroups:\n- name: g\n  location: [eastus\n", []wantErr{
			{bad, "t.yaml:2", `not valid YAML (or JSON): did not find expected ',' or ']'; check the indentation, brackets and quotes on line 2 and the next`},
		}},
		{"empty file", "# nothing\n", []wantErr{
			{bad, "t.yaml", `t.yaml is empty`},
		}},
		{"two documents", "location: eastus\n---\nresourceGroups: []\n", []wantErr{
			{bad, "t.yaml:3:1", `a second YAML document starts here`},
		}},
		{"not a mapping", "just a string\n", []wantErr{
			{bad, "t.yaml:1:1", `t.yaml holds "just a string"; want a manifest`},
		}},
		{"ARM template", `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0", "resources": []}`, []wantErr{
			{bad, "t.yaml:1:2", `this is an ARM template, which vnetml does not evaluate: copy the template's resources`},
		}},
		{"single resource without id", `{"type": "Microsoft.Network/virtualNetworks", "name": "v", "properties": {}}`, []wantErr{
			{bad, "t.yaml:1:1", `missing "id": an ARM resource given on its own needs its full id, /subscriptions/{subscription}/resourceGroups/{group}`},
		}},
		{"array element not an object", `[1]`, []wantErr{
			{bad, "t.yaml:1:2", `[0]: an ARM resource is a JSON object`},
		}},
		{"duplicate JSON key", `{"id": "/subscriptions/s/resourceGroups/g", "id": "/subscriptions/s/resourceGroups/h"}`, []wantErr{
			{bad, "t.yaml:1:45", `key "id" is given twice; keep one`},
		}},
		{"list response with nextLink", `{"value": [], "nextLink": "https://management.azure.com/next"}`, []wantErr{
			{bad, "t.yaml:1:27", `nextLink: this is one page of a longer list`},
		}},
		{"subscription-scope id", `{"id": "/subscriptions/s/providers/Microsoft.Authorization/locks/l"}`, []wantErr{
			{bad, "t.yaml:1:8", `it does not start with /subscriptions/{subscription}/resourceGroups/{group}`},
		}},
		{"resource group as a provider type", `{"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Resources/resourceGroups/h"}`, []wantErr{
			{bad, "t.yaml:1:8", `a resource group's id is /subscriptions/{subscription}/resourceGroups/{group}`},
		}},
		{"several errors in file order", head + "  routeTables: [{nme: r}]\n  virtualNetworks: [{name: v, addressSpace: [~], subnets: [{name: s, adressPrefix: x}]}]\n  networkSecurityGroups:\n  - name: n\n    rules: [{name: r}]\n", []wantErr{
			{bad, "t.yaml:4:18", `did you mean "name"?`},
			{bad, "t.yaml:5:46", `virtualNetworks[0].addressSpace[0]: want a string, not empty`},
			{bad, "t.yaml:5:70", `did you mean "addressPrefix"?`},
			{bad, "t.yaml:8:13", `rules[0]: missing "priority"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Parse("t.yaml", []byte(tt.src), Defaults{})
			if err == nil {
				t.Fatalf("Parse succeeded with %d resources, want errors", len(rs))
			}
			if rs != nil {
				t.Errorf("Parse returned resources with an error")
			}
			checkErrors(t, err, tt.want)
		})
	}
}

// TestLockLevelCase: a lock level in any case is taken, spelled as ARM does.
func TestLockLevelCase(t *testing.T) {
	rs, err := Parse("t.yaml", []byte(head+"  locks: [{name: l, level: readonly}]\n"), Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(rs[len(rs)-1].Doc); !strings.Contains(got, `"level":"ReadOnly"`) {
		t.Errorf("lock doc = %s, want level ReadOnly", got)
	}
}

func TestTooLarge(t *testing.T) {
	data := bytes.Repeat([]byte("#"), MaxBytes+1)
	_, err := Parse("big.yaml", data, Defaults{})
	checkErrors(t, err, []wantErr{{CodeTooLarge, "big.yaml", "split it into several files"}})
	// exactly MaxBytes is read (and is a comment: empty)
	_, err = Parse("big.yaml", data[:MaxBytes], Defaults{})
	checkErrors(t, err, []wantErr{{CodeInvalidManifest, "big.yaml", "is empty"}})
}

// TestAliasBomb: the billion-laughs document is refused at once, not
// expanded.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	_, err := Parse("bomb.yaml", []byte(b.String()), Defaults{})
	errs := errorsOf(t, err)
	if len(errs) == 0 || !strings.Contains(errs[0].Message, "aliases") {
		t.Fatalf("want aliases refused, got %v", err)
	}
}

// TestManyErrors: past maxErrors, the details stop and the message says so.
func TestManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(head)
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&b, "  bad%d: x\n", i)
	}
	_, err := Parse("t.yaml", []byte(b.String()), Defaults{})
	e, _ := armerror.As(err)
	if e == nil || len(e.Details) != maxErrors || !strings.Contains(e.Message, "150 errors in t.yaml; the first 100") {
		t.Fatalf("got %v", err)
	}
}
