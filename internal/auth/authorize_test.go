package auth_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
)

const (
	s1   = "/subscriptions/s1"
	rg1  = s1 + "/resourceGroups/rg1"
	rg2  = s1 + "/resourceGroups/rg2"
	vnet = rg1 + "/providers/Microsoft.Network/virtualNetworks/v1"
)

var actions = []struct {
	name string
	a    auth.Action
}{{"Read", auth.Read}, {"Write", auth.Write}, {"Delete", auth.Delete}, {"Query", auth.Query}, {"ManageTokens", auth.ManageTokens}}

// may is the role table of the package doc, spelled out.
var may = map[auth.Role]map[auth.Action]bool{
	auth.Owner:       {auth.Read: true, auth.Write: true, auth.Delete: true, auth.Query: true, auth.ManageTokens: true},
	auth.Contributor: {auth.Read: true, auth.Write: true, auth.Delete: true, auth.Query: true},
	auth.Reader:      {auth.Read: true, auth.Query: true},
	"":               {},
	"Administrator":  {},
}

func TestAuthorizeMatrix(t *testing.T) {
	placements := []struct {
		name   string
		scope  string
		id     string
		covers bool
	}{
		{"rg itself", rg1, rg1, true},
		{"resource in rg", rg1, vnet, true},
		{"child resource in rg", rg1, vnet + "/subnets/default", true},
		{"extension resource in rg", rg1, vnet + "/providers/Microsoft.Authorization/locks/l", true},
		{"trailing slash on id", rg1, rg1 + "/", true},
		{"id in other case", rg1, "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG1/providers/Microsoft.Network/virtualNetworks/v1", true},
		{"scope in other case", "/Subscriptions/S1/resourcegroups/RG1", vnet, true},
		{"sibling rg with the scope as prefix", rg1, s1 + "/resourceGroups/rg10/providers/Microsoft.Network/virtualNetworks/v1", false},
		{"sibling rg", rg1, rg2, false},
		{"same rg name in other subscription", rg1, "/subscriptions/s2/resourceGroups/rg1", false},
		{"the rg's subscription", rg1, s1, false},
		{"the deployment", rg1, "/", false},
		{"a token", rg1, "/providers/vnetml.Authorization/tokens/t", false},
		{"subscription itself", s1, s1, true},
		{"rg in subscription", s1, rg2, true},
		{"resource in subscription", s1, vnet, true},
		{"sibling subscription with the scope as prefix", s1, "/subscriptions/s10/resourceGroups/rg1", false},
		{"root covers a resource", "/", vnet, true},
		{"root covers itself", "/", "/", true},
		{"root covers a token", "/", "/providers/vnetml.Authorization/tokens/t", true},
		{"empty scope covers nothing", "", vnet, false},
		{"empty scope not even empty id", "", "", false},
		{"slashes are not root", "//", vnet, false},
		{"non-ASCII scope in other case", "/subscriptions/É1", "/subscriptions/é1/resourceGroups/x", true},
		{"long-s is not s", "/ſubscriptions/s1", "/subscriptions/s1", false},
	}
	for role, allowed := range may {
		for _, ac := range actions {
			for _, pl := range placements {
				t.Run(string(role)+"/"+ac.name+"/"+pl.name, func(t *testing.T) {
					p := auth.Principal{TokenID: "t", Role: role, Scope: pl.scope}
					err := auth.Authorize(p, ac.a, pl.id)
					want := allowed[ac.a] && pl.covers
					if got := err == nil; got != want {
						t.Fatalf("Authorize(%+v, %s, %q) = %v, want allowed=%v", p, ac.name, pl.id, err, want)
					}
					if err != nil {
						if diff := cmp.Diff([]string{auth.CodeAuthorizationFailed}, armerror.Codes(err)); diff != "" {
							t.Errorf("codes (-want +got):\n%s", diff)
						}
					}
				})
			}
		}
	}
}

func TestAuthorizeUnknownAction(t *testing.T) {
	err := auth.Authorize(auth.Principal{TokenID: "admin", Role: auth.Owner, Scope: "/"}, auth.Action(99), vnet)
	if diff := cmp.Diff([]string{auth.CodeAuthorizationFailed}, armerror.Codes(err)); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
}

func TestAuthorizeMessage(t *testing.T) {
	tests := []struct {
		name   string
		p      auth.Principal
		action auth.Action
		id     string
		want   string
	}{{
		name:   "reader writes",
		p:      auth.Principal{TokenID: "ci", Role: auth.Reader, Scope: s1},
		action: auth.Write,
		id:     vnet,
		want: "The client 'ci' does not have authorization to perform action 'Microsoft.Network/virtualNetworks/write' over scope '" + vnet +
			"' or the scope is invalid. The token \"ci\" is Reader on \"/subscriptions/s1\"; this needs Contributor or Owner on \"" + rg1 +
			"\" (or on a scope that contains it): ask an Owner there for such a token, then run `vnetml login` with it.",
	}, {
		name:   "owner of another rg",
		p:      auth.Principal{TokenID: "o2", Role: auth.Owner, Scope: rg2},
		action: auth.Read,
		id:     vnet + "/subnets/a",
		want: "The client 'o2' does not have authorization to perform action 'Microsoft.Network/virtualNetworks/subnets/read' over scope '" + vnet +
			"/subnets/a' or the scope is invalid. The token \"o2\" is Owner on \"" + rg2 + "\"; this needs Reader, Contributor or Owner on \"" + rg1 +
			"\" (or on a scope that contains it): ask an Owner there for such a token, then run `vnetml login` with it.",
	}, {
		name:   "contributor manages tokens of a subscription",
		p:      auth.Principal{TokenID: "c", Role: auth.Contributor, Scope: s1},
		action: auth.ManageTokens,
		id:     s1,
		want: "The client 'c' does not have authorization to perform action 'vnetml.Authorization/tokens/*' over scope '/subscriptions/s1' or the scope is invalid. " +
			"The token \"c\" is Contributor on \"/subscriptions/s1\"; this needs Owner on \"/subscriptions/s1\" (or on a scope that contains it): ask an Owner there for such a token, then run `vnetml login` with it.",
	}, {
		name:   "query at tenant scope",
		p:      auth.Principal{TokenID: "r", Role: auth.Reader, Scope: rg1},
		action: auth.Query,
		id:     "/",
		want: "The client 'r' does not have authorization to perform action 'vnetml/action' over scope '/' or the scope is invalid. " +
			"The token \"r\" is Reader on \"" + rg1 + "\"; this needs Reader, Contributor or Owner on \"/\" (or on a scope that contains it): ask an Owner there for such a token, then run `vnetml login` with it.",
	}, {
		name:   "no role",
		p:      auth.Principal{TokenID: "x", Scope: "/"},
		action: auth.Delete,
		id:     rg1,
		want: "The client 'x' does not have authorization to perform action 'Microsoft.Resources/resourceGroups/delete' over scope '" + rg1 +
			"' or the scope is invalid. The token \"x\" has no valid role (\"\"); ask an Owner for a token with Contributor or Owner on \"" + rg1 + "\" (or on a scope that contains it).",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.Authorize(tt.p, tt.action, tt.id)
			e, ok := armerror.As(err)
			if !ok {
				t.Fatalf("Authorize = %v, want an *armerror.Error", err)
			}
			if diff := cmp.Diff(&armerror.Error{Code: auth.CodeAuthorizationFailed, Message: tt.want}, e); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthorizeAllocatesNothing(t *testing.T) {
	p := auth.Principal{TokenID: "c", Role: auth.Contributor, Scope: "/Subscriptions/S1/resourceGroups/RG1"}
	id := vnet + "/subnets/default"
	if n := testing.AllocsPerRun(100, func() {
		if err := auth.Authorize(p, auth.Write, id); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Authorize allocates %v times per call, want 0", n)
	}
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in        string
		want      auth.Role
		wantCodes []string
	}{
		{"Owner", auth.Owner, nil},
		{"owner", auth.Owner, nil},
		{"CONTRIBUTOR", auth.Contributor, nil},
		{"reader", auth.Reader, nil},
		{"", "", []string{auth.CodeInvalidParameter}},
		{"Admin", "", []string{auth.CodeInvalidParameter}},
		{"Reader ", "", []string{auth.CodeInvalidParameter}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := auth.ParseRole(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("role (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCodes, armerror.Codes(err)); diff != "" {
				t.Errorf("codes (-want +got):\n%s", diff)
			}
			if e, ok := armerror.As(err); ok {
				if e.Target != "properties.role" || !strings.Contains(e.Message, "Owner, Contributor or Reader") {
					t.Errorf("error = %+v, want target properties.role and the three roles named", e)
				}
			}
		})
	}
}
