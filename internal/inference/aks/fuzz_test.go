package aks

import (
	"encoding/json"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
)

// fuzzContexts are the workspaces FuzzDecodeSpec decodes in, chosen by
// one fuzzed byte: the usual one, one in a region named as the portal
// names it, and none at all (no subscription or region to check against).
var fuzzContexts = []SpecContext{
	testCtx,
	{WorkspaceSubscription: testSub, WorkspaceLocation: "West US 2"},
	{},
}

// checkARMError fails unless err is an *armerror.Error (not merely
// wrapping one) whose every entry, details included, has a code and a
// message.
func checkARMError(t *testing.T, err error) {
	t.Helper()
	e, ok := err.(*armerror.Error)
	if !ok {
		t.Fatalf("error %v is a %T, not an *armerror.Error", err, err)
	}
	var walk func(e *armerror.Error)
	walk = func(e *armerror.Error) {
		if e == nil || e.Code == "" || e.Message == "" {
			t.Fatalf("error entry without a code or message: %+v in %v", e, err)
		}
		for _, d := range e.Details {
			walk(d)
		}
	}
	walk(e)
}

// FuzzDecodeSpec: DecodeSpec never panics on any body; an error is an
// *armerror.Error with codes and a zero Spec; a body it accepts decodes to
// the same Spec again, and so does the Spec's Payload (STYLE rule 5's
// round trip).
func FuzzDecodeSpec(f *testing.F) {
	cert, key := certPair(f)
	netCfg := map[string]any{
		"subnetId":    "/subscriptions/" + testSub + "/resourcegroups/netrg/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/aks",
		"serviceCidr": "10.100.0.0/16", "dnsServiceIP": "10.100.0.10", "dockerBridgeCidr": "172.17.0.1/16",
	}
	bodies := []map[string]any{
		minimal(),
		set(minimal(), "location", "East US"),
		set(set(minimal(), "properties.computeLocation", "West US 2"), "location", del),
		set(minimal(), "properties.properties.aksNetworkingConfiguration", netCfg),
		set(set(minimal(), "properties.properties.aksNetworkingConfiguration.subnetId", netCfg["subnetId"]), "tags", map[string]any{"a": "b", "c": 1}),
		set(set(set(minimal(), "properties.properties.clusterPurpose", "devtest"), "properties.properties.agentCount", 1.0), "properties.properties.agentVmSize", "standard_d2_v2"),
		set(minimal(), "properties.properties.agentCount", 2),
		set(minimal(), "properties.properties.agentCount", 1e10),
		set(minimal(), "properties.properties.agentVmSize", "Standard_D3"),
		set(minimal(), "properties.properties.loadBalancerType", "InternalLoadBalancer"),
		set(set(minimal(), "properties.properties.loadBalancerType", "internalloadbalancer"), "properties.properties.loadBalancerSubnet", "ilb"),
		set(minimal(), "properties.properties.loadBalancerSubnet", "ilb"),
		set(minimal(), "properties.properties.sslConfiguration", map[string]any{"status": "Enabled", "cname": "ml.contoso.com", "cert": cert, "key": key}),
		set(minimal(), "properties.properties.sslConfiguration", map[string]any{"cname": "ml.contoso.com", "cert": "x", "key": "y"}),
		set(minimal(), "properties.properties.sslConfiguration", map[string]any{"status": "Auto", "leafDomainLabel": "contoso", "overwriteExistingDomain": true, "renew": true}),
		set(minimal(), "properties.properties.sslConfiguration", map[string]any{"leafDomainLabel": "contoso", "status": "disabled"}),
		set(minimal(), "properties.properties.sslConfiguration", map[string]any{"renew": true}),
		{"properties": map[string]any{"computeType": "AKS", "resourceId": testAKS, "properties": map[string]any{"clusterPurpose": "DevTest"}}},
		{"location": "westus2", "properties": map[string]any{"computeType": "AKS", "resourceId": testAKS}},
		{"properties": map[string]any{"computeType": "AKS", "resourceId": "/subscriptions/x/resourceGroups/y"}},
		{"Properties": map[string]any{"ComputeType": "aks", "computeType": "AKS", "propertys": map[string]any{}}},
		{"id": "x", "name": "y", "type": "z", "location": "eastus", "properties": map[string]any{"computeType": "AKS", "provisioningState": "Succeeded",
			"properties": map[string]any{"clusterFqdn": "f", "systemServices": []any{}, "agentCount": nil}}},
	}
	for i, b := range bodies {
		f.Add(mustJSON(f, b), uint8(i))
	}
	for _, s := range []string{``, `{`, `null`, `[]`, `{} {}`, `{"properties": 1}`, `{"properties": {"properties": []}}`,
		`{"properties":{"computeType":"AKS","properties":{"agentCount":4.5}}}`, `{"properties":{"computeType":"AKS"},"tags":{"a":null}}`} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		ctx := fuzzContexts[int(which)%len(fuzzContexts)]
		s, err := DecodeSpec(body, ctx)
		if err != nil {
			checkARMError(t, err)
			if d := cmp.Diff(Spec{}, s); d != "" {
				t.Fatalf("DecodeSpec failed (%v) but returned a Spec:\n%s", err, d)
			}
			return
		}
		again, err := DecodeSpec(body, ctx)
		if err != nil {
			t.Fatalf("DecodeSpec accepted %q, then refused it: %v", body, err)
		}
		if d := cmp.Diff(s, again); d != "" {
			t.Fatalf("DecodeSpec of %q is not deterministic (-first +second):\n%s", body, d)
		}
		payload, err := json.Marshal(s.Payload())
		if err != nil {
			t.Fatalf("Payload of %+v: %v", s, err)
		}
		back, err := DecodeSpec(payload, ctx)
		if err != nil {
			t.Fatalf("DecodeSpec(%q) = %+v, whose Payload %s is refused: %v", body, s, payload, err)
		}
		if d := cmp.Diff(s, back); d != "" {
			t.Fatalf("DecodeSpec(%q): the Payload round trip differs (-decoded +from payload):\n%s\npayload: %s", body, d, payload)
		}
	})
}

// FuzzCheckNetwork puts any service CIDR, DNS service IP and docker bridge
// into a valid spec and checks it against testSnapshot: CheckNetwork
// never panics and is deterministic; its errors are armerrors at the
// payload path of the field that is wrong, with a code that field can
// have; and the parse failures it reports are exactly net/netip's.
func FuzzCheckNetwork(f *testing.F) {
	for _, c := range [][3]string{
		{"10.100.0.0/16", "10.100.0.10", "172.17.0.1/16"},
		{"10.0.0.0/16", "10.0.0.10", "10.0.8.1/24"},
		{"10.100.0.1/16", "10.100.0.1", "10.100.0.1/24"},
		{"fd00::/108", "fd00::10", "fd00::1/64"},
		{"::ffff:10.100.0.0/112", "::ffff:10.100.0.10", "::ffff:172.17.0.1/112"},
		{"20.0.0.0/16", "20.0.0.255", "20.0.0.0/8"},
		{"172.16.0.0/12", "172.16.0.0", "172.16.0.1/12"},
		{"0.0.0.0/0", "255.255.255.255", "0.0.0.0/0"},
		{"10.0.0.0/32", "10.0.0.0", "10.0.0.0/32"},
		{"192.168.0.0/31", "192.168.0.1", "192.168.0.1/31"},
		{"10.1.0.0/16", "10.1.0.10", "10.1.0.1/16"},
		{"", "", ""},
		{"ten", "dns", "bridge"},
		{"10.100.0.0", "10.100.0.10%eth0", "172.17.0.1"},
		{"10.100.0.0/16 ", " 10.100.0.10", "172.17.0.1/016"},
	} {
		f.Add(c[0], c[1], c[2])
	}
	snap := testSnapshot()
	codes := map[string][]string{
		pathServiceCIDR: {CodeCidrStringParseError, CodeIPv6NotSupported, CodeInvalidParameter, CodeServiceCidrOverlapExistingSubnetsCidr},
		pathDNSIP:       {CodeDnsServiceIpParseError, CodeDnsServiceIpOutOfServiceCidr, CodeInvalidParameter, CodeDnsServiceIpConflicting, CodeDnsBroadcastAddressConflicting},
		pathBridge:      {CodeDockerBridgeCidrInvalid, CodeDockerBridgeInSubnetCidr, CodeDockerBridgeInServiceCidr},
	}
	f.Fuzz(func(t *testing.T, svc, dns, bridge string) {
		s := testSpec()
		s.Network.ServiceCIDR, s.Network.DNSServiceIP, s.Network.DockerBridgeCIDR = svc, dns, bridge
		err := CheckNetwork(snap, "eastus", s)
		if err != nil {
			checkARMError(t, err)
		}
		got := findings(t, err)
		if d := cmp.Diff(got, findings(t, CheckNetwork(snap, "eastus", s))); d != "" {
			t.Fatalf("CheckNetwork is not deterministic (-first +second):\n%s", d)
		}
		at := map[string][]string{}
		for _, fd := range got {
			if !slices.Contains(codes[fd.Target], fd.Code) {
				t.Fatalf("finding %s at %q: not a code of that field (subnet and load balancer are fine)", fd.Code, fd.Target)
			}
			at[fd.Target] = append(at[fd.Target], fd.Code)
		}

		// Parse failures, against net/netip.
		p, perr := netip.ParsePrefix(svc)
		svcBad := perr != nil || p != p.Masked()
		if has := slices.Contains(at[pathServiceCIDR], CodeCidrStringParseError); has != svcBad {
			t.Fatalf("serviceCidr %q: CidrStringParseError %v, net/netip says malformed %v", svc, has, svcBad)
		}
		svcV4 := !svcBad && p.Addr().Is4()
		if has := slices.Contains(at[pathServiceCIDR], CodeIPv6NotSupported); has != (!svcBad && !svcV4) {
			t.Fatalf("serviceCidr %q: IPv6NotSupported %v", svc, has)
		}
		if !svcV4 && len(at[pathServiceCIDR]) != 1 {
			t.Fatalf("serviceCidr %q: unusable, yet %v", svc, at[pathServiceCIDR])
		}
		a, aerr := netip.ParseAddr(dns)
		dnsBad := aerr != nil || !a.Is4()
		if has := slices.Contains(at[pathDNSIP], CodeDnsServiceIpParseError); has != dnsBad {
			t.Fatalf("dnsServiceIP %q: DnsServiceIpParseError %v, net/netip says not IPv4 %v", dns, has, dnsBad)
		}
		if svcV4 && !dnsBad {
			if has := slices.Contains(at[pathDNSIP], CodeDnsServiceIpOutOfServiceCidr); has != !p.Contains(a) {
				t.Fatalf("dnsServiceIP %s in %s: DnsServiceIpOutOfServiceCidr %v", a, p, has)
			}
		}
		if len(at[pathDNSIP]) > 1 {
			t.Fatalf("dnsServiceIP %q: more than one finding %v", dns, at[pathDNSIP])
		}
		if b, berr := netip.ParsePrefix(bridge); berr != nil || !b.Addr().Is4() {
			if !slices.Equal(at[pathBridge], []string{CodeDockerBridgeCidrInvalid}) {
				t.Fatalf("dockerBridgeCidr %q is not an IPv4 prefix, yet %v", bridge, at[pathBridge])
			}
		} else if svcV4 && slices.Contains(at[pathBridge], CodeDockerBridgeInServiceCidr) != b.Overlaps(p) {
			t.Fatalf("dockerBridgeCidr %s and service CIDR %s: DockerBridgeInServiceCidr %v", b, p, !b.Overlaps(p))
		}
	})
}
