package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/store"
)

// next receives one event, failing the test after a deadline.
func next(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the watch channel closed early")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event within 20s")
	}
	panic("unreachable")
}

// waitClosed drains ch until it closes, failing the test after a deadline.
func waitClosed(t *testing.T, ch <-chan store.Event) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the watch channel did not close within 20s")
		}
	}
}

// change is the part of a Change that the writer knows in advance.
type change struct {
	ID      string
	Deleted bool
	Doc     string
	Etag    string
}

func summarize(t *testing.T, ev store.Event) []change {
	t.Helper()
	var out []change
	for _, c := range ev.Changes {
		out = append(out, change{c.Resource.ID, c.Deleted, string(c.Resource.Doc), c.Resource.Etag})
		if c.Resource.Revision != ev.Revision {
			t.Errorf("a change of %s has revision %d in an event at %d", c.Resource.ID, c.Resource.Revision, ev.Revision)
		}
	}
	return out
}

func testWatch(t *testing.T, s store.Store) {
	a, b, c, d := vnetID(subA, "rg", "a"), vnetID(subA, "rg", "b"), vnetID(subA, "rg", "c"), vnetID(subA, "rg", "d")
	mustPut(t, s, d, doc("before the watch"))
	start := mustRevision(t, s)
	w1, err := s.Watch(ctx(t), start)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := s.Watch(ctx(t), start) // a second watcher sees the same
	if err != nil {
		t.Fatal(err)
	}

	var want [][]change
	ok := func(rs ...store.Resource) {
		var cs []change
		for _, r := range rs {
			cs = append(cs, change{r.ID, r.Doc == nil, string(r.Doc), r.Etag})
		}
		want = append(want, cs)
	}
	ra := mustPut(t, s, a, doc("a"))
	ok(ra)
	if _, err := s.Put(ctx(t), a, doc("a2"), store.IfMatch(`W/"stale"`)); err == nil {
		t.Fatal("stale If-Match succeeded")
	}
	ok(mustPut(t, s, b, doc("b")))
	if err := s.Delete(ctx(t), a, store.Condition{}); err != nil {
		t.Fatal(err)
	}
	ok(store.Resource{ID: a})
	if err := s.Delete(ctx(t), a, store.Condition{}); err == nil {
		t.Fatal("deleting a missing resource succeeded")
	}
	rs, err := s.Apply(ctx(t), []store.Op{store.PutOp(c, doc("c"), store.Condition{}), store.DeleteOp(d, store.Condition{})})
	if err != nil {
		t.Fatal(err)
	}
	ok(rs...)
	if _, err := s.Apply(ctx(t), []store.Op{store.PutOp(a, doc("a"), store.Condition{}), store.DeleteOp(d, store.Condition{})}); err == nil {
		t.Fatal("a failing Apply succeeded")
	}
	ok(mustPut(t, s, a, doc("sentinel"))) // proves nothing came between

	for name, w := range map[string]<-chan store.Event{"first watcher": w1, "second watcher": w2} {
		var got [][]change
		for i := range want {
			ev := next(t, w)
			if ev.Revision != start+int64(i)+1 {
				t.Fatalf("%s: event %d has revision %d, want %d", name, i, ev.Revision, start+int64(i)+1)
			}
			got = append(got, summarize(t, ev))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: events (-want +got):\n%s", name, diff)
		}
	}
}

func testWatchFrom(t *testing.T, s store.Store) {
	var revs []int64
	for _, name := range []string{"a", "b", "c"} {
		revs = append(revs, mustPut(t, s, vnetID(subA, "rg", name), doc(name)).Revision)
	}
	w, err := s.Watch(ctx(t), revs[0])
	if err != nil {
		t.Fatal(err)
	}
	live := mustPut(t, s, vnetID(subA, "rg", "d"), doc("d"))
	for _, want := range []int64{revs[1], revs[2], live.Revision} {
		if ev := next(t, w); ev.Revision != want {
			t.Fatalf("event at revision %d, want %d", ev.Revision, want)
		}
	}
	// From the current revision: only what comes next.
	w2, err := s.Watch(ctx(t), live.Revision)
	if err != nil {
		t.Fatal(err)
	}
	r := mustPut(t, s, vnetID(subA, "rg", "e"), doc("e"))
	if ev := next(t, w2); ev.Revision != r.Revision {
		t.Fatalf("event at revision %d, want %d", ev.Revision, r.Revision)
	}
	// A negative revision, or one past the store's, would silently skip
	// writes: both are refused as invalid input.
	for _, from := range []int64{-1, r.Revision + 1, r.Revision + 1000} {
		if _, err := s.Watch(ctx(t), from); !store.IsInvalid(err) {
			t.Errorf("Watch(%d) with the store at %d: %v; want an invalid-input error", from, r.Revision, err)
		}
	}
}

func testWatchStops(t *testing.T, s store.Store) {
	c, cancel := context.WithCancel(ctx(t))
	w, err := s.Watch(c, mustRevision(t, s))
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, vnetID(subA, "rg", "a"), doc("a")) // an event nobody reads
	cancel()
	waitClosed(t, w)
	// A watcher that never reads does not hold up writers.
	if _, err := s.Watch(ctx(t), mustRevision(t, s)); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		mustPut(t, s, vnetID(subA, "rg", "a"), doc(string(rune('a'+i%26))))
	}
}
