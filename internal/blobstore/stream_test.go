package blobstore

import (
	"bufio"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// pattern is the deterministic source of genReader: 1 MiB + 7 random bytes,
// a length that shares no factor with any buffer size, so a chunk written
// at the wrong offset changes the hash.
var pattern = func() []byte {
	b := make([]byte, 1<<20+7)
	r := rand.New(rand.NewPCG(7, 11))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

// genReader yields n deterministic bytes without holding them: byte p is
// pattern[p % len(pattern)]. every, if set, is called before each Read
// with the bytes handed out so far.
type genReader struct {
	n, pos int64
	every  func(pos int64)
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.every != nil {
		g.every(g.pos)
	}
	if g.pos >= g.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n-g.pos)]
	done := 0
	for done < len(p) {
		off := int((g.pos + int64(done)) % int64(len(pattern)))
		done += copy(p[done:], pattern[off:])
	}
	g.pos += int64(done)
	return done, nil
}

func genSHA(t testing.TB, n int64) [32]byte {
	h := sha256.New()
	if _, err := io.Copy(h, &genReader{n: n}); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// heapPeak samples the live heap; ReadMemStats stops the world, so it is
// called once per sampleEvery bytes.
type heapPeak struct {
	base, peak uint64
	next       int64
}

const sampleEvery = 32 << 20

func newHeapPeak() *heapPeak {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return &heapPeak{base: m.HeapInuse, peak: m.HeapInuse}
}

func (h *heapPeak) sample(pos int64) {
	if pos < h.next {
		return
	}
	h.next = pos + sampleEvery
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapInuse)
}

func (h *heapPeak) growth() int64 { return int64(h.peak) - int64(h.base) }

// sampleWriter samples the heap as the download is consumed.
type sampleWriter struct {
	w  io.Writer
	n  int64
	hp *heapPeak
}

func (s *sampleWriter) Write(p []byte) (int, error) {
	s.hp.sample(s.n)
	s.n += int64(len(p))
	return s.w.Write(p)
}

// TestStreamedRoundTrip uploads 1 GiB (64 MiB with -short) through the
// handler over loopback and downloads it again: same SHA-256 both ways, and
// the heap never grows by more than a small fraction of the blob.
func TestStreamedRoundTrip(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	want := genSHA(t, size)
	e := newEnv(t, Config{})
	e.mustContainer("data")
	const heapBound = 48 << 20

	hp := newHeapPeak()
	req, err := http.NewRequest("PUT", e.srv.URL+"/data/big.bin", &genReader{n: size, every: hp.sample})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("PUT = %d", res.StatusCode)
	}
	if g := hp.growth(); g > heapBound {
		t.Errorf("upload of %d MiB grew the heap by %d MiB: not streamed", size>>20, g>>20)
	}
	t.Logf("upload: heap growth %d KiB for %d MiB", hp.growth()>>10, size>>20)

	hp = newHeapPeak()
	res, err = e.srv.Client().Get(e.srv.URL + "/data/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	h := sha256.New()
	n, err := io.Copy(&sampleWriter{w: h, hp: hp}, res.Body)
	if err != nil || n != size || res.StatusCode != 200 {
		t.Fatalf("GET = %d, %d bytes, %v", res.StatusCode, n, err)
	}
	if [32]byte(h.Sum(nil)) != want {
		t.Errorf("downloaded SHA-256 differs from uploaded")
	}
	if g := hp.growth(); g > heapBound {
		t.Errorf("download of %d MiB grew the heap by %d MiB: not streamed", size>>20, g>>20)
	}
	t.Logf("download: heap growth %d KiB", hp.growth()>>10)

	// A range from the middle matches the generator at that offset.
	r := e.do("GET", "/data/big.bin", nil, "Range", "bytes="+strconv.FormatInt(size/2+3, 10)+"-"+strconv.FormatInt(size/2+3+99, 10))
	g := &genReader{n: size, pos: size/2 + 3}
	wantRange := make([]byte, 100)
	io.ReadFull(g, wantRange)
	if r.status != 206 || string(r.body) != string(wantRange) {
		t.Errorf("range in the middle = %d, wrong bytes", r.status)
	}
}

// crashEnv names the environment variables that turn the test binary into
// the crash child (see TestMain).
const (
	crashRootEnv = "BLOBSTORE_CRASH_ROOT"
	crashBlobEnv = "BLOBSTORE_CRASH_BLOB"
	crashAfter   = 8 << 20 // bytes written before the child reports
)

func TestMain(m *testing.M) {
	if root := os.Getenv(crashRootEnv); root != "" {
		crashChild(root, os.Getenv(crashBlobEnv))
		os.Exit(3) // not reached: the parent kills the child
	}
	os.Exit(m.Run())
}

// crashChild uploads an endless blob. Once crashAfter bytes have been handed
// to the store and the store asks for more (so they are in its temporary
// file), it reports on fd 3 and blocks on stdin until SIGKILLed.
func crashChild(root, blob string) {
	s, err := Open(root)
	if err != nil {
		os.Stderr.WriteString(err.Error())
		os.Exit(2)
	}
	report := os.NewFile(3, "report")
	g := &genReader{n: 1 << 40}
	g.every = func(pos int64) {
		if pos >= crashAfter {
			report.WriteString("written " + strconv.FormatInt(pos, 10) + "\n")
			io.Copy(io.Discard, os.Stdin) // until killed
		}
	}
	_, err = s.PutBlob(ctx, testAccount, "data", blob, g, PutOptions{})
	os.Stderr.WriteString("PutBlob returned: " + errString(err))
	os.Exit(2)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestCrashMidUpload SIGKILLs a child process in the middle of a Put Blob:
// on reopening, the blob is absent (or still its previous version), and the
// orphan temporary file is gone.
func TestCrashMidUpload(t *testing.T) {
	cases := []struct {
		name     string
		previous string // content before the crashed upload; "" for none
	}{
		{"new blob", ""},
		{"overwrite keeps previous version", "previous version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			s, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateContainer(ctx, testAccount, "data"); err != nil {
				t.Fatal(err)
			}
			if c.previous != "" {
				if _, err := s.PutBlob(ctx, testAccount, "data", "victim", strings.NewReader(c.previous), PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashRootEnv+"="+root, crashBlobEnv+"=victim")
			cmd.ExtraFiles = []*os.File{pw}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdin, err := cmd.StdinPipe() // never written: the child blocks on it
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil {
				cmd.Wait()
				t.Fatalf("child did not report (%v); stderr: %s", err, stderr.String())
			}
			// The child is mid-upload: its temporary file holds the bytes.
			tmps, _ := filepath.Glob(filepath.Join(root, tmpDirName, "put-*"))
			if len(tmps) != 1 {
				t.Fatalf("child reported %q but temporary files are %v", strings.TrimSpace(line), tmps)
			}
			if fi, err := os.Stat(tmps[0]); err != nil || fi.Size() < crashAfter {
				t.Fatalf("temporary file %v is short: %v", fi, err)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			s, err = Open(root)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.OpenBlob(ctx, testAccount, "data", "victim", Conditions{})
			switch {
			case c.previous == "" && !isCode(err, CodeBlobNotFound):
				t.Errorf("after the crash the blob exists (%v)", err)
			case c.previous != "":
				if err != nil {
					t.Fatalf("previous version lost: %v", err)
				}
				got, _ := io.ReadAll(io.NewSectionReader(b, 0, b.ContentLength))
				b.Close()
				if string(got) != c.previous {
					t.Errorf("previous version = %q", got)
				}
			}
			page, err := s.ListBlobs(ctx, testAccount, "data", ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantBlobs := 0
			if c.previous != "" {
				wantBlobs = 1
			}
			if len(page.Blobs) != wantBlobs {
				t.Errorf("listing after crash: %+v", page.Blobs)
			}
			assertTmpEmpty(t, s)
		})
	}
}
