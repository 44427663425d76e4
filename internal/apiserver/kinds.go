package apiserver

import (
	"net/http"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// ARM types the server serves besides the network model's.
const (
	typeSubscription   = "Microsoft.Resources/subscriptions"
	typeResourceGroup  = "Microsoft.Resources/resourceGroups"
	typeLock           = "Microsoft.Authorization/locks"
	typeNetworkWatcher = "Microsoft.Network/networkWatchers"
	typeUsage          = "Microsoft.Network/locations/usages"
	typeToken          = "vnetml.Authorization/tokens"
	typeFlowLogs       = "vnetml.Network/flowLogs"
)

// typeApply is the "type" of the batch apply path, as parseTarget sees it.
var typeApply = strings.TrimPrefix(api.ApplyPath, "/providers/")

// kind is one resource type the API serves: its routes, and for the
// network model's types how its documents decode and enter a snapshot.
type kind struct {
	name    string // for metrics and messages, e.g. virtualNetworks
	typ     string // the ARM type
	methods map[string]route
	actions map[string]route // POST {id}/{action}
	list    *route           // GET of the collection
	stage   stager           // how a PUT is staged; nil for read-only kinds
	net     *netKind         // nil for types outside the network model
	child   *childKind       // for child resources (subnets, …)
}

// netKind is how a top-level type of the network model is handled.
type netKind struct {
	collection string // the Snapshot collection, which roots validation targets
	quota      string // the per-subscription-and-region quota it counts against
	// decode decodes a request body strictly into a new model object.
	decode func(body []byte) (any, error)
	// meta returns the object's ARM header.
	meta func(obj any) *network.Meta
	// prepare readies a decoded object for storage: it drops what the
	// server computes (back-references, child ids), keeps the resource
	// GUID of the previous version (nil when new) and marks it Succeeded.
	prepare func(obj, old any)
	// clone deep-copies an object.
	clone func(obj any) any
	// shallow copies an object and its child slices (not what the
	// children hold): enough to replace fields for an answer.
	shallow func(obj any) any
	// children are the child types nested in this type's documents.
	children []*childKind
}

func netKindOf[T any](collection, quota string, meta func(*T) *network.Meta, prepare func(t, old *T), children ...*childKind) *netKind {
	return &netKind{
		collection: collection,
		quota:      quota,
		decode: func(body []byte) (any, error) {
			v := new(T)
			if err := decodeBody(body, v); err != nil {
				return nil, err
			}
			return v, nil
		},
		meta: func(obj any) *network.Meta { return meta(obj.(*T)) },
		prepare: func(obj, old any) {
			o, _ := old.(*T)
			prepare(obj.(*T), o)
		},
		clone: func(obj any) any { return clone(obj.(*T)) },
		shallow: func(obj any) any {
			c := *obj.(*T)
			for _, ck := range children {
				ck.ownSlice(&c)
			}
			return &c
		},
		children: children,
	}
}

// childKind is a child type stored inside its parent's document.
type childKind struct {
	segment    string // the id segment, e.g. subnets
	parentType string
	// decode decodes a request body strictly into a new child object.
	decode func(body []byte) (any, error)
	// list returns the children of a parent object (pointers into it).
	list func(parent any) []any
	// name returns a child's name; setName sets it.
	name    func(child any) string
	setName func(child any, name string)
	// set replaces the child of the same name in parent, or appends it.
	set func(parent, child any)
	// remove removes the named child; false when there is none.
	remove func(parent any, name string) bool
	// prepare drops what the server computes in a child.
	prepare func(child any)
	// ownSlice gives parent its own copy of the children slice.
	ownSlice func(parent any)
}

func childKindOf[P, C any](segment, parentType string, slice func(*P) *[]C, name func(*C) *string, prepare func(*C)) *childKind {
	return &childKind{
		segment:    segment,
		parentType: parentType,
		decode: func(body []byte) (any, error) {
			v := new(C)
			if err := decodeBody(body, v); err != nil {
				return nil, err
			}
			return v, nil
		},
		list: func(parent any) []any {
			s := slice(parent.(*P))
			out := make([]any, len(*s))
			for i := range *s {
				out[i] = &(*s)[i]
			}
			return out
		},
		name:    func(child any) string { return *name(child.(*C)) },
		setName: func(child any, n string) { *name(child.(*C)) = n },
		set: func(parent, child any) {
			s := slice(parent.(*P))
			c := child.(*C)
			for i := range *s {
				if strings.EqualFold(*name(&(*s)[i]), *name(c)) {
					(*s)[i] = *c
					return
				}
			}
			*s = append(*s, *c)
		},
		remove: func(parent any, n string) bool {
			s := slice(parent.(*P))
			for i := range *s {
				if strings.EqualFold(*name(&(*s)[i]), n) {
					*s = append((*s)[:i], (*s)[i+1:]...)
					return true
				}
			}
			return false
		},
		prepare:  func(child any) { prepare(child.(*C)) },
		ownSlice: func(parent any) { s := slice(parent.(*P)); *s = slices.Clone(*s) },
	}
}

const succeeded = "Succeeded"

// Child kinds.
var (
	subnetKind = childKindOf("subnets", network.TypeVirtualNetwork,
		func(v *network.VirtualNetwork) *[]network.Subnet { return &v.Properties.Subnets },
		func(s *network.Subnet) *string { return &s.Name },
		func(s *network.Subnet) {
			s.ID, s.Type, s.Etag, s.ResourceGroup = "", "", "", ""
			s.Properties.IPConfigurations, s.Properties.PrivateEndpoints = nil, nil
			s.Properties.ProvisioningState = succeeded
			for i := range s.Properties.ServiceEndpoints {
				s.Properties.ServiceEndpoints[i].ProvisioningState = succeeded
			}
		})
	peeringKind = childKindOf("virtualNetworkPeerings", network.TypeVirtualNetwork,
		func(v *network.VirtualNetwork) *[]network.VirtualNetworkPeering {
			return &v.Properties.VirtualNetworkPeerings
		},
		func(p *network.VirtualNetworkPeering) *string { return &p.Name },
		func(p *network.VirtualNetworkPeering) {
			p.ID, p.Type, p.Etag, p.ResourceGroup = "", "", "", ""
			p.Properties.ProvisioningState = succeeded
			p.Properties.PeeringState = "" // computed from both sides (syncPeerings)
		})
	securityRuleKind = childKindOf("securityRules", network.TypeNetworkSecurityGroup,
		func(n *network.NetworkSecurityGroup) *[]network.SecurityRule { return &n.Properties.SecurityRules },
		func(r *network.SecurityRule) *string { return &r.Name },
		func(r *network.SecurityRule) {
			r.ID, r.Type, r.Etag, r.ResourceGroup = "", "", "", ""
			r.Properties.ProvisioningState = succeeded
		})
	routeKind = childKindOf("routes", network.TypeRouteTable,
		func(t *network.RouteTable) *[]network.Route { return &t.Properties.Routes },
		func(r *network.Route) *string { return &r.Name },
		func(r *network.Route) {
			r.ID, r.Type, r.Etag, r.ResourceGroup = "", "", "", ""
			r.Properties.ProvisioningState = succeeded
		})
)

// prepareChildren runs a child kind's prepare over every child of parent.
func prepareChildren(parent any, kinds ...*childKind) {
	for _, k := range kinds {
		for _, c := range k.list(parent) {
			k.prepare(c)
		}
	}
}

// keepGUID keeps a resource's GUID across updates and mints one on create.
func keepGUID(guid *string, old string) {
	if old != "" {
		*guid = old
	} else {
		*guid = newGUID()
	}
}

// newGUID returns a random UUID (a fresh etag is W/"<uuid>").
func newGUID() string { return strings.Trim(store.NewEtag()[2:], `"`) }

// Network kinds.
var (
	vnetNet = netKindOf("virtualNetworks", quotaVirtualNetworks,
		func(v *network.VirtualNetwork) *network.Meta { return &v.Meta },
		func(v, old *network.VirtualNetwork) {
			prepareChildren(v, subnetKind, peeringKind)
			keepPeeringStates(v, old)
			v.Properties.ProvisioningState = succeeded
			keepGUID(&v.Properties.ResourceGUID, guidOf(old, func(o *network.VirtualNetwork) string { return o.Properties.ResourceGUID }))
		}, subnetKind, peeringKind)
	nsgNet = netKindOf("networkSecurityGroups", quotaNSGs,
		func(n *network.NetworkSecurityGroup) *network.Meta { return &n.Meta },
		func(n, old *network.NetworkSecurityGroup) {
			prepareChildren(n, securityRuleKind)
			n.Properties.DefaultSecurityRules, n.Properties.Subnets, n.Properties.NetworkInterfaces = nil, nil, nil
			n.Properties.ProvisioningState = succeeded
			keepGUID(&n.Properties.ResourceGUID, guidOf(old, func(o *network.NetworkSecurityGroup) string { return o.Properties.ResourceGUID }))
		}, securityRuleKind)
	routeTableNet = netKindOf("routeTables", quotaRouteTables,
		func(t *network.RouteTable) *network.Meta { return &t.Meta },
		func(t, old *network.RouteTable) {
			prepareChildren(t, routeKind)
			t.Properties.Subnets = nil
			t.Properties.ProvisioningState = succeeded
			keepGUID(&t.Properties.ResourceGUID, guidOf(old, func(o *network.RouteTable) string { return o.Properties.ResourceGUID }))
		}, routeKind)
	asgNet = netKindOf("applicationSecurityGroups", quotaASGs,
		func(a *network.ApplicationSecurityGroup) *network.Meta { return &a.Meta },
		func(a, old *network.ApplicationSecurityGroup) {
			a.Properties.ProvisioningState = succeeded
			keepGUID(&a.Properties.ResourceGUID, guidOf(old, func(o *network.ApplicationSecurityGroup) string { return o.Properties.ResourceGUID }))
		})
	nicNet = netKindOf("networkInterfaces", quotaNICs,
		func(n *network.NetworkInterface) *network.Meta { return &n.Meta },
		func(n, old *network.NetworkInterface) {
			for i := range n.Properties.IPConfigurations {
				c := &n.Properties.IPConfigurations[i]
				c.ID, c.Type, c.Etag, c.ResourceGroup = "", "", "", ""
				c.Properties.ProvisioningState = succeeded
			}
			n.Properties.ProvisioningState = succeeded
			keepGUID(&n.Properties.ResourceGUID, guidOf(old, func(o *network.NetworkInterface) string { return o.Properties.ResourceGUID }))
		})
	publicIPNet = netKindOf("publicIPAddresses", quotaPublicIPs,
		func(p *network.PublicIPAddress) *network.Meta { return &p.Meta },
		func(p, old *network.PublicIPAddress) {
			p.Properties.IPConfiguration = nil
			p.Properties.ProvisioningState = succeeded
			keepGUID(&p.Properties.ResourceGUID, guidOf(old, func(o *network.PublicIPAddress) string { return o.Properties.ResourceGUID }))
		})
	loadBalancerNet = netKindOf("loadBalancers", quotaLoadBalancers,
		func(l *network.LoadBalancer) *network.Meta { return &l.Meta },
		func(l, old *network.LoadBalancer) {
			for i := range l.Properties.FrontendIPConfigurations {
				l.Properties.FrontendIPConfigurations[i].Properties.ProvisioningState = succeeded
			}
			for i := range l.Properties.BackendAddressPools {
				l.Properties.BackendAddressPools[i].Properties.BackendIPConfigurations = nil
				l.Properties.BackendAddressPools[i].Properties.ProvisioningState = succeeded
			}
			l.Properties.ProvisioningState = succeeded
			keepGUID(&l.Properties.ResourceGUID, guidOf(old, func(o *network.LoadBalancer) string { return o.Properties.ResourceGUID }))
		})
)

// keepPeeringStates keeps the state of the peerings a write leaves in place
// (same name, same remote network): a state is the server's to change
// (syncPeerings), and a Disconnected peering stays so until it is deleted
// and created again.
func keepPeeringStates(v, old *network.VirtualNetwork) {
	if old == nil {
		return
	}
	for i := range v.Properties.VirtualNetworkPeerings {
		p := &v.Properties.VirtualNetworkPeerings[i]
		for _, o := range old.Properties.VirtualNetworkPeerings {
			if strings.EqualFold(o.Name, p.Name) && o.Properties.RemoteVirtualNetwork != nil && p.Properties.RemoteVirtualNetwork != nil &&
				network.SameID(o.Properties.RemoteVirtualNetwork.ID, p.Properties.RemoteVirtualNetwork.ID) {
				p.Properties.PeeringState = o.Properties.PeeringState
			}
		}
	}
}

// Workspace service kinds: the parts of Microsoft.Storage/storageAccounts
// and Microsoft.KeyVault/vaults that the network model owns (their
// firewalls); their data planes come with workspaces.
var (
	storageNet = netKindOf("storageAccounts", quotaStorageAccounts,
		func(a *network.StorageAccount) *network.Meta { return &a.Meta },
		func(a, old *network.StorageAccount) {
			a.Properties.ProvisioningState = succeeded
			a.Properties.VirtualAddress = ""
			if old != nil {
				a.Properties.VirtualAddress = old.Properties.VirtualAddress
			}
			a.Properties.PrimaryEndpoints = &network.StorageEndpoints{
				Blob: "https://" + a.Name + ".blob.core.windows.net/",
				File: "https://" + a.Name + ".file.core.windows.net/",
			}
			if a.Kind == "" {
				a.Kind = "StorageV2"
			}
		})
	keyVaultNet = netKindOf("keyVaults", "",
		func(v *network.KeyVault) *network.Meta { return &v.Meta },
		func(v, old *network.KeyVault) {
			v.Properties.ProvisioningState = succeeded
			v.Properties.VirtualAddress = ""
			if old != nil {
				v.Properties.VirtualAddress = old.Properties.VirtualAddress
			}
			v.Properties.VaultURI = "https://" + v.Name + ".vault.azure.net/"
		})
)

func guidOf[T any](old *T, get func(*T) string) string {
	if old == nil {
		return ""
	}
	return get(old)
}

// buildKinds registers every served type with its routes.
func (s *Server) buildKinds() {
	s.kinds = map[string]*kind{}
	add := func(k *kind) {
		if r, ok := k.methods[http.MethodPut]; ok {
			k.stage = r.stage
		}
		for m, r := range k.methods {
			if r.stage != nil {
				r.h = s.putWith(r.stage)
				k.methods[m] = r
			}
		}
		s.kinds[strings.ToLower(k.typ)] = k
	}

	add(&kind{name: "subscriptions", typ: typeSubscription, methods: map[string]route{
		http.MethodGet:    {h: s.getSubscription, name: "subscriptions.get", self: true},
		http.MethodPut:    {stage: s.stageSubscription, name: "subscriptions.put", act: auth.Write},
		http.MethodPatch:  {stage: s.stageSubscription, name: "subscriptions.patch", act: auth.Write},
		http.MethodDelete: {h: s.deleteSubscription, name: "subscriptions.delete", act: auth.Delete},
	}})
	add(&kind{name: "resourceGroups", typ: typeResourceGroup, methods: map[string]route{
		http.MethodGet:    {h: s.getResourceGroup, name: "resourceGroups.get", act: auth.Read},
		http.MethodPut:    {stage: s.stageGroup, name: "resourceGroups.put", act: auth.Write},
		http.MethodPatch:  {stage: s.stageGroup, name: "resourceGroups.patch", act: auth.Write},
		http.MethodDelete: {h: s.deletePlain, name: "resourceGroups.delete", act: auth.Delete},
	}, list: &route{h: s.listResourceGroups, name: "resourceGroups.list", act: auth.Read, list: true}})

	for typ, nk := range map[string]*netKind{
		network.TypeVirtualNetwork: vnetNet, network.TypeNetworkSecurityGroup: nsgNet,
		network.TypeRouteTable: routeTableNet, network.TypeApplicationSecurityGrp: asgNet,
		network.TypeNetworkInterface: nicNet, network.TypePublicIPAddress: publicIPNet,
		network.TypeLoadBalancer:   loadBalancerNet,
		network.TypeStorageAccount: storageNet, network.TypeKeyVault: keyVaultNet,
	} {
		k := &kind{name: nk.collection, typ: typ, net: nk}
		k.methods = map[string]route{
			http.MethodGet:    {h: s.getNetwork, name: k.name + ".get", act: auth.Read},
			http.MethodPut:    {stage: s.stageNetwork, name: k.name + ".put", act: auth.Write},
			http.MethodPatch:  {stage: s.stageNetwork, name: k.name + ".patch", act: auth.Write},
			http.MethodDelete: {h: s.deletePlain, name: k.name + ".delete", act: auth.Delete},
		}
		k.list = &route{h: s.listNetwork, name: k.name + ".list", act: auth.Read, list: true}
		add(k)
		for _, ck := range nk.children {
			c := &kind{name: nk.collection + "." + ck.segment, typ: typ + "/" + ck.segment, child: ck}
			c.methods = map[string]route{
				http.MethodGet:    {h: s.getChild, name: c.name + ".get", act: auth.Read},
				http.MethodPut:    {stage: s.stageChild, name: c.name + ".put", act: auth.Write},
				http.MethodDelete: {h: s.deleteChild, name: c.name + ".delete", act: auth.Delete},
			}
			c.list = &route{h: s.listChildren, name: c.name + ".list", act: auth.Read, list: true}
			add(c)
		}
	}
	s.kinds[strings.ToLower(network.TypeNetworkInterface)].actions = map[string]route{
		"effectiveNetworkSecurityGroups": {h: s.effectiveNSGs, name: "networkInterfaces.effectiveNetworkSecurityGroups", act: auth.Query},
		"effectiveRouteTable":            {h: s.effectiveRoutes, name: "networkInterfaces.effectiveRouteTable", act: auth.Query},
	}

	s.kinds[strings.ToLower(network.TypeStorageAccount)].actions = map[string]route{
		"listKeys":      {h: s.listKeys, name: "storageAccounts.listKeys", act: auth.Write},
		"regenerateKey": {h: s.regenerateKey, name: "storageAccounts.regenerateKey", act: auth.Write},
	}

	add(&kind{name: "workspaces", typ: typeWorkspace, methods: map[string]route{
		http.MethodGet:    {h: s.getPlain, name: "workspaces.get", act: auth.Read},
		http.MethodPut:    {stage: s.stageWorkspace, name: "workspaces.put", act: auth.Write},
		http.MethodPatch:  {stage: s.stageWorkspace, name: "workspaces.patch", act: auth.Write},
		http.MethodDelete: {h: s.deleteWorkspace, name: "workspaces.delete", act: auth.Delete},
	}, actions: map[string]route{
		"diagnose": {h: s.diagnose, name: "workspaces.diagnose", act: auth.Query},
	}, list: &route{h: s.listPlain, name: "workspaces.list", act: auth.Read, list: true}})
	add(&kind{name: "workspaces.datastores", typ: typeDatastore, methods: map[string]route{
		http.MethodGet:    {h: s.getPlain, name: "workspaces.datastores.get", act: auth.Read},
		http.MethodPut:    {stage: s.stageDatastore, name: "workspaces.datastores.put", act: auth.Write},
		http.MethodDelete: {h: s.deleteDatastore, name: "workspaces.datastores.delete", act: auth.Delete},
	}, list: &route{h: s.listDatastores, name: "workspaces.datastores.list", act: auth.Read, list: true}})
	add(&kind{name: "workspaces.computes", typ: typeCompute, methods: map[string]route{
		http.MethodGet:    {h: s.getCompute, name: "workspaces.computes.get", act: auth.Read},
		http.MethodPut:    {stage: s.stageCompute, name: "workspaces.computes.put", act: auth.Write},
		http.MethodPatch:  {stage: s.stageCompute, name: "workspaces.computes.patch", act: auth.Write},
		http.MethodDelete: {h: s.deleteComputeAction, name: "workspaces.computes.delete", act: auth.Delete},
	}, actions: map[string]route{
		"listNodes":   {h: s.listNodes, name: "workspaces.computes.listNodes", act: auth.Query},
		"preemptNode": {h: s.preemptNode, name: "workspaces.computes.preemptNode", act: auth.Write},
	}, list: &route{h: s.listComputes, name: "workspaces.computes.list", act: auth.Read, list: true}})
	add(&kind{name: "workspaces.experiments", typ: api.TypeExperiment, methods: map[string]route{
		http.MethodGet: {h: s.getExperiment, name: "workspaces.experiments.get", act: auth.Read},
	}, list: &route{h: s.listExperiments, name: "workspaces.experiments.list", act: auth.Read, list: true}})
	add(&kind{name: "workspaces.experiments.runs", typ: api.TypeRun, methods: map[string]route{
		http.MethodGet: {h: s.getRun, name: "workspaces.experiments.runs.get", act: auth.Read},
		http.MethodPut: {h: s.putRun, name: "workspaces.experiments.runs.put", act: auth.Write},
	}, actions: map[string]route{
		"cancel": {h: s.cancelRun, name: "workspaces.experiments.runs.cancel", act: auth.Write},
	}, list: &route{h: s.listRuns, name: "workspaces.experiments.runs.list", act: auth.Read, list: true}})
	// GET {run}/logs and {run}/metrics parse as collections under the run.
	add(&kind{name: "workspaces.experiments.runs.logs", typ: api.TypeRun + "/logs",
		list: &route{h: s.runLogs, name: "workspaces.experiments.runs.logs", act: auth.Read}})
	add(&kind{name: "workspaces.experiments.runs.metrics", typ: api.TypeRun + "/metrics",
		list: &route{h: s.runMetrics, name: "workspaces.experiments.runs.metrics", act: auth.Read}})
	add(&kind{name: "workspaces.runs", typ: typeWorkspace + "/runs",
		list: &route{h: s.listWorkspaceRuns, name: "workspaces.runs.list", act: auth.Read, list: true}})
	s.modelKinds(add)
	add(&kind{name: "workspaces.services", typ: api.TypeService, methods: map[string]route{
		http.MethodGet:    {h: s.getService, name: "workspaces.services.get", act: auth.Read},
		http.MethodPut:    {stage: s.stageService, name: "workspaces.services.put", act: auth.Write},
		http.MethodDelete: {h: s.deleteService, name: "workspaces.services.delete", act: auth.Delete},
	}, actions: map[string]route{
		"listKeys":       {h: s.serviceKeys, name: "workspaces.services.listKeys", act: auth.Write},
		"regenerateKeys": {h: s.regenerateServiceKey, name: "workspaces.services.regenerateKeys", act: auth.Write},
		"token":          {h: s.serviceToken, name: "workspaces.services.token", act: auth.Write},
	}, list: &route{h: s.listServices, name: "workspaces.services.list", act: auth.Read, list: true}})
	add(&kind{name: "workspaces.services.logs", typ: api.TypeService + "/logs",
		list: &route{h: s.serviceLogs, name: "workspaces.services.logs", act: auth.Read}})
	add(&kind{name: "registries", typ: typeRegistry, methods: map[string]route{
		http.MethodGet:    {h: s.getPlain, name: "registries.get", act: auth.Read},
		http.MethodPut:    {stage: s.stageRegistry, name: "registries.put", act: auth.Write},
		http.MethodPatch:  {stage: s.stageRegistry, name: "registries.patch", act: auth.Write},
		http.MethodDelete: {h: s.deletePlain, name: "registries.delete", act: auth.Delete},
	}, list: &route{h: s.listPlain, name: "registries.list", act: auth.Read, list: true}})

	add(&kind{name: "managedClusters", typ: typeManagedCluster, methods: map[string]route{
		http.MethodGet:    {h: s.getPlain, name: "managedClusters.get", act: auth.Read},
		http.MethodPut:    {stage: s.stageManagedCluster, name: "managedClusters.put", act: auth.Write},
		http.MethodPatch:  {stage: s.stageManagedCluster, name: "managedClusters.patch", act: auth.Write},
		http.MethodDelete: {h: s.deleteManagedCluster, name: "managedClusters.delete", act: auth.Delete},
	}, list: &route{h: s.listPlain, name: "managedClusters.list", act: auth.Read, list: true}})

	add(&kind{name: "networkWatchers", typ: typeNetworkWatcher, methods: map[string]route{
		http.MethodGet:    {h: s.getPlain, name: "networkWatchers.get", act: auth.Read},
		http.MethodPut:    {stage: s.stageWatcher, name: "networkWatchers.put", act: auth.Write},
		http.MethodDelete: {h: s.deletePlain, name: "networkWatchers.delete", act: auth.Delete},
	}, actions: map[string]route{
		"ipFlowVerify":      {h: s.ipFlowVerify, name: "networkWatchers.ipFlowVerify", self: true}, // on the NIC
		"nextHop":           {h: s.nextHop, name: "networkWatchers.nextHop", self: true},
		"connectivityCheck": {h: s.connectivityCheck, name: "networkWatchers.connectivityCheck", self: true},
	}, list: &route{h: s.listPlain, name: "networkWatchers.list", act: auth.Read, list: true}})

	add(&kind{name: "locks", typ: typeLock, methods: map[string]route{
		http.MethodGet:    {h: s.getPlain, name: "locks.get", act: auth.Read},
		http.MethodPut:    {stage: s.stageLock, name: "locks.put", act: auth.Write},
		http.MethodDelete: {h: s.deleteLock, name: "locks.delete", act: auth.Delete},
	}, list: &route{h: s.listLocks, name: "locks.list", act: auth.Read, list: true}})

	add(&kind{name: "flowLogs", typ: typeFlowLogs,
		list: &route{h: s.listFlowLogs, name: "flowLogs.list", self: true}})

	add(&kind{name: "usages", typ: typeUsage,
		list: &route{h: s.listUsages, name: "usages.list", act: auth.Read, list: true}})

	add(&kind{name: "whoami", typ: "vnetml.Authorization/whoami",
		list: &route{h: s.whoAmI, name: "whoami", self: true}})

	add(&kind{name: "tokens", typ: typeToken, methods: map[string]route{
		http.MethodGet:    {h: s.getToken, name: "tokens.get", self: true},
		http.MethodPut:    {h: s.putToken, name: "tokens.put", self: true},
		http.MethodDelete: {h: s.deleteToken, name: "tokens.delete", self: true},
	}, list: &route{h: s.listTokens, name: "tokens.list", self: true}})
}
