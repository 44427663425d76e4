package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/inference/aks"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// Managed clusters (Microsoft.ContainerService/managedClusters): an AKS
// cluster of the resource group, not of any workspace, which a workspace
// may attach as an inference compute (aks_attach.go). The body is
// internal/inference/aks's ManagedCluster, checked as Azure CNI checks it
// (spec §8) by the same rules as a workspace-created inference cluster.
// The cluster owns its agent nodes — node agents with addresses in its
// subnet, run by the compute controller under the cluster's id and
// managed from AzureMachineLearning as a workspace-created cluster's are
// — and, when it names no subnet, a virtual network of its own. Only its
// tags change in place. Deleting it stops its nodes; one attached to a
// compute cannot be deleted until that compute is detached.

const typeManagedCluster = aks.ManagedClusterType

// managedClusterNameRE is ARM's rule for a managed cluster's name.
var managedClusterNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$`)

// managedClusterDoc is a stored managed cluster, as AKS shows one.
type managedClusterDoc struct {
	ID         string              `json:"id"`
	Name       string              `json:"name"`
	Type       string              `json:"type"`
	Location   string              `json:"location"`
	Tags       map[string]string   `json:"tags,omitempty"`
	Properties managedClusterProps `json:"properties"`
}

type managedClusterProps struct {
	ProvisioningState string `json:"provisioningState"`
	PowerState        struct {
		Code string `json:"code"`
	} `json:"powerState"`
	KubernetesVersion string             `json:"kubernetesVersion"`
	DNSPrefix         string             `json:"dnsPrefix"`
	Fqdn              string             `json:"fqdn"`
	AgentPoolProfiles []agentPoolProfile `json:"agentPoolProfiles"`
	NetworkProfile    networkProfile     `json:"networkProfile"`
	// Resources are what vnetml made for the cluster: its subnet, and
	// the network it made when the pool names none.
	Resources managedClusterResources `json:"vnetmlResources"`
}

type agentPoolProfile struct {
	Name              string `json:"name"`
	Count             int    `json:"count"`
	VMSize            string `json:"vmSize"`
	VnetSubnetID      string `json:"vnetSubnetID,omitempty"`
	MaxPods           int    `json:"maxPods"`
	Mode              string `json:"mode"`
	OSType            string `json:"osType"`
	ProvisioningState string `json:"provisioningState"`
}

type networkProfile struct {
	NetworkPlugin    string `json:"networkPlugin"`
	ServiceCidr      string `json:"serviceCidr"`
	DNSServiceIP     string `json:"dnsServiceIP"`
	DockerBridgeCidr string `json:"dockerBridgeCidr"`
	LoadBalancerSku  string `json:"loadBalancerSku"`
}

type managedClusterResources struct {
	VirtualNetwork string `json:"virtualNetwork,omitempty"`
	Subnet         string `json:"subnet"`
}

// stageManagedCluster stages a managed cluster: its body decoded and
// checked, its network made (when it names no subnet) and checked; once
// committed, the controller starts its nodes. A PUT of an existing
// cluster may change its tags only.
func (s *Server) stageManagedCluster(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	if err := inGroup(id); err != nil {
		return false, err
	}
	id = t.canonical(id)
	cur := t.get(id.Key)
	body, err := patched(cur, body, patch, func() error { return notFound(store.NotFound(id.ID), id) })
	if err != nil {
		return false, err
	}
	name := lastSegment(id.ID)
	if !managedClusterNameRE.MatchString(name) {
		return false, armerror.New(codeNameMismatch, "name",
			"Managed cluster name %q is invalid: 1 to 63 letters, digits, '-' and '_', starting and ending with a letter or digit.", name)
	}
	var hdr struct{ Name, Type string }
	_ = json.Unmarshal(body, &hdr) // a body that is no object is reported by the decoder
	if err := checkName(id, hdr.Name, hdr.Type); err != nil {
		return false, err
	}
	m, err := aks.DecodeManagedCluster(body, aks.ClusterContext{Name: name})
	if err != nil {
		return false, err
	}
	if err := checkCond(cond, id.ID, cur); err != nil {
		return false, err
	}
	if cur != nil {
		return s.restageManagedCluster(t, id, cur, m, cond)
	}
	group := "/subscriptions/" + id.Subscription + "/resourceGroups/" + id.ResourceGroup
	var res managedClusterResources
	if sub := m.Pool().SubnetID; sub != "" {
		// The nodes join the subnet: the caller must be allowed to write
		// in its group (Azure's subnets/join/action).
		if err := auth.Authorize(t.who, auth.Write, sub); err != nil {
			return false, armerror.New(codeAuthorization, "properties.agentPoolProfiles[0].vnetSubnetID",
				"A managed cluster in subnet %s creates its nodes' network interfaces in that subnet's group, so it needs write access there: %v", sub, err)
		}
		res.Subnet = sub
	} else {
		// No subnet named: a network of the cluster's own, as AKS makes.
		res.VirtualNetwork = group + "/providers/" + network.TypeVirtualNetwork + "/" + strings.ToLower(name) + "-vnet"
		if res.Subnet, err = s.stageOwnAKSNetwork(t, res.VirtualNetwork, m.Location, id.ID); err != nil {
			return false, err
		}
	}
	// The network as this transaction leaves it: a network staged with
	// the cluster (its own, or one in the same apply) is checked too.
	if err := aks.CheckClusterNetwork(snapshotOf(t.candidate()), m, res.Subnet); err != nil {
		return false, err
	}
	d := managedClusterDoc{ID: id.ID, Name: name, Type: typeManagedCluster, Location: m.Location, Tags: m.Tags}
	p := &d.Properties
	p.ProvisioningState, p.PowerState.Code = succeeded, "Running"
	p.KubernetesVersion, p.DNSPrefix = m.KubernetesVersion, m.DNSPrefix
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(id.ID)))
	p.Fqdn = fmt.Sprintf("%s-%08x.hcp.%s.azmk8s.io", strings.ToLower(m.DNSPrefix), h.Sum32(), m.Location)
	for _, ap := range m.AgentPools {
		p.AgentPoolProfiles = append(p.AgentPoolProfiles, agentPoolProfile{Name: ap.Name, Count: ap.Count, VMSize: ap.VMSize, VnetSubnetID: ap.SubnetID,
			MaxPods: ap.MaxPods, Mode: ap.Mode, OSType: ap.OSType, ProvisioningState: succeeded})
	}
	n := m.Network
	p.NetworkProfile = networkProfile{n.Plugin, n.ServiceCIDR, n.DNSServiceIP, n.DockerBridgeCIDR, n.LoadBalancerSKU}
	p.Resources = res
	existed, err := t.stagePlain(id, d, cond, true)
	if err != nil {
		return false, err
	}
	t.afterCommit(func(ctx context.Context) error {
		s.upsertManagedCluster(ctx, id.Key)
		return nil
	})
	return existed, nil
}

// restageManagedCluster stages a PUT of an existing cluster: the same
// settings (an apply run again) with new tags, or a Conflict.
func (s *Server) restageManagedCluster(t *txn, id store.ID, cur *entry, m aks.ManagedCluster, cond store.Condition) (bool, error) {
	old, d, err := storedManagedCluster(cur)
	if err != nil {
		return false, err
	}
	a, b := m, old
	a.Tags, b.Tags = nil, nil
	ja, _ := json.Marshal(a.Payload())
	jb, _ := json.Marshal(b.Payload())
	if string(ja) != string(jb) {
		name := lastSegment(id.ID)
		return false, armerror.New(store.CodeConflict, "properties",
			"Managed cluster %s exists and only its tags can change in place; to change its pool or network, delete it (vnetml delete managedcluster %s -g %s; detach it from its workspace first) and create it again.",
			name, name, id.ResourceGroup)
	}
	d.Tags = m.Tags
	return t.stagePlain(id, d, cond, true)
}

// storedManagedCluster decodes a stored managed cluster: its settings (the
// stored document read back through the decoder, whose read-only fields
// it ignores) and the document.
func storedManagedCluster(e *entry) (aks.ManagedCluster, managedClusterDoc, error) {
	var d managedClusterDoc
	if err := json.Unmarshal(e.res.Doc, &d); err != nil {
		return aks.ManagedCluster{}, d, err
	}
	m, err := aks.DecodeManagedCluster(e.res.Doc, aks.ClusterContext{Name: d.Name})
	if err != nil {
		return aks.ManagedCluster{}, d, fmt.Errorf("stored managed cluster %s does not read back: %w", e.id.ID, err)
	}
	return m, d, nil
}

// managedClusterNode is what the controller runs for a stored managed
// cluster: its pool's nodes, always, managed from AzureMachineLearning
// as a workspace-created inference cluster's are.
func (s *Server) managedClusterNode(t *txn, e *entry) (compute.Cluster, error) {
	m, d, err := storedManagedCluster(e)
	if err != nil {
		return compute.Cluster{}, err
	}
	p := m.Pool()
	spec := compute.Spec{VMSize: p.VMSize, VMPriority: compute.PriorityDedicated, MinNodes: p.Count, MaxNodes: p.Count,
		IdleBeforeScaleDown: compute.DefaultIdleBeforeScaleDown}
	sub := d.Properties.Resources.Subnet
	return compute.Cluster{ID: e.id.ID, Location: m.Location, SubnetID: sub, Spec: spec, Fits: s.fits(t, sub, e.id.ID), Manager: compute.ManagerAML}, nil
}

// managedClusterNodes is managedClusterNode of every stored managed
// cluster (a restarted server runs their nodes again). The caller holds
// s.mu.
func (s *Server) managedClusterNodes(t *txn) []compute.Cluster {
	var out []compute.Cluster
	for _, e := range s.world.byKey {
		if !strings.EqualFold(e.id.Type, typeManagedCluster) {
			continue
		}
		c, err := s.managedClusterNode(t, e)
		if err != nil {
			s.log.Error("a stored managed cluster cannot be read; its nodes are not started", "id", e.id.ID, "error", err)
			continue
		}
		out = append(out, c)
	}
	return out
}

// upsertManagedCluster hands the controller a managed cluster as stored
// now (after-commit hooks run outside the write lock).
func (s *Server) upsertManagedCluster(ctx context.Context, key string) {
	if s.computes == nil {
		return
	}
	s.mu.Lock()
	var c compute.Cluster
	ok := false
	if e := s.world.byKey[key]; e != nil {
		var err error
		if c, err = s.managedClusterNode(&txn{s: s, ctx: ctx}, e); err == nil {
			ok = true
		} else {
			s.log.Error("a managed cluster cannot be read; its nodes are not started", "id", e.id.ID, "error", err)
		}
	}
	s.mu.Unlock()
	if ok {
		s.computes.Upsert(context.WithoutCancel(ctx), c)
	}
}

// attachedCompute returns the compute that attaches the managed cluster
// with this id, or nil.
func attachedCompute(t *txn, clusterID string) *entry {
	var found *entry
	t.each(func(e *entry) {
		if found != nil || !strings.EqualFold(e.id.Type, typeCompute) {
			return
		}
		var d computeDoc
		if json.Unmarshal(e.res.Doc, &d) == nil && d.Properties.ResourceID != "" && network.SameID(d.Properties.ResourceID, clusterID) {
			found = e
		}
	})
	return found
}

// deleteManagedCluster deletes a managed cluster, its nodes' network
// interfaces and the network it made, in one transaction; once committed
// the controller stops its nodes. A cluster attached to a compute is
// refused: Azure would delete it and leave the compute broken (its
// services answering nothing); vnetml asks for the detach first.
func (s *Server) deleteManagedCluster(ctx context.Context, rq *request) (response, error) {
	return s.deleteStored(ctx, rq, true, func(t *txn, cur *entry) error {
		if c := attachedCompute(t, cur.id.ID); c != nil {
			cid, _ := store.ParseID(c.id.ID)
			ws := lastSegment(c.id.Parent)
			return armerror.New(store.CodeConflict, "",
				"Managed cluster %s is attached to workspace %s as inference compute %s, whose web services run on its nodes. Detach it first (vnetml compute detach %s -w %s -g %s), then delete the cluster.",
				lastSegment(cur.id.ID), ws, lastSegment(c.id.ID), lastSegment(c.id.ID), ws, cid.ResourceGroup)
		}
		var d managedClusterDoc
		if err := json.Unmarshal(cur.res.Doc, &d); err != nil {
			return err
		}
		// Node interfaces first: they use the subnet.
		t.deleteOwned(append(t.nicsOf(cur.id.ID), d.Properties.Resources.VirtualNetwork)...)
		return nil
	})
}
