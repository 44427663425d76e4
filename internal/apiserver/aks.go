package apiserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/inference"
	"github.com/vnetml/vnetml/internal/inference/aks"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/pki"
	"github.com/vnetml/vnetml/internal/store"
)

// This file stages inference clusters (computeType AKS, surface §A.5):
// the SDK's provisioning configuration and Azure CNI's network rules (spec
// §8) checked by internal/inference/aks; then the cluster's agent nodes —
// node agents managed from AzureMachineLearning, each with an address in
// the subnet — and its front end, azureml-fe, at an address of the subnet
// (an internal load balancer) or behind a public IP. With sslConfiguration
// the front end also serves HTTPS under a name: the user's certificate for
// its cname, or one the deployment CA issues for a name generated from the
// leaf domain label; the pair is sealed beside the compute.

const computeTypeAKS = "AKS"

// sealAKSSSL is the purpose the scoring endpoint's TLS key is sealed for.
const sealAKSSSL = "compute/aks-ssl"

// codeDNSRecordInUse is Azure's code for a DNS name another resource has.
const codeDNSRecordInUse = "DnsRecordInUse"

// generatedCertValidity is how long a certificate issued for a leaf
// domain label lasts (at most as long as the deployment CA).
const generatedCertValidity = 365 * 24 * time.Hour

// pathSSL is the target of sslConfiguration's fields.
const pathSSL = "properties.properties.sslConfiguration"

// CertIssuer issues server certificates signed by the deployment CA,
// which clients of the virtual cloud trust; internal/pki's *CA is one.
type CertIssuer interface {
	Issue(names []string, addrs []netip.Addr, validity time.Duration) (tls.Certificate, error)
}

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
	AKSNetworkingConfiguration *aksNetworking `json:"aksNetworkingConfiguration,omitempty"`
	// SystemServices are the cluster's own services: azureml-fe, where
	// scoring calls arrive.
	SystemServices []aksSystemService `json:"systemServices"`
}

// aksNetworking is aksNetworkingConfiguration as a compute shows it.
type aksNetworking struct {
	SubnetID         string `json:"subnetId"`
	ServiceCidr      string `json:"serviceCidr"`
	DNSServiceIP     string `json:"dnsServiceIP"`
	DockerBridgeCidr string `json:"dockerBridgeCidr"`
}

type aksSystemService struct {
	ServiceName       string `json:"serviceName"`
	ServiceType       string `json:"serviceType"`
	PublicIPAddress   string `json:"publicIpAddress,omitempty"`
	PrivateIPAddress  string `json:"privateIpAddress,omitempty"`
	NetworkInterface  string `json:"networkInterface,omitempty"`
	PublicIPAddressID string `json:"publicIpAddressId,omitempty"`
	// Fqdn is the name scoring calls use over TLS (sslConfiguration's
	// cname, or the name generated for its leafDomainLabel); "" without
	// TLS.
	Fqdn string `json:"fqdn,omitempty"`
}

// scoringTLS reports whether the front end serves TLS, and under which
// name.
func (p aksProps) scoringTLS() (host string, ok bool) {
	if len(p.SystemServices) == 0 || p.SSLConfiguration.Status == aks.SSLDisabled || p.SystemServices[0].Fqdn == "" {
		return "", false
	}
	return p.SystemServices[0].Fqdn, true
}

// frontEndAddr is where callers reach the front end: its public IP, or
// its private address behind an internal load balancer.
func (p aksProps) frontEndAddr() string {
	if len(p.SystemServices) == 0 {
		return ""
	}
	if a := p.SystemServices[0].PublicIPAddress; a != "" {
		return a
	}
	return p.SystemServices[0].PrivateIPAddress
}

// stageAKS stages the creation of an inference cluster.
func (s *Server) stageAKS(t *txn, id store.ID, ws workspaceDoc, body []byte, cond store.Condition, cur *entry, patch bool) (bool, error) {
	name := lastSegment(id.ID)
	switch {
	case cur != nil && isAttached(cur):
		return false, armerror.New(store.CodeConflict, "", "Inference cluster %s is attached and cannot be changed in place yet; detach it and attach it again (vnetml compute detach %s).", name, name)
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
	if err := checkCond(cond, id.ID, cur); err != nil {
		return false, err
	}
	if spec.Attached() {
		return s.stageAttachAKS(t, id, ws, spec, cond)
	}
	snap := s.view.Load().snap
	if err := aks.CheckNetwork(snap, ws.Location, spec); err != nil {
		return false, err
	}
	tlsHost, certPEM, keyPEM, err := s.aksTLS(t, id.ID, spec)
	if err != nil {
		return false, err
	}
	group := "/subscriptions/" + id.Subscription + "/resourceGroups/" + id.ResourceGroup
	base := strings.ToLower(name) + "-" + compact(ws.Properties.WorkspaceID, 8)
	var r clusterResources
	if spec.Network == nil {
		// No network named: the cluster gets one of its own, as AKS's
		// basic networking does.
		vnet := group + "/providers/" + network.TypeVirtualNetwork + "/" + base + "-vnet"
		subnet, err := s.stageOwnAKSNetwork(t, vnet, ws.Location, id.ID)
		if err != nil {
			return false, err
		}
		r.VirtualNetwork, r.Subnet = vnet, subnet
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
	svc, err := s.stageFrontEnd(t, &r, id.ID, group, base, ws.Location, spec, tlsHost)
	if err != nil {
		return false, err
	}

	p := newAKSProps(spec, spec.AgentCount, spec.AgentVMSize, svc)
	if n := spec.Network; n != nil {
		p.AKSNetworkingConfiguration = &aksNetworking{n.SubnetID, n.ServiceCIDR, n.DNSServiceIP, n.DockerBridgeCIDR}
	}
	existed, err := s.stageAKSDoc(t, id, ws, spec, p, r, cond, "", certPEM, keyPEM)
	if err != nil {
		return false, err
	}
	t.afterCommit(func(ctx context.Context) error {
		s.upsertCompute(ctx, id.Key)
		return nil
	})
	return existed, nil
}

// newAKSProps is what an inference compute shows of spec, of its agent
// pool and of its front end.
func newAKSProps(spec aks.Spec, agents int, vmSize string, fe aksSystemService) aksProps {
	var p aksProps
	p.AgentCount, p.AgentVMSize, p.ClusterPurpose = agents, vmSize, spec.ClusterPurpose
	p.LoadBalancerType, p.LoadBalancerSubnet = spec.LoadBalancerType, spec.LoadBalancerSubnet
	p.SSLConfiguration.Status, p.SSLConfiguration.Cname, p.SSLConfiguration.LeafDomainLabel = spec.SSL.Status, spec.SSL.Cname, spec.SSL.LeafDomainLabel
	p.SystemServices = []aksSystemService{fe}
	return p
}

// stageAKSDoc stages an inference compute's document — created, or
// attaching the managed cluster resourceID — and its sealed TLS pair.
func (s *Server) stageAKSDoc(t *txn, id store.ID, ws workspaceDoc, spec aks.Spec, p aksProps, r clusterResources, cond store.Condition,
	resourceID, certPEM, keyPEM string) (bool, error) {
	props, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	d := computeDoc{ID: id.ID, Name: lastSegment(id.ID), Type: typeCompute, Location: ws.Location, Tags: spec.Tags}
	d.Properties.ComputeType, d.Properties.ComputeLocation, d.Properties.ProvisioningState = computeTypeAKS, ws.Location, succeeded
	if resourceID != "" {
		// An attached cluster stays where it is (spec.Location is its
		// region).
		d.Properties.ComputeLocation, d.Properties.ResourceID, d.Properties.IsAttachedCompute = spec.Location, resourceID, true
	}
	d.Properties.Description = spec.Description
	d.Properties.CreatedOn = time.Now().UTC()
	d.Properties.ModifiedOn = d.Properties.CreatedOn
	d.Properties.Properties = props
	d.Properties.Resources = r
	existed, err := t.stagePlain(id, d, cond, true)
	if err != nil {
		return false, err
	}
	if certPEM != "" {
		if err := t.putSealedValues(id.ID+"/credentials/default", sealAKSSSL, id.ID, map[string][]byte{"sslKey": []byte(keyPEM), "sslCert": []byte(certPEM)}); err != nil {
			return false, err
		}
	}
	return existed, nil
}

// stageOwnAKSNetwork stages the virtual network of a cluster that names
// none, as AKS's default networking makes one (10.224.0.0/12, its subnet
// aks-subnet 10.224.0.0/16), tagged as owner's, and returns the subnet's
// id. An inference cluster the workspace creates and a managed cluster
// share it.
func (s *Server) stageOwnAKSNetwork(t *txn, vnetID, location, owner string) (string, error) {
	if e := t.get(lower(vnetID)); e != nil {
		// Never a PUT over a network someone else made.
		if v, ok := e.obj.(*network.VirtualNetwork); !ok || !strings.EqualFold(v.Tags[tagManagedBy], owner) {
			return "", armerror.New(store.CodeConflict, "", "The cluster's own virtual network would be %s, but a virtual network of that name exists in the group; give the cluster a subnet of it, or another name.", vnetID)
		}
	}
	if err := s.stageAs(t, vnetID, fmt.Sprintf(`{"location": %q, "tags": {%q: %q}, "properties": {"addressSpace": {"addressPrefixes": ["10.224.0.0/12"]},
			"subnets": [{"name": %q, "properties": {"addressPrefix": "10.224.0.0/16"}}]}}`, location, tagManagedBy, owner, aks.DefaultLoadBalancerSubnet)); err != nil {
		return "", err
	}
	return vnetID + "/subnets/" + aks.DefaultLoadBalancerSubnet, nil
}

// stageFrontEnd stages azureml-fe, the front end of the inference compute
// owner, where scoring calls arrive: a network interface at an address of
// the cluster's subnet r.Subnet (or of the internal load balancer's
// subnet of the same network), in group, behind a public IP unless the
// load balancer is internal. It records both in r and returns the
// system service the compute shows. Creating a cluster and attaching one
// install the same front end.
func (s *Server) stageFrontEnd(t *txn, r *clusterResources, owner, group, base, location string, spec aks.Spec, tlsHost string) (aksSystemService, error) {
	feSubnet := r.Subnet
	if spec.LoadBalancerType == aks.LoadBalancerInternal && spec.LoadBalancerSubnet != "" {
		vnetID := r.Subnet[:strings.LastIndex(strings.ToLower(r.Subnet), "/subnets/")]
		feSubnet = vnetID + "/subnets/" + spec.LoadBalancerSubnet
	}
	tags := fmt.Sprintf(`{%q: %q, "vnetml-role": "azureml-fe"}`, tagManagedBy, owner)
	fe := group + "/providers/" + network.TypeNetworkInterface + "/" + base + "-azureml-fe"
	pipRef := ""
	if spec.LoadBalancerType != aks.LoadBalancerInternal {
		r.PublicIPAddress = group + "/providers/" + network.TypePublicIPAddress + "/" + base + "-fe-pip"
		if err := s.stageAs(t, r.PublicIPAddress, fmt.Sprintf(`{"location": %q, "tags": %s, "properties": {"publicIPAllocationMethod": "Static"}}`, location, tags)); err != nil {
			return aksSystemService{}, err
		}
		pipRef = fmt.Sprintf(`, "publicIPAddress": {"id": %q}`, r.PublicIPAddress)
	}
	if err := s.stageAs(t, fe, fmt.Sprintf(`{"location": %q, "tags": %s, "properties": {"ipConfigurations": [{"name": "frontend",
		"properties": {"subnet": {"id": %q}%s}}]}}`, location, tags, feSubnet, pipRef)); err != nil {
		return aksSystemService{}, err
	}
	r.FrontEnd = fe
	svc := aksSystemService{ServiceName: "azureml-fe", ServiceType: spec.LoadBalancerType, NetworkInterface: fe, PublicIPAddressID: r.PublicIPAddress, Fqdn: tlsHost}
	if n, ok := t.get(lower(fe)).obj.(*network.NetworkInterface); ok && len(n.Properties.IPConfigurations) > 0 {
		svc.PrivateIPAddress = n.Properties.IPConfigurations[0].Properties.PrivateIPAddress
	}
	if r.PublicIPAddress != "" {
		if p, ok := t.get(lower(r.PublicIPAddress)).obj.(*network.PublicIPAddress); ok {
			svc.PublicIPAddress = p.Properties.IPAddress
		}
	}
	return svc, nil
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

// aksTLS resolves a new cluster's sslConfiguration to the name of its
// scoring URI and the certificate (then chain) and key its front end
// serves, all "" when TLS is off: the user's own with status Enabled,
// for the cname; with status Auto, one the deployment CA issues for a
// name generated from the leaf domain label, as Azure's
// <label><6 random>.<location>.cloudapp.azure.com, so that clients
// trusting the deployment CA trust it. The name must be no other
// cluster's, and no platform service's.
func (s *Server) aksTLS(t *txn, id string, spec aks.Spec) (host, certPEM, keyPEM string, err error) {
	if spec.SSL.Status == aks.SSLDisabled {
		return "", "", "", nil
	}
	if s.keyring == nil {
		return "", "", "", armerror.New(codeNotSupported, pathSSL, "This server keeps no secrets, so it cannot keep the scoring certificate's key; create the inference cluster without sslConfiguration.")
	}
	switch spec.SSL.Status {
	case aks.SSLEnabled:
		host = strings.ToLower(strings.TrimSuffix(spec.SSL.Cname, "."))
		if d := platformDomain(host); d != "" {
			return "", "", "", armerror.New(aks.CodeUserError, pathSSL+".cname",
				"cname %s is in %s, a domain of the platform's own services, whose names it would take; use a name of your own domain (for example ml.contoso.com).", host, d)
		}
		if other := tlsHostOwner(t, host, id); other != "" {
			return "", "", "", armerror.New(codeDNSRecordInUse, pathSSL+".cname",
				"cname %s is already the scoring name of inference cluster %s; give each cluster a name of its own.", host, lastSegment(other))
		}
		return host, spec.SSL.Cert, spec.SSL.Key, nil
	case aks.SSLAuto:
		label := spec.SSL.LeafDomainLabel
		if s.ca == nil {
			return "", "", "", armerror.New(codeNotSupported, pathSSL+".leafDomainLabel",
				"This server has no deployment CA to issue the certificate of leafDomainLabel %q; give your own certificate instead (cname, cert and key: --ssl-cname, --ssl-cert-pem-file, --ssl-key-pem-file).", label)
		}
		// Six random characters leave 36^6 names per label: a taken one
		// is drawn again, a few times.
		for range 8 {
			if host, err = aks.LeafDomainName(label, spec.Location, rand.Reader); err != nil {
				return "", "", "", err
			}
			if tlsHostOwner(t, host, id) == "" {
				break
			}
			host = ""
		}
		if host == "" {
			return "", "", "", armerror.New(codeDNSRecordInUse, pathSSL+".leafDomainLabel", "Every name drawn for leafDomainLabel %q is taken; choose another label.", label)
		}
		cert, err := s.ca.Issue([]string{host}, nil, generatedCertValidity)
		if err != nil {
			return "", "", "", armerror.New(codeNotSupported, pathSSL+".leafDomainLabel", "The deployment CA cannot issue the certificate for %s: %v", host, err)
		}
		certPEM, keyPEM, err := encodeCertificate(cert)
		return host, certPEM, keyPEM, err
	}
	return "", "", "", nil
}

// platformDomain returns the platform's own domain name lies in (the
// deployment CA's, but for cloudapp.azure.com, which is the clusters'), or "".
func platformDomain(name string) string {
	for _, d := range pki.PermittedDomains {
		if d != aks.CloudappDomain && (name == d || strings.HasSuffix(name, "."+d)) {
			return d
		}
	}
	return ""
}

// tlsHostOwner returns the id of the inference cluster other than self
// whose scoring name is host, or "".
func tlsHostOwner(t *txn, host, self string) string {
	var owner string
	t.each(func(e *entry) {
		if owner != "" || !strings.EqualFold(e.id.Type, typeCompute) || strings.EqualFold(e.id.ID, self) {
			return
		}
		var d computeDoc
		if json.Unmarshal(e.res.Doc, &d) != nil || !strings.EqualFold(d.Properties.ComputeType, computeTypeAKS) {
			return
		}
		var p aksProps
		if json.Unmarshal(d.Properties.Properties, &p) == nil && len(p.SystemServices) > 0 && strings.EqualFold(p.SystemServices[0].Fqdn, host) {
			owner = e.id.ID
		}
	})
	return owner
}

// encodeCertificate renders an issued certificate as PEM: the
// certificate then its chain, and its key (PKCS #8).
func encodeCertificate(c tls.Certificate) (certPEM, keyPEM string, err error) {
	var b strings.Builder
	for _, der := range c.Certificate {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	k, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return "", "", err
	}
	return b.String(), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})), nil
}

// scoringTLS is the TLS a cluster's front end serves, from its stored
// document and sealed certificate; nil without TLS.
func (s *Server) scoringTLS(clusterID string, p aksProps) (*inference.TLS, error) {
	host, ok := p.scoringTLS()
	if !ok {
		return nil, nil
	}
	addr, err := netip.ParseAddr(p.frontEndAddr())
	if err != nil {
		return nil, fmt.Errorf("inference cluster %s has no front end address for %s", lastSegment(clusterID), host)
	}
	// A compute's credentials are not among the view's sealed documents
	// (nothing else reads them back): read the stored one. A published
	// entry is never changed, so its document is read after the lock.
	id, err := store.ParseID(clusterID + "/credentials/default")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	e := s.world.byKey[id.Key]
	s.mu.Unlock()
	var doc sealedDoc
	if e == nil || json.Unmarshal(e.res.Doc, &doc) != nil || s.keyring == nil {
		return nil, fmt.Errorf("inference cluster %s serves TLS for %s, but its certificate is not kept; create the cluster again", lastSegment(clusterID), host)
	}
	pair := map[string]string{}
	for _, k := range doc.Keys {
		v, err := s.keyring.Open(sealAKSSSL, clusterID+"/"+k.Name, k.Sealed)
		if err != nil {
			return nil, fmt.Errorf("inference cluster %s's certificate cannot be opened: %w", lastSegment(clusterID), err)
		}
		pair[k.Name] = string(v)
	}
	if pair["sslCert"] == "" || pair["sslKey"] == "" {
		return nil, fmt.Errorf("inference cluster %s's certificate is damaged; create the cluster again", lastSegment(clusterID))
	}
	return &inference.TLS{Host: host, Addr: addr, CertPEM: pair["sslCert"], KeyPEM: pair["sslKey"]}, nil
}
