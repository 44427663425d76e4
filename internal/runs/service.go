package runs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/pki"
	"github.com/vnetml/vnetml/internal/storageauth"
	"github.com/vnetml/vnetml/internal/store"
)

// Nodes is what the scheduler asks of the compute clusters; the compute
// controller (compute.Controller) is it.
type Nodes interface {
	Claim(clusterID, runID string) (compute.NodeRef, bool)
	ClaimNode(clusterID, nodeID, runID string) (compute.NodeRef, bool)
	Release(clusterID, nodeID, runID string)
	Demand(clusterID string, n int)
	SubmitJob(ctx context.Context, clusterID, nodeID string, spec job.Spec) (job.Status, error)
	JobStatus(ctx context.Context, clusterID, nodeID, runID string) (job.Status, error)
	CancelJob(ctx context.Context, clusterID, nodeID, runID string) error
	RebindJob(ctx context.Context, clusterID, nodeID, runID, proxy string) error
	OnNodeLost(func(clusterID, nodeID, runID, reason string))
	OnNodeIdle(func(clusterID string))
	// Running reports whether the controller runs the cluster: false once
	// its compute was deleted (its queued runs can never start).
	Running(clusterID string) bool
}

// Platform is what runs asks of the control plane (the API server).
// Errors are *armerror.Error where the caller should see them.
type Platform interface {
	// Target resolves a run's compute target in a workspace.
	Target(ctx context.Context, workspaceID, name string) (Target, error)
	// Datastore resolves a datastore of a workspace.
	Datastore(ctx context.Context, workspaceID, name string) (Datastore, error)
	// BlobSize returns the size of a blob (or file) of a datastore, with
	// ok false when it does not exist.
	BlobSize(ctx context.Context, ds Datastore, name string) (size int64, ok bool, err error)
	// EnsureContainer creates a datastore's container (or share) when it
	// does not exist yet.
	EnsureContainer(ctx context.Context, ds Datastore) error
	// SAS returns the https URL of a blob of a datastore (or, for an
	// empty name, of its container) with a service SAS signed by the
	// account's key.
	SAS(ctx context.Context, ds Datastore, name string, perms storageauth.Permission, expiry time.Time) (string, error)
	// Secret reads a secret of the workspace's key vault as the
	// workspace — a trusted Azure service calling from an
	// AzureMachineLearning address — as the vault's firewall decides.
	Secret(ctx context.Context, workspaceID, name string) (string, error)
	// Explain says why the network refuses a connection from src to dst
	// (the deciding rule and the fix), or "" when it admits it.
	Explain(src fabric.Endpoint, dst netip.AddrPort) string
	// HistoryAddr is run history's address in a region: an address of
	// AzureMachineLearning.<region>.
	HistoryAddr(location string) (netip.Addr, bool)
}

// Target is a run's compute target.
type Target struct {
	ClusterID string
	Location  string
}

// Datastore is a datastore as runs use it.
type Datastore struct {
	Name string
	// File tells a file share (AzureFile) from a blob container.
	File        bool
	AccountID   string
	AccountName string
	// Container is the blob container or the file share.
	Container string
	// FirewallDeny tells that the account's firewall denies by default
	// (networkAcls.defaultAction Deny): restricted to virtual networks.
	FirewallDeny bool
}

// Config configures a Service. Store, Dir, Fabric, Nodes, Platform and CA
// are required.
type Config struct {
	// Store keeps the run records (a store of their own).
	Store store.Store
	// Dir holds the driver logs and metrics, and run history's key.
	Dir      string
	Fabric   fabric.Fabric
	Nodes    Nodes
	Platform Platform
	CA       *pki.CA
	Logger   *slog.Logger
	// PollInterval is how often a busy node is asked about its attempt
	// (0: 2s).
	PollInterval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service runs the runs. Create it with New, then Start it once the
// compute clusters run.
type Service struct {
	cfg   Config
	log   *slog.Logger
	files *files
	key   []byte // run history's token key

	mu      sync.Mutex
	active  map[string]*run   // unfinished runs, by key
	queues  map[string][]*run // queued runs by cluster key, oldest first
	fronts  map[string]*front // run history front ends, by region
	closed  bool
	started bool
	// clusters are the clusters runs went to, by key: each is told its
	// demand at every tick, 0 included (see tellDemand).
	clusters map[string]string

	// demandMu serializes tellDemand: the last demand a cluster hears is
	// the latest count.
	demandMu sync.Mutex

	// ctx ends when Close starts: the node calls of dispatches and polls
	// give up at once instead of holding Close for their timeouts.
	ctx     context.Context
	cancel  context.CancelFunc
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	wg      sync.WaitGroup // dispatches in flight
}

// run is an unfinished run.
type run struct {
	key string // lower-cased id
	rec record
	// node is the node the current attempt was handed to (claimed).
	node    compute.NodeRef
	claimed bool
	// handedOver is set once the node took the current attempt: before,
	// the node rightly does not know it.
	handedOver bool
	// deleted is set when the run's workspace was deleted: nothing of it
	// is written any more.
	deleted bool
	// unreportedSince is when a poll first found the attempt over on the
	// node while run history had heard nothing of its end.
	unreportedSince time.Time
}

// New returns a Service; nothing runs before Start.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Dir == "" || cfg.Fabric == nil || cfg.Nodes == nil || cfg.Platform == nil || cfg.CA == nil {
		return nil, errors.New("runs: Config needs Store, Dir, Fabric, Nodes, Platform and CA")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	key, err := loadKey(filepath.Join(cfg.Dir, keyFile))
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: log, files: newFiles(cfg.Dir), key: key,
		active: map[string]*run{}, queues: map[string][]*run{}, fronts: map[string]*front{},
		clusters: map[string]string{},
		kick:     make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	cfg.Nodes.OnNodeLost(s.nodeLost)
	cfg.Nodes.OnNodeIdle(func(string) { s.wake() })
	return s, nil
}

// Start finds the unfinished runs of a previous server (see the package
// doc) and starts the scheduler. Call it once the compute clusters run
// (their live agents adopted).
func (s *Service) Start(ctx context.Context) error {
	page, err := s.cfg.Store.List(ctx, store.ListOptions{Type: api.TypeRun})
	if err != nil {
		return err
	}
	var found []*run
	for _, res := range page.Resources {
		rec, err := decodeRecord(res.Doc)
		if err != nil {
			s.log.Error("runs: a stored run cannot be read; it is left as it is", "id", res.ID, "error", err)
			continue
		}
		if job.Terminal(rec.Properties.Status) {
			continue
		}
		found = append(found, &run{key: strings.ToLower(res.ID), rec: rec})
	}
	sort.Slice(found, func(i, j int) bool { return created(found[i]).Before(created(found[j])) })
	for _, r := range found {
		s.recover(ctx, r)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("runs: the service was closed before it started")
	}
	s.started = true
	s.mu.Unlock()
	go s.loop()
	s.wake()
	return nil
}

func created(r *run) time.Time {
	if t := r.rec.Properties.CreatedUtc; t != nil {
		return *t
	}
	return time.Time{}
}

// recover takes over an unfinished run of a previous server.
func (s *Service) recover(ctx context.Context, r *run) {
	p := &r.rec.Properties
	s.mu.Lock()
	s.active[r.key] = r
	s.clusters[strings.ToLower(r.rec.Internal.ClusterID)] = r.rec.Internal.ClusterID
	s.mu.Unlock()
	switch p.Status {
	case job.NotStarted, job.Queued:
		s.mu.Lock()
		if p.Status == job.NotStarted {
			s.transition(r, job.Queued, s.cfg.Now())
		}
		s.enqueue(r)
		s.mu.Unlock()
		s.save(ctx, r)
		return
	}
	// On a node: is it still there, still running this attempt? Its
	// reports need run history.
	if addr, ok := s.cfg.Platform.HistoryAddr(r.rec.Internal.Location); ok {
		if _, err := s.historyFront(r.rec.Internal.Location, addr); err != nil {
			s.log.Error("runs: run history cannot start", "location", r.rec.Internal.Location, "error", err)
		}
	}
	why := fmt.Sprintf("the server restarted, and node %s no longer runs it", p.NodeID)
	if n, ok := s.cfg.Nodes.ClaimNode(r.rec.Internal.ClusterID, p.NodeID, r.key); ok {
		st, err := s.cfg.Nodes.JobStatus(ctx, r.rec.Internal.ClusterID, p.NodeID, r.rec.Properties.RunID)
		if err == nil && st.Attempt == p.Attempt {
			s.mu.Lock()
			r.node, r.claimed, r.handedOver = n, true, true
			s.mu.Unlock()
			proxy, perr := s.cfg.Fabric.EgressProxy(n.Endpoint())
			if perr == nil {
				perr = s.cfg.Nodes.RebindJob(ctx, r.rec.Internal.ClusterID, p.NodeID, p.RunID, proxy)
			}
			if perr != nil {
				s.log.Warn("runs: a run found again on its node could not be given the new egress; it reports once the node's status is polled", "run", p.RunID, "error", perr)
			}
			s.log.Info("runs: a run survived the restart on its node", "run", p.RunID, "node", p.NodeID, "state", st.State)
			return
		}
		s.cfg.Nodes.Release(r.rec.Internal.ClusterID, p.NodeID, r.key)
		if err != nil {
			why = fmt.Sprintf("the server restarted, and node %s could not be asked about it: %v", p.NodeID, err)
		}
	}
	s.mu.Lock()
	r.node, r.claimed = compute.NodeRef{ID: p.NodeID}, true
	s.mu.Unlock()
	s.lose(r, p.Attempt, why)
}

// Close stops the scheduler and the run history front ends. Runs in
// flight stay as they are: the next server takes them over.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	started := s.started
	fronts := s.fronts
	s.fronts = map[string]*front{}
	s.mu.Unlock()
	s.cancel()
	close(s.stop)
	if started {
		<-s.stopped
	}
	s.wg.Wait()
	for _, f := range fronts {
		f.close()
	}
	s.files.close()
}

func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// save writes a run's record. A failure is logged: the run goes on in
// memory, and the next change writes it again.
func (s *Service) save(ctx context.Context, r *run) {
	s.mu.Lock()
	if r.deleted {
		s.mu.Unlock()
		return
	}
	doc, err := r.rec.encode()
	s.mu.Unlock()
	if err == nil {
		_, err = s.cfg.Store.Put(context.WithoutCancel(ctx), r.rec.ID, doc, store.Condition{})
	}
	if err != nil {
		s.log.Error("runs: writing a run's record failed", "run", r.rec.ID, "error", err)
	}
	s.files.notify(r.key)
}

// transition moves a run to state at t. The caller holds s.mu.
func (s *Service) transition(r *run, state string, t time.Time) {
	p := &r.rec.Properties
	t = t.UTC()
	p.Status = state
	p.StatusTransitions = append(p.StatusTransitions, api.RunTransition{Status: state, Time: t, Attempt: p.Attempt})
	switch {
	case state == job.Running && p.StartTimeUtc == nil:
		p.StartTimeUtc = &t
	case job.Terminal(state):
		p.EndTimeUtc = &t
	}
}
