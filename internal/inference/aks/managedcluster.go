package aks

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/network"
)

// This file decodes and checks a Microsoft.ContainerService/managedClusters
// body — an AKS cluster of its own, which a workspace may then attach
// (AksCompute.attach_configuration, surface §A.5) — in the subset of
// AKS's schema that matters to inference: the Kubernetes version, the DNS
// prefix, one agent pool and its subnet, and the Azure CNI network
// profile. Its network is checked by the same rules as an AksCompute's
// (network.go), reported at the managed cluster's own paths.

// ManagedClusterType is the ARM type of a managed cluster.
const ManagedClusterType = "Microsoft.ContainerService/managedClusters"

// Codes of the managed cluster checks besides the network's.
const (
	// CodeNotSupported: AKS offers it, vnetml does not (kubenet, Windows
	// pools, more than one pool).
	CodeNotSupported = "OperationNotSupported"
	// ARM's codes for the location.
	CodeLocationRequired     = "LocationRequired"
	CodeLocationNotAvailable = "LocationNotAvailableForResourceType"
)

// Defaults of a managed cluster, as AKS's API (and az aks create of 2019)
// applies them.
const (
	DefaultKubernetesVersion = "1.30.6"
	DefaultPoolCount         = 1
	DefaultPoolVMSize        = "Standard_DS2_v2"
	DefaultServiceCIDR       = "10.0.0.0/16"
	DefaultDNSServiceIP      = "10.0.0.10"
	DefaultDockerBridgeCIDR  = "172.17.0.1/16"
	NetworkPluginAzure       = "azure"
	LoadBalancerSKUStandard  = "standard"
	LoadBalancerSKUBasic     = "basic"
	PoolModeSystem           = "System"
	PoolModeUser             = "User"
	OSTypeLinux              = "Linux"
)

// Bounds AKS sets (spec §8: maxPods at most 250; at least 10 in newer
// docs, 30 in 2019's [UNCONFIRMED which]; a pool of 1 to 1000 nodes).
const (
	MinMaxPods   = 10
	MaxMaxPods   = 250
	MaxPoolCount = 1000
)

// ManagedCluster is a decoded, checked managed cluster body: every field
// resolved (defaults applied, enumerations in AKS's casing). The zero
// value is not valid; make one with DecodeManagedCluster.
type ManagedCluster struct {
	Location          string            // normalised ("eastus")
	Tags              map[string]string // nil when none
	KubernetesVersion string
	DNSPrefix         string
	// AgentPools holds exactly one pool: vnetml's clusters have one.
	AgentPools []AgentPool
	Network    ClusterNetwork
}

// AgentPool is one of agentPoolProfiles.
type AgentPool struct {
	Name   string
	Count  int
	VMSize string // the size catalog's name (STANDARD_DS2_V2)
	VCPUs  int    // per node
	// SubnetID is vnetSubnetID, canonical; "" when the cluster gets a
	// network of its own.
	SubnetID string
	MaxPods  int
	Mode     string // PoolModeSystem or PoolModeUser
	OSType   string
}

// ClusterNetwork is networkProfile. The CIDRs stay the text given, so that
// the network checks can quote it.
type ClusterNetwork struct {
	Plugin           string // NetworkPluginAzure
	ServiceCIDR      string
	DNSServiceIP     string
	DockerBridgeCIDR string
	LoadBalancerSKU  string // LoadBalancerSKUStandard or LoadBalancerSKUBasic
}

// Pool is the cluster's agent pool.
func (m ManagedCluster) Pool() AgentPool {
	if len(m.AgentPools) == 0 {
		return AgentPool{}
	}
	return m.AgentPools[0]
}

// VCPUs is the cluster's vCPUs in all.
func (m ManagedCluster) VCPUs() int {
	n := 0
	for _, p := range m.AgentPools {
		n += p.Count * p.VCPUs
	}
	return n
}

// ClusterContext is what decoding a managed cluster needs from outside
// its body.
type ClusterContext struct {
	// Name is the cluster's name: the default DNS prefix derives from it.
	Name string
}

// Targets of a managed cluster's fields.
const (
	pathMCProps    = "properties"
	pathMCPools    = pathMCProps + ".agentPoolProfiles"
	pathMCNet      = pathMCProps + ".networkProfile"
	pathMCVersion  = pathMCProps + ".kubernetesVersion"
	pathMCDNS      = pathMCProps + ".dnsPrefix"
	pathMCPlugin   = pathMCNet + ".networkPlugin"
	pathMCService  = pathMCNet + ".serviceCidr"
	pathMCDNSIP    = pathMCNet + ".dnsServiceIP"
	pathMCBridge   = pathMCNet + ".dockerBridgeCidr"
	pathMCLBSku    = pathMCNet + ".loadBalancerSku"
	pathMCPool0    = pathMCPools + "[0]"
	pathMCSubnetID = pathMCPool0 + ".vnetSubnetID"
)

// clusterTargets are the managed cluster's paths for the network checks.
var clusterTargets = netTargets{subnet: pathMCSubnetID, serviceCIDR: pathMCService, dnsIP: pathMCDNSIP, bridge: pathMCBridge,
	owner: "the cluster", count: "count"}

var (
	shapeMCTop = shape{known: []string{"location", "tags", "properties"},
		readOnly: []string{"id", "name", "type", "etag", "systemData"}}
	shapeMCProps = shape{known: []string{"kubernetesVersion", "dnsPrefix", "agentPoolProfiles", "networkProfile"},
		readOnly: []string{"provisioningState", "fqdn", "powerState", "nodeResourceGroup", "maxAgentPools", "vnetmlResources"}}
	shapeMCPool = shape{known: []string{"name", "count", "vmSize", "vnetSubnetID", "maxPods", "mode", "osType"},
		readOnly: []string{"provisioningState", "powerState", "orchestratorVersion", "type"}}
	shapeMCNet = shape{known: []string{"networkPlugin", "serviceCidr", "dnsServiceIP", "dockerBridgeCidr", "loadBalancerSku"}}
)

var (
	// poolNameRE is AKS's rule for a Linux pool's name.
	poolNameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
	// dnsPrefixRE is AKS's: 1-54 letters, digits and hyphens, starting
	// and ending with a letter or digit.
	dnsPrefixRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,52}[A-Za-z0-9])?$`)
	// versionRE is a Kubernetes version as AKS takes it: 1.30 or 1.30.6.
	versionRE = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?$`)
)

// DecodeManagedCluster decodes and checks the PUT body of a managed
// cluster:
//
//	{"location", "tags", "properties": {"kubernetesVersion", "dnsPrefix",
//	  "agentPoolProfiles": [{"name", "count", "vmSize", "vnetSubnetID", "maxPods", "mode", "osType"}],
//	  "networkProfile": {"networkPlugin", "serviceCidr", "dnsServiceIP", "dockerBridgeCidr", "loadBalancerSku"}}}
//
// Keys match case-insensitively, unknown keys are refused with a "did you
// mean", the read-only fields a GET shows are ignored, and JSON null is
// the same as absent. Every problem is reported at once, as an
// *armerror.Error whose Target (or whose details' Targets) is the JSON
// path of the field; on error the ManagedCluster is zero. The network's
// ranges are checked against the network by CheckClusterNetwork.
func DecodeManagedCluster(body []byte, ctx ClusterContext) (ManagedCluster, error) {
	var l armerror.List
	root, ok := parseBody(&l, body)
	if !ok {
		return ManagedCluster{}, l.Err()
	}
	top := readObject(&l, root, "", false, shapeMCTop)
	props := top.object("properties", shapeMCProps)
	netObj := props.object("networkProfile", shapeMCNet)

	var m ManagedCluster
	m.Tags = top.tags("tags")
	loc, _ := top.str("location")
	m.Location = normLocation(loc)
	switch {
	case top.bad["location"]:
	case m.Location == "":
		l.Addf(CodeLocationRequired, "location", "The location property is required for this definition: give the cluster's region, for example \"eastus\".")
	case !knownLocation(m.Location):
		l.Addf(CodeLocationNotAvailable, "location", "The location %q is not a region of vnetml's cloud: use one of %s.", loc, strings.Join(regions(), ", "))
	}

	m.KubernetesVersion = DefaultKubernetesVersion
	if v, ok := props.str("kubernetesVersion"); ok && v != "" {
		if !versionRE.MatchString(v) {
			l.Addf(CodeInvalidParameter, pathMCVersion, "Invalid kubernetesVersion %q: give a version such as %q (major.minor or major.minor.patch), or leave it out for %s.", v, DefaultKubernetesVersion, DefaultKubernetesVersion)
		}
		m.KubernetesVersion = v
	}
	m.DNSPrefix = defaultDNSPrefix(ctx.Name)
	if v, ok := props.str("dnsPrefix"); ok && v != "" {
		if !dnsPrefixRE.MatchString(v) {
			l.Addf(CodeInvalidParameter, pathMCDNS, "Invalid dnsPrefix %q: 1 to 54 letters, digits and hyphens, starting and ending with a letter or digit (for example %q).", v, cmp.Or(defaultDNSPrefix(ctx.Name), "myaks-dns"))
		}
		m.DNSPrefix = v
	} else if m.DNSPrefix == "" {
		l.Addf(CodeInvalidParameter, pathMCDNS, "The cluster's name gives no DNS prefix: give dnsPrefix, 1 to 54 letters, digits and hyphens (for example \"myaks-dns\").")
	}

	pools := props.objects("agentPoolProfiles", shapeMCPool)
	switch {
	case props.bad["agentPoolProfiles"] || props.broken:
	case len(pools) == 0:
		l.Addf(CodeInvalidParameter, pathMCPools, "A managed cluster needs one agent pool: give agentPoolProfiles [{\"name\": \"nodepool1\", \"count\": 3, \"vmSize\": %q, \"mode\": %q}].", DefaultPoolVMSize, PoolModeSystem)
	case len(pools) > 1:
		l.Addf(CodeNotSupported, pathMCPools, "vnetml's managed clusters have one agent pool, and this body gives %d: keep one (mode %q) with the nodes of all of them.", len(pools), PoolModeSystem)
	default:
		if p, ok := decodePool(&l, pools[0], m.Location); ok {
			m.AgentPools = []AgentPool{p}
		}
	}
	m.Network = decodeClusterNetwork(&l, netObj)

	if err := l.Err(); err != nil {
		return ManagedCluster{}, err
	}
	return m, nil
}

// defaultDNSPrefix derives a DNS prefix from the cluster's name, as the
// portal does: its letters, digits and hyphens, then "-dns".
func defaultDNSPrefix(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == '_' || r == '.':
			b.WriteByte('-')
		}
	}
	p := strings.Trim(b.String(), "-")
	if p == "" {
		return ""
	}
	if len(p) > 50 {
		p = strings.TrimRight(p[:50], "-")
	}
	return p + "-dns"
}

// decodePool reads one agent pool; false when it is unusable (reported).
func decodePool(l *armerror.List, o *object, location string) (AgentPool, bool) {
	errs := l.Len()
	var p AgentPool
	p.Name, _ = o.str("name")
	switch {
	case o.broken || o.bad["name"]:
	case p.Name == "":
		l.Addf(CodeInvalidParameter, o.target("name"), "An agent pool needs a name: 1 to 12 lower-case letters and digits, starting with a letter (for example \"nodepool1\").")
	case !poolNameRE.MatchString(p.Name):
		l.Addf(CodeInvalidParameter, o.target("name"), "Invalid agent pool name %q: 1 to 12 lower-case letters and digits, starting with a letter (for example \"nodepool1\").", p.Name)
	}
	p.Count = DefaultPoolCount
	if n, ok := o.integer("count"); ok {
		if n < 1 || n > MaxPoolCount {
			l.Addf(CodeInvalidParameter, o.target("count"), "The agent pool's count %d is out of range: a system pool has 1 to %d nodes.", n, MaxPoolCount)
		}
		p.Count = n
	}
	size := DefaultPoolVMSize
	if v, ok := o.str("vmSize"); ok && v != "" {
		size = v
	}
	if knownLocation(location) {
		if s, ok := compute.LookupSize(location, size); ok {
			p.VMSize, p.VCPUs = s.Name, s.VCPUs
		} else {
			l.Addf(CodeInvalidParameter, o.target("vmSize"), "The VM size %q is not offered in location %q%s", size, location, suggestSizes(location, size))
		}
	}
	if id, ok := o.str("vnetSubnetID"); ok && id != "" {
		r, err := network.ParseResourceID(id)
		switch {
		case err != nil:
			l.Addf(CodeInvalidParameter, o.target("vnetSubnetID"), "Invalid vnetSubnetID: %v.", err)
		case !strings.EqualFold(r.Type(), network.TypeSubnet):
			l.Addf(CodeInvalidParameter, o.target("vnetSubnetID"),
				"Invalid vnetSubnetID %q: it names a %s, want /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}.",
				id, cmp.Or(r.Type(), "resource group"))
		default:
			p.SubnetID = r.String()
		}
	}
	p.MaxPods = DefaultMaxPods
	if n, ok := o.integer("maxPods"); ok {
		if n < MinMaxPods || n > MaxMaxPods {
			l.Addf(CodeInvalidParameter, o.target("maxPods"), "maxPods %d is out of range: Azure CNI takes %d to %d pods per node (leave it out for %d).", n, MinMaxPods, MaxMaxPods, DefaultMaxPods)
		}
		p.MaxPods = n
	}
	p.Mode = PoolModeSystem
	if v, ok := o.str("mode"); ok && v != "" {
		switch strings.ToLower(v) {
		case "system":
		case "user":
			l.Addf(CodeInvalidParameter, o.target("mode"), "The cluster's only agent pool has mode %q, but a cluster needs a %q pool for its own services: set mode %q.", PoolModeUser, PoolModeSystem, PoolModeSystem)
		default:
			l.Addf(CodeInvalidParameter, o.target("mode"), "Invalid mode %q: use %q (or %q for a cluster's additional pools).", v, PoolModeSystem, PoolModeUser)
		}
	}
	p.OSType = OSTypeLinux
	if v, ok := o.str("osType"); ok && v != "" && !strings.EqualFold(v, OSTypeLinux) {
		l.Addf(CodeNotSupported, o.target("osType"), "osType %q is not supported: vnetml's nodes run Linux (the system pool's must); set osType %q or leave it out.", v, OSTypeLinux)
	}
	return p, l.Len() == errs && !o.broken
}

// decodeClusterNetwork reads networkProfile with AKS's defaults:
// serviceCidr and dnsServiceIP together or neither (spec §8).
func decodeClusterNetwork(l *armerror.List, o *object) ClusterNetwork {
	n := ClusterNetwork{Plugin: NetworkPluginAzure, LoadBalancerSKU: LoadBalancerSKUStandard, DockerBridgeCIDR: DefaultDockerBridgeCIDR}
	if v, ok := o.str("networkPlugin"); ok && v != "" {
		switch strings.ToLower(v) {
		case "azure":
		case "kubenet", "none":
			l.Addf(CodeNotSupported, pathMCPlugin, "networkPlugin %q is not supported: vnetml's clusters use Azure CNI, where every node and pod takes an address of the subnet and the subnet's NSG rules apply to them; set networkPlugin %q.", v, NetworkPluginAzure)
		default:
			l.Addf(CodeInvalidParameter, pathMCPlugin, "Invalid networkPlugin %q: set %q (Azure CNI).", v, NetworkPluginAzure)
		}
	}
	svc, _ := o.str("serviceCidr")
	dns, _ := o.str("dnsServiceIP")
	switch {
	case svc == "" && dns == "":
		if !o.bad["serviceCidr"] && !o.bad["dnsServiceIP"] {
			n.ServiceCIDR, n.DNSServiceIP = DefaultServiceCIDR, DefaultDNSServiceIP
		}
	case svc == "" && !o.bad["serviceCidr"]:
		l.Addf(CodeInvalidParameter, pathMCService, "dnsServiceIP is given without serviceCidr: the two go together; give the service range it lies in, or leave both out for %s and %s.", DefaultServiceCIDR, DefaultDNSServiceIP)
	case dns == "" && !o.bad["dnsServiceIP"]:
		l.Addf(CodeInvalidParameter, pathMCDNSIP, "serviceCidr is given without dnsServiceIP: the two go together; give an address inside %s (its .10, usually), or leave both out for %s and %s.", svc, DefaultServiceCIDR, DefaultDNSServiceIP)
	default:
		n.ServiceCIDR, n.DNSServiceIP = svc, dns
	}
	if v, ok := o.str("dockerBridgeCidr"); ok && v != "" {
		n.DockerBridgeCIDR = v
	}
	if v, ok := o.str("loadBalancerSku"); ok && v != "" {
		switch strings.ToLower(v) {
		case "standard":
		case "basic":
			n.LoadBalancerSKU = LoadBalancerSKUBasic
		default:
			l.Addf(CodeInvalidParameter, pathMCLBSku, "Invalid loadBalancerSku %q: use %q or %q.", v, LoadBalancerSKUStandard, LoadBalancerSKUBasic)
		}
	}
	return n
}

// Payload renders m as the PUT body DecodeManagedCluster reads back to m
// (with the same ClusterContext).
func (m ManagedCluster) Payload() map[string]any {
	pools := make([]any, 0, len(m.AgentPools))
	for _, p := range m.AgentPools {
		pool := map[string]any{"name": p.Name, "count": p.Count, "vmSize": p.VMSize, "maxPods": p.MaxPods, "mode": p.Mode, "osType": p.OSType}
		if p.SubnetID != "" {
			pool["vnetSubnetID"] = p.SubnetID
		}
		pools = append(pools, pool)
	}
	n := m.Network
	out := map[string]any{
		"location": m.Location,
		"properties": map[string]any{
			"kubernetesVersion": m.KubernetesVersion,
			"dnsPrefix":         m.DNSPrefix,
			"agentPoolProfiles": pools,
			"networkProfile": map[string]any{"networkPlugin": n.Plugin, "serviceCidr": n.ServiceCIDR, "dnsServiceIP": n.DNSServiceIP,
				"dockerBridgeCidr": n.DockerBridgeCIDR, "loadBalancerSku": n.LoadBalancerSKU},
		},
	}
	if len(m.Tags) > 0 {
		tags := make(map[string]any, len(m.Tags))
		for k, v := range m.Tags {
			tags[k] = v
		}
		out["tags"] = tags
	}
	return out
}

// CheckClusterNetwork checks a managed cluster's Azure CNI settings against
// snap as AKS does when it creates the cluster — the rules of CheckNetwork
// (service CIDR, DNS service IP, docker bridge, the subnet's room for
// count nodes of maxPods pods, its region: the cluster's), with the same
// codes, reported at the managed cluster's paths. subnetID is the subnet
// the nodes join: the pool's vnetSubnetID, or the one the server made for
// a cluster without one. snap must be normalised.
func CheckClusterNetwork(snap *network.Snapshot, m ManagedCluster, subnetID string) error {
	if snap == nil || len(m.AgentPools) == 0 {
		return nil
	}
	p, n := m.Pool(), m.Network
	return checkNetwork(snap, m.Location, Networking{SubnetID: subnetID, ServiceCIDR: n.ServiceCIDR, DNSServiceIP: n.DNSServiceIP, DockerBridgeCIDR: n.DockerBridgeCIDR},
		p.Count, p.MaxPods, "", "", clusterTargets)
}

// CheckAttach checks that s, an AksCompute attaching the managed cluster
// m (named name, its nodes in subnetID), fits it: a FastProd cluster needs
// MinFastProdVCPUs in its agent pools (DevTest does not), and an internal
// load balancer's subnet must be a subnet of the cluster's virtual
// network. Targets are the attach payload's.
func CheckAttach(snap *network.Snapshot, s Spec, name string, m ManagedCluster, subnetID string) error {
	var l armerror.List
	if s.ClusterPurpose == PurposeFastProd {
		if have := m.VCPUs(); have < MinFastProdVCPUs {
			p := m.Pool()
			fix := "clusterPurpose " + PurposeDevTest + " for a dev/test cluster"
			if p.VCPUs > 0 {
				need := (MinFastProdVCPUs + p.VCPUs - 1) / p.VCPUs
				// Only a managed cluster's tags change in place: a PUT
				// with a larger count is refused, so the way to more
				// nodes is a new cluster.
				del := "vnetml delete managedcluster " + name
				if parts := strings.Split(s.ResourceID, "/"); len(parts) == 9 && parts[4] != "" {
					del += " -g " + parts[4]
				}
				fix = fmt.Sprintf("a managed cluster changes only its tags in place, so delete it and create it again with %d nodes or more in agent pool %s (%s, then vnetml apply -f with \"count\": %d), or attach it with %s",
					need, p.Name, del, need, fix)
			}
			// The first sentence is the service's (Azure-docs#55597).
			l.Addf(CodeUserError, pathPurpose,
				"Cluster should have at least %d cores to operate: managed cluster %s has %d (%d nodes of %s with %d vCPUs each), and a %s cluster needs %d; %s.",
				MinFastProdVCPUs, name, have, p.Count, p.VMSize, p.VCPUs, PurposeFastProd, MinFastProdVCPUs, fix)
		}
	}
	if s.LoadBalancerType == LoadBalancerInternal && snap != nil {
		c := newNetView(snap, subnetID)
		if c.vnet != nil {
			c.checkLBSubnet(&l, s.LoadBalancerSubnet)
		}
	}
	return l.Err()
}
