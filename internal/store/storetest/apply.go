package storetest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store"
)

func testApply(t *testing.T, s store.Store) {
	a, b, c := vnetID(subA, "rg", "a"), vnetID(subA, "rg", "b"), vnetID(subA, "rg", "c")
	existing := mustPut(t, s, c, doc("c"))

	t.Run("all succeed in one revision", func(t *testing.T) {
		rev := mustRevision(t, s)
		rs, err := s.Apply(ctx(t), []store.Op{
			store.PutOp(a, doc("a"), store.CreateOnly()),
			store.PutOp(b, doc("b"), store.Condition{}),
			store.DeleteOp(c, store.IfMatch(existing.Etag)),
		})
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if len(rs) != 3 {
			t.Fatalf("Apply returned %d resources, want 3", len(rs))
		}
		for i, want := range []string{a, b, c} {
			if rs[i].ID != want || rs[i].Revision != rev+1 {
				t.Errorf("result %d = %s rev %d, want %s rev %d", i, rs[i].ID, rs[i].Revision, want, rev+1)
			}
		}
		if rs[2].Doc != nil || rs[2].Etag != "" {
			t.Errorf("a delete's result carries a document or etag: %+v", rs[2])
		}
		if got := mustRevision(t, s); got != rev+1 {
			t.Errorf("revision %d after one Apply, want %d", got, rev+1)
		}
		for _, id := range []string{a, b} {
			if g, err := s.Get(ctx(t), id); err != nil || g.Revision != rev+1 {
				t.Errorf("Get(%s) = rev %d, %v", id, g.Revision, err)
			}
		}
		if _, err := s.Get(ctx(t), c); !store.IsNotFound(err) {
			t.Errorf("Get(deleted) = %v, want ResourceNotFound", err)
		}
	})

	cur, err := s.Get(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	x, y := vnetID(subA, "rg", "x"), vnetID(subA, "rg", "y")
	tests := []struct {
		name     string
		middle   store.Op
		wantCode string
	}{
		{"stale If-Match", store.PutOp(a, doc("a2"), store.IfMatch(`W/"00000000-0000-4000-8000-000000000000"`)), store.CodePreconditionFailed},
		{"create-only of an existing resource", store.PutOp(a, doc("a2"), store.CreateOnly()), store.CodeConflict},
		{"delete of a missing resource", store.DeleteOp(c, store.Condition{}), store.CodeNotFound},
		{"invalid id", store.PutOp("/subscriptions//x", doc("a2"), store.Condition{}), store.CodeInvalidResourceID},
		{"invalid document", store.PutOp(a, []byte("[]"), store.Condition{}), store.CodeInvalidContent},
	}
	for _, tc := range tests {
		t.Run("failing middle op: "+tc.name, func(t *testing.T) {
			rev := mustRevision(t, s)
			rs, err := s.Apply(ctx(t), []store.Op{
				store.PutOp(x, doc("x"), store.Condition{}),
				store.DeleteOp(b, store.Condition{}),
				tc.middle,
				store.PutOp(y, doc("y"), store.Condition{}),
			})
			wantCode(t, "Apply", err, tc.wantCode)
			if rs != nil {
				t.Errorf("a failed Apply returned resources: %v", rs)
			}
			if e, _ := armerror.As(err); !strings.Contains(e.Message, "ops[2]") {
				t.Errorf("the error does not name the failing op ops[2]: %v", err)
			}
			for _, id := range []string{x, y} {
				if _, err := s.Get(ctx(t), id); !store.IsNotFound(err) {
					t.Errorf("a failed Apply wrote %s: %v", id, err)
				}
			}
			if _, err := s.Get(ctx(t), b); err != nil {
				t.Errorf("a failed Apply deleted %s: %v", b, err)
			}
			if g, _ := s.Get(ctx(t), a); g.Etag != cur.Etag {
				t.Errorf("a failed Apply changed %s", a)
			}
			if got := mustRevision(t, s); got != rev {
				t.Errorf("a failed Apply moved the revision from %d to %d", rev, got)
			}
		})
	}

	t.Run("ops see the ones before them", func(t *testing.T) {
		z := vnetID(subA, "rg", "z")
		rs, err := s.Apply(ctx(t), []store.Op{
			store.PutOp(z, doc("z1"), store.CreateOnly()),
			store.PutOp(strings.ToUpper(z), doc("z2"), store.IfMatch("*")),
			store.DeleteOp(z, store.Condition{}),
			store.PutOp(z, doc("z3"), store.CreateOnly()),
		})
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if rs[1].ID != z {
			t.Errorf("second op returned ID %s, want the first spelling %s", rs[1].ID, z)
		}
		g, err := s.Get(ctx(t), z)
		if err != nil || string(g.Doc) != string(doc("z3")) || g.Etag != rs[3].Etag {
			t.Errorf("Get = %s %s, %v; want the last op's document and etag", g.Doc, g.Etag, err)
		}
		_, err = s.Apply(ctx(t), []store.Op{
			store.DeleteOp(z, store.Condition{}),
			store.DeleteOp(z, store.Condition{}),
		})
		wantCode(t, "deleting twice", err, store.CodeNotFound)
	})

	t.Run("empty", func(t *testing.T) {
		rev := mustRevision(t, s)
		rs, err := s.Apply(ctx(t), nil)
		if err != nil || len(rs) != 0 {
			t.Errorf("Apply(nil) = %v, %v", rs, err)
		}
		if got := mustRevision(t, s); got != rev {
			t.Errorf("an empty Apply moved the revision from %d to %d", rev, got)
		}
	})
}

func testRevisions(t *testing.T, s store.Store) {
	if rev := mustRevision(t, s); rev != 0 {
		t.Fatalf("an empty store has revision %d, want 0", rev)
	}
	a, b := vnetID(subA, "rg", "a"), vnetID(subA, "rg", "b")
	steps := []struct {
		name    string
		write   func() error
		advance bool
	}{
		{"put", func() error { _, err := s.Put(ctx(t), a, doc("a"), store.Condition{}); return err }, true},
		{"put again", func() error { _, err := s.Put(ctx(t), a, doc("a"), store.Condition{}); return err }, true},
		{"failed put", func() error { _, err := s.Put(ctx(t), a, doc("a"), store.CreateOnly()); return err }, false},
		{"put other", func() error { _, err := s.Put(ctx(t), b, doc("b"), store.Condition{}); return err }, true},
		{"delete", func() error { return s.Delete(ctx(t), a, store.Condition{}) }, true},
		{"failed delete", func() error { return s.Delete(ctx(t), a, store.Condition{}) }, false},
		{"apply", func() error {
			_, err := s.Apply(ctx(t), []store.Op{store.PutOp(a, doc("a"), store.Condition{}), store.DeleteOp(b, store.Condition{})})
			return err
		}, true},
		{"failed apply", func() error {
			_, err := s.Apply(ctx(t), []store.Op{store.PutOp(a, doc("a"), store.Condition{}), store.DeleteOp(b, store.Condition{})})
			return err
		}, false},
	}
	var want int64
	for _, st := range steps {
		err := st.write()
		if (err == nil) != st.advance {
			t.Fatalf("%s: err = %v", st.name, err)
		}
		if st.advance {
			want++
		}
		if got := mustRevision(t, s); got != want {
			t.Fatalf("after %s: revision %d, want %d", st.name, got, want)
		}
	}
	g, err := s.Get(ctx(t), a)
	if err != nil || g.Revision != want {
		t.Errorf("Get(a).Revision = %d, %v; want %d (its last write)", g.Revision, err, want)
	}
	page, err := s.List(ctx(t), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{a}, ids(page.Resources)); diff != "" || page.Revision != want {
		t.Errorf("List = %v at revision %d; want [a] at %d", ids(page.Resources), page.Revision, want)
	}
}
