// Package nodeagent owns the node agent of a compute node (DESIGN.md §2,
// §7): the `vnetml agent` process that each node of a cluster is, and the
// Spawner with which the server starts, watches, adopts and stops those
// processes.
//
// # What the agent is
//
// A node is a real process, not a simulation: it answers Azure Batch's node
// management ports, TCP 29876 (management) and 29877 (control), which the
// cluster's NSG must allow from BatchNodeManagement (DESIGN.md §5). The agent
// itself listens on two loopback ports; the server makes them the node's
// ports in the virtual cloud with fabric.Expose(node NIC and address, 29876
// and 29877, the loopback listener), so that the node manager reaches a node
// only when the fabric's verdict allows it. Agent.Health and Agent.Renew take
// a Dial so that the server can call THROUGH the fabric; Agent.Loopback is
// the direct way, which only the spawner uses for itself.
//
// Both ports serve HTTP and require Authorization: Bearer <node secret>
// (compared in constant time; 401 otherwise): GET /v1/health on both, POST
// /v1/lease on management. What the agent is not, yet: it runs no jobs and
// no scoring replicas; those arrive on the control port in later work, as
// processes in the agent's process group.
//
// # The lease
//
// Every authenticated request on the management port renews the agent's
// lease (--lease, 10 minutes by default); when none came for that long the
// agent exits by itself, so a server that died without restarting leaves no
// process behind for long. Requests on the control port do not renew it.
// The Spawner renews the leases of the agents it manages over loopback
// (SpawnerConfig.RenewEvery), so an agent lives exactly as long as its
// server does, whatever the NSG lets the node manager do through the
// fabric: a node the node manager cannot reach is unusable, not gone, and
// comes back when the rule is fixed, as in Azure.
//
// # The files
//
// Each node has a state directory, <StateRoot>/<node id> (mode 0700):
//
//	secret      the node secret, 32 random bytes in hex (0600); the agent
//	            reads it from --token-file, never from its command line,
//	            which ps shows
//	agent.json  {nodeId, clusterId, pid, management, control, startedAt}
//	            (0600), written atomically by the agent once it listens and
//	            removed when it exits: how a restarted server finds it
//	agent.log   the agent's stderr (0600), its structured log; the last
//	            line says why it exited
//
// # Processes and adoption
//
// The agent runs in its own process group, so that an interrupt of the
// server's terminal does not reach it (the server stops its agents
// gracefully) and so that stopping an agent also ends every process it
// started: Agent.Stop sends SIGTERM to the group, waits a grace period, then
// SIGKILL; when an agent dies by any means, what is left of its group is
// killed. A restarted server lists the state directories nobody manages with
// Spawner.Orphans and either adopts their agents (Spawner.Adopt) or reaps
// them (Spawner.Reap). An agent is only ever adopted or killed after it
// proved who it is — it answered on its control port, with the node's
// secret, as that node and with that pid — never because a pid in a file
// exists: pids are reused. A process that cannot prove it is left alone; if
// it is a hung agent, its lease ends it.
//
// Process groups and signals are Unix; on other systems the package builds
// and an agent is stopped by killing its process alone.
package nodeagent
