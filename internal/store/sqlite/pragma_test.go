package sqlite

import (
	"path/filepath"
	"testing"
)

// TestDurabilitySettings: the writer runs in WAL mode with synchronous=FULL
// (what the durability claims rest on), the readers are read-only, and
// the file is marked as vnetml's.
func TestDurabilitySettings(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "vnetml.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		name, pragma, want string
		db                 string
	}{
		{"writer journal", "PRAGMA journal_mode", "wal", "w"},
		{"writer sync", "PRAGMA synchronous", "2", "w"}, // FULL
		{"writer busy timeout", "PRAGMA busy_timeout", "10000", "w"},
		{"application id", "PRAGMA application_id", "1986946420", "w"},
		{"reader journal", "PRAGMA journal_mode", "wal", "r"},
		{"reader read-only", "PRAGMA query_only", "1", "r"},
	} {
		db := s.wdb
		if c.db == "r" {
			db = s.rdb
		}
		var got string
		if err := db.QueryRowContext(t.Context(), c.pragma).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("%s: %s = %s, want %s", c.name, c.pragma, got, c.want)
		}
	}
}
