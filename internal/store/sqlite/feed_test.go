package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/store"
)

func event(rev int64, docBytes int) store.Event {
	return store.Event{Revision: rev, Changes: []store.Change{{Resource: store.Resource{Revision: rev, Doc: make([]byte, docBytes)}}}}
}

func recv(t *testing.T, ch <-chan store.Event) (store.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		return ev, ok
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received within 10s")
	}
	return store.Event{}, false
}

// TestFeedBounds: a watcher that never reads does not block publish; the
// history keeps the newest events within its bounds; Watch before them is
// RevisionCompacted, and a watcher that falls behind them has its channel
// closed rather than handed a gap.
func TestFeedBounds(t *testing.T) {
	f := newFeed(10)
	c, cancel := context.WithCancel(t.Context())
	defer cancel()
	slow, err := f.watch(c, 10)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(maxHistoryEvents + maxHistoryEvents/2)
	for rev := int64(11); rev <= 10+total; rev++ {
		f.publish(event(rev, 0))
	}
	f.mu.Lock()
	n, floor := len(f.history), f.floor
	f.mu.Unlock()
	if n > maxHistoryEvents+maxHistoryEvents/4 || n < maxHistoryEvents || floor != 10+total-int64(n) {
		t.Fatalf("history %d events above %d, want %d..%d events ending at %d", n, floor, maxHistoryEvents, maxHistoryEvents*5/4, 10+total)
	}
	if _, err := f.watch(c, floor-1); !store.IsCompacted(err) {
		t.Errorf("watch before the history: %v, want RevisionCompacted", err)
	}
	// A watcher behind the history (a slow reader whose next event was
	// trimmed) has its channel closed without a gap being delivered.
	lagging := make(chan store.Event)
	go f.follow(c, floor-1, lagging)
	if ev, ok := recv(t, lagging); ok {
		t.Errorf("a watcher behind the history received revision %d", ev.Revision)
	}
	// A watcher from the floor gets every remaining event in order.
	w, err := f.watch(c, floor)
	if err != nil {
		t.Fatal(err)
	}
	for want := floor + 1; want <= 10+total; want++ {
		if ev, ok := recv(t, w); !ok || ev.Revision != want {
			t.Fatalf("event %d (ok %v), want %d", ev.Revision, ok, want)
		}
	}
	// The byte bound keeps at least the newest event.
	f.publish(event(11+total, maxHistoryBytes+1))
	f.mu.Lock()
	n, floor = len(f.history), f.floor
	f.mu.Unlock()
	if n != 1 || floor != 10+total {
		t.Errorf("after a huge event: %d events above %d, want 1 above %d", n, floor, 10+total)
	}
	f.close()
	for _, ch := range []<-chan store.Event{w, slow} {
		for { // drain what was in flight; the channel must then close
			if _, ok := recv(t, ch); !ok {
				break
			}
		}
	}
	if _, err := f.watch(c, floor); err != store.ErrClosed {
		t.Errorf("watch after close: %v", err)
	}
}
