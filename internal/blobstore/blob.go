package blobstore

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Properties are a blob's system properties and user metadata.
type Properties struct {
	Name          string            `json:"name"`
	ETag          string            `json:"etag"` // quoted, changes on every write
	LastModified  time.Time         `json:"lastModified"`
	CreationTime  time.Time         `json:"creationTime"`
	ContentLength int64             `json:"contentLength"`
	ContentType   string            `json:"contentType,omitempty"`
	ContentMD5    []byte            `json:"contentMD5,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

// A blob file is the content followed by a trailer, so that one rename
// publishes both:
//
//	content | committed block list (JSON) | properties (JSON) | footer
//	footer = blocksLen uint32 BE | propsLen uint32 BE | "VNBLOB01"
//
// The trailer sits after the content because the content's length and MD5
// are known only once it has been streamed.
const (
	footerMagic = "VNBLOB01"
	footerSize  = 4 + 4 + len(footerMagic)
	maxTrailer  = 64 << 20 // sanity bound on a trailer section
)

// blockEntry is one committed block: its decoded id and size.
type blockEntry struct {
	ID   []byte `json:"id"`
	Size int64  `json:"size"`
}

func writeTrailer(w io.Writer, p *Properties, blocks []blockEntry) error {
	bj, err := json.Marshal(blocks)
	if err != nil {
		return err
	}
	pj, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var foot [footerSize]byte
	binary.BigEndian.PutUint32(foot[0:], uint32(len(bj)))
	binary.BigEndian.PutUint32(foot[4:], uint32(len(pj)))
	copy(foot[8:], footerMagic)
	for _, b := range [][]byte{bj, pj, foot[:]} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// blobFile is an open blob file with its trailer decoded.
type blobFile struct {
	f          *os.File
	props      Properties
	blocksOff  int64 // start of the block list section (= content length)
	blocksSize int64
}

func (b *blobFile) Close() error { return b.f.Close() }

// openBlobFile opens and decodes a blob file; fs.ErrNotExist passes through.
func openBlobFile(path string) (*blobFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	b, err := decodeBlobFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blobstore: %s: %w", filepath.Base(path), err)
	}
	return b, nil
}

func decodeBlobFile(f *os.File) (*blobFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	var foot [footerSize]byte
	if size < int64(footerSize) {
		return nil, errors.New("corrupt blob file: shorter than its footer")
	}
	if _, err := f.ReadAt(foot[:], size-int64(footerSize)); err != nil {
		return nil, err
	}
	if string(foot[8:]) != footerMagic {
		return nil, errors.New("corrupt blob file: bad footer")
	}
	bl, pl := int64(binary.BigEndian.Uint32(foot[0:])), int64(binary.BigEndian.Uint32(foot[4:]))
	if bl > maxTrailer || pl > maxTrailer || bl+pl+int64(footerSize) > size {
		return nil, errors.New("corrupt blob file: bad trailer lengths")
	}
	pj := make([]byte, pl)
	if _, err := f.ReadAt(pj, size-int64(footerSize)-pl); err != nil {
		return nil, err
	}
	b := &blobFile{f: f, blocksOff: size - int64(footerSize) - pl - bl, blocksSize: bl}
	if err := json.Unmarshal(pj, &b.props); err != nil {
		return nil, fmt.Errorf("corrupt blob file: %w", err)
	}
	if b.props.ContentLength != b.blocksOff {
		return nil, errors.New("corrupt blob file: content length does not match")
	}
	return b, nil
}

func (b *blobFile) blocks() ([]blockEntry, error) {
	buf := make([]byte, b.blocksSize)
	if _, err := b.f.ReadAt(buf, b.blocksOff); err != nil {
		return nil, err
	}
	var out []blockEntry
	if err := json.Unmarshal(buf, &out); err != nil {
		return nil, fmt.Errorf("corrupt blob file: block list: %w", err)
	}
	return out, nil
}

// Conditions are the If-Match and If-None-Match request headers: a
// comma-separated list of quoted ETags, or "*".
type Conditions struct {
	IfMatch     string
	IfNoneMatch string
}

func etagIn(list, etag string) bool {
	if strings.TrimSpace(list) == "*" {
		return true
	}
	for e := range strings.SplitSeq(list, ",") {
		e = strings.TrimPrefix(strings.TrimSpace(e), "W/")
		if strings.Trim(e, `"`) == strings.Trim(etag, `"`) && e != "" {
			return true
		}
	}
	return false
}

// checkWrite evaluates c for a write (put, commit, delete) against the
// current blob, which exists when etag is not "".
func (c Conditions) checkWrite(name, etag string) error {
	exists := etag != ""
	if c.IfMatch != "" && (!exists || !etagIn(c.IfMatch, etag)) {
		return newErr(CodeConditionNotMet, "If-Match", "the blob %q does not match the ETag in If-Match; read it again and retry", name)
	}
	if c.IfNoneMatch != "" && exists && etagIn(c.IfNoneMatch, etag) {
		if strings.TrimSpace(c.IfNoneMatch) == "*" {
			return newErr(CodeBlobAlreadyExists, "If-None-Match", "the blob %q already exists and If-None-Match is *", name)
		}
		return newErr(CodeConditionNotMet, "If-None-Match", "the blob %q matches the ETag in If-None-Match", name)
	}
	return nil
}

// checkRead evaluates c for a read of an existing blob.
func (c Conditions) checkRead(name, etag string) error {
	if c.IfMatch != "" && !etagIn(c.IfMatch, etag) {
		return newErr(CodeConditionNotMet, "If-Match", "the blob %q does not match the ETag in If-Match", name)
	}
	if c.IfNoneMatch != "" && etagIn(c.IfNoneMatch, etag) {
		return errNotModified
	}
	return nil
}

// PutOptions are the optional inputs of PutBlob and PutBlockList.
type PutOptions struct {
	ContentType string
	// ContentMD5, when set, is the MD5 the content must have; otherwise the
	// write fails with Md5Mismatch and nothing becomes visible.
	ContentMD5 []byte
	Metadata   map[string]string
	Conditions Conditions
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// copyHashed streams src into dst and h in 1 MiB chunks, failing with
// errTooLarge past limit bytes and with ctx's error when it is done.
//
// Hashing runs beside the writing: while one chunk is written to dst,
// another goroutine hashes it, and the next is read into a second buffer.
// MD5 and the file writes each cost about as much, so doing them at once
// nearly halves an upload's time on two cores.
func copyHashed(ctx context.Context, dst io.Writer, src io.Reader, limit int64, h hash.Hash) (int64, error) {
	bp0, bp1 := bufPool.Get().(*[]byte), bufPool.Get().(*[]byte)
	bufs := [2][]byte{*bp0, *bp1}
	hashc := make(chan []byte)
	hashed := make(chan struct{}, 1)
	go func() {
		for b := range hashc {
			h.Write(b)
			hashed <- struct{}{}
		}
	}()
	pending := false // a chunk is being hashed
	defer func() {
		if pending {
			<-hashed // h is complete when copyHashed returns
		}
		close(hashc)
		bufPool.Put(bp0)
		bufPool.Put(bp1)
	}()
	var n int64
	for i := 0; ; i = 1 - i {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		buf := bufs[i] // free: the chunk it held two rounds ago is hashed and written
		m, rerr := io.ReadFull(src, buf)
		if m > 0 {
			n += int64(m)
			if n > limit {
				return n, errTooLarge
			}
			if pending {
				<-hashed
			}
			hashc <- buf[:m]
			pending = true
			if _, err := dst.Write(buf[:m]); err != nil {
				return n, err
			}
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return n, nil
		case rerr != nil:
			return n, bodyError{rerr}
		}
	}
}

// bodyError marks a failure to read the client's body (not the disk's).
type bodyError struct{ err error }

func (e bodyError) Error() string { return "reading the request body: " + e.err.Error() }
func (e bodyError) Unwrap() error { return e.err }

func tooLarge(what string, limit int64) error {
	return newErr(CodeRequestBodyTooLarge, "", "the %s exceeds the limit of %d bytes; upload it in blocks (Put Block, Put Block List)", what, limit)
}

// tempFile is a file being written under .tmp; discard removes it unless it
// was committed.
type tempFile struct {
	*os.File
	done bool
}

func (s *Store) createTemp(prefix string) (*tempFile, error) {
	f, err := os.CreateTemp(s.tmp, prefix+"-*")
	if err != nil {
		return nil, err
	}
	return &tempFile{File: f}, nil
}

func (t *tempFile) discard() {
	if !t.done {
		t.File.Close()
		os.Remove(t.Name())
	}
}

// finish fsyncs and closes the file.
func (t *tempFile) finish() error {
	err := t.Sync()
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	return err
}

// currentETag returns the ETag of the blob at path, "" when it does not
// exist.
func currentETag(path string) (string, error) {
	b, err := openBlobFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer b.Close()
	return b.props.ETag, nil
}

// commit publishes the finished temporary file tmp as the blob: under the
// blob's lock it re-checks the conditions and renames. The last writer to
// get here wins; readers see the old file or the new one, never a mix.
func (s *Store) commit(account, container, name, key, tmp string, cond Conditions, after func()) error {
	mu := s.lockFor(key)
	mu.Lock()
	defer mu.Unlock()
	dst := s.blobPath(account, container, key)
	etag, err := currentETag(dst)
	if err != nil {
		return err
	}
	if err := cond.checkWrite(name, etag); err != nil {
		return err
	}
	dir := filepath.Dir(dst)
	// Mkdir, not MkdirAll: a container deleted meanwhile must not come back.
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		if errors.Is(err, fs.ErrNotExist) {
			return containerNotFound(container)
		}
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return containerNotFound(container)
		}
		return err
	}
	if after != nil {
		after()
	}
	return syncDir(dir)
}

// precheck validates names, the container and the write conditions before
// any byte is streamed, so that doomed uploads fail fast.
func (s *Store) precheck(account, container, name string, cond Conditions) (key string, creation time.Time, err error) {
	if err := s.checkContainer(account, container); err != nil {
		return "", time.Time{}, err
	}
	if err := ValidBlobName(name); err != nil {
		return "", time.Time{}, err
	}
	key = blobKey(name)
	b, err := openBlobFile(s.blobPath(account, container, key))
	etag := ""
	switch {
	case err == nil:
		etag, creation = b.props.ETag, b.props.CreationTime
		b.Close()
	case !errors.Is(err, fs.ErrNotExist):
		return "", time.Time{}, err
	}
	return key, creation, cond.checkWrite(name, etag)
}

// PutBlob writes a whole blob from body, streamed: the content goes to a
// temporary file while its MD5 is computed, the file is fsynced and renamed
// over the blob. On any failure (MD5 mismatch, size limit, a broken body, a
// failed condition) nothing becomes visible.
func (s *Store) PutBlob(ctx context.Context, account, container, name string, body io.Reader, o PutOptions) (Properties, error) {
	key, created, err := s.precheck(account, container, name, o.Conditions)
	if err != nil {
		return Properties{}, err
	}
	if err := validMetadata(o.Metadata); err != nil {
		return Properties{}, err
	}
	t, err := s.createTemp("put")
	if err != nil {
		return Properties{}, err
	}
	defer t.discard()
	h := md5.New()
	n, err := copyHashed(ctx, t, body, s.cfg.MaxPutSize, h)
	if errors.Is(err, errTooLarge) {
		return Properties{}, tooLarge("blob", s.cfg.MaxPutSize)
	}
	if err != nil {
		return Properties{}, err
	}
	sum := h.Sum(nil)
	if o.ContentMD5 != nil && string(o.ContentMD5) != string(sum) {
		return Properties{}, md5Mismatch("blob")
	}
	p := s.newProps(name, n, sum, o, created)
	if err := writeTrailer(t, &p, nil); err != nil {
		return Properties{}, err
	}
	if err := t.finish(); err != nil {
		return Properties{}, err
	}
	if err := s.commit(account, container, name, key, t.Name(), o.Conditions, nil); err != nil {
		return Properties{}, err
	}
	t.done = true
	return p, nil
}

func md5Mismatch(what string) error {
	return newErr(CodeMd5Mismatch, "Content-MD5", "the MD5 of the %s does not match the MD5 the request gave; nothing was written, retry the upload", what)
}

func (s *Store) newProps(name string, n int64, sum []byte, o PutOptions, created time.Time) Properties {
	now := s.now()
	if created.IsZero() {
		created = now
	}
	ct := o.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	var md map[string]string
	if len(o.Metadata) > 0 {
		md = make(map[string]string, len(o.Metadata))
		for k, v := range o.Metadata {
			md[strings.ToLower(k)] = v
		}
	}
	return Properties{Name: name, ETag: s.newETag(), LastModified: now, CreationTime: created,
		ContentLength: n, ContentType: ct, ContentMD5: sum, Metadata: md}
}

// Blob is an open blob: a consistent snapshot of one version, readable
// while writers replace it. Close it when done.
type Blob struct {
	Properties
	f *os.File
}

// ReadAt reads the content; it never reads the trailer.
func (b *Blob) ReadAt(p []byte, off int64) (int, error) {
	if off >= b.ContentLength {
		return 0, io.EOF
	}
	if rest := b.ContentLength - off; int64(len(p)) > rest {
		n, err := b.f.ReadAt(p[:rest], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return b.f.ReadAt(p, off)
}

// Range returns a reader of n bytes from off; it moves the file offset, so
// use one Range at a time per Blob (ReadAt is safe concurrently). It is an *io.LimitedReader
// over the *os.File, so that net/http can sendfile(2) it.
func (b *Blob) Range(off, n int64) (io.Reader, error) {
	if off < 0 || n < 0 || off+n > b.ContentLength {
		return nil, fmt.Errorf("blobstore: range %d+%d outside %d bytes", off, n, b.ContentLength)
	}
	if _, err := b.f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return io.LimitReader(b.f, n), nil
}

// Close releases the blob.
func (b *Blob) Close() error { return b.f.Close() }

// OpenBlob opens a blob for reading after checking cond (a failed If-Match
// is ConditionNotMet; a matched If-None-Match is ConditionNotMet too, which
// the handler answers with 304).
func (s *Store) OpenBlob(ctx context.Context, account, container, name string, cond Conditions) (*Blob, error) {
	if err := s.checkContainer(account, container); err != nil {
		return nil, err
	}
	if err := ValidBlobName(name); err != nil {
		return nil, err
	}
	b, err := openBlobFile(s.blobPath(account, container, blobKey(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blobNotFound(name)
	}
	if err != nil {
		return nil, err
	}
	if err := cond.checkRead(name, b.props.ETag); err != nil {
		b.Close()
		return nil, err
	}
	return &Blob{Properties: b.props, f: b.f}, nil
}

// BlobProperties returns a blob's properties.
func (s *Store) BlobProperties(ctx context.Context, account, container, name string) (Properties, error) {
	b, err := s.OpenBlob(ctx, account, container, name, Conditions{})
	if err != nil {
		return Properties{}, err
	}
	defer b.Close()
	return b.Properties, nil
}

// DeleteBlob deletes a blob and its uncommitted blocks.
func (s *Store) DeleteBlob(ctx context.Context, account, container, name string, cond Conditions) error {
	if err := s.checkContainer(account, container); err != nil {
		return err
	}
	if err := ValidBlobName(name); err != nil {
		return err
	}
	key := blobKey(name)
	mu := s.lockFor(key)
	mu.Lock()
	defer mu.Unlock()
	path := s.blobPath(account, container, key)
	etag, err := currentETag(path)
	if err != nil {
		return err
	}
	if etag == "" {
		return blobNotFound(name)
	}
	if err := cond.checkWrite(name, etag); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return blobNotFound(name)
		}
		return err
	}
	s.dropStaged(account, container, key)
	return nil
}
