//go:build linux

// Package linux is the kernel fabric (DESIGN.md §4): the virtual cloud as
// Linux network namespaces, in which the kernel carries and enforces
// every packet — the security boundary that the userspace fabric only
// emulates.
//
//	inet ──── svc ──┬── router (VNet 1) ──┬── port (node0's NIC, 10.0.0.4)
//	(Internet       │   nftables: NSGs,   ├── port (a pod: node0's 10.0.0.7)
//	 clients)       │   NAT, routes       └── port (nva0's NIC, forwarding)
//	                └── router (VNet 2) ── ...
//
// A router namespace per VNet holds its routes (each subnet's winning
// routes as a kernel table: None a blackhole, VirtualAppliance the
// appliance's port, Internet the uplink) and one nftables table compiled
// from the engine: the NSGs of every ip configuration as chains in
// priority order, with address sets for prefixes and tags and verdict
// maps that dispatch by interface and address; conntrack keeps flows
// stateful; public IPs are DNAT and SNAT. Every Apply rewrites the table
// in one transaction.
//
// A port namespace per ip configuration holds its address and the
// processes confined to it: a NIC's primary one is its VM's (Command: a
// node agent and its jobs), a secondary one a pod's (a scoring replica,
// which the agent starts there: NetnsPath). It forwards only if the NIC
// has IP forwarding.
//
// The services namespace (svc) holds the platform's addresses (those of
// service tags, and 168.63.129.16, where it answers DNS with the names the
// platform registered) and links every router; the internet namespace
// (inet) holds other outside addresses.
//
// Dial asks the engine first — a refusal is returned at once, explained,
// rather than after a kernel timeout — and the kernel then carries what
// the engine admits on its own rules; Listen names a connection's peer
// from the dialer (the fabric's own connections) or from the engine at
// its source address (a confined process's). The kernel's own decisions
// for confined processes reach the flow log through NFLOG. The conformance
// suite and a differential test of random networks and probes hold the
// kernel to the engine's verdicts. docs/fabric.md says what it needs and
// what it does not carry.
package linux
