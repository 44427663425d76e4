// Package aks owns the AksCompute (inference cluster) provisioning and
// attach payloads of Azure ML SDK v1 — the PUT body of
// .../workspaces/{ws}/computes/{name} with computeType "AKS" — the
// managed clusters an attach names, and the checks Azure applies to them:
//
//   - spec.go decodes the body strictly (unknown fields refused with their
//     path and a "did you mean"), applies the SDK's defaults and runs the
//     validation of azureml-core compute/aks.py
//     (AksProvisioningConfiguration, AksAttachConfiguration) with its
//     verbatim messages, plus the service's FastProd vCPU floor;
//   - network.go checks a cluster's Azure CNI settings against a
//     network.Snapshot as AKS does — the subnet, the service CIDR, the DNS
//     service IP, the docker bridge and the subnet's room for nodes and
//     pods — reporting every problem at once with AKS's error codes;
//   - managedcluster.go decodes a Microsoft.ContainerService/managedClusters
//     body (one agent pool, Azure CNI) strictly, checks its network by
//     network.go's rules at the managed cluster's own paths, and checks an
//     attach against the cluster (FastProd's vCPUs, the internal load
//     balancer's subnet);
//   - plan.go holds the pure address arithmetic the deployment code shares:
//     the CNI address plan and picking a subnet's next free addresses;
//   - tls.go checks the scoring endpoint's certificate and key
//     (sslConfiguration status Enabled: the key is the certificate's, the
//     certificate valid, for server authentication and for the cname) and
//     generates the name of a leaf domain label (status Auto).
//
// See ../shared/spec/azureml-v1-surface.md §A.5 and §D row 12, and
// ../shared/spec/azure-network-semantics.md §8 and §9.
//
// The package does no I/O and keeps no state; everything in it is safe for
// concurrent use. Errors are *armerror.Error: callers decide by Code.
package aks
