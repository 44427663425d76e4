package flow

import (
	"fmt"
	"net/netip"

	"go4.org/netipx"

	"github.com/vnetml/vnetml/internal/network"
)

// EffectiveNSGList is the answer of a NIC's effectiveNetworkSecurityGroups
// (spec §4): one entry per associated NSG, subnet first.
type EffectiveNSGList struct {
	Value []EffectiveNSG `json:"value"`
}

// EffectiveNSG is one associated NSG and its expanded rules.
type EffectiveNSG struct {
	NetworkSecurityGroup   network.SubResource `json:"networkSecurityGroup"`
	Association            Association         `json:"association"`
	EffectiveSecurityRules []EffectiveRule     `json:"effectiveSecurityRules"`
	TagMap                 map[string][]string `json:"tagMap"`
}

// Association says what an NSG is attached to.
type Association struct {
	Subnet           *network.SubResource `json:"subnet,omitempty"`
	NetworkInterface *network.SubResource `json:"networkInterface,omitempty"`
}

// EffectiveRule is Azure's EffectiveNetworkSecurityRule: "*" rendered as
// 0.0.0.0/0, all ports as 0-65535, protocol * as All, tags expanded.
type EffectiveRule struct {
	Name                             string   `json:"name"`
	Protocol                         string   `json:"protocol"`
	SourcePortRange                  string   `json:"sourcePortRange,omitempty"`
	DestinationPortRange             string   `json:"destinationPortRange,omitempty"`
	SourcePortRanges                 []string `json:"sourcePortRanges"`
	DestinationPortRanges            []string `json:"destinationPortRanges"`
	SourceAddressPrefix              string   `json:"sourceAddressPrefix,omitempty"`
	DestinationAddressPrefix         string   `json:"destinationAddressPrefix,omitempty"`
	SourceAddressPrefixes            []string `json:"sourceAddressPrefixes"`
	DestinationAddressPrefixes       []string `json:"destinationAddressPrefixes"`
	ExpandedSourceAddressPrefix      []string `json:"expandedSourceAddressPrefix,omitempty"`
	ExpandedDestinationAddressPrefix []string `json:"expandedDestinationAddressPrefix,omitempty"`
	Access                           string   `json:"access"`
	Priority                         int      `json:"priority"`
	Direction                        string   `json:"direction"`
}

// EffectiveNSGs lists the NSGs that apply to a NIC (its primary ip
// configuration's subnet and the NIC itself) with their rules expanded.
func (e *Engine) EffectiveNSGs(nicRef string) (EffectiveNSGList, error) {
	n, err := e.NIC(nicRef)
	if err != nil {
		return EffectiveNSGList{}, &QueryError{"networkInterface", err}
	}
	ic, err := n.IPConfigFor(netip.Addr{})
	if err != nil {
		return EffectiveNSGList{}, &QueryError{"networkInterface", err}
	}
	out := EffectiveNSGList{Value: []EffectiveNSG{}}
	if ic.Subnet.NSG != nil {
		out.Value = append(out.Value, effectiveNSG(ic.Subnet.NSG, Association{Subnet: &network.SubResource{ID: ic.Subnet.ID}}))
	}
	if ic.NSG != nil {
		out.Value = append(out.Value, effectiveNSG(ic.NSG, Association{NetworkInterface: &network.SubResource{ID: n.ID}}))
	}
	return out, nil
}

func effectiveNSG(n *NSG, a Association) EffectiveNSG {
	out := EffectiveNSG{NetworkSecurityGroup: network.SubResource{ID: n.ID}, Association: a, TagMap: map[string][]string{}}
	for _, d := range []Direction{Inbound, Outbound} {
		for i := range n.dirs[d].rules {
			r := &n.dirs[d].rules[i]
			p := &r.Source.Properties
			er := EffectiveRule{Name: r.Name, Protocol: effProto(r.Proto), Access: r.Access.String(), Priority: r.Priority, Direction: d.String()}
			er.SourcePortRanges = effPorts(r.SrcPorts)
			er.DestinationPortRanges = effPorts(r.DstPorts)
			if len(er.SourcePortRanges) == 1 {
				er.SourcePortRange = er.SourcePortRanges[0]
			}
			if len(er.DestinationPortRanges) == 1 {
				er.DestinationPortRange = er.DestinationPortRanges[0]
			}
			er.SourceAddressPrefix, er.SourceAddressPrefixes, er.ExpandedSourceAddressPrefix =
				effPrefix(p.SourceAddressPrefix, p.SourceAddressPrefixes, p.SourceApplicationSecurityGroups, r.Src, out.TagMap)
			er.DestinationAddressPrefix, er.DestinationAddressPrefixes, er.ExpandedDestinationAddressPrefix =
				effPrefix(p.DestinationAddressPrefix, p.DestinationAddressPrefixes, p.DestinationApplicationSecurityGroups, r.Dst, out.TagMap)
			out.EffectiveSecurityRules = append(out.EffectiveSecurityRules, er)
		}
	}
	return out
}

func effProto(p network.Protocol) string {
	if p == network.ProtoAny {
		return "All"
	}
	return p.String()
}

func effPorts(rs []network.PortRange) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Effective()
	}
	return out
}

// effPrefix renders one side: the single form, the list form, and, for a
// tag or ASG, the expansion (recorded in tagMap too).
func effPrefix(one string, many []string, asgs []network.SubResource, set *netipx.IPSet, tagMap map[string][]string) (string, []string, []string) {
	if len(asgs) > 0 {
		var names []string
		for _, a := range asgs {
			id, _ := network.ParseResourceID(a.ID)
			names = append(names, id.Name())
		}
		exp := setStrings(set)
		return "", names, exp
	}
	if one != "" {
		if one == "*" {
			return "0.0.0.0/0", []string{"0.0.0.0/0"}, nil
		}
		if !network.LooksLikeAddress(one) {
			exp := setStrings(set)
			name := one
			if c, ok := network.ComputedTag(one); ok {
				name = c
			}
			tagMap[name] = exp
			return name, []string{name}, exp
		}
		return one, []string{one}, nil
	}
	return "", append([]string{}, many...), nil
}

func setStrings(s *netipx.IPSet) []string {
	ps := s.Prefixes()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// EffectiveRouteList is the answer of a NIC's effectiveRouteTable.
type EffectiveRouteList struct {
	Value []EffectiveRoute `json:"value"`
}

// EffectiveRoute is one effective route in Azure's shape.
type EffectiveRoute struct {
	Name                       *string  `json:"name"`
	Source                     string   `json:"source"`
	State                      string   `json:"state"`
	AddressPrefix              []string `json:"addressPrefix"`
	NextHopIPAddress           []string `json:"nextHopIpAddress"`
	NextHopType                string   `json:"nextHopType"`
	DisableBgpRoutePropagation bool     `json:"disableBgpRoutePropagation"`
}

// EffectiveRoutes lists the routes of the NIC's primary subnet: one entry
// per route (a tag route or service endpoint lists all its prefixes),
// winners Active and losers Invalid.
func (e *Engine) EffectiveRoutes(nicRef string) (EffectiveRouteList, error) {
	n, err := e.NIC(nicRef)
	if err != nil {
		return EffectiveRouteList{}, &QueryError{"networkInterface", err}
	}
	ic, err := n.IPConfigFor(netip.Addr{})
	if err != nil {
		return EffectiveRouteList{}, &QueryError{"networkInterface", err}
	}
	disable := false
	if t, ok := e.index.Tables[network.Key(ic.Subnet.routes.tableID)]; ok {
		disable = t.Properties.DisableBgpRoutePropagation
	}
	out := EffectiveRouteList{Value: []EffectiveRoute{}}
	type key struct {
		origin int
		state  string
	}
	at := map[key]int{}
	for _, r := range ic.Subnet.routes.all() {
		k := key{r.origin, r.State}
		if i, ok := at[k]; ok {
			out.Value[i].AddressPrefix = append(out.Value[i].AddressPrefix, r.Prefix.String())
			continue
		}
		er := EffectiveRoute{Source: r.Source, State: r.State, AddressPrefix: []string{r.Prefix.String()},
			NextHopIPAddress: []string{}, NextHopType: r.NextHopType, DisableBgpRoutePropagation: disable}
		if r.Name != "" {
			name := r.Name
			er.Name = &name
		}
		if r.NextHopIP.IsValid() {
			er.NextHopIPAddress = []string{r.NextHopIP.String()}
		}
		at[k] = len(out.Value)
		out.Value = append(out.Value, er)
	}
	return out, nil
}

// String renders a route for humans.
func (r *Route) String() string {
	name := r.Name
	if name == "" {
		name = "(system)"
	}
	return fmt.Sprintf("%s %s %s %s", name, r.Prefix, r.NextHopType, r.State)
}
