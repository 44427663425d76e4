package sqlite_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/store"
	"github.com/vnetml/vnetml/internal/store/sqlite"
	"github.com/vnetml/vnetml/internal/store/storetest"
)

const sub = "11111111-1111-1111-1111-111111111111"

func vnetID(group, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + group + "/providers/Microsoft.Network/virtualNetworks/" + name
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func openAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(ctx(t), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "vnetml.db"))
	})
}

func listAll(t *testing.T, s store.Store) store.Page {
	t.Helper()
	p, err := s.List(ctx(t), store.ListOptions{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return p
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "vnetml.db") // the directory is created
	s := openAt(t, path)
	for i := range 20 {
		if _, err := s.Put(ctx(t), vnetID("rg", fmt.Sprintf("V%02d", i)), json.RawMessage(fmt.Sprintf(` {"i": %d} `, i)), store.Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx(t), vnetID("RG", "v03"), store.Condition{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx(t), []store.Op{
		store.PutOp(vnetID("rg", "v04")+"/subnets/default", []byte(`{"name":"default"}`), store.CreateOnly()),
		store.DeleteOp(vnetID("rg", "v05"), store.Condition{}),
	}); err != nil {
		t.Fatal(err)
	}
	before := listAll(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, path)
	after := listAll(t, s)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("reopened store differs (-before +after):\n%s", diff)
	}
	if after.Revision != 22 {
		t.Errorf("revision %d after reopen, want 22", after.Revision)
	}
	// The feed starts at the reopened revision: earlier ones are gone.
	if _, err := s.Watch(ctx(t), after.Revision-1); !store.IsCompacted(err) {
		t.Errorf("Watch from before the reopen: %v, want RevisionCompacted", err)
	}
	w, err := s.Watch(ctx(t), after.Revision)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Put(ctx(t), vnetID("rg", "v00"), []byte(`{}`), store.IfMatch(before.Resources[0].Etag))
	if err != nil {
		t.Fatalf("If-Match with an etag from before the reopen: %v", err)
	}
	if r.Revision != after.Revision+1 {
		t.Errorf("first write after reopen has revision %d, want %d", r.Revision, after.Revision+1)
	}
	select {
	case ev := <-w:
		if ev.Revision != r.Revision {
			t.Errorf("event at %d, want %d", ev.Revision, r.Revision)
		}
	case <-ctx(t).Done():
		t.Fatal("no event")
	}
}

func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vnetml.db")
	s := openAt(t, path)
	if _, err := sqlite.Open(ctx(t), path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open of a database in use: %v, want an 'in use' error", err)
	}
	s.Close()
	openAt(t, path) // free again
}

// TestOpenRefusesBadFiles: files that are not vnetml databases, or are
// damaged, give an error that names the file and the way out; never a
// panic, and never a database silently made of them.
func TestOpenRefusesBadFiles(t *testing.T) {
	// A real database with enough rows to span many pages.
	good := filepath.Join(t.TempDir(), "good.db")
	s := openAt(t, good)
	for i := range 300 {
		if _, err := s.Put(ctx(t), vnetID("rg", fmt.Sprintf("v%03d", i)), []byte(fmt.Sprintf(`{"name":"v%03d","pad":%q}`, i, strings.Repeat("x", 200))), store.Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string // in the error
	}{
		{"random bytes", func(t *testing.T, path string) {
			b := make([]byte, 64<<10)
			rand.Read(b)
			write(t, path, b)
		}, "not a vnetml database"},
		{"text file", func(t *testing.T, path string) { write(t, path, []byte("hello, world\n")) }, "not a vnetml database"},
		{"SQLite header then garbage", func(t *testing.T, path string) {
			b := make([]byte, 8192)
			rand.Read(b)
			copy(b, "SQLite format 3\x00")
			write(t, path, b)
		}, "move it away"},
		{"another application's SQLite database", func(t *testing.T, path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE notes (body TEXT)"); err != nil {
				t.Fatal(err)
			}
		}, "another application"},
		{"newer schema", func(t *testing.T, path string) {
			write(t, path, goodBytes)
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("INSERT INTO schema_version (version, applied_at) VALUES (99, 'later')"); err != nil {
				t.Fatal(err)
			}
		}, "newer than this vnetml"},
		{"damaged pages", func(t *testing.T, path string) {
			b := append([]byte(nil), goodBytes...)
			for i := 5 * 4096; i < 9*4096 && i < len(b); i++ {
				b[i] = 0xa5
			}
			write(t, path, b)
		}, "restore it from a backup"},
		{"truncated", func(t *testing.T, path string) { write(t, path, goodBytes[:len(goodBytes)/2]) }, "restore it from a backup"},
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vnetml.db")
			tc.setup(t, path)
			s, err := sqlite.Open(ctx(t), path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open: %v\nwant an error naming %s and saying %q", err, path, tc.want)
			}
			t.Log(err)
		})
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Crash durability: a child process (this test binary, re-executed) writes
// and acknowledges on stdout after each write returns; the parent kills it
// with SIGKILL mid-stream, reopens the database and checks that every
// acknowledged write is there and that the revisions are consistent. Three
// rounds, each recovering the previous one's WAL.
const (
	crashEnvDB    = "VNETML_STORE_CRASH_DB"
	crashEnvRound = "VNETML_STORE_CRASH_ROUND"
	crashWriters  = 4
	crashAcks     = 150 // per round before the kill
	crashRounds   = 3
)

func TestCrashDurability(t *testing.T) {
	if path := os.Getenv(crashEnvDB); path != "" {
		crashChild(path, os.Getenv(crashEnvRound))
		return
	}
	path := filepath.Join(t.TempDir(), "vnetml.db")
	acked := map[string]ack{}
	for round := range crashRounds {
		n := runAndKill(t, path, round, acked)
		s := openAt(t, path)
		checkCrashState(t, s, acked)
		s.Close()
		t.Logf("round %d: killed after %d acknowledged writes; %d acknowledged in all, all present", round, n, len(acked))
	}
}

type ack struct {
	doc string
	rev int64
}

// crashDoc is the document the child writes under id.
func crashDoc(id string) string {
	return fmt.Sprintf(`{"name":%q,"pad":%q}`, id, strings.Repeat("p", 300))
}

// crashChild writes until killed: crashWriters goroutines, each putting new
// resources and, every fifth write, an Apply of a pair (acknowledged as two
// lines with one revision).
func crashChild(path, round string) {
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	acknowledge := func(rs ...store.Resource) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			fmt.Fprintf(out, "ack %s %d\n", r.ID, r.Revision)
		}
		out.Flush() // one write(2) per acknowledgement, after the write returned
	}
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			for i := 0; i < 100000; i++ {
				id := vnetID("crash", fmt.Sprintf("r%s-w%d-%d", round, w, i))
				if i%5 == 4 {
					pair := id + "/subnets/pair"
					rs, err := s.Apply(context.Background(), []store.Op{
						store.PutOp(id, []byte(crashDoc(id)), store.CreateOnly()),
						store.PutOp(pair, []byte(crashDoc(pair)), store.CreateOnly()),
					})
					if err != nil {
						fmt.Printf("error %v\n", err)
						os.Exit(2)
					}
					acknowledge(rs...)
					continue
				}
				r, err := s.Put(context.Background(), id, []byte(crashDoc(id)), store.CreateOnly())
				if err != nil {
					fmt.Printf("error %v\n", err)
					os.Exit(2)
				}
				acknowledge(r)
			}
		})
	}
	wg.Wait()
	os.Exit(0) // not reached: the parent kills us first
}

// runAndKill runs one child round, kills it after crashAcks
// acknowledgements, and adds every acknowledgement it printed to acked.
func runAndKill(t *testing.T, path string, round int, acked map[string]ack) int {
	cmd := exec.CommandContext(ctx(t), os.Args[0], "-test.run=^TestCrashDurability$")
	cmd.Env = append(os.Environ(), crashEnvDB+"="+path, crashEnvRound+"="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 1 && f[0] == "error" {
			t.Fatalf("child: %s", sc.Text())
		}
		if len(f) != 3 || f[0] != "ack" {
			continue
		}
		rev, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Fatalf("child printed %q", sc.Text())
		}
		acked[f[1]] = ack{crashDoc(f[1]), rev}
		if n++; n == crashAcks {
			cmd.Process.Kill() // SIGKILL: no deferred Close, no checkpoint
		}
	}
	// Lines printed before the kill landed are read to EOF above: each is
	// an acknowledged write.
	err = cmd.Wait()
	if n < crashAcks {
		t.Fatalf("child ended after %d acknowledgements: %v", n, err)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.Exited() {
		t.Fatalf("child was not killed: %v", err)
	}
	return n
}

// checkCrashState checks a reopened store: every acknowledged write with
// its document and revision; Apply pairs whole or absent; revisions from 1
// to the store's revision each used, none above it.
func checkCrashState(t *testing.T, s store.Store, acked map[string]ack) {
	t.Helper()
	page := listAll(t, s)
	byID := map[string]store.Resource{}
	revs := map[int64]int{}
	for _, r := range page.Resources {
		byID[r.ID] = r
		revs[r.Revision]++
		if r.Revision > page.Revision {
			t.Errorf("%s has revision %d, above the store's %d", r.ID, r.Revision, page.Revision)
		}
		if string(r.Doc) != crashDoc(r.ID) {
			t.Errorf("%s has document %.60s…", r.ID, r.Doc)
		}
	}
	for id, a := range acked {
		r, ok := byID[id]
		if !ok {
			t.Errorf("acknowledged write %s (revision %d) is lost", id, a.rev)
			continue
		}
		if r.Revision != a.rev {
			t.Errorf("%s has revision %d, acknowledged at %d", id, r.Revision, a.rev)
		}
	}
	for id, r := range byID {
		if strings.HasSuffix(id, "/subnets/pair") {
			parent := strings.TrimSuffix(id, "/subnets/pair")
			if p, ok := byID[parent]; !ok || p.Revision != r.Revision {
				t.Errorf("Apply pair torn: %s without its parent at the same revision", id)
			}
			delete(revs, r.Revision) // the pair shares one revision
			revs[r.Revision] = 1
		}
	}
	for rev := int64(1); rev <= page.Revision; rev++ {
		if revs[rev] != 1 {
			t.Errorf("revision %d is used by %d resources, want 1 (revisions must run 1..%d without gaps)", rev, revs[rev], page.Revision)
		}
	}
}
