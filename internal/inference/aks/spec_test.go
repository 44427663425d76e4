package aks

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
)

func TestDecodeSpecValid(t *testing.T) {
	cert, key := certPair(t)
	defaults := Spec{
		Location: "eastus", AgentCount: 3, AgentVMSize: "STANDARD_D3_V2", AgentVCPUs: 4,
		ClusterPurpose: PurposeFastProd, LoadBalancerType: LoadBalancerPublicIP, SSL: SSL{Status: SSLDisabled},
	}
	with := func(f func(s *Spec)) Spec {
		s := defaults
		f(&s)
		return s
	}
	tests := []struct {
		name string
		body map[string]any
		want Spec
	}{
		{"SDK defaults: no properties.properties", minimal(), defaults},
		{"location left out", set(minimal(), "location", del), defaults},
		{"location spelled as the portal does", set(minimal(), "location", "East US"), defaults},
		{"every create field", map[string]any{
			"location": "eastus",
			"tags":     map[string]any{"team": "scoring"},
			"properties": map[string]any{
				"computeType":     "aks",
				"computeLocation": "eastus",
				"description":     "inference in the VNet",
				"properties": map[string]any{
					"agentCount":         6,
					"agentVmSize":        "Standard_D4_v2",
					"clusterPurpose":     "fastprod",
					"loadBalancerType":   "internalloadbalancer",
					"loadBalancerSubnet": "ilb",
					"sslConfiguration":   map[string]any{"status": "Enabled", "cname": "ml.contoso.com", "cert": cert, "key": key},
					"aksNetworkingConfiguration": map[string]any{
						"subnetId":         "/subscriptions/" + testSub + "/resourcegroups/netrg/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/aks",
						"serviceCidr":      "10.100.0.0/16",
						"dnsServiceIP":     "10.100.0.10",
						"dockerBridgeCidr": "172.17.0.1/16",
					},
				},
			},
		}, Spec{
			Location: "eastus", Tags: map[string]string{"team": "scoring"}, Description: "inference in the VNet",
			AgentCount: 6, AgentVMSize: "STANDARD_D4_V2", AgentVCPUs: 8,
			ClusterPurpose: PurposeFastProd, LoadBalancerType: LoadBalancerInternal, LoadBalancerSubnet: "ilb",
			SSL:     SSL{Status: SSLEnabled, Cname: "ml.contoso.com", Cert: cert, Key: key},
			Network: &Networking{SubnetID: testSubnet, ServiceCIDR: "10.100.0.0/16", DNSServiceIP: "10.100.0.10", DockerBridgeCIDR: "172.17.0.1/16"},
		}},
		{"internal load balancer defaults to aks-subnet",
			set(minimal(), "properties.properties.loadBalancerType", "InternalLoadBalancer"),
			with(func(s *Spec) { s.LoadBalancerType, s.LoadBalancerSubnet = LoadBalancerInternal, "aks-subnet" })},
		{"DevTest allows one small agent", set(set(set(minimal(),
			"properties.properties.clusterPurpose", "DevTest"),
			"properties.properties.agentCount", 1),
			"properties.properties.agentVmSize", "Standard_D2_v2"),
			with(func(s *Spec) {
				s.ClusterPurpose, s.AgentCount, s.AgentVMSize, s.AgentVCPUs = PurposeDevTest, 1, "STANDARD_D2_V2", 2
			})},
		{"FastProd at exactly 12 vCPUs", set(minimal(), "properties.properties.agentCount", 3.0), defaults},
		{"leaf domain label: Auto", set(minimal(), "properties.properties.sslConfiguration",
			map[string]any{"status": "Auto", "leafDomainLabel": "contoso", "overwriteExistingDomain": true}),
			with(func(s *Spec) { s.SSL = SSL{Status: SSLAuto, LeafDomainLabel: "contoso", OverwriteExistingDomain: true} })},
		{"status inferred from the leaf label", set(minimal(), "properties.properties.sslConfiguration.leafDomainLabel", "contoso"),
			with(func(s *Spec) { s.SSL = SSL{Status: SSLAuto, LeafDomainLabel: "contoso"} })},
		{"SSL disabled by update", set(minimal(), "properties.properties.sslConfiguration", map[string]any{"status": "Disabled"}), defaults},
		{"cluster in another region, no VNet", set(minimal(), "properties.computeLocation", "West US 2"),
			with(func(s *Spec) { s.Location = "westus2" })},
		{"nulls are absent", set(set(minimal(), "properties.properties.agentCount", nil), "tags", nil), defaults},
		{"empty networking object is none", set(minimal(), "properties.properties.aksNetworkingConfiguration", map[string]any{}), defaults},
		{"attach by resource id", map[string]any{
			"properties": map[string]any{
				"computeType": "AKS", "resourceId": testAKS,
				"properties": map[string]any{"clusterPurpose": "DevTest"},
			},
		}, Spec{Location: "eastus", ResourceID: testAKS, ClusterPurpose: PurposeDevTest, LoadBalancerType: LoadBalancerPublicIP, SSL: SSL{Status: SSLDisabled}}},
		{"AksCompute.update's PUT of a GET", map[string]any{
			"id":   "/subscriptions/" + testSub + "/resourceGroups/ws/providers/Microsoft.MachineLearningServices/workspaces/w/computes/inf",
			"name": "inf", "type": "Microsoft.MachineLearningServices/workspaces/computes", "location": "eastus",
			"properties": map[string]any{
				"computeType": "AKS", "computeLocation": "eastus", "provisioningState": "Succeeded", "provisioningErrors": nil,
				"createdOn": "2019-07-01T00:00:00Z", "modifiedOn": "2019-07-01T00:00:00Z", "isAttachedCompute": false,
				"properties": map[string]any{
					"agentCount": 3, "agentVmSize": "Standard_D3_v2", "clusterPurpose": "FastProd",
					"clusterFqdn": "inf-abc.hcp.eastus.azmk8s.io", "systemServices": []any{},
					"loadBalancerType": "PublicIp", "sslConfiguration": map[string]any{"status": "Disabled"},
				},
			},
		}, defaults},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeSpec(mustJSON(t, tc.body), testCtx)
			if err != nil {
				t.Fatalf("DecodeSpec: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("spec (-want +got):\n%s", d)
			}
			again, err := DecodeSpec(mustJSON(t, got.Payload()), testCtx)
			if err != nil {
				t.Fatalf("DecodeSpec(Payload()): %v", err)
			}
			if d := cmp.Diff(got, again); d != "" {
				t.Errorf("Payload round trip (-first +second):\n%s", d)
			}
		})
	}
}

func TestDecodeSpecErrors(t *testing.T) {
	cert, key := certPair(t)
	const (
		ue  = CodeUserError
		irc = CodeInvalidContent
	)
	vnet := func(doc map[string]any) map[string]any {
		return set(doc, "properties.properties.aksNetworkingConfiguration", map[string]any{
			"subnetId": testSubnet, "serviceCidr": "10.100.0.0/16", "dnsServiceIP": "10.100.0.10", "dockerBridgeCidr": "172.17.0.1/16",
		})
	}
	sslc := func(m map[string]any) map[string]any {
		return set(minimal(), "properties.properties.sslConfiguration", m)
	}
	attach := func() map[string]any {
		return map[string]any{"properties": map[string]any{"computeType": "AKS", "resourceId": testAKS}}
	}
	tests := []struct {
		name string
		body any // a map, or raw text
		want []finding
	}{
		// The JSON itself.
		{"not JSON", "{", []finding{{irc, "", "The request content is not valid JSON: unexpected EOF; send one JSON object."}}},
		{"array", "[]", []finding{{irc, "", "The request content must be a JSON object, not an array."}}},
		{"trailing data", `{"properties":{"computeType":"AKS"}} {}`, []finding{{irc, "", "The request content has data after its JSON object; send one JSON object."}}},
		{"no properties", map[string]any{"location": "eastus"}, []finding{
			{irc, "properties", `The request content has no "properties": an AksCompute needs {"computeType": "AKS", "properties": {...}}.`}}},
		{"unknown field with a typo", set(minimal(), "properties.properties.agentVmSizes", "Standard_D3_v2"), []finding{
			{irc, "properties.properties.agentVmSizes", `The request content has the unknown field "agentVmSizes"; did you mean "agentVmSize"?`}}},
		{"unknown field, a shortening", set(minimal(), "properties.properties.vmSize", "Standard_D3_v2"), []finding{
			{irc, "properties.properties.vmSize", `The request content has the unknown field "vmSize"; did you mean "agentVmSize"?`}}},
		{"unknown networking field", set(minimal(), "properties.properties.aksNetworkingConfiguration.podCidr", "10.244.0.0/16"), []finding{
			{irc, "properties.properties.aksNetworkingConfiguration.podCidr", `The request content has the unknown field "podCidr"; the known fields here are subnetId, serviceCidr, dnsServiceIP, dockerBridgeCidr.`}}},
		{"unknown SSL field", set(minimal(), "properties.properties.sslConfiguration.cnames", "x"), []finding{
			{irc, "properties.properties.sslConfiguration.cnames", `The request content has the unknown field "cnames"; did you mean "cname"?`}}},
		{"a key twice", map[string]any{"properties": map[string]any{"computeType": "AKS", "ComputeType": "AKS"}}, []finding{
			{irc, "properties.computeType", `The request content has "computeType" twice (as "ComputeType" and "computeType"): keys are case-insensitive; keep one.`}}},
		{"agentCount a string", set(minimal(), "properties.properties.agentCount", "3"), []finding{
			{irc, "properties.properties.agentCount", `The value of "agentCount" must be an integer, not a string.`}}},
		{"agentCount fractional", set(minimal(), "properties.properties.agentCount", 2.5), []finding{
			{irc, "properties.properties.agentCount", `The value of "agentCount" must be an integer between -2147483648 and 2147483647, not 2.5.`}}},
		{"networking not an object", set(minimal(), "properties.properties.aksNetworkingConfiguration", "10.0.0.0/16"), []finding{
			{irc, "properties.properties.aksNetworkingConfiguration", `The value of "properties.properties.aksNetworkingConfiguration" must be a JSON object, not a string.`}}},

		// The envelope.
		{"computeType missing", set(minimal(), "properties.computeType", del), []finding{
			{ue, "properties.computeType", `The computeType is required: use "AKS".`}}},
		{"computeType of another kind", set(minimal(), "properties.computeType", "AmlCompute"), []finding{
			{ue, "properties.computeType", `Invalid computeType "AmlCompute": this resource takes "AKS".`}}},
		{"location not the workspace's", set(minimal(), "location", "westus2"), []finding{
			{ue, "location", `The compute location "westus2" differs from the workspace location "eastus": the envelope's location is the workspace's; leave it out or set it to "eastus", and put the cluster's region in properties.computeLocation.`}}},
		{"computeLocation unknown", set(minimal(), "properties.computeLocation", "mars"), []finding{
			{ue, "properties.computeLocation", `The location "mars" is not a region of vnetml's cloud: use one of eastus, westeurope, westus2.`}}},

		// AksProvisioningConfiguration.validate_configuration.
		{"agentCount 0", set(minimal(), "properties.properties.agentCount", 0), []finding{
			{ue, "properties.properties.agentCount", "Invalid configuration, agent count must be a positive integer. (got 0; leave agentCount out for 3)"}}},
		{"agentCount negative", set(minimal(), "properties.properties.agentCount", -2), []finding{
			{ue, "properties.properties.agentCount", "Invalid configuration, agent count must be a positive integer. (got -2; leave agentCount out for 3)"}}},
		{"SSL: cname alone", sslc(map[string]any{"cname": "ml.contoso.com"}), []finding{
			{ue, "properties.properties.sslConfiguration", "Invalid configuration, not all ssl information provided. To enable SSL validation please provide the cname, cert pem file, and key pem file. (missing: cert, key)"}}},
		{"SSL: cert and leaf label", sslc(map[string]any{"cname": "ml.contoso.com", "cert": cert, "key": key, "leafDomainLabel": "contoso"}), []finding{
			{ue, "properties.properties.sslConfiguration.leafDomainLabel", "Invalid configuration. When cname, cert pem file, and key pem file is provided, leaf domain label should not be provided. Remove leafDomainLabel, or remove cname, cert and key."}}},
		{"SSL: cert and overwrite", sslc(map[string]any{"cname": "ml.contoso.com", "cert": cert, "key": key, "overwriteExistingDomain": true}), []finding{
			{ue, "properties.properties.sslConfiguration.overwriteExistingDomain", "Invalid configuration. Overwrite existing domain only applies to leaf domain label. When cname, cert pem file, and key pem file is provided, Overwrite existing domain should not be provided. Remove overwriteExistingDomain."}}},
		{"SSL: partial trio and a leaf label: the SDK's first error", sslc(map[string]any{"key": key, "leafDomainLabel": "contoso"}), []finding{
			{ue, "properties.properties.sslConfiguration", "Invalid configuration, not all ssl information provided. To enable SSL validation please provide the cname, cert pem file, and key pem file. (missing: cname, cert)"}}},
		{"SSL: unknown status", sslc(map[string]any{"status": "On"}), []finding{
			{ue, "properties.properties.sslConfiguration.status", `Invalid sslConfiguration.status "On": use "Enabled" (with cname, cert and key), "Auto" (with leafDomainLabel) or "Disabled".`}}},
		{"SSL: Enabled without a certificate", sslc(map[string]any{"status": "Enabled", "leafDomainLabel": "contoso"}), []finding{
			{ue, "properties.properties.sslConfiguration", `Invalid configuration, not all ssl information provided. To enable SSL validation please provide the cname, cert pem file, and key pem file. (status is "Enabled"; missing: cname, cert, key)`}}},
		{"SSL: Auto with a certificate", sslc(map[string]any{"status": "Auto", "cname": "ml.contoso.com", "cert": cert, "key": key}), []finding{
			{ue, "properties.properties.sslConfiguration.status", `Invalid configuration. When leaf domain label is provided, cname, cert pem file, or key pem file should not be provided. (status "Auto" asks for a Microsoft-issued certificate) Set status "Enabled" to use your certificate, or remove cname, cert and key.`}}},
		{"SSL: Auto without a label", sslc(map[string]any{"status": "Auto"}), []finding{
			{ue, "properties.properties.sslConfiguration.leafDomainLabel", `sslConfiguration.status "Auto" needs a leafDomainLabel for the Microsoft-issued certificate; give one (for example "contoso"), or set status "Enabled" with cname, cert and key.`}}},
		{"SSL: Disabled with a label", sslc(map[string]any{"status": "Disabled", "leafDomainLabel": "contoso"}), []finding{
			{ue, "properties.properties.sslConfiguration.status", `sslConfiguration.status is "Disabled" but TLS settings are given; set status "Auto", or remove them.`}}},
		{"SSL: cert and key not a pair", sslc(map[string]any{"cname": "ml.contoso.com", "cert": cert, "key": "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"}), []finding{
			{ue, "properties.properties.sslConfiguration.key", "sslConfiguration.key's EC PRIVATE KEY block does not parse as a private key (damaged, or not a key); give the key file as it was made, in PEM."}}},
		{"SSL: cname not a DNS name", sslc(map[string]any{"cname": "https://ml.contoso.com", "cert": cert, "key": key}), []finding{
			{ue, "properties.properties.sslConfiguration.cname", `Invalid cname "https://ml.contoso.com": give the DNS name clients use for the scoring endpoint, for example "ml.contoso.com".`}}},
		{"SSL: leaf label not a DNS label", sslc(map[string]any{"leafDomainLabel": "Contoso_1"}), []finding{
			{ue, "properties.properties.sslConfiguration.leafDomainLabel", `Invalid leafDomainLabel "Contoso_1": a label is 3-63 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen (for example "contoso").`}}},
		{"VNet: some fields only", set(minimal(), "properties.properties.aksNetworkingConfiguration", map[string]any{"subnetId": testSubnet, "serviceCidr": "10.100.0.0/16"}), []finding{
			{ue, "properties.properties.aksNetworkingConfiguration", "Invalid configuration, not all virtual net information provided. To use a custom virtual net with aks, please provide vnet name, vnet resource group, subnet name, service cidr, dns service ip and docker bridge cidr (missing: dnsServiceIP, dockerBridgeCidr)"}}},
		{"VNet: subnet id not an id", set(vnet(minimal()), "properties.properties.aksNetworkingConfiguration.subnetId", "aks"), []finding{
			{ue, "properties.properties.aksNetworkingConfiguration.subnetId", `Invalid subnet id: "aks" is not a resource id: want /subscriptions/{subscription}/resourceGroups/{group}/providers/{namespace}/{type}/{name}.`}}},
		{"VNet: subnet id of a VNet", set(vnet(minimal()), "properties.properties.aksNetworkingConfiguration.subnetId",
			"/subscriptions/"+testSub+"/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/vnet1"), []finding{
			{ue, "properties.properties.aksNetworkingConfiguration.subnetId", `Invalid subnet id "/subscriptions/` + testSub + `/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/vnet1": it names a Microsoft.Network/virtualNetworks, want /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}.`}}},
		{"VNet: another subscription", set(vnet(minimal()), "properties.properties.aksNetworkingConfiguration.subnetId",
			"/subscriptions/99999999-2222-3333-4444-555555555555/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/aks"), []finding{
			{ue, "properties.properties.aksNetworkingConfiguration.subnetId", "The subnet's virtual network is in subscription 99999999-2222-3333-4444-555555555555 but the workspace is in " + testSub + ": an AksCompute needs its virtual network in the workspace's subscription and region; use a subnet there."}}},
		{"VNet: cluster in another region", set(vnet(minimal()), "properties.computeLocation", "westus2"), []finding{
			{ue, "properties.computeLocation", `The cluster's location "westus2" differs from the workspace's "eastus": a cluster in a virtual network must be in its workspace's region, as its virtual network must; leave computeLocation out or set it to "eastus".`}}},

		// The service's own rules.
		{"FastProd below 12 vCPUs", set(minimal(), "properties.properties.agentCount", 2), []finding{
			{ue, "properties.properties.agentCount", `A FastProd cluster needs at least 12 vCPUs in total, but 2 agents of STANDARD_D3_V2 have 8 (4 each); use agentCount 3 or more, a larger agentVmSize, or clusterPurpose "DevTest" for a dev/test cluster.`}}},
		{"agent size unknown, near a known one", set(minimal(), "properties.properties.agentVmSize", "Standard_D3v2"), []finding{
			{ue, "properties.properties.agentVmSize", `The specified agentVmSize "Standard_D3v2" is not offered in location "eastus"; did you mean STANDARD_D3_V2, STANDARD_D13_V2, STANDARD_D1_V2?`}}},
		{"cluster purpose unknown", set(minimal(), "properties.properties.clusterPurpose", "Production"), []finding{
			{ue, "properties.properties.clusterPurpose", `Invalid clusterPurpose "Production": use "FastProd" (production: at least 12 vCPUs in total) or "DevTest".`}}},
		{"load balancer type unknown", set(minimal(), "properties.properties.loadBalancerType", "Internal"), []finding{
			{ue, "properties.properties.loadBalancerType", `Invalid configuration. Load balancer type should be either "PublicIp" or "InternalLoadBalancer". (got "Internal")`}}},
		{"load balancer subnet with the default public IP", set(minimal(), "properties.properties.loadBalancerSubnet", "ilb"), []finding{
			{ue, "properties.properties.loadBalancerSubnet", `Invalid configuration, load balancer subnet can be changed from default when load balancer type is "InternalLoadBalancer". Set loadBalancerType to "InternalLoadBalancer", or leave loadBalancerSubnet out.`}}},
		{"load balancer subnet given as an id", set(set(minimal(), "properties.properties.loadBalancerType", "InternalLoadBalancer"),
			"properties.properties.loadBalancerSubnet", testSubnet), []finding{
			{ue, "properties.properties.loadBalancerSubnet", `Invalid loadBalancerSubnet "` + testSubnet + `": give the name of a subnet of the cluster's virtual network (no '/', '?', '#' or surrounding spaces), not its id.`}}},

		// AksAttachConfiguration.validate_configuration, on the payload.
		{"attach: id of 8 parts", set(attach(), "properties.resourceId", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters"), []finding{
			{ue, "properties.resourceId", "Invalid resource_id provided: /subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters (want /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{cluster})"}}},
		{"attach: not a container service", set(attach(), "properties.resourceId", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"), []finding{
			{ue, "properties.resourceId", "Invalid resource_id provided, resource type Microsoft.Compute does not match for AKS: want /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{cluster}"}}},
		{"attach: not a managed cluster", set(attach(), "properties.resourceId", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/containerServices/c"), []finding{
			{ue, "properties.resourceId", "Invalid resource_id provided: /subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/containerServices/c (want /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{cluster})"}}},
		{"attach: agent pool settings", set(set(attach(), "properties.properties.agentCount", 3), "properties.properties.agentVmSize", "Standard_D3_v2"), []finding{
			{ue, "properties.properties.agentCount", "agentCount applies only to a cluster the service creates; an attached cluster keeps its own agent pool and network: leave agentCount out, or leave resourceId out to create a cluster."},
			{ue, "properties.properties.agentVmSize", "agentVmSize applies only to a cluster the service creates; an attached cluster keeps its own agent pool and network: leave agentVmSize out, or leave resourceId out to create a cluster."}}},
		{"attach: network settings", vnet(attach()), []finding{
			{ue, "properties.properties.aksNetworkingConfiguration", "aksNetworkingConfiguration applies only to a cluster the service creates; an attached cluster keeps its own agent pool and network: leave aksNetworkingConfiguration out, or leave resourceId out to create a cluster."}}},
		{"attach: computeLocation", set(attach(), "properties.computeLocation", "eastus"), []finding{
			{ue, "properties.computeLocation", "computeLocation applies only to a cluster the service creates; an attached cluster stays where it is: leave computeLocation out."}}},

		// Everything at once.
		{"several errors together", set(set(set(minimal(),
			"properties.properties.agentCount", 0),
			"properties.properties.loadBalancerType", "Internal"),
			"properties.properties.sslConfiguration.cert", cert), []finding{
			{ue, "properties.properties.agentCount", "Invalid configuration, agent count must be a positive integer. (got 0; leave agentCount out for 3)"},
			{ue, "properties.properties.loadBalancerType", `Invalid configuration. Load balancer type should be either "PublicIp" or "InternalLoadBalancer". (got "Internal")`},
			{ue, "properties.properties.sslConfiguration", "Invalid configuration, not all ssl information provided. To enable SSL validation please provide the cname, cert pem file, and key pem file. (missing: cname, key)"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if s, ok := tc.body.(string); ok {
				body = []byte(s)
			} else {
				body = mustJSON(t, tc.body)
			}
			got, err := DecodeSpec(body, testCtx)
			if err == nil {
				t.Fatalf("DecodeSpec accepted it: %+v", got)
			}
			if d := cmp.Diff(Spec{}, got); d != "" {
				t.Errorf("spec not zero on error:\n%s", d)
			}
			if d := cmp.Diff(tc.want, findings(t, err)); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeSpecContext(t *testing.T) {
	// Without a workspace location the envelope's is the cluster's.
	got, err := DecodeSpec(mustJSON(t, set(minimal(), "location", "westeurope")), SpecContext{})
	if err != nil || got.Location != "westeurope" {
		t.Fatalf("got %q, %v; want westeurope", got.Location, err)
	}
	// Without either, the location is required.
	_, err = DecodeSpec(mustJSON(t, set(minimal(), "location", del)), SpecContext{})
	want := []finding{{CodeUserError, "location", `The location of the compute is required (the workspace's region, for example "eastus").`}}
	if d := cmp.Diff(want, findings(t, err)); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
}

func TestAttachResourceID(t *testing.T) {
	const rgID = "/subscriptions/" + testSub + "/resourcegroups/aksrg/providers/Microsoft.ContainerService/managedClusters/prod"
	tests := []struct {
		name                 string
		group, cluster, id   string
		want                 string
		code, target, errMsg string
	}{
		{"resource id", "", "", testAKS, testAKS, "", "", ""},
		{"group and name, as _build_resource_id builds it", "aksrg", "prod", "", rgID, "", "", ""},
		{"nothing", "", "", "", "", CodeUserError, "resource_id", msgNoTarget},
		{"id and group", "aksrg", "", testAKS, "", CodeUserError, "resource_group", msgIDAndGroup},
		{"id and name", "", "prod", testAKS, "", CodeUserError, "cluster_name", msgIDAndName},
		{"group alone", "aksrg", "", "", "", CodeUserError, "cluster_name", msgNoName},
		{"name alone", "", "prod", "", "", CodeUserError, "resource_group", msgNoGroup},
		{"bad id", "", "", "prod", "", CodeUserError, "resource_id",
			"Invalid resource_id provided: prod (want /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{cluster})"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AttachResourceID(testSub, tc.group, tc.cluster, tc.id)
			if got != tc.want {
				t.Errorf("id = %q, want %q", got, tc.want)
			}
			var want []finding
			if tc.code != "" {
				want = []finding{{tc.code, tc.target, tc.errMsg}}
			}
			if d := cmp.Diff(want, findings(t, err)); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
		})
	}
}

// TestBadTagsInKeyOrder: the errors of several bad tags come in key order,
// the same on every decode.
func TestBadTagsInKeyOrder(t *testing.T) {
	body := []byte(`{"location": "eastus", "tags": {"z": 1, "a": true, "m": [1]}, "properties": {"computeType": "AKS", "properties": {"agentCount": 1, "clusterPurpose": "DevTest"}}}`)
	for range 20 {
		_, err := DecodeSpec(body, SpecContext{WorkspaceSubscription: "s", WorkspaceLocation: "eastus"})
		got := armerrorTargets(err)
		if strings.Join(got, ",") != "tags.a,tags.m,tags.z" {
			t.Fatalf("targets %v, want tags.a, tags.m, tags.z in that order", got)
		}
	}
}

func armerrorTargets(err error) []string {
	e, ok := armerror.As(err)
	if !ok {
		return nil
	}
	if len(e.Details) == 0 {
		return []string{e.Target}
	}
	var out []string
	for _, d := range e.Details {
		out = append(out, d.Target)
	}
	return out
}
