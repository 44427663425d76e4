package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Info describes a packed snapshot.
type Info struct {
	// SHA256 is the hex SHA-256 of the compressed bytes: the snapshot's id.
	SHA256 string
	// Size is the compressed size in bytes.
	Size int64
	// Files are the regular files packed, relative and '/'-separated,
	// sorted.
	Files []string
	// Bytes is the files' content, uncompressed.
	Bytes int64
	// Skipped are the entries left out for what they are (not for the
	// ignore file), sorted by path.
	Skipped []Skip
}

// Skip is an entry Pack left out, and why.
type Skip struct {
	Path string // relative, '/'-separated
	Why  string
}

// Ignore files Pack reads at the root of the source directory: the first
// that exists is used.
var ignoreFiles = []string{".amlignore", ".gitignore"}

// epoch is every entry's mtime: the tar says nothing of when files were
// touched, so the same content packs to the same bytes.
var epoch = time.Unix(0, 0)

// Pack writes dir as a gzip-compressed tar to w and describes what it
// wrote. The bytes depend only on the tree's content: entries in sorted
// path order with '/' separators, directories before what they hold, mode
// 0755 for directories and executable files and 0644 for other files,
// zero mtime, uid and gid, no user or group names, and a gzip header with
// no name or time at the default compression level.
//
// Regular files and directories are packed; a symlink to a regular file
// inside dir is packed as a file with that content. Other symlinks,
// sockets, pipes and devices are left out and listed in Info.Skipped.
// Paths that the root ignore file (.amlignore, else .gitignore) ignores
// are left out silently; the ignore file itself is packed unless it
// ignores itself.
//
// Pack fails with a CodeTooManyFiles or CodeTooLarge *armerror.Error,
// worded as the SDK v1's and with a hint, when the tree exceeds lim;
// nothing useful has then been written to w.
func Pack(dir string, w io.Writer, lim Limits) (Info, error) {
	lim = lim.norm()
	root, err := sourceRoot(dir)
	if err != nil {
		return Info{}, err
	}
	ig, err := loadIgnore(root)
	if err != nil {
		return Info{}, err
	}
	s := &scanner{root: root, display: dir, ig: ig, lim: lim}
	if err := s.walk(""); err != nil {
		return Info{}, err
	}
	slices.SortFunc(s.entries, func(a, b entry) int { return strings.Compare(a.rel, b.rel) })
	slices.SortFunc(s.skipped, func(a, b Skip) int { return strings.Compare(a.Path, b.Path) })

	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	zw, err := gzip.NewWriterLevel(cw, gzip.DefaultCompression)
	if err != nil {
		return Info{}, err
	}
	tw := tar.NewWriter(zw)
	info := Info{Skipped: s.skipped}
	for _, e := range s.entries {
		if e.dir {
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: e.rel + "/", Mode: 0o755, ModTime: epoch}
			if err := tw.WriteHeader(hdr); err != nil {
				return Info{}, err
			}
			continue
		}
		if err := s.writeFile(tw, e); err != nil {
			return Info{}, err
		}
		info.Files = append(info.Files, e.rel)
		info.Bytes += e.size
	}
	if err := tw.Close(); err != nil {
		return Info{}, err
	}
	if err := zw.Close(); err != nil {
		return Info{}, err
	}
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	info.Size = cw.n
	return info, nil
}

// sourceRoot resolves dir to an absolute path without symlinks, so that
// symlinks inside it can be checked against it.
func sourceRoot(dir string) (string, error) {
	bad := func(format string, args ...any) error {
		return armerror.New(CodeSourceDir, dir, format, args...)
	}
	if dir == "" {
		return "", bad("no source directory given; name the directory holding the run's script")
	}
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return "", bad("source directory %s: %v", dir, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return "", bad("source directory %s: %v", dir, err)
	}
	if !fi.IsDir() {
		return "", bad("%s is not a directory; name the directory holding the run's script", dir)
	}
	return root, nil
}

// loadIgnore reads the root's .amlignore, else its .gitignore; nil when
// there is neither.
func loadIgnore(root string) (*Ignore, error) {
	for _, name := range ignoreFiles {
		data, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, armerror.New(CodeSourceDir, name, "reading %s: %v", name, err)
		}
		ig, err := ParseIgnore(data)
		if err != nil {
			if e, ok := armerror.As(err); ok {
				e.Target = name
			}
			return nil, err
		}
		return ig, nil
	}
	return nil, nil
}

// excludes reports whether path itself is ignored, its parents being
// known not to be (the walk does not enter ignored directories).
func (ig *Ignore) excludes(path string, isDir bool) bool {
	if ig == nil {
		return false
	}
	k := ig.last(path, isDir)
	return k >= 0 && !ig.patterns[k].negative
}

type entry struct {
	rel  string // '/'-separated, relative to the root
	src  string // the file to read: the entry or a symlink's target
	dir  bool
	exec bool
	size int64
}

type scanner struct {
	root, display string
	ig            *Ignore
	lim           Limits
	entries       []entry
	skipped       []Skip
	files, dirs   int
	bytes         int64
}

func (s *scanner) walk(relDir string) error {
	ents, err := os.ReadDir(filepath.Join(s.root, filepath.FromSlash(relDir)))
	if err != nil {
		return armerror.New(CodeSourceDir, relDir, "reading %s: %v", path.Join(s.display, relDir), err)
	}
	for _, de := range ents {
		rel := path.Join(relDir, de.Name())
		abs := filepath.Join(s.root, filepath.FromSlash(rel))
		typ := de.Type()
		if s.ig.excludes(rel, typ.IsDir()) {
			continue
		}
		switch {
		case typ.IsDir():
			if s.dirs++; s.dirs > s.lim.maxDirs() {
				return dirsError(s.display, s.lim)
			}
			s.entries = append(s.entries, entry{rel: rel, dir: true})
			if err := s.walk(rel); err != nil {
				return err
			}
		case typ.IsRegular():
			fi, err := de.Info()
			if err != nil {
				return armerror.New(CodeSourceDir, rel, "reading %s: %v", rel, err)
			}
			if err := s.addFile(rel, abs, fi); err != nil {
				return err
			}
		case typ&fs.ModeSymlink != 0:
			target, fi, why := s.resolve(abs)
			if why != "" {
				s.skipped = append(s.skipped, Skip{Path: rel, Why: why})
				continue
			}
			if err := s.addFile(rel, target, fi); err != nil {
				return err
			}
		default:
			s.skipped = append(s.skipped, Skip{Path: rel, Why: kind(typ) + " (only regular files and directories are packed)"})
		}
	}
	return nil
}

func (s *scanner) addFile(rel, src string, fi fs.FileInfo) error {
	if s.files++; s.files > s.lim.MaxFiles {
		return filesError(s.display, s.lim)
	}
	if s.bytes += fi.Size(); s.bytes > s.lim.MaxBytes {
		return sizeError(s.display, s.lim)
	}
	s.entries = append(s.entries, entry{rel: rel, src: src, size: fi.Size(), exec: fi.Mode()&0o111 != 0})
	return nil
}

// resolve follows a symlink; why says what is wrong with it, if anything.
func (s *scanner) resolve(abs string) (string, fs.FileInfo, string) {
	target, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", nil, "a broken symlink"
	}
	rel, err := filepath.Rel(s.root, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", nil, "a symlink to outside the source directory"
	}
	fi, err := os.Stat(target)
	switch {
	case err != nil:
		return "", nil, "a broken symlink"
	case fi.IsDir():
		return "", nil, "a symlink to a directory (not followed)"
	case !fi.Mode().IsRegular():
		return "", nil, "a symlink to " + kind(fi.Mode().Type())
	}
	return target, fi, ""
}

func kind(t fs.FileMode) string {
	switch {
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	case t&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "not a regular file"
}

// writeFile writes one file, checking that it is still the regular file
// of the size the scan saw: the header's size is written before the
// content.
func (s *scanner) writeFile(tw *tar.Writer, e entry) error {
	changed := func() error {
		return armerror.New(CodeChanged, e.rel, "%s changed while it was being packed; pack again once it is written",
			path.Join(s.display, e.rel))
	}
	f, err := os.Open(e.src)
	if err != nil {
		return armerror.New(CodeSourceDir, e.rel, "reading %s: %v", path.Join(s.display, e.rel), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != e.size {
		return changed()
	}
	mode := int64(0o644)
	if e.exec {
		mode = 0o755
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.rel, Mode: mode, Size: e.size, ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, io.LimitReader(f, e.size))
	if err != nil {
		return fmt.Errorf("packing %s: %w", path.Join(s.display, e.rel), err)
	}
	if n != e.size {
		return changed()
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
