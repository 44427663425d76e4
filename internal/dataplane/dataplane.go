// Package dataplane owns the front ends of the workspace's platform
// services in the virtual cloud (DESIGN.md §6): every storage account
// serves its blob endpoint on TCP 443 and its file share endpoint on TCP
// 445, and every key vault its secrets endpoint on TCP 443, at the
// resource's virtual address, through the fabric, over TLS with a
// certificate of the deployment's CA.
//
// Each request is decided in three steps, Azure's order:
//
//  1. the network: the fabric delivered the connection only if the NSGs
//     and routes on its path allow it;
//  2. the firewall (networkAcls, spec §5, §6), per request, from the
//     caller's network identity as the fabric carried it (its NIC,
//     subnet and service endpoint, or its public address; a trusted
//     service): a refusal is a 403 with Azure's code —
//     AuthorizationFailure for storage, Forbidden with inner
//     ForbiddenByFirewall for a key vault — and a message that names the
//     caller, the resource, the deciding rule and what would admit it;
//     the flow log records it;
//  3. authentication and authorization: for storage an account key
//     (Shared Key), a SAS token or a vnetml bearer token; for a key vault
//     a vnetml bearer token checked against the vault's access policies
//     (or its roles, with enableRbacAuthorization).
//
// Front ends follow the network: Apply starts those of new resources and
// stops those of deleted ones.
package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/blobstore"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/keyvault"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/pki"
)

// Ports of the front ends.
const (
	PortBlob  = 443
	PortFile  = 445
	PortVault = 443
)

// Config configures a Server. Every field but Logger is required.
type Config struct {
	Fabric fabric.Fabric
	// Blobs holds the blob containers of every account; Files their file
	// shares (served with the same REST subset on port 445).
	Blobs, Files *blobstore.Store
	Secrets      *keyvault.Service
	Auth         *auth.Authenticator
	// AccountKeys returns a storage account's keys (key1, key2).
	AccountKeys func(ctx context.Context, accountID string) ([][]byte, error)
	// CA issues the front ends' certificate (*.blob.core.windows.net,
	// *.file.core.windows.net, *.vault.azure.net), renewed as it ages.
	CA     *pki.CA
	Logger *slog.Logger
}

// Server runs the front ends. Create it with New.
type Server struct {
	cfg Config
	log *slog.Logger
	tls *tls.Config

	eng   atomic.Pointer[flow.Engine]
	vault atomic.Pointer[map[string]*network.KeyVault] // by network.Key(id)

	limit refusalLimit // of refusals logged

	mu     sync.Mutex
	fronts map[frontKey]*front
	closed bool
}

// frontKey names a front end: a resource and its port.
type frontKey struct {
	id   string // network.Key of the resource id
	port uint16
}

// front is one running front end.
type front struct {
	addr netip.Addr
	ln   net.Listener
	srv  *http.Server
}

// New returns a Server with no front ends; Apply starts them.
func New(cfg Config) (*Server, error) {
	if cfg.Fabric == nil || cfg.Blobs == nil || cfg.Files == nil || cfg.Secrets == nil || cfg.Auth == nil || cfg.AccountKeys == nil {
		return nil, errors.New("dataplane: Config needs Fabric, Blobs, Files, Secrets, Auth and AccountKeys")
	}
	if cfg.CA == nil {
		return nil, errors.New("dataplane: Config needs a CA")
	}
	leaf, err := cfg.CA.NewLeaf([]string{"*.blob.core.windows.net", "*.file.core.windows.net", "*.vault.azure.net"}, 90*24*time.Hour)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, fronts: map[frontKey]*front{},
		tls: &tls.Config{GetCertificate: leaf.GetCertificate, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}}
	empty := map[string]*network.KeyVault{}
	s.vault.Store(&empty)
	return s, nil
}

// Apply makes eng decide the firewalls from now on, and runs a front end
// for every storage account and key vault of snap that has a virtual
// address (and none for the others). It is called by one goroutine at a
// time (the server's compiler).
func (s *Server) Apply(eng *flow.Engine, snap *network.Snapshot) {
	s.eng.Store(eng)
	vaults := map[string]*network.KeyVault{}
	want := map[frontKey]func() (netip.Addr, http.Handler){}
	for _, a := range snap.StorageAccounts {
		addr, err := netip.ParseAddr(a.Properties.VirtualAddress)
		if err != nil {
			continue
		}
		id, name := a.ID, strings.ToLower(a.Name)
		want[frontKey{network.Key(id), PortBlob}] = func() (netip.Addr, http.Handler) {
			return addr, s.storageHandler(s.cfg.Blobs, id, name, addr, PortBlob)
		}
		want[frontKey{network.Key(id), PortFile}] = func() (netip.Addr, http.Handler) {
			return addr, s.storageHandler(s.cfg.Files, id, name, addr, PortFile)
		}
	}
	for i := range snap.KeyVaults {
		v := &snap.KeyVaults[i]
		addr, err := netip.ParseAddr(v.Properties.VirtualAddress)
		if err != nil {
			continue
		}
		vaults[network.Key(v.ID)] = v
		id := v.ID
		want[frontKey{network.Key(id), PortVault}] = func() (netip.Addr, http.Handler) {
			return addr, s.vaultHandler(id, addr)
		}
	}
	s.vault.Store(&vaults)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for k, f := range s.fronts {
		mk, ok := want[k]
		if ok {
			if addr, _ := mk(); addr == f.addr {
				continue
			}
		}
		f.stop()
		delete(s.fronts, k)
	}
	for k, mk := range want {
		if _, ok := s.fronts[k]; ok {
			continue
		}
		addr, h := mk()
		f, err := s.start(k, addr, h)
		if err != nil {
			s.log.Error("dataplane: cannot start a front end", "resource", k.id, "address", addr, "port", k.port, "error", err)
			continue
		}
		s.fronts[k] = f
	}
}

// start listens at addr:port through the fabric as the service id.
func (s *Server) start(k frontKey, addr netip.Addr, h http.Handler) (*front, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := s.cfg.Fabric.Listen(ctx, fabric.Endpoint{Addr: addr, Service: k.id}, k.port)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if p, ok := fabric.PeerOf(c); ok {
				ctx = context.WithValue(ctx, peerKey{}, p)
			}
			return ctx
		},
	}
	go srv.Serve(tls.NewListener(ln, s.tls))
	return &front{addr: addr, ln: ln, srv: srv}, nil
}

func (f *front) stop() {
	f.srv.Close()
	f.ln.Close()
}

// DeleteAccountData deletes a storage account's blob containers and file
// shares.
func (s *Server) DeleteAccountData(ctx context.Context, account string) error {
	if err := s.cfg.Blobs.DeleteAccount(ctx, account); err != nil {
		return err
	}
	return s.cfg.Files.DeleteAccount(ctx, account)
}

// Close stops every front end.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for k, f := range s.fronts {
		f.stop()
		delete(s.fronts, k)
	}
	return nil
}

// Serving reports the front ends running, as "id:port" keys (for tests
// and the server's health).
func (s *Server) Serving() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, f := range s.fronts {
		out = append(out, fmt.Sprintf("%s %s:%d", k.id, f.addr, k.port))
	}
	return out
}

type peerKey struct{}

// peerOf returns who opened the request's connection.
func peerOf(r *http.Request) (fabric.Peer, bool) {
	p, ok := r.Context().Value(peerKey{}).(fabric.Peer)
	return p, ok
}
