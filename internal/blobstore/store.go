package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of Config; each is Azure's limit.
const (
	DefaultMaxPutSize   = 5000 << 20 // Put Blob: 5000 MiB
	DefaultMaxBlockSize = 4000 << 20 // Put Block: 4000 MiB
	DefaultMaxBlocks    = 50000      // committed blocks per blob
	DefaultBlockTTL     = 7 * 24 * time.Hour
)

// Config tunes a Store. The zero value uses Azure's limits.
type Config struct {
	MaxPutSize   int64         // largest Put Blob body
	MaxBlockSize int64         // largest Put Block body
	MaxBlocks    int           // most blocks in one Put Block List
	BlockTTL     time.Duration // uncommitted blocks older than this are swept
	// Now is the clock for Last-Modified and block expiry; time.Now if nil.
	Now func() time.Time
}

// Store is the on-disk blob store rooted at one directory. It is safe for
// concurrent use; see the package doc for the one-Store-per-root rule.
type Store struct {
	root string
	tmp  string
	cfg  Config

	// locks serialise the final check-and-rename of writers of one blob
	// (striped by the blob's key), never the streaming before it.
	locks    [64]sync.Mutex
	etagLast atomic.Int64
}

// Directory names inside the root and inside a container.
const (
	tmpDirName    = ".tmp"
	blobsDirName  = "blobs"
	blocksDirName = "blocks"
)

// Open opens (creating if needed) the store rooted at root with the default
// Config, removes temporary files left by a crash and sweeps expired
// uncommitted blocks.
func Open(root string) (*Store, error) { return OpenConfig(root, Config{}) }

// OpenConfig is Open with a Config.
func OpenConfig(root string, cfg Config) (*Store, error) {
	if cfg.MaxPutSize <= 0 {
		cfg.MaxPutSize = DefaultMaxPutSize
	}
	if cfg.MaxBlockSize <= 0 {
		cfg.MaxBlockSize = DefaultMaxBlockSize
	}
	if cfg.MaxBlocks <= 0 {
		cfg.MaxBlocks = DefaultMaxBlocks
	}
	if cfg.BlockTTL <= 0 {
		cfg.BlockTTL = DefaultBlockTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blobstore: root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("blobstore: creating root: %w", err)
	}
	s := &Store{root: abs, tmp: filepath.Join(abs, tmpDirName), cfg: cfg}
	// Everything in .tmp belongs to writes that never finished.
	if err := os.RemoveAll(s.tmp); err != nil {
		return nil, fmt.Errorf("blobstore: removing orphan temporary files: %w", err)
	}
	if err := os.Mkdir(s.tmp, 0o750); err != nil {
		return nil, fmt.Errorf("blobstore: creating temporary directory: %w", err)
	}
	if err := s.SweepBlocks(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Root returns the absolute root directory.
func (s *Store) Root() string { return s.root }

func (s *Store) now() time.Time { return s.cfg.Now().UTC() }

// newETag returns a quoted ETag unique within the store: the clock in
// nanoseconds, bumped past the previous one, in Azure's 0x... form.
func (s *Store) newETag() string {
	for {
		last := s.etagLast.Load()
		n := max(time.Now().UnixNano(), last+1)
		if s.etagLast.CompareAndSwap(last, n) {
			return fmt.Sprintf("\"0x%X\"", n)
		}
	}
}

// blobKey names a blob's file: the hex SHA-256 of its name, so that no
// name, whatever it holds, becomes a path.
func blobKey(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

func (s *Store) lockFor(key string) *sync.Mutex {
	b, _ := hex.DecodeString(key[:2])
	return &s.locks[int(b[0])%len(s.locks)]
}

func (s *Store) containerDir(account, container string) string {
	return filepath.Join(s.root, account, container)
}

func (s *Store) blobPath(account, container, key string) string {
	return filepath.Join(s.root, account, container, blobsDirName, key[:2], key)
}

func (s *Store) stageDir(account, container, key string) string {
	return filepath.Join(s.root, account, container, blocksDirName, key)
}

// checkContainer validates the names and reports ContainerNotFound when the
// container does not exist.
func (s *Store) checkContainer(account, container string) error {
	if err := validAccount(account); err != nil {
		return err
	}
	if err := ValidContainerName(container); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(s.containerDir(account, container), blobsDirName)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return containerNotFound(container)
		}
		return err
	}
	return nil
}

func containerNotFound(container string) error {
	return newErr(CodeContainerNotFound, "container", "the container %q does not exist; create it first", container)
}

func blobNotFound(name string) error {
	return newErr(CodeBlobNotFound, "blob", "the blob %q does not exist", name)
}

// CreateContainer creates a container. The container directory is built in
// the temporary directory and renamed into place, so it appears whole.
func (s *Store) CreateContainer(ctx context.Context, account, container string) error {
	if err := validAccount(account); err != nil {
		return err
	}
	if err := ValidContainerName(container); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.root, account), 0o750); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(s.tmp, "container-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{blobsDirName, blocksDirName} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o750); err != nil {
			return err
		}
	}
	// Renaming onto an existing container fails: its directory is never
	// empty (it holds blobs/ and blocks/).
	if err := os.Rename(tmp, s.containerDir(account, container)); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
			return newErr(CodeContainerAlreadyExists, "container", "the container %q already exists", container)
		}
		return err
	}
	return syncDir(filepath.Join(s.root, account))
}

// DeleteContainer deletes a container and its blobs. The directory is first
// renamed away, so the container disappears at once, then removed.
func (s *Store) DeleteContainer(ctx context.Context, account, container string) error {
	if err := s.checkContainer(account, container); err != nil {
		return err
	}
	trash, err := os.MkdirTemp(s.tmp, "deleted-*")
	if err != nil {
		return err
	}
	dst := filepath.Join(trash, "c")
	if err := os.Rename(s.containerDir(account, container), dst); err != nil {
		os.RemoveAll(trash)
		if errors.Is(err, fs.ErrNotExist) {
			return containerNotFound(container)
		}
		return err
	}
	return os.RemoveAll(trash)
}

// DeleteAccount deletes every container of account and what they hold
// (the account was deleted). The account's directory leaves the tree in
// one rename, so a reader sees all of it or none. An account with no data
// is not an error.
func (s *Store) DeleteAccount(ctx context.Context, account string) error {
	if err := validAccount(account); err != nil {
		return err
	}
	trash, err := os.MkdirTemp(s.tmp, "deleted-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(trash)
	if err := os.Rename(filepath.Join(s.root, account), filepath.Join(trash, "a")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(s.root)
}

// Container is one container in a listing.
type Container struct {
	Name         string
	ETag         string // quoted
	LastModified time.Time
}

// ContainerProperties returns a container's properties.
func (s *Store) ContainerProperties(ctx context.Context, account, container string) (Container, error) {
	if err := s.checkContainer(account, container); err != nil {
		return Container{}, err
	}
	fi, err := os.Stat(s.containerDir(account, container))
	if err != nil {
		return Container{}, err
	}
	return containerOf(container, fi), nil
}

func containerOf(name string, fi fs.FileInfo) Container {
	t := fi.ModTime().UTC()
	return Container{Name: name, ETag: fmt.Sprintf("\"0x%X\"", t.UnixNano()), LastModified: t}
}

// ContainerPage is one page of ListContainers.
type ContainerPage struct {
	Containers []Container
	NextMarker string // empty on the last page
}

// ListContainers lists an account's containers in name order; Prefix,
// Marker and MaxResults of opts apply (Delimiter does not).
func (s *Store) ListContainers(ctx context.Context, account string, opts ListOptions) (ContainerPage, error) {
	if err := validAccount(account); err != nil {
		return ContainerPage{}, err
	}
	max := opts.maxResults()
	ents, err := os.ReadDir(filepath.Join(s.root, account))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ContainerPage{}, err
	}
	var page ContainerPage
	for _, e := range ents { // ReadDir sorts by name
		n := e.Name()
		if !e.IsDir() || ValidContainerName(n) != nil || !strings.HasPrefix(n, opts.Prefix) || n < opts.Marker {
			continue
		}
		if len(page.Containers) == max {
			page.NextMarker = n
			break
		}
		fi, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		page.Containers = append(page.Containers, containerOf(n, fi))
	}
	return page, nil
}

// syncDir fsyncs a directory so a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// sortedNames is sort.Strings on a copy, for deterministic output.
func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out, err
}
