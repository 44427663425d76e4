package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go4.org/netipx"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/keyvault"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
	"github.com/vnetml/vnetml/internal/store"
)

// Config configures a Server. Store, Tags and Auth are required.
type Config struct {
	Store store.Store
	Tags  *servicetag.Registry
	Auth  *auth.Authenticator
	// Logger receives one line per request (Debug for successes, Info for
	// client errors, Error for server errors) and the engine's warnings;
	// nil discards.
	Logger *slog.Logger
	// Quotas are the default limits per subscription and region; nil means
	// DefaultQuotas. A subscription's own quotas override them.
	Quotas Quotas
	// Metrics registers the server's Prometheus collectors; nil creates a
	// private registry (see Server.Metrics).
	Metrics *prometheus.Registry
	// PublicIPPool is where public IP addresses are allocated from; the zero
	// value means DefaultPublicIPPool.
	PublicIPPool netip.Prefix
	// Fabric, when set, is the data plane: every compiled engine is
	// applied to it, its flow log is served, and Network Watcher's
	// connectivity check sends real connections through it.
	Fabric fabric.Fabric
	// Keyring seals the credentials the server keeps (storage account
	// keys); nil keeps none, and storage accounts then have no keys.
	Keyring *keyvault.Keyring
	// Secrets is where workspaces put their credentials (their key
	// vault's secrets); nil skips them.
	Secrets *keyvault.Service
	// DataPlane, when set, gets every compiled engine with its network:
	// the front ends of storage accounts and key vaults follow it.
	DataPlane DataPlane
	// CAPEM is the deployment CA's certificate, served at api.CAPath.
	CAPEM []byte
	// CA, when set, is the deployment CA that issues the certificate of
	// an inference cluster with a leaf domain label (sslConfiguration
	// status Auto); without it such a cluster is refused.
	CA CertIssuer
	// Computes, when set, runs compute clusters; StartComputes hands it
	// the stored ones.
	Computes Computes
	// Runs, when set, runs experiments (internal/runs).
	Runs Runs
	// Inference, when set, runs web services (internal/inference).
	Inference Inference
	// TunnelRecheck is how often a data-plane tunnel's token is checked
	// again: a revoked or expired token closes it (0: 10s).
	TunnelRecheck time.Duration
}

// DataPlane is what the server asks of the front ends of storage accounts
// and key vaults (internal/dataplane).
type DataPlane interface {
	// Apply gets every compiled engine with its network.
	Apply(eng *flow.Engine, snap *network.Snapshot)
	// DeleteAccountData deletes a storage account's blobs and shares.
	DeleteAccountData(ctx context.Context, account string) error
	// BlobSize and BlobNames tell what a storage account's (lower-case
	// name) blob container — or file share, with file — holds, inside
	// the platform (a model registration checks its files exist).
	BlobSize(ctx context.Context, account, container, name string, file bool) (size int64, found bool, err error)
	BlobNames(ctx context.Context, account, container, prefix string, file bool, limit int) ([]string, error)
}

// DefaultPublicIPPool is the range public IP addresses are drawn from in
// the default local cloud (TEST-NET-2, RFC 5737): outside every private
// range and every service tag of the local cloud.
var DefaultPublicIPPool = netip.MustParsePrefix("198.51.100.0/24")

// DefaultSubscription is the subscription the server creates on first
// start, so that a fresh deployment is usable at once.
const DefaultSubscription = network.DefaultSubscription

// Server serves the management API. Create it with New; it is safe for
// concurrent use.
type Server struct {
	st        store.Store
	tags      *servicetag.Registry
	auth      *auth.Authenticator
	log       *slog.Logger
	quotas    Quotas
	pool      netip.Prefix
	fab       fabric.Fabric     // nil: no data plane
	keyring   *keyvault.Keyring // nil: no storage account keys
	secrets   *keyvault.Service // nil: workspaces write no secrets
	dp        DataPlane         // nil: no data planes
	caPEM     []byte
	ca        CertIssuer // nil: no generated certificates
	computes  Computes   // nil: clusters are stored but run no nodes
	runs      Runs       // nil: no experiments
	inference Inference  // nil: no web services

	tunnelRecheck time.Duration

	platformOnce sync.Once
	platform     *netipx.IPSet         // service tag ranges and the public IP pool (tunnel.go)
	names        map[string]netip.Addr // host names registered in fab; owned by compile
	metrics      *metrics
	kinds        map[string]*kind
	handler      http.Handler

	// mu serializes writes; world is what they read and change.
	mu    sync.Mutex
	world *world
	// infMu serializes what writes ask of the inference controller once
	// committed (inferencesync.go).
	infMu sync.Mutex

	view atomic.Pointer[view]     // the newest committed network
	eng  atomic.Pointer[compiled] // the newest compiled engine

	engMu    sync.Mutex
	engReady chan struct{} // closed and replaced whenever eng advances

	kick      chan struct{} // wakes the compiler; buffered 1
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

// compiled is a flow engine and the store revision it reflects.
type compiled struct {
	rev int64
	eng *flow.Engine
}

// New loads every stored resource, compiles the first engine, creates the
// default subscription when the store has none, and starts the compiler.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Tags == nil || cfg.Auth == nil {
		return nil, errors.New("apiserver: Config needs Store, Tags and Auth")
	}
	s := &Server{
		st: cfg.Store, tags: cfg.Tags, auth: cfg.Auth, log: cfg.Logger, quotas: cfg.Quotas, pool: cfg.PublicIPPool, fab: cfg.Fabric,
		keyring: cfg.Keyring, secrets: cfg.Secrets, dp: cfg.DataPlane, caPEM: cfg.CAPEM, ca: cfg.CA, computes: cfg.Computes, runs: cfg.Runs, inference: cfg.Inference, tunnelRecheck: cfg.TunnelRecheck,
		world:    &world{byKey: map[string]*entry{}},
		engReady: make(chan struct{}),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.quotas == nil {
		s.quotas = DefaultQuotas()
	}
	if !s.pool.IsValid() {
		s.pool = DefaultPublicIPPool
	}
	if s.tunnelRecheck == 0 {
		s.tunnelRecheck = 10 * time.Second
	}
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg, s)
	s.buildKinds()
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	s.compile(s.view.Load())
	go s.compiler()
	if err := s.ensureDefaultSubscription(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// Dispatched by hand: http.ServeMux would answer paths such as
	// "//x" or "/./x" with a redirect before authentication, outside
	// ARM's error envelope.
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodConnect:
			s.tunnel(w, r)
		case r.URL.Path == api.CAPath && r.Method == http.MethodGet && s.caPEM != nil:
			w.Header().Set("Content-Type", "application/x-pem-file")
			w.Write(s.caPEM)
		case r.URL.Path == "/healthz" && r.Method == http.MethodGet:
			s.healthz(w, r)
		case r.URL.Path == "/metrics" && r.Method == http.MethodGet:
			s.metrics.handler.ServeHTTP(w, r)
		default:
			s.serve(w, r)
		}
	})
	return s, nil
}

// Handler returns the HTTP handler of the API, /healthz and /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the compiler. It does not close the store.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.stopped
	})
	return nil
}

// load reads every stored resource into the world, page by page.
func (s *Server) load(ctx context.Context) error {
	opts := store.ListOptions{Limit: 1000}
	var rev int64
	for first := true; first || opts.Continuation != ""; first = false {
		page, err := s.st.List(ctx, opts)
		if err != nil {
			return fmt.Errorf("loading stored resources: %w", err)
		}
		if first {
			rev = page.Revision
		}
		for _, r := range page.Resources {
			if lower(r.Type) == lower(typeToken) {
				continue // the Authenticator owns tokens
			}
			e, err := s.entryOf(r)
			if err != nil {
				// A document this version cannot read is kept in the store
				// and left out of the network, loudly.
				s.log.Error("stored resource is unreadable; it is left out of the network", "id", r.ID, "error", err)
				continue
			}
			s.world.byKey[e.id.Key] = e
		}
		opts.Continuation = page.Next
	}
	snap := snapshotOf(s.world.byKey)
	s.view.Store(newView(rev, snap, referencesOf(snap), s.world.byKey))
	return nil
}

// entryOf decodes a stored resource.
func (s *Server) entryOf(r store.Resource) (*entry, error) {
	id, err := store.ParseID(r.ID)
	if err != nil {
		return nil, err
	}
	e := &entry{id: id, res: r}
	var hdr struct {
		Location string `json:"location"`
	}
	if k, ok := s.kinds[lower(id.Type)]; ok && k.net != nil {
		obj, err := k.net.decode(r.Doc)
		if err != nil {
			return nil, err
		}
		e.obj = obj
		e.loc = normLocation(k.net.meta(obj).Location)
	} else if err := json.Unmarshal(r.Doc, &hdr); err == nil {
		e.loc = normLocation(hdr.Location)
	}
	return e, nil
}

// compiler recompiles the engine whenever a newer view is published.
func (s *Server) compiler() {
	defer close(s.stopped)
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		}
		if v := s.view.Load(); v.rev > s.eng.Load().rev {
			s.compile(v)
		}
	}
}

// compile compiles v and publishes the engine.
func (s *Server) compile(v *view) {
	start := time.Now()
	eng := flow.Compile(v.snap, s.tags)
	s.metrics.compileSeconds.Observe(time.Since(start).Seconds())
	for _, w := range eng.Warnings() {
		s.log.Warn("flow engine", "revision", v.rev, "warning", w)
	}
	if s.fab != nil {
		s.fab.Apply(eng)
		s.syncNames(v.snap)
	}
	if s.dp != nil {
		s.dp.Apply(eng, v.snap)
	}
	s.engMu.Lock()
	s.eng.Store(&compiled{rev: v.rev, eng: eng})
	close(s.engReady)
	s.engReady = make(chan struct{})
	s.engMu.Unlock()
}

// engine returns the newest compiled engine without waiting.
func (s *Server) engine() *compiled { return s.eng.Load() }

// waitEngine waits until the engine reflects revision rev.
func (s *Server) waitEngine(ctx context.Context, rev int64) error {
	for {
		s.engMu.Lock()
		ready := s.engReady
		cur := s.eng.Load()
		s.engMu.Unlock()
		if cur.rev >= rev {
			return nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stop:
			return store.ErrClosed
		}
	}
}

// publish makes a committed world the newest view and wakes the compiler.
func (s *Server) publish(rev int64, snap *network.Snapshot, refs refIndex) {
	s.view.Store(newView(rev, snap, refs, s.world.byKey))
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.st.Revision(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
		return
	}
	c := s.engine()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "revision": s.view.Load().rev, "engineRevision": c.rev})
}

// syncNames makes the fabric resolve the host names of the storage
// accounts and key vaults of snap (blob, file, vault endpoints) to their
// virtual addresses, and forget those of the ones gone. Only compile calls
// it, one at a time.
func (s *Server) syncNames(snap *network.Snapshot) {
	want := map[string]netip.Addr{}
	for _, a := range snap.StorageAccounts {
		if addr, err := netip.ParseAddr(a.Properties.VirtualAddress); err == nil {
			want[strings.ToLower(a.Name)+".blob.core.windows.net"] = addr
			want[strings.ToLower(a.Name)+".file.core.windows.net"] = addr
		}
	}
	for _, v := range snap.KeyVaults {
		if addr, err := netip.ParseAddr(v.Properties.VirtualAddress); err == nil {
			want[strings.ToLower(v.Name)+".vault.azure.net"] = addr
		}
	}
	for name := range s.names {
		if _, ok := want[name]; !ok {
			s.fab.SetName(name, netip.Addr{})
		}
	}
	for name, addr := range want {
		if s.names[name] != addr {
			s.fab.SetName(name, addr)
		}
	}
	s.names = want
}
