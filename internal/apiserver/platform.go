package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// Computes runs compute clusters (internal/compute's Controller).
type Computes interface {
	Upsert(ctx context.Context, c compute.Cluster)
	Remove(ctx context.Context, id string) error
	Status(id string) (compute.Status, bool)
	Nodes(id string) []compute.NodeInfo
	Preempt(ctx context.Context, id, nodeID string) error
	ReapOrphans(ctx context.Context)
}

// nodeNICID is the id of a node's network interface: in the group of the
// cluster's virtual network, named after the cluster and the node.
func nodeNICID(c compute.Cluster, node string) (store.ID, error) {
	sid, err := store.ParseID(c.SubnetID)
	if err != nil {
		return store.ID{}, err
	}
	return store.ParseID("/subscriptions/" + sid.Subscription + "/resourceGroups/" + sid.ResourceGroup +
		"/providers/" + network.TypeNetworkInterface + "/" + strings.ToLower(lastSegment(c.ID)) + "-" + node)
}

// CreateNIC implements compute.Platform: the node's network interface in
// the cluster's subnet, with the cluster's NSG and an address from the
// subnet, written as the platform (locks on the group apply, as they break
// Batch in Azure).
func (s *Server) CreateNIC(ctx context.Context, c compute.Cluster, node string) (string, netip.Addr, error) {
	id, err := nodeNICID(c, node)
	if err != nil {
		return "", netip.Addr{}, err
	}
	var addr netip.Addr
	err = s.write(ctx, systemPrincipal, func(t *txn) error {
		if t.get(id.Key) == nil {
			nsg := "" // an inference cluster's nodes have no NSG of their own
			if c.NSGID != "" {
				nsg = fmt.Sprintf(`"networkSecurityGroup": {"id": %q}, `, c.NSGID)
			}
			body := fmt.Sprintf(`{"location": %q, "tags": {%q: %q, "vnetml-node": %q}, "properties": {%s
				"ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": %q}}}]}}`,
				c.Location, tagManagedBy, c.ID, node, nsg, c.SubnetID)
			if err := s.stageAs(t, id.ID, body); err != nil {
				return err
			}
		}
		n, ok := t.get(id.Key).obj.(*network.NetworkInterface)
		if !ok || len(n.Properties.IPConfigurations) == 0 {
			return fmt.Errorf("the network interface of node %s has no ip configuration", node)
		}
		addr, err = netip.ParseAddr(n.Properties.IPConfigurations[0].Properties.PrivateIPAddress)
		return err
	})
	if err != nil {
		return "", netip.Addr{}, err
	}
	return id.ID, addr, nil
}

// DeleteNIC implements compute.Platform.
func (s *Server) DeleteNIC(ctx context.Context, nicID string) error {
	id, err := store.ParseID(nicID)
	if err != nil {
		return err
	}
	return s.write(ctx, systemPrincipal, func(t *txn) error {
		if e := t.get(id.Key); e != nil {
			t.guard(e.id.ID, true)
			t.del(id.Key)
		}
		return nil
	})
}

// NodeNICs implements compute.Platform: the node network interfaces of a
// cluster, by node id, as of the newest committed write.
func (s *Server) NodeNICs(clusterID string) map[string]string {
	out := map[string]string{}
	for _, n := range s.view.Load().snap.NetworkInterfaces {
		if strings.EqualFold(n.Tags[tagManagedBy], clusterID) && n.Tags["vnetml-node"] != "" {
			out[n.Tags["vnetml-node"]] = n.ID
		}
	}
	return out
}

// ManagementAddr is where Batch node management calls nodes from in a
// region: an address of BatchNodeManagement.<region>.
func (s *Server) ManagementAddr(location string) (netip.Addr, bool) {
	t, ok := s.tags.Lookup("BatchNodeManagement." + location)
	if !ok || len(t.V4) == 0 {
		return netip.Addr{}, false
	}
	p := t.V4[0]
	if p.Bits() < 32 {
		return p.Addr().Next(), true
	}
	return p.Addr(), true
}

// ManagerAddr is where a service that manages nodes (a service tag, such
// as AzureMachineLearning for inference clusters) calls them from in a
// region: the first host of <tag>.<region>.
func (s *Server) ManagerAddr(tag, location string) (netip.Addr, bool) {
	t, ok := s.tags.Lookup(tag + "." + location)
	if !ok || len(t.V4) == 0 {
		return netip.Addr{}, false
	}
	p := t.V4[0]
	if p.Bits() < 32 {
		return p.Addr().Next(), true
	}
	return p.Addr(), true
}

// StartComputes gives the controller every stored compute, so that a
// restarted server runs its clusters again (adopting live agents).
func (s *Server) StartComputes(ctx context.Context) error {
	if s.computes == nil {
		return nil
	}
	var clusters []compute.Cluster
	s.mu.Lock()
	t := &txn{s: s, ctx: ctx}
	for _, e := range s.world.byKey {
		if !strings.EqualFold(e.id.Type, typeCompute) {
			continue
		}
		var d computeDoc
		if json.Unmarshal(e.res.Doc, &d) != nil || d.Properties.ResourceID != "" { // an attached compute's nodes are its cluster's
			continue
		}
		wsEntry := s.world.byKey[lower(e.id.Parent)]
		if wsEntry == nil {
			continue
		}
		var ws workspaceDoc
		_ = json.Unmarshal(wsEntry.res.Doc, &ws)
		spec, err := storedSpec(d, ws)
		if err != nil {
			s.log.Error("a stored compute cannot be read; its nodes are not started", "id", e.id.ID, "error", err)
			continue
		}
		clusters = append(clusters, s.clusterOf(t, d, spec))
	}
	clusters = append(clusters, s.managedClusterNodes(t)...)
	s.mu.Unlock()
	for _, c := range clusters {
		s.computes.Upsert(ctx, c)
	}
	s.computes.ReapOrphans(ctx)
	return nil
}

// computesDeleted returns the ids of the computes and managed clusters
// this transaction deletes (directly, or with their workspace or group),
// whose nodes the controller stops once it is committed; and the ids the
// front ends of the deleted inference computes run under: a created
// cluster's own, an attached compute's managed cluster's (whose nodes
// stay).
func (t *txn) computesDeleted() (nodes, fronts []string) {
	defer func() {
		if t.s.computes == nil {
			nodes = nil // no controller runs nodes
		}
	}()
	for _, k := range t.order {
		e, ok := t.dels[k]
		switch {
		case !ok:
		case strings.EqualFold(e.id.Type, typeManagedCluster):
			// With its group, even while attached: its front end goes
			// with its nodes.
			nodes, fronts = append(nodes, e.id.ID), append(fronts, e.id.ID)
		case strings.EqualFold(e.id.Type, typeCompute):
			nodes, fronts = append(nodes, e.id.ID), append(fronts, e.id.ID)
			var d computeDoc
			if json.Unmarshal(e.res.Doc, &d) == nil && d.Properties.ResourceID != "" {
				fronts = append(fronts, d.Properties.ResourceID)
			}
		}
	}
	return nodes, fronts
}
