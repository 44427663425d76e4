package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vnetml/vnetml/internal/store"
)

const (
	// AdminName is the name of the token the server creates at first start:
	// Owner on "/". It can be rotated, never revoked.
	AdminName = "admin"
	// AdminFile is the file in the data directory that holds the admin
	// token's secret, mode 0600, for scripts and `vnetml login` on the
	// server's machine.
	AdminFile = "admin.token"

	adminDescription = "Created by the server at first start; its secret is in admin.token in the data directory. It can be rotated, not revoked."
	serverName       = "vnetml"
)

// ErrAdminFile means that the admin token exists but the admin token file
// is missing or holds another secret. The deployment works (with the
// other tokens, and the admin secret wherever else it was kept), but the
// database keeps only the secret's hash: the only way to a new admin secret
// is Bootstrap with rotate. A server logs it and carries on.
var ErrAdminFile = errors.New("the admin token file does not hold the admin token")

// Bootstrap makes sure the admin token exists and that its secret is in
// dataDir/admin.token.
//
// If there is no admin token, or rotate is set, it creates one (Owner on
// "/"), replacing the old one (whose secret stops working), writes the
// secret to dataDir/admin.token with mode 0600 and returns it with
// created=true, for the server to print once. Otherwise it returns
// created=false and no secret, after checking that the file holds the
// admin token (an error wrapping ErrAdminFile if it does not) and setting
// its mode to 0600 if it was wider.
//
// The file is replaced atomically, and a crash at any point leaves a token
// file that works: the secret goes to admin.token.new (fsynced) before the
// store commits its hash, and is renamed over admin.token after; the next
// Bootstrap finishes a rename that a crash interrupted.
//
// Bootstrap refuses a data directory that group or others may write to:
// they could replace the token file or the database.
func (a *Authenticator) Bootstrap(ctx context.Context, dataDir string, rotate bool) (secret string, created bool, err error) {
	if err := checkDataDir(dataDir); err != nil {
		return "", false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	path := filepath.Join(dataDir, AdminFile)
	pending := path + ".new"
	s := a.snap.Load()
	if cur := s.byName[AdminName]; cur != nil && !rotate {
		return "", false, settle(dataDir, path, pending, cur.sum)
	}

	secret = newSecret()
	if err := writeSecret(pending, secret); err != nil {
		return "", false, err
	}
	e := &entry{tok: Token{ID: TokenID(AdminName), Name: AdminName, Type: tokenType, Properties: TokenProperties{
		Role: Owner, Scope: "/", Description: adminDescription, CreatedOn: a.now().UTC(), CreatedBy: serverName,
	}}, sum: digest(secret)}
	e.fill()
	if err := a.put(ctx, e, store.Condition{}); err != nil {
		os.Remove(pending)
		return "", false, fmt.Errorf("store the admin token: %w", err)
	}
	a.snap.Store(s.with(e))
	if err := os.Rename(pending, path); err != nil {
		return "", false, fmt.Errorf("install the new admin token: %w; it is in %s, and the next start moves it into place", err, pending)
	}
	syncDir(dataDir)
	return secret, true, nil
}

// settle checks that path holds the admin token whose hash is sum, after
// finishing an interrupted rotation (pending holds the token, path the old
// one), and tightens path's mode.
func settle(dir, path, pending string, sum [sha256.Size]byte) error {
	ok, err := holds(path, sum)
	if err != nil {
		return err
	}
	if ok {
		os.Remove(pending) // a rotation that crashed before its commit
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Perm() != 0o600 && runtime.GOOS != "windows" {
			if err := os.Chmod(path, 0o600); err != nil {
				return fmt.Errorf("restrict %s to its owner: %w", path, err)
			}
		}
		return nil
	}
	if ok, err := holds(pending, sum); err != nil {
		return err
	} else if ok {
		// The store committed a rotation whose rename a crash prevented.
		if err := os.Rename(pending, path); err != nil {
			return fmt.Errorf("install the admin token from %s: %w", pending, err)
		}
		syncDir(dir)
		return nil
	}
	return fmt.Errorf("%w: %s is missing or holds another token, and the database keeps only the admin secret's hash; if the secret is lost, restart asking for a new admin token (rotation)",
		ErrAdminFile, path)
}

// holds reports whether the file at path holds the secret whose hash is
// sum. A missing file holds nothing; a file that is not a regular file
// (a symbolic link, say) is an error.
func holds(path string, sum [sha256.Size]byte) (bool, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the admin token: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("%s is not a regular file (%v); remove it, and restart asking for a new admin token (rotation)", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("read the admin token: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return false, fmt.Errorf("read the admin token: %w", err)
	}
	secret := string(bytes.TrimSpace(b))
	if !wellFormed(secret) {
		return false, nil
	}
	got := digest(secret)
	return subtle.ConstantTimeCompare(got[:], sum[:]) == 1, nil
}

// checkDataDir creates dir (0700) if need be and refuses it if group or
// others may write to it.
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("the data directory %s is not a directory", dir)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("the data directory %s may be written by group or others (mode %#o), who could then replace the admin token file or the database; run chmod go-w %s",
			dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// writeSecret writes secret to a new file at path, mode 0600, and fsyncs
// it.
func writeSecret(path, secret string) (err error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write the admin token: %w", err)
	}
	// O_EXCL: never write through a file or link that someone else made.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write the admin token: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write the admin token: %w", cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if err := f.Chmod(0o600); err != nil { // whatever the umask made of it
		return fmt.Errorf("write the admin token: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		return fmt.Errorf("write the admin token: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write the admin token: %w", err)
	}
	return nil
}

// syncDir fsyncs a directory so that a rename in it survives a crash. Best
// effort: not every system can.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
