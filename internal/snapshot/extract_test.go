package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vnetml/vnetml/internal/armerror"
)

// ent is one entry of a hand-made tar.
type ent struct {
	hdr     tar.Header
	content string
}

func file(name, content string) ent {
	return ent{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content))}, content}
}

func dir(name string) ent { return ent{tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}, ""} }

// tarGz writes entries as a gzip tar; trailer is written inside the gzip
// stream after the tar.
func tarGz(t testing.TB, trailer []byte, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range ents {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(trailer); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtractRefuses(t *testing.T) {
	small := Limits{MaxFiles: 2, MaxBytes: 10}
	// Empty gzip members decompress to nothing: compressed input that
	// grows while the tar does not.
	var empty bytes.Buffer
	gzip.NewWriter(&empty).Close()
	padded := append(bytes.Repeat(empty.Bytes(), (3<<20)/empty.Len()), tarGz(t, nil, file("a", "1"))...)
	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		code string
		text string // in the message
	}{
		{"absolute path", tarGz(t, nil, file("/etc/passwd", "x")), small, CodeUnsafeEntry, "absolute"},
		{"dot dot", tarGz(t, nil, file("../x", "x")), small, CodeUnsafeEntry, `".."`},
		{"dot dot inside", tarGz(t, nil, file("a/../../x", "x")), small, CodeUnsafeEntry, `".."`},
		{"dot dot that cleans inside", tarGz(t, nil, file("a/../x", "x")), small, CodeUnsafeEntry, `".."`},
		{"symlink", tarGz(t, nil, ent{tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "/etc"}, ""}), small, CodeUnsafeEntry, `"l": a symlink`},
		{"hard link", tarGz(t, nil, file("a", "x"), ent{tar.Header{Typeflag: tar.TypeLink, Name: "l", Linkname: "a"}, ""}), small, CodeUnsafeEntry, "hard link"},
		{"char device", tarGz(t, nil, ent{tar.Header{Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3}, ""}), small, CodeUnsafeEntry, "device"},
		{"fifo", tarGz(t, nil, ent{tar.Header{Typeflag: tar.TypeFifo, Name: "p"}, ""}), small, CodeUnsafeEntry, "pipe"},
		{"duplicate file", tarGz(t, nil, file("a", "1"), file("a", "2")), small, CodeUnsafeEntry, "twice"},
		{"duplicate after cleaning", tarGz(t, nil, file("a", "1"), file("./a", "2")), small, CodeUnsafeEntry, "twice"},
		{"duplicate directory", tarGz(t, nil, dir("d/"), dir("d")), small, CodeUnsafeEntry, "twice"},
		{"too many files", tarGz(t, nil, file("a", ""), file("b", ""), file("c", "")), small, CodeTooManyFiles, "2 files"},
		{"too much content", tarGz(t, nil, file("a", "123456"), file("b", "123456")), small, CodeTooLarge, "MB"},
		{"too many directories", tarGz(t, nil, file(strings.Repeat("d/", 200)+"f", "")), Limits{MaxFiles: 1}, CodeTooManyDirs, "directories"},
		{"not gzip", []byte("plain text"), small, CodeBadArchive, "gzip"},
		{"truncated", tarGz(t, nil, file("a", "12345"))[:40], small, CodeBadArchive, ""},
		{"trailing data", tarGz(t, make([]byte, maxTrailer+10), file("a", "1")), small, CodeBadArchive, "follow"},
		{"compressed input past the bound", padded, Limits{MaxFiles: 1, MaxBytes: 1}, CodeTooLarge, "compressed"},
		{"file as root", tarGz(t, nil, file(".", "")), small, CodeUnsafeEntry, "root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			err := Extract(bytes.NewReader(tc.data), filepath.Join(parent, "out"), tc.lim)
			e, ok := armerror.As(err)
			if !ok || e.Code != tc.code {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
			if !strings.Contains(e.Message, tc.text) {
				t.Errorf("message %q lacks %q", e.Message, tc.text)
			}
			assertContained(t, parent)
		})
	}
}

// assertContained checks that parent holds nothing but out, and out
// nothing but regular files (0644, 0755) and directories (0755).
func assertContained(t testing.TB, parent string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "out" {
			t.Fatalf("Extract wrote %s outside its directory", e.Name())
		}
	}
	out := filepath.Join(parent, "out")
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m := fi.Mode()
		switch {
		case m.IsDir():
			if p != out && m.Perm() != 0o755 {
				t.Errorf("%s: directory mode %v", p, m)
			}
		case m.IsRegular():
			if m.Perm() != 0o644 && m.Perm() != 0o755 {
				t.Errorf("%s: file mode %v", p, m)
			}
		default:
			t.Errorf("%s: Extract made a %v", p, m.Type())
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

func TestExtractCountsBytesWritten(t *testing.T) {
	// The content is what counts: a file within the budget passes, one
	// byte more fails, and no file is longer than the budget plus one.
	lim := Limits{MaxFiles: 10, MaxBytes: 8}
	parent := t.TempDir()
	if err := Extract(bytes.NewReader(tarGz(t, nil, file("a", "1234"), file("b", "5678"))), filepath.Join(parent, "out"), lim); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	parent = t.TempDir()
	err := Extract(bytes.NewReader(tarGz(t, nil, file("a", "1234"), file("b", "56789xxxxxxxxxxxxx"))), filepath.Join(parent, "out"), lim)
	if e, ok := armerror.As(err); !ok || e.Code != CodeTooLarge {
		t.Fatalf("err = %v, want %s", err, CodeTooLarge)
	}
	b, _ := os.ReadFile(filepath.Join(parent, "out", "b"))
	if len(b) > 5 {
		t.Errorf("wrote %d bytes of b past the budget", len(b))
	}
}

func TestExtractModes(t *testing.T) {
	data := tarGz(t, nil,
		ent{tar.Header{Typeflag: tar.TypeReg, Name: "x", Mode: 0o4777}, ""},
		ent{tar.Header{Typeflag: tar.TypeReg, Name: "y", Mode: 0o600}, ""},
		ent{tar.Header{Typeflag: tar.TypeReg, Name: "z", Mode: 0o100}, ""},
		ent{tar.Header{Typeflag: tar.TypeDir, Name: "d", Mode: 0o700}, ""},
		ent{tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "git"}}, ""},
		file("./d/./e", "e"), // as `tar -C dir .` names them
	)
	out := filepath.Join(t.TempDir(), "out")
	if err := Extract(bytes.NewReader(data), out, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	want := map[string]node{
		"x":   {Mode: 0o755},
		"y":   {Mode: 0o644},
		"z":   {Mode: 0o755},
		"d":   {Dir: true, Mode: fs.ModeDir | 0o755},
		"d/e": {Mode: 0o644, Content: "e"},
	}
	if diff := cmp.Diff(want, readTree(t, out)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

func TestExtractIntoExistingDirNeverReplaces(t *testing.T) {
	out := t.TempDir()
	writeTree(t, out, map[string]string{"a": "mine"})
	err := Extract(bytes.NewReader(tarGz(t, nil, file("a", "theirs"))), out, DefaultLimits)
	if err == nil {
		t.Fatal("Extract replaced a file")
	}
	if b, _ := os.ReadFile(filepath.Join(out, "a")); string(b) != "mine" {
		t.Errorf("a = %q", b)
	}
}

func TestExtractDoesNotFollowSymlinksInDir(t *testing.T) {
	// A symlink already in dir (Extract never makes one) must not lead
	// a write outside.
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	outside := filepath.Join(parent, "outside")
	for _, d := range []string{out, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(out, "l")); err != nil {
		t.Fatal(err)
	}
	if err := Extract(bytes.NewReader(tarGz(t, nil, file("l/x", "x"))), out, DefaultLimits); err == nil {
		t.Error("Extract wrote through a symlink")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("wrote %v outside", ents)
	}
}
