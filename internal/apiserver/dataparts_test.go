package apiserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/apiserver"
	"github.com/vnetml/vnetml/internal/blobstore"
	"github.com/vnetml/vnetml/internal/compute"
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
	// computes, when set before start, runs compute clusters checked
	// every interval (ctl).
	computes bool
	interval time.Duration
	ctl      *compute.Controller
	nodesDir string
	// crash makes the next stop leave the agents running, as a server
	// killed with SIGKILL does.
	crash bool
	// runs, when set before start, is the server's runs service.
	runs apiserver.Runs
	// inference, when set before start, runs the server's web services.
	inference apiserver.Inference
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
	cfg.Keyring, cfg.Secrets, cfg.DataPlane, cfg.CAPEM, cfg.CA = keys, d.secrets, d.dp, d.ca.CertPEM(), d.ca
	if d.inference != nil {
		cfg.Inference = d.inference
	}
	if d.runs != nil {
		cfg.Runs = d.runs
	}
	if d.computes {
		d.newController(t, dir, cfg)
	}
}

func (d *dataParts) stop() {
	if d.ctl != nil && d.crash {
		d.ctl.Detach()
		d.crash = false
	} else if d.ctl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d.ctl.Close(ctx)
		cancel()
	}
	d.dp.Close()
	d.db.Close()
}

// killAgent kills a node's agent process with SIGKILL, as a crash would.
func (d *dataParts) killAgent(nodeID string) error {
	b, err := os.ReadFile(filepath.Join(d.nodesDir, nodeID, "agent.json"))
	if err != nil {
		return err
	}
	var rec struct{ PID int }
	if err := json.Unmarshal(b, &rec); err != nil {
		return err
	}
	p, err := os.FindProcess(rec.PID)
	if err != nil {
		return err
	}
	return p.Kill()
}

// agentDirs lists the node state directories left.
func (d *dataParts) agentDirs() []string {
	ents, _ := os.ReadDir(d.nodesDir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
