package compute

import (
	"context"
	"net"
	"sort"

	"github.com/vnetml/vnetml/internal/replica"
)

// This file is what web services (internal/inference) ask of an
// inference cluster: its usable nodes, and each node's replica API,
// reached as the cluster's manager (Azure Machine Learning) reaches it.

// NodeRefs lists a cluster's usable nodes (idle or running), by node id.
func (c *Controller) NodeRefs(clusterID string) []NodeRef {
	cl := c.cluster(clusterID)
	if cl == nil {
		return nil
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var out []NodeRef
	for _, n := range cl.nodes {
		if n.state == StateIdle || n.state == StateRunning {
			out = append(out, NodeRef{ID: n.id, NIC: n.nic, Addr: n.addr})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// StartReplica hands a node a replica to run.
func (c *Controller) StartReplica(ctx context.Context, clusterID, nodeID string, spec replica.Spec) (replica.Status, error) {
	var st replica.Status
	err := c.withAgent(ctx, clusterID, nodeID, func(a Agent, dial func(context.Context, uint16) (net.Conn, error)) (err error) {
		st, err = a.StartReplica(ctx, dial, spec)
		return err
	})
	return st, err
}

// ReplicaStatus asks a node about a replica.
func (c *Controller) ReplicaStatus(ctx context.Context, clusterID, nodeID, id string) (replica.Status, error) {
	var st replica.Status
	err := c.withAgent(ctx, clusterID, nodeID, func(a Agent, dial func(context.Context, uint16) (net.Conn, error)) (err error) {
		st, err = a.ReplicaStatus(ctx, dial, id)
		return err
	})
	return st, err
}

// StopReplica asks a node to stop a replica.
func (c *Controller) StopReplica(ctx context.Context, clusterID, nodeID, id string) error {
	return c.withAgent(ctx, clusterID, nodeID, func(a Agent, dial func(context.Context, uint16) (net.Conn, error)) error {
		return a.StopReplica(ctx, dial, id)
	})
}

// ReplicaLogs returns a replica's output.
func (c *Controller) ReplicaLogs(ctx context.Context, clusterID, nodeID, id string) (string, error) {
	var out string
	err := c.withAgent(ctx, clusterID, nodeID, func(a Agent, dial func(context.Context, uint16) (net.Conn, error)) (err error) {
		out, err = a.ReplicaLogs(ctx, dial, id)
		return err
	})
	return out, err
}
