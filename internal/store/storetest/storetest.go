// Package storetest owns the conformance suite of store.Store: Run checks a
// backend against the contract documented in package store (documents kept
// byte for byte, case-insensitive ids, etags and conditions, list filters
// and paging, all-or-nothing Apply, revisions, the change feed, concurrent
// writers) and against Reference, a slow in-memory oracle, on seeded random
// operations.
//
// Tests never sleep: they wait on channels with deadlines.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store"
)

// Run runs the conformance suite. open must return a new, empty store for
// each call; Run closes it when the subtest ends (Close must be idempotent,
// so open may also register its own cleanup).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"PutGetRoundTrip", testRoundTrip},
		{"TypesFromIDs", testTypes},
		{"CaseInsensitiveIDs", testCaseInsensitive},
		{"EtagChangesOnEveryWrite", testEtags},
		{"PutConditions", testPutConditions},
		{"Delete", testDelete},
		{"InvalidInput", testInvalidInput},
		{"CallerOwnsDocuments", testOwnership},
		{"CanceledContext", testCanceled},
		{"ListFilters", testListFilters},
		{"ListPaging", testPaging},
		{"ListPagingSurvivesInterleavedWrites", testPagingInterleaved},
		{"ApplyAllOrNothing", testApply},
		{"RevisionsStrictlyIncrease", testRevisions},
		{"WatchDeliversCommittedChangesInOrder", testWatch},
		{"WatchFromEarlierRevision", testWatchFrom},
		{"WatchStops", testWatchStops},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentCreateOnly", testConcurrentCreateOnly},
		{"MatchesReference", testMatchesReference},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// Subscriptions and ids of the fixtures.
const (
	subA = "11111111-1111-1111-1111-111111111111"
	subB = "22222222-2222-2222-2222-222222222222"
)

func groupID(sub, group string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + group
}

func vnetID(sub, group, vnet string) string {
	return groupID(sub, group) + "/providers/Microsoft.Network/virtualNetworks/" + vnet
}

func subnetID(sub, group, vnet, subnet string) string {
	return vnetID(sub, group, vnet) + "/subnets/" + subnet
}

func nsgID(sub, group, nsg string) string {
	return groupID(sub, group) + "/providers/Microsoft.Network/networkSecurityGroups/" + nsg
}

func doc(name string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"name":%q,"properties":{}}`, name))
}

// ctx returns the test's context with a deadline, so that a hung store
// fails the test instead of hanging it.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustPut(t *testing.T, s store.Store, id string, d json.RawMessage) store.Resource {
	t.Helper()
	r, err := s.Put(ctx(t), id, d, store.Condition{})
	if err != nil {
		t.Fatalf("Put(%s): %v", id, err)
	}
	return r
}

func mustRevision(t *testing.T, s store.Store) int64 {
	t.Helper()
	rev, err := s.Revision(ctx(t))
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

// wantCode fails unless err is an armerror with the given code (nil for
// "no error").
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("%s: %v, want success", what, err)
		}
		return
	}
	e, ok := armerror.As(err)
	if !ok {
		t.Fatalf("%s: error %v (%T), want an armerror with code %s", what, err, err, code)
	}
	if e.Code != code {
		t.Fatalf("%s: code %s (%v), want %s", what, e.Code, err, code)
	}
	if e.Message == "" {
		t.Errorf("%s: %s error has no message", what, code)
	}
}

var etagRE = regexp.MustCompile(`^W/"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$`)

func ids(rs []store.Resource) []string {
	if len(rs) == 0 {
		return nil
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// sortedByKey returns ids in the store's order: by case-folded id.
func sortedByKey(ids []string) []string {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return out
}

func testRoundTrip(t *testing.T, s store.Store) {
	big := make([]byte, 0, 300<<10)
	big = append(big, `{"name":"big","properties":{"addressPrefixes":[`...)
	for i := range 20000 {
		if i > 0 {
			big = append(big, ',')
		}
		big = fmt.Appendf(big, `"10.%d.%d.0/24"`, i/256%256, i%256)
	}
	big = append(big, "]}}"...)
	tests := []struct {
		name string
		id   string
		doc  string
	}{
		{"compact", vnetID(subA, "rg", "compact"), `{"name":"compact"}`},
		{"whitespace and key order kept", vnetID(subA, "rg", "spaced"), "  {\n\t\"z\" : 1 ,\"a\":[ 1, 2 ]\r\n}\n"},
		{"duplicate keys kept", vnetID(subA, "rg", "dup"), `{"a":1,"a":2}`},
		{"escapes and unicode kept", vnetID(subA, "rg", "uni"), `{"name":"\u00e9t\u00e9 été ✓ 𝄞","x":"\"\\/\b"}`},
		{"numbers kept as written", vnetID(subA, "rg", "num"), `{"a":1.0,"b":1e3,"c":-0,"d":12345678901234567890}`},
		{"empty object", vnetID(subA, "rg", "empty"), `{}`},
		{"large document", vnetID(subA, "rg", "big"), string(big)},
		{"unicode id", vnetID(subA, "rg", "réseau-ü"), `{"name":"réseau-ü"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := mustRevision(t, s)
			put, err := s.Put(ctx(t), tc.id, json.RawMessage(tc.doc), store.Condition{})
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if string(put.Doc) != tc.doc {
				t.Errorf("Put returned a different document")
			}
			if put.ID != tc.id || put.Type != "Microsoft.Network/virtualNetworks" || put.Revision != before+1 || !etagRE.MatchString(put.Etag) {
				t.Errorf("Put = {ID %s, Type %s, Revision %d, Etag %s}, want {%s, Microsoft.Network/virtualNetworks, %d, W/\"<uuid>\"}",
					put.ID, put.Type, put.Revision, put.Etag, tc.id, before+1)
			}
			got, err := s.Get(ctx(t), tc.id)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if string(got.Doc) != tc.doc {
				t.Fatalf("Get returned different bytes:\n got %.200q\nwant %.200q", got.Doc, tc.doc)
			}
			if diff := cmp.Diff(put, got); diff != "" {
				t.Errorf("Get differs from Put's result (-put +get):\n%s", diff)
			}
		})
	}
}

func testTypes(t *testing.T, s store.Store) {
	tests := []struct{ id, typ string }{
		{"/subscriptions/" + subA, "Microsoft.Resources/subscriptions"},
		{groupID(subA, "rg"), "Microsoft.Resources/resourceGroups"},
		{vnetID(subA, "rg", "v"), "Microsoft.Network/virtualNetworks"},
		{subnetID(subA, "rg", "v", "s"), "Microsoft.Network/virtualNetworks/subnets"},
		{nsgID(subA, "rg", "n") + "/securityRules/r", "Microsoft.Network/networkSecurityGroups/securityRules"},
		{groupID(subA, "rg") + "/providers/Microsoft.Authorization/locks/l", "Microsoft.Authorization/locks"},
		{vnetID(subA, "rg", "v") + "/providers/Microsoft.Authorization/locks/l", "Microsoft.Authorization/locks"},
		{"/subscriptions/" + subA + "/providers/Microsoft.Authorization/roleAssignments/a", "Microsoft.Authorization/roleAssignments"},
		{"/SUBSCRIPTIONS/" + subB + "/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/VIRTUALNETWORKS/V", "MICROSOFT.NETWORK/VIRTUALNETWORKS"},
	}
	for _, tc := range tests {
		r := mustPut(t, s, tc.id, doc("x"))
		if r.Type != tc.typ {
			t.Errorf("Put(%s).Type = %s, want %s", tc.id, r.Type, tc.typ)
		}
		g, err := s.Get(ctx(t), tc.id)
		if err != nil || g.Type != tc.typ {
			t.Errorf("Get(%s) = type %q, %v; want %s", tc.id, g.Type, err, tc.typ)
		}
	}
}

func testCaseInsensitive(t *testing.T, s store.Store) {
	first := vnetID(strings.ToUpper("abcdef00-1111-2222-3333-444444444444"), "MyGroup", "MyVNet")
	lower := strings.ToLower(first)
	mustPut(t, s, first, doc("one"))
	r := mustPut(t, s, lower, doc("two"))
	if r.ID != first {
		t.Errorf("Put with another spelling returned ID %s, want the first spelling %s", r.ID, first)
	}
	for _, spelling := range []string{first, lower, strings.ToUpper(first)} {
		g, err := s.Get(ctx(t), spelling)
		if err != nil {
			t.Fatalf("Get(%s): %v", spelling, err)
		}
		if g.ID != first || string(g.Doc) != string(doc("two")) {
			t.Errorf("Get(%s) = %s %s, want %s with the second document", spelling, g.ID, g.Doc, first)
		}
	}
	page, err := s.List(ctx(t), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{first}, ids(page.Resources)); diff != "" {
		t.Errorf("List: one resource under its first spelling (-want +got):\n%s", diff)
	}
	// Delete under yet another spelling; a new resource takes the new
	// spelling.
	if err := s.Delete(ctx(t), strings.ToUpper(first), store.Condition{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if r := mustPut(t, s, lower, doc("three")); r.ID != lower {
		t.Errorf("recreated resource has ID %s, want %s", r.ID, lower)
	}
}

func testEtags(t *testing.T, s store.Store) {
	id := vnetID(subA, "rg", "v")
	seen := map[string]bool{}
	var last store.Resource
	for i := range 5 {
		last = mustPut(t, s, id, doc("same")) // same bytes every time
		if !etagRE.MatchString(last.Etag) {
			t.Fatalf("etag %q is not W/\"<uuid>\"", last.Etag)
		}
		if seen[last.Etag] {
			t.Fatalf("write %d reused etag %s", i, last.Etag)
		}
		seen[last.Etag] = true
	}
	g, err := s.Get(ctx(t), id)
	if err != nil || g.Etag != last.Etag {
		t.Fatalf("Get etag %q, %v; want the last write's %q", g.Etag, err, last.Etag)
	}
}

// stale is an etag no resource has.
const stale = `W/"00000000-0000-4000-8000-000000000000"`

// condCase is one conditional write: on an existing or missing resource,
// a condition built from its current etag, and the error code expected
// ("" for success).
type condCase struct {
	name     string
	exists   bool
	cond     func(etag string) store.Condition
	wantCode string
}

func testPutConditions(t *testing.T, s store.Store) {
	tests := []condCase{
		{"none, exists", true, func(string) store.Condition { return store.Condition{} }, ""},
		{"none, missing", false, func(string) store.Condition { return store.Condition{} }, ""},
		{"If-Match current", true, store.IfMatch, ""},
		{"If-Match stale", true, func(string) store.Condition { return store.IfMatch(stale) }, store.CodePreconditionFailed},
		{"If-Match on missing", false, func(string) store.Condition { return store.IfMatch(stale) }, store.CodePreconditionFailed},
		{"If-Match * exists", true, func(string) store.Condition { return store.IfMatch("*") }, ""},
		{"If-Match * missing", false, func(string) store.Condition { return store.IfMatch("*") }, store.CodePreconditionFailed},
		{"If-None-Match * missing", false, func(string) store.Condition { return store.CreateOnly() }, ""},
		{"If-None-Match * exists", true, func(string) store.Condition { return store.CreateOnly() }, store.CodeConflict},
		{"If-None-Match current", true, func(e string) store.Condition { return store.Condition{IfNoneMatch: e} }, store.CodePreconditionFailed},
		{"If-None-Match stale", true, func(string) store.Condition { return store.Condition{IfNoneMatch: stale} }, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := vnetID(subA, "rg", fmt.Sprintf("v%d", i))
			var before store.Resource
			if tc.exists {
				before = mustPut(t, s, id, doc("before"))
			}
			rev := mustRevision(t, s)
			r, err := s.Put(ctx(t), id, doc("after"), tc.cond(before.Etag))
			wantCode(t, "Put", err, tc.wantCode)
			g, gerr := s.Get(ctx(t), id)
			if tc.wantCode == "" {
				if gerr != nil || string(g.Doc) != string(doc("after")) || g.Etag != r.Etag || r.Revision != rev+1 {
					t.Fatalf("after a successful conditional put: Get = %s %s rev %d, %v", g.Doc, g.Etag, g.Revision, gerr)
				}
				return
			}
			if e, _ := armerror.As(err); e.Target != id {
				t.Errorf("error target %q, want the id %s", e.Target, id)
			}
			if !tc.exists {
				wantCode(t, "Get after failed create", gerr, store.CodeNotFound)
			} else if diff := cmp.Diff(before, g); diff != "" {
				t.Errorf("a failed put changed the resource (-before +after):\n%s", diff)
			}
			if got := mustRevision(t, s); got != rev {
				t.Errorf("a failed put moved the revision from %d to %d", rev, got)
			}
		})
	}
	// The helpers agree with the codes.
	_, err := s.Put(ctx(t), vnetID(subA, "rg", "v0"), doc("x"), store.CreateOnly())
	if !store.IsConflict(err) || store.IsPreconditionFailed(err) || store.IsNotFound(err) {
		t.Errorf("IsConflict/IsPreconditionFailed/IsNotFound disagree with %v", err)
	}
	_, err = s.Put(ctx(t), vnetID(subA, "rg", "v0"), doc("x"), store.IfMatch(stale))
	if !store.IsPreconditionFailed(err) || store.IsConflict(err) {
		t.Errorf("IsPreconditionFailed disagrees with %v", err)
	}
}

func testDelete(t *testing.T, s store.Store) {
	tests := []condCase{
		{"unconditional", true, func(string) store.Condition { return store.Condition{} }, ""},
		{"If-Match current", true, store.IfMatch, ""},
		{"If-Match *", true, func(string) store.Condition { return store.IfMatch("*") }, ""},
		{"If-Match stale", true, func(string) store.Condition { return store.IfMatch(stale) }, store.CodePreconditionFailed},
		{"missing", false, func(string) store.Condition { return store.Condition{} }, store.CodeNotFound},
		{"missing with If-Match", false, func(string) store.Condition { return store.IfMatch(stale) }, store.CodeNotFound},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := nsgID(subA, "rg", fmt.Sprintf("n%d", i))
			var before store.Resource
			if tc.exists {
				before = mustPut(t, s, id, doc("n"))
			}
			rev := mustRevision(t, s)
			err := s.Delete(ctx(t), id, tc.cond(before.Etag))
			wantCode(t, "Delete", err, tc.wantCode)
			_, gerr := s.Get(ctx(t), id)
			switch {
			case tc.wantCode == "":
				wantCode(t, "Get after delete", gerr, store.CodeNotFound)
				if got := mustRevision(t, s); got != rev+1 {
					t.Errorf("revision after delete %d, want %d", got, rev+1)
				}
			case tc.exists:
				if gerr != nil {
					t.Errorf("a failed delete removed the resource: %v", gerr)
				}
				fallthrough
			default:
				if got := mustRevision(t, s); got != rev {
					t.Errorf("a failed delete moved the revision from %d to %d", rev, got)
				}
			}
		})
	}
	// ResourceNotFound names the id in its target and message.
	id := nsgID(subA, "rg", "Missing")
	_, err := s.Get(ctx(t), id)
	e, ok := armerror.As(err)
	if !ok || !store.IsNotFound(err) || e.Target != id || !strings.Contains(e.Message, id) {
		t.Errorf("Get of a missing resource: %v; want ResourceNotFound naming %s in target and message", err, id)
	}
}

func testInvalidInput(t *testing.T, s store.Store) {
	badIDs := []struct{ name, id string }{
		{"empty", ""},
		{"relative", "subscriptions/" + subA},
		{"not a subscription", "/tenants/x"},
		{"subscription without id", "/subscriptions"},
		{"trailing slash", vnetID(subA, "rg", "v") + "/"},
		{"empty segment", "/subscriptions/" + subA + "//resourceGroups/rg"},
		{"group without name", "/subscriptions/" + subA + "/resourceGroups"},
		{"no providers keyword", groupID(subA, "rg") + "/Microsoft.Network/virtualNetworks/v"},
		{"provider without type", groupID(subA, "rg") + "/providers/Microsoft.Network"},
		{"type without name", groupID(subA, "rg") + "/providers/Microsoft.Network/virtualNetworks"},
		{"child type without name", vnetID(subA, "rg", "v") + "/subnets"},
		{"control character", vnetID(subA, "rg", "v\n")},
		{"invalid UTF-8", vnetID(subA, "rg", "v\xff")},
		{"too long", vnetID(subA, "rg", strings.Repeat("v", 5000))},
	}
	rev := mustRevision(t, s)
	for _, tc := range badIDs {
		t.Run("id "+tc.name, func(t *testing.T) {
			_, err := s.Put(ctx(t), tc.id, doc("x"), store.Condition{})
			wantCode(t, "Put", err, store.CodeInvalidResourceID)
			if !store.IsInvalid(err) {
				t.Errorf("IsInvalid(%v) = false", err)
			}
			_, err = s.Get(ctx(t), tc.id)
			wantCode(t, "Get", err, store.CodeInvalidResourceID)
			wantCode(t, "Delete", s.Delete(ctx(t), tc.id, store.Condition{}), store.CodeInvalidResourceID)
			if tc.id != "" { // an empty Parent is no filter
				_, err = s.List(ctx(t), store.ListOptions{Parent: tc.id})
				wantCode(t, "List", err, store.CodeInvalidResourceID)
			}
		})
	}
	badDocs := []struct{ name, doc string }{
		{"nil", ""},
		{"blank", "  \n"},
		{"truncated", `{"name":`},
		{"array", `[{"name":"x"}]`},
		{"string", `"x"`},
		{"null", `null`},
		{"two values", `{} {}`},
		{"invalid UTF-8", "{\"name\":\"\xff\"}"},
	}
	for _, tc := range badDocs {
		t.Run("doc "+tc.name, func(t *testing.T) {
			var d json.RawMessage
			if tc.doc != "" {
				d = json.RawMessage(tc.doc)
			}
			_, err := s.Put(ctx(t), vnetID(subA, "rg", "v"), d, store.Condition{})
			wantCode(t, "Put", err, store.CodeInvalidContent)
		})
	}
	t.Run("delete op with a document", func(t *testing.T) {
		_, err := s.Apply(ctx(t), []store.Op{{ID: vnetID(subA, "rg", "v"), Delete: true, Doc: doc("x")}})
		wantCode(t, "Apply", err, store.CodeInvalidContent)
	})
	t.Run("list options", func(t *testing.T) {
		_, err := s.List(ctx(t), store.ListOptions{Limit: -1})
		wantCode(t, "negative limit", err, store.CodeInvalidQuery)
		for _, tok := range []string{"x", "!!!", "MTp4"[:3], "Mjp4" /* "2:x" */} {
			_, err = s.List(ctx(t), store.ListOptions{Continuation: tok})
			wantCode(t, "continuation "+tok, err, store.CodeInvalidContinuation)
		}
	})
	if got := mustRevision(t, s); got != rev {
		t.Errorf("invalid input moved the revision from %d to %d", rev, got)
	}
}

func testOwnership(t *testing.T, s store.Store) {
	id := vnetID(subA, "rg", "v")
	in := []byte(`{"name":"original"}`)
	put, err := s.Put(ctx(t), id, in, store.Condition{})
	if err != nil {
		t.Fatal(err)
	}
	copy(in, `{"name":"CHANGED!"}`)
	copy(put.Doc, `{"name":"CHANGED!"}`)
	g, err := s.Get(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if string(g.Doc) != `{"name":"original"}` {
		t.Fatalf("the store kept a caller's slice: %s", g.Doc)
	}
	copy(g.Doc, `{"name":"CHANGED!"}`)
	page, err := s.List(ctx(t), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(page.Resources[0].Doc) != `{"name":"original"}` {
		t.Fatalf("Get returned the store's own slice: %s", page.Resources[0].Doc)
	}
}

func testCanceled(t *testing.T, s store.Store) {
	c, cancel := context.WithCancel(t.Context())
	cancel()
	rev := mustRevision(t, s)
	if _, err := s.Put(c, vnetID(subA, "rg", "v"), doc("v"), store.Condition{}); err == nil {
		t.Error("Put with a canceled context succeeded")
	}
	if _, err := s.Apply(c, []store.Op{store.PutOp(vnetID(subA, "rg", "w"), doc("w"), store.Condition{})}); err == nil {
		t.Error("Apply with a canceled context succeeded")
	}
	if got := mustRevision(t, s); got != rev {
		t.Errorf("canceled writes moved the revision from %d to %d", rev, got)
	}
	if _, err := s.Get(ctx(t), vnetID(subA, "rg", "v")); !store.IsNotFound(err) {
		t.Errorf("a canceled Put wrote: Get = %v", err)
	}
}

func testClosed(t *testing.T, s store.Store) {
	c := ctx(t)
	w, err := s.Watch(c, mustRevision(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitClosed(t, w)
	id := vnetID(subA, "rg", "v")
	checks := map[string]error{}
	_, checks["Get"] = s.Get(c, id)
	_, checks["Put"] = s.Put(c, id, doc("v"), store.Condition{})
	checks["Delete"] = s.Delete(c, id, store.Condition{})
	_, checks["Apply"] = s.Apply(c, []store.Op{store.PutOp(id, doc("v"), store.Condition{})})
	_, checks["List"] = s.List(c, store.ListOptions{})
	_, checks["Revision"] = s.Revision(c)
	_, checks["Watch"] = s.Watch(c, 0)
	for name, err := range checks {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want store.ErrClosed", name, err)
		}
	}
}
