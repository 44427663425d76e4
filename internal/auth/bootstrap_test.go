package auth_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/auth"
)

var adminPrincipal = auth.Principal{TokenID: "admin", Role: auth.Owner, Scope: "/"}

// fileSecret returns the admin token file's contents, checking its mode.
func fileSecret(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, auth.AdminFile)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode() != 0o600 {
		t.Errorf("%s has mode %v, want -rw-------", path, fi.Mode())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// authenticatesAs checks that secret authenticates as want.
func (e *env) authenticatesAs(t *testing.T, secret string, want auth.Principal) {
	t.Helper()
	p, err := e.a.Authenticate(ctx(t), bearer(secret))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
}

func (e *env) bootstrap(t *testing.T, rotate bool) (string, bool) {
	t.Helper()
	secret, created, err := e.a.Bootstrap(ctx(t), e.dir, rotate)
	if err != nil {
		t.Fatalf("Bootstrap(rotate=%v): %v", rotate, err)
	}
	if created {
		e.secrets = append(e.secrets, secret)
	}
	return secret, created
}

// noSecretOnDisk fails if a file of the data directory other than the
// admin token file holds a secret: the database, its WAL, anything.
func (e *env) noSecretOnDisk(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		if de.Name() == auth.AdminFile || de.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(e.dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range e.secrets {
			if bytes.Contains(b, []byte(s[len(auth.TokenPrefix):])) {
				t.Errorf("%s holds a token secret", de.Name())
			}
		}
	}
}

func TestBootstrap(t *testing.T) {
	e := newEnv(t) // bootstraps once
	first := e.secrets[0]
	if got := fileSecret(t, e.dir); got != first {
		t.Fatalf("%s holds %q, Bootstrap returned %q", auth.AdminFile, got, first)
	}
	e.authenticatesAs(t, first, adminPrincipal)
	tok, err := e.a.Get(ctx(t), adminPrincipal, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(auth.TokenProperties{Role: auth.Owner, Scope: "/", Description: tok.Properties.Description, CreatedOn: t0, CreatedBy: "vnetml"}, tok.Properties); diff != "" {
		t.Errorf("admin token (-want +got):\n%s", diff)
	}

	// The second start creates nothing, and says nothing.
	if secret, created := e.bootstrap(t, false); created || secret != "" {
		t.Fatalf("second Bootstrap = %q, %v; want nothing created", secret, created)
	}
	e.authenticatesAs(t, first, adminPrincipal)

	// A file whose mode was widened is restricted again.
	path := filepath.Join(e.dir, auth.AdminFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	e.bootstrap(t, false)
	fileSecret(t, e.dir)

	// After a restart: the same.
	e.open(t)
	if _, created := e.bootstrap(t, false); created {
		t.Fatal("Bootstrap after reopening created a token")
	}
	e.authenticatesAs(t, fileSecret(t, e.dir), adminPrincipal)

	// Rotation replaces the secret; the old one stops working at once and
	// after a restart.
	e.clock.advance(1e9)
	second, created := e.bootstrap(t, true)
	if !created || second == first || !strings.HasPrefix(second, auth.TokenPrefix) {
		t.Fatalf("rotating Bootstrap = %q, %v; want a new secret", second, created)
	}
	if got := fileSecret(t, e.dir); got != second {
		t.Errorf("%s holds %q after rotation, want %q", auth.AdminFile, got, second)
	}
	e.authenticatesAs(t, second, adminPrincipal)
	if _, err := e.a.Authenticate(ctx(t), bearer(first)); err == nil {
		t.Error("the old admin secret authenticates after rotation")
	}
	e.open(t)
	e.authenticatesAs(t, second, adminPrincipal)
	if _, err := e.a.Authenticate(ctx(t), bearer(first)); err == nil {
		t.Error("the old admin secret authenticates after rotation and a restart")
	}
	if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.new is left behind: %v", path, err)
	}

	e.create(t, adminPrincipal, "other", auth.Reader, rg1)
	e.noSecretStored(t)
	e.noSecretOnDisk(t)
}

func TestBootstrapLostFile(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(e.dir, auth.AdminFile)
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T)
	}{
		{"missing", func(t *testing.T) { os.Remove(path) }},
		{"another token", func(t *testing.T) {
			os.WriteFile(path, []byte(auth.TokenPrefix+strings.Repeat("x", 43)+"\n"), 0o600)
		}},
		{"garbage", func(t *testing.T) { os.WriteFile(path, []byte("hello"), 0o600) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup(t)
			secret, created, err := e.a.Bootstrap(ctx(t), e.dir, false)
			if !errors.Is(err, auth.ErrAdminFile) || created || secret != "" {
				t.Fatalf("Bootstrap = %q, %v, %v; want ErrAdminFile", secret, created, err)
			}
			// The way out: rotation.
			secret, _ = e.bootstrap(t, true)
			e.authenticatesAs(t, fileSecret(t, e.dir), adminPrincipal)
			if fileSecret(t, e.dir) != secret {
				t.Error("the file does not hold the rotated secret")
			}
		})
	}
}

func TestBootstrapRefusesSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	e := newEnv(t)
	path := filepath.Join(e.dir, auth.AdminFile)
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Rename(path, target); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.a.Bootstrap(ctx(t), e.dir, false); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Bootstrap over a symbolic link = %v, want a refusal", err)
	}
}

// TestBootstrapFinishesRotation stages what a crash leaves between the
// store's commit of a rotation and the rename of admin.token.new: the old
// secret in admin.token, the new one (the stored one) in admin.token.new.
func TestBootstrapFinishesRotation(t *testing.T) {
	e := newEnv(t)
	first := e.secrets[0]
	path := filepath.Join(e.dir, auth.AdminFile)
	second, _ := e.bootstrap(t, true)
	if err := os.Rename(path, path+".new"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.open(t)
	if _, created := e.bootstrap(t, false); created {
		t.Fatal("Bootstrap created a token")
	}
	if got := fileSecret(t, e.dir); got != second {
		t.Errorf("%s holds %q, want the rotated secret %q", auth.AdminFile, got, second)
	}
	if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.new is left behind: %v", path, err)
	}

	// A crash before the commit leaves a stale admin.token.new, which goes.
	if err := os.WriteFile(path+".new", []byte(auth.TokenPrefix+strings.Repeat("z", 43)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.bootstrap(t, false)
	if got := fileSecret(t, e.dir); got != second {
		t.Errorf("%s holds %q, want %q", auth.AdminFile, got, second)
	}
	if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale %s.new is left behind: %v", path, err)
	}
}

func TestBootstrapRefusesWritableDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes on Windows")
	}
	e := newEnv(t)
	for _, mode := range []os.FileMode{0o770, 0o707, 0o777} {
		if err := os.Chmod(e.dir, mode); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.a.Bootstrap(ctx(t), e.dir, false); err == nil || !strings.Contains(err.Error(), "chmod go-w") {
			t.Errorf("Bootstrap in a directory of mode %v = %v, want a refusal", mode, err)
		}
	}
	if err := os.Chmod(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.bootstrap(t, false)
}

func TestBootstrapCreatesDataDir(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(t.TempDir(), "sub", "data")
	secret, created, err := e.a.Bootstrap(ctx(t), dir, true)
	if err != nil || !created {
		t.Fatalf("Bootstrap = %v, %v", created, err)
	}
	if got := fileSecret(t, dir); got != secret {
		t.Errorf("file holds %q, want %q", got, secret)
	}
}
