package flow

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/vnetml/vnetml/internal/network"
)

// This file exposes the compiled network's shape to data planes that
// enforce it with other means (the kernel fabric builds namespaces, routes
// and nftables from it): its NICs, their VNets and peers, and each
// subnet's winning routes. Nothing here decides; Path does.

// NICs returns every compiled network interface, ordered by resource id.
func (e *Engine) NICs() []*NIC {
	out := make([]*NIC, 0, len(e.nics))
	for _, n := range e.nics {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *NIC) int { return cmp.Compare(network.Key(a.ID), network.Key(b.ID)) })
	return out
}

// PeerKeys returns the id keys (network.Key) of the VNets whose peering
// with v is connected and allows virtual network access, as v lists them.
func (v *VNet) PeerKeys() []string { return slices.Clone(v.peers) }

// ActiveRoutes returns the subnet's winning routes, one per prefix: a
// longest-prefix match over them is the subnet's route lookup.
func (s *Subnet) ActiveRoutes() []Route {
	var out []Route
	for _, r := range s.routes.all() {
		if r.State == "Active" {
			out = append(out, r)
		}
	}
	return out
}

// RouteFor returns the subnet's route for dst (nil: no route), as Path
// looks it up.
func (s *Subnet) RouteFor(dst netip.Addr) *Route { return s.routes.lookup(dst) }

// TagOf names a service tag (not an AzureCloud one) holding a, or "". An
// outside source with a tag, or the host VIP, reaches network interfaces
// at their private addresses, as the platform does; others reach them
// only through public IPs.
func (e *Engine) TagOf(a netip.Addr) string { return e.tagOf(a) }

// IsPlatform reports whether a is the host VIP (168.63.129.16), from
// which the platform's DNS and health probes come.
func IsPlatform(a netip.Addr) bool { return isPlatform(a) }

// PublicIPOf returns the ip configuration a public IP translates to.
func (e *Engine) PublicIPOf(a netip.Addr) (*IPConfig, bool) {
	ic, ok := e.byPublic[a]
	return ic, ok
}

// IPConfigsAt returns the ip configurations holding the private address a,
// in every VNet.
func (e *Engine) IPConfigsAt(a netip.Addr) []*IPConfig { return slices.Clone(e.byAddr[a]) }
