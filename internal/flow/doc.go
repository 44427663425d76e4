// Package flow owns vnetml's flow engine: it compiles a network snapshot and
// a service-tag registry into an immutable Engine that decides, with Azure's
// semantics, whether a flow is allowed and why.
//
// Queries (../shared/spec/azure-network-semantics.md):
//
//   - IPFlowVerify: Network Watcher's IP flow verify over the subnet and NIC
//     NSGs of a NIC, in Azure's order (§1.5, §4).
//   - NextHop: Network Watcher's next hop over system routes, peering,
//     gateway, service-endpoint and private-endpoint routes and UDRs with
//     Azure's tie-breaks (§3, §12).
//   - EffectiveNSGs and EffectiveRoutes of a NIC, in Azure's output shapes.
//   - Path: the end-to-end verdict between two endpoints — NSG out of the
//     source, route, NSG in of the destination, the destination service's
//     firewall (§5, §6) — with each hop's decision and, on refusal, the
//     deciding rule and a hint of the fix.
//
// An Engine is immutable and safe for concurrent use without locks; callers
// publish a new one by swapping an atomic pointer. Decisions return a
// verdict and a rule identity and allocate nothing; explanations are built
// only when asked for. The package does no I/O; flowref holds the slow
// reference oracle that tests check the engine against.
package flow
