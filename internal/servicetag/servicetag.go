// Package servicetag owns the mapping from Azure service tag names to address
// prefixes: it loads files in the format of Azure's ServiceTags_Public.json
// (spec §2.1), carries vnetml's built-in local-cloud file (DESIGN §3), and
// computes the three tags Azure does not publish — VirtualNetwork, Internet
// and AzureLoadBalancer (spec §1.4, §12.8).
//
// A Registry is immutable once built and safe for concurrent use.
package servicetag

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
)

// Computed tag names (not in the published file).
const (
	VirtualNetwork    = network.TagVirtualNetwork
	Internet          = network.TagInternet
	AzureLoadBalancer = network.TagAzureLoadBalancer
)

// HostVIP is Azure's host virtual IP, 168.63.129.16: the AzureLoadBalancer
// tag, and part of every VirtualNetwork tag.
var HostVIP = netip.MustParsePrefix("168.63.129.16/32")

// File is the JSON shape of ServiceTags_Public.json.
type File struct {
	ChangeNumber int     `json:"changeNumber"`
	Cloud        string  `json:"cloud"`
	Values       []Value `json:"values"`
}

// Value is one tag of the file.
type Value struct {
	Name       string     `json:"name"`
	ID         string     `json:"id"`
	Properties Properties `json:"properties"`
}

// Properties are a tag's properties in the file.
type Properties struct {
	ChangeNumber    int      `json:"changeNumber"`
	Region          string   `json:"region"`
	RegionID        int      `json:"regionId"`
	Platform        string   `json:"platform"`
	SystemService   string   `json:"systemService"`
	AddressPrefixes []string `json:"addressPrefixes"`
	NetworkFeatures []string `json:"networkFeatures"`
}

// Tag is a loaded service tag. V4 holds the IPv4 prefixes, sorted; V6 the
// IPv6 ones, kept apart (the flow engine is IPv4, spec §2.1).
type Tag struct {
	Name          string
	Region        string
	SystemService string
	V4            []netip.Prefix
	V6            []netip.Prefix
}

// Registry maps tag names, case-insensitively, to tags.
type Registry struct {
	cloud        string
	changeNumber int
	local        bool
	byName       map[string]*Tag
	names        []string // sorted display names
}

// Load reads a file in the ServiceTags_Public.json format. Every malformed
// prefix is reported (with the tag and index), not just the first.
func Load(r io.Reader) (*Registry, error) {
	var f File
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return nil, armerror.New("InvalidServiceTagFile", "", "service tag file is not valid JSON in the ServiceTags_Public.json format: %v", err)
	}
	return FromFile(&f)
}

// FromFile builds a registry from a decoded file.
func FromFile(f *File) (*Registry, error) {
	if len(f.Values) == 0 {
		return nil, armerror.New("InvalidServiceTagFile", "values",
			"the service tag file has no tags under \"values\": want the ServiceTags_Public.json format, {\"changeNumber\", \"cloud\", \"values\": [{\"name\", \"properties\": {\"addressPrefixes\": [...]}}]}")
	}
	reg := &Registry{cloud: f.Cloud, changeNumber: f.ChangeNumber, byName: make(map[string]*Tag, len(f.Values))}
	var errs armerror.List
	for i, v := range f.Values {
		target := fmt.Sprintf("values[%d]", i)
		if v.Name == "" {
			errs.Addf("InvalidServiceTagFile", target+".name", "tag has no name")
			continue
		}
		key := strings.ToLower(v.Name)
		if _, dup := reg.byName[key]; dup {
			errs.Addf("InvalidServiceTagFile", target+".name", "tag %q appears twice (names are case-insensitive)", v.Name)
			continue
		}
		if isComputed(v.Name) {
			errs.Addf("InvalidServiceTagFile", target+".name", "tag %q is computed by the platform and cannot be defined in a tag file", v.Name)
			continue
		}
		t := &Tag{Name: v.Name, Region: v.Properties.Region, SystemService: v.Properties.SystemService}
		for j, s := range v.Properties.AddressPrefixes {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				if a, aerr := netip.ParseAddr(s); aerr == nil {
					p, err = netip.PrefixFrom(a, a.BitLen()), nil
				}
			}
			if err != nil {
				errs.Addf("InvalidServiceTagFile", fmt.Sprintf("%s.properties.addressPrefixes[%d]", target, j), "tag %s: %q is not a CIDR prefix", v.Name, s)
				continue
			}
			p = p.Masked()
			if p.Addr().Is4() {
				t.V4 = append(t.V4, p)
			} else {
				t.V6 = append(t.V6, p)
			}
		}
		sortPrefixes(t.V4)
		sortPrefixes(t.V6)
		reg.byName[key] = t
		reg.names = append(reg.names, v.Name)
	}
	// Sort by the lower-cased keys, computed once (ARM names are ASCII).
	keyed := make([]struct{ key, name string }, len(reg.names))
	for i, n := range reg.names {
		keyed[i].key, keyed[i].name = strings.ToLower(n), n
	}
	slices.SortFunc(keyed, func(a, b struct{ key, name string }) int { return strings.Compare(a.key, b.key) })
	for i := range keyed {
		reg.names[i] = keyed[i].name
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	reg.local = f.Cloud == LocalCloudName
	return reg, nil
}

func isComputed(name string) bool {
	_, ok := network.ComputedTag(name)
	return ok
}

func sortPrefixes(ps []netip.Prefix) {
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
}

// Lookup returns the published tag with the given name (case-insensitive).
// Computed tags are not published; see IsComputed.
func (r *Registry) Lookup(name string) (*Tag, bool) {
	t, ok := r.byName[strings.ToLower(name)]
	return t, ok
}

// HasTag reports whether name is a published or computed tag.
func (r *Registry) HasTag(name string) bool {
	if isComputed(name) {
		return true
	}
	_, ok := r.byName[strings.ToLower(name)]
	return ok
}

// IsComputed reports whether name is VirtualNetwork, Internet or
// AzureLoadBalancer (case-insensitive).
func IsComputed(name string) bool { return isComputed(name) }

// Names returns the published tag names, sorted case-insensitively.
func (r *Registry) Names() []string { return slices.Clone(r.names) }

// Len is the number of published tags.
func (r *Registry) Len() int { return len(r.byName) }

// Cloud is the file's cloud name ("Public", or "vnetml-local").
func (r *Registry) Cloud() string { return r.cloud }

// ChangeNumber is the file's change number.
func (r *Registry) ChangeNumber() int { return r.changeNumber }

// IsLocalCloud reports whether this is vnetml's built-in local-cloud file,
// whose service (198.18.0.0/15) and client (203.0.113.0/24) ranges count as
// Internet (spec §12.8).
func (r *Registry) IsLocalCloud() bool { return r.local }

// Suggest returns up to n tag names close to name, for error hints.
func (r *Registry) Suggest(name string, n int) []string {
	low := strings.ToLower(name)
	base, _, _ := strings.Cut(low, ".")
	var out []string
	for _, cand := range r.names {
		c := strings.ToLower(cand)
		if strings.HasPrefix(c, base) || strings.Contains(c, low) {
			out = append(out, cand)
			if len(out) == n {
				break
			}
		}
	}
	return out
}
