package apiserver

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// entry is one stored resource as the writer knows it.
type entry struct {
	id  store.ID
	res store.Resource // as stored: Doc without the etag, Etag beside it
	// obj is the decoded, normalized model object (*network.VirtualNetwork,
	// …) for the kinds of the network model; nil for the others. It is
	// never modified once the entry is published: writers clone it.
	obj any
	// loc is the lower-cased location, for quotas; "" when none.
	loc string
}

// world is every stored resource, by case-folded id. Only the writer (under
// Server.mu) reads or changes it.
type world struct {
	byKey map[string]*entry
}

// view is what one committed write publishes: the network as of that
// write, for the engine compiler and for the computed back-references of
// GET responses. Immutable.
type view struct {
	rev      int64
	snap     *network.Snapshot
	refs     refIndex
	watchers map[string]string // network watcher key → its region
	nics     map[string]string // network interface key → its region
	// sealed are the sealed credentials (storage account keys, registry
	// passwords), by the store key of their document.
	sealed map[string]sealedDoc
}

// newView indexes what queries need of a committed world.
func newView(rev int64, snap *network.Snapshot, refs refIndex, entries map[string]*entry) *view {
	v := &view{rev: rev, snap: snap, refs: refs, watchers: map[string]string{}, nics: map[string]string{}, sealed: map[string]sealedDoc{}}
	for k, e := range entries {
		switch {
		case strings.EqualFold(e.id.Type, typeAccountKeys) || strings.EqualFold(e.id.Type, typeRegistryCredentials) ||
			strings.EqualFold(e.id.Type, typeServiceKeys):
			var d sealedDoc
			if json.Unmarshal(e.res.Doc, &d) == nil {
				v.sealed[k] = d
			}
		case strings.EqualFold(e.id.Type, typeNetworkWatcher):
			v.watchers[k] = e.loc
		case strings.EqualFold(e.id.Type, network.TypeNetworkInterface):
			v.nics[k] = e.loc
		}
	}
	return v
}

// ref is one resource referring to another.
type ref struct {
	from string // the referring resource or child id (a NIC's ip configuration, a subnet)
	kind string // what the reference is: "subnet", "ipConfiguration", "securityRule"
}

// refIndex maps a referenced id's key to what refers to it.
type refIndex map[string][]ref

// snapshotOf builds the network snapshot of the model objects among
// entries, in id order so that validation messages and the engine are
// deterministic.
func snapshotOf(entries map[string]*entry) *network.Snapshot {
	keys := make([]string, 0, len(entries))
	for k, e := range entries {
		if e.obj != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	snap := &network.Snapshot{}
	for _, k := range keys {
		switch o := entries[k].obj.(type) {
		case *network.VirtualNetwork:
			snap.VirtualNetworks = append(snap.VirtualNetworks, *o)
		case *network.NetworkSecurityGroup:
			snap.NetworkSecurityGroups = append(snap.NetworkSecurityGroups, *o)
		case *network.ApplicationSecurityGroup:
			snap.ApplicationSecGroups = append(snap.ApplicationSecGroups, *o)
		case *network.RouteTable:
			snap.RouteTables = append(snap.RouteTables, *o)
		case *network.NetworkInterface:
			snap.NetworkInterfaces = append(snap.NetworkInterfaces, *o)
		case *network.PublicIPAddress:
			snap.PublicIPAddresses = append(snap.PublicIPAddresses, *o)
		case *network.LoadBalancer:
			snap.LoadBalancers = append(snap.LoadBalancers, *o)
		case *network.StorageAccount:
			snap.StorageAccounts = append(snap.StorageAccounts, *o)
		case *network.KeyVault:
			snap.KeyVaults = append(snap.KeyVaults, *o)
		}
	}
	return snap
}

// referencesOf indexes every reference between the resources of snap that
// deleting the referenced resource would break.
func referencesOf(snap *network.Snapshot) refIndex {
	idx := refIndex{}
	add := func(to *network.SubResource, from, kind string) {
		if to != nil && to.ID != "" {
			k := network.Key(to.ID)
			idx[k] = append(idx[k], ref{from: from, kind: kind})
		}
	}
	for i := range snap.VirtualNetworks {
		for j := range snap.VirtualNetworks[i].Properties.Subnets {
			sn := &snap.VirtualNetworks[i].Properties.Subnets[j]
			add(sn.Properties.NetworkSecurityGroup, sn.ID, "subnet")
			add(sn.Properties.RouteTable, sn.ID, "subnet")
		}
	}
	for i := range snap.NetworkInterfaces {
		n := &snap.NetworkInterfaces[i]
		add(n.Properties.NetworkSecurityGroup, n.ID, "networkInterface")
		for j := range n.Properties.IPConfigurations {
			c := &n.Properties.IPConfigurations[j]
			add(c.Properties.Subnet, c.ID, "ipConfiguration")
			add(c.Properties.PublicIPAddress, c.ID, "ipConfiguration")
			for k := range c.Properties.ApplicationSecurityGroups {
				add(&c.Properties.ApplicationSecurityGroups[k], c.ID, "ipConfiguration")
			}
			for k := range c.Properties.LoadBalancerBackendAddressPools {
				add(&c.Properties.LoadBalancerBackendAddressPools[k], c.ID, "ipConfiguration")
				// A pool's load balancer is in use while a pool member is.
				if lb, _, ok := strings.Cut(c.Properties.LoadBalancerBackendAddressPools[k].ID, "/backendAddressPools/"); ok {
					add(&network.SubResource{ID: lb}, c.ID, "ipConfiguration")
				}
			}
		}
	}
	for i := range snap.NetworkSecurityGroups {
		g := &snap.NetworkSecurityGroups[i]
		for j := range g.Properties.SecurityRules {
			r := &g.Properties.SecurityRules[j]
			for k := range r.Properties.SourceApplicationSecurityGroups {
				add(&r.Properties.SourceApplicationSecurityGroups[k], r.ID, "securityRule")
			}
			for k := range r.Properties.DestinationApplicationSecurityGroups {
				add(&r.Properties.DestinationApplicationSecurityGroups[k], r.ID, "securityRule")
			}
		}
	}
	for i := range snap.LoadBalancers {
		lb := &snap.LoadBalancers[i]
		for j := range lb.Properties.FrontendIPConfigurations {
			f := &lb.Properties.FrontendIPConfigurations[j]
			add(f.Properties.PublicIPAddress, f.ID, "frontendIPConfiguration")
			add(f.Properties.Subnet, f.ID, "frontendIPConfiguration")
		}
	}
	return idx
}

// referrers lists what refers to the resource with this key (and, with
// children, to anything under it).
func (x refIndex) referrers(key string, children bool) []ref {
	out := x[key]
	if children {
		for k, rs := range x {
			if strings.HasPrefix(k, key+"/") {
				out = append(out, rs...)
			}
		}
	}
	return out
}

// decorate fills the computed back-references of a model object from the
// view's index (NSG → subnets and NICs, route table → subnets, subnet → ip
// configurations, public IP → ip configuration), as Azure's GET shows them.
// It modifies obj, which must be the caller's copy.
func (x refIndex) decorate(obj any) {
	refsOf := func(id, kind string) []network.SubResource {
		var out []network.SubResource
		for _, r := range x[network.Key(id)] {
			if r.kind == kind {
				out = append(out, network.SubResource{ID: r.from})
			}
		}
		return out
	}
	switch o := obj.(type) {
	case *network.NetworkSecurityGroup:
		o.Properties.Subnets = refsOf(o.ID, "subnet")
		o.Properties.NetworkInterfaces = refsOf(o.ID, "networkInterface")
	case *network.RouteTable:
		o.Properties.Subnets = refsOf(o.ID, "subnet")
	case *network.VirtualNetwork:
		for i := range o.Properties.Subnets {
			x.decorate(&o.Properties.Subnets[i])
		}
	case *network.Subnet:
		o.Properties.IPConfigurations = refsOf(o.ID, "ipConfiguration")
	case *network.PublicIPAddress:
		if rs := refsOf(o.ID, "ipConfiguration"); len(rs) > 0 {
			o.Properties.IPConfiguration = &rs[0]
		} else if rs := refsOf(o.ID, "frontendIPConfiguration"); len(rs) > 0 {
			o.Properties.IPConfiguration = &rs[0]
		}
	}
}

// clone deep-copies a model object through JSON: writers change copies,
// never published objects.
func clone[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic("apiserver: model object does not marshal: " + err.Error())
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic("apiserver: model object does not round-trip: " + err.Error())
	}
	return out
}
