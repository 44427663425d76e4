package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vnetml/vnetml/internal/armerror"
)

// writeTree makes files under dir: a name ending in '/' is a directory, a
// name ending in ".sh" is executable.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		full := filepath.Join(dir, filepath.FromSlash(n))
		if strings.HasSuffix(n, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(n, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(files[n]), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
}

type node struct {
	Dir     bool
	Mode    fs.FileMode
	Content string
}

// readTree is what a directory holds: path → kind, permission, content.
func readTree(t testing.TB, dir string) map[string]node {
	t.Helper()
	out := map[string]node{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n := node{Dir: d.IsDir(), Mode: fi.Mode()}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n.Content = string(b)
		}
		out[filepath.ToSlash(rel)] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func pack(t testing.TB, dir string, lim Limits) ([]byte, Info) {
	t.Helper()
	var buf bytes.Buffer
	info, err := Pack(dir, &buf, lim)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return buf.Bytes(), info
}

func TestPackExtractRoundTrip(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"train.py":               "print('hi')\n",
		"run.sh":                 "#!/bin/sh\necho hi\n",
		"pkg/model.py":           "x = 1\n",
		"pkg/deep/er/data.json":  `{"a": 1}`,
		"empty/":                 "",
		"a-b":                    "sorts before a/",
		"data/big.bin":           "ignored",
		"logs/x.log":             "ignored",
		"keep.log":               "kept by negation",
		".amlignore":             "data/\n*.log\n!keep.log\n",
		"spaces in name/f i l e": "ok",
	})
	if err := os.Symlink("pkg/model.py", filepath.Join(src, "link.py")); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "s"})
	for name, target := range map[string]string{
		"out-link": filepath.Join(outside, "secret"),
		"dir-link": "pkg",
		"broken":   "nowhere",
	} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}

	data, info := pack(t, src, DefaultLimits)
	wantFiles := []string{".amlignore", "a-b", "keep.log", "link.py", "pkg/deep/er/data.json", "pkg/model.py",
		"run.sh", "spaces in name/f i l e", "train.py"}
	if diff := cmp.Diff(wantFiles, info.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	wantSkipped := []Skip{
		{"broken", "a broken symlink"},
		{"dir-link", "a symlink to a directory (not followed)"},
		{"out-link", "a symlink to outside the source directory"},
	}
	if diff := cmp.Diff(wantSkipped, info.Skipped); diff != "" {
		t.Errorf("Skipped (-want +got):\n%s", diff)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("Size = %d, wrote %d", info.Size, len(data))
	}

	dst := filepath.Join(t.TempDir(), "new", "dir")
	if err := Extract(bytes.NewReader(data), dst, DefaultLimits); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	got := readTree(t, dst)
	want := readTree(t, src)
	for _, p := range []string{"data", "data/big.bin", "logs/x.log", "out-link", "dir-link", "broken"} {
		delete(want, p)
	}
	want["link.py"] = node{Mode: 0o644, Content: "x = 1\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("extracted tree (-want +got):\n%s", diff)
	}
	var sum int64
	for _, f := range info.Files {
		sum += int64(len(got[f].Content))
	}
	if info.Bytes != sum {
		t.Errorf("Bytes = %d, content is %d", info.Bytes, sum)
	}
}

func TestPackDeterministic(t *testing.T) {
	files := map[string]string{
		"b.py": "b", "a.py": "a", "z/y/x.txt": "xyz", "run.sh": "#!/bin/sh\n", "e/": "",
		strings.Repeat("long/", 40) + "name.txt": "a path past USTAR's 100 bytes",
	}
	one, two := t.TempDir(), filepath.Join(t.TempDir(), "elsewhere")
	writeTree(t, one, files)
	writeTree(t, two, files)
	// Different mtimes, and a mode that differs in bits that do not count.
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(two, "a.py"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(two, "b.py"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(two, "run.sh"), 0o700); err != nil {
		t.Fatal(err)
	}
	d1, i1 := pack(t, one, DefaultLimits)
	d2, i2 := pack(t, two, DefaultLimits)
	if i1.SHA256 != i2.SHA256 || !bytes.Equal(d1, d2) {
		t.Fatalf("two copies packed differently: %s vs %s", i1.SHA256, i2.SHA256)
	}
	d3, i3 := pack(t, one, DefaultLimits)
	if i3.SHA256 != i1.SHA256 || !bytes.Equal(d1, d3) {
		t.Fatal("packing twice gave different bytes")
	}

	zr, err := gzip.NewReader(bytes.NewReader(d1))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() || zr.Comment != "" {
		t.Errorf("gzip header carries name %q, mtime %v, comment %q", zr.Name, zr.ModTime, zr.Comment)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, strings.TrimSuffix(h.Name, "/"))
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: uid %d gid %d uname %q gname %q mtime %v", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		want := int64(0o644)
		if h.Typeflag == tar.TypeDir || strings.HasSuffix(h.Name, ".sh") {
			want = 0o755
		}
		if h.Mode != want {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, want)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("entries not in path order: %q", names)
	}
}

func TestPackLimits(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a": "12345", "b": "12345", "c/d": "12345"})
	for _, tc := range []struct {
		name string
		lim  Limits
		code string
		text []string
	}{
		{"files", Limits{MaxFiles: 2}, CodeTooManyFiles, []string{"While attempting to take snapshot of " + src,
			"Your total snapshot file count exceeds the limit of 2 files", ".amlignore", "datastore"}},
		{"bytes", Limits{MaxBytes: 14}, CodeTooLarge, []string{"Your total snapshot size exceeds the limit of 1.33514404296875e-05 MB", ".amlignore", "datastore"}},
		{"exactly at the limits", Limits{MaxFiles: 3, MaxBytes: 15}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Pack(src, io.Discard, tc.lim)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e, ok := armerror.As(err)
			if !ok || e.Code != tc.code {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
			for _, s := range tc.text {
				if !strings.Contains(e.Message, s) {
					t.Errorf("message %q lacks %q", e.Message, s)
				}
			}
		})
	}
	if got := sizeError(".", DefaultLimits).Error(); !strings.Contains(got, "Your total snapshot size exceeds the limit of 300.0 MB") {
		t.Errorf("the default limit reads %q, not as the SDK's", got)
	}
	if got := filesError(".", DefaultLimits).Error(); !strings.Contains(got, "exceeds the limit of 2000 files") {
		t.Errorf("the default file limit reads %q", got)
	}
}

func TestPackTooManyDirectories(t *testing.T) {
	src := t.TempDir()
	lim := Limits{MaxFiles: 1}
	dirs := map[string]string{}
	for i := range lim.norm().maxDirs() + 1 {
		dirs[fmt.Sprintf("d%d/", i)] = ""
	}
	writeTree(t, src, dirs)
	_, err := Pack(src, io.Discard, lim)
	if e, ok := armerror.As(err); !ok || e.Code != CodeTooManyDirs {
		t.Fatalf("err = %v, want %s", err, CodeTooManyDirs)
	}
}

func TestPackIgnoreFileChoice(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"amlignore wins over gitignore", map[string]string{".amlignore": "b\n", ".gitignore": "a\n", "a": "", "b": ""},
			[]string{".amlignore", ".gitignore", "a"}},
		{"gitignore when no amlignore", map[string]string{".gitignore": "a\n", "a": "", "b": ""},
			[]string{".gitignore", "b"}},
		{"neither", map[string]string{"a": "", "b": ""}, []string{"a", "b"}},
		{"the ignore file ignores itself", map[string]string{".amlignore": ".amlignore\n", "a": ""}, []string{"a"}},
		{"nested gitignore is not read", map[string]string{"sub/.gitignore": "x\n", "sub/x": ""}, []string{"sub/.gitignore", "sub/x"}},
		{"excluded directory is not entered", map[string]string{".amlignore": "d/\n!d/keep\n", "d/keep": "", "d/x": ""}, []string{".amlignore"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			writeTree(t, src, tc.files)
			_, info := pack(t, src, DefaultLimits)
			if diff := cmp.Diff(tc.want, info.Files); diff != "" {
				t.Errorf("Files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPackBadSource(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	writeTree(t, filepath.Dir(file), map[string]string{"f": ""})
	for _, dir := range []string{"", file, filepath.Join(t.TempDir(), "missing")} {
		_, err := Pack(dir, io.Discard, DefaultLimits)
		if e, ok := armerror.As(err); !ok || e.Code != CodeSourceDir {
			t.Errorf("Pack(%q) = %v, want %s", dir, err, CodeSourceDir)
		}
	}
}
