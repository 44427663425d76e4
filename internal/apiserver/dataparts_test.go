package apiserver_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/vnetml/vnetml/internal/apiserver"
	"github.com/vnetml/vnetml/internal/blobstore"
	"github.com/vnetml/vnetml/internal/dataplane"
	"github.com/vnetml/vnetml/internal/keyvault"
	"github.com/vnetml/vnetml/internal/pki"
	"github.com/vnetml/vnetml/internal/store/sqlite"
)

// dataParts are the workspace data planes of a test server, wired as
// internal/daemon wires them.
type dataParts struct {
	srv     atomic.Pointer[apiserver.Server]
	dp      *dataplane.Server
	ca      *pki.CA
	secrets *keyvault.Service
	db      *sqlite.Store
	blobs   *blobstore.Store
}

// newDataEnv is newEnv with the data planes of storage accounts and key
// vaults served through the fabric.
func newDataEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), data: &dataParts{}}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (d *dataParts) start(t testing.TB, dir string, cfg *apiserver.Config) {
	t.Helper()
	ctx := context.Background()
	keys, err := keyvault.LoadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.db, err = sqlite.Open(ctx, dir+"/secrets.db"); err != nil {
		t.Fatal(err)
	}
	d.secrets = keyvault.New(d.db, keys, keyvault.Options{})
	if d.blobs, err = blobstore.Open(dir + "/blobs"); err != nil {
		t.Fatal(err)
	}
	files, err := blobstore.Open(dir + "/files")
	if err != nil {
		t.Fatal(err)
	}
	if d.ca, err = pki.LoadOrCreateCA(dir); err != nil {
		t.Fatal(err)
	}
	d.dp, err = dataplane.New(dataplane.Config{Fabric: cfg.Fabric, Blobs: d.blobs, Files: files, Secrets: d.secrets, Auth: cfg.Auth, CA: d.ca,
		AccountKeys: func(ctx context.Context, id string) ([][]byte, error) {
			if s := d.srv.Load(); s != nil {
				return s.AccountKeys(ctx, id)
			}
			return nil, errors.New("starting")
		}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Keyring, cfg.Secrets, cfg.DataPlane, cfg.CAPEM = keys, d.secrets, d.dp, d.ca.CertPEM()
}

func (d *dataParts) stop() {
	d.dp.Close()
	d.db.Close()
}
