package store_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

const rg = "/subscriptions/s1/resourceGroups/rg"

func TestParseID(t *testing.T) {
	tests := []struct {
		id   string
		want store.ID // ID and Key are filled in from id
	}{
		{"/subscriptions/s1", store.ID{Subscription: "s1", Type: "Microsoft.Resources/subscriptions"}},
		{rg, store.ID{Subscription: "s1", ResourceGroup: "rg", Type: "Microsoft.Resources/resourceGroups", Parent: "/subscriptions/s1"}},
		{rg + "/providers/Microsoft.Network/virtualNetworks/v",
			store.ID{Subscription: "s1", ResourceGroup: "rg", Type: "Microsoft.Network/virtualNetworks", Parent: rg}},
		{rg + "/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
			store.ID{Subscription: "s1", ResourceGroup: "rg", Type: "Microsoft.Network/virtualNetworks/subnets", Parent: rg + "/providers/Microsoft.Network/virtualNetworks/v"}},
		{rg + "/providers/Microsoft.Network/virtualNetworks/v/providers/Microsoft.Authorization/locks/l",
			store.ID{Subscription: "s1", ResourceGroup: "rg", Type: "Microsoft.Authorization/locks", Parent: rg + "/providers/Microsoft.Network/virtualNetworks/v"}},
		{rg + "/providers/Microsoft.Network/virtualNetworks/v/subnets/s/providers/Microsoft.Authorization/locks/l",
			store.ID{Subscription: "s1", ResourceGroup: "rg", Type: "Microsoft.Authorization/locks", Parent: rg + "/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}},
		{"/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/a",
			store.ID{Subscription: "s1", Type: "Microsoft.Authorization/roleAssignments", Parent: "/subscriptions/s1"}},
		{"/providers/vnetml.Authorization/tokens/t1", store.ID{Type: "vnetml.Authorization/tokens"}},
		{"/providers/ns/t/n/c/m", store.ID{Type: "ns/t/c", Parent: "/providers/ns/t/n"}},
		{"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/VIRTUALNETWORKS/V",
			store.ID{Subscription: "S1", ResourceGroup: "RG", Type: "MICROSOFT.NETWORK/VIRTUALNETWORKS", Parent: "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG"}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			got, err := store.ParseID(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.ID, tc.want.Key = tc.id, strings.ToLower(tc.id)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := store.ParseID("/subscriptions//x"); err == nil || !strings.Contains(err.Error(), "empty segment") {
		t.Errorf("the reason is missing from %v", err)
	}
	for _, bad := range []string{"", "/", "x", "/subscriptions", "/subscriptions/", "/ſubscriptions/s1", "/providers", "/providers/ns/t",
		rg + "/providers", rg + "/providers/ns", rg + "/providers/ns/t", rg + "/providers/ns/providers/ns/t/n",
		rg + "/things/ns/t/n", rg + "/providers/ns/t/n/", rg + "/providers/ns/t//n", rg + "/providers/ns/t/n\t"} {
		_, err := store.ParseID(bad)
		if e, ok := armerror.As(err); !ok || e.Code != store.CodeInvalidResourceID || !strings.Contains(e.Message, "want /subscriptions/") ||
			strings.Contains(e.Message, "%!") {
			t.Errorf("ParseID(%q) = %v, want InvalidResourceId with the expected shape", bad, err)
		}
	}
}

// FuzzParseID: never panics; what it accepts is self-consistent and agrees
// with network.ParseResourceID on the ids both accept.
func FuzzParseID(f *testing.F) {
	for _, id := range []string{"/subscriptions/s1", rg, rg + "/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
		rg + "/providers/Microsoft.Network/virtualNetworks/v/providers/Microsoft.Authorization/locks/l",
		"/subscriptions/s1/providers/a.b/c/d", "/subscriptions/s1/resourceGroups/rg/providers/ns/t/n/", "//"} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		p, err := store.ParseID(id)
		if err != nil {
			if !store.IsInvalid(err) {
				t.Fatalf("ParseID(%q): %v, want InvalidResourceId", id, err)
			}
			return
		}
		if p.ID != id || p.Key != network.Key(id) || p.Type == "" || (p.Subscription == "") != keyword0(id, "/providers/") {
			t.Fatalf("ParseID(%q) = %+v", id, p)
		}
		if p.Parent != "" {
			if !strings.HasPrefix(id, p.Parent+"/") {
				t.Fatalf("parent %q is not a prefix of %q", p.Parent, id)
			}
			if _, err := store.ParseID(p.Parent); err != nil {
				t.Fatalf("parent %q of %q does not parse: %v", p.Parent, id, err)
			}
		}
		n, err := network.ParseResourceID(id)
		if err != nil || p.ResourceGroup == "" || strings.Count(strings.ToLower(id), "/providers/") > 1 {
			return // outside network.ParseResourceID's grammar
		}
		if n.Subscription != p.Subscription || n.ResourceGroup != p.ResourceGroup ||
			(n.Type() != "" || p.Type != "Microsoft.Resources/resourceGroups") && n.Type() != p.Type {
			t.Fatalf("ParseID(%q) = %+v, network.ParseResourceID = %+v (type %q)", id, p, n, n.Type())
		}
	})
}

func TestNewEtag(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		e := store.NewEtag()
		if seen[e] || !strings.HasPrefix(e, `W/"`) || len(e) != 40 {
			t.Fatalf("NewEtag() = %s (seen before: %v)", e, seen[e])
		}
		seen[e] = true
	}
}

// keyword0 reports whether id starts with prefix in ASCII case only.
func keyword0(id, prefix string) bool {
	return len(id) >= len(prefix) && strings.ToLower(id[:len(prefix)]) == prefix && strings.EqualFold(id[:len(prefix)], prefix) &&
		!strings.ContainsFunc(id[:len(prefix)], func(r rune) bool { return r > 0x7f })
}
