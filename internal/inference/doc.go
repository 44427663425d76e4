// Package inference owns web services on inference clusters (DESIGN.md
// §7, issue 8): the controller that keeps each service's replicas running
// on the cluster's nodes — each replica a scoring process at a pod
// address of the subnet (a secondary address of its node's network
// interface, as Azure CNI gives pods) — and the cluster's front end,
// azureml-fe, the router that takes scoring calls at the front end's
// address and passes them to a replica: over HTTP on port 80 and, when
// the cluster has a certificate (Spec.TLS), over HTTPS on port 443 too,
// under a name the front end makes the fabric resolve.
//
// Every hop is a connection through the fabric, so the network decides
// all of it: a caller reaches the front end only when the subnet's NSG
// admits it (after the public IP's DNAT, as Azure evaluates); an internal
// front end has no public address, so nothing outside the virtual network
// reaches it; the front end reaches a replica's pod address as any
// address of the subnet is reached; and the replicas are started through
// the node's control port from an AzureMachineLearning address, so a
// cluster whose NSG refuses Azure Machine Learning cannot be deployed to.
// The inference/aks package checks the cluster's network before it
// exists.
package inference
