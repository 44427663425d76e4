package flow

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/gaissmai/bart"

	"github.com/vnetml/vnetml/internal/network"
)

// Route sources as effective routes name them.
const (
	SourceDefault = "Default"
	SourceUser    = "User"
	SourceGateway = "VirtualNetworkGateway"
)

// Route is one effective route of a subnet. Routes that lose a tie (or are
// overridden by a preferred system route) have State "Invalid".
type Route struct {
	Name        string // the UDR's name; empty for system routes
	Source      string // Default, User or VirtualNetworkGateway
	State       string // Active or Invalid
	Prefix      netip.Prefix
	NextHopType string // effective-route vocabulary (spec §12.7)
	NextHopIP   netip.Addr
	TableID     string // the route table of a UDR
	RouteID     string // the UDR's id
	Tag         string // service tag of a tag route or a service-endpoint route
	// Unusable marks a VirtualAppliance route whose next-hop address is not
	// inside the VNet or a peered VNet: traffic it wins is dropped (§12.2).
	Unusable bool
	origin   int // routes from one origin (a UDR, a tag) display together
	rank     int // tie-break on an identical prefix; higher wins
}

// Tie-break ranks (spec §3.3): UDR > BGP > System; among UDRs an explicit
// prefix beats a tag, and a regional tag > top-level tag > AzureCloud.<region>
// > AzureCloud.
const (
	rankSystem     = 10
	rankGateway    = 50
	rankAzureCloud = 60
	rankCloudRgn   = 70
	rankTopTag     = 80
	rankRegionTag  = 90
	rankUDR        = 100
)

// routeSet is a subnet's compiled routes.
type routeSet struct {
	routes  []Route            // every candidate, in display order
	table   *bart.Table[int32] // prefix -> index of the active route
	tableID string
}

// lookup returns the active route for dst, or nil (no route: dropped).
func (rs *routeSet) lookup(dst netip.Addr) *Route {
	i, ok := rs.table.Lookup(dst)
	if !ok {
		return nil
	}
	return &rs.routes[i]
}

var reservedNone = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
}

// routeInputs is what a subnet's routes are made of.
type routeInputs struct {
	vnetSpace   []netip.Prefix
	peered      []netip.Prefix // connected peers' spaces
	gateway     []netip.Prefix // on-premises prefixes learned through a gateway
	endpoints   []netip.Prefix // private endpoint /32s in this VNet or peers
	svcEndpoint []tagRoute     // service endpoint routes of this subnet
	udrs        []userRoute
	disableBgp  bool
	tableID     string
}

type tagRoute struct {
	tag      string
	prefixes []netip.Prefix
}

type userRoute struct {
	r        *network.Route
	prefixes []netip.Prefix
	tag      string // when addressPrefix is a service tag
	tagRank  int
	hopIP    netip.Addr
}

func buildRoutes(in routeInputs) *routeSet {
	rs := &routeSet{tableID: in.tableID}
	origin := 0
	add := func(r Route) {
		r.origin = origin
		rs.routes = append(rs.routes, r)
	}
	next := func() { origin++ }

	hasDefaultUDR := false
	for _, u := range in.udrs {
		for _, p := range u.prefixes {
			if p.Bits() == 0 {
				hasDefaultUDR = true
			}
		}
	}
	// Default routes (§3.1): one VnetLocal per address range; the reserved
	// None routes, adjusted for ranges that equal or contain them, and
	// removed by a 0.0.0.0/0 UDR (§12.1).
	for _, p := range in.vnetSpace {
		add(Route{Source: SourceDefault, Prefix: p, NextHopType: network.HopVnetLocal, rank: rankSystem})
		next()
	}
	for _, r := range reservedNone {
		// A range of the VNet (or of a connected peer) equal to a reserved
		// prefix stands for it; one containing it removes it (§3.1).
		covered := coveredBy(in.vnetSpace, r) || coveredBy(in.peered, r)
		if covered || hasDefaultUDR {
			continue
		}
		add(Route{Source: SourceDefault, Prefix: r, NextHopType: network.HopNone, rank: rankSystem})
		next()
	}
	add(Route{Source: SourceDefault, Prefix: allV4, NextHopType: network.HopInternet, rank: rankSystem})
	next()
	for _, p := range in.peered {
		add(Route{Source: SourceDefault, Prefix: p, NextHopType: network.HopVNetPeering, rank: rankSystem})
	}
	next()
	if !in.disableBgp {
		for _, p := range in.gateway {
			add(Route{Source: SourceGateway, Prefix: p, NextHopType: network.HopVirtualNetworkGateway, rank: rankGateway})
		}
		next()
	}
	for _, p := range in.endpoints {
		add(Route{Source: SourceDefault, Prefix: p, NextHopType: network.HopInterfaceEndpoint, rank: rankSystem})
	}
	next()
	for _, se := range in.svcEndpoint {
		for _, p := range se.prefixes {
			add(Route{Source: SourceDefault, Prefix: p, NextHopType: network.HopVirtualNetworkServiceEndpoint, Tag: se.tag, rank: rankSystem})
		}
		next()
	}
	for _, u := range in.udrs {
		rank := rankUDR
		if u.tag != "" {
			rank = u.tagRank
		}
		for _, p := range u.prefixes {
			add(Route{Name: u.r.Name, Source: SourceUser, Prefix: p, NextHopType: u.r.Properties.NextHopType,
				NextHopIP: u.hopIP, TableID: in.tableID, RouteID: u.r.ID, Tag: u.tag, rank: rank})
		}
		next()
	}
	// Canonical hop casing, and unusable appliance hops (§12.2).
	reach := append(slices.Clone(in.vnetSpace), in.peered...)
	for i := range rs.routes {
		r := &rs.routes[i]
		r.NextHopType = canonicalHop(r.NextHopType)
		if r.NextHopType == network.HopVirtualAppliance && !containsAddr(reach, r.NextHopIP) {
			r.Unusable = true
		}
	}
	selectRoutes(rs.routes)
	rs.table = new(bart.Table[int32])
	for i, r := range rs.routes {
		if r.State == "Active" {
			rs.table.Insert(r.Prefix, int32(i))
		}
	}
	return rs
}

// selectRoutes marks, for every prefix, the best candidate Active and the
// rest Invalid; gateway routes inside a preferred system route (the VNet's
// own space, peering, service endpoints) are Invalid too (§3.3).
func selectRoutes(routes []Route) {
	var preferred []netip.Prefix
	for _, r := range routes {
		switch r.NextHopType {
		case network.HopVnetLocal, network.HopVNetPeering, network.HopVirtualNetworkServiceEndpoint:
			if r.Source == SourceDefault {
				preferred = append(preferred, r.Prefix)
			}
		}
	}
	// Gateway routes inside a preferred system route lose before any tie
	// is broken, so the preferred route keeps its own prefix.
	best := map[netip.Prefix]int{}
	for i := range routes {
		r := &routes[i]
		r.State = "Invalid"
		if r.Source == SourceGateway && coveredBy(preferred, r.Prefix) {
			continue
		}
		j, ok := best[r.Prefix]
		if !ok || r.rank > routes[j].rank {
			best[r.Prefix] = i
		}
	}
	for _, i := range best {
		routes[i].State = "Active"
	}
}

func coveredBy(list []netip.Prefix, p netip.Prefix) bool {
	for _, q := range list {
		if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func containsAddr(list []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func canonicalHop(s string) string {
	for _, h := range []string{network.HopVirtualNetworkGateway, network.HopVnetLocal, network.HopInternet,
		network.HopVirtualAppliance, network.HopNone, network.HopVNetPeering,
		network.HopVirtualNetworkServiceEndpoint, network.HopInterfaceEndpoint} {
		if strings.EqualFold(s, h) {
			return h
		}
	}
	return s
}

// Routes returns every effective route of the set, in display order.
func (rs *routeSet) all() []Route { return rs.routes }
