package manifest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden is how a Parse result is kept under testdata: the resources in
// order, documents indented.
type golden struct {
	Source string          `json:"source"`
	Type   string          `json:"type"`
	ID     string          `json:"id"`
	Doc    json.RawMessage `json:"doc"`
}

func render(t *testing.T, rs []Resource) []byte {
	t.Helper()
	out := make([]golden, len(rs))
	for i, r := range rs {
		out[i] = golden{r.Source, r.Type, r.ID, r.Doc}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// parseFile parses a file as Parse would see it, named by its base name.
func parseFile(t *testing.T, path string, d Defaults) ([]Resource, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(filepath.Base(path), data, d)
}

// TestGolden expands every manifest and verbatim file under testdata, and
// the example, and compares with the golden ARM JSON.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/*.json")
	files = append(append(files, more...), "../../examples/secure-network.yaml")
	for _, file := range files {
		if strings.HasSuffix(file, ".golden.json") {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			rs, err := parseFile(t, file, Defaults{Location: "eastus"})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := render(t, rs)
			want := filepath.Join("testdata", strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))+".golden.json")
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(w), string(got)); diff != "" {
				t.Errorf("%s expands differently from %s (-want +got; go test -update to accept):\n%s", file, want, diff)
			}
		})
	}
}

// TestNetworkFieldNames decodes every expanded network document into
// internal/network's type, refusing unknown fields: the manifest spells
// every property as the model does.
func TestNetworkFieldNames(t *testing.T) {
	rs, err := parseFile(t, "testdata/full.yaml", Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rs {
		var into any
		switch r.Type {
		case network.TypeVirtualNetwork:
			into = &network.VirtualNetwork{}
		case network.TypeNetworkSecurityGroup:
			into = &network.NetworkSecurityGroup{}
		case network.TypeApplicationSecurityGrp:
			into = &network.ApplicationSecurityGroup{}
		case network.TypeRouteTable:
			into = &network.RouteTable{}
		case network.TypeNetworkInterface:
			into = &network.NetworkInterface{}
		case network.TypePublicIPAddress:
			into = &network.PublicIPAddress{}
		case network.TypeLoadBalancer:
			into = &network.LoadBalancer{}
		case network.TypeStorageAccount:
			into = &network.StorageAccount{}
		case network.TypeKeyVault:
			into = &network.KeyVault{}
		case TypeResourceGroup:
			into = &struct {
				network.Meta
			}{}
		case TypeLock:
			into = &struct {
				Name, ID, Type string
				Properties     struct{ Level, Notes string }
			}{}
		default:
			t.Errorf("unexpected type %s", r.Type)
			continue
		}
		seen[r.Type] = true
		dec := json.NewDecoder(bytes.NewReader(r.Doc))
		dec.DisallowUnknownFields()
		if err := dec.Decode(into); err != nil {
			t.Errorf("%s (%s): %v\n%s", r.ID, r.Source, err, r.Doc)
		}
	}
	if len(seen) != 11 {
		t.Errorf("full.yaml covers %d types, want 11: %v", len(seen), seen)
	}
}

// TestExampleValidates checks examples/secure-network.yaml against the
// network model with the local cloud's service tags, as the server will.
func TestExampleValidates(t *testing.T) {
	rs, err := parseFile(t, "../../examples/secure-network.yaml", Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []json.RawMessage
	var types []string
	for _, r := range rs {
		types = append(types, r.Type)
		if r.Type != TypeResourceGroup && r.Type != TypeLock && r.Type != TypeWorkspace {
			docs = append(docs, r.Doc)
		}
	}
	wantTypes := []string{TypeResourceGroup, network.TypeNetworkSecurityGroup, network.TypeVirtualNetwork,
		network.TypeStorageAccount, network.TypeKeyVault, TypeWorkspace, network.TypeNetworkInterface, TypeLock}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("types (-want +got):\n%s", diff)
	}
	all, _ := json.Marshal(docs)
	var s network.Snapshot
	if err := s.DecodeBytes("secure-network.yaml", all); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(servicetag.LocalCloud()); err != nil {
		t.Fatalf("the example does not validate: %v", err)
	}
}

// TestOrder: groups first, then each group's resources by kind (what is
// referred to before what refers to it), then locks on resources, then
// locks on groups, whatever order they are declared in.
func TestOrder(t *testing.T) {
	const rg2 = "/subscriptions/s/resourceGroups/rg2"
	src := `
subscription: s
location: eastus
resourceGroups:
- name: rg1
  locks: [{name: g1, level: ReadOnly}]
  networkInterfaces: [{name: nic, subnet: v/s}]
  virtualNetworks: [{name: v, addressSpace: [10.0.0.0/16], locks: [{name: lv, level: CanNotDelete}]}]
  resources:
  - {type: Microsoft.Network/loadBalancers, name: lb}
  - {type: Microsoft.Network/networkSecurityGroups, name: vnsg}
  publicIPAddresses: [{name: pip}]
  routeTables: [{name: rt}]
  networkSecurityGroups: [{name: nsg, locks: [{name: ln, level: CanNotDelete}]}]
  applicationSecurityGroups: [{name: asg}]
  keyVaults: [{name: vault, locks: [{name: lk, level: CanNotDelete}]}]
  storageAccounts: [{name: store, firewall: {defaultAction: Deny, virtualNetworkRules: [v/s]}}]
- name: rg2
  locks: [{name: g2, level: CanNotDelete}]
  virtualNetworks: [{name: v2, addressSpace: [10.1.0.0/16]}]
resources:
- {id: ` + rg2 + `/providers/Microsoft.Network/networkSecurityGroups/n2, location: eastus}
- {id: /subscriptions/s/resourceGroups/rg3/providers/Microsoft.Network/virtualNetworks/v3/providers/Microsoft.Authorization/locks/l3, properties: {level: ReadOnly}}
- {id: /subscriptions/s/resourceGroups/rg3/providers/Microsoft.Network/virtualNetworks/v3, location: eastus}
- {id: /subscriptions/s/resourceGroups/rg3, location: eastus}
`
	rs, err := Parse("order.yaml", []byte(src), Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, strings.TrimPrefix(r.ID, "/subscriptions/s/resourceGroups/"))
	}
	want := []string{
		"rg1", "rg2", "rg3",
		"rg1/providers/Microsoft.Network/applicationSecurityGroups/asg",
		"rg1/providers/Microsoft.Network/networkSecurityGroups/nsg",
		"rg1/providers/Microsoft.Network/networkSecurityGroups/vnsg",
		"rg1/providers/Microsoft.Network/routeTables/rt",
		"rg1/providers/Microsoft.Network/publicIPAddresses/pip",
		"rg1/providers/Microsoft.Network/virtualNetworks/v",
		"rg1/providers/Microsoft.Storage/storageAccounts/store",
		"rg1/providers/Microsoft.KeyVault/vaults/vault",
		"rg1/providers/Microsoft.Network/loadBalancers/lb",
		"rg1/providers/Microsoft.Network/networkInterfaces/nic",
		"rg2/providers/Microsoft.Network/networkSecurityGroups/n2",
		"rg2/providers/Microsoft.Network/virtualNetworks/v2",
		"rg3/providers/Microsoft.Network/virtualNetworks/v3",
		"rg1/providers/Microsoft.Network/networkSecurityGroups/nsg/providers/Microsoft.Authorization/locks/ln",
		"rg1/providers/Microsoft.Network/virtualNetworks/v/providers/Microsoft.Authorization/locks/lv",
		"rg1/providers/Microsoft.KeyVault/vaults/vault/providers/Microsoft.Authorization/locks/lk",
		"rg3/providers/Microsoft.Network/virtualNetworks/v3/providers/Microsoft.Authorization/locks/l3",
		"rg1/providers/Microsoft.Authorization/locks/g1",
		"rg2/providers/Microsoft.Authorization/locks/g2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

// TestReferences: names resolve to ids in the manifest's subscription and
// the declaring group, ids are kept as written, and a name the manifest
// does not declare still resolves (it may exist on the server).
func TestReferences(t *testing.T) {
	const other = "/subscriptions/OTHER/resourceGroups/Net/providers/Microsoft.Network"
	const rg = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network"
	tests := []struct {
		name  string
		field string // YAML of one NIC field
		path  []string
		want  any
	}{
		{"subnet by name", "subnet: v/s", []string{"ipConfigurations", "0", "properties", "subnet", "id"}, rg + "/virtualNetworks/v/subnets/s"},
		{"subnet by id", "subnet: " + other + "/virtualNetworks/V/subnets/S", []string{"ipConfigurations", "0", "properties", "subnet", "id"}, other + "/virtualNetworks/V/subnets/S"},
		{"nsg by name, undeclared", "networkSecurityGroup: nowhere", []string{"networkSecurityGroup", "id"}, rg + "/networkSecurityGroups/nowhere"},
		{"nsg by id, any case", "networkSecurityGroup: " + strings.ToLower(other) + "/networksecuritygroups/x", []string{"networkSecurityGroup", "id"}, strings.ToLower(other) + "/networksecuritygroups/x"},
		{"public ip", "publicIPAddress: pip", []string{"ipConfigurations", "0", "properties", "publicIPAddress", "id"}, rg + "/publicIPAddresses/pip"},
		{"asgs, name and id", "applicationSecurityGroups: [web, " + other + "/applicationSecurityGroups/db]", []string{"ipConfigurations", "0", "properties", "applicationSecurityGroups"},
			[]any{map[string]any{"id": rg + "/applicationSecurityGroups/web"}, map[string]any{"id": other + "/applicationSecurityGroups/db"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "subscription: s\nresourceGroups:\n- name: rg\n  location: eastus\n  networkInterfaces:\n  - name: nic\n    " + tt.field + "\n"
			if !strings.HasPrefix(tt.field, "subnet:") {
				src += "    subnet: v/s\n"
			}
			rs, err := Parse("refs.yaml", []byte(src), Defaults{})
			if err != nil {
				t.Fatal(err)
			}
			var doc struct{ Properties any }
			if err := json.Unmarshal(rs[len(rs)-1].Doc, &doc); err != nil {
				t.Fatal(err)
			}
			got := doc.Properties
			for _, k := range tt.path {
				switch v := got.(type) {
				case map[string]any:
					got = v[k]
				case []any:
					got = v[0]
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.field, diff)
			}
		})
	}
}

// TestDefaults: the manifest's subscription and location win over the
// caller's defaults, a group's location over the manifest's, a resource's
// over its group's; with no subscription anywhere, network's default.
func TestDefaults(t *testing.T) {
	type got struct{ ID, Location string }
	parse := func(src string, d Defaults) []got {
		t.Helper()
		rs, err := Parse("d.yaml", []byte(src), d)
		if err != nil {
			t.Fatal(err)
		}
		var out []got
		for _, r := range rs {
			var doc struct{ Location string }
			_ = json.Unmarshal(r.Doc, &doc)
			out = append(out, got{r.ID, doc.Location})
		}
		return out
	}
	tests := []struct {
		name string
		src  string
		d    Defaults
		want []got
	}{
		{"caller defaults", "resourceGroups: [{name: g, routeTables: [{name: r}]}]", Defaults{Subscription: "sub", Location: "westeurope"}, []got{
			{"/subscriptions/sub/resourceGroups/g", "westeurope"},
			{"/subscriptions/sub/resourceGroups/g/providers/Microsoft.Network/routeTables/r", "westeurope"},
		}},
		{"zero defaults", "location: eastus\nresourceGroups: [{name: g}]", Defaults{}, []got{
			{"/subscriptions/" + network.DefaultSubscription + "/resourceGroups/g", "eastus"},
		}},
		{"nearest wins", "subscription: m\nlocation: eastus\nresourceGroups: [{name: g, location: westus, routeTables: [{name: r}, {name: q, location: northeurope}]}]",
			Defaults{Subscription: "sub", Location: "westeurope"}, []got{
				{"/subscriptions/m/resourceGroups/g", "westus"},
				{"/subscriptions/m/resourceGroups/g/providers/Microsoft.Network/routeTables/r", "westus"},
				{"/subscriptions/m/resourceGroups/g/providers/Microsoft.Network/routeTables/q", "northeurope"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parse(tt.src, tt.d)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestDocs keeps docs/manifest.md true: its full example is
// testdata/full.yaml, its storage and key vault example parses, and its
// error example fails as shown.
func TestDocs(t *testing.T) {
	b, err := os.ReadFile("../../docs/manifest.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	block := func(after, fence string) string {
		t.Helper()
		_, rest, ok := strings.Cut(doc, after)
		if !ok {
			t.Fatalf("docs/manifest.md has no %q", after)
		}
		_, rest, ok = strings.Cut(rest, fence+"\n")
		body, _, ok2 := strings.Cut(rest, "```\n")
		if !ok || !ok2 {
			t.Fatalf("docs/manifest.md has no %s block after %q", fence, after)
		}
		return body
	}
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(full), block("## A full example", "```yaml")); diff != "" {
		t.Errorf("the full example of docs/manifest.md is not testdata/full.yaml (-file +docs):\n%s", diff)
	}
	if _, err := Parse("services.yaml", []byte(block("## Storage accounts and key vaults", "```yaml")), Defaults{}); err != nil {
		t.Errorf("the storage and key vault example of docs/manifest.md: %v", err)
	}
	_, err = Parse("net.yaml", []byte(block("This `net.yaml`", "```yaml")), Defaults{})
	if diff := cmp.Diff(block("is refused with", "```"), fmt.Sprint(err)+"\n"); diff != "" {
		t.Errorf("the error example of docs/manifest.md (-docs +got):\n%s", diff)
	}
}
