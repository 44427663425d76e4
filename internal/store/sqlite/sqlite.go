// Package sqlite is vnetml's embedded store.Store: one SQLite database file
// under the data directory, through the pure-Go driver modernc.org/sqlite
// (no cgo).
//
// Durability first: the database runs in WAL mode with synchronous=FULL, so
// every transaction is fsynced before Put, Delete or Apply returns, and an
// acknowledged write survives a kill -9 (tested by re-executing the test
// binary and killing it mid-stream). Writes are serialized by the Store
// (one connection, BEGIN IMMEDIATE, the revision counter in the same
// transaction); readers use a pool of read-only connections and run
// concurrently with the writer on WAL snapshots.
//
// Open takes an exclusive lock on <path>.lock so that two processes never
// share a database (the change feed is in-process), refuses files that are
// not vnetml databases, applies schema migrations and runs SQLite's
// quick_check.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// applicationID marks a vnetml database in the SQLite header ("vnet").
const applicationID = 0x766e6574

// migrations[i] brings the schema from version i to i+1. Append only.
var migrations = []string{
	`CREATE TABLE resources (
		key              TEXT NOT NULL PRIMARY KEY, -- case-folded id
		id               TEXT NOT NULL,             -- as first written
		type             TEXT NOT NULL,
		type_key         TEXT NOT NULL,
		subscription_key TEXT NOT NULL,
		group_key        TEXT NOT NULL,
		doc              BLOB NOT NULL,             -- the bytes as written
		etag             TEXT NOT NULL,
		revision         INTEGER NOT NULL
	);
	CREATE INDEX resources_by_group ON resources (subscription_key, group_key, key);
	CREATE INDEX resources_by_type ON resources (type_key, key);
	CREATE TABLE state (
		one      INTEGER PRIMARY KEY CHECK (one = 1),
		revision INTEGER NOT NULL
	);
	INSERT INTO state (one, revision) VALUES (1, 0);`,
}

// Store is the SQLite store.Store. Its methods are safe for concurrent use;
// see store.Store for the contract.
type Store struct {
	path   string
	wdb    *sql.DB       // the one writer connection
	rdb    *sql.DB       // read-only connections
	wsem   chan struct{} // holds the write turn
	done   chan struct{} // closed when Close starts
	feed   *feed
	unlock func()
	closed atomic.Bool
	once   sync.Once
	err    error // Close's result

	get, rev                               *sql.Stmt // readers
	wrev, setRev, getForWrite, upsert, del *sql.Stmt // the writer
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if need be) the database file at path; its
// directory is created with mode 0700.
func Open(ctx context.Context, path string) (_ *Store, err error) {
	if strings.ContainsAny(path, "?#") || path == "" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open store %q: the path must be a plain file name without ? or #", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{path: path, wsem: make(chan struct{}, 1), done: make(chan struct{}), unlock: unlock}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	isNew, err := sniff(path)
	if err != nil {
		return nil, err
	}
	// The file is the server's alone (SQLite gives its -wal and -shm the
	// same mode): the data directory may be open to traversal, for the
	// jobs that run as other users (the kernel fabric's --job-uid).
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Pragmas are per connection: busy_timeout first (the driver runs it
	// first), journal_mode persists in the file.
	const common = "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(0)"
	if s.wdb, err = sql.Open("sqlite", path+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if isNew {
		syncDir(filepath.Dir(path)) // make the new file's name durable too
	}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if s.rdb, err = sql.Open("sqlite", path+common+"&_pragma=query_only(1)"); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.rdb.SetMaxOpenConns(n)
	s.rdb.SetMaxIdleConns(n)
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	var rev int64
	if err := s.rev.QueryRowContext(ctx).Scan(&rev); err != nil {
		return nil, s.openErr(err)
	}
	s.feed = newFeed(rev)
	return s, nil
}

// sniff refuses a file that is not an SQLite database before the driver
// sees it, and reports whether the file is new (absent or empty).
func sniff(path string) (isNew bool, _ error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("open store: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return false, fmt.Errorf("open store: %w", err)
	} else if fi.IsDir() {
		return false, fmt.Errorf("open store %s: it is a directory; give the database file's path", path)
	} else if fi.Size() == 0 {
		return true, nil
	}
	var hdr [16]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || string(hdr[:]) != "SQLite format 3\x00" {
		return false, fmt.Errorf("open store %s: not a vnetml database (not an SQLite file); move it away or choose another data directory", path)
	}
	return false, nil
}

// openErr explains a driver error met while opening.
func (s *Store) openErr(err error) error {
	return fmt.Errorf("open store %s: %w (the file is damaged or not a vnetml database: restore it from a backup or move it away)", s.path, err)
}

// migrate checks that the file is a vnetml database (or empty) and brings
// its schema up to date, each migration in its own transaction.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return s.openErr(err)
	}
	defer tx.Rollback()
	var appID, tables int64
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return s.openErr(err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return s.openErr(err)
	}
	switch {
	case appID == applicationID:
	case appID == 0 && tables == 0:
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
			return s.openErr(err)
		}
		if _, err := tx.ExecContext(ctx, "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"); err != nil {
			return s.openErr(err)
		}
	default:
		return fmt.Errorf("open store %s: not a vnetml database (an SQLite database of another application: application_id %#x, %d schema objects); move it away or choose another data directory", s.path, appID, tables)
	}
	var version int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&version); err != nil {
		return s.openErr(err)
	}
	if version > len(migrations) {
		return fmt.Errorf("open store %s: the database has schema version %d, newer than this vnetml knows (%d); run the vnetml that wrote it, or a newer one", s.path, version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("open store %s: migrate to schema version %d: %w", s.path, v+1, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
			v+1, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return s.openErr(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.openErr(err)
	}
	return nil
}

// check runs SQLite's quick_check (linear in the file's size; milliseconds
// for a control plane's worth of resources) so that a damaged file is
// refused at start rather than failing requests later.
func (s *Store) check(ctx context.Context) error {
	rows, err := s.wdb.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return s.openErr(err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			return s.openErr(err)
		}
		if msg != "ok" {
			problems = append(problems, msg)
		}
	}
	if err := rows.Err(); err != nil {
		return s.openErr(err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("open store %s: the database is damaged (%s); restore it from a backup", s.path,
			strings.ReplaceAll(strings.Join(problems, "; "), "\n", "; "))
	}
	return nil
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		db   *sql.DB
		sql  string
	}{
		{&s.get, s.rdb, "SELECT id, type, doc, etag, revision FROM resources WHERE key = ?"},
		{&s.rev, s.rdb, "SELECT revision FROM state"},
		{&s.wrev, s.wdb, "SELECT revision FROM state"},
		{&s.setRev, s.wdb, "UPDATE state SET revision = ?"},
		{&s.getForWrite, s.wdb, "SELECT id, type, etag FROM resources WHERE key = ?"},
		{&s.upsert, s.wdb, `INSERT INTO resources (key, id, type, type_key, subscription_key, group_key, doc, etag, revision)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, etag = excluded.etag, revision = excluded.revision`},
		{&s.del, s.wdb, "DELETE FROM resources WHERE key = ?"},
	} {
		var err error
		if *p.stmt, err = p.db.PrepareContext(ctx, p.sql); err != nil {
			return s.openErr(err)
		}
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (store.Resource, error) {
	if s.closed.Load() {
		return store.Resource{}, store.ErrClosed
	}
	p, err := store.ParseID(id)
	if err != nil {
		return store.Resource{}, err
	}
	if err := ctx.Err(); err != nil {
		return store.Resource{}, err
	}
	// A point read is bounded: run it without the driver's per-query
	// cancellation watcher (a goroutine per call when ctx can be canceled).
	var r store.Resource
	err = s.get.QueryRowContext(context.WithoutCancel(ctx), p.Key).Scan(&r.ID, &r.Type, &r.Doc, &r.Etag, &r.Revision)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Resource{}, store.NotFound(id)
	}
	if err != nil {
		return store.Resource{}, s.ioErr("get "+id, err)
	}
	return r, nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, opts store.ListOptions) (store.Page, error) {
	if s.closed.Load() {
		return store.Page{}, store.ErrClosed
	}
	q, err := opts.Query()
	if err != nil {
		return store.Page{}, err
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if q.Subscription != "" {
		add("subscription_key = ?", q.Subscription)
	}
	if q.ResourceGroup != "" {
		add("group_key = ?", q.ResourceGroup)
	}
	if q.Type != "" {
		add("type_key = ?", q.Type)
	}
	if q.KeyPrefix != "" {
		// The keys under the prefix p+"/" sort in [p+"/", p+"0"): '0' follows '/'.
		add("key >= ? AND key < ?", q.KeyPrefix, q.KeyPrefix[:len(q.KeyPrefix)-1]+"0")
	}
	if q.After != "" {
		add("key > ?", q.After)
	}
	query := "SELECT key, id, type, doc, etag, revision FROM resources"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY key"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit+1) // one more tells whether there is a next page
	}

	// One read transaction: the page and its revision are one snapshot.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.Page{}, s.ioErr("list", err)
	}
	defer tx.Rollback()
	var page store.Page
	if err := tx.StmtContext(ctx, s.rev).QueryRowContext(ctx).Scan(&page.Revision); err != nil {
		return store.Page{}, s.ioErr("list", err)
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return store.Page{}, s.ioErr("list", err)
	}
	defer rows.Close()
	var lastKey string
	for rows.Next() {
		if q.Limit > 0 && len(page.Resources) == q.Limit {
			page.Next = store.Continuation(lastKey)
			break
		}
		var r store.Resource
		if err := rows.Scan(&lastKey, &r.ID, &r.Type, &r.Doc, &r.Etag, &r.Revision); err != nil {
			return store.Page{}, s.ioErr("list", err)
		}
		page.Resources = append(page.Resources, r)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, s.ioErr("list", err)
	}
	return page, nil
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	var rev int64
	if err := s.rev.QueryRowContext(ctx).Scan(&rev); err != nil {
		return 0, s.ioErr("revision", err)
	}
	return rev, nil
}

// Watch implements store.Store. A watcher may fall at least 4,096
// transactions behind (the feed trims its history in steps, so at times up
// to 5,120) or 64 MiB of documents, and Watch can start that far back, but
// not before the Open that created the Store.
func (s *Store) Watch(ctx context.Context, fromRevision int64) (<-chan store.Event, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if fromRevision < 0 {
		return nil, armerror.New(store.CodeInvalidQuery, "fromRevision", "revision %d is negative; watch from a revision List or Revision returned (0 for the beginning)", fromRevision)
	}
	// A revision past the store's would silently skip the writes up to it
	// (a revision kept across a restore, or from another data directory).
	// The database is the judge: a committed write may not be published to
	// the feed yet, so a page's revision can be ahead of the feed's.
	cur, err := s.Revision(ctx)
	if err != nil {
		return nil, err
	}
	if fromRevision > cur {
		return nil, armerror.New(store.CodeInvalidQuery, "fromRevision", "revision %d is past the store's revision %d: list again and watch from the page's revision", fromRevision, cur)
	}
	return s.feed.watch(ctx, fromRevision)
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, id string, doc json.RawMessage, cond store.Condition) (store.Resource, error) {
	rs, err := s.write(ctx, []store.Op{{ID: id, Doc: doc, Cond: cond}})
	if err != nil {
		return store.Resource{}, err
	}
	return rs[0], nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, id string, cond store.Condition) error {
	_, err := s.write(ctx, []store.Op{{ID: id, Delete: true, Cond: cond}})
	return err
}

// Apply implements store.Store.
func (s *Store) Apply(ctx context.Context, ops []store.Op) ([]store.Resource, error) {
	if len(ops) == 0 {
		if s.closed.Load() {
			return nil, store.ErrClosed
		}
		return nil, nil
	}
	return s.write(ctx, ops)
}

// write runs ops in one transaction and publishes it.
func (s *Store) write(ctx context.Context, ops []store.Op) ([]store.Resource, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	opErr := func(i int, err error) error {
		if len(ops) == 1 {
			return err
		}
		return store.OpError(i, err)
	}
	// Check the input before taking the write turn.
	ids := make([]store.ID, len(ops))
	for i, op := range ops {
		p, err := store.ParseID(op.ID)
		if err != nil {
			return nil, opErr(i, err)
		}
		ids[i] = p
		if op.Delete && op.Doc != nil {
			return nil, opErr(i, armerror.New(store.CodeInvalidContent, op.ID, "A delete of %s carries a document; leave Doc nil.", op.ID))
		}
		if !op.Delete {
			if err := store.CheckDoc(op.ID, op.Doc); err != nil {
				return nil, opErr(i, err)
			}
		}
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, store.ErrClosed
	}
	defer func() { <-s.wsem }()
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Once begun, a transaction runs to its end: cancelling ctx must not
	// leave a commit whose outcome is unknown (and an event unpublished).
	wctx := context.WithoutCancel(ctx)
	tx, err := s.wdb.BeginTx(wctx, nil)
	if err != nil {
		return nil, s.ioErr("write", err)
	}
	defer tx.Rollback()
	var rev int64
	if err := tx.StmtContext(wctx, s.wrev).QueryRowContext(wctx).Scan(&rev); err != nil {
		return nil, s.ioErr("write", err)
	}
	rev++
	getForWrite, upsert, del := tx.StmtContext(wctx, s.getForWrite), tx.StmtContext(wctx, s.upsert), tx.StmtContext(wctx, s.del)
	out := make([]store.Resource, len(ops))
	ev := store.Event{Revision: rev, Changes: make([]store.Change, len(ops))}
	for i, op := range ops {
		p := ids[i]
		cur := store.Resource{ID: p.ID, Type: p.Type}
		exists := true
		err := getForWrite.QueryRowContext(wctx, p.Key).Scan(&cur.ID, &cur.Type, &cur.Etag)
		if errors.Is(err, sql.ErrNoRows) {
			exists = false
		} else if err != nil {
			return nil, s.ioErr("write "+op.ID, err)
		}
		if op.Delete && !exists {
			return nil, opErr(i, store.NotFound(op.ID))
		}
		if err := op.Cond.Check(cur.ID, exists, cur.Etag); err != nil {
			return nil, opErr(i, err)
		}
		if op.Delete {
			if _, err := del.ExecContext(wctx, p.Key); err != nil {
				return nil, s.ioErr("delete "+op.ID, err)
			}
			out[i] = store.Resource{ID: cur.ID, Type: cur.Type, Revision: rev}
			ev.Changes[i] = store.Change{Deleted: true, Resource: out[i]}
			continue
		}
		etag := store.NewEtag()
		if _, err := upsert.ExecContext(wctx, p.Key, p.ID, p.Type, strings.ToLower(p.Type),
			strings.ToLower(p.Subscription), strings.ToLower(p.ResourceGroup), []byte(op.Doc), etag, rev); err != nil {
			return nil, s.ioErr("put "+op.ID, err)
		}
		out[i] = store.Resource{ID: cur.ID, Type: cur.Type, Doc: bytes.Clone(op.Doc), Etag: etag, Revision: rev}
		ev.Changes[i] = store.Change{Resource: out[i]}
		ev.Changes[i].Resource.Doc = bytes.Clone(op.Doc)
	}
	if _, err := tx.StmtContext(wctx, s.setRev).ExecContext(wctx, rev); err != nil {
		return nil, s.ioErr("write", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.ioErr("commit", err)
	}
	s.feed.publish(ev)
	return out, nil
}

// ioErr wraps a driver error, or reports ErrClosed if the store closed
// under the call.
func (s *Store) ioErr(what string, err error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("store %s: %s: %w", s.path, what, err)
}

// Close implements store.Store: it waits for the write in progress, closes
// the watchers and the database (checkpointing the WAL) and releases the
// lock file.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		close(s.done)
		s.wsem <- struct{}{} // wait for the write in progress; never released
		s.feed.close()
		s.err = s.closeAll()
	})
	return s.err
}

func (s *Store) closeAll() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.get, s.rev, s.wrev, s.setRev, s.getForWrite, s.upsert, s.del} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, db := range []*sql.DB{s.rdb, s.wdb} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	s.unlock()
	return errors.Join(errs...)
}
