package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/inference/aks"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// This file stages inference clusters (computeType AKS, surface §A.5):
// the SDK's provisioning configuration and Azure CNI's network rules (spec
// §8) checked by internal/inference/aks; then the cluster's agent nodes —
// node agents managed from AzureMachineLearning, each with an address in
// the subnet — and its front end, azureml-fe, at an address of the subnet
// (an internal load balancer) or behind a public IP.

const computeTypeAKS = "AKS"

// sealAKSSSL is the purpose the scoring endpoint's TLS key is sealed for.
const sealAKSSSL = "compute/aks-ssl"

// isAKS tells an AksCompute body (or a stored AKS compute) from the rest.
func isAKS(body []byte, cur *entry) bool {
	var hdr struct {
		Properties struct {
			ComputeType string `json:"computeType"`
		} `json:"properties"`
	}
	if cur != nil {
		_ = json.Unmarshal(cur.res.Doc, &hdr)
		if strings.EqualFold(hdr.Properties.ComputeType, computeTypeAKS) {
			return true
		}
	}
	hdr.Properties.ComputeType = ""
	_ = json.Unmarshal(body, &hdr)
	return strings.EqualFold(hdr.Properties.ComputeType, computeTypeAKS)
}

// aksProps is an AKS compute's properties.properties as stored and shown.
type aksProps struct {
	AgentCount         int    `json:"agentCount"`
	AgentVMSize        string `json:"agentVmSize"`
	ClusterPurpose     string `json:"clusterPurpose"`
	LoadBalancerType   string `json:"loadBalancerType"`
	LoadBalancerSubnet string `json:"loadBalancerSubnet,omitempty"`
	SSLConfiguration   struct {
		Status          string `json:"status"`
		Cname           string `json:"cname,omitempty"`
		LeafDomainLabel string `json:"leafDomainLabel,omitempty"`
	} `json:"sslConfiguration"`
	AKSNetworkingConfiguration *struct {
		SubnetID         string `json:"subnetId"`
		ServiceCidr      string `json:"serviceCidr"`
		DNSServiceIP     string `json:"dnsServiceIP"`
		DockerBridgeCidr string `json:"dockerBridgeCidr"`
	} `json:"aksNetworkingConfiguration,omitempty"`
	// SystemServices are the cluster's own services: azureml-fe, where
	// scoring calls arrive.
	SystemServices []aksSystemService `json:"systemServices"`
}

type aksSystemService struct {
	ServiceName       string `json:"serviceName"`
	ServiceType       string `json:"serviceType"`
	PublicIPAddress   string `json:"publicIpAddress,omitempty"`
	PrivateIPAddress  string `json:"privateIpAddress,omitempty"`
	NetworkInterface  string `json:"networkInterface,omitempty"`
	PublicIPAddressID string `json:"publicIpAddressId,omitempty"`
}

// stageAKS stages the creation of an inference cluster.
func (s *Server) stageAKS(t *txn, id store.ID, ws workspaceDoc, body []byte, cond store.Condition, cur *entry, patch bool) (bool, error) {
	name := lastSegment(id.ID)
	switch {
	case cur != nil || patch:
		return false, armerror.New(store.CodeConflict, "", "Inference cluster %s exists and cannot be changed in place yet; delete it and create it again (vnetml compute delete %s).", name, name)
	case !computeNameRE.MatchString(name):
		return false, armerror.New(aks.CodeUserError, "name",
			"Compute name %q is invalid: it must be 2 to 16 characters of letters, digits and hyphens, starting with a letter.", name)
	}
	spec, err := aks.DecodeSpec(body, aks.SpecContext{WorkspaceSubscription: id.Subscription, WorkspaceLocation: ws.Location})
	if err != nil {
		return false, err
	}
	if spec.Attached() {
		return false, armerror.New(codeNotSupported, "properties.resourceId", "vnetml has no Microsoft.ContainerService clusters to attach (%s): create the inference cluster with vnetml instead (vnetml compute create %s --type aks ...).", spec.ResourceID, name)
	}
	if err := checkCond(cond, id.ID, cur); err != nil {
		return false, err
	}
	snap := s.view.Load().snap
	if err := aks.CheckNetwork(snap, ws.Location, spec); err != nil {
		return false, err
	}
	group := "/subscriptions/" + id.Subscription + "/resourceGroups/" + id.ResourceGroup
	base := strings.ToLower(name) + "-" + compact(ws.Properties.WorkspaceID, 8)
	var r clusterResources
	if spec.Network == nil {
		// No network named: the cluster gets one of its own, as AKS's
		// basic networking does.
		vnet := group + "/providers/" + network.TypeVirtualNetwork + "/" + base + "-vnet"
		if err := s.stageAs(t, vnet, fmt.Sprintf(`{"location": %q, "tags": {%q: %q}, "properties": {"addressSpace": {"addressPrefixes": ["10.224.0.0/12"]},
			"subnets": [{"name": "aks-subnet", "properties": {"addressPrefix": "10.224.0.0/16"}}]}}`, ws.Location, tagManagedBy, id.ID)); err != nil {
			return false, err
		}
		r.VirtualNetwork, r.Subnet = vnet, vnet+"/subnets/aks-subnet"
	} else {
		r.Subnet = spec.Network.SubnetID
		// The cluster's nodes and front end join the subnet: the caller
		// must be allowed to write in its group.
		if err := auth.Authorize(t.who, auth.Write, r.Subnet); err != nil {
			return false, armerror.New(codeAuthorization, "properties.properties.aksNetworkingConfiguration.subnetId",
				"An inference cluster in subnet %s creates its nodes and front end in that subnet's group, so it needs write access there: %v", r.Subnet, err)
		}
		sid, err := store.ParseID(r.Subnet)
		if err != nil {
			return false, err
		}
		group = "/subscriptions/" + sid.Subscription + "/resourceGroups/" + sid.ResourceGroup
	}
	// The front end: azureml-fe, at an address of the cluster's subnet
	// (or the internal load balancer's subnet), behind a public IP unless
	// the load balancer is internal.
	feSubnet := r.Subnet
	if spec.LoadBalancerType == aks.LoadBalancerInternal && spec.LoadBalancerSubnet != "" {
		vnetID := r.Subnet[:strings.LastIndex(strings.ToLower(r.Subnet), "/subnets/")]
		feSubnet = vnetID + "/subnets/" + spec.LoadBalancerSubnet
	}
	tags := fmt.Sprintf(`{%q: %q, "vnetml-role": "azureml-fe"}`, tagManagedBy, id.ID)
	fe := group + "/providers/" + network.TypeNetworkInterface + "/" + base + "-azureml-fe"
	pipRef := ""
	if spec.LoadBalancerType != aks.LoadBalancerInternal {
		r.PublicIPAddress = group + "/providers/" + network.TypePublicIPAddress + "/" + base + "-fe-pip"
		if err := s.stageAs(t, r.PublicIPAddress, fmt.Sprintf(`{"location": %q, "tags": %s, "properties": {"publicIPAllocationMethod": "Static"}}`, ws.Location, tags)); err != nil {
			return false, err
		}
		pipRef = fmt.Sprintf(`, "publicIPAddress": {"id": %q}`, r.PublicIPAddress)
	}
	if err := s.stageAs(t, fe, fmt.Sprintf(`{"location": %q, "tags": %s, "properties": {"ipConfigurations": [{"name": "frontend",
		"properties": {"subnet": {"id": %q}%s}}]}}`, ws.Location, tags, feSubnet, pipRef)); err != nil {
		return false, err
	}
	r.FrontEnd = fe
	svc := aksSystemService{ServiceName: "azureml-fe", ServiceType: spec.LoadBalancerType, NetworkInterface: fe, PublicIPAddressID: r.PublicIPAddress}
	if n, ok := t.get(lower(fe)).obj.(*network.NetworkInterface); ok && len(n.Properties.IPConfigurations) > 0 {
		svc.PrivateIPAddress = n.Properties.IPConfigurations[0].Properties.PrivateIPAddress
	}
	if r.PublicIPAddress != "" {
		if p, ok := t.get(lower(r.PublicIPAddress)).obj.(*network.PublicIPAddress); ok {
			svc.PublicIPAddress = p.Properties.IPAddress
		}
	}

	var p aksProps
	p.AgentCount, p.AgentVMSize, p.ClusterPurpose = spec.AgentCount, spec.AgentVMSize, spec.ClusterPurpose
	p.LoadBalancerType, p.LoadBalancerSubnet = spec.LoadBalancerType, spec.LoadBalancerSubnet
	p.SSLConfiguration.Status, p.SSLConfiguration.Cname, p.SSLConfiguration.LeafDomainLabel = spec.SSL.Status, spec.SSL.Cname, spec.SSL.LeafDomainLabel
	if n := spec.Network; n != nil {
		p.AKSNetworkingConfiguration = &struct {
			SubnetID         string `json:"subnetId"`
			ServiceCidr      string `json:"serviceCidr"`
			DNSServiceIP     string `json:"dnsServiceIP"`
			DockerBridgeCidr string `json:"dockerBridgeCidr"`
		}{n.SubnetID, n.ServiceCIDR, n.DNSServiceIP, n.DockerBridgeCIDR}
	}
	p.SystemServices = []aksSystemService{svc}
	props, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	d := computeDoc{ID: id.ID, Name: name, Type: typeCompute, Location: ws.Location, Tags: spec.Tags}
	d.Properties.ComputeType, d.Properties.ComputeLocation, d.Properties.ProvisioningState = computeTypeAKS, ws.Location, succeeded
	d.Properties.Description = spec.Description
	d.Properties.CreatedOn = time.Now().UTC()
	d.Properties.ModifiedOn = d.Properties.CreatedOn
	d.Properties.Properties = props
	d.Properties.Resources = r
	existed, err := t.stagePlain(id, d, cond, true)
	if err != nil {
		return false, err
	}
	if spec.SSL.Key != "" {
		if err := t.putSealedValues(id.ID+"/credentials/default", sealAKSSSL, id.ID, map[string][]byte{"sslKey": []byte(spec.SSL.Key), "sslCert": []byte(spec.SSL.Cert)}); err != nil {
			return false, err
		}
	}
	t.afterCommit(func(ctx context.Context) error {
		s.upsertCompute(ctx, id.Key)
		return nil
	})
	return existed, nil
}

// aksSpec is what the compute controller runs for a stored AKS compute:
// agentCount nodes, always, managed from AzureMachineLearning.
func aksSpec(d computeDoc) (compute.Spec, error) {
	var p aksProps
	if err := json.Unmarshal(d.Properties.Properties, &p); err != nil {
		return compute.Spec{}, err
	}
	return compute.Spec{VMSize: p.AgentVMSize, VMPriority: compute.PriorityDedicated, MinNodes: p.AgentCount, MaxNodes: p.AgentCount,
		IdleBeforeScaleDown: compute.DefaultIdleBeforeScaleDown}, nil
}
