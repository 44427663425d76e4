//go:build unix

package snapshot

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPackSkipsSpecialFiles(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a": "a", ".amlignore": "ignored.pipe\n"})
	for _, name := range []string{"p.pipe", "ignored.pipe"} {
		if err := syscall.Mkfifo(filepath.Join(src, name), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	// A socket's path must be short: bind in src by a relative name.
	t.Chdir(src)
	l, err := net.Listen("unix", "s.sock")
	if err != nil {
		t.Skipf("unix socket: %v", err)
	}
	defer l.Close()
	if err := os.Symlink("p.pipe", filepath.Join(src, "to-pipe")); err != nil {
		t.Fatal(err)
	}
	_, info := pack(t, src, DefaultLimits)
	want := []Skip{
		{"p.pipe", "a named pipe (only regular files and directories are packed)"},
		{"s.sock", "a socket (only regular files and directories are packed)"},
		{"to-pipe", "a symlink to a named pipe"},
	}
	if diff := cmp.Diff(want, info.Skipped); diff != "" {
		t.Errorf("Skipped (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{".amlignore", "a"}, info.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}
