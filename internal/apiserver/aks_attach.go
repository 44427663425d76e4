package apiserver

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/inference/aks"
	"github.com/vnetml/vnetml/internal/store"
)

// This file attaches a managed cluster (managedcluster.go) to a workspace
// as an inference compute, and detaches it (surface §A.5: the SDK's
// AksCompute.attach_configuration, ComputeTarget.attach, detach()).
//
// Attaching adds to the cluster what a workspace-created one has besides
// its nodes: azureml-fe, the front end (a network interface in the
// cluster's subnet, behind a public IP unless the load balancer is
// internal), staged by the same code as create's. The compute records the
// cluster's id (properties.resourceId, isAttachedCompute true) and shows
// its pool and network; its web services run on the cluster's nodes, which
// the controller keeps under the cluster's id. Detaching
// (underlyingResourceAction=Detach) removes the compute, its front end and
// its web services and leaves the cluster and its nodes running; deleting
// an attached compute is refused, as the SDK's AksCompute.delete() refuses
// a cluster "created externally and only attached".

// Values of underlyingResourceAction, the query parameter of a compute's
// DELETE.
const (
	actionDelete = "Delete"
	actionDetach = "Detach"
)

// pathResourceID is the target of an attach's cluster.
const pathResourceID = "properties.resourceId"

// stageAttachAKS stages an AksCompute that attaches the managed cluster
// spec.ResourceID: the cluster must exist, be the caller's to write,
// Succeeded, in the workspace's subscription, attached to no other
// compute, and fit spec (FastProd's vCPUs, the internal load balancer's
// subnet); then the front end is installed in its subnet.
func (s *Server) stageAttachAKS(t *txn, id store.ID, ws workspaceDoc, spec aks.Spec, cond store.Condition) (bool, error) {
	// Authorized before it is looked up: whether a cluster exists in a
	// group the caller may not write is none of its business.
	if err := auth.Authorize(t.who, auth.Write, spec.ResourceID); err != nil {
		return false, armerror.New(codeAuthorization, pathResourceID,
			"Attaching managed cluster %s installs the inference front end on it, so it needs write access to the cluster: %v", spec.ResourceID, err)
	}
	mid, err := store.ParseID(spec.ResourceID)
	me := (*entry)(nil)
	if err == nil {
		me = t.get(mid.Key)
	}
	if me == nil || !strings.EqualFold(me.id.Type, typeManagedCluster) {
		return false, armerror.New(codeNotFound, pathResourceID,
			"Managed cluster %s was not found; create it first (vnetml apply -f a manifest with a %s resource), or check the id (vnetml get managedcluster -g GROUP).",
			spec.ResourceID, typeManagedCluster)
	}
	cluster := lastSegment(me.id.ID)
	m, md, err := storedManagedCluster(me)
	if err != nil {
		return false, err
	}
	if st := md.Properties.ProvisioningState; st != succeeded {
		return false, armerror.New(aks.CodeUserError, pathResourceID,
			"Managed cluster %s is in provisioning state %s; a cluster can be attached once it is %s: wait for it, or delete it and create it again if it %s.",
			cluster, st, succeeded, strings.ToLower(st))
	}
	if !strings.EqualFold(me.id.Subscription, id.Subscription) {
		return false, armerror.New(aks.CodeUserError, pathResourceID,
			"Managed cluster %s is in subscription %s, but the workspace is in %s: an attached cluster must be in its workspace's subscription.", cluster, me.id.Subscription, id.Subscription)
	}
	if other := attachedCompute(t, me.id.ID); other != nil {
		ws := lastSegment(other.id.Parent)
		return false, armerror.New(store.CodeConflict, pathResourceID,
			"Managed cluster %s is already attached to workspace %s as compute %s; a cluster is attached once (a second attachment would break the first). Detach it there first (vnetml compute detach %s -w %s -g %s), or attach another cluster.",
			cluster, ws, lastSegment(other.id.ID), lastSegment(other.id.ID), ws, resourceGroupOf(other.id.ID))
	}
	subnet := md.Properties.Resources.Subnet
	snap := snapshotOf(t.candidate())
	if err := aks.CheckAttach(snap, spec, cluster, m, subnet); err != nil {
		return false, err
	}
	// The front end joins the cluster's subnet, in its group.
	if err := auth.Authorize(t.who, auth.Write, subnet); err != nil {
		return false, armerror.New(codeAuthorization, pathResourceID,
			"Attaching managed cluster %s creates its front end in subnet %s, so it needs write access to that subnet's group: %v", cluster, subnet, err)
	}
	sid, err := store.ParseID(subnet)
	if err != nil {
		return false, err
	}
	spec.Location = m.Location // the front end, its name and the compute are where the cluster is
	tlsHost, certPEM, keyPEM, err := s.aksTLS(t, id.ID, spec)
	if err != nil {
		return false, err
	}
	group := "/subscriptions/" + sid.Subscription + "/resourceGroups/" + sid.ResourceGroup
	base := strings.ToLower(lastSegment(id.ID)) + "-" + compact(ws.Properties.WorkspaceID, 8)
	r := clusterResources{Subnet: subnet}
	fe, err := s.stageFrontEnd(t, &r, id.ID, group, base, m.Location, spec, tlsHost)
	if err != nil {
		return false, err
	}
	pool, n := m.Pool(), m.Network
	p := newAKSProps(spec, pool.Count, pool.VMSize, fe)
	p.AKSNetworkingConfiguration = &aksNetworking{subnet, n.ServiceCIDR, n.DNSServiceIP, n.DockerBridgeCIDR}
	return s.stageAKSDoc(t, id, ws, spec, p, r, cond, me.id.ID, certPEM, keyPEM)
}

// isAttached reports whether a stored compute attaches a managed cluster.
func isAttached(e *entry) bool {
	var d computeDoc
	return json.Unmarshal(e.res.Doc, &d) == nil && d.Properties.ResourceID != ""
}

// nodeClusterOf is the id under which the controller runs the nodes of
// the compute with this id and document: the compute's own, or for an
// attached compute its managed cluster's.
func nodeClusterOf(id string, doc map[string]any) string {
	props, _ := doc["properties"].(map[string]any)
	if rid, _ := props["resourceId"].(string); rid != "" {
		return rid
	}
	return id
}

// deleteComputeAction answers a compute's DELETE as Azure ML does, by
// underlyingResourceAction: Delete (the default, the SDK's delete())
// deletes a compute the workspace created and refuses an attached one;
// Detach (the SDK's detach()) detaches an attached one.
func (s *Server) deleteComputeAction(ctx context.Context, rq *request) (response, error) {
	action := rq.query("underlyingResourceAction")
	switch {
	case action == "" || strings.EqualFold(action, actionDelete):
		return s.deleteCompute(ctx, rq)
	case strings.EqualFold(action, actionDetach):
		return s.detachCompute(ctx, rq)
	}
	return response{}, armerror.New(codeInvalidParameter, "underlyingResourceAction",
		"underlyingResourceAction %q is not an action: use %s (remove a compute the workspace created, with what it made) or %s (detach an attached cluster, which keeps running).", action, actionDelete, actionDetach)
}

// attachedDeleteRefused is the refusal of a Delete of an attached compute
// (the SDK's AksCompute.delete() raises for a cluster "created externally
// and only attached").
func attachedDeleteRefused(id store.ID, d computeDoc) error {
	name, ws, cluster := lastSegment(id.ID), lastSegment(id.Parent), d.Properties.ResourceID
	return armerror.New(aks.CodeUserError, "underlyingResourceAction",
		"Compute %s was attached (managed cluster %s), not created by the workspace, so deleting it would delete a cluster the workspace does not own. Detach it instead (vnetml compute detach %s -w %s, or DELETE with underlyingResourceAction=Detach): its front end and web services go and the cluster keeps running; delete the cluster itself after, if you mean to (vnetml delete managedcluster %s -g %s).",
		name, lastSegment(cluster), name, ws, lastSegment(cluster), resourceGroupOf(cluster))
}

// resourceGroupOf returns the resource group an id names, or "".
func resourceGroupOf(id string) string {
	p, err := store.ParseID(id)
	if err != nil {
		return ""
	}
	return p.ResourceGroup
}

// detachCompute detaches an attached inference compute in one
// transaction: the compute, its front end (network interface and public
// IP) and the web services deployed to it go; the managed cluster and its
// nodes stay. Once committed, the services' replicas stop (their pod
// addresses return to the cluster's subnet) and the front end closes.
func (s *Server) detachCompute(ctx context.Context, rq *request) (response, error) {
	return s.deleteStored(ctx, rq, true, func(t *txn, cur *entry) error {
		var d computeDoc
		if err := json.Unmarshal(cur.res.Doc, &d); err != nil {
			return err
		}
		name, ws := lastSegment(cur.id.ID), lastSegment(cur.id.Parent)
		switch {
		case d.Properties.ResourceID != "":
		case strings.EqualFold(d.Properties.ComputeType, computeTypeAKS):
			return armerror.New(aks.CodeUserError, "underlyingResourceAction",
				"Compute %s is an inference cluster the workspace created, not an attached one: vnetml keeps no managed cluster of it to leave running. Delete it instead (vnetml compute delete %s -w %s), which removes its nodes and front end.", name, name, ws)
		default:
			// The SDK's AmlCompute.detach() raises: such a compute is deleted.
			return armerror.New(aks.CodeUserError, "underlyingResourceAction",
				"Compute %s is an %s cluster, which cannot be detached, only deleted (vnetml compute delete %s -w %s).", name, d.Properties.ComputeType, name, ws)
		}
		var services []string
		t.each(func(e *entry) {
			if e.obj != nil || !strings.EqualFold(e.id.Type, api.TypeService) || !strings.EqualFold(e.id.Parent, cur.id.Parent) {
				return
			}
			var svc api.Service
			if json.Unmarshal(e.res.Doc, &svc) == nil && strings.EqualFold(svc.Properties.ComputeTarget, name) {
				services = append(services, e.id.ID)
			}
		})
		// Once committed, the write retires the services (their replicas
		// stop on the cluster's nodes, which stay) and the front end.
		t.deleteOwned(append(append(t.nicsOf(cur.id.ID), d.Properties.Resources.PublicIPAddress), services...)...)
		return nil
	})
}
