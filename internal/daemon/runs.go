package daemon

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/apiserver"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/blobstore"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/runs"
	"github.com/vnetml/vnetml/internal/storageauth"
)

// RunsDir is where run history keeps the runs' driver logs and metrics;
// RunsDBFile the runs' records.
const (
	RunsDir    = "runs"
	RunsDBFile = "runs.db"
)

// runPlatform is the control plane as the runs service asks it: the API
// server (once it exists) and the blob stores.
type runPlatform struct {
	srv          *atomic.Pointer[apiserver.Server]
	blobs, files *blobstore.Store
}

var _ runs.Platform = runPlatform{}

func (p runPlatform) server() (*apiserver.Server, error) {
	if s := p.srv.Load(); s != nil {
		return s, nil
	}
	return nil, errStarting
}

func (p runPlatform) Target(ctx context.Context, workspaceID, name string) (runs.Target, error) {
	s, err := p.server()
	if err != nil {
		return runs.Target{}, err
	}
	return s.RunTarget(ctx, workspaceID, name)
}

func (p runPlatform) Datastore(ctx context.Context, workspaceID, name string) (runs.Datastore, error) {
	s, err := p.server()
	if err != nil {
		return runs.Datastore{}, err
	}
	return s.RunDatastore(ctx, workspaceID, name)
}

func (p runPlatform) store(ds runs.Datastore) *blobstore.Store {
	if ds.File {
		return p.files
	}
	return p.blobs
}

func (p runPlatform) BlobSize(ctx context.Context, ds runs.Datastore, name string) (int64, bool, error) {
	props, err := p.store(ds).BlobProperties(ctx, ds.AccountName, ds.Container, name)
	if err != nil {
		if e, ok := armerror.As(err); ok && (e.Code == blobstore.CodeBlobNotFound || e.Code == blobstore.CodeContainerNotFound) {
			return 0, false, nil
		}
		return 0, false, err
	}
	return props.ContentLength, true, nil
}

func (p runPlatform) EnsureContainer(ctx context.Context, ds runs.Datastore) error {
	err := p.store(ds).CreateContainer(ctx, ds.AccountName, ds.Container)
	if e, ok := armerror.As(err); ok && e.Code == blobstore.CodeContainerAlreadyExists {
		return nil
	}
	return err
}

func (p runPlatform) SAS(ctx context.Context, ds runs.Datastore, name string, perms storageauth.Permission, expiry time.Time) (string, error) {
	s, err := p.server()
	if err != nil {
		return "", err
	}
	return s.RunSAS(ctx, ds, name, perms, expiry)
}

func (p runPlatform) Secret(ctx context.Context, workspaceID, name string) (string, error) {
	s, err := p.server()
	if err != nil {
		return "", err
	}
	return s.RunSecret(ctx, workspaceID, name)
}

func (p runPlatform) Explain(src fabric.Endpoint, dst netip.AddrPort) string {
	if s := p.srv.Load(); s != nil {
		return s.Explain(src, dst)
	}
	return ""
}

func (p runPlatform) HistoryAddr(location string) (netip.Addr, bool) {
	if s := p.srv.Load(); s != nil {
		return s.HistoryAddr(location)
	}
	return netip.Addr{}, false
}

// servicePlatform is the API server as web services ask it, once it
// exists.
type servicePlatform struct {
	srv *atomic.Pointer[apiserver.Server]
}

func (p servicePlatform) PodAddress(ctx context.Context, nic, name string) (netip.Addr, error) {
	s := p.srv.Load()
	if s == nil {
		return netip.Addr{}, errStarting
	}
	return s.PodAddress(ctx, nic, name)
}

func (p servicePlatform) ReleasePodAddress(ctx context.Context, nic, name string) error {
	s := p.srv.Load()
	if s == nil {
		return errStarting
	}
	return s.ReleasePodAddress(ctx, nic, name)
}
