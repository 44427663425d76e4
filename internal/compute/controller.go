package compute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/nodeagent"
	"github.com/vnetml/vnetml/internal/replica"
)

// Batch's node management ports (DESIGN.md §5): the node manager reaches
// every node on both, from a BatchNodeManagement address.
const (
	PortManagement = 29876
	PortControl    = 29877
)

// Node states, as Azure ML reports them (surface §A.4).
const (
	StatePreparing = "preparing"
	StateIdle      = "idle"
	StateRunning   = "running"
	StateUnusable  = "unusable"
	StateLeaving   = "leaving"
	StatePreempted = "preempted"
)

// Allocation states.
const (
	AllocationSteady   = "Steady"
	AllocationResizing = "Resizing"
)

// Agents starts and finds node agent processes (internal/nodeagent).
type Agents interface {
	// Start starts the agent of a new node, whose network interface is
	// nic with address addr.
	Start(ctx context.Context, clusterID, nodeID, nic string, addr netip.Addr) (Agent, error)
	// Adopt takes over a live agent a previous server started.
	Adopt(ctx context.Context, nodeID string) (Agent, error)
	// Orphans lists the nodes whose agent lives but is managed by nobody
	// (a server that died), with the cluster each belongs to.
	Orphans() map[string]string
	// Reap stops an orphan and forgets it.
	Reap(ctx context.Context, nodeID string) error
	// Detach stops managing every agent without stopping it (a hand-over
	// to another server over the same state).
	Detach()
}

// Agent is one node's running agent.
type Agent interface {
	// Management and Control are the real loopback addresses the fabric
	// exposes at the node's NIC on PortManagement and PortControl.
	Management() netip.AddrPort
	Control() netip.AddrPort
	// Check asks the agent whether it answers on port (PortManagement
	// or PortControl), over connections dial opens (through the fabric,
	// from Batch node management); an answer on PortManagement renews the
	// agent's lease.
	Check(ctx context.Context, port uint16, dial func(ctx context.Context, port uint16) (net.Conn, error)) error
	// SubmitJob, JobStatus, CancelJob and RebindJob are the node's job
	// API on its control port (internal/job), over connections dial
	// opens (through the fabric, from Batch node management).
	SubmitJob(ctx context.Context, dial nodeagent.Dial, spec job.Spec) (job.Status, error)
	JobStatus(ctx context.Context, dial nodeagent.Dial, runID string) (job.Status, error)
	CancelJob(ctx context.Context, dial nodeagent.Dial, runID string) error
	RebindJob(ctx context.Context, dial nodeagent.Dial, runID, proxy string) error
	// StartReplica, ReplicaStatus, StopReplica and ReplicaLogs are the
	// node's replica API (internal/replica), likewise.
	StartReplica(ctx context.Context, dial nodeagent.Dial, spec replica.Spec) (replica.Status, error)
	ReplicaStatus(ctx context.Context, dial nodeagent.Dial, id string) (replica.Status, error)
	StopReplica(ctx context.Context, dial nodeagent.Dial, id string) error
	ReplicaLogs(ctx context.Context, dial nodeagent.Dial, id string) (string, error)
	// Stop stops the agent and every process it started.
	Stop(ctx context.Context) error
	// Done is closed when the agent's process is gone; Err then says how
	// it ended.
	Done() <-chan struct{}
	Err() error
}

// Platform is what the controller asks of the control plane: the node's
// network interface, in the cluster's subnet with its NSG.
type Platform interface {
	// CreateNIC creates node's network interface (or returns the one it
	// has) and returns its id and private address.
	CreateNIC(ctx context.Context, c Cluster, node string) (id string, addr netip.Addr, err error)
	// DeleteNIC deletes a node's network interface; a missing one is not
	// an error.
	DeleteNIC(ctx context.Context, id string) error
	// NodeNICs lists the network interfaces of a cluster's nodes, by node
	// id (those a previous server left).
	NodeNICs(clusterID string) map[string]string
}

// Cluster is what the controller runs: a compute's settings as stored.
type Cluster struct {
	ID       string // the compute's resource id
	Location string
	// SubnetID is the subnet the nodes are in; NSGID the cluster's own
	// network security group, on every node's NIC.
	SubnetID, NSGID string
	Spec            Spec
	// Fits is how many nodes the subnet has addresses for (fewer than
	// max_nodes: partial allocation).
	Fits int
	// Manager is the service tag whose address manages the nodes and
	// checks them on 29876-29877: "" or ManagerBatch for a training
	// cluster, ManagerAML for an inference cluster.
	Manager string
}

// Config configures a Controller.
type Config struct {
	Fabric   fabric.Fabric
	Agents   Agents
	Platform Platform
	// ManagementAddr is the address Batch node management calls from in
	// a region (inside BatchNodeManagement.<region>).
	ManagementAddr func(location string) (netip.Addr, bool)
	// ManagerAddr is the address another manager (a cluster's Manager,
	// such as AzureMachineLearning) calls from in a region; nil when only
	// Batch manages nodes.
	ManagerAddr func(tag, location string) (netip.Addr, bool)
	// Interval is how often every node is checked (0: 2s).
	Interval time.Duration
	// UnusableLimit is how many nodes in a row may turn unusable right
	// after they start before autoscale stops adding nodes (0: 3).
	UnusableLimit int
	Logger        *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Controller runs every compute cluster's nodes. Create it with New.
type Controller struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	clusters map[string]*cluster // by lower-cased id
	closed   bool
	wg       sync.WaitGroup
	// lost is told of a node that went away while it ran a run.
	lost atomic.Pointer[func(clusterID, nodeID, runID, reason string)]
	// idle is told of a node that became idle.
	idle atomic.Pointer[func(clusterID string)]
}

// New returns a controller with no clusters.
func New(cfg Config) *Controller {
	if cfg.Interval == 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.UnusableLimit == 0 {
		cfg.UnusableLimit = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{cfg: cfg, log: log, clusters: map[string]*cluster{}}
}

// NodeError is a problem of a cluster: a code and what to do.
type NodeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// StatusError is one entry of a cluster's status errors, in ARM's shape
// (MachineLearningServiceError): {"error": {"code", "message"}}.
type StatusError struct {
	Error NodeError `json:"error"`
}

// NodeStateCounts counts nodes by state, in the API's shape.
type NodeStateCounts struct {
	Idle      int `json:"idleNodeCount"`
	Running   int `json:"runningNodeCount"`
	Preparing int `json:"preparingNodeCount"`
	Unusable  int `json:"unusableNodeCount"`
	Leaving   int `json:"leavingNodeCount"`
	Preempted int `json:"preemptedNodeCount"`
}

// Status is a cluster's state in the API's shape (surface §A.4).
type Status struct {
	AllocationState               string          `json:"allocationState"`
	AllocationStateTransitionTime time.Time       `json:"allocationStateTransitionTime"`
	CurrentNodeCount              int             `json:"currentNodeCount"`
	TargetNodeCount               int             `json:"targetNodeCount"`
	NodeStateCounts               NodeStateCounts `json:"nodeStateCounts"`
	Errors                        []StatusError   `json:"errors,omitempty"`
}

// NodeInfo is one node as list_nodes shows it, plus why it is unusable.
type NodeInfo struct {
	NodeID           string `json:"nodeId"`
	PrivateIPAddress string `json:"privateIpAddress"`
	PublicIPAddress  string `json:"publicIpAddress,omitempty"`
	Port             int    `json:"port"`
	NodeState        string `json:"nodeState"`
	RunID            string `json:"runId,omitempty"`
	// Reason says why a node is unusable: the deciding rule and the fix.
	Reason string `json:"reason,omitempty"`
}

// cluster is one running cluster.
type cluster struct {
	c    *Controller
	mu   sync.Mutex
	spec Cluster
	// demand is the nodes the work queued or running needs (runs).
	demand int
	nodes  map[string]*node
	// unusableStreak counts nodes in a row that were unusable at their
	// first check; stalled is set when it reached the limit.
	unusableStreak int
	stalled        string
	errors         []NodeError // new since the last status
	lastErrors     []NodeError // of the last reconcile
	alloc          string
	allocSince     time.Time
	kick           chan struct{}
	stop           chan struct{}
	stopped        chan struct{}
	// nicsLeft are network interfaces of nodes that left which could not
	// be deleted yet (a lock): retried every round.
	nicsLeft map[string]string // nic id → why it is still there
	// round is closed, and replaced, whenever a reconcile round ends;
	// started and done count rounds begun and ended.
	round         chan struct{}
	started, done uint64
}

// node is one node of a cluster.
type node struct {
	id        string
	nic       string
	addr      netip.Addr
	agent     Agent
	exposed   []fabric.Closer
	state     string
	reason    string
	checked   bool // has been checked once
	idleSince time.Time
	runID     string
}

// Upsert starts running a cluster, or makes a running one follow new
// settings. Live agents a previous server left for it are adopted.
func (c *Controller) Upsert(ctx context.Context, spec Cluster) {
	key := strings.ToLower(spec.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if cl, ok := c.clusters[key]; ok {
		cl.mu.Lock()
		cl.spec = spec
		cl.stalled, cl.unusableStreak = "", 0 // new settings: try again
		cl.mu.Unlock()
		cl.wake()
		return
	}
	cl := &cluster{c: c, spec: spec, nodes: map[string]*node{}, alloc: AllocationSteady, allocSince: c.cfg.Now(),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}), round: make(chan struct{})}
	c.clusters[key] = cl
	// Adoption is the server's business, not the request's that created
	// the cluster: a client that hangs up must not leave orphans behind.
	cl.adopt(context.WithoutCancel(ctx))
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		cl.run()
	}()
}

// Remove stops a cluster's nodes and deletes their network interfaces.
func (c *Controller) Remove(ctx context.Context, id string) error {
	key := strings.ToLower(id)
	c.mu.Lock()
	cl, ok := c.clusters[key]
	delete(c.clusters, key)
	c.mu.Unlock()
	if !ok {
		return nil
	}
	close(cl.stop)
	<-cl.stopped
	var errs []error
	for _, n := range cl.snapshotNodes() {
		errs = append(errs, cl.removeNode(ctx, n, "the compute was deleted"))
	}
	return errors.Join(errs...)
}

// Close stops every cluster's loop and every agent (the server is
// stopping: no process is left behind). Network interfaces stay: the
// next server recreates the nodes. Close may be called more than once.
func (c *Controller) Close(ctx context.Context) {
	for _, cl := range c.takeAll() {
		for _, n := range cl.snapshotNodes() {
			cl.closeNode(ctx, n)
		}
	}
	c.wg.Wait()
}

// Detach stops every cluster's loop and lets go of the agents without
// stopping them: what a server that crashes leaves behind, for the next
// one to adopt. Tests use it to play a crash.
func (c *Controller) Detach() {
	for _, cl := range c.takeAll() {
		for _, n := range cl.snapshotNodes() {
			for _, x := range n.exposed {
				x.Close()
			}
		}
	}
	c.wg.Wait()
	c.cfg.Agents.Detach()
}

// takeAll closes the controller, takes every cluster out of it and stops
// their loops.
func (c *Controller) takeAll() []*cluster {
	c.mu.Lock()
	c.closed = true
	cls := make([]*cluster, 0, len(c.clusters))
	for k, cl := range c.clusters {
		cls = append(cls, cl)
		delete(c.clusters, k)
	}
	c.mu.Unlock()
	for _, cl := range cls {
		close(cl.stop)
		<-cl.stopped
	}
	return cls
}

// ReapOrphans stops the agents a previous server left that no running
// cluster adopted (their cluster is gone), and removes the state of
// agents that ended on their own. The server calls it once it has handed
// over every stored cluster.
func (c *Controller) ReapOrphans(ctx context.Context) {
	for nodeID, clusterID := range c.cfg.Agents.Orphans() {
		if clusterID != "" && c.cluster(clusterID) != nil {
			continue
		}
		if err := c.cfg.Agents.Reap(ctx, nodeID); err != nil {
			c.log.Warn("compute: reaping a node agent no cluster claims", "node", nodeID, "error", err)
		}
	}
}

// Demand sets how many nodes the cluster's work needs (autoscale scales
// up to it, within max_nodes).
func (c *Controller) Demand(id string, n int) {
	if cl := c.cluster(id); cl != nil {
		cl.mu.Lock()
		cl.demand = n
		cl.mu.Unlock()
		cl.wake()
	}
}

// Preempt evicts a low-priority node, as Azure does when it needs the
// capacity back: the node goes preempted and leaves.
func (c *Controller) Preempt(ctx context.Context, id, nodeID string) error {
	cl := c.cluster(id)
	if cl == nil {
		return fmt.Errorf("compute %s is not running", id)
	}
	cl.mu.Lock()
	n, ok := cl.nodes[nodeID]
	lowPriority := strings.EqualFold(cl.spec.Spec.VMPriority, "LowPriority")
	if ok && lowPriority {
		n.state = StatePreempted
	}
	cl.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("compute %s has no node %s", lastSegment(id), nodeID)
	case !lowPriority:
		return fmt.Errorf("compute %s has dedicated nodes, which are never preempted; only low-priority nodes are", lastSegment(id))
	}
	cl.wake()
	return nil
}

// Settled wakes a cluster and waits until a round of reconciling and
// checking its nodes that began after the call has ended (or ctx ends):
// what it reports then reflects the network as it was at the call.
func (c *Controller) Settled(ctx context.Context, id string) {
	cl := c.cluster(id)
	if cl == nil {
		return
	}
	cl.mu.Lock()
	want := cl.started + 1
	cl.mu.Unlock()
	for {
		cl.mu.Lock()
		done, round := cl.done, cl.round
		cl.mu.Unlock()
		if done >= want {
			return
		}
		cl.wake()
		select {
		case <-round:
		case <-cl.stopped:
			return
		case <-ctx.Done():
			return
		}
	}
}

// Status returns a cluster's status; false when it is not running.
func (c *Controller) Status(id string) (Status, bool) {
	cl := c.cluster(id)
	if cl == nil {
		return Status{}, false
	}
	return cl.status(), true
}

// Nodes returns a cluster's nodes, by node id.
func (c *Controller) Nodes(id string) []NodeInfo {
	cl := c.cluster(id)
	if cl == nil {
		return nil
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	out := make([]NodeInfo, 0, len(cl.nodes))
	for _, n := range cl.nodes {
		out = append(out, NodeInfo{NodeID: n.id, PrivateIPAddress: n.addr.String(), Port: PortManagement, NodeState: n.state, RunID: n.runID, Reason: n.reason})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

func (c *Controller) cluster(id string) *cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clusters[strings.ToLower(id)]
}

// settings returns the cluster's settings (Upsert may change them).
func (cl *cluster) settings() Cluster {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.spec
}

func (cl *cluster) wake() {
	select {
	case cl.kick <- struct{}{}:
	default:
	}
}

func (cl *cluster) snapshotNodes() []*node {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	out := make([]*node, 0, len(cl.nodes))
	for _, n := range cl.nodes {
		out = append(out, n)
	}
	return out
}

func lastSegment(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }
