package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// Compute clusters (workspaces/{w}/computes/{name}, computeType
// AmlCompute; DESIGN.md §7): the document as Azure ML stores it, the
// network resources each cluster owns in its virtual network's group (one
// NSG, one public IP, one load balancer, as Batch creates them), and the
// running nodes, which internal/compute's controller keeps.
const (
	typeCompute = typeWorkspace + "/computes"
	// sealAdminPassword seals a cluster's admin password beside it.
	sealAdminPassword = "compute/admin-password"
	// tagManagedBy marks the network resources a compute owns.
	tagManagedBy = "vnetml-compute"
)

// computeNameRE is Azure ML's rule for compute names.
var computeNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{1,15}$`)

// systemPrincipal is who the controller's writes (node NICs) are made as.
var systemPrincipal = auth.Principal{TokenID: "vnetml-compute", Role: auth.Owner, Scope: "/"}

// computeDoc is a stored compute.
type computeDoc struct {
	ID         string            `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Type       string            `json:"type,omitempty"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Etag       string            `json:"etag,omitempty"`
	Properties computeProps      `json:"properties"`
}

type computeProps struct {
	ComputeType     string `json:"computeType"`
	ComputeLocation string `json:"computeLocation"`
	Description     string `json:"description,omitempty"`
	// ResourceID is the managed cluster an attached compute stands for
	// (aks_attach.go); "" for a compute the workspace created.
	ResourceID        string          `json:"resourceId,omitempty"`
	IsAttachedCompute bool            `json:"isAttachedCompute"`
	ProvisioningState string          `json:"provisioningState"`
	CreatedOn         time.Time       `json:"createdOn"`
	ModifiedOn        time.Time       `json:"modifiedOn"`
	Properties        json.RawMessage `json:"properties"`
	// Resources are the network resources the cluster owns (vnetml's).
	Resources clusterResources `json:"vnetmlResources"`
}

// clusterResources are the ids of what a cluster created.
type clusterResources struct {
	NetworkSecurityGroup string `json:"networkSecurityGroup"`
	PublicIPAddress      string `json:"publicIPAddress"`
	LoadBalancer         string `json:"loadBalancer"`
	// VirtualNetwork is set when the cluster names no subnet: vnetml
	// then creates a network of its own for it.
	VirtualNetwork string `json:"virtualNetwork,omitempty"`
	Subnet         string `json:"subnet"`
	// FrontEnd is an inference cluster's azureml-fe network interface.
	FrontEnd string `json:"frontEnd,omitempty"`
}

// stageCompute stages a compute cluster: its settings validated as the
// Azure ML SDK does, its subnet checked (the workspace's subscription and
// region, free addresses for max_nodes, else a partial allocation), and on
// creation its NSG (with the inbound rules Batch needs), public IP and
// load balancer in the network's group — counted against quotas and
// subject to that group's locks. A PATCH changes scaleSettings only.
func (s *Server) stageCompute(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	id = t.canonical(id)
	wsEntry := t.get(lower(id.Parent))
	if wsEntry == nil {
		return false, parentMissing(id)
	}
	var ws workspaceDoc
	_ = json.Unmarshal(wsEntry.res.Doc, &ws)
	cur := t.get(id.Key)
	if isAKS(body, cur) {
		return s.stageAKS(t, id, ws, body, cond, cur, patch)
	}
	if err := checkCond(cond, id.ID, cur); err != nil {
		return false, err
	}
	var d computeDoc
	var spec compute.Spec
	var err error
	if patch {
		if cur == nil {
			return false, notFound(store.NotFound(id.ID), id)
		}
		if err := json.Unmarshal(cur.res.Doc, &d); err != nil {
			return false, err
		}
		old, err := storedSpec(d, ws)
		if err != nil {
			return false, err
		}
		if spec, err = compute.DecodeUpdate(body, old); err != nil {
			return false, err
		}
	} else {
		if spec, err = compute.DecodeSpec(body, compute.SpecContext{WorkspaceSubscription: id.Subscription, WorkspaceLocation: ws.Location}); err != nil {
			return false, err
		}
		if cur != nil {
			// A PUT of an existing compute may change its scale settings
			// (as update does); anything else needs a new compute.
			if err := json.Unmarshal(cur.res.Doc, &d); err != nil {
				return false, err
			}
			old, err := storedSpec(d, ws)
			if err != nil {
				return false, err
			}
			if f := compute.Immutable(old, spec); f != "" {
				return false, armerror.New(store.CodeConflict, f, "Compute %s exists and its %s cannot change; only scaleSettings can (vnetml compute update). Delete and recreate it to change the rest.", lastSegment(id.ID), f)
			}
			spec = old.WithScale(spec)
		}
	}
	if cur == nil {
		var hdr struct {
			Location   string            `json:"location"`
			Tags       map[string]string `json:"tags"`
			Properties struct {
				Description string `json:"description"`
			} `json:"properties"`
		}
		_ = json.Unmarshal(body, &hdr)
		if loc := normLocation(hdr.Location); loc != "" && loc != ws.Location {
			return false, armerror.New(codeInvalidLocation, "location", "Compute %s must be in its workspace's region %s, not %s.", lastSegment(id.ID), ws.Location, loc)
		}
		d = computeDoc{Location: ws.Location, Tags: hdr.Tags}
		d.Properties.Description = hdr.Properties.Description
		d.Properties.CreatedOn = time.Now().UTC()
		if d.Properties.Resources, err = s.stageClusterNetwork(t, id, ws, spec); err != nil {
			return false, err
		}
	}
	name := lastSegment(id.ID)
	if cur == nil && !computeNameRE.MatchString(name) {
		return false, armerror.New(compute.CodeUserError, "name",
			"Compute name %q is invalid: it must be 2 to 16 characters of letters, digits and hyphens, starting with a letter.", name)
	}
	d.ID, d.Name, d.Type, d.Etag = id.ID, name, typeCompute, ""
	d.Properties.ComputeType, d.Properties.ComputeLocation, d.Properties.ProvisioningState = "AmlCompute", ws.Location, succeeded
	props, err := json.Marshal(spec.Properties())
	if err != nil {
		return false, err
	}
	if cur == nil || string(props) != string(d.Properties.Properties) {
		d.Properties.ModifiedOn = time.Now().UTC()
	}
	d.Properties.Properties = props
	existed, err := t.stagePlain(id, d, cond, true)
	if err != nil {
		return false, err
	}
	if pw := spec.AdminUserPassword; pw != "" && cur == nil {
		if err := t.putSealedValues(id.ID+"/credentials/default", sealAdminPassword, id.ID, map[string][]byte{"adminUserPassword": []byte(pw)}); err != nil {
			return false, err
		}
	}
	t.afterCommit(func(ctx context.Context) error {
		s.upsertCompute(ctx, id.Key)
		return nil
	})
	return existed, nil
}

// storedSpec reads the settings of a stored compute back.
func storedSpec(d computeDoc, ws workspaceDoc) (compute.Spec, error) {
	if strings.EqualFold(d.Properties.ComputeType, computeTypeAKS) {
		return aksSpec(d)
	}
	return compute.DecodeStored(d.Properties.Properties, compute.SpecContext{WorkspaceSubscription: subscriptionOf(d.ID), WorkspaceLocation: ws.Location})
}

func subscriptionOf(id string) string {
	p, err := store.ParseID(id)
	if err != nil {
		return ""
	}
	return p.Subscription
}

// stageClusterNetwork checks the cluster's subnet and stages what the
// cluster owns in the network's resource group: an NSG whose inbound
// rules admit Batch node management (TCP 29876-29877 from
// BatchNodeManagement) and, with remote login, SSH; a public IP; a load
// balancer on it. A cluster without a subnet gets a network of its own.
func (s *Server) stageClusterNetwork(t *txn, id store.ID, ws workspaceDoc, spec compute.Spec) (clusterResources, error) {
	var r clusterResources
	name := lastSegment(id.ID)
	subnetID := spec.SubnetID
	group := "/subscriptions/" + id.Subscription + "/resourceGroups/" + id.ResourceGroup
	base := strings.ToLower(name) + "-" + compact(ws.Properties.WorkspaceID, 8)
	if subnetID == "" {
		// No virtual network named: vnetml makes one for the cluster in
		// the workspace's group (Batch would use a network of its own).
		vnet := group + "/providers/" + network.TypeVirtualNetwork + "/" + base + "-vnet"
		if err := s.stageAs(t, vnet, fmt.Sprintf(`{"location": %q, "tags": {%q: %q}, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
			"subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/16"}}]}}`, ws.Location, tagManagedBy, id.ID)); err != nil {
			return r, err
		}
		r.VirtualNetwork, subnetID = vnet, vnet+"/subnets/default"
	} else {
		const target = "properties.properties.subnet.id"
		// Joining a subnet creates the cluster's NSG, public IP, load
		// balancer and node interfaces in its group (Azure's
		// subnets/join/action): the caller must be allowed to write there.
		if err := auth.Authorize(t.who, auth.Write, subnetID); err != nil {
			return r, armerror.New(codeAuthorization, target, "A compute in subnet %s creates its network resources in that subnet's group, so it needs write access there: %v", subnetID, err)
		}
		sub := t.subnet(subnetID)
		if sub == nil {
			return r, armerror.New(network.CodeInvalidResourceReference, target, "Subnet %s does not exist; create it first, or give the cluster another subnet.", subnetID)
		}
		sid, err := store.ParseID(subnetID)
		if err != nil {
			return r, armerror.New(network.CodeInvalidResourceReference, target, "%q is not a subnet id.", subnetID)
		}
		if !strings.EqualFold(sid.Subscription, id.Subscription) {
			return r, armerror.New(codeInvalidParameter, target, "The virtual network of subnet %s is in subscription %s; a compute's virtual network must be in its workspace's subscription %s.", subnetID, sid.Subscription, id.Subscription)
		}
		if loc := t.get(lower(sid.Parent)); loc != nil && loc.loc != ws.Location {
			return r, armerror.New(codeInvalidParameter, target, "The virtual network of subnet %s is in %s; a compute's virtual network must be in its workspace's region %s.", subnetID, loc.loc, ws.Location)
		}
		group = "/subscriptions/" + sid.Subscription + "/resourceGroups/" + sid.ResourceGroup
	}
	r.Subnet = subnetID
	rules := []string{fmt.Sprintf(`{"name": "BatchNodeManagement", "properties": {"priority": 1000, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
		"sourceAddressPrefix": "BatchNodeManagement", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "%d-%d"}}`, compute.PortManagement, compute.PortControl)}
	if spec.RemoteLoginPortPublicAccess == compute.RemoteLoginEnabled {
		rules = append(rules, `{"name": "RemoteLogin", "properties": {"priority": 1010, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
		"sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}`)
	}
	tags := fmt.Sprintf(`{%q: %q}`, tagManagedBy, id.ID)
	r.NetworkSecurityGroup = group + "/providers/" + network.TypeNetworkSecurityGroup + "/" + base + "-nsg"
	r.PublicIPAddress = group + "/providers/" + network.TypePublicIPAddress + "/" + base + "-pip"
	r.LoadBalancer = group + "/providers/" + network.TypeLoadBalancer + "/" + base + "-lb"
	for _, x := range []struct{ id, body string }{
		{r.NetworkSecurityGroup, fmt.Sprintf(`{"location": %q, "tags": %s, "properties": {"securityRules": [%s]}}`, ws.Location, tags, strings.Join(rules, ","))},
		{r.PublicIPAddress, fmt.Sprintf(`{"location": %q, "tags": %s, "properties": {"publicIPAllocationMethod": "Static"}}`, ws.Location, tags)},
		{r.LoadBalancer, fmt.Sprintf(`{"location": %q, "tags": %s, "properties": {"frontendIPConfigurations": [{"name": "frontend",
			"properties": {"publicIPAddress": {"id": %q}}}]}}`, ws.Location, tags, r.PublicIPAddress)},
	} {
		if err := s.stageAs(t, x.id, x.body); err != nil {
			return r, err
		}
	}
	return r, nil
}

// stageAs stages a PUT of a resource of the network model the server
// makes on a caller's behalf; its errors name the resource.
func (s *Server) stageAs(t *txn, rid, body string) error {
	id, err := store.ParseID(rid)
	if err != nil {
		return err
	}
	k := s.kindOf(id.Type)
	if _, err := k.stage(t, id, []byte(body), store.Condition{}, false); err != nil {
		if e, ok := armerror.As(err); ok && e.Code != codeQuotaExceeded && e.Code != codeScopeLocked {
			return armerror.New(e.Code, e.Target, "Creating %s for the compute: %s", typeAndName(id), e.Message)
		}
		return err
	}
	return nil
}

// clusterOf is what the controller runs for a compute.
func (s *Server) clusterOf(t *txn, d computeDoc, spec compute.Spec) compute.Cluster {
	fits := s.fits(t, d.Properties.Resources.Subnet, d.ID)
	c := compute.Cluster{ID: d.ID, Location: d.Location, SubnetID: d.Properties.Resources.Subnet, NSGID: d.Properties.Resources.NetworkSecurityGroup, Spec: spec, Fits: fits}
	if strings.EqualFold(d.Properties.ComputeType, computeTypeAKS) {
		// An inference cluster's nodes are managed by Azure Machine
		// Learning, and its front end holds an address of the subnet.
		c.Manager = compute.ManagerAML
		if fe := d.Properties.Resources.FrontEnd; fe != "" && c.Fits > 0 {
			c.Fits--
		}
	}
	return c
}

// fits is how many nodes of the cluster owner the subnet has addresses
// for: its usable addresses less those in use, the cluster's own nodes'
// counted as free (they are the ones it may use); -1 when the subnet is
// not there.
func (s *Server) fits(t *txn, subnetID, owner string) int {
	sub := t.subnet(subnetID)
	if sub == nil {
		return -1
	}
	free := 0
	for _, p := range network.SubnetPrefixesV4(sub) {
		free += network.UsableCount(p)
	}
	used := t.addressesIn(subnetID, "")
	for a := range used {
		if s.nodeAddress(t, owner, a) {
			delete(used, a)
		}
	}
	return max(free-len(used), 0)
}

// nodeAddress reports whether address a is held by a node NIC of compute.
func (s *Server) nodeAddress(t *txn, computeID string, a netip.Addr) bool {
	found := false
	t.each(func(e *entry) {
		n, ok := e.obj.(*network.NetworkInterface)
		if !ok || found || !strings.EqualFold(n.Tags[tagManagedBy], computeID) {
			return
		}
		for _, c := range n.Properties.IPConfigurations {
			if c.Properties.PrivateIPAddress == a.String() {
				found = true
			}
		}
	})
	return found
}

// getCompute answers GET of a compute: the stored document with the
// cluster's live status in properties.properties.
func (s *Server) getCompute(ctx context.Context, rq *request) (response, error) {
	r, err := s.st.Get(ctx, rq.target.id.ID)
	if err != nil {
		return response{}, notFound(err, rq.target.id)
	}
	b, err := s.renderCompute(r)
	if err != nil {
		return response{}, err
	}
	return ok(b)
}

func (s *Server) listComputes(ctx context.Context, rq *request) (response, error) {
	return s.listRendered(ctx, rq, store.ListOptions{Parent: rq.target.id.ID, Type: typeCompute}, s.renderCompute)
}

// renderCompute merges the cluster's status into a stored compute.
func (s *Server) renderCompute(r store.Resource) (json.RawMessage, error) {
	var d map[string]any
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return nil, err
	}
	if s.computes != nil {
		if st, ok := s.computes.Status(nodeClusterOf(r.ID, d)); ok {
			props, _ := d["properties"].(map[string]any)
			inner, _ := props["properties"].(map[string]any)
			if inner != nil {
				b, _ := json.Marshal(st)
				var m map[string]any
				_ = json.Unmarshal(b, &m)
				for k, v := range m {
					inner[k] = v
				}
			}
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return withEtag(b, r.Etag), nil
}

// listNodes answers POST {compute}/listNodes as Azure ML does:
// {"nodes": [{nodeId, privateIpAddress, publicIpAddress, port, nodeState, runId}]}.
func (s *Server) listNodes(ctx context.Context, rq *request) (response, error) {
	r, err := s.st.Get(ctx, rq.target.id.ID)
	if err != nil {
		return response{}, notFound(err, rq.target.id)
	}
	var d map[string]any
	_ = json.Unmarshal(r.Doc, &d)
	nodes := []compute.NodeInfo{}
	if s.computes != nil {
		nodes = append(nodes, s.computes.Nodes(nodeClusterOf(r.ID, d))...)
	}
	return ok(map[string]any{"nodes": nodes})
}

// preemptNode answers POST {compute}/preemptNode {"nodeId"}: vnetml's
// eviction of a low-priority node, as Azure reclaims capacity.
func (s *Server) preemptNode(ctx context.Context, rq *request) (response, error) {
	var body struct {
		NodeID string `json:"nodeId"`
	}
	if err := decodeBody(rq.body, &body); err != nil {
		return response{}, err
	}
	if s.computes == nil {
		return response{}, armerror.New(codeNotSupported, "", "This server runs no compute clusters.")
	}
	if _, err := s.st.Get(ctx, rq.target.id.ID); err != nil {
		return response{}, notFound(err, rq.target.id)
	}
	if err := s.computes.Preempt(ctx, rq.target.id.ID, body.NodeID); err != nil {
		return response{}, armerror.New(codeInvalidParameter, "nodeId", "%v", err)
	}
	return response{status: http.StatusAccepted}, nil
}

// deleteCompute deletes a compute, the network resources it owns and its
// nodes' interfaces, in one transaction (so that a lock refuses all of it
// or none); once committed, the controller stops its nodes (writeTxn
// tells it about every compute deleted, a group's deletion included).
func (s *Server) deleteCompute(ctx context.Context, rq *request) (response, error) {
	return s.deleteStored(ctx, rq, true, func(t *txn, cur *entry) error {
		var d computeDoc
		if err := json.Unmarshal(cur.res.Doc, &d); err != nil {
			return err
		}
		if d.Properties.ResourceID != "" {
			return attachedDeleteRefused(cur.id, d)
		}
		// Node interfaces first: they use the NSG. The compute goes last
		// (deleteStored).
		res := d.Properties.Resources
		t.deleteOwned(append(t.nicsOf(cur.id.ID), res.LoadBalancer, res.PublicIPAddress, res.NetworkSecurityGroup, res.VirtualNetwork)...)
		return nil
	})
}

// upsertCompute hands the controller a compute as stored now: after-commit
// hooks run outside the write lock, so two writes' hooks may run in either
// order, and each hands over the newest.
func (s *Server) upsertCompute(ctx context.Context, key string) {
	if s.computes == nil {
		return
	}
	s.mu.Lock()
	e := s.world.byKey[key]
	var c compute.Cluster
	ok := false
	if e != nil {
		var d computeDoc
		var ws workspaceDoc
		if json.Unmarshal(e.res.Doc, &d) == nil && d.Properties.ResourceID == "" { // an attached compute's nodes are its cluster's
			if w := s.world.byKey[lower(e.id.Parent)]; w != nil {
				_ = json.Unmarshal(w.res.Doc, &ws)
				if spec, err := storedSpec(d, ws); err == nil {
					c, ok = s.clusterOf(&txn{s: s, ctx: ctx}, d, spec), true
				}
			}
		}
	}
	s.mu.Unlock()
	if ok {
		s.computes.Upsert(context.WithoutCancel(ctx), c)
	}
}

// putSealedValues stages values sealed for owner at docID.
func (t *txn) putSealedValues(docID, purpose, owner string, values map[string][]byte) error {
	if t.s.keyring == nil {
		return nil
	}
	id, err := store.ParseID(docID)
	if err != nil {
		return err
	}
	var doc sealedDoc
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names) // a stable document: the order the names were given in is lost in the map
	for _, n := range names {
		doc.Keys = append(doc.Keys, sealedKey{Name: n, Sealed: t.s.keyring.Seal(purpose, owner+"/"+n, values[n])})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return t.put(id, nil, b, "")
}
