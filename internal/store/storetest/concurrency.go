package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/vnetml/vnetml/internal/store"
)

// Concurrency load: writers × increments successful If-Match puts.
const (
	writers    = 8
	increments = 200
)

type counter struct {
	N int `json:"n"`
}

// testConcurrentWriters runs read-modify-write loops with If-Match retries
// from several goroutines, with readers and a watcher alongside: no update
// may be lost, and the watcher must see every increment, in order.
func testConcurrentWriters(t *testing.T, s store.Store) {
	id := vnetID(subA, "rg", "counter")
	start := mustPut(t, s, id, json.RawMessage(`{"n":0}`)).Revision
	c := ctx(t)
	w, err := s.Watch(c, start)
	if err != nil {
		t.Fatal(err)
	}
	const total = writers * increments

	// The watcher checks that event i sets n to i+1 at revision start+i+1.
	watched := make(chan error, 1)
	go func() {
		for i := range total {
			var ev store.Event
			var ok bool
			select {
			case ev, ok = <-w:
			case <-c.Done():
			}
			if !ok {
				watched <- fmt.Errorf("the watch ended after %d of %d events", i, total)
				return
			}
			var got counter
			if len(ev.Changes) != 1 || json.Unmarshal(ev.Changes[0].Resource.Doc, &got) != nil ||
				got.N != i+1 || ev.Revision != start+int64(i)+1 {
				watched <- fmt.Errorf("event %d = revision %d %+v, want revision %d setting n to %d", i, ev.Revision, ev.Changes, start+int64(i)+1, i+1)
				return
			}
		}
		watched <- nil
	}()

	// Readers alongside, a bounded number of reads each.
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for range 100 {
				if _, err := s.List(c, store.ListOptions{Limit: 10}); err != nil {
					t.Errorf("List during writes: %v", err)
					return
				}
				if _, err := s.Get(c, id); err != nil {
					t.Errorf("Get during writes: %v", err)
					return
				}
			}
		})
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for range writers {
		wg.Go(func() {
			for range increments {
				for attempt := 0; ; attempt++ {
					if attempt > 100000 {
						t.Errorf("no progress after %d attempts", attempt)
						return
					}
					r, err := s.Get(c, id)
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					var n counter
					if err := json.Unmarshal(r.Doc, &n); err != nil {
						t.Errorf("stored document %s: %v", r.Doc, err)
						return
					}
					_, err = s.Put(c, id, fmt.Appendf(nil, `{"n":%d}`, n.N+1), store.IfMatch(r.Etag))
					if store.IsPreconditionFailed(err) {
						mu.Lock()
						conflicts++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Errorf("Put: %v", err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	readers.Wait()
	if err := <-watched; err != nil {
		t.Error(err)
	}
	r, err := s.Get(c, id)
	if err != nil {
		t.Fatal(err)
	}
	var n counter
	if err := json.Unmarshal(r.Doc, &n); err != nil || n.N != total {
		t.Fatalf("counter = %s, want %d: updates were lost", r.Doc, total)
	}
	if rev := mustRevision(t, s); rev != start+total {
		t.Errorf("revision %d, want %d", rev, start+total)
	}
	t.Logf("%d increments from %d writers, %d If-Match retries", total, writers, conflicts)
}

// testConcurrentCreateOnly races create-only puts of one id: exactly one
// wins.
func testConcurrentCreateOnly(t *testing.T, s store.Store) {
	id := vnetID(subA, "rg", "race")
	c := ctx(t)
	startLine := make(chan struct{})
	results := make(chan error, writers)
	for i := range writers {
		go func() {
			<-startLine
			_, err := s.Put(c, id, fmt.Appendf(nil, `{"winner":%d}`, i), store.CreateOnly())
			results <- err
		}()
	}
	close(startLine)
	wins := 0
	for range writers {
		err := <-results
		switch {
		case err == nil:
			wins++
		case store.IsConflict(err):
		default:
			t.Errorf("create-only put: %v, want success or Conflict", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d create-only puts of one id succeeded, want exactly 1", wins)
	}
}
