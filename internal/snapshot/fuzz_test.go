package snapshot

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParseIgnore(f *testing.F) {
	for _, s := range []string{
		"*.o\n!keep.o\n/build/\ndocs/**/*.md\n",
		"\\#x\n\\!y\nfoo\\ \nbar   \n\r\n#c\n",
		"[[:alpha:]]\n[!a-c]\n[]x]\n[a\n[[:bogus:]]\n**/x/**\na/**/b\nx/a**\n",
		"\xef\xbb\xbf\\\n!\n/\n//\n\x00a\n",
	} {
		f.Add([]byte(s), "a/b/c.o", false)
	}
	f.Fuzz(func(t *testing.T, data []byte, path string, isDir bool) {
		ig, err := ParseIgnore(data)
		if err != nil {
			return
		}
		got := ig.Match(path, isDir)
		if got != ig.Match(path, isDir) {
			t.Fatal("Match is not deterministic")
		}
		// A trailing slash says "directory".
		if ig.Match(strings.TrimRight(path, "/")+"/", false) != ig.Match(strings.TrimRight(path, "/"), true) {
			t.Fatalf("%q: a trailing slash and isDir disagree", path)
		}
		// Nothing under an ignored directory can be re-included.
		if i := strings.LastIndexByte(path, '/'); i > 0 && !strings.HasSuffix(path, "/") &&
			ig.Match(path[:i], true) && !got {
			t.Fatalf("%q: parent %q is ignored but the path is not", path, path[:i])
		}
	})
}

func FuzzExtract(f *testing.F) {
	src := f.TempDir()
	writeTree(f, src, map[string]string{"a.py": "print(1)", "d/run.sh": "#!/bin/sh", "e/": ""})
	packed, _ := pack(f, src, DefaultLimits)
	f.Add(packed)
	for _, ents := range [][]ent{
		{file("../escape", "x")},
		{file("/abs", "x")},
		{ent{tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: ".."}, ""}, file("l/x", "x")},
		{dir("d"), file("d/x", "1"), file("d/x", "2")},
		{file("a/b/c/d", strings.Repeat("z", 100))},
	} {
		f.Add(tarGz(f, nil, ents...))
	}
	lim := Limits{MaxFiles: 20, MaxBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		_ = Extract(bytes.NewReader(data), filepath.Join(parent, "out"), lim)
		assertContained(t, parent)
	})
}
