package servicetag

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
)

// FuzzLoad: no tag file panics the loader; a file that loads yields masked
// prefixes, IPv4 and IPv6 apart, sorted, with every tag found by name in
// any case.
func FuzzLoad(f *testing.F) {
	f.Add(LocalCloudJSON())
	f.Add([]byte(`{"changeNumber":1,"cloud":"Public","values":[{"name":"Storage.EastUS","id":"Storage.EastUS","properties":{"region":"eastus","addressPrefixes":["13.68.163.32/28","2603:1030::/48","10.1.2.3"]}}]}`))
	f.Add([]byte(`{"values":[{"name":"a"},{"name":"A"}]}`))
	f.Add([]byte(`{"values":[{"name":"x","properties":{"addressPrefixes":["1.2.3.4/33"]}}]}`))
	f.Add([]byte(`{"values":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, name := range r.Names() {
			for _, variant := range []string{name, string(bytes.ToUpper([]byte(name))), string(bytes.ToLower([]byte(name)))} {
				tag, ok := r.Lookup(variant)
				if !ok || tag.Name != name {
					t.Fatalf("Lookup(%q) = %v, %v; want tag %q", variant, tag, ok, name)
				}
			}
			tag, _ := r.Lookup(name)
			for _, p := range tag.V4 {
				if !p.Addr().Is4() || p.Masked() != p {
					t.Fatalf("tag %s: V4 holds %s", name, p)
				}
			}
			for _, p := range tag.V6 {
				if p.Addr().Is4() || p.Masked() != p {
					t.Fatalf("tag %s: V6 holds %s", name, p)
				}
			}
			if !slices.IsSortedFunc(tag.V4, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) }) {
				t.Fatalf("tag %s: V4 not sorted", name)
			}
		}
	})
}
