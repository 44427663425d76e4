package compute

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
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
	// Start starts the agent of a new node.
	Start(ctx context.Context, clusterID, nodeID string) (Agent, error)
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
	// from Batch node management); on PortManagement it also renews the
	// agent's lease.
	Check(ctx context.Context, port uint16, dial func(ctx context.Context, port uint16) (net.Conn, error)) error
	// Stop stops the agent and every process it started.
	Stop(ctx context.Context) error
	// Done is closed when the agent's process is gone.
	Done() <-chan struct{}
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
}

// Config configures a Controller.
type Config struct {
	Fabric   fabric.Fabric
	Agents   Agents
	Platform Platform
	// ManagementAddr is the address Batch node management calls from in
	// a region (inside BatchNodeManagement.<region>).
	ManagementAddr func(location string) (netip.Addr, bool)
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

// NodeError is one entry of a cluster's status errors.
type NodeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
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
	Errors                        []NodeError     `json:"errors,omitempty"`
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
		errs = append(errs, cl.removeNode(ctx, n))
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

// run reconciles the cluster and checks its nodes every interval, or at
// once when woken.
func (cl *cluster) run() {
	defer close(cl.stopped)
	t := time.NewTicker(cl.c.cfg.Interval)
	defer t.Stop()
	for {
		cl.mu.Lock()
		cl.started++
		cl.mu.Unlock()
		cl.reconcile()
		cl.mu.Lock()
		cl.done++
		close(cl.round)
		cl.round = make(chan struct{})
		cl.mu.Unlock()
		select {
		case <-cl.stop:
			return
		case <-t.C:
		case <-cl.kick:
		}
	}
}

// target is the node count the cluster aims at: its demand within
// min_nodes and max_nodes, and within what the subnet fits.
func (cl *cluster) target() int {
	s := cl.spec.Spec
	t := max(s.MinNodes, min(cl.demand, s.MaxNodes))
	if cl.spec.Fits >= 0 && t > cl.spec.Fits {
		t = cl.spec.Fits
	}
	return t
}

// reconcile brings the node count to the target and checks every node.
func (cl *cluster) reconcile() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*cl.c.cfg.Interval+10*time.Second)
	defer cancel()
	now := cl.c.cfg.Now()

	cl.retryNICs(ctx)
	// Nodes whose agent is gone, and preempted ones, leave.
	for _, n := range cl.snapshotNodes() {
		gone := false
		select {
		case <-n.agent.Done():
			gone = true
		default:
		}
		cl.mu.Lock()
		preempted := n.state == StatePreempted
		cl.mu.Unlock()
		if gone || preempted {
			if gone {
				cl.c.log.Warn("compute: a node's agent is gone; the node is replaced", "cluster", cl.settings().ID, "node", n.id)
			}
			cl.removeNode(ctx, n)
		}
	}

	cl.mu.Lock()
	target, have, stalled := cl.target(), len(cl.nodes), cl.stalled
	var idle, unusable []*node
	proven, preparing := false, false
	for _, n := range cl.nodes {
		switch n.state {
		case StateUnusable:
			unusable = append(unusable, n)
		case StateIdle:
			idle = append(idle, n)
			proven = true
		case StateRunning:
			proven = true
		case StatePreparing:
			preparing = true
		}
	}
	cl.mu.Unlock()

	// Grow: all at once when a node has shown that the network lets
	// management through; else a few, checked before any more.
	grow := target
	if !proven {
		if preparing {
			grow = have
		} else {
			grow = min(target, have+cl.c.cfg.UnusableLimit)
		}
	}
	added := 0
	for have < grow && stalled == "" {
		if err := cl.addNode(ctx); err != nil {
			cl.setError("NodeAllocationFailed", err.Error())
			break
		}
		have++
		added++
	}
	// Shrink, down to the target: unusable nodes first, at once (as Batch
	// removes them first), then idle nodes past the idle time.
	if have > target {
		spec := cl.settings().Spec
		sort.Slice(idle, func(i, j int) bool { return idle[i].idleSince.Before(idle[j].idleSince) })
		for _, n := range append(unusable, idle...) {
			if have <= target {
				break
			}
			cl.mu.Lock()
			leave := n.state == StateUnusable || now.Sub(n.idleSince) >= spec.IdleBeforeScaleDown || spec.MaxNodes < have
			if leave {
				n.state = StateLeaving
			}
			cl.mu.Unlock()
			if leave {
				cl.removeNode(ctx, n)
				have--
			}
		}
	}

	for _, n := range cl.snapshotNodes() {
		cl.check(ctx, n)
	}
	cl.updateAllocation()
	// The first nodes proved the network: grow the rest at once.
	cl.mu.Lock()
	more := added > 0 && cl.stalled == "" && len(cl.nodes) < cl.target() && !proven
	cl.mu.Unlock()
	if more {
		cl.wake()
	}
}

// addNode creates a node: its NIC, its agent, and its management ports in
// the fabric.
func (cl *cluster) addNode(ctx context.Context) error {
	spec := cl.settings()
	id := newNodeID(strings.EqualFold(spec.Spec.VMPriority, "LowPriority"))
	nic, addr, err := cl.c.cfg.Platform.CreateNIC(ctx, spec, id)
	if err != nil {
		return fmt.Errorf("creating the network interface of a new node: %w", err)
	}
	ag, err := cl.c.cfg.Agents.Start(ctx, spec.ID, id)
	if err != nil {
		cl.deleteNIC(ctx, nic)
		return fmt.Errorf("starting the agent of node %s: %w", id, err)
	}
	n := &node{id: id, nic: nic, addr: addr, agent: ag, state: StatePreparing}
	if err := cl.expose(ctx, n); err != nil {
		ag.Stop(ctx)
		cl.deleteNIC(ctx, nic)
		return err
	}
	cl.mu.Lock()
	cl.nodes[id] = n
	cl.mu.Unlock()
	return nil
}

// expose serves the node's management ports at its NIC's address.
func (cl *cluster) expose(ctx context.Context, n *node) error {
	ep := fabric.Endpoint{NIC: n.nic, Addr: n.addr}
	for _, p := range []struct {
		port uint16
		real netip.AddrPort
	}{{PortManagement, n.agent.Management()}, {PortControl, n.agent.Control()}} {
		x, err := cl.c.cfg.Fabric.Expose(ctx, ep, p.port, p.real)
		if err != nil {
			for _, e := range n.exposed {
				e.Close()
			}
			return fmt.Errorf("exposing node %s's port %d: %w", n.id, p.port, err)
		}
		n.exposed = append(n.exposed, x)
	}
	return nil
}

// check reaches a node's management ports through the fabric from a
// BatchNodeManagement address, as Batch does: refused → unusable, with the
// deciding rule; answered → idle (or running).
func (cl *cluster) check(ctx context.Context, n *node) {
	spec := cl.settings()
	from, ok := cl.c.cfg.ManagementAddr(spec.Location)
	reason := ""
	if !ok {
		reason = "no BatchNodeManagement." + spec.Location + " address: the service tags in use have no such tag"
	}
	for _, port := range []uint16{PortManagement, PortControl} {
		if reason != "" {
			break
		}
		var denied *fabric.Denied
		dial := func(ctx context.Context, port uint16) (net.Conn, error) {
			c, err := cl.c.cfg.Fabric.DialEndpoint(ctx, fabric.Endpoint{Addr: from}, fabric.Endpoint{NIC: n.nic, Addr: n.addr}, port)
			errors.As(err, &denied)
			return c, err
		}
		if err := n.agent.Check(ctx, port, dial); err != nil {
			if denied != nil {
				reason = fmt.Sprintf("Batch node management cannot reach the node on TCP %d: %s", port, denied.Verdict.Explain())
			} else {
				reason = fmt.Sprintf("Batch node management gets no answer from the node on TCP %d: %v", port, err)
			}
		}
	}
	now := cl.c.cfg.Now()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	first := !n.checked
	n.checked = true
	switch {
	case n.state == StateLeaving || n.state == StatePreempted:
	case reason != "":
		if n.state != StateUnusable {
			cl.c.log.Warn("compute: node unusable", "cluster", spec.ID, "node", n.id, "reason", reason)
		}
		n.state, n.reason = StateUnusable, reason
		if first {
			cl.unusableStreak++
			if cl.unusableStreak >= cl.c.cfg.UnusableLimit && cl.stalled == "" {
				cl.stalled = fmt.Sprintf("autoscale stopped adding nodes: the last %d new nodes were unusable. %s. Fix the rule, then update the cluster (or wait: nodes recover by themselves once the rule is fixed).", cl.unusableStreak, reason)
			}
		}
	default:
		// A healthy node: whatever stalled autoscale is fixed.
		cl.unusableStreak, cl.stalled = 0, ""
		if n.state != StateIdle && n.state != StateRunning {
			n.idleSince = now
		}
		if n.runID != "" {
			n.state = StateRunning
		} else {
			n.state = StateIdle
		}
		n.reason = ""
	}
}

// updateAllocation computes the allocation state and the errors.
func (cl *cluster) updateAllocation() {
	now := cl.c.cfg.Now()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	alloc := AllocationSteady
	if len(cl.nodes) != cl.target() {
		alloc = AllocationResizing
	}
	for _, n := range cl.nodes {
		if n.state == StatePreparing || n.state == StateLeaving {
			alloc = AllocationResizing
		}
	}
	if cl.stalled != "" {
		alloc = AllocationSteady // it stopped trying
	}
	if alloc != cl.alloc {
		cl.alloc, cl.allocSince = alloc, now
	}
	var errs []NodeError
	if s := cl.spec; s.Fits >= 0 && s.Fits < s.Spec.MaxNodes {
		errs = append(errs, NodeError{Code: "InsufficientSubnetAddresses", Message: fmt.Sprintf(
			"Partial allocation: subnet %s has free addresses for %d nodes, and max_nodes is %d; the cluster will not grow past %d. Use a larger subnet (each node takes one address; Azure keeps 5 per subnet), or lower max_nodes.",
			lastSegment(s.SubnetID), s.Fits, s.Spec.MaxNodes, s.Fits)})
	}
	if cl.stalled != "" {
		errs = append(errs, NodeError{Code: "NodesUnusable", Message: cl.stalled})
	}
	for nic, why := range cl.nicsLeft {
		errs = append(errs, NodeError{Code: "NodeDeallocationFailed", Message: fmt.Sprintf(
			"The network interface %s of a node that left could not be deleted: %s. It is retried every round.", lastSegment(nic), why)})
	}
	var unusable []string
	for _, n := range cl.nodes {
		if n.state == StateUnusable {
			unusable = append(unusable, n.id+": "+n.reason)
		}
	}
	slices.Sort(unusable)
	if len(unusable) > 0 && cl.stalled == "" {
		errs = append(errs, NodeError{Code: "NodesUnusable", Message: fmt.Sprintf("%d node(s) unusable. %s", len(unusable), unusable[0])})
	}
	errs = append(errs, cl.errors...)
	cl.errors = nil
	cl.lastErrors = errs
}

func (cl *cluster) setError(code, msg string) {
	cl.mu.Lock()
	cl.errors = append(cl.errors, NodeError{Code: code, Message: msg})
	cl.mu.Unlock()
}

func (cl *cluster) status() Status {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	s := Status{AllocationState: cl.alloc, AllocationStateTransitionTime: cl.allocSince, CurrentNodeCount: len(cl.nodes),
		TargetNodeCount: cl.target(), Errors: cl.lastErrors}
	for _, n := range cl.nodes {
		switch n.state {
		case StateIdle:
			s.NodeStateCounts.Idle++
		case StateRunning:
			s.NodeStateCounts.Running++
		case StatePreparing:
			s.NodeStateCounts.Preparing++
		case StateUnusable:
			s.NodeStateCounts.Unusable++
		case StateLeaving:
			s.NodeStateCounts.Leaving++
		case StatePreempted:
			s.NodeStateCounts.Preempted++
		}
	}
	return s
}

// removeNode stops a node's agent, closes its ports and deletes its NIC
// (or keeps it to retry, when that fails).
func (cl *cluster) removeNode(ctx context.Context, n *node) error {
	cl.closeNode(ctx, n)
	cl.mu.Lock()
	delete(cl.nodes, n.id)
	cl.mu.Unlock()
	return cl.deleteNIC(ctx, n.nic)
}

// deleteNIC deletes a node's interface; one that cannot be deleted is
// retried every round, and reported.
func (cl *cluster) deleteNIC(ctx context.Context, nic string) error {
	err := cl.c.cfg.Platform.DeleteNIC(ctx, nic)
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if err != nil {
		if cl.nicsLeft == nil {
			cl.nicsLeft = map[string]string{}
		}
		cl.nicsLeft[nic] = err.Error()
		return err
	}
	delete(cl.nicsLeft, nic)
	return nil
}

// retryNICs deletes the interfaces that could not be deleted before.
func (cl *cluster) retryNICs(ctx context.Context) {
	cl.mu.Lock()
	nics := make([]string, 0, len(cl.nicsLeft))
	for nic := range cl.nicsLeft {
		nics = append(nics, nic)
	}
	cl.mu.Unlock()
	for _, nic := range nics {
		cl.deleteNIC(ctx, nic)
	}
}

// closeNode stops a node's agent and closes its ports.
func (cl *cluster) closeNode(ctx context.Context, n *node) {
	for _, x := range n.exposed {
		x.Close()
	}
	n.exposed = nil
	if err := n.agent.Stop(ctx); err != nil {
		cl.c.log.Warn("compute: stopping a node's agent", "node", n.id, "error", err)
	}
}

// adopt takes over the live agents a previous server left for this
// cluster (their NICs are found again by the platform), and deletes the
// network interfaces of nodes that did not survive.
func (cl *cluster) adopt(ctx context.Context) {
	for nodeID, clusterID := range cl.c.cfg.Agents.Orphans() {
		if !strings.EqualFold(clusterID, cl.spec.ID) {
			continue
		}
		ag, err := cl.c.cfg.Agents.Adopt(ctx, nodeID)
		if err != nil {
			cl.c.log.Warn("compute: a node agent left by a previous server cannot be adopted; it is reaped and replaced", "node", nodeID, "error", err)
			cl.c.cfg.Agents.Reap(ctx, nodeID)
			continue
		}
		nic, addr, err := cl.c.cfg.Platform.CreateNIC(ctx, cl.spec, nodeID)
		if err == nil {
			n := &node{id: nodeID, nic: nic, addr: addr, agent: ag, state: StatePreparing}
			if err = cl.expose(ctx, n); err == nil {
				cl.nodes[nodeID] = n
				cl.c.log.Info("compute: adopted a live node agent", "cluster", cl.spec.ID, "node", nodeID)
				continue
			}
		}
		cl.c.log.Warn("compute: an adopted node agent has no usable network interface; it is stopped and replaced", "node", nodeID, "error", err)
		ag.Stop(ctx)
	}
	for nodeID, nic := range cl.c.cfg.Platform.NodeNICs(cl.spec.ID) {
		if _, ok := cl.nodes[nodeID]; !ok {
			if err := cl.c.cfg.Platform.DeleteNIC(ctx, nic); err != nil {
				cl.c.log.Warn("compute: deleting the network interface of a node that is gone", "node", nodeID, "nic", nic, "error", err)
			}
		}
	}
}

func lastSegment(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }

// newNodeID returns a node id in Batch's form: tvmps_<hex>_d for a
// dedicated node, _p for a low-priority one.
func newNodeID(lowPriority bool) string {
	var b [12]byte
	rand.Read(b[:])
	suffix := "_d"
	if lowPriority {
		suffix = "_p"
	}
	return "tvmps_" + hex.EncodeToString(b[:]) + suffix
}
