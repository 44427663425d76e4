package compute

import (
	"context"
	"net"
	"net/netip"

	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/nodeagent"
	"github.com/vnetml/vnetml/internal/replica"
)

// NodeAgents runs nodes as `vnetml agent` processes (internal/nodeagent).
func NodeAgents(sp *nodeagent.Spawner) Agents { return spawned{sp} }

type spawned struct{ sp *nodeagent.Spawner }

func (s spawned) Start(ctx context.Context, clusterID, nodeID, nic string, addr netip.Addr) (Agent, error) {
	a, err := s.sp.Start(ctx, nodeagent.NodeSpec{NodeID: nodeID, ClusterID: clusterID, NIC: nic, Addr: addr})
	if err != nil {
		return nil, err
	}
	return agent{a}, nil
}

func (s spawned) Adopt(ctx context.Context, nodeID string) (Agent, error) {
	a, err := s.sp.Adopt(ctx, nodeID)
	if err != nil {
		return nil, err
	}
	return agent{a}, nil
}

func (s spawned) Orphans() map[string]string {
	out := map[string]string{}
	list, err := s.sp.Orphans(context.Background())
	if err != nil {
		return out
	}
	for _, o := range list {
		out[o.NodeID] = o.ClusterID
	}
	return out
}

func (s spawned) Reap(ctx context.Context, nodeID string) error { return s.sp.Reap(ctx, nodeID) }
func (s spawned) Detach()                                       { s.sp.Detach() }

// agent is a node agent process.
type agent struct{ a *nodeagent.Agent }

func (a agent) Management() netip.AddrPort     { return a.a.Management }
func (a agent) Control() netip.AddrPort        { return a.a.Control }
func (a agent) Stop(ctx context.Context) error { return a.a.Stop(ctx) }
func (a agent) Done() <-chan struct{}          { return a.a.Done() }
func (a agent) Err() error                     { return a.a.Err() }

func (a agent) Check(ctx context.Context, port uint16, dial func(ctx context.Context, port uint16) (net.Conn, error)) error {
	if port != PortManagement {
		_, err := a.a.ControlHealth(ctx, dial)
		return err
	}
	// Any authenticated request on the management port renews the
	// agent's lease: the health check is the renewal.
	_, err := a.a.Health(ctx, dial)
	return err
}

func (a agent) SubmitJob(ctx context.Context, dial nodeagent.Dial, spec job.Spec) (job.Status, error) {
	return a.a.SubmitJob(ctx, dial, spec)
}

func (a agent) JobStatus(ctx context.Context, dial nodeagent.Dial, runID string) (job.Status, error) {
	return a.a.JobStatus(ctx, dial, runID)
}

func (a agent) CancelJob(ctx context.Context, dial nodeagent.Dial, runID string) error {
	return a.a.CancelJob(ctx, dial, runID)
}

func (a agent) RebindJob(ctx context.Context, dial nodeagent.Dial, runID, proxy string) error {
	return a.a.RebindJob(ctx, dial, runID, proxy)
}

func (a agent) StartReplica(ctx context.Context, dial nodeagent.Dial, spec replica.Spec) (replica.Status, error) {
	return a.a.StartReplica(ctx, dial, spec)
}

func (a agent) ReplicaStatus(ctx context.Context, dial nodeagent.Dial, id string) (replica.Status, error) {
	return a.a.ReplicaStatus(ctx, dial, id)
}

func (a agent) StopReplica(ctx context.Context, dial nodeagent.Dial, id string) error {
	return a.a.StopReplica(ctx, dial, id)
}

func (a agent) ReplicaLogs(ctx context.Context, dial nodeagent.Dial, id string) (string, error) {
	return a.a.ReplicaLogs(ctx, dial, id)
}
