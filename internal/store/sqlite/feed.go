package sqlite

import (
	"context"
	"sort"
	"sync"

	"github.com/vnetml/vnetml/internal/store"
)

// History bounds: a watcher may fall this far behind before its channel is
// closed, and Watch can start this far in the past.
const (
	maxHistoryEvents = 4096
	maxHistoryBytes  = 64 << 20
)

// feed is the in-process change feed: the writer publishes each committed
// transaction, in revision order, into a bounded history; each watcher's
// goroutine reads the history from its own position, so a slow watcher
// never blocks the writer or the other watchers.
type feed struct {
	mu      sync.Mutex
	history []store.Event // ascending; every event after floor
	floor   int64         // every event with a revision above floor is in history
	bytes   int           // document bytes held by history
	wake    chan struct{} // closed and replaced on every publish
	done    chan struct{} // closed by close
	closed  bool
}

func newFeed(rev int64) *feed {
	return &feed{floor: rev, wake: make(chan struct{}), done: make(chan struct{})}
}

// publish appends a committed transaction. The caller serializes publishes
// in revision order.
func (f *feed) publish(ev store.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.history = append(f.history, ev)
	f.bytes += eventBytes(ev)
	if len(f.history) > maxHistoryEvents+maxHistoryEvents/4 || f.bytes > maxHistoryBytes {
		// Trim in chunks, to maxHistoryEvents and under maxHistoryBytes
		// (keeping the newest event), copying so that the dropped events
		// can be collected.
		n := max(len(f.history)-maxHistoryEvents, 0)
		for _, e := range f.history[:n] {
			f.bytes -= eventBytes(e)
		}
		for n < len(f.history)-1 && f.bytes > maxHistoryBytes {
			f.bytes -= eventBytes(f.history[n])
			n++
		}
		if n > 0 {
			f.floor = f.history[n-1].Revision
			f.history = append([]store.Event(nil), f.history[n:]...)
		}
	}
	close(f.wake)
	f.wake = make(chan struct{})
}

func eventBytes(ev store.Event) int {
	n := 0
	for _, c := range ev.Changes {
		n += len(c.Resource.Doc) + 64
	}
	return n
}

func (f *feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
}

func (f *feed) watch(ctx context.Context, from int64) (<-chan store.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, store.ErrClosed
	}
	if from < f.floor {
		return nil, store.Compacted(from, f.floor)
	}
	ch := make(chan store.Event)
	go f.follow(ctx, from, ch)
	return ch, nil
}

// follow delivers to ch every event after next, until ctx is done, the feed
// closes, or the watcher falls behind the history.
func (f *feed) follow(ctx context.Context, next int64, ch chan<- store.Event) {
	defer close(ch)
	for {
		f.mu.Lock()
		if next < f.floor {
			f.mu.Unlock()
			return // fell behind: the watcher lists again
		}
		i := sort.Search(len(f.history), func(i int) bool { return f.history[i].Revision > next })
		// Events are immutable and publish only appends past this slice's
		// length or copies, so the batch can be read after unlocking.
		batch, wake := f.history[i:], f.wake
		f.mu.Unlock()
		for _, ev := range batch {
			select {
			case ch <- ev:
				next = ev.Revision
			case <-ctx.Done():
				return
			case <-f.done:
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		case <-f.done:
			return
		}
	}
}
