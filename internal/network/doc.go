// Package network owns vnetml's model of an Azure virtual network: virtual
// networks and subnets, network security groups and their rules, application
// security groups, route tables, network interfaces, public IPs, load
// balancers, private endpoints, VPN gateways, and the networkAcls of storage
// accounts and key vaults.
//
// Resources are kept in ARM's JSON shapes (name, id, type, location,
// properties{...}) so that what `az network ... show -o json` prints reads in
// unchanged and round-trips. Values stay the text the user wrote; Validate
// parses them, reports every error of a document at once with Azure's error
// codes (see ../shared/spec/azure-network-semantics.md §1.2, §7, §8), and the
// flow engine compiles the parsed forms.
//
// The package does no I/O beyond decoding readers it is handed.
package network
