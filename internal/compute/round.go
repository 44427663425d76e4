package compute

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
)

// This file is a cluster's round: reconciling its node count, checking
// every node through the fabric, and what the round reports.

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
			why := "it was preempted (a low-priority node Azure took back)"
			if gone {
				cl.c.log.Warn("compute: a node's agent is gone; the node is replaced", "cluster", cl.settings().ID, "node", n.id)
				why = "its agent exited"
				if err := n.agent.Err(); err != nil {
					why += " (" + err.Error() + ")"
				}
			}
			cl.removeNode(ctx, n, why)
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
			// A node claimed for a run since the list was taken stays.
			leave := n.runID == "" && (n.state == StateUnusable || n.state == StateIdle &&
				(now.Sub(n.idleSince) >= spec.IdleBeforeScaleDown || spec.MaxNodes < have))
			if leave {
				n.state = StateLeaving
			}
			cl.mu.Unlock()
			if leave {
				cl.removeNode(ctx, n, "it was unusable and the cluster scaled down")
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
	ag, err := cl.c.cfg.Agents.Start(ctx, spec.ID, id, nic, addr)
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

// check reaches a node's management ports through the fabric from the
// cluster's manager's address (BatchNodeManagement, as Batch does, or
// AzureMachineLearning for an inference cluster): refused → unusable,
// with the deciding rule; answered → idle (or running).
func (cl *cluster) check(ctx context.Context, n *node) {
	spec := cl.settings()
	from, manager, ok := cl.c.managerAddr(spec)
	reason := ""
	if !ok {
		reason = "no " + spec.managerTag() + "." + spec.Location + " address: the service tags in use have no such tag"
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
				reason = fmt.Sprintf("%s cannot reach the node on TCP %d: %s", manager, port, denied.Verdict.Explain())
			} else {
				reason = fmt.Sprintf("%s gets no answer from the node on TCP %d: %v", manager, port, err)
			}
		}
	}
	now := cl.c.cfg.Now()
	becameIdle := false
	defer func() {
		if fn := cl.c.idle.Load(); becameIdle && fn != nil {
			(*fn)(spec.ID)
		}
	}()
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
			becameIdle = n.state != StateIdle
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
		TargetNodeCount: cl.target()}
	for _, e := range cl.lastErrors {
		s.Errors = append(s.Errors, StatusError{Error: e})
	}
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
// (or keeps it to retry, when that fails). A run on the node is lost, for
// the reason given.
func (cl *cluster) removeNode(ctx context.Context, n *node, reason string) error {
	cl.closeNode(ctx, n)
	cl.mu.Lock()
	delete(cl.nodes, n.id)
	runID := n.runID
	cl.mu.Unlock()
	err := cl.deleteNIC(ctx, n.nic)
	cl.c.nodeLost(cl.settings().ID, n.id, runID, reason)
	return err
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
