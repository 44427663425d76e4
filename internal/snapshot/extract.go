package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// maxName bounds an entry's path (Linux's PATH_MAX).
const maxName = 4096

// maxTrailer bounds what may follow the tar's end-of-archive marker
// inside the gzip stream (tar's record padding is at most 10 KiB).
const maxTrailer = 1 << 20

// Extract unpacks a gzip-compressed tar (as Pack writes it, or any other)
// into dir, creating dir if needed. It is meant for a fresh dir: it never
// replaces a file.
//
// Only regular files and directories are unpacked, with mode 0755 (for
// directories and files with an executable bit) or 0644. Extract refuses,
// with an *armerror.Error naming the entry: absolute paths and any ".."
// element, symlinks, hard links, devices and every other kind of entry,
// an entry that appears twice, more than lim.MaxFiles files or more than
// lim.MaxBytes of content (counting the bytes written, not what headers
// claim), too many directories, and compressed input past a bound derived
// from lim. Every write goes through an os.Root on dir, so nothing is
// written outside it. On error dir may hold part of the archive: remove
// it.
func Extract(r io.Reader, dir string, lim Limits) error {
	lim = lim.norm()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()

	br := &boundedReader{r: r, left: lim.maxCompressed()}
	x := &extractor{root: root, lim: lim, seen: map[string]bool{}, dirs: map[string]bool{}}
	err = x.run(br)
	if br.exceeded {
		return armerror.New(CodeTooLarge, "",
			"the compressed snapshot is larger than %d bytes, more than a snapshot within the limits (%s MB, %d files) can be",
			lim.maxCompressed(), mb(lim.MaxBytes), lim.MaxFiles)
	}
	return err
}

type extractor struct {
	root    *os.Root
	lim     Limits
	seen    map[string]bool // the entries, to refuse duplicates
	dirs    map[string]bool // every directory, named or implied
	files   int
	written int64
}

func (x *extractor) run(r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return badArchive("not a gzip stream: %v", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return badArchive("reading the tar: %v", err)
		}
		if err := x.entry(tr, hdr); err != nil {
			return err
		}
	}
	// Read to the gzip stream's end so that its checksum is verified.
	n, err := io.CopyN(io.Discard, zr, maxTrailer+1)
	switch {
	case err == io.EOF:
		return nil
	case err != nil:
		return badArchive("after the tar: %v", err)
	case n > maxTrailer:
		return badArchive("more than %d bytes follow the tar's end", maxTrailer)
	}
	return nil
}

func badArchive(format string, args ...any) error {
	return armerror.New(CodeBadArchive, "", "the snapshot is not a valid gzip-compressed tar: "+format, args...)
}

func unsafeEntry(name, format string, args ...any) error {
	return armerror.New(CodeUnsafeEntry, name, "snapshot entry %q: %s; a snapshot holds regular files and directories under its root only",
		name, fmt.Sprintf(format, args...))
}

func (x *extractor) entry(tr *tar.Reader, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // metadata (git archive writes one), no file
	}
	name, err := entryName(hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if name == "." {
			return nil
		}
		if err := x.claim(name); err != nil {
			return err
		}
		if err := x.countDirs(name); err != nil {
			return err
		}
		if err := x.root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		return x.root.Chmod(name, 0o755)
	case tar.TypeReg:
		if name == "." {
			return unsafeEntry(hdr.Name, "a file cannot be the root")
		}
		if err := x.claim(name); err != nil {
			return err
		}
		if x.files++; x.files > x.lim.MaxFiles {
			return armerror.New(CodeTooManyFiles, "", "the snapshot exceeds the limit of %d files", x.lim.MaxFiles)
		}
		if err := x.countDirs(path.Dir(name)); err != nil {
			return err
		}
		return x.file(tr, name, hdr.Mode)
	case tar.TypeSymlink:
		return unsafeEntry(hdr.Name, "a symlink (to %q)", hdr.Linkname)
	case tar.TypeLink:
		return unsafeEntry(hdr.Name, "a hard link (to %q)", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return unsafeEntry(hdr.Name, "a device")
	case tar.TypeFifo:
		return unsafeEntry(hdr.Name, "a named pipe")
	}
	return unsafeEntry(hdr.Name, "an entry of type %q", string(rune(hdr.Typeflag)))
}

// countDirs records dir and its parents, refusing more directories than
// the limits allow: a few deep paths must not create millions.
func (x *extractor) countDirs(dir string) error {
	for ; dir != "." && dir != "/" && !x.dirs[dir]; dir = path.Dir(dir) {
		x.dirs[dir] = true
		if len(x.dirs) > x.lim.maxDirs() {
			return armerror.New(CodeTooManyDirs, "", "the snapshot has more than %d directories", x.lim.maxDirs())
		}
	}
	return nil
}

// claim records name, refusing it the second time.
func (x *extractor) claim(name string) error {
	if x.seen[name] {
		return unsafeEntry(name, "it appears twice")
	}
	x.seen[name] = true
	return nil
}

func (x *extractor) file(tr *tar.Reader, name string, mode int64) error {
	if d := path.Dir(name); d != "." {
		if err := x.root.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	perm := os.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	// The tar reader stops at the header's size; the limit reader stops
	// at one byte past what is left of the budget, so the bytes counted
	// are the bytes written.
	n, err := io.Copy(f, io.LimitReader(tr, x.lim.MaxBytes-x.written+1))
	x.written += n
	if err == nil {
		err = f.Chmod(perm) // the umask may have narrowed it
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if x.written > x.lim.MaxBytes {
		return armerror.New(CodeTooLarge, "", "the snapshot's content exceeds the limit of %s MB", mb(x.lim.MaxBytes))
	}
	if err != nil {
		return badArchive("%s: %v", name, err)
	}
	return nil
}

// entryName checks a tar entry's name and returns it cleaned ("." for
// the root itself).
func entryName(raw string) (string, error) {
	switch {
	case raw == "":
		return "", unsafeEntry(raw, "an empty name")
	case len(raw) > maxName:
		return "", unsafeEntry(raw[:64]+"...", "a name longer than %d bytes", maxName)
	case strings.IndexByte(raw, 0) >= 0:
		return "", unsafeEntry(raw, "a NUL byte in the name")
	case strings.HasPrefix(raw, "/"):
		return "", unsafeEntry(raw, "an absolute path")
	case runtime.GOOS == "windows" && strings.ContainsAny(raw, `\:`):
		return "", unsafeEntry(raw, "a '\\' or ':' in the name")
	}
	for _, el := range strings.Split(raw, "/") {
		if el == ".." {
			return "", unsafeEntry(raw, "a \"..\" element")
		}
	}
	return path.Clean(raw), nil
}

// boundedReader reads at most left bytes, then fails.
type boundedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

var errInputTooLarge = errors.New("snapshot input too large")

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Whether more follows decides: a stream of exactly the bound
		// is fine.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			b.exceeded = true
			return 0, errInputTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
