// Package network owns vnetml's model of an Azure virtual network: virtual
// networks and subnets, network security groups and their rules, application
// security groups, route tables, network interfaces, public IPs, load
// balancers, private endpoints, VPN gateways, and the networkAcls of storage
// accounts and key vaults.
//
// Resources are kept in ARM's JSON shapes (name, id, type, location,
// properties{...}) so that what `az network ... show -o json` prints reads in
// unchanged and round-trips. Values stay the text the user wrote, so that
// errors can quote it: Validate parses them and reports every error of a
// document at once with Azure's error codes (see
// ../shared/spec/azure-network-semantics.md §1.2, §7, §8); the flow engine
// parses them again with the same primitives (ParsePrefix, ParsePortRange,
// ParseProtocol) as it compiles, treating what Validate would refuse as
// absent and listing it in its warnings.
//
// The package does no I/O beyond decoding readers it is handed.
package network
