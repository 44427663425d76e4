package aks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mcMinimal is the smallest managed cluster body: a location and a pool.
func mcMinimal() map[string]any {
	return map[string]any{"location": "eastus", "properties": map[string]any{
		"agentPoolProfiles": []any{map[string]any{"name": "nodepool1"}},
	}}
}

func TestDecodeManagedClusterDefaults(t *testing.T) {
	m, err := DecodeManagedCluster(mustJSON(t, mcMinimal()), ClusterContext{Name: "My_Cluster.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := ManagedCluster{
		Location: "eastus", KubernetesVersion: DefaultKubernetesVersion, DNSPrefix: "My-Cluster-1-dns",
		AgentPools: []AgentPool{{Name: "nodepool1", Count: 1, VMSize: "STANDARD_DS2_V2", VCPUs: 2, MaxPods: DefaultMaxPods, Mode: PoolModeSystem, OSType: OSTypeLinux}},
		Network: ClusterNetwork{Plugin: NetworkPluginAzure, ServiceCIDR: DefaultServiceCIDR, DNSServiceIP: DefaultDNSServiceIP,
			DockerBridgeCIDR: DefaultDockerBridgeCIDR, LoadBalancerSKU: LoadBalancerSKUStandard},
	}
	if d := cmp.Diff(want, m); d != "" {
		t.Fatalf("defaults (-want +got):\n%s", d)
	}
	// A GET's document decodes back: read-only fields are ignored, keys
	// match in any case.
	get := `{"id": "x", "name": "c", "type": "Microsoft.ContainerService/managedClusters", "etag": "W/\"1\"", "Location": "East US",
		"properties": {"provisioningState": "Succeeded", "fqdn": "f", "powerState": {"code": "Running"}, "vnetmlResources": {},
		"AgentPoolProfiles": [{"name": "nodepool1", "count": 3, "vmSize": "standard_d3_v2", "provisioningState": "Succeeded", "osType": "linux"}],
		"networkProfile": {"networkPlugin": "Azure", "loadBalancerSku": "Basic"}}}`
	m, err = DecodeManagedCluster([]byte(get), ClusterContext{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if p := m.Pool(); m.Location != "eastus" || p.Count != 3 || p.VMSize != "STANDARD_D3_V2" || m.VCPUs() != 12 || m.Network.LoadBalancerSKU != LoadBalancerSKUBasic {
		t.Fatalf("a GET's document: %+v", m)
	}
}

func TestDecodeManagedClusterErrors(t *testing.T) {
	pool := func(k string, v any) map[string]any {
		return set(mcMinimal(), "properties.agentPoolProfiles", []any{map[string]any{"name": "nodepool1", k: v}})
	}
	tests := []struct {
		name string
		body map[string]any
		want []string // code@target
	}{
		{"no location", set(mcMinimal(), "location", del), []string{"LocationRequired@location"}},
		{"an unknown region", set(mcMinimal(), "location", "mars"), []string{"LocationNotAvailableForResourceType@location"}},
		{"no pool", set(mcMinimal(), "properties.agentPoolProfiles", []any{}), []string{"InvalidParameter@properties.agentPoolProfiles"}},
		{"no properties", set(mcMinimal(), "properties", del), []string{"InvalidParameter@properties.agentPoolProfiles"}},
		{"two pools", set(mcMinimal(), "properties.agentPoolProfiles", []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}),
			[]string{"OperationNotSupported@properties.agentPoolProfiles"}},
		{"pools not an array", set(mcMinimal(), "properties.agentPoolProfiles", map[string]any{}), []string{"InvalidRequestContent@properties.agentPoolProfiles"}},
		{"a bad pool name", pool("name", "Pool_1"), []string{"InvalidParameter@properties.agentPoolProfiles[0].name"}},
		{"count 0", pool("count", 0), []string{"InvalidParameter@properties.agentPoolProfiles[0].count"}},
		{"count 1001", pool("count", 1001), []string{"InvalidParameter@properties.agentPoolProfiles[0].count"}},
		{"count 2.5", pool("count", 2.5), []string{"InvalidRequestContent@properties.agentPoolProfiles[0].count"}},
		{"maxPods 251", pool("maxPods", 251), []string{"InvalidParameter@properties.agentPoolProfiles[0].maxPods"}},
		{"an unknown size", pool("vmSize", "Standard_Q9"), []string{"InvalidParameter@properties.agentPoolProfiles[0].vmSize"}},
		{"a vnet for a subnet", pool("vnetSubnetID", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v"),
			[]string{"InvalidParameter@properties.agentPoolProfiles[0].vnetSubnetID"}},
		{"Windows", pool("osType", "Windows"), []string{"OperationNotSupported@properties.agentPoolProfiles[0].osType"}},
		{"a User pool", pool("mode", "User"), []string{"InvalidParameter@properties.agentPoolProfiles[0].mode"}},
		{"a pool typo", pool("vmsizes", "x"), []string{"InvalidRequestContent@properties.agentPoolProfiles[0].vmsizes"}},
		{"kubenet", set(mcMinimal(), "properties.networkProfile", map[string]any{"networkPlugin": "kubenet"}),
			[]string{"OperationNotSupported@properties.networkProfile.networkPlugin"}},
		{"an unknown plugin", set(mcMinimal(), "properties.networkProfile", map[string]any{"networkPlugin": "flannel"}),
			[]string{"InvalidParameter@properties.networkProfile.networkPlugin"}},
		{"a service CIDR alone", set(mcMinimal(), "properties.networkProfile", map[string]any{"serviceCidr": "10.2.0.0/16"}),
			[]string{"InvalidParameter@properties.networkProfile.dnsServiceIP"}},
		{"a DNS IP alone", set(mcMinimal(), "properties.networkProfile", map[string]any{"dnsServiceIP": "10.2.0.10"}),
			[]string{"InvalidParameter@properties.networkProfile.serviceCidr"}},
		{"a bad SKU", set(mcMinimal(), "properties.networkProfile", map[string]any{"loadBalancerSku": "premium"}),
			[]string{"InvalidParameter@properties.networkProfile.loadBalancerSku"}},
		{"a bad version", set(mcMinimal(), "properties.kubernetesVersion", "latest"), []string{"InvalidParameter@properties.kubernetesVersion"}},
		{"a bad DNS prefix", set(mcMinimal(), "properties.dnsPrefix", "-x"), []string{"InvalidParameter@properties.dnsPrefix"}},
		{"everything at once", set(set(pool("count", 0), "location", del), "properties.networkProfile", map[string]any{"networkPlugin": "kubenet"}),
			[]string{"LocationRequired@location", "InvalidParameter@properties.agentPoolProfiles[0].count", "OperationNotSupported@properties.networkProfile.networkPlugin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeManagedCluster(mustJSON(t, tc.body), ClusterContext{Name: "c"})
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			var got []string
			for _, f := range findings(t, err) {
				got = append(got, f.Code+"@"+f.Target)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("findings (-want +got):\n%s\n%v", d, err)
			}
		})
	}
}

// TestCheckClusterNetwork: the managed cluster's network is checked by
// CheckNetwork's rules, reported at its own paths.
func TestCheckClusterNetwork(t *testing.T) {
	snap := testSnapshot()
	m, err := DecodeManagedCluster(mustJSON(t, set(set(mcMinimal(), "properties.agentPoolProfiles", []any{map[string]any{"name": "p", "count": 3, "vnetSubnetID": testSubnet}}),
		"properties.networkProfile", map[string]any{"serviceCidr": "10.100.0.0/16", "dnsServiceIP": "10.100.0.10"})), ClusterContext{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckClusterNetwork(snap, m, testSubnet); err != nil {
		t.Fatalf("a valid cluster: %v", err)
	}
	m.Network.ServiceCIDR, m.Network.DNSServiceIP = "10.0.0.0/16", "10.1.0.10"
	m.AgentPools[0].Count = 40 // (41) + 41×30 = 1271 > the /22's 1019
	m.Location = "westus2"
	got := map[string]string{}
	for _, f := range findings(t, CheckClusterNetwork(snap, m, testSubnet)) {
		got[f.Code] = f.Target
		if f.Code == CodeInsufficientSubnetSize && !strings.Contains(f.Message, "(count+1) + (count+1)×maxPods") {
			t.Errorf("the size message names the AksCompute's field: %s", f.Message)
		}
		if f.Code == CodeInvalidParameter && f.Target == pathMCSubnetID && !strings.Contains(f.Message, "but the cluster is in westus2") {
			t.Errorf("the region message: %s", f.Message)
		}
	}
	want := map[string]string{
		CodeServiceCidrOverlapExistingSubnetsCidr: pathMCService, CodeDnsServiceIpOutOfServiceCidr: pathMCDNSIP,
		CodeInsufficientSubnetSize: pathMCSubnetID, CodeInvalidParameter: pathMCSubnetID,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("findings by code (-want +got):\n%s", d)
	}
}

func TestCheckAttach(t *testing.T) {
	snap := testSnapshot()
	m, err := DecodeManagedCluster(mustJSON(t, set(mcMinimal(), "properties.agentPoolProfiles", []any{map[string]any{"name": "p", "count": 2, "vmSize": "Standard_D3_v2"}})), ClusterContext{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{ResourceID: testAKS, ClusterPurpose: PurposeFastProd, LoadBalancerType: LoadBalancerPublicIP}
	fs := findings(t, CheckAttach(snap, spec, "prod", m, testSubnet))
	if len(fs) != 1 || fs[0].Code != CodeUserError || fs[0].Target != pathPurpose ||
		!strings.HasPrefix(fs[0].Message, "Cluster should have at least 12 cores to operate: managed cluster prod has 8") || !strings.Contains(fs[0].Message, "delete it and create it again with 3 nodes or more in agent pool p") {
		t.Fatalf("FastProd on 8 vCPUs: %+v", fs)
	}
	spec.ClusterPurpose = PurposeDevTest
	if err := CheckAttach(snap, spec, "prod", m, testSubnet); err != nil {
		t.Fatalf("DevTest: %v", err)
	}
	m.AgentPools[0].Count = 3
	spec.ClusterPurpose = PurposeFastProd
	if err := CheckAttach(snap, spec, "prod", m, testSubnet); err != nil {
		t.Fatalf("FastProd on 12 vCPUs: %v", err)
	}
	spec.LoadBalancerType, spec.LoadBalancerSubnet = LoadBalancerInternal, "nosuch"
	if fs := findings(t, CheckAttach(snap, spec, "prod", m, testSubnet)); len(fs) != 1 || fs[0].Target != pathLBSubnet || fs[0].Code != CodeInvalidParameter {
		t.Fatalf("an internal load balancer elsewhere: %+v", fs)
	}
	spec.LoadBalancerSubnet = "ilb"
	if err := CheckAttach(snap, spec, "prod", m, testSubnet); err != nil {
		t.Fatalf("an internal load balancer in the network: %v", err)
	}
}

// FuzzDecodeManagedCluster: DecodeManagedCluster never panics; an error
// is an *armerror.Error with codes and a zero ManagedCluster; a body it
// accepts decodes the same again, and so does its Payload (STYLE rule 5).
func FuzzDecodeManagedCluster(f *testing.F) {
	full := map[string]any{"location": "West US 2", "tags": map[string]any{"a": "b"}, "properties": map[string]any{
		"kubernetesVersion": "1.29", "dnsPrefix": "prod-1",
		"agentPoolProfiles": []any{map[string]any{"name": "nodepool1", "count": 3, "vmSize": "standard_d3_v2", "vnetSubnetID": testSubnet, "maxPods": 50, "mode": "system", "osType": "Linux"}},
		"networkProfile":    map[string]any{"networkPlugin": "azure", "serviceCidr": "10.100.0.0/16", "dnsServiceIP": "10.100.0.10", "dockerBridgeCidr": "172.17.0.1/16", "loadBalancerSku": "Standard"},
	}}
	for _, b := range []map[string]any{
		mcMinimal(), full,
		set(mcMinimal(), "properties.networkProfile", map[string]any{"networkPlugin": "kubenet"}),
		set(mcMinimal(), "properties.agentPoolProfiles", []any{nil}),
		set(mcMinimal(), "properties.agentPoolProfiles", []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}),
		set(mcMinimal(), "properties.agentPoolProfiles", []any{map[string]any{"name": "p", "count": 1e12}}),
		{"id": "x", "Location": "eastus", "properties": map[string]any{"fqdn": "f", "agentPoolProfiles": []any{map[string]any{"Name": "p", "NAME": "q"}}}},
	} {
		f.Add(mustJSON(f, b), "c")
	}
	for _, s := range []string{``, `{`, `null`, `[]`, `{} {}`, `{"properties": 1}`, `{"properties": {"agentPoolProfiles": "x"}}`,
		`{"location":"eastus","properties":{"agentPoolProfiles":[{"name":"p","vnetSubnetID":"/"}]}}`} {
		f.Add([]byte(s), "")
	}
	f.Fuzz(func(t *testing.T, body []byte, name string) {
		ctx := ClusterContext{Name: name}
		m, err := DecodeManagedCluster(body, ctx)
		if err != nil {
			checkARMError(t, err)
			if d := cmp.Diff(ManagedCluster{}, m); d != "" {
				t.Fatalf("DecodeManagedCluster failed (%v) but returned a cluster:\n%s", err, d)
			}
			return
		}
		again, err := DecodeManagedCluster(body, ctx)
		if err != nil {
			t.Fatalf("accepted %q, then refused it: %v", body, err)
		}
		if d := cmp.Diff(m, again); d != "" {
			t.Fatalf("not deterministic (-first +second):\n%s", d)
		}
		payload, err := json.Marshal(m.Payload())
		if err != nil {
			t.Fatalf("Payload of %+v: %v", m, err)
		}
		back, err := DecodeManagedCluster(payload, ctx)
		if err != nil {
			t.Fatalf("DecodeManagedCluster(%q) = %+v, whose Payload %s is refused: %v", body, m, payload, err)
		}
		if d := cmp.Diff(m, back); d != "" {
			t.Fatalf("the Payload round trip differs (-decoded +from payload):\n%s\npayload: %s", d, payload)
		}
		if len(m.AgentPools) != 1 || m.Pool().VCPUs <= 0 || m.Location == "" || m.DNSPrefix == "" {
			t.Fatalf("an accepted cluster lacks what the server needs: %+v", m)
		}
	})
}
