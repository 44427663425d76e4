package proxyproto

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestNewKey(t *testing.T) {
	a, b := NewKey(), NewKey()
	if a == b || a == (Key{}) {
		t.Fatalf("NewKey twice gave %x and %x", a[:], b[:])
	}
}

// TestKeyNeverPrints formats a key every way a log line could.
func TestKeyNeverPrints(t *testing.T) {
	k := NewKey()
	secret := hex.EncodeToString(k[:])
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("text", "key", k, "in", struct{ K Key }{k})
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("json", "key", k, "in", struct{ K Key }{k})
	j, err := json.Marshal(struct{ K Key }{k})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		k.String(),
		fmt.Sprint(k), fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d|%08b", k, k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v", struct{ K Key }{k}, struct{ K Key }{k}, struct{ K Key }{k}),
		fmt.Sprintf("%v", &k),
		string(j),
		logged.String(),
	} {
		if strings.Contains(strings.ToLower(s), secret[:8]) || strings.Contains(s, fmt.Sprint(k[0], " ", k[1], " ", k[2])) {
			t.Errorf("the key leaks: %s", s)
		}
		if !strings.Contains(s, "proxyproto.Key(…)") {
			t.Errorf("%q does not say proxyproto.Key(…)", s)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fabric.key")
	k, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if k == (Key{}) {
		t.Fatal("created the zero key")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %#o, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(k[:]) + "\n"; string(b) != want {
		t.Errorf("key file holds %q, want %q", b, want)
	}
	again, err := LoadOrCreateKey(path)
	if err != nil || again != k {
		t.Fatalf("loading the key again: %v, same key %v", err, again == k)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want the key file only: %v", len(entries), entries)
	}
}

// TestLoadOrCreateKeyRace starts many creators of one key file at once:
// every one returns the key that ends up in the file.
func TestLoadOrCreateKeyRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fabric.key")
	keys := make([]Key, 16)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKey(path) })
	}
	wg.Wait()
	final, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if errs[i] != nil || keys[i] != final {
			t.Errorf("creator %d: %v, same key as the file %v", i, errs[i], keys[i] == final)
		}
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	good := strings.Repeat("ab", 32) + "\n"
	for _, tc := range []struct {
		name    string
		setup   func(path string) error
		unix    bool   // file modes mean nothing on Windows
		mention string // the error says so
	}{
		{"0644", writeFile(good, 0o644), true, "chmod 600"},
		{"0640 (group may read)", writeFile(good, 0o640), true, "chmod 600"},
		{"0604 (others may read)", writeFile(good, 0o604), true, "chmod 600"},
		{"0620 (group may write)", writeFile(good, 0o620), true, "chmod 600"},
		{"empty", writeFile("", 0o600), false, "hex digits"},
		{"short", writeFile(good[:62], 0o600), false, "hex digits"},
		{"long", writeFile(good[:64]+"ab", 0o600), false, "hex digits"},
		{"not hex", writeFile(strings.Repeat("zz", 32), 0o600), false, "hex"},
		{"a directory", func(path string) error { return os.Mkdir(path, 0o700) }, false, "not a regular file"},
		{"a symbolic link", func(path string) error {
			if err := writeFile(good, 0o600)(path + ".target"); err != nil {
				return err
			}
			return os.Symlink(path+".target", path)
		}, true, "not a regular file"},
		{"no directory", func(path string) error { return os.Remove(filepath.Dir(path)) }, false, "fabric key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unix && runtime.GOOS == "windows" {
				t.Skip("file modes and symbolic links are not checked on Windows")
			}
			path := filepath.Join(t.TempDir(), "fabric.key")
			if err := tc.setup(path); err != nil {
				t.Fatal(err)
			}
			k, err := LoadOrCreateKey(path)
			if err == nil {
				t.Fatalf("LoadOrCreateKey = %x, nil; want an error", k[:])
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
			if k != (Key{}) {
				t.Errorf("a key returned with the error")
			}
		})
	}
}

// writeFile returns a setup that writes s to a file with mode perm,
// whatever the umask.
func writeFile(s string, perm os.FileMode) func(path string) error {
	return func(path string) error {
		if err := os.WriteFile(path, []byte(s), perm); err != nil {
			return err
		}
		return os.Chmod(path, perm)
	}
}
