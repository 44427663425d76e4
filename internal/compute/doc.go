// Package compute owns Azure ML compute clusters (AmlCompute; DESIGN.md
// §5, §7): the provisioning payload as the SDK sends it and its validation
// (spec.go), the VM size catalog (sizes.go), and the controller that runs
// each cluster's nodes (controller.go).
//
// A node is a real process — a `vnetml agent` started by
// internal/nodeagent — with a network interface in the cluster's subnet
// whose address the fabric serves: the controller exposes the agent's
// management ports at the node's address and reaches them on TCP
// 29876-29877 from a BatchNodeManagement address through the fabric, as
// Batch does, every interval. A node the network refuses goes unusable,
// with the deciding rule and its fix; it recovers when the rule does. The
// controller keeps each cluster between min_nodes and max_nodes (its work's
// demand decides where), lets idle nodes leave after the idle time,
// replaces nodes whose agent died, stops adding nodes when new ones keep
// turning unusable, and adopts the live agents a previous server left.
//
// The control plane (internal/apiserver) stores the clusters and creates
// the nodes' network interfaces (Platform); the controller keeps only
// runtime state, which a restarted server rebuilds.
package compute
