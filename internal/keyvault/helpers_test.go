package keyvault

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/store/sqlite"
)

const testVault = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/Vault1"

// InnerOrCode returns err's inner code if it has one, else its code.
func InnerOrCode(err error) string {
	if c := InnerCode(err); c != "" {
		return c
	}
	if e, ok := armerror.As(err); ok {
		return e.Code
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// clock is a settable test clock.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(c.t.Load(), 0) }
func (c *clock) set(t time.Time)     { c.t.Store(t.Unix()) }
func (c *clock) add(d time.Duration) { c.t.Add(int64(d / time.Second)) }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

type fixture struct {
	svc   *Service
	st    *sqlite.Store
	keys  *Keyring
	dir   string
	clock *clock
	log   *syncBuffer
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newFixture opens a sqlite store and a file keyring in a fresh data
// directory, with a clock at t0 and a debug log captured in memory.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		tt.Setenv(EnvMasterKey, "")
	}
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "vnetml.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := LoadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, keys: keys, dir: dir, clock: &clock{}, log: &syncBuffer{}}
	f.clock.set(t0)
	f.svc = New(st, keys, Options{
		Now:    f.clock.now,
		Logger: slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	return f
}

func ptr[T any](v T) *T { return &v }

func armErr(err error) (*armerror.Error, bool) { return armerror.As(err) }
