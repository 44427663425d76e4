package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// diagnoseResult is the answer of POST {workspace}/diagnose, in the shape
// of Azure ML's workspace diagnostic API: per category a list of
// {code, level, message}; empty lists mean healthy.
type diagnoseResult struct {
	Value diagnoseCategories `json:"value"`
}

type diagnoseCategories struct {
	UserDefinedRouteResults    []finding `json:"user_defined_route_results"`
	NetworkSecurityRuleResults []finding `json:"network_security_rule_results"`
	ResourceLockResults        []finding `json:"resource_lock_results"`
	DNSResolutionResults       []finding `json:"dns_resolution_results"`
	StorageAccountResults      []finding `json:"storage_account_results"`
	KeyVaultResults            []finding `json:"key_vault_results"`
	ContainerRegistryResults   []finding `json:"container_registry_results"`
	ApplicationInsightsResults []finding `json:"application_insights_results"`
	OtherResults               []finding `json:"other_results"`
}

// diagnose checks, with the engine the fabric enforces, every flow each
// compute of the workspace needs (DESIGN.md §5): Batch node management in
// on TCP 29876-29877, storage and the key vault out (their firewalls
// included), the container registry and the ML control plane out, routes
// that tunnel the management traffic's return path; and locks on the
// groups where clusters create resources. Nothing is decided twice: the
// fabric asks the same engine.
func (s *Server) diagnose(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	r, err := s.st.Get(ctx, id.ID)
	if err != nil {
		return response{}, notFound(err, id)
	}
	var ws workspaceDoc
	if err := json.Unmarshal(r.Doc, &ws); err != nil {
		return response{}, err
	}
	var out diagnoseResult
	v := &out.Value
	eng := s.engine().eng
	page, err := s.st.List(ctx, store.ListOptions{Parent: id.ID, Type: typeCompute})
	if err != nil {
		return response{}, err
	}
	if len(page.Resources) == 0 {
		v.OtherResults = append(v.OtherResults, finding{Code: "NoCompute", Level: "Information", Message: "The workspace has no compute clusters: nothing to check in a virtual network."})
	}
	for _, cr := range page.Resources {
		var d computeDoc
		if json.Unmarshal(cr.Doc, &d) != nil {
			continue
		}
		s.diagnoseCompute(eng, ws, d, v)
	}
	s.diagnoseLocks(ctx, page.Resources, v)
	for _, list := range []*[]finding{&v.UserDefinedRouteResults, &v.NetworkSecurityRuleResults, &v.ResourceLockResults, &v.DNSResolutionResults,
		&v.StorageAccountResults, &v.KeyVaultResults, &v.ContainerRegistryResults, &v.ApplicationInsightsResults, &v.OtherResults} {
		if *list == nil {
			*list = []finding{}
		}
	}
	return ok(out)
}

// diagnoseCompute checks one cluster's required flows from one of its
// nodes (each node has the same subnet and NSGs).
func (s *Server) diagnoseCompute(eng *flow.Engine, ws workspaceDoc, d computeDoc, v *diagnoseCategories) {
	name := d.Name
	nodes := d.ID
	if d.Properties.ResourceID != "" {
		nodes = d.Properties.ResourceID // an attached compute's nodes are its managed cluster's
	}
	nic := s.someNodeNIC(nodes)
	if nic == "" {
		// No node: check a stand-in, the node Batch would make next.
		var addr netip.Addr
		var ok bool
		eng, nic, addr, ok = s.standInNode(d)
		if !ok {
			v.OtherResults = append(v.OtherResults, finding{Code: "NoNodesToCheck", Level: "Information", Message: fmt.Sprintf(
				"Compute %s has no nodes and its subnet no free address for one, so its flows were not checked.", name)})
			return
		}
		v.OtherResults = append(v.OtherResults, finding{Code: "CheckedWithStandInNode", Level: "Information", Message: fmt.Sprintf(
			"Compute %s has no nodes: its flows were checked for the node it would get next, at %s in subnet %s, with its NSG.", name, addr, lastSegment(d.Properties.Resources.Subnet))})
	}
	// addTo files a refusal under the category its stage belongs to.
	addTo := func(code, what string, pv flow.PathVerdict, service string) {
		h := pv.Refusal()
		msg := fmt.Sprintf("Compute %s: %s is refused: %s", name, what, pv.Explain())
		f := finding{Code: code, Level: "Error", Message: msg}
		switch {
		case h.Stage == flow.StageFirewall && strings.Contains(strings.ToLower(service), "keyvault"):
			v.KeyVaultResults = append(v.KeyVaultResults, f)
		case h.Stage == flow.StageFirewall:
			v.StorageAccountResults = append(v.StorageAccountResults, f)
		case h.Stage == flow.StageRoute || h.Stage == flow.StageReturnRoute || h.Stage == flow.StageAppliance && h.Rule == "":
			v.UserDefinedRouteResults = append(v.UserDefinedRouteResults, f)
		default:
			v.NetworkSecurityRuleResults = append(v.NetworkSecurityRuleResults, f)
		}
	}
	node := flow.Endpoint{NIC: nic}
	if mgmt, ok := s.ManagementAddr(d.Location); ok {
		for _, port := range []uint16{compute.PortManagement, compute.PortControl} {
			pv, err := eng.Path(flow.Endpoint{Addr: mgmt}, node, network.ProtoTCP, 443, port)
			if err == nil && pv.Access == flow.Deny {
				code := "BatchNodeManagementBlocked"
				if h := pv.Refusal(); h.Stage == flow.StageReturnRoute {
					code = "ForcedTunnelingWithoutBatchRoutes"
				}
				addTo(code, fmt.Sprintf("inbound TCP %d from BatchNodeManagement (%s), without which the nodes turn unusable,", port, mgmt), pv, "")
			}
		}
	}
	out := func(code, what string, dst flow.Endpoint, port uint16) {
		pv, err := eng.Path(node, dst, network.ProtoTCP, 49152, port)
		if err == nil && pv.Access == flow.Deny {
			addTo(code, what, pv, dst.Service)
		}
	}
	if a := s.serviceEndpoint(ws.Properties.StorageAccount); a.Addr.IsValid() {
		out("StorageAccountUnreachable", "outbound TCP 443 to the workspace's storage account "+lastSegment(a.Service), a, 443)
		out("StorageAccountUnreachable", "outbound TCP 445 to the workspace's storage account "+lastSegment(a.Service)+" (workspacefilestore)", a, 445)
	}
	if a := s.serviceEndpoint(ws.Properties.KeyVault); a.Addr.IsValid() {
		out("KeyVaultUnreachable", "outbound TCP 443 to the workspace's key vault "+lastSegment(a.Service), a, 443)
	}
	for _, t := range []struct{ tag, code string }{
		{"AzureContainerRegistry." + d.Location, "ContainerRegistryUnreachable"},
		{"AzureMachineLearning", "MachineLearningServiceUnreachable"},
	} {
		if tag, ok := s.tags.Lookup(t.tag); ok && len(tag.V4) > 0 {
			dst := tag.V4[0].Addr().Next()
			pv, err := eng.Path(node, flow.Endpoint{Addr: dst}, network.ProtoTCP, 49152, 443)
			if err == nil && pv.Access == flow.Deny {
				if t.code == "ContainerRegistryUnreachable" {
					pv := pv
					f := finding{Code: t.code, Level: "Error", Message: fmt.Sprintf("Compute %s: outbound TCP 443 to %s (%s) is refused: %s", name, t.tag, dst, pv.Explain())}
					v.ContainerRegistryResults = append(v.ContainerRegistryResults, f)
					continue
				}
				addTo(t.code, fmt.Sprintf("outbound TCP 443 to %s (%s)", t.tag, dst), pv, "")
			}
		}
	}
}

// someNodeNIC returns the id of one of a compute's node NICs, or "".
func (s *Server) someNodeNIC(computeID string) string {
	var ids []string
	for _, n := range s.view.Load().snap.NetworkInterfaces {
		if strings.EqualFold(n.Tags[tagManagedBy], computeID) {
			ids = append(ids, n.ID)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// serviceEndpoint is the engine endpoint of a storage account or key
// vault (its virtual address and id), zero when it has none.
func (s *Server) serviceEndpoint(id string) flow.Endpoint {
	snap := s.view.Load().snap
	for _, a := range snap.StorageAccounts {
		if network.SameID(a.ID, id) {
			addr, _ := netip.ParseAddr(a.Properties.VirtualAddress)
			return flow.Endpoint{Addr: addr, Service: a.ID}
		}
	}
	for _, k := range snap.KeyVaults {
		if network.SameID(k.ID, id) {
			addr, _ := netip.ParseAddr(k.Properties.VirtualAddress)
			return flow.Endpoint{Addr: addr, Service: k.ID}
		}
	}
	return flow.Endpoint{}
}

// diagnoseLocks reports locks on the groups where clusters keep their
// NSG, public IP, load balancer and node interfaces: a ReadOnly lock stops
// the cluster from creating nodes, CanNotDelete from removing them.
func (s *Server) diagnoseLocks(ctx context.Context, computes []store.Resource, v *diagnoseCategories) {
	seen := map[string]bool{}
	for _, cr := range computes {
		var d computeDoc
		if json.Unmarshal(cr.Doc, &d) != nil || d.Properties.Resources.NetworkSecurityGroup == "" {
			continue
		}
		nsg, err := store.ParseID(d.Properties.Resources.NetworkSecurityGroup)
		if err != nil {
			continue
		}
		group := "/subscriptions/" + nsg.Subscription + "/resourceGroups/" + nsg.ResourceGroup
		page, err := s.st.List(ctx, store.ListOptions{Subscription: nsg.Subscription, Type: typeLock})
		if err != nil {
			continue
		}
		for _, l := range page.Resources {
			lid, err := store.ParseID(l.ID)
			if err != nil || seen[lid.Key] {
				continue
			}
			scope := strings.ToLower(lid.Parent)
			if scope != strings.ToLower(group) && scope != strings.ToLower("/subscriptions/"+nsg.Subscription) {
				continue
			}
			seen[lid.Key] = true
			var ld lockDoc
			_ = json.Unmarshal(l.Doc, &ld)
			v.ResourceLockResults = append(v.ResourceLockResults, finding{Code: "ResourceLockOnComputeGroup", Level: "Warning", Message: fmt.Sprintf(
				"Lock %s (%s) on %s applies to the group where compute %s keeps its NSG, public IP, load balancer and node interfaces: a ReadOnly lock stops it from adding nodes, CanNotDelete from removing them. Remove the lock, or move the cluster's network to another group.",
				lastSegment(l.ID), ld.Properties.Level, lid.Parent, d.Name)})
		}
	}
}

// standInNode returns an engine of the network as it is plus one node of
// the cluster — an interface in its subnet, with its NSG, at the subnet's
// first free address — so that a cluster with no node can be checked
// before it gets one (the pre-flight check).
func (s *Server) standInNode(d computeDoc) (*flow.Engine, string, netip.Addr, bool) {
	res := d.Properties.Resources
	if res.NetworkSecurityGroup == "" || !strings.Contains(res.NetworkSecurityGroup, "/providers/") {
		return nil, "", netip.Addr{}, false
	}
	s.mu.Lock()
	t := &txn{s: s}
	sub := t.subnet(res.Subnet)
	var addr netip.Addr
	ok := false
	if sub != nil {
		used := t.addressesIn(res.Subnet, "")
		addr, ok = network.FreeAddress(sub, func(a netip.Addr) bool { return used[a] })
	}
	view := s.view.Load()
	s.mu.Unlock()
	if !ok {
		return nil, "", netip.Addr{}, false
	}
	snap := *view.snap
	nicID := strings.TrimSuffix(res.NetworkSecurityGroup, "-nsg")
	nicID = nicID[:strings.Index(nicID, "/providers/")] + "/providers/" + network.TypeNetworkInterface + "/" + lastSegment(nicID) + "-stand-in"
	primary := true
	n := network.NetworkInterface{Meta: network.Meta{ID: nicID, Name: lastSegment(nicID), Location: d.Location},
		Properties: network.NICProperties{NetworkSecurityGroup: &network.SubResource{ID: res.NetworkSecurityGroup},
			IPConfigurations: []network.IPConfiguration{{Name: "ipconfig1", Properties: network.IPConfigurationProperties{
				PrivateIPAddress: addr.String(), PrivateIPAllocationMethod: "Static", Subnet: &network.SubResource{ID: res.Subnet}, Primary: &primary}}}}}
	snap.NetworkInterfaces = append(slices.Clip(view.snap.NetworkInterfaces), n)
	return flow.Compile(&snap, s.tags), nicID, addr, true
}
