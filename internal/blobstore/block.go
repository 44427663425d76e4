package blobstore

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// maxBlockIDSize is Azure's limit on a decoded block id.
const maxBlockIDSize = 64

// decodeBlockID decodes a base64 block id; the file it is staged under is
// the hex of the decoded bytes, so ids never become paths either.
func decodeBlockID(id string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(id)
	if err != nil || len(b) == 0 || len(b) > maxBlockIDSize {
		return nil, newErr(CodeInvalidBlockID, "blockid", "the block id %q is not valid; use base64 of at most %d bytes, the same length for every block of a blob", truncate(id, 100), maxBlockIDSize)
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// PutBlock stages one block of a blob, streamed into a temporary file and
// renamed into the blob's staging directory. md5, when set, is the MD5 the
// block must have. Staged blocks become content only through PutBlockList.
func (s *Store) PutBlock(ctx context.Context, account, container, name, blockID string, body io.Reader, md5sum []byte) error {
	if err := s.checkContainer(account, container); err != nil {
		return err
	}
	if err := ValidBlobName(name); err != nil {
		return err
	}
	id, err := decodeBlockID(blockID)
	if err != nil {
		return err
	}
	key := blobKey(name)
	t, err := s.createTemp("block")
	if err != nil {
		return err
	}
	defer t.discard()
	h := md5.New()
	_, err = copyHashed(ctx, t, body, s.cfg.MaxBlockSize, h)
	if errors.Is(err, errTooLarge) {
		return tooLarge("block", s.cfg.MaxBlockSize)
	}
	if err != nil {
		return err
	}
	if md5sum != nil && string(md5sum) != string(h.Sum(nil)) {
		return md5Mismatch("block")
	}
	if err := t.finish(); err != nil {
		return err
	}
	mu := s.lockFor(key)
	mu.Lock()
	defer mu.Unlock()
	dir := s.stageDir(account, container, key)
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		if errors.Is(err, fs.ErrNotExist) {
			return containerNotFound(container)
		}
		return err
	}
	if err := os.Rename(t.Name(), filepath.Join(dir, hex.EncodeToString(id))); err != nil {
		return err
	}
	t.done = true
	return nil
}

// BlockSource says where Put Block List finds a block.
type BlockSource uint8

const (
	// Latest is the uncommitted block if there is one, else the committed.
	Latest BlockSource = iota
	Committed
	Uncommitted
)

// BlockRef is one entry of a block list: a base64 block id and its source.
type BlockRef struct {
	ID     string
	Source BlockSource
}

// blockSrc is where the bytes of one listed block come from.
type blockSrc struct {
	r    io.ReaderAt
	off  int64
	size int64
	id   []byte
}

// PutBlockList commits the listed blocks, in order, as the blob's content:
// they are copied into a temporary file (MD5 computed on the way, checked
// against o.ContentMD5 when set), fsynced and renamed over the blob in one
// step; the blob's other uncommitted blocks are then discarded, as Azure
// does.
func (s *Store) PutBlockList(ctx context.Context, account, container, name string, refs []BlockRef, o PutOptions) (Properties, error) {
	key, created, err := s.precheck(account, container, name, o.Conditions)
	if err != nil {
		return Properties{}, err
	}
	if err := validMetadata(o.Metadata); err != nil {
		return Properties{}, err
	}
	if len(refs) > s.cfg.MaxBlocks {
		return Properties{}, newErr(CodeInvalidBlockList, "BlockList", "the block list has %d blocks; the limit is %d", len(refs), s.cfg.MaxBlocks)
	}
	// The committed blocks of the current version, by hex id.
	committed := map[string]blockSrc{}
	if old, err := openBlobFile(s.blobPath(account, container, key)); err == nil {
		defer old.Close()
		bl, err := old.blocks()
		if err != nil {
			return Properties{}, err
		}
		var off int64
		for _, e := range bl {
			committed[hex.EncodeToString(e.ID)] = blockSrc{r: old.f, off: off, size: e.Size, id: e.ID}
			off += e.Size
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Properties{}, err
	}
	stage := s.stageDir(account, container, key)
	opened := map[string]blockSrc{}
	defer func() {
		for _, b := range opened {
			b.r.(*os.File).Close()
		}
	}()
	srcs := make([]blockSrc, 0, len(refs))
	for i, ref := range refs {
		id, err := decodeBlockID(ref.ID)
		if err != nil {
			return Properties{}, newErr(CodeInvalidBlockList, "BlockList", "block %d: %s", i, err.Error())
		}
		hx := hex.EncodeToString(id)
		var src blockSrc
		found := false
		if ref.Source != Committed {
			if b, ok := opened[hx]; ok {
				src, found = b, true
			} else if f, err := os.Open(filepath.Join(stage, hx)); err == nil {
				fi, err := f.Stat()
				if err != nil {
					f.Close()
					return Properties{}, err
				}
				src = blockSrc{r: f, size: fi.Size(), id: id}
				opened[hx], found = src, true
			} else if !errors.Is(err, fs.ErrNotExist) {
				return Properties{}, err
			}
		}
		if !found && ref.Source != Uncommitted {
			src, found = committed[hx]
		}
		if !found {
			return Properties{}, newErr(CodeInvalidBlockList, "BlockList", "block %d (id %q) is not staged or committed; Put Block it first", i, truncate(ref.ID, 100))
		}
		srcs = append(srcs, src)
	}
	t, err := s.createTemp("commit")
	if err != nil {
		return Properties{}, err
	}
	defer t.discard()
	h := md5.New()
	var n int64
	entries := make([]blockEntry, len(srcs))
	for i, src := range srcs {
		m, err := copyHashed(ctx, t, io.NewSectionReader(src.r, src.off, src.size), src.size, h)
		if err != nil {
			return Properties{}, err
		}
		if m != src.size {
			return Properties{}, errors.New("blobstore: a block shrank while being committed")
		}
		n += m
		entries[i] = blockEntry{ID: src.id, Size: src.size}
	}
	sum := h.Sum(nil)
	if o.ContentMD5 != nil && string(o.ContentMD5) != string(sum) {
		return Properties{}, newErr(CodeMd5Mismatch, "x-ms-blob-content-md5", "the MD5 of the committed blocks does not match x-ms-blob-content-md5; nothing was committed")
	}
	p := s.newProps(name, n, sum, o, created)
	if err := writeTrailer(t, &p, entries); err != nil {
		return Properties{}, err
	}
	if err := t.finish(); err != nil {
		return Properties{}, err
	}
	err = s.commit(account, container, name, key, t.Name(), o.Conditions, func() {
		s.dropStaged(account, container, key)
	})
	if err != nil {
		return Properties{}, err
	}
	t.done = true
	return p, nil
}

// dropStaged removes a blob's staging directory: renamed away first, so a
// half-removed directory is never seen. Callers hold the blob's lock.
func (s *Store) dropStaged(account, container, key string) {
	dir := s.stageDir(account, container, key)
	trash, err := os.MkdirTemp(s.tmp, "staged-*")
	if err != nil {
		return
	}
	os.Rename(dir, filepath.Join(trash, "b")) // absent is fine
	os.RemoveAll(trash)
}

// Block is one block in a block list.
type Block struct {
	ID   string // base64
	Size int64
}

// BlockList is the answer of GetBlockList.
type BlockList struct {
	Committed   []Block
	Uncommitted []Block // sorted by id
	// Properties of the committed blob; zero when only staged blocks exist.
	ETag          string
	ContentLength int64
}

// GetBlockList returns the committed and/or uncommitted blocks of a blob.
// It is BlobNotFound only when the blob has neither.
func (s *Store) GetBlockList(ctx context.Context, account, container, name string, committed, uncommitted bool) (BlockList, error) {
	if err := s.checkContainer(account, container); err != nil {
		return BlockList{}, err
	}
	if err := ValidBlobName(name); err != nil {
		return BlockList{}, err
	}
	key := blobKey(name)
	var out BlockList
	exists := false
	b, err := openBlobFile(s.blobPath(account, container, key))
	switch {
	case err == nil:
		exists = true
		out.ETag, out.ContentLength = b.props.ETag, b.props.ContentLength
		bl, err := b.blocks()
		b.Close()
		if err != nil {
			return BlockList{}, err
		}
		if committed {
			out.Committed = make([]Block, 0, len(bl))
			for _, e := range bl {
				out.Committed = append(out.Committed, Block{ID: base64.StdEncoding.EncodeToString(e.ID), Size: e.Size})
			}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return BlockList{}, err
	}
	ents, err := os.ReadDir(s.stageDir(account, container, key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return BlockList{}, err
	}
	if len(ents) > 0 {
		exists = true
	}
	if uncommitted {
		for _, e := range ents {
			id, err := hex.DecodeString(e.Name())
			fi, ierr := e.Info()
			if err != nil || ierr != nil {
				continue
			}
			out.Uncommitted = append(out.Uncommitted, Block{ID: base64.StdEncoding.EncodeToString(id), Size: fi.Size()})
		}
		sort.Slice(out.Uncommitted, func(i, j int) bool { return out.Uncommitted[i].ID < out.Uncommitted[j].ID })
	}
	if !exists {
		return BlockList{}, blobNotFound(name)
	}
	return out, nil
}

// SweepBlocks discards the uncommitted blocks of every blob whose staging
// directory has not changed for Config.BlockTTL (Azure: a week). Open calls
// it; a long-running server calls it periodically.
func (s *Store) SweepBlocks(ctx context.Context) error {
	cutoff := s.now().Add(-s.cfg.BlockTTL)
	accounts, err := os.ReadDir(s.root)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		if !a.IsDir() || validAccount(a.Name()) != nil {
			continue
		}
		containers, _ := os.ReadDir(filepath.Join(s.root, a.Name()))
		for _, c := range containers {
			if !c.IsDir() || ValidContainerName(c.Name()) != nil {
				continue
			}
			blobs, _ := os.ReadDir(filepath.Join(s.root, a.Name(), c.Name(), blocksDirName))
			for _, b := range blobs {
				if err := ctx.Err(); err != nil {
					return err
				}
				if len(b.Name()) != 64 {
					continue
				}
				s.sweepOne(a.Name(), c.Name(), b.Name(), cutoff)
			}
		}
	}
	return nil
}

func (s *Store) sweepOne(account, container, key string, cutoff time.Time) {
	mu := s.lockFor(key)
	mu.Lock()
	defer mu.Unlock()
	fi, err := os.Stat(s.stageDir(account, container, key))
	if err != nil || fi.ModTime().After(cutoff) {
		return
	}
	s.dropStaged(account, container, key)
}
