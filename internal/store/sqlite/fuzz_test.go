package sqlite_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store"
)

// FuzzPutGet: arbitrary ids and documents never panic; what the validators
// accept round-trips byte for byte under any spelling of its id; what they
// refuse gets InvalidResourceId or InvalidRequestContent and writes
// nothing. The seeds run as a normal test.
func FuzzPutGet(f *testing.F) {
	for _, seed := range []struct{ id, doc string }{
		{vnetID("rg", "v"), `{"name":"v"}`},
		{vnetID("rg", "v") + "/subnets/default", ` {"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}} `},
		{"/subscriptions/" + sub, `{}`},
		{"/subscriptions/" + sub + "/resourceGroups/rg", `{"location":"eastus"}`},
		{vnetID("rg", "v") + "/providers/Microsoft.Authorization/locks/l", `{"properties":{"level":"CanNotDelete"}}`},
		{"/SUBSCRIPTIONS/X/RESOURCEGROUPS/Y/PROVIDERS/A.B/C/D", `{"a":[1,2,{"b":null}]}`},
		{vnetID("rg", "réseau"), `{"name":"réseau \u00e9"}`},
		{"", `{}`},
		{"/", `{}`},
		{"/subscriptions/", `{}`},
		{"/ſubscriptions/x", `{}`},
		{vnetID("rg", "v") + "/", `{}`},
		{vnetID("rg", "v\x00"), `{}`},
		{vnetID("rg", "v"), ``},
		{vnetID("rg", "v"), `[]`},
		{vnetID("rg", "v"), `{"a":`},
		{vnetID("rg", "v"), "{\"a\":\"\xff\"}"},
		{vnetID("rg", "v"), `{} {}`},
	} {
		f.Add(seed.id, []byte(seed.doc))
	}
	s := openAt(f, filepath.Join(f.TempDir(), "fuzz.db"))
	f.Fuzz(func(t *testing.T, id string, doc []byte) {
		c := ctx(t)
		before, err := s.Revision(c)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Put(c, id, doc, store.Condition{})
		_, idErr := store.ParseID(id)
		docErr := store.CheckDoc(id, doc)
		if err != nil {
			e, ok := armerror.As(err)
			switch {
			case !ok || !store.IsInvalid(err):
				t.Fatalf("Put(%q, %q): %v; want InvalidResourceId or InvalidRequestContent", id, doc, err)
			case idErr == nil && docErr == nil:
				t.Fatalf("Put(%q, %q) refused valid input: %v", id, doc, err)
			case idErr != nil && e.Code != store.CodeInvalidResourceID:
				t.Fatalf("Put(%q): code %s, want InvalidResourceId", id, e.Code)
			}
			if idErr != nil {
				if _, err := s.Get(c, id); !store.IsInvalid(err) {
					t.Fatalf("Get(%q): %v, want InvalidResourceId", id, err)
				}
			}
			if after, _ := s.Revision(c); after != before {
				t.Fatalf("a refused Put moved the revision")
			}
			return
		}
		if idErr != nil || docErr != nil {
			t.Fatalf("Put(%q, %q) accepted what the validators refuse: %v, %v", id, doc, idErr, docErr)
		}
		p, _ := store.ParseID(id)
		if r.ID != id || r.Type != p.Type || !bytes.Equal(r.Doc, doc) {
			t.Fatalf("Put returned %q %q", r.ID, r.Type)
		}
		spellings := []string{id}
		if lower := strings.ToLower(id); lower != id {
			if _, err := store.ParseID(lower); err == nil {
				spellings = append(spellings, lower)
			}
		}
		for _, sp := range spellings {
			g, err := s.Get(c, sp)
			if err != nil {
				t.Fatalf("Get(%q) after Put(%q): %v", sp, id, err)
			}
			if g.ID != id || !bytes.Equal(g.Doc, doc) || g.Etag != r.Etag {
				t.Fatalf("Get(%q) = %q %q, want %q %q", sp, g.ID, g.Doc, id, doc)
			}
		}
		if err := s.Delete(c, id, store.IfMatch(r.Etag)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(c, id); !store.IsNotFound(err) {
			t.Fatalf("Get after Delete: %v", err)
		}
	})
}
