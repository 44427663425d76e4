package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store"
)

// differentialSeed and differentialOps size the randomized comparison with
// Reference; a failure names the step, and the sequence is reproducible.
const (
	differentialSeed = 20260301
	differentialOps  = 600
)

// testMatchesReference runs one seeded random sequence of writes, reads and
// lists against the store and against Reference, and requires the same
// results and error codes. Etags are random, so results are compared
// without them and conditions are built from each store's own etags.
func testMatchesReference(t *testing.T, s store.Store) {
	ref := NewReference()
	defer ref.Close()
	rng := rand.New(rand.NewPCG(differentialSeed, 0))

	var pool []string
	for _, sub := range []string{subA, subB} {
		for _, g := range []string{"rg", "RG2"} {
			pool = append(pool, groupID(sub, g))
			for _, v := range []string{"v0", "v1", "v1-0"} {
				pool = append(pool, vnetID(sub, g, v), subnetID(sub, g, v, "s0"), subnetID(sub, g, v, "s1"))
			}
			pool = append(pool, nsgID(sub, g, "n"), nsgID(sub, g, "n")+"/securityRules/r")
		}
	}
	pickID := func() string {
		id := pool[rng.IntN(len(pool))]
		switch rng.IntN(4) { // another spelling now and then
		case 0:
			return strings.ToUpper(id)
		case 1:
			return strings.ToLower(id)
		}
		return id
	}
	// A condition kind is instantiated per store from that store's etag.
	type condKind int
	const (
		none condKind = iota
		current
		stale
		anyEtag
		createOnly
		kinds
	)
	cond := func(st store.Store, k condKind, id string) store.Condition {
		switch k {
		case current:
			r, _ := st.Get(ctx(t), id)
			return store.IfMatch(r.Etag) // "" (no condition) when missing
		case stale:
			return store.IfMatch(`W/"00000000-0000-4000-8000-000000000000"`)
		case anyEtag:
			return store.IfMatch("*")
		case createOnly:
			return store.CreateOnly()
		}
		return store.Condition{}
	}
	type opSpec struct {
		id     string
		delete bool
		doc    string
		cond   condKind
	}
	randOp := func(step int) opSpec {
		o := opSpec{id: pickID(), delete: rng.IntN(3) == 0, cond: condKind(rng.IntN(int(kinds)))}
		if !o.delete {
			o.doc = fmt.Sprintf(`{"step":%d, "x": %q}`, step, strings.Repeat("y", rng.IntN(40)))
		}
		return o
	}
	ops := func(st store.Store, specs []opSpec) []store.Op {
		out := make([]store.Op, len(specs))
		for i, o := range specs {
			if o.delete {
				out[i] = store.DeleteOp(o.id, cond(st, o.cond, o.id))
			} else {
				out[i] = store.PutOp(o.id, []byte(o.doc), cond(st, o.cond, o.id))
			}
		}
		return out
	}
	types := []string{"", "Microsoft.Network/virtualNetworks", "microsoft.network/virtualnetworks/SUBNETS",
		"Microsoft.Resources/resourceGroups", "Microsoft.Network/networkSecurityGroups/securityRules"}
	randList := func() store.ListOptions {
		o := store.ListOptions{Type: types[rng.IntN(len(types))], Limit: rng.IntN(5)}
		switch rng.IntN(4) {
		case 0:
			o.Subscription = []string{subA, strings.ToUpper(subB)}[rng.IntN(2)]
		case 1:
			o.ResourceGroup = []string{"rg", "rg2"}[rng.IntN(2)]
		case 2:
			o.Parent = pickID()
		}
		return o
	}

	for step := range differentialOps {
		var what string
		var got, want any
		var gotErr, wantErr error
		switch k := rng.IntN(10); {
		case k < 4:
			o := randOp(step)
			what = fmt.Sprintf("single %+v", o)
			if o.delete {
				gotErr = s.Delete(ctx(t), o.id, cond(s, o.cond, o.id))
				wantErr = ref.Delete(ctx(t), o.id, cond(ref, o.cond, o.id))
			} else {
				var g, w store.Resource
				g, gotErr = s.Put(ctx(t), o.id, []byte(o.doc), cond(s, o.cond, o.id))
				w, wantErr = ref.Put(ctx(t), o.id, []byte(o.doc), cond(ref, o.cond, o.id))
				got, want = withoutEtags(g), withoutEtags(w)
			}
		case k < 6:
			specs := make([]opSpec, 1+rng.IntN(4))
			for i := range specs {
				specs[i] = randOp(step)
			}
			what = fmt.Sprintf("apply %+v", specs)
			g, gerr := s.Apply(ctx(t), ops(s, specs))
			w, werr := ref.Apply(ctx(t), ops(ref, specs))
			got, want, gotErr, wantErr = withoutEtags(g...), withoutEtags(w...), gerr, werr
		case k < 8:
			id := pickID()
			what = "get " + id
			g, gerr := s.Get(ctx(t), id)
			w, werr := ref.Get(ctx(t), id)
			got, want, gotErr, wantErr = withoutEtags(g), withoutEtags(w), gerr, werr
		default:
			o := randList()
			what = fmt.Sprintf("list %+v", o)
			got, gotErr = listWithoutEtags(t, s, o)
			want, wantErr = listWithoutEtags(t, ref, o)
		}
		if code(gotErr) != code(wantErr) {
			t.Fatalf("step %d (%s): error %v, reference %v", step, what, gotErr, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("step %d (%s): differs from the reference (-reference +store):\n%s", step, what, diff)
		}
	}
	g, _ := listWithoutEtags(t, s, store.ListOptions{})
	w, _ := listWithoutEtags(t, ref, store.ListOptions{})
	if diff := cmp.Diff(w, g); diff != "" {
		t.Fatalf("final contents differ (-reference +store):\n%s", diff)
	}
	t.Logf("%d random steps match the reference; %d resources at the end", differentialOps, len(g.([]store.Resource)))
}

// code is an error's armerror code, its text for other errors, "" for nil.
func code(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := armerror.As(err); ok {
		return e.Code
	}
	if errors.Is(err, store.ErrClosed) {
		return "closed"
	}
	return err.Error()
}

func withoutEtags(rs ...store.Resource) []store.Resource {
	if rs == nil {
		return nil
	}
	out := make([]store.Resource, len(rs))
	for i, r := range rs {
		if r.Etag != "" && !etagRE.MatchString(r.Etag) {
			r.Etag = "malformed: " + r.Etag
		} else if r.Etag != "" {
			r.Etag = "W/etag"
		}
		out[i] = r
	}
	return out
}

// listWithoutEtags pages through o and returns every resource with its etag
// masked, and the revisions of the pages.
func listWithoutEtags(t *testing.T, s store.Store, o store.ListOptions) (any, error) {
	var all []store.Resource
	for {
		page, err := s.List(ctx(t), o)
		if err != nil {
			return nil, err
		}
		all = append(all, withoutEtags(page.Resources...)...)
		if page.Next == "" {
			return all, nil
		}
		o.Continuation = page.Next
	}
}
