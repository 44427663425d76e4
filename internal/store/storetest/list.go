package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/store"
)

// listFixture writes resources across two subscriptions, three groups and
// several types, with names chosen to trip prefix matching (v1, v1-x, v1.x,
// v10), and returns their ids.
func listFixture(t *testing.T, s store.Store) map[string]string {
	f := map[string]string{
		"groupA1":     groupID(subA, "rg1"),
		"vnetA1":      vnetID(subA, "rg1", "v1"),
		"subnetA1s1":  subnetID(subA, "rg1", "v1", "s1"),
		"subnetA1s2":  subnetID(subA, "rg1", "v1", "S2"),
		"lockA1":      vnetID(subA, "rg1", "v1") + "/providers/Microsoft.Authorization/locks/nodelete",
		"vnetA1dash":  vnetID(subA, "rg1", "v1-x"),
		"subnetA1d":   subnetID(subA, "rg1", "v1-x", "s1"),
		"vnetA1dot":   vnetID(subA, "rg1", "v1.x"),
		"subnetA1dot": subnetID(subA, "rg1", "v1.x", "s1"),
		"vnetA10":     vnetID(subA, "rg1", "v10"),
		"subnetA10":   subnetID(subA, "rg1", "v10", "s1"),
		"nsgA1":       nsgID(subA, "rg1", "n1"),
		"ruleA1":      nsgID(subA, "rg1", "n1") + "/securityRules/r1",
		"vnetA2":      vnetID(subA, "RG2", "v2"),
		"subnetA2":    subnetID(subA, "RG2", "v2", "s1"),
		"vnetB1":      vnetID(subB, "rg1", "v1"),
		"subnetB1":    subnetID(subB, "rg1", "v1", "s1"),
	}
	for name, id := range f {
		mustPut(t, s, id, doc(name))
	}
	return f
}

func testListFilters(t *testing.T, s store.Store) {
	f := listFixture(t, s)
	all := make([]string, 0, len(f))
	for name := range f {
		all = append(all, name)
	}
	tests := []struct {
		name string
		opts store.ListOptions
		want []string // fixture names, in any order: the store's order is checked
	}{
		{"everything", store.ListOptions{}, all},
		{"subscription", store.ListOptions{Subscription: subB}, []string{"vnetB1", "subnetB1"}},
		{"subscription any case", store.ListOptions{Subscription: strings.ToUpper(subB)}, []string{"vnetB1", "subnetB1"}},
		{"group across subscriptions", store.ListOptions{ResourceGroup: "RG1", Type: "Microsoft.Network/virtualNetworks"},
			[]string{"vnetA1", "vnetA1dash", "vnetA1dot", "vnetA10", "vnetB1"}},
		{"subscription and group", store.ListOptions{Subscription: subA, ResourceGroup: "rg2"}, []string{"vnetA2", "subnetA2"}},
		{"group resource", store.ListOptions{ResourceGroup: "rg1", Type: "Microsoft.Resources/resourceGroups"}, []string{"groupA1"}},
		{"type any case", store.ListOptions{Subscription: subA, Type: "microsoft.network/VIRTUALNETWORKS"},
			[]string{"vnetA1", "vnetA1dash", "vnetA1dot", "vnetA10", "vnetA2"}},
		{"child type", store.ListOptions{Type: "Microsoft.Network/networkSecurityGroups/securityRules"}, []string{"ruleA1"}},
		{"extension type", store.ListOptions{Type: "Microsoft.Authorization/locks"}, []string{"lockA1"}},
		{"subnets of a vnet", store.ListOptions{Parent: f["vnetA1"], Type: "Microsoft.Network/virtualNetworks/subnets"},
			[]string{"subnetA1s1", "subnetA1s2"}},
		{"everything under a vnet", store.ListOptions{Parent: f["vnetA1"]}, []string{"subnetA1s1", "subnetA1s2", "lockA1"}},
		{"parent any case", store.ListOptions{Parent: strings.ToUpper(f["vnetA1"])}, []string{"subnetA1s1", "subnetA1s2", "lockA1"}},
		{"parent is a group", store.ListOptions{Parent: f["groupA1"], Type: "Microsoft.Network/networkSecurityGroups"}, []string{"nsgA1"}},
		{"parent with no children", store.ListOptions{Parent: f["subnetA1s1"]}, nil},
		{"parent that does not exist", store.ListOptions{Parent: vnetID(subA, "rg1", "nope")}, nil},
		{"unknown type", store.ListOptions{Type: "Microsoft.Network/nope"}, nil},
		{"filters that exclude each other", store.ListOptions{Subscription: subB, ResourceGroup: "rg2"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, name := range tc.want {
				want = append(want, f[name])
			}
			want = sortedByKey(want)
			page, err := s.List(ctx(t), tc.opts)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(want, ids(page.Resources)); diff != "" {
				t.Errorf("List(%+v) (-want +got):\n%s", tc.opts, diff)
			}
			if page.Next != "" {
				t.Errorf("an unlimited list has a continuation %q", page.Next)
			}
			if rev := mustRevision(t, s); page.Revision != rev {
				t.Errorf("page revision %d, want the store's %d", page.Revision, rev)
			}
			for _, r := range page.Resources {
				if len(r.Doc) == 0 || r.Etag == "" || r.Revision == 0 || r.Type == "" {
					t.Errorf("listed resource %s lacks a field: %+v", r.ID, r)
				}
			}
		})
	}
}

// listAll pages through opts with the given limit and returns every page.
func listAll(t *testing.T, s store.Store, opts store.ListOptions, limit int) []store.Page {
	t.Helper()
	opts.Limit = limit
	var pages []store.Page
	for {
		page, err := s.List(ctx(t), opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		pages = append(pages, page)
		if page.Next == "" {
			return pages
		}
		if len(pages) > 1000 {
			t.Fatal("paging does not end")
		}
		opts.Continuation = page.Next
	}
}

func testPaging(t *testing.T, s store.Store) {
	var want []string
	for i := range 10 {
		id := vnetID(subA, "rg", fmt.Sprintf("v%02d", i))
		mustPut(t, s, id, doc("v"))
		mustPut(t, s, id+"/subnets/default", doc("s"))
		want = append(want, id)
	}
	opts := store.ListOptions{Type: "Microsoft.Network/virtualNetworks"}
	for limit := 1; limit <= 12; limit++ {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			pages := listAll(t, s, opts, limit)
			var got []string
			for i, p := range pages {
				last := i == len(pages)-1
				if !last && len(p.Resources) != limit {
					t.Errorf("page %d has %d resources, want %d", i, len(p.Resources), limit)
				}
				if last && (len(p.Resources) == 0 && len(pages) > 1 || len(p.Resources) > limit) {
					t.Errorf("last page has %d resources (limit %d): an empty last page means Next was given needlessly", len(p.Resources), limit)
				}
				got = append(got, ids(p.Resources)...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pages together (-want +got):\n%s", diff)
			}
			if wantPages := (len(want) + limit - 1) / limit; len(pages) != wantPages {
				t.Errorf("%d pages, want %d", len(pages), wantPages)
			}
		})
	}
}

func testPagingInterleaved(t *testing.T, s store.Store) {
	id := func(name string) string { return vnetID(subA, "rg", name) }
	for i := range 10 {
		mustPut(t, s, id(fmt.Sprintf("v%02d", i)), doc("old"))
	}
	opts := store.ListOptions{Limit: 3}
	p1, err := s.List(ctx(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{id("v00"), id("v01"), id("v02")}, ids(p1.Resources)); diff != "" {
		t.Fatalf("first page (-want +got):\n%s", diff)
	}
	// Between pages: delete one returned and one not yet returned, create
	// one before the cursor and one after, update one not yet returned.
	for _, name := range []string{"v01", "v05"} {
		if err := s.Delete(ctx(t), id(name), store.Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(t, s, id("v01a"), doc("new"))
	mustPut(t, s, id("v07a"), doc("new"))
	mustPut(t, s, id("v04"), doc("updated"))

	got := ids(p1.Resources)
	docs := map[string]string{}
	opts.Continuation = p1.Next
	rev := p1.Revision
	for _, p := range listAll(t, s, opts, 3) {
		if p.Revision < rev {
			t.Errorf("page revision went back from %d to %d", rev, p.Revision)
		}
		rev = p.Revision
		for _, r := range p.Resources {
			got = append(got, r.ID)
			docs[r.ID] = string(r.Doc)
		}
	}
	want := []string{id("v00"), id("v01"), id("v02"), // first page, as read
		id("v03"), id("v04"), id("v06"), id("v07"), id("v07a"), id("v08"), id("v09")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids across interleaved writes (-want +got):\n%s", diff)
	}
	if docs[id("v04")] != string(doc("updated")) {
		t.Errorf("v04 listed as %s, want its state when its page was read", docs[id("v04")])
	}
}
