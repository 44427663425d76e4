package network

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func route(name, prefix, hop, ip string) Route {
	return Route{Name: name, Properties: RouteProperties{AddressPrefix: prefix, NextHopType: hop, NextHopIPAddress: ip}}
}

func TestValidateRouteTable(t *testing.T) {
	rp := func(i int, f string) string { return fmt.Sprintf("properties.routes[%d].properties.%s", i, f) }
	valid := []Route{
		route("default", "0.0.0.0/0", "VirtualAppliance", "10.0.2.4"),
		route("storage", "Storage.EastUS", "Internet", ""),
		route("onprem", "10.1.0.0/16", "VirtualNetworkGateway", ""),
		route("blackhole", "192.168.0.0/16", "None", ""),
		route("local", "10.0.0.0/16", "vnetlocal", ""),
		route("v6", "2001:db8::/32", "virtualAppliance", "fd00::4"),
	}
	numbered := func(n int, f func(i int) Route) []Route {
		out := make([]Route, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := []struct {
		name     string
		routes   []Route
		resolver TagResolver
		want     []finding
	}{
		{"valid", valid, tags, nil},
		{"valid with nil resolver", valid, nil, nil},
		{"prefix host bits", []Route{route("r", "10.0.0.1/16", "None", "")}, tags, []finding{{CodeInvalidCIDRNotation, rp(0, "addressPrefix")}}},
		{"prefix bare address", []Route{route("r", "10.0.0.4", "None", "")}, tags, []finding{{CodeInvalidAddressPrefixFormat, rp(0, "addressPrefix")}}},
		{"prefix missing", []Route{route("r", "", "None", "")}, tags, []finding{{CodeInvalidRouteAddressPrefix, rp(0, "addressPrefix")}}},
		{"prefix unknown tag", []Route{route("r", "Storage.Mars", "Internet", "")}, tags, []finding{{CodeInvalidRouteAddressPrefix, rp(0, "addressPrefix")}}},
		{"prefix computed tag", []Route{route("r", "VirtualNetwork", "Internet", "")}, tags, []finding{{CodeInvalidRouteAddressPrefix, rp(0, "addressPrefix")}}},
		{"prefix computed tag, nil resolver", []Route{route("r", "Internet", "Internet", "")}, nil, []finding{{CodeInvalidRouteAddressPrefix, rp(0, "addressPrefix")}}},
		{"prefix star", []Route{route("r", "*", "Internet", "")}, tags, []finding{{CodeInvalidRouteAddressPrefix, rp(0, "addressPrefix")}}},
		{"next hop peering", []Route{route("r", "10.1.0.0/16", "VNetPeering", "")}, tags, []finding{{CodeInvalidNextHopType, rp(0, "nextHopType")}}},
		{"next hop service endpoint", []Route{route("r", "10.1.0.0/16", "VirtualNetworkServiceEndpoint", "")}, tags, []finding{{CodeInvalidNextHopType, rp(0, "nextHopType")}}},
		{"next hop missing", []Route{route("r", "10.1.0.0/16", "", "")}, tags, []finding{{CodeInvalidNextHopType, rp(0, "nextHopType")}}},
		{"next hop unknown", []Route{route("r", "10.1.0.0/16", "Firewall", "10.0.2.4")}, tags, []finding{{CodeInvalidNextHopType, rp(0, "nextHopType")}}},
		{"appliance without address", []Route{route("r", "0.0.0.0/0", "VirtualAppliance", "")}, tags, []finding{{CodeMissingNextHopIpAddress, rp(0, "nextHopIpAddress")}}},
		{"appliance bad address", []Route{route("r", "0.0.0.0/0", "VirtualAppliance", "10.0.2")}, tags, []finding{{CodeInvalidNextHopIpAddress, rp(0, "nextHopIpAddress")}}},
		{"appliance address is a prefix", []Route{route("r", "0.0.0.0/0", "VirtualAppliance", "10.0.2.4/32")}, tags, []finding{{CodeInvalidNextHopIpAddress, rp(0, "nextHopIpAddress")}}},
		{"address on another hop", []Route{route("r", "0.0.0.0/0", "Internet", "10.0.2.4")}, tags, []finding{{CodeNextHopIpAddressNotAllowed, rp(0, "nextHopIpAddress")}}},
		{"same prefix twice", []Route{route("a", "10.1.0.0/16", "None", ""), route("b", "10.1.0.0/16", "Internet", "")}, tags,
			[]finding{{CodeRouteConflict, rp(1, "addressPrefix")}}},
		{"same tag twice in other casing", []Route{route("a", "Storage.EastUS", "None", ""), route("b", "storage.eastus", "Internet", "")}, tags,
			[]finding{{CodeRouteConflict, rp(1, "addressPrefix")}}},
		{"same name twice", []Route{route("a", "10.1.0.0/16", "None", ""), route("A", "10.2.0.0/16", "None", "")}, tags,
			[]finding{{CodeDuplicateResourceName, "properties.routes[1].name"}}},
		{"route name invalid", []Route{route("a/b", "10.1.0.0/16", "None", "")}, tags, []finding{{CodeInvalidResourceName, "properties.routes[0].name"}}},
		{"400 routes", numbered(400, func(i int) Route {
			return route(fmt.Sprint("r", i), fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), "None", "")
		}), tags, nil},
		{"401 routes", numbered(401, func(i int) Route {
			return route(fmt.Sprint("r", i), fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), "None", "")
		}), tags,
			[]finding{{CodeRouteCountLimitExceeded, "properties.routes"}}},
		{"25 service tag routes", numbered(25, func(i int) Route { return route(fmt.Sprint("r", i), fmt.Sprint("Tag", i), "Internet", "") }), nil, nil},
		{"26 service tag routes", numbered(26, func(i int) Route { return route(fmt.Sprint("r", i), fmt.Sprint("Tag", i), "Internet", "") }), nil,
			[]finding{{CodeServiceTagRouteLimitExceeded, "properties.routes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &RouteTable{Meta: Meta{Name: "ml-rt"}, Properties: RouteTableProperties{Routes: tt.routes}}
			if diff := cmp.Diff(tt.want, findings(ValidateRouteTable(rt, tt.resolver))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("messages", func(t *testing.T) {
		l := ValidateRouteTable(&RouteTable{Properties: RouteTableProperties{Routes: []Route{
			route("a", "10.1.0.0/16", "None", ""), route("b", "10.1.0.0/16", "None", ""), route("fw", "0.0.0.0/0", "VirtualAppliance", ""),
			route("p", "10.2.0.0/16", "VNetPeering", ""),
		}}}, tags)
		for code, want := range map[string]string{
			CodeRouteConflict:           "Route: b conflicts with Route: a. Routes cannot have the same AddressPrefix.",
			CodeMissingNextHopIpAddress: "NextHopIpAddress cannot be Null or Empty in route fw when NextHopType is VirtualAppliance.",
			CodeInvalidNextHopType:      `route p has invalid nextHopType "VNetPeering": VNetPeering appears in effective routes but cannot be the next hop of a user-defined route`,
		} {
			if msg := messageOf(l, code); !strings.HasPrefix(msg, want) {
				t.Errorf("message of %s:\n got %q\nwant %q...", code, msg, want)
			}
		}
	})
}
