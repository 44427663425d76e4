package network

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// ValidateRouteTable checks a route table's routes (spec §3.2): each
// addressPrefix a CIDR without host bits or a known service tag, a next hop
// type usable in a user-defined route, nextHopIpAddress given exactly for
// VirtualAppliance, names and prefixes unique, and the 400-route and
// 25-service-tag-route limits. Targets are rooted at the table.
func ValidateRouteTable(t *RouteTable, tags TagResolver) *armerror.List {
	v := &validator{tags: tags}
	return v.routeTable(t)
}

// udrHops are the next hop types a user-defined route may use.
var udrHops = []string{HopVirtualNetworkGateway, HopVnetLocal, HopInternet, HopVirtualAppliance, HopNone}

func (v *validator) routeTable(t *RouteTable) *armerror.List {
	var l armerror.List
	if t == nil {
		return &l
	}
	if t.Name != "" {
		checkName(&l, "name", "route table", t.Name, 1, 80)
	}
	routes := t.Properties.Routes
	if len(routes) > MaxRoutesPerTable {
		l.Addf(CodeRouteCountLimitExceeded, "properties.routes",
			"route table %s has %d routes; at most %d are allowed per route table", t.Name, len(routes), MaxRoutesPerTable)
	}
	names := newDupNames("route")
	prefixes := map[string]int{} // canonical prefix or folded tag -> route index
	tagRoutes := 0
	for i := range routes {
		r := &routes[i]
		base := fmt.Sprintf("properties.routes[%d]", i)
		name := display(r.Name, "route", i)
		checkName(&l, base+".name", "route", r.Name, 1, 80)
		names.check(&l, base+".name", r.Name, i)
		key, isTag := v.routePrefix(&l, base+".properties.addressPrefix", name, r.Properties.AddressPrefix)
		if isTag {
			tagRoutes++
		}
		if key != "" {
			if j, ok := prefixes[key]; ok {
				l.Addf(CodeRouteConflict, base+".properties.addressPrefix",
					"Route: %s conflicts with Route: %s. Routes cannot have the same AddressPrefix.", name, display(routes[j].Name, "route", j))
			} else {
				prefixes[key] = i
			}
		}
		v.nextHop(&l, base, name, &r.Properties)
	}
	if tagRoutes > MaxServiceTagRoutesPerTable {
		l.Addf(CodeServiceTagRouteLimitExceeded, "properties.routes",
			"route table %s has %d routes whose address prefix is a service tag; at most %d are allowed per route table", t.Name, tagRoutes, MaxServiceTagRoutesPerTable)
	}
	return &l
}

// routePrefix checks a route's addressPrefix. It returns the key that two
// equal prefixes share ("" when invalid) and whether it is a service tag.
func (v *validator) routePrefix(l *armerror.List, target, name, s string) (key string, isTag bool) {
	switch {
	case s == "":
		l.Addf(CodeInvalidRouteAddressPrefix, target, "route %s has no addressPrefix; give a CIDR prefix (e.g. 0.0.0.0/0) or a service tag", name)
		return "", false
	case LooksLikeAddress(s) || strings.Contains(s, "/"):
		p, ok := parseCIDR(l, target, s, "route "+name)
		if !ok {
			return "", false
		}
		return p.String(), false
	case s == "*" || isComputedTag(s):
		// Only published service tags can be route prefixes; the computed
		// ones have no fixed prefixes (spec §1.4, §3.2).
		l.Addf(CodeInvalidRouteAddressPrefix, target,
			"route %s has addressPrefix %s, which cannot be used in a route; give a CIDR prefix (0.0.0.0/0 for everything) or a published service tag such as Storage.EastUS", name, s)
		return "", false
	case !v.knownTag(s):
		l.Addf(CodeInvalidRouteAddressPrefix, target,
			"route %s has invalid addressPrefix %s%s", name, s, v.tagHint(s))
		return "", false
	}
	return "tag:" + strings.ToLower(s), true
}

// nextHop checks a route's nextHopType and nextHopIpAddress.
func (v *validator) nextHop(l *armerror.List, base, name string, p *RouteProperties) {
	typ, ok := canonical(p.NextHopType, udrHops...)
	if !ok {
		hint := "want one of " + strings.Join(udrHops, ", ")
		switch {
		case p.NextHopType == "":
			hint = "nextHopType is missing; " + hint
		case strings.EqualFold(p.NextHopType, HopVNetPeering), strings.EqualFold(p.NextHopType, HopVirtualNetworkServiceEndpoint),
			strings.EqualFold(p.NextHopType, HopInterfaceEndpoint):
			hint = p.NextHopType + " appears in effective routes but cannot be the next hop of a user-defined route (peering and endpoint routes are system routes); " + hint
		}
		l.Addf(CodeInvalidNextHopType, base+".properties.nextHopType",
			"route %s has invalid nextHopType %q: %s", name, p.NextHopType, hint)
	}
	target := base + ".properties.nextHopIpAddress"
	switch {
	case typ == HopVirtualAppliance && p.NextHopIPAddress == "":
		l.Addf(CodeMissingNextHopIpAddress, target,
			"NextHopIpAddress cannot be Null or Empty in route %s when NextHopType is VirtualAppliance.", name)
	case typ == HopVirtualAppliance:
		a, err := netip.ParseAddr(p.NextHopIPAddress)
		if err != nil || a.Zone() != "" {
			l.Addf(CodeInvalidNextHopIpAddress, target,
				"route %s has invalid nextHopIpAddress %q; want the private IP address of the appliance's NIC, e.g. 10.0.2.4", name, p.NextHopIPAddress)
		}
	case ok && p.NextHopIPAddress != "":
		l.Addf(CodeNextHopIpAddressNotAllowed, target,
			"route %s gives nextHopIpAddress %s but its nextHopType is %s; a next hop IP address is allowed only with VirtualAppliance", name, p.NextHopIPAddress, typ)
	}
}
