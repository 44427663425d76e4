package inference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/nodeagent"
	"github.com/vnetml/vnetml/internal/replica"
)

// ReplicaPort is the port a replica answers on at its pod address.
const ReplicaPort = 5001

// Nodes is what services ask of the inference cluster's nodes; the
// compute controller is it.
type Nodes interface {
	// NodeRefs lists the cluster's usable nodes.
	NodeRefs(clusterID string) []compute.NodeRef
	StartReplica(ctx context.Context, clusterID, nodeID string, spec replica.Spec) (replica.Status, error)
	ReplicaStatus(ctx context.Context, clusterID, nodeID, id string) (replica.Status, error)
	StopReplica(ctx context.Context, clusterID, nodeID, id string) error
	ReplicaLogs(ctx context.Context, clusterID, nodeID, id string) (string, error)
}

// Platform is what services ask of the control plane.
type Platform interface {
	// PodAddress gives the node interface nic an address of its subnet
	// for the pod name (the one it has, when it has one).
	PodAddress(ctx context.Context, nic, name string) (netip.Addr, error)
	// ReleasePodAddress takes it back; a missing one is not an error.
	ReleasePodAddress(ctx context.Context, nic, name string) error
}

// Config configures a Controller.
type Config struct {
	Fabric   fabric.Fabric
	Nodes    Nodes
	Platform Platform
	Logger   *slog.Logger
	// Interval is how often each service's replicas are checked (0: 2s).
	Interval time.Duration
}

// Spec is a service as the controller runs it.
type Spec struct {
	ID, Name  string
	ClusterID string
	// FrontEnd is the cluster's azureml-fe: where scoring calls arrive.
	FrontEnd fabric.Endpoint
	// TLS, when set, is the cluster's sslConfiguration: the front end
	// takes scoring calls on FrontEndTLSPort too. Every service of a
	// cluster carries the same.
	TLS *TLS
	// Generation changes with every deployment: replicas of another
	// generation are replaced.
	Generation int64
	Entry      replica.Script
	Model      []replica.File
	Env        map[string]string
	CACert     string
	// Fixed is numReplicas (0: autoscale between Min and Max, aiming at
	// TargetUtilization percent of the workers busy, every Refresh).
	Fixed                int
	Min, Max             int
	TargetUtilization    int
	Refresh              time.Duration
	Workers              int
	MaxWaitMs, TimeoutMs int
	MaxBodyBytes         int64
	// Retry sends a call whose replica failed before answering to
	// another ready replica (the service says its calls are idempotent).
	Retry    bool
	Keys     []string // accepted keys; none: no key auth
	TokenKey []byte   // token auth: the tokens' HMAC key
}

// Controller runs web services. Create it with New.
type Controller struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	services map[string]*service // by lower-cased id
	fronts   map[string]*front   // by lower-cased cluster id
	// names are the TLS names the fronts registered with the fabric, by
	// lower-cased name: the front that registered each last.
	names  map[string]*front
	closed bool
	wg     sync.WaitGroup
}

// New returns a controller with no services.
func New(cfg Config) *Controller {
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{cfg: cfg, log: log, services: map[string]*service{}, fronts: map[string]*front{}, names: map[string]*front{}}
}

// service is one running service.
type service struct {
	c  *Controller
	mu sync.Mutex
	sp Spec
	// slots are the replicas, by index; desired how many there should be.
	slots   []*slot
	desired int
	state   string
	err     *api.ServiceError
	healthy bool // has been Healthy once
	// inflight counts requests the front end is passing to replicas
	// (autoscale's measure); lastScale is when desired last changed.
	inflight  atomic.Int64
	busySum   float64
	busyN     int
	lastScale time.Time
	rr        atomic.Uint64
	// next, when set, is closed when the next round ends (Settled,
	// waitReady): one channel however many wait.
	next chan struct{}
	kick chan struct{}
	// callKick asks for a round for a scoring call that found no ready
	// replica: run spaces those rounds minCallRound apart.
	callKick chan struct{}
	stop     chan struct{}
	stopped  chan struct{}
}

// slot is one replica of a service.
type slot struct {
	id      string
	node    compute.NodeRef
	pod     netip.Addr
	gen     int64
	status  replica.Status
	exposed fabric.Closer
	port    int // the port exposed
	err     string
}

func (sl *slot) ready() bool {
	return sl != nil && sl.exposed != nil && sl.status.State == replica.Running && sl.status.Generation == sl.gen
}

// Upsert deploys a service, or redeploys it with a new spec.
func (c *Controller) Upsert(sp Spec) error {
	key := strings.ToLower(sp.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("the server is shutting down")
	}
	if err := c.frontFor(sp); err != nil {
		return err
	}
	if s, ok := c.services[key]; ok {
		s.mu.Lock()
		if sp.Generation != s.sp.Generation {
			s.healthy = false
			s.state, s.err = api.ServiceTransitioning, nil
		}
		s.sp = sp
		s.desired = initialReplicas(sp)
		s.mu.Unlock()
		s.wake()
		return nil
	}
	s := &service{c: c, sp: sp, desired: initialReplicas(sp), state: api.ServiceTransitioning,
		kick: make(chan struct{}, 1), callKick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	c.services[key] = s
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		s.run()
	}()
	return nil
}

func initialReplicas(sp Spec) int {
	if sp.Fixed > 0 {
		return sp.Fixed
	}
	return max(sp.Min, 1)
}

// Remove stops a service's replicas and releases their addresses.
func (c *Controller) Remove(ctx context.Context, id string) {
	key := strings.ToLower(id)
	c.mu.Lock()
	s, ok := c.services[key]
	delete(c.services, key)
	c.mu.Unlock()
	if !ok {
		return
	}
	close(s.stop)
	<-s.stopped
	s.mu.Lock()
	slots := s.slots
	s.slots = nil
	s.mu.Unlock()
	for _, sl := range slots {
		s.removeSlot(ctx, sl)
	}
}

// Close stops every service's loop and every front end; replicas stop
// with their nodes. Closing again does nothing.
// RemoveCluster stops the front end of an inference cluster that was
// deleted: its listeners close and its scoring name stops resolving.
// Services still naming the cluster answer nothing until it is created
// again (their next deployment starts a new front end).
func (c *Controller) RemoveCluster(clusterID string) {
	key := strings.ToLower(clusterID)
	c.mu.Lock()
	f, ok := c.fronts[key]
	delete(c.fronts, key)
	if ok {
		c.releaseName(f)
	}
	c.mu.Unlock()
	if ok {
		f.close()
	}
}

func (c *Controller) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	svcs := make([]*service, 0, len(c.services))
	for _, s := range c.services {
		svcs = append(svcs, s)
	}
	fronts := c.fronts
	c.fronts = map[string]*front{}
	for _, f := range fronts {
		c.releaseName(f)
	}
	c.mu.Unlock()
	for _, s := range svcs {
		close(s.stop)
	}
	c.wg.Wait()
	for _, s := range svcs {
		s.mu.Lock()
		for _, sl := range s.slots {
			if sl != nil && sl.exposed != nil {
				sl.exposed.Close()
			}
		}
		s.mu.Unlock()
	}
	for _, f := range fronts {
		f.close()
	}
}

// Status is a service's state and replicas, as the API shows them.
type Status struct {
	State    string
	Error    *api.ServiceError
	Replicas []api.ServiceReplica
}

// Status returns a service's status; false when it does not run.
func (c *Controller) Status(id string) (Status, bool) {
	s := c.service(id)
	if s == nil {
		return Status{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{State: s.state, Error: s.err}
	for _, sl := range s.slots {
		if sl == nil {
			continue
		}
		r := api.ServiceReplica{ID: sl.id, NodeID: sl.node.ID, PodAddress: sl.pod.String(), State: sl.status.State, Restarts: sl.status.Restarts, Error: sl.err}
		if r.State == "" {
			r.State = replica.Starting
		}
		st.Replicas = append(st.Replicas, r)
	}
	return st, true
}

// Logs returns the output of a service's replicas.
func (c *Controller) Logs(ctx context.Context, id string) (string, error) {
	s := c.service(id)
	if s == nil {
		return "", errors.New("the service does not run")
	}
	s.mu.Lock()
	slots := append([]*slot(nil), s.slots...)
	cluster := s.sp.ClusterID
	s.mu.Unlock()
	var b strings.Builder
	for _, sl := range slots {
		if sl == nil {
			continue
		}
		fmt.Fprintf(&b, "--- replica %s on node %s (%s) ---\n", sl.id, sl.node.ID, sl.pod)
		out, err := c.cfg.Nodes.ReplicaLogs(ctx, cluster, sl.node.ID, sl.id)
		if err != nil {
			fmt.Fprintf(&b, "(its logs could not be read: %v)\n", err)
			continue
		}
		b.WriteString(out)
		if !strings.HasSuffix(out, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String(), nil
}

// Settled waits until the service's next round of checks has ended (or
// ctx ends): what Status says then reflects the replicas as they were.
func (c *Controller) Settled(ctx context.Context, id string) {
	s := c.service(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	done := s.nextRound()
	s.mu.Unlock()
	s.wake()
	select {
	case <-done:
	case <-ctx.Done():
	case <-s.stopped:
	}
}

// nextRound returns the channel closed when the next round ends. The
// caller holds s.mu.
func (s *service) nextRound() chan struct{} {
	if s.next == nil {
		s.next = make(chan struct{})
	}
	return s.next
}

func (c *Controller) front(cluster string) *front {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fronts[strings.ToLower(cluster)]
}

func (c *Controller) service(id string) *service {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.services[strings.ToLower(id)]
}

func (s *service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// minCallRound is the least time between the starts of two rounds a
// scoring call asks for (waitReady): a flood of calls to a service with
// no ready replica — swagger.json needs no key — would otherwise run its
// rounds, each a health probe and a request to a node per replica, back
// to back.
const minCallRound = 100 * time.Millisecond

// run reconciles the service every interval, or at once when woken (a
// deployment, Settled), or for a scoring call, at most every
// minCallRound.
func (s *service) run() {
	defer close(s.stopped)
	t := time.NewTicker(s.c.cfg.Interval)
	defer t.Stop()
	gap := min(minCallRound, s.c.cfg.Interval)
	for {
		began := time.Now()
		s.mu.Lock()
		next := s.next
		s.next = nil
		s.mu.Unlock()
		s.reconcile()
		if next != nil {
			close(next)
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		case <-s.callKick:
			if wait := gap - time.Since(began); wait > 0 {
				pause := time.NewTimer(wait)
				select {
				case <-s.stop:
					pause.Stop()
					return
				case <-s.kick:
				case <-pause.C:
				}
				pause.Stop()
			}
		}
	}
}

// reconcile places, replaces, checks and removes replicas, then says how
// the service is.
func (s *service) reconcile() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.c.cfg.Interval+30*time.Second)
	defer cancel()
	s.autoscale()
	s.mu.Lock()
	sp, desired := s.sp, s.desired
	for len(s.slots) < desired {
		s.slots = append(s.slots, nil)
	}
	extra := append([]*slot(nil), s.slots[desired:]...)
	s.slots = s.slots[:desired]
	slots := append([]*slot(nil), s.slots...)
	s.mu.Unlock()
	for _, sl := range extra {
		s.removeSlot(ctx, sl)
	}
	var down *string
	if f := s.c.front(sp.ClusterID); f != nil {
		f.probe(ctx)
		down = f.down.Load()
	}
	for i := range slots {
		sl := s.ensure(ctx, sp, i, slots[i])
		s.mu.Lock()
		if i < len(s.slots) {
			s.slots[i] = sl
		}
		s.mu.Unlock()
	}
	s.judge(down)
}

// ensure places slot i when it has no replica, replaces a replica of an
// older deployment, and exposes a running one at its pod address.
func (s *service) ensure(ctx context.Context, sp Spec, i int, sl *slot) *slot {
	// The front end (pick) and Status read the slots in s.slots under
	// s.mu while this runs without it: change a copy, which reconcile
	// publishes under s.mu.
	if sl != nil {
		cp := *sl
		sl = &cp
	}
	nodes := s.c.cfg.Nodes
	if sl != nil && sl.gen != sp.Generation {
		// A new deployment: the same replica id with a new generation
		// replaces the old one on its node.
		sl.gen = sp.Generation
		sl.status = replica.Status{}
		if sl.exposed != nil {
			sl.exposed.Close()
			sl.exposed, sl.port = nil, 0
		}
		if st, err := nodes.StartReplica(ctx, sp.ClusterID, sl.node.ID, s.replicaSpec(sp, sl)); err != nil {
			sl.err = s.explain(sl.node, err)
		} else {
			sl.status, sl.err = st, ""
		}
	}
	if sl == nil {
		var err error
		if sl, err = s.place(ctx, sp, i); err != nil {
			s.setError("NoNode", err.Error())
			return nil
		}
	}
	st, err := nodes.ReplicaStatus(ctx, sp.ClusterID, sl.node.ID, sl.id)
	var se *nodeagent.StatusError
	if errors.As(err, &se) && se.StatusCode == 404 {
		// The node does not run it (never started — the hand-over
		// failed — or its agent was replaced): start it.
		if st, err = nodes.StartReplica(ctx, sp.ClusterID, sl.node.ID, s.replicaSpec(sp, sl)); err != nil {
			sl.err = s.explain(sl.node, err)
			return sl
		}
		if sl.exposed != nil {
			sl.exposed.Close()
			sl.exposed, sl.port = nil, 0
		}
	}
	switch {
	case errors.Is(err, compute.ErrNoNode):
		// The node went away: the replica goes elsewhere next round.
		s.c.cfg.Platform.ReleasePodAddress(ctx, sl.node.NIC, sl.id)
		if sl.exposed != nil {
			sl.exposed.Close()
		}
		return nil
	case err != nil:
		sl.err = s.explain(sl.node, err)
		return sl
	}
	sl.status, sl.err = st, ""
	if st.Error != nil && st.State != replica.Running {
		sl.err = st.Error.Message
	}
	if st.State == replica.Running && st.Generation == sl.gen && st.Port != sl.port {
		if sl.exposed != nil {
			sl.exposed.Close()
			sl.exposed = nil
		}
		x, err := s.c.cfg.Fabric.Expose(ctx, fabric.Endpoint{NIC: sl.node.NIC, Addr: sl.pod}, ReplicaPort, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(st.Port)))
		if err != nil {
			sl.err = fmt.Sprintf("exposing the replica at %s:%d: %v", sl.pod, ReplicaPort, err)
			return sl
		}
		sl.exposed, sl.port = x, st.Port
	}
	return sl
}

// place starts replica i on the node with the fewest replicas.
func (s *service) place(ctx context.Context, sp Spec, i int) (*slot, error) {
	nodes := s.c.cfg.Nodes.NodeRefs(sp.ClusterID)
	if len(nodes) == 0 {
		// Say why, with the rule, when the cluster knows (its nodes'
		// reasons: Azure Machine Learning refused by the NSG).
		what, why := "inference cluster", "its nodes are still starting, or unusable (vnetml compute list-nodes "+lastSegment(sp.ClusterID)+")"
		if strings.Contains(strings.ToLower(sp.ClusterID), "/managedclusters/") {
			// An attached compute's nodes run under its managed
			// cluster's id, which is not the compute's name: list-nodes
			// takes the compute's.
			ws := ""
			if parts := strings.Split(sp.ID, "/"); len(parts) > 8 && strings.EqualFold(parts[7], "workspaces") {
				ws = " -w " + parts[8]
			}
			what, why = "managed cluster", "its nodes are still starting, or unusable (vnetml compute list-nodes COMPUTE"+ws+", COMPUTE the compute that attaches it)"
		}
		if r, ok := s.c.cfg.Nodes.(interface {
			Nodes(clusterID string) []compute.NodeInfo
		}); ok {
			for _, n := range r.Nodes(sp.ClusterID) {
				if n.Reason != "" {
					why = fmt.Sprintf("node %s is %s: %s", n.NodeID, n.NodeState, n.Reason)
					break
				}
			}
		}
		return nil, fmt.Errorf("%s %s has no usable node to deploy to: %s", what, lastSegment(sp.ClusterID), why)
	}
	load := s.c.replicasPerNode(sp.ClusterID)
	sort.SliceStable(nodes, func(a, b int) bool { return load[nodes[a].ID] < load[nodes[b].ID] })
	n := nodes[0]
	id := fmt.Sprintf("%s-%d", strings.ToLower(sp.Name), i)
	pod, err := s.c.cfg.Platform.PodAddress(ctx, n.NIC, id)
	if err != nil {
		return nil, fmt.Errorf("no pod address for replica %s on node %s: %w", id, n.ID, err)
	}
	sl := &slot{id: id, node: n, pod: pod, gen: sp.Generation}
	st, err := s.c.cfg.Nodes.StartReplica(ctx, sp.ClusterID, n.ID, s.replicaSpec(sp, sl))
	if err != nil {
		sl.err = s.explain(n, err)
		return sl, nil
	}
	sl.status = st
	return sl, nil
}

// replicaSpec is what a node is handed for a slot.
func (s *service) replicaSpec(sp Spec, sl *slot) replica.Spec {
	proxy, _ := s.c.cfg.Fabric.EgressProxy(sl.node.Endpoint())
	body := sp.MaxBodyBytes
	if body <= 0 {
		body = DefaultMaxBodyBytes
	}
	rs := replica.Spec{ID: sl.id, Generation: sp.Generation, Service: sp.Name, Model: sp.Model, Entry: sp.Entry, Env: sp.Env,
		Workers: max(sp.Workers, 1), MaxWaitMs: sp.MaxWaitMs, TimeoutMs: max(sp.TimeoutMs, 1), MaxBodyBytes: body,
		CACert: sp.CACert, Proxy: proxy, NodeAddress: sl.node.Addr.String(), PodAddress: sl.pod.String()}
	// Under the kernel fabric the replica runs in its pod's own
	// namespace, not its node's.
	if nsf, ok := s.c.cfg.Fabric.(fabric.Namespaced); ok {
		rs.Netns, _ = nsf.NetnsPath(fabric.Endpoint{NIC: sl.node.NIC, Addr: sl.pod})
	}
	return rs
}

// explain says why a node could not be asked about a replica.
func (s *service) explain(n compute.NodeRef, err error) string {
	var denied *fabric.Denied
	if errors.As(err, &denied) {
		return fmt.Sprintf("Azure Machine Learning cannot reach node %s (%s) to manage its replicas: %s", n.ID, n.Addr, denied.Verdict.Explain())
	}
	return fmt.Sprintf("node %s (%s): %v", n.ID, n.Addr, err)
}

// removeSlot stops a replica and releases its address.
func (s *service) removeSlot(ctx context.Context, sl *slot) {
	if sl == nil {
		return
	}
	if sl.exposed != nil {
		sl.exposed.Close()
	}
	s.mu.Lock()
	cluster := s.sp.ClusterID
	s.mu.Unlock()
	if err := s.c.cfg.Nodes.StopReplica(ctx, cluster, sl.node.ID, sl.id); err != nil && !errors.Is(err, compute.ErrNoNode) {
		s.c.log.Warn("inference: stopping a replica", "replica", sl.id, "node", sl.node.ID, "error", err)
	}
	if err := s.c.cfg.Platform.ReleasePodAddress(ctx, sl.node.NIC, sl.id); err != nil {
		s.c.log.Warn("inference: releasing a pod address", "replica", sl.id, "error", err)
	}
}

func (s *service) setError(code, msg string) {
	s.mu.Lock()
	s.err = &api.ServiceError{Code: code, Message: msg}
	s.mu.Unlock()
}

// judge sets the service's state from its replicas, and from down: why
// the front end is out of rotation (nil when it is not). It takes s.mu:
// the caller holds no lock (the controller's is taken before a
// service's, never after).
func (s *service) judge(down *string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ready, failed := 0, ""
	var why string
	for _, sl := range s.slots {
		switch {
		case sl.ready() && sl.gen == s.sp.Generation:
			// Only the current deployment's replicas count: a round that
			// began before a redeployment ends with the old ones ready.
			ready++
		case sl != nil && sl.status.State == replica.Failed:
			msg := sl.err
			if sl.status.Error != nil {
				msg = sl.status.Error.Code + ": " + sl.status.Error.Message
			}
			failed = fmt.Sprintf("replica %s on node %s failed: %s", sl.id, sl.node.ID, msg)
		case sl != nil && sl.err != "" && why == "":
			why = fmt.Sprintf("replica %s: %s", sl.id, sl.err)
		}
	}
	switch {
	case failed != "":
		s.state, s.err = api.ServiceFailed, &api.ServiceError{Code: "DeploymentFailed", Message: failed}
	case down != nil:
		s.state, s.err = api.ServiceUnhealthy, &api.ServiceError{Code: "FrontEndOutOfRotation", Message: *down}
	case ready == len(s.slots) && ready > 0:
		s.state, s.err, s.healthy = api.ServiceHealthy, nil, true
	case s.healthy:
		s.state = api.ServiceUnhealthy
		if why != "" {
			s.err = &api.ServiceError{Code: "ReplicasNotReady", Message: why}
		}
	default:
		s.state = api.ServiceTransitioning
		if why != "" {
			s.err = &api.ServiceError{Code: "ReplicasNotReady", Message: why}
		}
	}
}

// autoscale moves the desired replicas toward the target utilization:
// the share of the replicas' workers busy, averaged since the last
// change, every Refresh.
func (s *service) autoscale() {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.sp
	if sp.Fixed > 0 {
		s.desired = sp.Fixed
		return
	}
	now := time.Now()
	refresh := max(sp.Refresh, time.Second)
	if now.Sub(s.lastScale) < refresh {
		return
	}
	// No call since the last change is no load at all: the service
	// shrinks toward its minimum.
	util := 0.0
	if s.busyN > 0 {
		capacity := float64(max(len(s.slots), 1) * max(sp.Workers, 1))
		util = 100 * s.busySum / float64(s.busyN) / capacity
	}
	target := float64(max(sp.TargetUtilization, 1))
	want := s.desired
	switch {
	case util > target:
		want = s.desired + 1
	case util < target/2 && s.desired > sp.Min:
		want = s.desired - 1
	}
	s.desired = min(max(want, max(sp.Min, 1)), max(sp.Max, 1))
	s.busySum, s.busyN, s.lastScale = 0, 0, now
}

// sample records the requests in flight (the front end calls it).
func (s *service) sample() {
	s.mu.Lock()
	s.busySum += float64(s.inflight.Load())
	s.busyN++
	s.mu.Unlock()
}

// replicasPerNode counts the replicas of every service on each node of a
// cluster.
func (c *Controller) replicasPerNode(clusterID string) map[string]int {
	c.mu.Lock()
	svcs := make([]*service, 0, len(c.services))
	for _, s := range c.services {
		svcs = append(svcs, s)
	}
	c.mu.Unlock()
	out := map[string]int{}
	for _, s := range svcs {
		s.mu.Lock()
		if strings.EqualFold(s.sp.ClusterID, clusterID) {
			for _, sl := range s.slots {
				if sl != nil {
					out[sl.node.ID]++
				}
			}
		}
		s.mu.Unlock()
	}
	return out
}

func lastSegment(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }
