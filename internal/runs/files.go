package runs

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/job"
)

// This file keeps a run's driver log and metrics on disk: one directory
// per run under Config.Dir, a log appended and synced before run history
// acknowledges a chunk, and metrics as JSON lines, one per batch.

const (
	keyFile     = "history.key"
	logName     = "driver.log"
	metricsName = "metrics.jsonl"
)

// files are the runs' logs and metrics. Safe for concurrent use.
type files struct {
	dir string

	mu      sync.Mutex
	locks   map[string]*runFiles
	waiters map[string]chan struct{} // closed when the run's log or state changes
}

type runFiles struct {
	mu   sync.Mutex
	seen map[string]bool // metric batch ids, loaded on first use
}

func newFiles(dir string) *files {
	return &files{dir: dir, locks: map[string]*runFiles{}, waiters: map[string]chan struct{}{}}
}

func (f *files) dirOf(key string) string {
	h := sha256.Sum256([]byte(key))
	return filepath.Join(f.dir, "runs", hex.EncodeToString(h[:16]))
}

func (f *files) of(key string) *runFiles {
	f.mu.Lock()
	defer f.mu.Unlock()
	rf, ok := f.locks[key]
	if !ok {
		rf = &runFiles{}
		f.locks[key] = rf
	}
	return rf
}

// changed returns a channel closed at the run's next change.
func (f *files) changed(key string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch, ok := f.waiters[key]
	if !ok {
		ch = make(chan struct{})
		f.waiters[key] = ch
	}
	return ch
}

// notify wakes whoever waits on the run.
func (f *files) notify(key string) {
	f.mu.Lock()
	ch, ok := f.waiters[key]
	delete(f.waiters, key)
	f.mu.Unlock()
	if ok {
		close(ch)
	}
}

// forget drops what is kept in memory of a finished run.
func (f *files) forget(key string) {
	f.mu.Lock()
	delete(f.locks, key)
	f.mu.Unlock()
}

func (f *files) remove(key string) {
	f.forget(key)
	os.RemoveAll(f.dirOf(key))
}

func (f *files) close() {}

// logSize is the driver log's length.
func (f *files) logSize(key string) int64 {
	fi, err := os.Stat(filepath.Join(f.dirOf(key), logName))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// appendRaw appends b to the log (a note of the platform's) and returns
// the new length.
func (f *files) appendRaw(key string, b []byte) (int64, error) {
	rf := f.of(key)
	rf.mu.Lock()
	defer rf.mu.Unlock()
	size, err := f.write(key, b)
	f.notify(key)
	return size, err
}

// appendLog appends a chunk of an attempt's log that starts at offset
// (relative to the attempt's start, base) and returns the attempt's log
// length after it. A chunk that starts after the end is refused with
// gap=true and the length; what it repeats of the log is skipped.
func (f *files) appendLog(key string, base, offset int64, b []byte) (length int64, gap bool, err error) {
	rf := f.of(key)
	rf.mu.Lock()
	defer rf.mu.Unlock()
	cur := f.logSize(key) - base
	if cur < 0 {
		return 0, false, fmt.Errorf("the log is shorter than the attempt's start")
	}
	switch {
	case offset > cur:
		return cur, true, nil
	case offset+int64(len(b)) <= cur:
		return cur, false, nil // all of it is there already: a retry
	}
	b = b[cur-offset:]
	size, err := f.write(key, b)
	if err != nil {
		return cur, false, err
	}
	f.notify(key)
	return size - base, false, nil
}

// write appends b durably. The caller holds the run's lock.
func (f *files) write(key string, b []byte) (int64, error) {
	fh, err := openAppend(f.dirOf(key), logName)
	if err != nil {
		return 0, err
	}
	_, err = fh.Write(b)
	if err == nil {
		err = fh.Sync()
	}
	var size int64
	if fi, serr := fh.Stat(); serr == nil {
		size = fi.Size()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return size, err
}

// readLog reads the log at off into p.
func (f *files) readLog(key string, p []byte, off int64) (int, error) {
	fh, err := os.Open(filepath.Join(f.dirOf(key), logName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	n, err := fh.ReadAt(p, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// addMetrics appends a batch, once: a batch id seen before is a retry.
func (f *files) addMetrics(key string, b job.MetricBatch) error {
	rf := f.of(key)
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.seen == nil {
		// First use since the server started: a line torn by a crash is
		// cut off, or the next batch would be glued to it and unreadable
		// (lost, though acknowledged).
		if err := f.trimTorn(key); err != nil {
			return err
		}
		rf.seen = map[string]bool{}
		err := f.eachBatch(key, func(seen job.MetricBatch) { rf.seen[seen.BatchID] = true })
		if err != nil {
			rf.seen = nil
			return err
		}
	}
	if rf.seen[b.BatchID] {
		return nil
	}
	line, err := json.Marshal(b)
	if err != nil {
		return err
	}
	fh, err := openAppend(f.dirOf(key), metricsName)
	if err != nil {
		return err
	}
	_, err = fh.Write(append(line, '\n'))
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		rf.seen[b.BatchID] = true
	}
	return err
}

// trimTorn cuts the metrics file after its last complete line. The caller
// holds the run's lock.
func (f *files) trimTorn(key string) error {
	fh, err := os.OpenFile(filepath.Join(f.dirOf(key), metricsName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return err
	}
	end := fi.Size()
	buf := make([]byte, 4096)
	for at := end; at > 0; {
		n := min(at, int64(len(buf)))
		if _, err := fh.ReadAt(buf[:n], at-n); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			at += int64(i+1) - n
			if at == end {
				return nil // whole
			}
			end = at
			break
		}
		if at -= n; at == 0 {
			end = 0 // not one whole line
		}
	}
	if end == fi.Size() {
		return nil
	}
	if err := fh.Truncate(end); err != nil {
		return err
	}
	return fh.Sync()
}

// openAppend opens a run's file for appending, creating it (and its
// directory) when needed. What it creates is synced into its directory,
// so that a file whose contents were synced and acknowledged does not
// vanish in a crash.
func openAppend(dir, name string) (*os.File, error) {
	_, err := os.Stat(dir)
	newDir := errors.Is(err, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	}
	if err != nil {
		return nil, err
	}
	err = syncDir(dir)
	if err == nil && newDir {
		err = syncDir(filepath.Dir(dir))
	}
	if err != nil {
		fh.Close()
		return nil, err
	}
	return fh, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// eachBatch calls fn with every stored batch. A torn last line (a crash
// while writing, never acknowledged) is skipped.
func (f *files) eachBatch(key string, fn func(job.MetricBatch)) error {
	fh, err := os.Open(filepath.Join(f.dirOf(key), metricsName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), maxMetricsBody+1024)
	for sc.Scan() {
		var b job.MetricBatch
		if json.Unmarshal(sc.Bytes(), &b) == nil {
			fn(b)
		}
	}
	return sc.Err()
}

// metrics returns every metric of a run, in the order logged.
func (f *files) metrics(key string) ([]api.RunMetric, error) {
	var out []api.RunMetric
	err := f.eachBatch(key, func(b job.MetricBatch) {
		for _, m := range b.Metrics {
			out = append(out, api.RunMetric{Name: m.Name, Value: m.Value, Step: m.Step, Time: m.Time})
		}
	})
	return out, err
}

// loadKey reads run history's token key, creating it (0600) when absent.
func loadKey(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("runs: %s is not a 32-byte key; remove it to create a new one (running jobs then lose their tokens)", name)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	rand.Read(b)
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, name); err != nil {
		return nil, err
	}
	return b, nil
}

// token is the run token of an attempt: "<attempt>.<hex HMAC>".
func (s *Service) token(key string, attempt int) string {
	return strconv.Itoa(attempt) + "." + hex.EncodeToString(s.mac(key, attempt))
}

func (s *Service) mac(key string, attempt int) []byte {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\n%d", key, attempt)
	return m.Sum(nil)
}

// checkToken returns the attempt a token was issued for, if it is one of
// the run's.
func (s *Service) checkToken(key, tok string) (int, bool) {
	attempt, mac, ok := tokenAttempt(tok)
	if !ok {
		return 0, false
	}
	got, _ := hex.DecodeString(mac)
	return attempt, hmac.Equal(got, s.mac(key, attempt))
}
