package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/store"
	"github.com/vnetml/vnetml/internal/store/sqlite"
)

const (
	mcGroup  = sub + "/resourceGroups/aksgroup"
	mcID     = rg + "/providers/Microsoft.ContainerService/managedClusters/myk8s"
	attached = workspace + "/computes/attached"
	// allowAML admits Azure Machine Learning's node management into the
	// example's subnet (its NSG denies the Internet).
	allowAML = `{"properties": {"priority": 300, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
		"sourceAddressPrefix": "AzureMachineLearning", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "29876-29877"}}`
)

// mcBody is a managed cluster of count nodes of vmSize in the example's
// subnet (none: a network of its own), with the network profile's
// service CIDR and DNS service IP, and extra fields merged into
// properties.
func mcBody(count int, vmSize, subnet, serviceCIDR, dnsIP string, extra ...string) string {
	pool := fmt.Sprintf(`{"name": "nodepool1", "count": %d, "vmSize": %q, "mode": "System"`, count, vmSize)
	if subnet != "" {
		pool += fmt.Sprintf(`, "vnetSubnetID": %q`, subnet)
	}
	pool += "}"
	props := fmt.Sprintf(`"kubernetesVersion": "1.30.6", "dnsPrefix": "myk8s", "agentPoolProfiles": [%s],
		"networkProfile": {"networkPlugin": "azure", "serviceCidr": %q, "dnsServiceIP": %q, "dockerBridgeCidr": "172.17.0.1/16"}`, pool, serviceCIDR, dnsIP)
	for _, x := range extra {
		props += ", " + x
	}
	return `{"location": "eastus", "properties": {` + props + `}}`
}

// attachBody attaches the cluster id as an AksCompute.
func attachBody(id, purpose string, extra ...string) string {
	props := fmt.Sprintf(`"clusterPurpose": %q`, purpose)
	for _, x := range extra {
		props += ", " + x
	}
	return fmt.Sprintf(`{"properties": {"computeType": "AKS", "resourceId": %q, "properties": {%s}}}`, id, props)
}

// wantTarget checks an error's code and target, or those of one of its
// details.
func wantTarget(t *testing.T, e *env, status int, code, target, method, path string, body any) {
	t.Helper()
	r := e.call(method, path, body)
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.status, status, r.body)
	}
	er := r.errorOf(t)
	if er.Code == code && er.Target == target {
		return
	}
	for _, d := range er.Details {
		if d.Code == code && d.Target == target {
			return
		}
	}
	t.Fatalf("%s %s: want %s at %q\n%s", method, path, code, target, r.body)
}

// nodesIdle waits until the controller runs n idle nodes for id.
func (e *env) nodesIdle(id string, n int) []compute.NodeInfo {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		nodes := e.data.ctl.Nodes(id)
		idle := 0
		for _, nd := range nodes {
			if nd.NodeState == compute.StateIdle {
				idle++
			}
		}
		if idle == n && len(nodes) == n {
			return nodes
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: want %d idle nodes, have %+v", id, n, nodes)
		}
		e.data.ctl.Settled(context.Background(), id)
	}
}

// TestManagedCluster: a managed cluster's body and network are checked
// with AKS's codes at its own paths; its nodes are node agents with
// addresses in its subnet; it changes only its tags in place; one that
// names no subnet gets a network of its own; deleting it stops its nodes
// and removes what it made.
func TestManagedCluster(t *testing.T) {
	e := computeEnv(t)
	e.secureNetwork()
	e.must(201, "PUT", nsg+"/securityRules/allow-aml", allowAML)
	subnet := vnet + "/subnets/default"

	for _, c := range []struct {
		name, code, target, body string
	}{
		{"kubenet", "OperationNotSupported", "properties.networkProfile.networkPlugin",
			strings.Replace(mcBody(2, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10"), `"azure"`, `"kubenet"`, 1)},
		{"an overlapping service CIDR", "ServiceCidrOverlapExistingSubnetsCidr", "properties.networkProfile.serviceCidr",
			mcBody(2, "Standard_D2_v2", subnet, "10.0.0.0/16", "10.0.0.10")},
		{"a DNS IP outside", "DnsServiceIpOutOfServiceCidr", "properties.networkProfile.dnsServiceIP",
			mcBody(2, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.3.0.10")},
		{"a reserved range", "InvalidParameter", "properties.networkProfile.serviceCidr",
			mcBody(2, "Standard_D2_v2", subnet, "172.30.0.0/16", "172.30.0.10")},
		{"a bridge in the subnet", "DockerBridgeInSubnetCidr", "properties.networkProfile.dockerBridgeCidr",
			strings.Replace(mcBody(2, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10"), "172.17.0.1/16", "10.0.0.1/16", 1)},
		// (8+1) + (8+1)×30 = 279 addresses; a /24 has 251.
		{"a subnet too small", "InsufficientSubnetSize", "properties.agentPoolProfiles[0].vnetSubnetID",
			mcBody(8, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10")},
		{"no such subnet", "SubnetNotFound", "properties.agentPoolProfiles[0].vnetSubnetID",
			mcBody(2, "Standard_D2_v2", vnet+"/subnets/nosuch", "10.2.0.0/16", "10.2.0.10")},
		{"an unknown size", "InvalidParameter", "properties.agentPoolProfiles[0].vmSize",
			mcBody(2, "Standard_D2", subnet, "10.2.0.0/16", "10.2.0.10")},
		{"an unknown field", "InvalidRequestContent", "properties.networkPolicy",
			mcBody(2, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10", `"networkPolicy": "calico"`)},
		{"a User pool alone", "InvalidParameter", "properties.agentPoolProfiles[0].mode",
			strings.Replace(mcBody(2, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10"), `"System"`, `"User"`, 1)},
		{"no location", "LocationRequired", "location",
			strings.Replace(mcBody(2, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10"), `"location": "eastus", `, "", 1)},
	} {
		t.Run(c.name, func(t *testing.T) { wantTarget(t, e.with(t), 400, c.code, c.target, "PUT", mcID, c.body) })
	}
	e.must(404, "GET", mcID, nil)
	// A Contributor of another group cannot put nodes into this one's subnet.
	e.must(201, "PUT", mcGroup, groupBody)
	other := e.token("aksowner", "Contributor", mcGroup)
	r := e.callAs(other, "PUT", mcGroup+"/providers/Microsoft.ContainerService/managedClusters/k", mcBody(2, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10"))
	if r.status != 403 || r.errorOf(t).Code != "AuthorizationFailed" || r.errorOf(t).Target != "properties.agentPoolProfiles[0].vnetSubnetID" {
		t.Fatalf("a cluster in a subnet the caller may not write: %d %s", r.status, r.body)
	}

	body := mcBody(2, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10")
	var doc struct {
		Properties struct {
			ProvisioningState, Fqdn, DNSPrefix string
			AgentPoolProfiles                  []struct {
				Name, VMSize, VnetSubnetID string
				Count, MaxPods             int
			}
			NetworkProfile struct{ NetworkPlugin, ServiceCidr, LoadBalancerSku string }
		}
	}
	json.Unmarshal(e.must(201, "PUT", mcID, body).body, &doc)
	p := doc.Properties
	if p.ProvisioningState != "Succeeded" || !strings.HasPrefix(p.Fqdn, "myk8s-") || !strings.HasSuffix(p.Fqdn, ".hcp.eastus.azmk8s.io") ||
		len(p.AgentPoolProfiles) != 1 || p.AgentPoolProfiles[0].Count != 2 || p.AgentPoolProfiles[0].MaxPods != 30 ||
		p.AgentPoolProfiles[0].VMSize != "STANDARD_D2_V2" || p.NetworkProfile.NetworkPlugin != "azure" || p.NetworkProfile.LoadBalancerSku != "standard" {
		t.Fatalf("the managed cluster: %+v", p)
	}
	// Its nodes: node agents with addresses in the subnet, managed from
	// Azure Machine Learning (the NSG admits it).
	for _, n := range e.nodesIdle(mcID, 2) {
		if !strings.HasPrefix(n.PrivateIPAddress, "10.0.0.") {
			t.Errorf("node %s at %s, outside the subnet", n.NodeID, n.PrivateIPAddress)
		}
	}
	if nics := e.srvNodeNICsOf(mcID); len(nics) != 2 {
		t.Fatalf("node interfaces: %v", nics)
	}
	// Listed in its group; the same body again is no change; tags change;
	// the pool does not.
	var list struct{ Value []struct{ ID string } }
	json.Unmarshal(e.must(200, "GET", rg+"/providers/Microsoft.ContainerService/managedClusters", nil).body, &list)
	if len(list.Value) != 1 || !strings.EqualFold(list.Value[0].ID, mcID) {
		t.Errorf("list: %+v", list)
	}
	e.must(200, "PUT", mcID, body)
	e.must(200, "PUT", mcID, strings.Replace(body, `"location": "eastus"`, `"location": "eastus", "tags": {"team": "ml"}`, 1))
	wantTarget(t, e, 409, "Conflict", "properties", "PUT", mcID, mcBody(3, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10"))

	// A cluster naming no subnet gets a network of its own in its group.
	own := mcGroup + "/providers/Microsoft.ContainerService/managedClusters/ownnet"
	e.must(201, "PUT", own, mcBody(1, "Standard_D2_v2", "", "10.0.0.0/16", "10.0.0.10"))
	ownVNet := mcGroup + "/providers/Microsoft.Network/virtualNetworks/ownnet-vnet"
	e.must(200, "GET", ownVNet, nil)
	e.nodesIdle(own, 1)
	if nics := e.srvNodeNICsOf(own); len(nics) != 1 {
		t.Fatalf("the own network's node: %v", nics)
	}
	// Its service CIDR is checked against that network too.
	wantTarget(t, e, 400, "ServiceCidrOverlapExistingSubnetsCidr", "properties.networkProfile.serviceCidr",
		"PUT", mcGroup+"/providers/Microsoft.ContainerService/managedClusters/clash", mcBody(1, "Standard_D2_v2", "", "10.224.0.0/16", "10.224.0.10"))
	// A network of that name that is not the cluster's is not replaced.
	taken := mcGroup + "/providers/Microsoft.Network/virtualNetworks/taken-vnet"
	e.must(201, "PUT", taken, `{"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.50.0.0/16"]}}}`)
	e.wantError(409, "Conflict", "PUT", mcGroup+"/providers/Microsoft.ContainerService/managedClusters/taken", mcBody(1, "Standard_D2_v2", "", "10.0.0.0/16", "10.0.0.10"))
	if b := string(e.must(200, "GET", taken, nil).body); !strings.Contains(b, "10.50.0.0/16") || strings.Contains(b, "aks-subnet") {
		t.Errorf("the user's network was changed: %s", b)
	}
	e.must(200, "DELETE", own, nil)
	e.must(404, "GET", ownVNet, nil)

	e.must(200, "DELETE", mcID, nil)
	e.must(204, "DELETE", mcID, nil)
	if nics := e.srvNodeNICsOf(mcID); len(nics) != 0 || len(e.data.ctl.Nodes(mcID)) != 0 {
		t.Fatalf("after delete: node interfaces %v, nodes %v", nics, e.data.ctl.Nodes(mcID))
	}
	if left := e.data.agentDirs(); len(left) != 0 {
		t.Fatalf("agent state left: %v", left)
	}
}

// TestAttachManagedCluster: attaching a managed cluster checks it exists,
// that the caller may write to it, that it is Succeeded and attached
// nowhere else, FastProd's vCPUs and the internal load balancer's subnet;
// it installs the front end and shows the cluster's pool and network; a
// second attachment, deleting the attached compute and deleting the
// cluster are refused; detaching leaves the cluster and its nodes running.
func TestAttachManagedCluster(t *testing.T) {
	e := computeEnv(t)
	e.secureNetwork()
	e.must(201, "PUT", nsg+"/securityRules/allow-aml", allowAML)
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	subnet := vnet + "/subnets/default"
	// 3 nodes of 2 vCPUs: 6, too few for FastProd.
	e.must(201, "PUT", mcID, mcBody(3, "Standard_D2_v2", subnet, "10.2.0.0/16", "10.2.0.10"))
	e.nodesIdle(mcID, 3)

	for _, c := range []struct {
		name, code, target, body string
		status                   int
	}{
		{"no such cluster", "ResourceNotFound", "properties.resourceId", attachBody(rg+"/providers/Microsoft.ContainerService/managedClusters/nosuch", "DevTest"), 404},
		{"not a cluster id", "UserError", "properties.resourceId", attachBody(rg+"/providers/Microsoft.ContainerService/managedClusters", "DevTest"), 400},
		{"another provider", "UserError", "properties.resourceId", attachBody(rg+"/providers/Microsoft.Compute/virtualMachines/vm", "DevTest"), 400},
		{"FastProd on 6 vCPUs", "UserError", "properties.properties.clusterPurpose", attachBody(mcID, "FastProd"), 400},
		{"a created cluster's setting", "UserError", "properties.properties.agentCount", attachBody(mcID, "DevTest", `"agentCount": 3`), 400},
		{"an internal load balancer's subnet elsewhere", "InvalidParameter", "properties.properties.loadBalancerSubnet",
			attachBody(mcID, "DevTest", `"loadBalancerType": "InternalLoadBalancer", "loadBalancerSubnet": "nosuch"`), 400},
	} {
		t.Run(c.name, func(t *testing.T) { wantTarget(t, e.with(t), c.status, c.code, c.target, "PUT", attached, c.body) })
	}
	// A Contributor of the workspace's group who may not write the
	// cluster's: the cluster lives in another group here.
	e.must(201, "PUT", mcGroup, groupBody)
	elsewhere := mcGroup + "/providers/Microsoft.ContainerService/managedClusters/elsewhere"
	e.must(201, "PUT", elsewhere, mcBody(1, "Standard_D2_v2", "", "10.0.0.0/16", "10.0.0.10"))
	wsOnly := e.token("wsonly", "Contributor", rg)
	r := e.callAs(wsOnly, "PUT", attached, attachBody(elsewhere, "DevTest"))
	if r.status != 403 || r.errorOf(t).Code != "AuthorizationFailed" || r.errorOf(t).Target != "properties.resourceId" {
		t.Fatalf("attaching a cluster the caller may not write: %d %s", r.status, r.body)
	}
	e.must(200, "DELETE", elsewhere, nil)
	e.must(404, "GET", attached, nil)

	// Attach: the front end is installed; the compute shows the cluster.
	var doc struct {
		Properties struct {
			ComputeType, ResourceID string
			IsAttachedCompute       bool
			Properties              struct {
				AgentCount                 int
				AgentVMSize                string
				CurrentNodeCount           int
				AKSNetworkingConfiguration struct{ SubnetID, ServiceCidr, DNSServiceIP string }
				SystemServices             []struct{ ServiceName, PublicIPAddress, PrivateIPAddress, NetworkInterface string }
			}
			Resources struct{ FrontEnd, PublicIPAddress string } `json:"vnetmlResources"`
		}
	}
	json.Unmarshal(e.must(201, "PUT", attached, attachBody(strings.ToLower(mcID), "DevTest")).body, &doc)
	json.Unmarshal(e.must(200, "GET", attached, nil).body, &doc)
	p := doc.Properties
	fe := p.Properties.SystemServices
	if p.ComputeType != "AKS" || !p.IsAttachedCompute || !strings.EqualFold(p.ResourceID, mcID) || p.Properties.AgentCount != 3 ||
		p.Properties.AgentVMSize != "STANDARD_D2_V2" || p.Properties.CurrentNodeCount != 3 ||
		!strings.EqualFold(p.Properties.AKSNetworkingConfiguration.SubnetID, subnet) || p.Properties.AKSNetworkingConfiguration.ServiceCidr != "10.2.0.0/16" ||
		len(fe) != 1 || fe[0].ServiceName != "azureml-fe" || !strings.HasPrefix(fe[0].PrivateIPAddress, "10.0.0.") || fe[0].PublicIPAddress == "" {
		t.Fatalf("the attached compute: %+v", p)
	}
	if er := e.wantError(409, "Conflict", "PUT", attached, attachBody(mcID, "DevTest")); !strings.Contains(er.Message, "detach it and attach it again") {
		t.Errorf("a PUT of the attached compute: %+v", er)
	}
	var nodes struct{ Nodes []compute.NodeInfo }
	json.Unmarshal(e.must(200, "POST", attached+"/listNodes", nil).body, &nodes)
	if len(nodes.Nodes) != 3 {
		t.Errorf("listNodes of the attached compute: %+v", nodes)
	}
	if nics := e.srvNodeNICsOf(attached); len(nics) != 0 {
		t.Errorf("the attached compute has nodes of its own: %v", nics)
	}

	// A restarted server runs the cluster's nodes again, under the
	// cluster, and none for the compute.
	e.restart()
	e.nodesIdle(mcID, 3)
	if s := e.computeStatus(attached); s.CurrentNodeCount != 3 || len(e.srvNodeNICsOf(mcID)) != 3 || len(e.srvNodeNICsOf(attached)) != 0 {
		t.Fatalf("after a restart: status %+v, the cluster's interfaces %v, the compute's %v", s, e.srvNodeNICsOf(mcID), e.srvNodeNICsOf(attached))
	}

	// Attached once is enough; the compute is not deleted, only detached;
	// the cluster is not deleted while attached.
	er := e.wantError(409, "Conflict", "PUT", workspace+"/computes/again", attachBody(mcID, "DevTest"))
	if er.Target != "properties.resourceId" || !strings.Contains(er.Message, "already attached to workspace myws as compute attached") {
		t.Errorf("a second attachment: %+v", er)
	}
	er = e.wantError(400, "UserError", "DELETE", attached, nil)
	if er.Target != "underlyingResourceAction" || !strings.Contains(er.Message, "vnetml compute detach attached -w myws") {
		t.Errorf("deleting an attached compute: %+v", er)
	}
	e.wantError(400, "UserError", "DELETE", attached+"?underlyingResourceAction=Delete", nil)
	e.wantError(400, "InvalidParameter", "DELETE", attached+"?underlyingResourceAction=Destroy", nil)
	er = e.wantError(409, "Conflict", "DELETE", mcID, nil)
	if !strings.Contains(er.Message, "attached to workspace myws as inference compute attached") || !strings.Contains(er.Message, "vnetml compute detach attached -w myws -g mygroup") {
		t.Errorf("deleting an attached cluster: %+v", er)
	}
	// An AmlCompute cannot be detached.
	e.must(201, "PUT", cluster, clusterBody(0, 1))
	e.wantError(400, "UserError", "DELETE", cluster+"?underlyingResourceAction=Detach", nil)
	e.must(200, "DELETE", cluster, nil)

	// Detach: the compute and its front end go; the cluster and its
	// nodes stay.
	before := e.srvNodeNICsOf(mcID)
	e.must(200, "DELETE", attached+"?underlyingResourceAction=Detach", nil)
	e.must(204, "DELETE", attached+"?underlyingResourceAction=Detach", nil)
	e.must(404, "GET", attached, nil)
	for _, id := range []string{p.Resources.FrontEnd, p.Resources.PublicIPAddress} {
		e.must(404, "GET", id, nil)
	}
	e.must(200, "GET", mcID, nil)
	if after := e.srvNodeNICsOf(mcID); len(after) != 3 || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("the cluster's nodes after detach: %v, before %v", after, before)
	}
	e.nodesIdle(mcID, 3)

	// Attached again, behind an internal load balancer in the cluster's
	// subnet, then detached for good.
	e.must(201, "PUT", attached, attachBody(mcID, "DevTest", `"loadBalancerType": "InternalLoadBalancer", "loadBalancerSubnet": "default"`))
	var ilb struct {
		Properties struct {
			Properties struct {
				SystemServices []struct{ PublicIPAddress, PrivateIPAddress string }
			}
		}
	}
	json.Unmarshal(e.must(200, "GET", attached, nil).body, &ilb)
	if fe := ilb.Properties.Properties.SystemServices; len(fe) != 1 || fe[0].PublicIPAddress != "" || !strings.HasPrefix(fe[0].PrivateIPAddress, "10.0.0.") {
		t.Errorf("an internal front end: %+v", fe)
	}
	e.must(200, "DELETE", attached+"?underlyingResourceAction=Detach", nil)
	e.must(200, "DELETE", mcID, nil)
	if nics := e.srvNodeNICsOf(mcID); len(nics) != 0 {
		t.Fatalf("after deleting the cluster: node interfaces %v", nics)
	}
}

// TestAttachNotSucceeded: a cluster whose provisioning did not succeed
// is not attached. vnetml's clusters are Succeeded once created; this one
// is made Failed in the store, as a failed operation would leave it, and
// the server restarted over it.
func TestAttachNotSucceeded(t *testing.T) {
	e := computeEnv(t)
	e.secureNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", mcID, mcBody(1, "Standard_D2_v2", vnet+"/subnets/default", "10.2.0.0/16", "10.2.0.10"))
	e.stop()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, e.dir+"/vnetml.db")
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Get(ctx, mcID)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(r.Doc), `"provisioningState":"Succeeded"`, `"provisioningState":"Failed"`, 1)
	if _, err := st.Apply(ctx, []store.Op{store.PutOp(r.ID, []byte(doc), store.IfMatch(r.Etag))}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	e.start()
	er := e.wantError(400, "UserError", "PUT", attached, attachBody(mcID, "DevTest"))
	if er.Target != "properties.resourceId" || !strings.Contains(er.Message, "provisioning state Failed") {
		t.Errorf("attaching a Failed cluster: %+v", er)
	}
	e.must(200, "DELETE", mcID, nil)
}
