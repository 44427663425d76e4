package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store"
)

// Reference is a slow, obviously correct, in-memory store.Store: one mutex
// around a map, every list a full scan and sort, every event kept forever.
// Run checks the suite itself against it, and the randomized differential
// test compares each backend with it. Not for production.
type Reference struct {
	mu        sync.Mutex
	resources map[string]store.Resource // by Key
	rev       int64
	history   []store.Event
	wake      chan struct{} // closed and replaced on every commit
	done      chan struct{} // closed by Close
	closed    bool
}

var _ store.Store = (*Reference)(nil)

// NewReference returns an empty Reference store.
func NewReference() *Reference {
	return &Reference{resources: map[string]store.Resource{}, wake: make(chan struct{}), done: make(chan struct{})}
}

func clone(r store.Resource) store.Resource {
	if r.Doc != nil {
		r.Doc = bytes.Clone(r.Doc)
	}
	return r
}

// Get implements store.Store.
func (m *Reference) Get(ctx context.Context, id string) (store.Resource, error) {
	p, err := store.ParseID(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return store.Resource{}, store.ErrClosed
	}
	if err != nil {
		return store.Resource{}, err
	}
	r, ok := m.resources[p.Key]
	if !ok {
		return store.Resource{}, store.NotFound(id)
	}
	return clone(r), nil
}

// List implements store.Store.
func (m *Reference) List(ctx context.Context, opts store.ListOptions) (store.Page, error) {
	q, err := opts.Query()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return store.Page{}, store.ErrClosed
	}
	if err != nil {
		return store.Page{}, err
	}
	var keys []string
	for k, r := range m.resources {
		p, err := store.ParseID(r.ID)
		if err != nil {
			panic(err) // stored ids were parsed when written
		}
		if q.Matches(p) && k > q.After {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	page := store.Page{Revision: m.rev}
	for i, k := range keys {
		if q.Limit > 0 && i == q.Limit {
			page.Next = store.Continuation(keys[i-1])
			break
		}
		page.Resources = append(page.Resources, clone(m.resources[k]))
	}
	return page, nil
}

// Put implements store.Store.
func (m *Reference) Put(ctx context.Context, id string, doc json.RawMessage, cond store.Condition) (store.Resource, error) {
	rs, err := m.write(ctx, []store.Op{{ID: id, Doc: doc, Cond: cond}}, false)
	if err != nil {
		return store.Resource{}, err
	}
	return rs[0], nil
}

// Delete implements store.Store.
func (m *Reference) Delete(ctx context.Context, id string, cond store.Condition) error {
	_, err := m.write(ctx, []store.Op{{ID: id, Delete: true, Cond: cond}}, false)
	return err
}

// Apply implements store.Store.
func (m *Reference) Apply(ctx context.Context, ops []store.Op) ([]store.Resource, error) {
	return m.write(ctx, ops, true)
}

// write applies ops to a copy of the map and swaps it in only if all
// succeed.
func (m *Reference) write(ctx context.Context, ops []store.Op, apply bool) ([]store.Resource, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, store.ErrClosed
	}
	if len(ops) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fail := func(i int, err error) ([]store.Resource, error) {
		if apply && len(ops) > 1 {
			return nil, store.OpError(i, err)
		}
		return nil, err
	}
	// Input errors first, as a backend checks them before its transaction.
	ids := make([]store.ID, len(ops))
	for i, op := range ops {
		p, err := store.ParseID(op.ID)
		if err != nil {
			return fail(i, err)
		}
		ids[i] = p
		if op.Delete && op.Doc != nil {
			return fail(i, armerror.New(store.CodeInvalidContent, op.ID, "A delete of %s carries a document; leave Doc nil.", op.ID))
		}
		if !op.Delete {
			if err := store.CheckDoc(op.ID, op.Doc); err != nil {
				return fail(i, err)
			}
		}
	}
	next := make(map[string]store.Resource, len(m.resources))
	for k, r := range m.resources {
		next[k] = r
	}
	rev := m.rev + 1
	out := make([]store.Resource, len(ops))
	ev := store.Event{Revision: rev}
	for i, op := range ops {
		p := ids[i]
		cur, exists := next[p.Key]
		if !exists {
			cur = store.Resource{ID: p.ID, Type: p.Type}
		}
		if op.Delete && !exists {
			return fail(i, store.NotFound(op.ID))
		}
		if err := op.Cond.Check(cur.ID, exists, cur.Etag); err != nil {
			return fail(i, err)
		}
		if op.Delete {
			delete(next, p.Key)
			out[i] = store.Resource{ID: cur.ID, Type: cur.Type, Revision: rev}
			ev.Changes = append(ev.Changes, store.Change{Deleted: true, Resource: out[i]})
			continue
		}
		r := store.Resource{ID: cur.ID, Type: cur.Type, Doc: bytes.Clone(op.Doc), Etag: store.NewEtag(), Revision: rev}
		next[p.Key] = r
		out[i] = clone(r)
		ev.Changes = append(ev.Changes, store.Change{Resource: clone(r)})
	}
	m.resources, m.rev = next, rev
	m.history = append(m.history, ev)
	close(m.wake)
	m.wake = make(chan struct{})
	return out, nil
}

// Revision implements store.Store.
func (m *Reference) Revision(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, store.ErrClosed
	}
	return m.rev, nil
}

// Watch implements store.Store; the Reference remembers every event.
func (m *Reference) Watch(ctx context.Context, from int64) (<-chan store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, store.ErrClosed
	}
	if from < 0 || from > m.rev {
		return nil, armerror.New(store.CodeInvalidQuery, "fromRevision", "revision %d is outside 0..%d", from, m.rev)
	}
	ch := make(chan store.Event)
	go func() {
		defer close(ch)
		for {
			m.mu.Lock()
			var batch []store.Event
			for _, ev := range m.history {
				if ev.Revision > from {
					batch = append(batch, ev)
				}
			}
			wake := m.wake
			m.mu.Unlock()
			for _, ev := range batch {
				select {
				case ch <- ev:
					from = ev.Revision
				case <-ctx.Done():
					return
				case <-m.done:
					return
				}
			}
			if len(batch) == 0 {
				select {
				case <-wake:
				case <-ctx.Done():
					return
				case <-m.done:
					return
				}
			}
		}
	}()
	return ch, nil
}

// Close implements store.Store.
func (m *Reference) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		close(m.done)
	}
	return nil
}
