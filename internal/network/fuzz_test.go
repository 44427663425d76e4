package network

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vnetml/vnetml/internal/armerror"
)

// FuzzParsePortRange: a parsed range is well formed and its String (and
// Effective) form parses back to the same range.
func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"*", "0", "80", "443-445", "0-65535", "65535", "65536", "443-80", "80,443", "", "-", "1-", "-1",
		"00080", "+80", " 80", "80 ", "1-1", "*-*", "0x50", "٨٠", "99999-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := ParsePortRange(s)
		if !ok {
			if r != (PortRange{}) {
				t.Fatalf("ParsePortRange(%q) failed but returned %v", s, r)
			}
			return
		}
		if r.First > r.Last {
			t.Fatalf("ParsePortRange(%q) = %d-%d: First > Last", s, r.First, r.Last)
		}
		for _, text := range []string{r.String(), r.Effective()} {
			back, ok := ParsePortRange(text)
			if !ok || back != r {
				t.Fatalf("ParsePortRange(%q) = %+v; its form %q parses to %+v, %v", s, r, text, back, ok)
			}
		}
	})
}

// FuzzParsePrefix: ParsePrefix never panics; a parsed prefix is canonical
// and its String parses back equal; a host-bits error names a canonical
// prefix that parses.
func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"10.0.0.0/16", "10.0.0.1/16", "10.0.0.1", "0.0.0.0/0", "255.255.255.255/32", "50.206.209.68/27",
		"2001:db8::/32", "2001:db8::1/32", "::", "::/0", "fe80::1%eth0", "fe80::1%eth0/64", "::ffff:10.0.0.1", "::ffff:10.0.0.0/104",
		"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/08", "10.0.0/8", "010.0.0.0/8", "", "/", "Storage.EastUS", "*", "1.2.3.4/32/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			var hb *HostBitsError
			if errors.As(err, &hb) {
				c, err := ParsePrefix(hb.Canonical.String())
				if err != nil || c != hb.Canonical {
					t.Fatalf("ParsePrefix(%q): canonical %s does not parse back: %v, %v", s, hb.Canonical, c, err)
				}
			}
			return
		}
		if !p.IsValid() || p != p.Masked() {
			t.Fatalf("ParsePrefix(%q) = %v, not a valid canonical prefix", s, p)
		}
		back, err := ParsePrefix(p.String())
		if err != nil || back != p {
			t.Fatalf("ParsePrefix(%q) = %v; String %q parses to %v, %v", s, p, p.String(), back, err)
		}
	})
}

// FuzzValidateNSG: any JSON decoded into a network security group can be
// validated without panicking, deterministically, and every error found
// names its code and target.
func FuzzValidateNSG(f *testing.F) {
	seeds := []string{
		`{"name":"ml-nsg","properties":{"securityRules":[]}}`,
		`{"name":"ml-nsg","properties":{"securityRules":[{"name":"a","properties":{"protocol":"Tcp","sourcePortRange":"*","destinationPortRange":"443",` +
			`"sourceAddressPrefix":"VirtualNetwork","destinationAddressPrefix":"Storage.EastUS","access":"Allow","priority":100,"direction":"Inbound"}}]}}`,
		`{"properties":{"securityRules":[{"name":"","properties":{"protocol":"Any","sourcePortRanges":["80","x"],"destinationPortRange":"80,443",` +
			`"sourceAddressPrefixes":["*","10.0.0.1/8"],"sourceAddressPrefix":"Internet","destinationApplicationSecurityGroups":[{"id":"x"},{}],` +
			`"access":"Block","priority":65000,"direction":"in"}},{"name":"a","properties":{"priority":65000,"direction":"IN"}}]}}`,
		`{"name":"n","properties":{"securityRules":null,"defaultSecurityRules":[{"name":"DenyAllInBound","properties":{}},{"name":"x"}]}}`,
		`{"name":"n","properties":{"securityRules":[{"properties":{"priority":-1,"description":"ü"}}]}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n NetworkSecurityGroup
		if err := json.Unmarshal(data, &n); err != nil {
			return
		}
		for _, resolver := range []TagResolver{nil, tags} {
			l := ValidateNSG(&n, resolver)
			for _, e := range l.Errs {
				if e.Code == "" || e.Target == "" || e.Message == "" {
					t.Fatalf("error without code, target or message: %+v", e)
				}
			}
			if diff := cmp.Diff(findings(l), findings(ValidateNSG(&n, resolver))); diff != "" {
				t.Fatalf("ValidateNSG is not deterministic (-first +second):\n%s", diff)
			}
		}
		s := &Snapshot{NetworkSecurityGroups: []NetworkSecurityGroup{n}}
		s.Normalize()
		_ = s.Validate(tags)
	})
}

// decodeSeeds are documents as az and ARM templates give them.
var decodeSeeds = []string{
	`{"name":"ml-vnet","type":"Microsoft.Network/virtualNetworks","location":"eastus","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},` +
		`"subnets":[{"name":"training","properties":{"addressPrefix":"10.0.1.0/24","networkSecurityGroup":{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/ml-nsg"},` +
		`"serviceEndpoints":[{"service":"Microsoft.Storage","locations":["eastus"]}]}}],` +
		`"virtualNetworkPeerings":[{"name":"p","properties":{"remoteVirtualNetwork":{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/hub"},"remoteAddressSpace":{"addressPrefixes":["10.0.0.0/8"]}}}]}}`,
	`[{"name":"ml-nsg","id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/ml-nsg","type":"Microsoft.Network/networkSecurityGroups",` +
		`"properties":{"securityRules":[{"name":"a","properties":{"protocol":"Tcp","sourcePortRange":"*","destinationPortRange":"443","sourceAddressPrefix":"*",` +
		`"destinationAddressPrefix":"Internet","access":"Allow","priority":100,"direction":"Outbound"}}]}},` +
		`{"name":"b","id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/ml-nsg/securityRules/b",` +
		`"type":"Microsoft.Network/networkSecurityGroups/securityRules","properties":{"protocol":"Udp","priority":100,"direction":"Outbound"}}]`,
	`{"value":[{"name":"rt","type":"Microsoft.Network/routeTables","properties":{"routes":[{"name":"r","properties":{"addressPrefix":"0.0.0.0/0","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.2.4"}}]}},` +
		`{"name":"nic","type":"Microsoft.Network/networkInterfaces","properties":{"ipConfigurations":[{"name":"c","properties":{"privateIPAddress":"10.0.1.4","subnet":{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}}}]}}]}`,
	`{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0","resources":[` +
		`{"type":"Microsoft.Network/virtualNetworks","name":"v","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]}}},` +
		`{"type":"Microsoft.Network/virtualNetworks/subnets","name":"v/s","properties":{"addressPrefix":"10.0.0.0/24"}},` +
		`{"type":"Microsoft.Storage/storageAccounts","name":"st","properties":{"networkAcls":{"defaultAction":"Deny","bypass":"None","ipRules":[{"value":"52.1.2.3"}]}}},` +
		`{"type":"Microsoft.KeyVault/vaults","name":"kv","properties":{"networkAcls":{"defaultAction":"[parameters('x')]"}}}]}`,
	`{"name":"lgw","type":"Microsoft.Network/localNetworkGateways","tags":{},"properties":{"localNetworkAddressSpace":{"addressPrefixes":["192.168.0.0/16"]}}}`,
	`{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/asg"}`,
	`[null, 1, "x", {}]`,
	`{"name":"x"}`,
	``,
	`{`,
}

// FuzzDecode: decoding, finishing and validating arbitrary bytes never
// panics; a snapshot that decodes cleanly survives a round trip through JSON
// — both encoding/json on the Snapshot and the loader on its resources.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Snapshot
		derr := s.DecodeBytes("fuzz.json", data)
		if plainKeys(data) {
			checkDecodeTargets(t, derr)
		}
		ferr := s.Finish()
		for _, resolver := range []TagResolver{nil, tags} {
			if err := s.Validate(resolver); err != nil {
				if _, ok := armerror.As(err); !ok {
					t.Fatalf("Validate returned a non-ARM error: %v", err)
				}
			}
		}
		if derr != nil || ferr != nil {
			return
		}
		equal := cmpopts.EquateEmpty()

		// encoding/json on the snapshot itself.
		b, err := json.Marshal(&s)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var again Snapshot
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("Unmarshal of %s: %v", b, err)
		}
		if diff := cmp.Diff(s, again, equal); diff != "" {
			t.Fatalf("snapshot JSON round trip differs (-decoded +again):\n%s", diff)
		}

		// The loader on the snapshot's resources, written out as an array.
		arr, err := json.Marshal(resourcesOf(&s))
		if err != nil {
			t.Fatalf("Marshal resources: %v", err)
		}
		var reloaded Snapshot
		if err := reloaded.DecodeBytes("again.json", arr); err != nil {
			t.Fatalf("re-decoding %s: %v", arr, err)
		}
		if err := reloaded.Finish(); err != nil {
			t.Fatalf("re-finishing %s: %v", arr, err)
		}
		if diff := cmp.Diff(s, reloaded, equal); diff != "" {
			t.Fatalf("loader round trip differs (-decoded +reloaded):\n%s\nresources: %s", diff, arr)
		}
	})
}

// checkDecodeTargets: every error of a decode names where it is, as
// "source" or "source:path", with a well-formed path.
func checkDecodeTargets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	e, ok := armerror.As(err)
	if !ok {
		t.Fatalf("DecodeBytes returned a non-ARM error: %v", err)
	}
	leaves := e.Details
	if len(leaves) == 0 {
		leaves = []*armerror.Error{e}
	}
	for _, l := range leaves {
		tg := l.Target
		if tg != "fuzz.json" && !strings.HasPrefix(tg, "fuzz.json:") {
			t.Errorf("target %q is not rooted at the source (%s)", tg, l.Message)
		}
		path := strings.TrimPrefix(strings.TrimPrefix(tg, "fuzz.json"), ":")
		if strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") || strings.Contains(path, ":") ||
			tg == "fuzz.json:" {
			t.Errorf("target %q is malformed (%s)", tg, l.Message)
		}
	}
}

// plainKeys reports whether data is JSON whose object keys are all
// non-empty and free of the characters paths are made of; only then is a
// target's shape predictable.
func plainKeys(data []byte) bool {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return true // a syntax error is reported at the source
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if k == "" || strings.ContainsAny(k, ".:[]") || !walk(x) {
					return false
				}
			}
		case []any:
			for _, x := range t {
				if !walk(x) {
					return false
				}
			}
		}
		return true
	}
	return walk(v)
}

func TestDecodeErrorTargets(t *testing.T) {
	tests := []struct {
		doc  string
		want []finding
	}{
		{`{"name":"x"}`, []finding{{"InvalidResourceType", "fuzz.json:type"}}},
		{`[{"name":"x"}, 1]`, []finding{{"InvalidResourceType", "fuzz.json:[0].type"}, {"InvalidRequestContent", "fuzz.json:[1]"}}},
		{`[{"name":"v","type":"Microsoft.Network/virtualNetworks","properties":{"addressSpace":{"addressPrefixes":"10.0.0.0/16"}}}]`,
			[]finding{{"InvalidRequestContent", "fuzz.json:[0].properties.addressSpace.addressPrefixes"}}},
		{`{"contentVersion":"1.0.0.0","resources":[{"type":"Microsoft.Network/virtualNetworks","name":"[parameters('n')]"}]}`,
			[]finding{{"InvalidTemplate", "fuzz.json:resources[0].name"}}},
		{`{"value": 3}`, []finding{{"InvalidRequestContent", "fuzz.json:value"}}},
		{`{`, []finding{{"InvalidRequestContent", "fuzz.json"}}},
	}
	for _, tt := range tests {
		var s Snapshot
		err := s.DecodeBytes("fuzz.json", []byte(tt.doc))
		checkDecodeTargets(t, err)
		if diff := cmp.Diff(tt.want, errFindings(t, err)); diff != "" {
			t.Errorf("DecodeBytes(%s) findings (-want +got):\n%s", tt.doc, diff)
		}
	}
}

// resourcesOf lists a snapshot's resources in Snapshot's field order, as the
// loader reads them back.
func resourcesOf(s *Snapshot) []any {
	out := []any{} // "[]", not "null", for an empty snapshot
	add := func(n int, at func(i int) any) {
		for i := range n {
			out = append(out, at(i))
		}
	}
	add(len(s.VirtualNetworks), func(i int) any { return &s.VirtualNetworks[i] })
	add(len(s.NetworkSecurityGroups), func(i int) any { return &s.NetworkSecurityGroups[i] })
	add(len(s.ApplicationSecGroups), func(i int) any { return &s.ApplicationSecGroups[i] })
	add(len(s.RouteTables), func(i int) any { return &s.RouteTables[i] })
	add(len(s.NetworkInterfaces), func(i int) any { return &s.NetworkInterfaces[i] })
	add(len(s.PublicIPAddresses), func(i int) any { return &s.PublicIPAddresses[i] })
	add(len(s.LoadBalancers), func(i int) any { return &s.LoadBalancers[i] })
	add(len(s.PrivateEndpoints), func(i int) any { return &s.PrivateEndpoints[i] })
	add(len(s.VirtualNetworkGateways), func(i int) any { return &s.VirtualNetworkGateways[i] })
	add(len(s.LocalNetworkGateways), func(i int) any { return &s.LocalNetworkGateways[i] })
	add(len(s.Connections), func(i int) any { return &s.Connections[i] })
	add(len(s.StorageAccounts), func(i int) any { return &s.StorageAccounts[i] })
	add(len(s.KeyVaults), func(i int) any { return &s.KeyVaults[i] })
	return out
}
