package manifest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store"
)

// seeds are the inputs every fuzz target starts from: the testdata files,
// the example, and a few shapes the files do not show.
func seeds(t testing.TB) [][]byte {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/*.json")
	files = append(append(files, more...), "../../examples/secure-network.yaml")
	var out [][]byte
	for _, f := range files {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, s := range []string{
		"",
		"[]",
		`{"value": []}`,
		"location: eastus\nresourceGroups: [{name: g, resources: [{type: A.B/c/d, name: x/y, properties: {n: 0x1f, f: .5, t: 2020-01-01, s: \"\\x85\\u2028\"}}]}]",
		"resourceGroups: [{name: g, location: l, locks: [{name: l, level: readonly}]}]",
		"location: eastus\nresourceGroups: [{name: g, resources: [{type: A.B/c, name: x, properties: {" +
			"a: \"\\x85\\u2028\\ufeff\\t\\x7f\\x00\\e\", b: [0x1F, 1_000, -0, 1e400, .5, +1, 0o17, 0b101, 1E+2, 12345678901234567890, -12345678901234567890, 1.0e-7], " +
			"c: 2001-12-14t21:59:43.10-05:00, d: !!binary aGVsbG8=, \"\": empty, \"~\": tilde, \"a: b\": colon, e: [True, TRUE, false, null, ~], f: {}, g: [], h: '', " +
			"i: \"\\U0001F600\", j: \"line1\\nline2\", k: \"\\\\\\\"\", 010: octal, 1.5: float-key}}]}]",
		"location: eastus\nresourceGroups: [{name: g, storageAccounts: [{name: mlstore, sku: Standard_ZRS, kind: StorageV2, publicNetworkAccess: Disabled, " +
			"firewall: {defaultAction: Deny, bypass: [AzureServices, Metrics], ipRules: [203.0.113.0/24], virtualNetworkRules: [v/s, {subnet: v/t}]}, locks: [{name: l, level: ReadOnly}]}]}]",
		"location: eastus\nresourceGroups: [{name: g, keyVaults: [{name: ml-kv, tenantId: t, sku: premium, " +
			"firewall: {defaultAction: Allow, bypass: None, ipRules: [198.51.100.7], virtualNetworkRules: [v/s, {subnet: v/t, ignoreMissingVnetServiceEndpoint: true}]}}]}]",
		"a: &x [1]\nb: *x\n",
		"resourceGroups:\n- name: g\n  location: [x\n",
		`{"id": "/subscriptions/s/resourceGroups/g/providers/A.B/c/x/providers/Microsoft.Authorization/locks/l"}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// FuzzParse: Parse never panics; an error is an ARM error whose every part
// has a code, a target in the file and a message; on success every
// resource has an id that internal/store parses to the resource's type, a
// JSON object document whose name, id and type agree with the id, and the
// documents, applied verbatim as a JSON array, parse back to the same
// resources in the same order.
func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse("f.yaml", data, Defaults{Location: "eastus"})
		if err != nil {
			checkError(t, err)
			if rs != nil {
				t.Fatalf("Parse returned resources with an error")
			}
			return
		}
		checkResources(t, rs, "f.yaml:")
		checkRoundTrip(t, rs)
	})
}

// checkRoundTrip parses the documents of rs as a JSON array of ARM
// resources and wants the same resources back, in the same order.
func checkRoundTrip(t *testing.T, rs []Resource) {
	t.Helper()
	var arr bytes.Buffer
	arr.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			arr.WriteString(",\n")
		}
		arr.Write(r.Doc)
	}
	arr.WriteByte(']')
	back, err := Parse("back.json", arr.Bytes(), Defaults{})
	if err != nil {
		t.Fatalf("the expanded documents do not parse back: %v\n%s", err, arr.Bytes())
	}
	type res struct{ ID, Type, Doc string }
	strip := func(rs []Resource) []res {
		out := make([]res, len(rs))
		for i, r := range rs {
			out[i] = res{r.ID, r.Type, string(r.Doc)}
		}
		return out
	}
	if diff := cmp.Diff(strip(rs), strip(back)); diff != "" {
		t.Fatalf("round trip differs (-first +second):\n%s", diff)
	}
}

func checkError(t *testing.T, err error) {
	t.Helper()
	e, ok := armerror.As(err)
	if !ok {
		t.Fatalf("Parse returned %T, not an *armerror.Error: %v", err, err)
	}
	all := []*armerror.Error{e}
	if len(e.Details) > 0 {
		if e.Code != CodeInvalidManifest {
			t.Fatalf("an error with details has code %s", e.Code)
		}
		all = e.Details
	}
	for _, d := range all {
		if d.Code == "" || d.Message == "" || !strings.HasPrefix(d.Target, "f.yaml") || len(d.Details) > 0 {
			t.Fatalf("malformed error: %+v", d)
		}
	}
}

func checkResources(t *testing.T, rs []Resource, source string) {
	t.Helper()
	for _, r := range rs {
		id, err := store.ParseID(r.ID)
		if err != nil {
			t.Fatalf("%s: id %q does not parse: %v", r.Source, r.ID, err)
		}
		if id.Type != r.Type {
			t.Fatalf("%s: id %q is of type %q, Type is %q", r.Source, r.ID, id.Type, r.Type)
		}
		if !strings.HasPrefix(r.Source, source) {
			t.Fatalf("source %q does not name the file", r.Source)
		}
		var doc map[string]any
		if err := json.Unmarshal(r.Doc, &doc); err != nil || doc == nil {
			t.Fatalf("%s: document is not a JSON object: %v\n%s", r.Source, err, r.Doc)
		}
		last := r.ID[strings.LastIndexByte(r.ID, '/')+1:]
		if doc["name"] != last || doc["id"] != r.ID || doc["type"] != r.Type {
			t.Fatalf("%s: document's name, id, type = %q, %q, %q; want %q, %q, %q", r.Source, doc["name"], doc["id"], doc["type"], last, r.ID, r.Type)
		}
	}
}

// FuzzParseID: the ids the manifest accepts are ids internal/store
// accepts, of the same type, subscription and group; and store's ids in a
// resource group are accepted, unless they name a resource group or
// subscription as a provider resource.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"/subscriptions/s/resourceGroups/g",
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/x",
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/providers/Microsoft.Authorization/locks/l",
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.Authorization/locks/l",
		"/SUBSCRIPTIONS/s/RESOURCEGROUPS/g/PROVIDERS/a.b/c/d",
		"/subscriptions/s", "/providers/a/b/c", "/subscriptions/s/resourceGroups/g/", "/subscriptions/s/resourceGroups/g/providers/a",
		"/ſubscriptions/s/resourceGroups/g",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, why := parseID(s)
		sid, err := store.ParseID(s)
		if why == "" {
			if err != nil {
				t.Fatalf("parseID accepts %q, store does not: %v", s, err)
			}
			if sid.Type != r.typ || sid.Subscription != r.sub || sid.ResourceGroup != r.group {
				t.Fatalf("parseID(%q) = %s %s %s, store: %s %s %s", s, r.sub, r.group, r.typ, sid.Subscription, sid.ResourceGroup, sid.Type)
			}
			if last := s[strings.LastIndexByte(s, '/')+1:]; r.name() != last {
				t.Fatalf("parseID(%q) names %q", s, r.name())
			}
			return
		}
		if err == nil && sid.ResourceGroup != "" && !strings.HasPrefix(strings.ToLower(sid.Type), "microsoft.resources/") {
			t.Fatalf("store accepts %q (%s), parseID does not: %s", s, sid.Type, why)
		}
	})
}

// TestVerbatimForms: one resource written as a single object, an array, a
// list response, a manifest's top-level resource and a group's resource
// (type and name) expands to the same document.
func TestVerbatimForms(t *testing.T) {
	const id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/routeTables/rt"
	const obj = `{"name": "rt", "id": "` + id + `", "type": "Microsoft.Network/routeTables", "location": "eastus", "properties": {"routes": []}}`
	forms := map[string]string{
		"object":         obj,
		"escaped slash":  strings.ReplaceAll(obj, "/", `\/`),
		"array":          "[" + obj + "]",
		"list response":  `{"value": [` + obj + `]}`,
		"top-level":      "resources:\n- " + obj,
		"group resource": "subscription: s\nresourceGroups:\n- name: g\n  location: eastus\n  resources:\n  - {type: Microsoft.Network/routeTables, name: rt, properties: {routes: []}}",
		"id only":        "resources:\n- {id: " + id + ", location: eastus, properties: {routes: []}}",
		"document marks": "---\nresources:\n- " + obj + "\n---\n",
	}
	for name, src := range forms {
		t.Run(name, func(t *testing.T) {
			rs, err := Parse("v.json", []byte(src), Defaults{})
			if err != nil {
				t.Fatal(err)
			}
			rt := rs[len(rs)-1]
			var want, got any
			_ = json.Unmarshal([]byte(obj), &want)
			if err := json.Unmarshal(rt.Doc, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" || rt.ID != id {
				t.Errorf("id %s, doc (-want +got):\n%s", rt.ID, diff)
			}
		})
	}
}
