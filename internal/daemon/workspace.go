package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/vnetml/vnetml/internal/blobstore"
	"github.com/vnetml/vnetml/internal/keyvault"
	"github.com/vnetml/vnetml/internal/pki"
	"github.com/vnetml/vnetml/internal/store/sqlite"
)

// Files and directories of the workspace services in the data directory.
const (
	SecretsDBFile = "secrets.db" // key vault secrets, sealed
	BlobsDir      = "blobs"      // storage accounts' blob containers
	FilesDir      = "files"      // storage accounts' file shares
)

// workspaceServices are the stores behind the data planes of storage
// accounts and key vaults, and the CA of their front ends.
type workspaceServices struct {
	secretsDB    *sqlite.Store
	keyring      *keyvault.Keyring
	secrets      *keyvault.Service
	blobs, files *blobstore.Store
	ca           *pki.CA
}

func openWorkspaceServices(ctx context.Context, dir string, log *slog.Logger) (*workspaceServices, error) {
	ws := &workspaceServices{}
	var err error
	if ws.keyring, err = keyvault.LoadKeyring(dir); err != nil {
		return nil, err
	}
	if ws.secretsDB, err = sqlite.Open(ctx, filepath.Join(dir, SecretsDBFile)); err != nil {
		return nil, err
	}
	ws.secrets = keyvault.New(ws.secretsDB, ws.keyring, keyvault.Options{Logger: log})
	if ws.blobs, err = blobstore.Open(filepath.Join(dir, BlobsDir)); err != nil {
		ws.close()
		return nil, err
	}
	if ws.files, err = blobstore.Open(filepath.Join(dir, FilesDir)); err != nil {
		ws.close()
		return nil, err
	}
	if ws.ca, err = pki.LoadOrCreateCA(dir); err != nil {
		ws.close()
		return nil, err
	}
	return ws, nil
}

// sweep discards stale uncommitted blocks every hour until ctx is done.
func (ws *workspaceServices) sweep(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, b := range []*blobstore.Store{ws.blobs, ws.files} {
			if err := b.SweepBlocks(ctx); err != nil {
				log.Warn("sweeping uncommitted blocks", "root", b.Root(), "error", err)
			}
		}
	}
}

func (ws *workspaceServices) close() {
	if ws.secretsDB != nil {
		ws.secretsDB.Close()
	}
}
