package apiserver

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/store"
)

// This file keeps the inference controller in step with the store after
// each write. A committed write tells the controller what changed only
// once the write lock is released, so the news of two writes can arrive in
// either order: a deletion's "remove service X" after the next write's
// "deploy X again", or a detach's "stop the front end of cluster C" after
// C was attached anew. Each step therefore holds infMu, looks at the
// store as it is now, and does only what still holds: a service is removed
// only if it is no longer stored, a front end stopped only if no stored
// compute needs it.

// retireService removes a deleted web service from the controller — its
// replicas stop and give their pod addresses back — unless it was deployed
// again since.
func (s *Server) retireService(ctx context.Context, id string) {
	if s.inference == nil {
		return
	}
	s.infMu.Lock()
	defer s.infMu.Unlock()
	if s.stored(id) {
		return
	}
	s.inference.Remove(context.WithoutCancel(ctx), id)
}

// retireFront stops the front end that ran under key (a created inference
// cluster's id, or an attached one's managed cluster's) unless a stored
// compute still needs it.
func (s *Server) retireFront(key string) {
	if s.inference == nil {
		return
	}
	s.infMu.Lock()
	defer s.infMu.Unlock()
	if s.frontInUse(key) {
		return
	}
	s.inference.RemoveCluster(key)
}

// stored reports whether the resource id is in the store now.
func (s *Server) stored(id string) bool {
	k, err := store.ParseID(id)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.world.byKey[k.Key] != nil
}

// frontInUse reports whether a stored inference compute runs its front
// end under key: a created one of that id, or an attached one whose
// managed cluster it is (and that cluster is still there).
func (s *Server) frontInUse(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.world.byKey {
		if !strings.EqualFold(e.id.Type, typeCompute) {
			continue
		}
		var d computeDoc
		if json.Unmarshal(e.res.Doc, &d) != nil || !strings.EqualFold(d.Properties.ComputeType, computeTypeAKS) {
			continue
		}
		switch rid := d.Properties.ResourceID; {
		case rid == "" && strings.EqualFold(e.id.ID, key):
			return true
		case rid != "" && strings.EqualFold(rid, key):
			if k, err := store.ParseID(rid); err == nil && s.world.byKey[k.Key] != nil {
				return true
			}
		}
	}
	return false
}

// deletedServices returns the web services this transaction deletes
// (directly, by a detach, or with their workspace or group).
func (t *txn) deletedServices() []string {
	var ids []string
	for _, k := range t.order {
		if e, ok := t.dels[k]; ok && strings.EqualFold(e.id.Type, api.TypeService) {
			ids = append(ids, e.id.ID)
		}
	}
	return ids
}

// cascadeDeletes deletes what the deleted computes and managed clusters
// own outside what is deleted with them: a group's deletion takes a
// compute, but its front end and node interfaces may be in the subnet's
// group, and its public IP, load balancer, NSG or network with them.
func (t *txn) cascadeDeletes() {
	var owners []*entry
	for _, k := range t.order {
		if e, ok := t.dels[k]; ok && (strings.EqualFold(e.id.Type, typeCompute) || strings.EqualFold(e.id.Type, typeManagedCluster)) {
			owners = append(owners, e)
		}
	}
	for _, e := range owners {
		ids := t.nicsOf(e.id.ID) // interfaces first: they use the rest
		if strings.EqualFold(e.id.Type, typeCompute) {
			var d computeDoc
			if json.Unmarshal(e.res.Doc, &d) == nil {
				r := d.Properties.Resources
				ids = append(ids, r.LoadBalancer, r.PublicIPAddress, r.NetworkSecurityGroup, r.VirtualNetwork)
			}
		} else {
			var d managedClusterDoc
			if json.Unmarshal(e.res.Doc, &d) == nil {
				ids = append(ids, d.Properties.Resources.VirtualNetwork)
			}
		}
		t.deleteOwned(ids...)
	}
}
