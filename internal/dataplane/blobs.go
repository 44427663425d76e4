package dataplane

import (
	"context"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/blobstore"
)

// The control plane's own questions to the stores behind the front ends
// (what a model registration needs to know exists). They are asked
// inside the platform, not through the fabric: no firewall judges them.

func (s *Server) storeOf(file bool) *blobstore.Store {
	if file {
		return s.cfg.Files
	}
	return s.cfg.Blobs
}

// BlobSize returns the size of blob name in container of storage account
// (its lower-case name), or in its file share with file; found is false
// when the blob or the container does not exist.
func (s *Server) BlobSize(ctx context.Context, account, container, name string, file bool) (size int64, found bool, err error) {
	p, err := s.storeOf(file).BlobProperties(ctx, account, container, name)
	if err != nil {
		if missing(err) {
			return 0, false, nil
		}
		return 0, false, err
	}
	return p.ContentLength, true, nil
}

// BlobNames returns the names of at most limit blobs (1 to 5000) of
// container whose names start with prefix, in name order; none when the
// container does not exist.
func (s *Server) BlobNames(ctx context.Context, account, container, prefix string, file bool, limit int) ([]string, error) {
	page, err := s.storeOf(file).ListBlobs(ctx, account, container, blobstore.ListOptions{Prefix: prefix, MaxResults: limit})
	if err != nil {
		if missing(err) {
			return nil, nil
		}
		return nil, err
	}
	names := make([]string, len(page.Blobs))
	for i, b := range page.Blobs {
		names[i] = b.Name
	}
	return names, nil
}

// missing reports whether err says a blob or its container is not there
// (or its name could not be one).
func missing(err error) bool {
	e, ok := armerror.As(err)
	return ok && (e.Code == blobstore.CodeBlobNotFound || e.Code == blobstore.CodeContainerNotFound || e.Code == blobstore.CodeInvalidResourceName)
}
