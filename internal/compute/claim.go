package compute

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/job"
)

// This file is what the run scheduler (internal/runs) asks of the
// clusters: a node to run an attempt on, and the node's job API, reached
// as Batch reaches it — through the fabric, from a BatchNodeManagement
// address, to the node's control port.

// NodeRef is a node claimed for a run.
type NodeRef struct {
	ID string
	// NIC and Addr are the node's network interface and its address.
	NIC  string
	Addr netip.Addr
}

// Endpoint is the node as the fabric knows it.
func (n NodeRef) Endpoint() fabric.Endpoint { return fabric.Endpoint{NIC: n.NIC, Addr: n.Addr} }

// Claim takes an idle node of the cluster for a run: the node is running
// from now on, and neither scaled down nor given to another run until
// Release. False when no node is idle (Demand makes autoscale add some).
func (c *Controller) Claim(clusterID, runID string) (NodeRef, bool) {
	cl := c.cluster(clusterID)
	if cl == nil {
		return NodeRef{}, false
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var best *node
	for _, n := range cl.nodes {
		// The node idle the longest: the others may still scale down.
		if n.state == StateIdle && n.runID == "" && (best == nil || n.idleSince.Before(best.idleSince)) {
			best = n
		}
	}
	if best == nil {
		return NodeRef{}, false
	}
	best.runID, best.state = runID, StateRunning
	return NodeRef{ID: best.id, NIC: best.nic, Addr: best.addr}, true
}

// Running reports whether the controller runs the cluster: false for a
// compute that was deleted (or never handed over), whose queued runs
// would wait forever.
func (c *Controller) Running(clusterID string) bool { return c.cluster(clusterID) != nil }

// ClaimNode takes a given node for a run that it already runs (a
// restarted server finding its runs again). False when the cluster has no
// such node, or the node runs another run.
func (c *Controller) ClaimNode(clusterID, nodeID, runID string) (NodeRef, bool) {
	cl := c.cluster(clusterID)
	if cl == nil {
		return NodeRef{}, false
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	n, ok := cl.nodes[nodeID]
	if !ok || n.runID != "" && n.runID != runID || n.state == StateLeaving || n.state == StatePreempted {
		return NodeRef{}, false
	}
	n.runID = runID
	if n.state == StateIdle || n.state == StatePreparing {
		n.state = StateRunning
	}
	return NodeRef{ID: n.id, NIC: n.nic, Addr: n.addr}, true
}

// Release gives a node back once the run it was claimed for ended: it is
// idle (since now) at once.
func (c *Controller) Release(clusterID, nodeID, runID string) {
	cl := c.cluster(clusterID)
	if cl == nil {
		return
	}
	cl.mu.Lock()
	n, ok := cl.nodes[nodeID]
	if ok && n.runID == runID {
		n.runID = ""
		n.idleSince = c.cfg.Now()
		if n.state == StateRunning {
			n.state = StateIdle
		}
	}
	cl.mu.Unlock()
	if ok {
		cl.wake()
	}
}

// OnNodeLost registers the function told of a node that went away while
// it ran a run: its agent exited, it was preempted, or it left. reason
// says which. It is called from the cluster's loop, after the node is
// gone, without locks held.
func (c *Controller) OnNodeLost(fn func(clusterID, nodeID, runID, reason string)) { c.lost.Store(&fn) }

// OnNodeIdle registers the function told when a node of a cluster became
// idle (a new node, or one back from unusable): the scheduler has a node
// to claim. It is called without locks held.
func (c *Controller) OnNodeIdle(fn func(clusterID string)) { c.idle.Store(&fn) }

func (c *Controller) nodeLost(clusterID, nodeID, runID, reason string) {
	if fn := c.lost.Load(); fn != nil && runID != "" {
		(*fn)(clusterID, nodeID, runID, reason)
	}
}

// ErrNoNode is returned by the job calls for a node the cluster does not
// have (any more).
var ErrNoNode = errors.New("no such node")

// SubmitJob hands an attempt to a node.
func (c *Controller) SubmitJob(ctx context.Context, clusterID, nodeID string, spec job.Spec) (job.Status, error) {
	var st job.Status
	err := c.withAgent(ctx, clusterID, nodeID, func(a Agent, dial func(context.Context, uint16) (net.Conn, error)) (err error) {
		st, err = a.SubmitJob(ctx, dial, spec)
		return err
	})
	return st, err
}

// JobStatus asks a node about an attempt.
func (c *Controller) JobStatus(ctx context.Context, clusterID, nodeID, runID string) (job.Status, error) {
	var st job.Status
	err := c.withAgent(ctx, clusterID, nodeID, func(a Agent, dial func(context.Context, uint16) (net.Conn, error)) (err error) {
		st, err = a.JobStatus(ctx, dial, runID)
		return err
	})
	return st, err
}

// CancelJob asks a node to stop an attempt.
func (c *Controller) CancelJob(ctx context.Context, clusterID, nodeID, runID string) error {
	return c.withAgent(ctx, clusterID, nodeID, func(a Agent, dial func(context.Context, uint16) (net.Conn, error)) error {
		return a.CancelJob(ctx, dial, runID)
	})
}

// RebindJob gives a node's attempt a new egress proxy.
func (c *Controller) RebindJob(ctx context.Context, clusterID, nodeID, runID, proxy string) error {
	return c.withAgent(ctx, clusterID, nodeID, func(a Agent, dial func(context.Context, uint16) (net.Conn, error)) error {
		return a.RebindJob(ctx, dial, runID, proxy)
	})
}

// withAgent calls fn with the node's agent and a dial that reaches the
// node through the fabric from the cluster's manager (Batch node
// management, or Azure Machine Learning for an inference cluster): a
// refusal by the network is a *fabric.Denied naming the rule.
func (c *Controller) withAgent(ctx context.Context, clusterID, nodeID string, fn func(Agent, func(context.Context, uint16) (net.Conn, error)) error) error {
	cl := c.cluster(clusterID)
	if cl == nil {
		return fmt.Errorf("compute %s: %w", lastSegment(clusterID), ErrNoNode)
	}
	cl.mu.Lock()
	n, ok := cl.nodes[nodeID]
	spec := cl.spec
	cl.mu.Unlock()
	if !ok {
		return fmt.Errorf("compute %s has no node %s: %w", lastSegment(clusterID), nodeID, ErrNoNode)
	}
	from, _, ok := c.managerAddr(spec)
	if !ok {
		return fmt.Errorf("no %s.%s address: the service tags in use have no such tag", spec.managerTag(), spec.Location)
	}
	return fn(n.agent, func(ctx context.Context, port uint16) (net.Conn, error) {
		return c.cfg.Fabric.DialEndpoint(ctx, fabric.Endpoint{Addr: from}, fabric.Endpoint{NIC: n.nic, Addr: n.addr}, port)
	})
}

// The services that manage a cluster's nodes: Batch for a training
// cluster, Azure Machine Learning for an inference cluster.
const (
	ManagerBatch = "BatchNodeManagement"
	ManagerAML   = "AzureMachineLearning"
)

func (c Cluster) managerTag() string {
	if c.Manager == "" {
		return ManagerBatch
	}
	return c.Manager
}

// managerAddr is where the cluster's manager calls its nodes from, and
// its name for messages.
func (c *Controller) managerAddr(cl Cluster) (netip.Addr, string, bool) {
	if cl.managerTag() == ManagerBatch {
		a, ok := c.cfg.ManagementAddr(cl.Location)
		return a, "Batch node management", ok
	}
	if c.cfg.ManagerAddr == nil {
		return netip.Addr{}, cl.Manager, false
	}
	a, ok := c.cfg.ManagerAddr(cl.Manager, cl.Location)
	return a, "Azure Machine Learning", ok
}
