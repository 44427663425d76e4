package blobstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultMaxResults is Azure's page size, also its maximum.
const DefaultMaxResults = 5000

// ListOptions select and page a listing. Marker is the NextMarker of the
// previous page (a name: the listing resumes at the first entry >= it);
// MaxResults is clamped to 1..5000, 0 meaning 5000.
type ListOptions struct {
	Prefix     string
	Delimiter  string
	Marker     string
	MaxResults int
}

func (o ListOptions) maxResults() int {
	if o.MaxResults <= 0 || o.MaxResults > DefaultMaxResults {
		return DefaultMaxResults
	}
	return o.MaxResults
}

// BlobPage is one page of ListBlobs. Blobs and Prefixes are each in name
// order; both count against MaxResults.
type BlobPage struct {
	Blobs      []Properties
	Prefixes   []string // virtual directories, each ending in the delimiter
	NextMarker string   // empty on the last page
}

// ListBlobs lists a container's blobs in name order. With a Delimiter, the
// names that share a prefix up to the first delimiter after opts.Prefix are
// rolled up into one BlobPrefix, as Azure's virtual directories are.
//
// It reads every blob's trailer: the store keeps no index, which is fine for
// the containers of a local workspace and keeps the disk the only truth.
func (s *Store) ListBlobs(ctx context.Context, account, container string, opts ListOptions) (BlobPage, error) {
	if err := s.checkContainer(account, container); err != nil {
		return BlobPage{}, err
	}
	all, err := s.scan(ctx, account, container, opts.Prefix)
	if err != nil {
		return BlobPage{}, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	i := sort.Search(len(all), func(i int) bool { return all[i].Name >= opts.Marker })
	max := opts.maxResults()
	var page BlobPage
	for n := 0; i < len(all); n++ {
		name := all[i].Name
		if n == max {
			page.NextMarker = name
			break
		}
		if opts.Delimiter != "" {
			if j := strings.Index(name[len(opts.Prefix):], opts.Delimiter); j >= 0 {
				p := name[:len(opts.Prefix)+j+len(opts.Delimiter)]
				page.Prefixes = append(page.Prefixes, p)
				// Names sharing a prefix are contiguous in sorted order.
				i += sort.Search(len(all)-i, func(k int) bool { return !strings.HasPrefix(all[i+k].Name, p) })
				continue
			}
		}
		page.Blobs = append(page.Blobs, all[i])
		i++
	}
	return page, nil
}

// scan reads the properties of every blob of a container whose name starts
// with prefix. Files that vanish meanwhile are skipped; so are unreadable
// ones, which only a bug or a disk fault produces.
func (s *Store) scan(ctx context.Context, account, container, prefix string) ([]Properties, error) {
	base := filepath.Join(s.containerDir(account, container), blobsDirName)
	dirs, err := os.ReadDir(base)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, containerNotFound(container)
		}
		return nil, err
	}
	var out []Properties
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		files, err := os.ReadDir(filepath.Join(base, d.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			b, err := openBlobFile(filepath.Join(base, d.Name(), f.Name()))
			if err != nil {
				continue
			}
			b.Close()
			if strings.HasPrefix(b.props.Name, prefix) {
				out = append(out, b.props)
			}
		}
	}
	return out, nil
}
