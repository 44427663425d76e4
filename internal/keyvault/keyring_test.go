package keyvault

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testHexKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func TestLoadKeyringCreatesFirstKey(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	dir := t.TempDir()
	k, err := LoadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k.Current() != "000001" {
		t.Fatalf("current = %q, want 000001", k.Current())
	}
	fi, err := os.Stat(filepath.Join(dir, "master-keys", "000001.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %#o, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Join(dir, "master-keys"))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %#o, want 0700", di.Mode().Perm())
	}
	// Loading again finds the same key: what it sealed, the new one opens.
	k2, err := LoadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := k.seal("x", []byte("hello"))
	p, err := k2.open("x", "x", s)
	if err != nil || string(p) != "hello" {
		t.Fatalf("reloaded keyring: %q, %v", p, err)
	}
	if diff := cmp.Diff([]string{"000001"}, k2.IDs()); diff != "" {
		t.Error(diff)
	}
}

func TestLoadKeyringFileChecks(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	for _, tc := range []struct {
		name    string
		file    string
		content string
		mode    os.FileMode
		wantErr string // "" for success
	}{
		{"0600", "000001.key", testHexKey, 0o600, ""},
		{"0400", "000001.key", testHexKey + "\n", 0o400, ""},
		{"group readable", "000001.key", testHexKey, 0o640, "chmod 600"},
		{"world readable", "000001.key", testHexKey, 0o644, "chmod 600"},
		{"other writable", "000001.key", testHexKey, 0o602, "chmod 600"},
		{"short key", "000001.key", "abcd", 0o600, "64 hex digits"},
		{"not hex", "000001.key", strings.Repeat("zz", 32), 0o600, "64 hex digits"},
		{"bad id", "a b.key", testHexKey, 0o600, "key id"},
		{"other files ignored", "README", "hi", 0o644, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			kd := filepath.Join(dir, "master-keys")
			os.MkdirAll(kd, 0o700)
			path := filepath.Join(kd, tc.file)
			if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tc.mode) // umask-proof
			_, err := LoadKeyring(dir)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), testHexKey) {
				t.Fatal("the error quotes the key")
			}
		})
	}
}

func TestLoadKeyringEnv(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		t.Setenv(EnvMasterKey, testHexKey)
		dir := t.TempDir()
		k, err := LoadKeyring(dir)
		if err != nil {
			t.Fatal(err)
		}
		if k.Current() != "env" {
			t.Fatalf("current = %q, want env", k.Current())
		}
		if _, err := os.Stat(filepath.Join(dir, "master-keys")); !os.IsNotExist(err) {
			t.Errorf("env keyring created files: %v", err)
		}
		if _, err := k.Rotate(); err == nil {
			t.Error("Rotate of an env key succeeded")
		}
	})
	t.Run("invalid", func(t *testing.T) {
		t.Setenv(EnvMasterKey, "nothex")
		if _, err := LoadKeyring(t.TempDir()); err == nil || !strings.Contains(err.Error(), EnvMasterKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("clashes with env.key", func(t *testing.T) {
		t.Setenv(EnvMasterKey, testHexKey)
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "master-keys"), 0o700)
		os.WriteFile(filepath.Join(dir, "master-keys", "env.key"), []byte(testHexKey), 0o600)
		if _, err := LoadKeyring(dir); err == nil {
			t.Fatal("env key and env.key both loaded")
		}
	})
	t.Run("file keys decrypt", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv(EnvMasterKey, "")
		fk, err := LoadKeyring(dir)
		if err != nil {
			t.Fatal(err)
		}
		s := fk.seal("x", []byte("v"))
		t.Setenv(EnvMasterKey, testHexKey)
		k, err := LoadKeyring(dir)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := k.open("x", "x", s); err != nil || string(p) != "v" {
			t.Fatalf("%q %v", p, err)
		}
		if k.Current() != "env" {
			t.Fatalf("current %q", k.Current())
		}
	})
}

func TestRotate(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	dir := t.TempDir()
	k, err := LoadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := k.seal("x", []byte("v"))
	id, err := k.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if id != "000002" || k.Current() != "000002" {
		t.Fatalf("rotated to %q, current %q", id, k.Current())
	}
	if s := k.seal("x", []byte("v")); s.KeyID != "000002" {
		t.Errorf("new seal under %q", s.KeyID)
	}
	if p, err := k.open("x", "x", old); err != nil || string(p) != "v" {
		t.Errorf("old value after rotate: %q %v", p, err)
	}
	k2, err := LoadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k2.Current() != "000002" {
		t.Errorf("reloaded current %q", k2.Current())
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "master-keys"))
	if len(entries) != 2 {
		t.Errorf("master-keys holds %d entries, want 2 (no temporary files left)", len(entries))
	}
}

func TestSealBindsVersion(t *testing.T) {
	t.Setenv(EnvMasterKey, testHexKey)
	k, err := LoadKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := k.seal("/a/versions/1", []byte("secret"))
	b := k.seal("/a/versions/1", []byte("secret"))
	if string(a.Nonce) == string(b.Nonce) || string(a.Ciphertext) == string(b.Ciphertext) {
		t.Error("two seals of one value share a nonce or ciphertext")
	}
	if len(a.Nonce) != 12 {
		t.Errorf("nonce is %d bytes", len(a.Nonce))
	}
	if _, err := k.open("id", "/a/versions/2", a); InnerOrCode(err) != CodeIntegrity {
		t.Errorf("open under another id: %v", err)
	}
	a.Ciphertext[0] ^= 1
	if _, err := k.open("id", "/a/versions/1", a); InnerOrCode(err) != CodeIntegrity {
		t.Errorf("open of a flipped bit: %v", err)
	}
	a.KeyID = "gone"
	if _, err := k.open("id", "/a/versions/1", a); InnerOrCode(err) != CodeMasterKeyMissing {
		t.Errorf("open under a missing key: %v", err)
	}
}

func TestSealOpenBindsPurposeAndID(t *testing.T) {
	k, err := LoadKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := k.Seal("storage/account-key", "/subscriptions/s/x/A", []byte("k1"))
	if p, err := k.Open("storage/account-key", "/subscriptions/s/x/a", s); err != nil || string(p) != "k1" {
		t.Fatalf("Open = %q, %v; want k1 (ids compare case-insensitively)", p, err)
	}
	if _, err := k.Open("storage/account-key", "/subscriptions/s/x/b", s); err == nil {
		t.Fatal("a value sealed for one id opened for another")
	}
	if _, err := k.Open("registry/password", "/subscriptions/s/x/a", s); err == nil {
		t.Fatal("a value sealed for one purpose opened for another")
	}
}
