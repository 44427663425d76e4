package keyvault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// EnvMasterKey names the environment variable that, when set, supplies the
// current master key as 64 hex digits under the key id "env".
const EnvMasterKey = "VNETML_MASTER_KEY"

// envKeyID is the id of the key taken from EnvMasterKey.
const envKeyID = "env"

// keyDirName is the directory under the data directory that holds the key
// files, <id>.key, each 64 hex digits, mode 0600.
const keyDirName = "master-keys"

const keyLen = 32 // AES-256

// Keyring holds the AES-256 master keys by id; one of them is current and
// encrypts every new value, the others only decrypt (see the package doc on
// rotation).
//
// Concurrency: a Keyring is safe for concurrent use. Seal and open read an
// immutable snapshot without locks; Rotate publishes a new snapshot.
type Keyring struct {
	dir string // <data dir>/master-keys; "" for a keyring not backed by files
	env bool   // the current key comes from EnvMasterKey
	mu  sync.Mutex
	set atomic.Pointer[keyset]
}

// keyset is one immutable state of a Keyring.
type keyset struct {
	current string
	aeads   map[string]cipher.AEAD
}

// LoadKeyring loads the master keys under dir/master-keys.
//
// With EnvMasterKey set, its key (id "env") is current and the key files,
// if any, are loaded for decryption only; nothing is created. Otherwise the
// key files are loaded and the one with the greatest numeric id is current;
// when there is none, a first key (000001) is created. Key files must be
// regular files that only their owner can read or write (mode 0600 or
// narrower): a wider mode is refused, as ssh refuses a readable private key.
func LoadKeyring(dir string) (*Keyring, error) {
	k := &Keyring{dir: filepath.Join(dir, keyDirName)}
	aeads, err := readKeyDir(k.dir)
	if err != nil {
		return nil, err
	}
	current := ""
	if hexKey, ok := os.LookupEnv(EnvMasterKey); ok && hexKey != "" {
		a, err := parseKey(hexKey)
		if err != nil {
			return nil, fmt.Errorf("keyvault: %s: %w", EnvMasterKey, err)
		}
		if _, dup := aeads[envKeyID]; dup {
			return nil, fmt.Errorf("keyvault: both %s and %s/%s.key are set; they share the id %q: unset the variable or remove the file", EnvMasterKey, k.dir, envKeyID, envKeyID)
		}
		aeads[envKeyID] = a
		current, k.env = envKeyID, true
	} else {
		current = newestNumeric(aeads)
		if current == "" {
			if err := os.MkdirAll(k.dir, 0o700); err != nil {
				return nil, fmt.Errorf("keyvault: create %s: %w", k.dir, err)
			}
			id, a, err := k.create(1)
			if err != nil {
				return nil, err
			}
			aeads[id], current = a, id
		}
	}
	k.set.Store(&keyset{current: current, aeads: aeads})
	return k, nil
}

// readKeyDir reads every <id>.key in dir; a missing dir is empty.
func readKeyDir(dir string) (map[string]cipher.AEAD, error) {
	aeads := map[string]cipher.AEAD{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return aeads, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keyvault: read %s: %w", dir, err)
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".key")
		if !ok || strings.HasPrefix(e.Name(), ".") {
			continue // temporary files and anything else an operator keeps there
		}
		path := filepath.Join(dir, e.Name())
		if !validKeyID(id) {
			return nil, fmt.Errorf("keyvault: %s: a key id is 1-64 of [0-9A-Za-z_-]; rename or remove the file", path)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return nil, fmt.Errorf("keyvault: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("keyvault: %s is not a regular file; a master key must be a plain file of mode 0600", path)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("keyvault: %s has mode %#o, readable or writable by others; run chmod 600 %s", path, perm, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("keyvault: %w", err)
		}
		a, err := parseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("keyvault: %s: %w", path, err)
		}
		aeads[id] = a
	}
	return aeads, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// parseKey decodes a hex key (surrounding white space allowed) into its
// AEAD. The error never quotes the key.
func parseKey(s string) (cipher.AEAD, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != keyLen {
		return nil, fmt.Errorf("a master key is %d hex digits (%d random bytes); generate one with: openssl rand -hex %d", 2*keyLen, keyLen, keyLen)
	}
	return newAEAD(b)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block) // 12-byte nonce, 16-byte tag
}

// numericID reports the number of a generated key id (000001, 000002, …).
func numericID(id string) (int, bool) {
	if id == "" || strings.TrimLeft(id, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(id)
	return n, err == nil
}

func newestNumeric(aeads map[string]cipher.AEAD) string {
	best, bestN := "", 0
	for id := range aeads {
		if n, ok := numericID(id); ok && n > bestN {
			best, bestN = id, n
		}
	}
	return best
}

// create writes a fresh random key with number n and returns its id. The
// file appears whole or not at all: it is written to a temporary file,
// synced, then linked into place (failing if the id exists).
func (k *Keyring) create(n int) (string, cipher.AEAD, error) {
	id := fmt.Sprintf("%06d", n)
	key := make([]byte, keyLen)
	rand.Read(key) // never fails (crypto/rand since Go 1.24)
	a, err := newAEAD(key)
	if err != nil {
		return "", nil, err
	}
	tmp, err := os.CreateTemp(k.dir, ".new-*.key") // mode 0600
	if err != nil {
		return "", nil, fmt.Errorf("keyvault: create master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	clear(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), filepath.Join(k.dir, id+".key"))
	}
	if err != nil {
		return "", nil, fmt.Errorf("keyvault: create master key %s: %w", id, err)
	}
	if d, err := os.Open(k.dir); err == nil {
		d.Sync() // make the new name durable; best effort where unsupported
		d.Close()
	}
	return id, a, nil
}

// Rotate creates a new master key and makes it current. Old keys stay for
// decryption; Service.Reencrypt then moves every secret to the new key,
// after which the old key files can be removed. A keyring whose current key
// comes from EnvMasterKey cannot rotate: change the variable instead (see
// the package doc).
func (k *Keyring) Rotate() (id string, err error) {
	if k.env || k.dir == "" {
		return "", errors.New("keyvault: the current master key comes from " + EnvMasterKey + ", which cannot rotate in place: save it as master-keys/env.key (mode 0600), unset the variable and restart (a new file key becomes current), then re-encrypt; see docs/keyvault.md")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.set.Load()
	n, _ := numericID(old.current)
	for id := range old.aeads { // never reuse a number, even of a key no longer current
		if m, ok := numericID(id); ok && m > n {
			n = m
		}
	}
	id, a, err := k.create(n + 1)
	if err != nil {
		return "", err
	}
	aeads := make(map[string]cipher.AEAD, len(old.aeads)+1)
	for k, v := range old.aeads {
		aeads[k] = v
	}
	aeads[id] = a
	k.set.Store(&keyset{current: id, aeads: aeads})
	return id, nil
}

// Current returns the id of the key that encrypts new values.
func (k *Keyring) Current() string { return k.set.Load().current }

// IDs returns the ids of every key held, sorted.
func (k *Keyring) IDs() []string {
	s := k.set.Load()
	ids := make([]string, 0, len(s.aeads))
	for id := range s.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
