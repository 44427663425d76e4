package proxyproto

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Key is a deployment's secret: every header is authenticated with it.
// Every process of one deployment that writes or reads headers holds the
// same Key, usually through LoadOrCreateKey.
//
// A Key never prints: String, every fmt verb and MarshalText (so
// encoding/json and log/slog too) give "proxyproto.Key(…)". The zero Key is
// a valid but guessable key; use NewKey.
type Key [32]byte

// redacted is how a Key shows anywhere it could be logged.
const redacted = "proxyproto.Key(…)"

// NewKey returns a new random key from crypto/rand.
func NewKey() Key {
	var k Key
	rand.Read(k[:]) // never fails: crypto/rand crashes the program rather than return an error
	return k
}

// String returns "proxyproto.Key(…)", never the key.
func (k Key) String() string { return redacted }

// Format makes every fmt verb (%v, %x, %d, %#v, …) print "proxyproto.Key(…)":
// without it %x and %d would print the bytes.
func (k Key) Format(f fmt.State, verb rune) { io.WriteString(f, redacted) }

// MarshalText returns "proxyproto.Key(…)", so that a Key inside a structure
// that is logged or encoded as JSON does not leak. It does not round-trip:
// a key is stored only by LoadOrCreateKey.
func (k Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// keyFileMax bounds how much of a key file is read: 64 hex digits and some
// white space.
const keyFileMax = 4096

// LoadOrCreateKey returns the key held, in hex, in the file at path. When
// the file does not exist it creates it with a new key, mode 0600: written
// to a temporary file in the same directory, fsynced and moved into place
// atomically, so a crash never leaves a partial key file. When several
// processes create the file at once, all of them return the key that ends
// up in the file.
//
// It refuses a file that group or others may read or write (anyone who can
// read the key can forge a virtual source), a file that is not a regular
// file, and a file that does not hold exactly 32 bytes in hex. The
// directory must exist. On Windows, where file modes do not describe
// access, the mode is not checked.
func LoadOrCreateKey(path string) (Key, error) {
	k, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	return createKey(path)
}

func loadKey(path string) (Key, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return Key{}, fmt.Errorf("proxyproto: read the fabric key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Key{}, fmt.Errorf("proxyproto: the fabric key %s is not a regular file (%v); remove it and a new key is created", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("proxyproto: read the fabric key: %w", err)
	}
	defer f.Close()
	// Check the file that was opened, not the name: it may have been
	// replaced since the Lstat.
	ofi, err := f.Stat()
	if err != nil {
		return Key{}, fmt.Errorf("proxyproto: read the fabric key: %w", err)
	}
	if !os.SameFile(fi, ofi) {
		return Key{}, fmt.Errorf("proxyproto: the fabric key %s changed while it was being read; try again", path)
	}
	if perm := ofi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return Key{}, fmt.Errorf("proxyproto: the fabric key %s may be read or written by group or others (mode %#o); "+
			"anyone who reads it can forge the source of a virtual connection: run chmod 600 %s, and replace the key if others could read it",
			path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, keyFileMax))
	if err != nil {
		return Key{}, fmt.Errorf("proxyproto: read the fabric key: %w", err)
	}
	var k Key
	b = bytes.TrimSpace(b)
	if len(b) != hex.EncodedLen(len(k)) {
		return Key{}, fmt.Errorf("proxyproto: the fabric key %s does not hold %d hex digits; remove it and a new key is created", path, hex.EncodedLen(len(k)))
	}
	if _, err := hex.Decode(k[:], b); err != nil {
		return Key{}, fmt.Errorf("proxyproto: the fabric key %s does not hold a key in hex (%v); remove it and a new key is created", path, err)
	}
	return k, nil
}

// createKey writes a new key to path unless a file appears there first, in
// which case it returns that file's key.
func createKey(path string) (Key, error) {
	k := NewKey()
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return Key{}, fmt.Errorf("proxyproto: create the fabric key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a Link, or a failure; a no-op after a Rename
	text := make([]byte, hex.EncodedLen(len(k))+1)
	hex.Encode(text, k[:])
	text[len(text)-1] = '\n'
	_, err = f.Write(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Key{}, fmt.Errorf("proxyproto: create the fabric key: %w", err)
	}
	// Link, unlike Rename, never replaces a file: if another process
	// created the key meanwhile, its key wins and this one is dropped, so
	// every process of the deployment ends with the same key. Rename is
	// the fallback where hard links are not supported.
	switch err := os.Link(tmp, path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return loadKey(path)
	default:
		if err := os.Rename(tmp, path); err != nil {
			return Key{}, fmt.Errorf("proxyproto: create the fabric key: %w", err)
		}
	}
	syncDir(dir)
	return k, nil
}

// syncDir makes a new directory entry durable, as far as the platform
// allows (not at all on Windows, which cannot open a directory to sync it).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
