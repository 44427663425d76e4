package aks

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/network"
)

// This file decodes and validates the AksCompute payload, the ARM PUT body
// of .../workspaces/{ws}/computes/{name} with computeType "AKS", as
// azureml-core compute/aks.py builds it (AksCompute._build_create_payload,
// _build_attach_payload) and validates it (AksProvisioningConfiguration and
// AksAttachConfiguration.validate_configuration); see
// ../shared/spec/azureml-v1-surface.md §A.5.

// Error codes of the payload checks. As for AmlCompute (internal/compute),
// the service answers a bad compute request with HTTP 400 and "UserError";
// a body that is not the right JSON shape gets ARM's InvalidRequestContent.
const (
	CodeUserError      = compute.CodeUserError
	CodeInvalidContent = compute.CodeInvalidContent
)

// ComputeTypeAKS is the computeType of an AksCompute (AksCompute._compute_type).
const ComputeTypeAKS = "AKS"

// Cluster purposes (AksCompute.ClusterPurpose) and load balancer types, in
// the service's casing.
const (
	PurposeFastProd = "FastProd"
	PurposeDevTest  = "DevTest"

	LoadBalancerPublicIP = "PublicIp"
	LoadBalancerInternal = "InternalLoadBalancer"
)

// SSL statuses of sslConfiguration.status: the SDK sends Enabled with a
// cname, cert and key, Auto with a leaf domain label (a Microsoft-issued
// certificate), and Disabled to turn TLS off (AksUpdateConfiguration).
const (
	SSLDisabled = "Disabled"
	SSLEnabled  = "Enabled"
	SSLAuto     = "Auto"
)

// Defaults the service applies (AksProvisioningConfiguration's docstring:
// "Defaults to 3", "Defaults to Standard_D3_v2"; load_balancer_subnet
// "Default value is aks-subnet").
const (
	DefaultAgentCount         = 3
	DefaultAgentVMSize        = "Standard_D3_v2"
	DefaultLoadBalancerSubnet = "aks-subnet"
)

// MinFastProdVCPUs is the vCPU total a FastProd cluster needs (spec §A.5:
// "cluster needs ≥12 vCPU total"; the R SDK's docs: "If your cluster has
// less than 12 virtual CPUs, you will need to specify DevTest").
const MinFastProdVCPUs = 12

// The SDK's messages, verbatim (azureml-core compute/aks.py). Where vnetml
// adds what is missing or wanted, it follows the verbatim part.
const (
	msgAgentCount      = "Invalid configuration, agent count must be a positive integer."
	msgSSLIncomplete   = "Invalid configuration, not all ssl information provided. To enable SSL validation please provide the cname, cert pem file, and key pem file."
	msgSSLLeafWithCert = "Invalid configuration. When cname, cert pem file, and key pem file is provided, leaf domain label should not be provided."
	msgSSLOverwrite    = "Invalid configuration. Overwrite existing domain only applies to leaf domain label. When cname, cert pem file, and key pem file is provided, Overwrite existing domain should not be provided."
	msgSSLLeafOnly     = "Invalid configuration. When leaf domain label is provided, cname, cert pem file, or key pem file should not be provided."
	msgVNet            = "Invalid configuration, not all virtual net information provided. To use a custom virtual net with aks, please provide vnet name, vnet resource group, subnet name, service cidr, dns service ip and docker bridge cidr"
	msgLBType          = `Invalid configuration. Load balancer type should be either "PublicIp" or "InternalLoadBalancer".`
	msgLBSubnet        = `Invalid configuration, load balancer subnet can be changed from default when load balancer type is "InternalLoadBalancer".`
	msgResourceID      = "Invalid resource_id provided: %s"
	msgResourceType    = "Invalid resource_id provided, resource type %s does not match for AKS"
	msgIDAndGroup      = "Since resource_id is provided, please do not provide resource_group."
	msgIDAndName       = "Since resource_id is provided, please do not provide cluster_name."
	msgNoGroup         = "resource_group is not provided."
	msgNoName          = "cluster_name is not provided."
	msgNoTarget        = "Please provide resource_group and cluster_name for the AKS compute resource being attached. Or please provide resource_id for the resource being attached."
)

// wantClusterID is the shape of an AKS cluster's resource id, for hints.
const wantClusterID = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{cluster}"

// Spec is a decoded, validated AksCompute: what DecodeSpec returns. Every
// field holds its resolved value: defaults applied, enumerations in the
// service's casing. The zero Spec is not valid; make one with DecodeSpec.
type Spec struct {
	// Location is the cluster's region: properties.computeLocation, else
	// the workspace's. Normalised ("eastus").
	Location    string
	Tags        map[string]string // nil when none
	Description string

	// ResourceID is the managed cluster attached (properties.resourceId);
	// "" when vnetml creates the cluster.
	ResourceID string

	// AgentCount and AgentVMSize size a created cluster (zero when
	// attached: the cluster keeps its own pool). AgentVMSize is the size
	// catalog's name (STANDARD_D3_V2), AgentVCPUs its vCPUs per agent.
	AgentCount  int
	AgentVMSize string
	AgentVCPUs  int

	ClusterPurpose     string // PurposeFastProd or PurposeDevTest
	LoadBalancerType   string // LoadBalancerPublicIP or LoadBalancerInternal
	LoadBalancerSubnet string // a subnet name with LoadBalancerInternal, else ""

	SSL SSL

	// Network is the cluster's Azure CNI configuration in an existing
	// virtual network; nil when the service creates the network.
	Network *Networking
}

// Attached reports whether s attaches an existing cluster.
func (s Spec) Attached() bool { return s.ResourceID != "" }

// SSL is sslConfiguration: the scoring endpoint's TLS.
type SSL struct {
	Status string // SSLDisabled, SSLEnabled or SSLAuto
	// With SSLEnabled: the CNAME clients use and the PEM certificate and
	// its key. Key is a secret: render it only back to its owner.
	Cname, Cert, Key string
	// With SSLAuto: the leaf domain label of a Microsoft-issued certificate.
	LeafDomainLabel         string
	OverwriteExistingDomain bool
	Renew                   bool // AksUpdateConfiguration's renew of an Auto certificate
}

// Networking is aksNetworkingConfiguration. The CIDRs stay the text the
// user wrote, so that CheckNetwork's messages can quote them.
type Networking struct {
	SubnetID         string // canonical ARM id of the cluster's subnet
	ServiceCIDR      string
	DNSServiceIP     string
	DockerBridgeCIDR string
}

// SpecContext is what validating a compute needs from outside its body.
type SpecContext struct {
	// WorkspaceSubscription is the subscription the cluster's virtual
	// network must be in (the SDK assembles the subnet id in it).
	WorkspaceSubscription string
	// WorkspaceLocation is the workspace's region: the default of the
	// cluster's, and the only one a cluster in a virtual network may have.
	WorkspaceLocation string
}

// Targets of the body's fields, rooted at the document.
const (
	pathProps       = "properties"
	pathAKS         = "properties.properties"
	pathSSL         = pathAKS + ".sslConfiguration"
	pathNet         = pathAKS + ".aksNetworkingConfiguration"
	pathComputeLoc  = pathProps + ".computeLocation"
	pathResourceID  = pathProps + ".resourceId"
	pathAgentCount  = pathAKS + ".agentCount"
	pathAgentVMSize = pathAKS + ".agentVmSize"
	pathPurpose     = pathAKS + ".clusterPurpose"
	pathLBType      = pathAKS + ".loadBalancerType"
	pathLBSubnet    = pathAKS + ".loadBalancerSubnet"
	pathSubnetID    = pathNet + ".subnetId"
	pathServiceCIDR = pathNet + ".serviceCidr"
	pathDNSIP       = pathNet + ".dnsServiceIP"
	pathBridge      = pathNet + ".dockerBridgeCidr"
)

// The fields of each object of the body, in their canonical spelling. The
// read-only ones are what a GET adds, which AksCompute.update sends back.
var (
	shapeTop   = shape{known: []string{"location", "tags", "properties"}, readOnly: []string{"id", "name", "type"}}
	shapeProps = shape{
		known:    []string{"computeType", "computeLocation", "description", "resourceId", "properties"},
		readOnly: []string{"provisioningState", "provisioningErrors", "createdOn", "modifiedOn", "isAttachedCompute"},
	}
	shapeAKS = shape{
		known:    []string{"agentCount", "agentVmSize", "clusterPurpose", "loadBalancerType", "loadBalancerSubnet", "sslConfiguration", "aksNetworkingConfiguration"},
		readOnly: []string{"clusterFqdn", "systemServices"},
	}
	shapeSSL = shape{known: []string{"status", "cname", "cert", "key", "leafDomainLabel", "overwriteExistingDomain", "renew"}}
	shapeNet = shape{known: []string{"subnetId", "serviceCidr", "dnsServiceIP", "dockerBridgeCidr"}}
)

// DecodeSpec decodes and validates the PUT body of an AksCompute:
//
//	{"location", "tags", "properties": {"computeType": "AKS", "description",
//	  "computeLocation" | "resourceId",
//	  "properties": {"agentCount", "agentVmSize", "clusterPurpose",
//	    "loadBalancerType", "loadBalancerSubnet",
//	    "sslConfiguration": {"status", "cname", "cert", "key", "leafDomainLabel", "overwriteExistingDomain"},
//	    "aksNetworkingConfiguration": {"subnetId", "serviceCidr", "dnsServiceIP", "dockerBridgeCidr"}}}}
//
// A body with properties.resourceId attaches that cluster; one without
// creates a cluster. Keys match case-insensitively, as ARM's do; a key it
// does not know is refused, and JSON null is the same as absent. Every
// error is reported at once; the error is an *armerror.Error whose Target
// (or whose details' Targets) is the JSON path of the field. On error the
// Spec is zero. The CIDRs are checked against the network by CheckNetwork.
func DecodeSpec(body []byte, ctx SpecContext) (Spec, error) {
	var l armerror.List
	root, ok := parseBody(&l, body)
	if !ok {
		return Spec{}, l.Err()
	}
	top := readObject(&l, root, "", false, shapeTop)
	props := top.object("properties", shapeProps)
	if !top.present("properties") {
		l.Addf(CodeInvalidContent, pathProps, "The request content has no %q: an AksCompute needs {\"computeType\": %q, \"properties\": {...}}.", "properties", ComputeTypeAKS)
		props.broken = true
	}
	aks := props.object("properties", shapeAKS)
	sslObj := aks.object("sslConfiguration", shapeSSL)
	netObj := aks.object("aksNetworkingConfiguration", shapeNet)

	var s Spec
	s.Tags = top.tags("tags")
	s.Description, _ = props.str("description")
	if ct, ok := props.str("computeType"); !ok && !props.broken && !props.bad["computeType"] {
		l.Addf(CodeUserError, props.target("computeType"), "The computeType is required: use %q.", ComputeTypeAKS)
	} else if ok && !strings.EqualFold(ct, ComputeTypeAKS) {
		l.Addf(CodeUserError, props.target("computeType"), "Invalid computeType %q: this resource takes %q.", ct, ComputeTypeAKS)
	}
	if id, _ := props.str("resourceId"); id != "" {
		s.ResourceID = checkClusterID(&l, pathResourceID, id)
		if s.ResourceID == "" {
			s.ResourceID = id // still attaching: don't also report create-only fields
		}
	}
	attach := s.ResourceID != ""

	decodeLocation(&l, &s, top, props, ctx, attach)
	if attach {
		for _, f := range []string{"agentCount", "agentVmSize", "aksNetworkingConfiguration"} {
			if aks.present(f) {
				l.Addf(CodeUserError, aks.target(f),
					"%s applies only to a cluster the service creates; an attached cluster keeps its own agent pool and network: leave %s out, or leave resourceId out to create a cluster.", f, f)
			}
		}
	} else {
		decodeAgents(&l, &s, aks)
	}

	s.ClusterPurpose = PurposeFastProd
	if v, ok := aks.str("clusterPurpose"); ok && v != "" {
		switch strings.ToLower(v) {
		case "fastprod":
		case "devtest":
			s.ClusterPurpose = PurposeDevTest
		default:
			l.Addf(CodeUserError, pathPurpose, "Invalid clusterPurpose %q: use %q (production: at least %d vCPUs in total) or %q.", v, PurposeFastProd, MinFastProdVCPUs, PurposeDevTest)
		}
	}
	if !attach && s.ClusterPurpose == PurposeFastProd && s.AgentVCPUs > 0 && s.AgentCount > 0 {
		if total := s.AgentCount * s.AgentVCPUs; total < MinFastProdVCPUs {
			need := (MinFastProdVCPUs + s.AgentVCPUs - 1) / s.AgentVCPUs
			// Message vnetml's own: the service's wording is not on record [UNCONFIRMED].
			l.Addf(CodeUserError, pathAgentCount,
				"A %s cluster needs at least %d vCPUs in total, but %d agents of %s have %d (%d each); use agentCount %d or more, a larger agentVmSize, or clusterPurpose %q for a dev/test cluster.",
				PurposeFastProd, MinFastProdVCPUs, s.AgentCount, s.AgentVMSize, total, s.AgentVCPUs, need, PurposeDevTest)
		}
	}

	decodeLoadBalancer(&l, &s, aks)
	s.SSL = decodeSSL(&l, sslObj, aks.present("sslConfiguration"))
	if !attach {
		s.Network = decodeNetworking(&l, netObj, ctx)
		if s.Network != nil && s.Location != "" && normLocation(ctx.WorkspaceLocation) != "" && s.Location != normLocation(ctx.WorkspaceLocation) {
			l.Addf(CodeUserError, pathComputeLoc,
				"The cluster's location %q differs from the workspace's %q: a cluster in a virtual network must be in its workspace's region, as its virtual network must; leave computeLocation out or set it to %q.",
				s.Location, normLocation(ctx.WorkspaceLocation), normLocation(ctx.WorkspaceLocation))
		}
	}

	if err := l.Err(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// decodeLocation resolves the cluster's region: computeLocation (create
// only), else the workspace's. The envelope's location, when given, must
// be the workspace's (the SDK sends workspace.location there).
func decodeLocation(l *armerror.List, s *Spec, top, props *object, ctx SpecContext, attach bool) {
	ws := normLocation(ctx.WorkspaceLocation)
	s.Location = ws
	if loc, ok := top.str("location"); ok && strings.TrimSpace(loc) != "" {
		switch n := normLocation(loc); {
		case ws == "":
			s.Location = n
		case n != ws:
			l.Addf(CodeUserError, "location",
				"The compute location %q differs from the workspace location %q: the envelope's location is the workspace's; leave it out or set it to %q, and put the cluster's region in properties.computeLocation.",
				loc, ctx.WorkspaceLocation, ws)
		}
	}
	if loc, ok := props.str("computeLocation"); ok && strings.TrimSpace(loc) != "" {
		if attach {
			l.Addf(CodeUserError, pathComputeLoc, "computeLocation applies only to a cluster the service creates; an attached cluster stays where it is: leave computeLocation out.")
			return
		}
		s.Location = normLocation(loc)
		if !knownLocation(s.Location) {
			l.Addf(CodeUserError, pathComputeLoc, "The location %q is not a region of vnetml's cloud: use one of %s.", loc, strings.Join(regions(), ", "))
		}
		return
	}
	switch {
	case s.Location == "":
		l.Addf(CodeUserError, "location", "The location of the compute is required (the workspace's region, for example \"eastus\").")
	case !knownLocation(s.Location):
		l.Addf(CodeUserError, "location", "The location %q is not a region of vnetml's cloud: use one of %s.", s.Location, strings.Join(regions(), ", "))
	}
}

// decodeAgents reads agentCount and agentVmSize of a cluster to create.
func decodeAgents(l *armerror.List, s *Spec, aks *object) {
	s.AgentCount = DefaultAgentCount
	if n, ok := aks.integer("agentCount"); ok {
		if n <= 0 {
			l.Addf(CodeUserError, pathAgentCount, "%s (got %d; leave agentCount out for %d)", msgAgentCount, n, DefaultAgentCount)
		} else {
			s.AgentCount = n
		}
	}
	name := DefaultAgentVMSize
	if v, ok := aks.str("agentVmSize"); ok && v != "" {
		name = v
	}
	if !knownLocation(s.Location) {
		return // reported with the location
	}
	size, ok := compute.LookupSize(s.Location, name)
	if !ok {
		l.Addf(CodeUserError, pathAgentVMSize, "The specified agentVmSize %q is not offered in location %q%s", name, s.Location, suggestSizes(s.Location, name))
		return
	}
	s.AgentVMSize, s.AgentVCPUs = size.Name, size.VCPUs
}

// decodeLoadBalancer reads loadBalancerType and loadBalancerSubnet: the
// subnet only with the internal type, "aks-subnet" by default.
func decodeLoadBalancer(l *armerror.List, s *Spec, aks *object) {
	s.LoadBalancerType = LoadBalancerPublicIP
	if v, ok := aks.str("loadBalancerType"); ok && v != "" {
		switch strings.ToLower(v) {
		case "publicip":
		case "internalloadbalancer":
			s.LoadBalancerType = LoadBalancerInternal
		default:
			l.Addf(CodeUserError, pathLBType, "%s (got %q)", msgLBType, v)
			return
		}
	}
	sub, _ := aks.str("loadBalancerSubnet")
	switch {
	case s.LoadBalancerType == LoadBalancerInternal:
		s.LoadBalancerSubnet = cmp.Or(sub, DefaultLoadBalancerSubnet)
		if strings.ContainsAny(s.LoadBalancerSubnet, "/?#") || strings.TrimSpace(s.LoadBalancerSubnet) != s.LoadBalancerSubnet {
			l.Addf(CodeUserError, pathLBSubnet, "Invalid loadBalancerSubnet %q: give the name of a subnet of the cluster's virtual network (no '/', '?', '#' or surrounding spaces), not its id.", s.LoadBalancerSubnet)
		}
	case sub != "":
		l.Addf(CodeUserError, pathLBSubnet, "%s Set loadBalancerType to %q, or leave loadBalancerSubnet out.", msgLBSubnet, LoadBalancerInternal)
	}
}

// leafLabelRE is a DNS label as Azure's public IP domain labels take them.
var leafLabelRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,61}[a-z0-9]$`)

// decodeSSL reads sslConfiguration with validate_configuration's rules, in
// its order (the SDK reports the first), then checks that status agrees.
// The SDK tests truthiness, so "" is the same as absent.
func decodeSSL(l *armerror.List, o *object, present bool) SSL {
	var c SSL
	c.Cname, _ = o.str("cname")
	c.Cert, _ = o.str("cert")
	c.Key, _ = o.str("key")
	c.LeafDomainLabel, _ = o.str("leafDomainLabel")
	c.OverwriteExistingDomain, _ = o.boolean("overwriteExistingDomain")
	c.Renew, _ = o.boolean("renew")
	status, _ := o.str("status")

	var missing []string
	for _, f := range [][2]string{{"cname", c.Cname}, {"cert", c.Cert}, {"key", c.Key}} {
		if f[1] == "" {
			missing = append(missing, f[0])
		}
	}
	anyTrio, allTrio := len(missing) < 3, len(missing) == 0
	sdkOK := false
	switch {
	case anyTrio && !allTrio:
		l.Addf(CodeUserError, pathSSL, "%s (missing: %s)", msgSSLIncomplete, strings.Join(missing, ", "))
	case anyTrio && c.LeafDomainLabel != "":
		l.Addf(CodeUserError, pathSSL+".leafDomainLabel", "%s Remove leafDomainLabel, or remove cname, cert and key.", msgSSLLeafWithCert)
	case anyTrio && c.OverwriteExistingDomain:
		l.Addf(CodeUserError, pathSSL+".overwriteExistingDomain", "%s Remove overwriteExistingDomain.", msgSSLOverwrite)
	default:
		sdkOK = true
	}

	inferred := SSLDisabled
	switch {
	case allTrio:
		inferred = SSLEnabled
	case c.LeafDomainLabel != "":
		inferred = SSLAuto
	}
	c.Status = inferred
	if status != "" {
		switch strings.ToLower(status) {
		case "enabled":
			c.Status = SSLEnabled
		case "auto":
			c.Status = SSLAuto
		case "disabled":
			c.Status = SSLDisabled
		default:
			l.Addf(CodeUserError, pathSSL+".status", "Invalid sslConfiguration.status %q: use %q (with cname, cert and key), %q (with leafDomainLabel) or %q.", status, SSLEnabled, SSLAuto, SSLDisabled)
			return SSL{}
		}
	}
	if !present || !sdkOK {
		return c
	}
	switch {
	case c.Status == SSLEnabled && !allTrio:
		l.Addf(CodeUserError, pathSSL, "%s (status is %q; missing: %s)", msgSSLIncomplete, SSLEnabled, strings.Join(missing, ", "))
	case c.Status == SSLAuto && allTrio:
		l.Addf(CodeUserError, pathSSL+".status", "%s (status %q asks for a Microsoft-issued certificate) Set status %q to use your certificate, or remove cname, cert and key.", msgSSLLeafOnly, SSLAuto, SSLEnabled)
	case c.Status == SSLAuto && c.LeafDomainLabel == "":
		l.Addf(CodeUserError, pathSSL+".leafDomainLabel", "sslConfiguration.status %q needs a leafDomainLabel for the Microsoft-issued certificate; give one (for example \"contoso\"), or set status %q with cname, cert and key.", SSLAuto, SSLEnabled)
	case c.Status == SSLDisabled && inferred != SSLDisabled:
		l.Addf(CodeUserError, pathSSL+".status", "sslConfiguration.status is %q but TLS settings are given; set status %q, or remove them.", SSLDisabled, inferred)
	}
	if c.Status == SSLEnabled && allTrio {
		if !validHostname(c.Cname) {
			l.Addf(CodeUserError, pathSSL+".cname", "Invalid cname %q: give the DNS name clients use for the scoring endpoint, for example \"ml.contoso.com\".", c.Cname)
		}
		CheckKeyPair(l, c.Cert, c.Key, c.Cname, time.Now())
	}
	if c.Status == SSLAuto && c.LeafDomainLabel != "" {
		switch {
		case !leafLabelRE.MatchString(c.LeafDomainLabel):
			l.Addf(CodeUserError, pathSSL+".leafDomainLabel", "Invalid leafDomainLabel %q: a label is 3-63 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen (for example \"contoso\").", c.LeafDomainLabel)
		case len(c.LeafDomainLabel) > MaxLeafLabelLen:
			l.Addf(CodeUserError, pathSSL+".leafDomainLabel", "leafDomainLabel %q is %d characters: the generated name adds %d random ones and a DNS label holds 63, so give at most %d.", c.LeafDomainLabel, len(c.LeafDomainLabel), LeafSuffixLen, MaxLeafLabelLen)
		}
	}
	return c
}

// validHostname reports whether s is a DNS name: dot-separated labels of
// letters, digits and hyphens, none starting or ending with a hyphen.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// decodeNetworking reads aksNetworkingConfiguration: all four fields or
// none (the SDK's six arguments, the first three assembled into subnetId).
func decodeNetworking(l *armerror.List, o *object, ctx SpecContext) *Networking {
	fields := []string{"subnetId", "serviceCidr", "dnsServiceIP", "dockerBridgeCidr"}
	vals := make([]string, len(fields))
	var missing []string
	for i, f := range fields {
		vals[i], _ = o.str(f)
		if vals[i] == "" && !o.bad[f] {
			missing = append(missing, f)
		}
	}
	given := len(missing) < len(fields)
	switch {
	case !given:
		return nil
	case len(missing) > 0:
		l.Addf(CodeUserError, pathNet, "%s (missing: %s)", msgVNet, strings.Join(missing, ", "))
		return nil
	case o.broken || len(o.bad) > 0:
		return nil // the bad field is reported
	}
	n := &Networking{ServiceCIDR: vals[1], DNSServiceIP: vals[2], DockerBridgeCIDR: vals[3]}
	r, err := network.ParseResourceID(vals[0])
	switch {
	case err != nil:
		l.Addf(CodeUserError, pathSubnetID, "Invalid subnet id: %v.", err)
	case !strings.EqualFold(r.Type(), network.TypeSubnet):
		l.Addf(CodeUserError, pathSubnetID,
			"Invalid subnet id %q: it names a %s, want /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}.",
			vals[0], cmp.Or(r.Type(), "resource group"))
	case ctx.WorkspaceSubscription != "" && !strings.EqualFold(r.Subscription, ctx.WorkspaceSubscription):
		l.Addf(CodeUserError, pathSubnetID,
			"The subnet's virtual network is in subscription %s but the workspace is in %s: an AksCompute needs its virtual network in the workspace's subscription and region; use a subnet there.",
			r.Subscription, ctx.WorkspaceSubscription)
	default:
		n.SubnetID = r.String()
		return n
	}
	return nil
}

// checkClusterID checks a managed cluster's resource id as
// AksAttachConfiguration.validate_configuration does — nine '/'-separated
// parts, the provider Microsoft.ContainerService — and the rest of its
// shape, and returns it ("" when invalid).
func checkClusterID(l *armerror.List, target, id string) string {
	parts := strings.Split(id, "/")
	if len(parts) != 9 {
		l.Addf(CodeUserError, target, msgResourceID+" (want %s)", id, wantClusterID)
		return ""
	}
	if !strings.EqualFold(parts[6], "Microsoft.ContainerService") {
		l.Addf(CodeUserError, target, msgResourceType+": want %s", parts[6], wantClusterID)
		return ""
	}
	if parts[0] != "" || !strings.EqualFold(parts[1], "subscriptions") || !strings.EqualFold(parts[3], "resourceGroups") ||
		!strings.EqualFold(parts[5], "providers") || !strings.EqualFold(parts[7], "managedClusters") ||
		parts[2] == "" || parts[4] == "" || parts[8] == "" {
		l.Addf(CodeUserError, target, msgResourceID+" (want %s)", id, wantClusterID)
		return ""
	}
	return id
}

// AttachResourceID resolves the cluster an attach names as
// AksCompute.attach_configuration and AksCompute._attach do: resourceID,
// or resourceGroup and clusterName (in subscription) — one way, not both.
// It returns the resource id the attach payload carries, or the SDK's
// first error (targets are the SDK's parameter names).
func AttachResourceID(subscription, resourceGroup, clusterName, resourceID string) (string, error) {
	var l armerror.List
	switch {
	case resourceID != "":
		if checkClusterID(&l, "resource_id", resourceID) == "" {
			return "", l.Errs[0]
		}
		if resourceGroup != "" {
			return "", armerror.New(CodeUserError, "resource_group", "%s", msgIDAndGroup)
		}
		if clusterName != "" {
			return "", armerror.New(CodeUserError, "cluster_name", "%s", msgIDAndName)
		}
		return resourceID, nil
	case resourceGroup != "" || clusterName != "":
		if resourceGroup == "" {
			return "", armerror.New(CodeUserError, "resource_group", "%s", msgNoGroup)
		}
		if clusterName == "" {
			return "", armerror.New(CodeUserError, "cluster_name", "%s", msgNoName)
		}
		// AksCompute._build_resource_id, its lower-case "resourcegroups" included.
		return fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ContainerService/managedClusters/%s", subscription, resourceGroup, clusterName), nil
	}
	return "", armerror.New(CodeUserError, "resource_id", "%s", msgNoTarget)
}

// Payload renders s as the PUT body DecodeSpec reads back to s (given the
// same SpecContext): computeLocation, or resourceId and the envelope's
// location, and properties with every resolved value. It includes the TLS
// key; keep it from anyone but the compute's owner.
func (s Spec) Payload() map[string]any {
	aks := map[string]any{
		"clusterPurpose":   s.ClusterPurpose,
		"loadBalancerType": s.LoadBalancerType,
	}
	props := map[string]any{"computeType": ComputeTypeAKS, "properties": aks}
	if s.Attached() {
		props["resourceId"] = s.ResourceID
	} else {
		props["computeLocation"] = s.Location
		aks["agentCount"] = s.AgentCount
		aks["agentVmSize"] = s.AgentVMSize
	}
	if s.LoadBalancerSubnet != "" {
		aks["loadBalancerSubnet"] = s.LoadBalancerSubnet
	}
	ssl := map[string]any{"status": s.SSL.Status}
	for _, f := range []struct {
		k, v string
	}{{"cname", s.SSL.Cname}, {"cert", s.SSL.Cert}, {"key", s.SSL.Key}, {"leafDomainLabel", s.SSL.LeafDomainLabel}} {
		if f.v != "" {
			ssl[f.k] = f.v
		}
	}
	if s.SSL.OverwriteExistingDomain {
		ssl["overwriteExistingDomain"] = true
	}
	if s.SSL.Renew {
		ssl["renew"] = true
	}
	aks["sslConfiguration"] = ssl
	if n := s.Network; n != nil {
		aks["aksNetworkingConfiguration"] = map[string]any{
			"subnetId": n.SubnetID, "serviceCidr": n.ServiceCIDR, "dnsServiceIP": n.DNSServiceIP, "dockerBridgeCidr": n.DockerBridgeCIDR,
		}
	}
	if s.Description != "" {
		props["description"] = s.Description
	}
	out := map[string]any{"properties": props}
	if s.Attached() {
		// An attached cluster's region is the envelope's location (the
		// workspace's): without it a SpecContext with no WorkspaceLocation
		// could not read the body back.
		out["location"] = s.Location
	}
	if len(s.Tags) > 0 {
		tags := make(map[string]any, len(s.Tags))
		for k, v := range s.Tags {
			tags[k] = v
		}
		out["tags"] = tags
	}
	return out
}

// normLocation folds a location as ARM does: "East US" and "eastus" are
// the same region.
func normLocation(loc string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(loc), " ", ""))
}

// knownLocation reports whether loc is a region of vnetml's cloud: one
// with a size catalog.
func knownLocation(loc string) bool { return len(compute.Sizes(loc)) > 0 }

// regions lists vnetml's regions, for messages.
func regions() []string {
	var out []string
	for _, r := range []string{"eastus", "westeurope", "westus2"} {
		if knownLocation(r) {
			out = append(out, r)
		}
	}
	return out
}

// suggestSizes proposes the catalog's sizes closest to v; it ends the
// sentence.
func suggestSizes(location, v string) string {
	u := strings.ToUpper(strings.TrimSpace(v))
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, s := range compute.Sizes(location) {
		limit := max(3, len(s.Name)/4)
		d := armerror.Distance(u, s.Name, limit)
		if !strings.HasPrefix(u, "STANDARD_") {
			d = min(d, armerror.Distance("STANDARD_"+u, s.Name, limit))
		}
		if d < limit {
			cs = append(cs, cand{s.Name, d})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int { return cmp.Or(cmp.Compare(a.d, b.d), strings.Compare(a.name, b.name)) })
	if len(cs) == 0 {
		return fmt.Sprintf("; use one of the %d sizes of AmlCompute.supported_vmsizes there (for example %s).", len(compute.Sizes(location)), DefaultAgentVMSize)
	}
	names := make([]string, 0, 3)
	for _, c := range cs[:min(3, len(cs))] {
		names = append(names, c.name)
	}
	return "; did you mean " + strings.Join(names, ", ") + "?"
}
