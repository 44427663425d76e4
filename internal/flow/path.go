package flow

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gaissmai/bart"

	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// Endpoint is one end of a path: a NIC, an address outside every VNet
// (an Internet client, a platform service), or a storage account or key
// vault at an address.
type Endpoint struct {
	// NIC is a NIC's resource id or name; empty for an outside address.
	NIC string
	// Addr is the NIC's address (default: its primary) or the outside address.
	Addr netip.Addr
	// Service is the resource id of the storage account or key vault that
	// listens at Addr (destinations only): its firewall is the last hop.
	Service string
	// Trusted marks a source calling as a trusted Azure service.
	Trusted bool
	// Resource is the resource id of a calling resource instance, matched
	// by a firewall's resourceAccessRules (sources only).
	Resource string
}

// Stage names a hop of a path.
type Stage string

// Stages, in the order a path meets them.
const (
	StageNSGOut      Stage = "NSG outbound"
	StageRoute       Stage = "route"
	StageAppliance   Stage = "appliance"
	StageNSGIn       Stage = "NSG inbound"
	StageReturnRoute Stage = "return route"
	StageFirewall    Stage = "firewall"
	StageDelivery    Stage = "delivery"
)

// Hop is one decision along a path.
type Hop struct {
	Stage    Stage
	Access   Verdict
	Resource string // the deciding resource: NSG, route table or service id ("System Route" for system routes)
	Name     string // that resource's name
	Rule     string // the deciding rule: securityRules/x, a route name, an ACL rule
	Priority int    // of an NSG rule
	Where    string // e.g. "NSG mygroup/ml-nsg on subnet default"
	Detail   string // e.g. the next hop
	Code     string // an Azure error code, for firewall denials
	Hint     string // on denial: what to change
}

// PathVerdict is the end-to-end decision between two endpoints.
type PathVerdict struct {
	Access Verdict
	Packet Packet
	// Seen is the packet as the destination receives it: after DNAT of a
	// public IP to the network interface's private address, and SNAT of a
	// VNet source leaving through its public IP. It is Packet when nothing
	// translates it.
	Seen Packet
	// Caller is how the destination service's firewall saw the source:
	// the address it judges, the subnet of a service endpoint, trust. Set
	// when the path reached a service's firewall.
	Caller Caller
	// SeenNIC is the id of the network interface the packet is delivered
	// to; "" when it leaves the virtual networks or goes to a service.
	SeenNIC string
	Hops    []Hop
}

// Refusal returns the hop that denied the path, or nil.
func (v *PathVerdict) Refusal() *Hop {
	for i := range v.Hops {
		if v.Hops[i].Access == Deny {
			return &v.Hops[i]
		}
	}
	return nil
}

// Explain renders the verdict in one line, naming the deciding rule and
// resource and, on refusal, the fix.
func (v *PathVerdict) Explain() string {
	p := v.Packet
	flow := fmt.Sprintf("%s %s -> %s", strings.ToUpper(p.Proto.String()), netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort))
	h := v.Refusal()
	if h == nil {
		return flow + " allowed"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s denied at %s", flow, h.Stage)
	if h.Rule != "" {
		fmt.Fprintf(&b, " by %s", h.Rule)
		if h.Priority != 0 {
			fmt.Fprintf(&b, " (priority %d, %s)", h.Priority, h.Where)
		} else if h.Where != "" {
			fmt.Fprintf(&b, " (%s)", h.Where)
		}
	} else if h.Where != "" {
		fmt.Fprintf(&b, " (%s)", h.Where)
	}
	if h.Detail != "" {
		fmt.Fprintf(&b, ": %s", h.Detail)
	}
	if h.Hint != "" {
		fmt.Fprintf(&b, ". %s", h.Hint)
	}
	return b.String()
}

// maxApplianceHops bounds forwarding through appliances (a routing loop).
const maxApplianceHops = 4

// Path decides a connection from src to dst: the source NIC's NSGs
// outbound, its subnet's route (through appliances, if any), the
// destination NIC's NSGs inbound (or, for an outside source, whether the
// reply can return the way the request came), and the destination
// service's firewall.
func (e *Engine) Path(src, dst Endpoint, proto network.Protocol, srcPort, dstPort uint16) (PathVerdict, error) {
	var srcIC, dstIC *IPConfig
	var err error
	if src.NIC != "" {
		if srcIC, err = e.endpointConfig(src); err != nil {
			return PathVerdict{}, &QueryError{"source", err}
		}
		src.Addr = srcIC.Addr
	}
	if dst.NIC != "" {
		if dstIC, err = e.endpointConfig(dst); err != nil {
			return PathVerdict{}, &QueryError{"destination", err}
		}
		dst.Addr = dstIC.Addr
	}
	if !src.Addr.Is4() {
		return PathVerdict{}, &QueryError{"source", ErrIPv6}
	}
	if !dst.Addr.Is4() {
		return PathVerdict{}, &QueryError{"destination", ErrIPv6}
	}
	p := Packet{Proto: proto, Src: src.Addr, Dst: dst.Addr, SrcPort: srcPort, DstPort: dstPort}
	v := PathVerdict{Access: Allow, Packet: p, Seen: p}
	deny := func(h Hop) (PathVerdict, error) {
		h.Access = Deny
		v.Hops = append(v.Hops, h)
		v.Access = Deny
		return v, nil
	}
	caller := Caller{Addr: src.Addr, Trusted: src.Trusted, Resource: src.Resource}
	srcLocation := ""  // the region of a VNet source leaving without an endpoint
	lastHop := ""      // the next hop type that delivered a NIC source's packet
	var last *IPConfig // where a NIC source's packet was last routed: the source or an appliance

	if srcIC != nil {
		d := srcIC.Decide(Outbound, &p)
		h := e.nsgHop(StageNSGOut, d, srcIC, &p)
		if d.Access == Deny {
			return deny(h)
		}
		v.Hops = append(v.Hops, h)

		// Route, through appliances while they forward.
		at := srcIC
		for hops := 0; ; hops++ {
			last = at
			r := at.Subnet.routes.lookup(p.Dst)
			h := routeHop(at.Subnet, r, p.Dst)
			if r == nil || r.NextHopType == network.HopNone || r.Unusable {
				return deny(h)
			}
			if r.NextHopType != network.HopVirtualAppliance {
				v.Hops = append(v.Hops, h)
				lastHop = r.NextHopType
				switch r.NextHopType {
				case network.HopVirtualNetworkServiceEndpoint:
					caller.Subnet = at.Subnet.ID
				case network.HopInterfaceEndpoint:
					caller.PrivateEndpoint = true
				default:
					// Leaving for a public address: the service sees the
					// public IP, or — with none — a private address of the
					// VNet's region, to which ipRules do not apply (spec §5).
					caller.Addr = at.PublicIP
					srcLocation = at.Subnet.VNet.Location
				}
				break
			}
			if hops == maxApplianceHops {
				h.Detail = fmt.Sprintf("more than %d appliance hops (a routing loop?)", maxApplianceHops)
				return deny(h)
			}
			app := e.appliance(r.NextHopIP)
			if app == nil {
				h.Detail = fmt.Sprintf("next hop VirtualAppliance %s: no network interface with IP forwarding holds that address", r.NextHopIP)
				h.Hint = fmt.Sprintf("enable IP forwarding on the appliance's network interface at %s, or change route %s", r.NextHopIP, r.Name)
				return deny(h)
			}
			v.Hops = append(v.Hops, h)
			// The appliance receives the packet and sends it on: its NSGs apply.
			if d := app.Decide(Inbound, &p); d.Access == Deny {
				return deny(e.nsgHop(StageAppliance, d, app, &p))
			}
			if d := app.Decide(Outbound, &p); d.Access == Deny {
				return deny(e.nsgHop(StageAppliance, d, app, &p))
			}
			v.Hops = append(v.Hops, Hop{Stage: StageAppliance, Access: Allow, Resource: app.NIC.ID, Name: app.NIC.Name,
				Detail: "forwarded by " + app.NIC.Name + " (" + app.Addr.String() + ")"})
			at = app
		}
	}

	if dst.Service == "" {
		ic, public, h := e.deliver(last, lastHop, p, dstIC)
		if h != nil {
			return deny(*h)
		}
		if ic == nil && last != nil && last.PublicIP.IsValid() && lastHop == network.HopInternet {
			// Leaving for an outside address: the far end sees the
			// source's public IP (SNAT); a service endpoint keeps the
			// private source.
			v.Seen.Src = last.PublicIP
		}
		if ic != nil {
			v.SeenNIC = ic.NIC.ID
			if srcIC == nil && !isPlatform(p.Src) {
				// An outside source: the reply must return the way the request came.
				h, ok := e.returnRoute(ic, p)
				if !ok {
					return deny(h)
				}
				v.Hops = append(v.Hops, h)
			}
			in := p
			in.Dst = ic.Addr // inbound rules see the private address, after DNAT (spec §1.5)
			if public && last != nil && last.PublicIP.IsValid() {
				in.Src = last.PublicIP // and the source after SNAT, for a VNet source leaving for a public IP
			}
			v.Seen = in
			d := ic.Decide(Inbound, &in)
			h := e.nsgHop(StageNSGIn, d, ic, &in)
			if d.Access == Deny {
				return deny(h)
			}
			v.Hops = append(v.Hops, h)
		}
	}

	if dst.Service != "" {
		if srcIC != nil && srcLocation != "" {
			// A VNet client leaving for the service's public address: in the
			// service's own region ipRules do not apply to it, public IP or
			// not (spec §5).
			f := e.fw[network.Key(dst.Service)]
			caller.SameRegion = f != nil && strings.EqualFold(f.Location, srcLocation)
			if !caller.Addr.IsValid() {
				caller.Addr = last.Addr
			}
		}
		v.Caller = caller
		h, ok := e.firewallHop(dst.Service, caller, srcIC)
		if !ok {
			return PathVerdict{}, &QueryError{"destination", fmt.Errorf("service %s: %w", dst.Service, ErrNotFound)}
		}
		if h.Access == Deny {
			return deny(h)
		}
		v.Hops = append(v.Hops, h)
	}
	return v, nil
}

func (e *Engine) endpointConfig(ep Endpoint) (*IPConfig, error) {
	n, err := e.NIC(ep.NIC)
	if err != nil {
		return nil, err
	}
	return n.IPConfigFor(ep.Addr)
}

// nicAt finds the ip configuration holding a in vnet or a VNet peered with it.
func (e *Engine) nicAt(a netip.Addr, vnet *VNet) *IPConfig {
	for _, ic := range e.byAddr[a] {
		if ic.Subnet.VNet == vnet {
			return ic
		}
		for _, p := range vnet.peers {
			if network.Key(ic.Subnet.VNet.ID) == p {
				return ic
			}
		}
	}
	return nil
}

// deliver finds the ip configuration that receives a packet, given where
// it was last routed (nil for an outside source) and that route's next hop:
//
//   - routed inside the virtual networks: the NIC holding the address in the
//     last hop's VNet or its peers;
//   - routed out (Internet, gateway, service endpoint): the NIC whose public
//     IP it is (public is then true), else an outside address: nil, allowed;
//   - from outside: the NIC holding the private address when the source is
//     a platform service (a service tag's address, the host VIP) or on
//     premises behind the VNet's gateway — vnetml's platform reaches nodes
//     directly — else the NIC whose public IP it is.
//
// An address nothing receives is a delivery refusal, and so is a named
// destination NIC (named) that the packet does not reach.
func (e *Engine) deliver(last *IPConfig, lastHop string, p Packet, named *IPConfig) (ic *IPConfig, public bool, refusal *Hop) {
	switch {
	case last != nil && !leavesVNet(lastHop):
		ic = e.nicAt(p.Dst, last.Subnet.VNet)
	case last != nil:
		ic, public = e.byPublic[p.Dst], true
		if ic == nil && named == nil {
			return nil, false, nil // an outside address
		}
	default:
		if ics := e.byAddr[p.Dst]; len(ics) > 0 {
			for _, c := range ics {
				if isPlatform(p.Src) || e.tagOf(p.Src) != "" || containsAddr(c.Subnet.VNet.Gateway, p.Src) {
					if named != nil {
						// The caller named the NIC: where networks overlap,
						// the platform reaches the one it means.
						if c == named {
							ic = c
						}
						continue
					}
					if ic != nil {
						return nil, false, &Hop{Stage: StageDelivery, Detail: fmt.Sprintf("%s is held by network interfaces in several virtual networks", p.Dst),
							Hint: "name the destination network interface"}
					}
					ic = c
				}
			}
		}
		if ic == nil {
			ic, public = e.byPublic[p.Dst], true
		}
	}
	switch {
	case ic == nil:
		h := &Hop{Stage: StageDelivery, Detail: fmt.Sprintf("no network interface or service holds %s", p.Dst), Hint: "check the destination address"}
		if last == nil && len(e.byAddr[p.Dst]) > 0 {
			h.Detail = fmt.Sprintf("%s is a private address: from outside the virtual networks a NIC is reached through its public IP", p.Dst)
			h.Hint = "attach a public IP to the network interface and call that, or call from inside the virtual network"
		}
		return nil, false, h
	case named != nil && ic != named:
		return nil, false, &Hop{Stage: StageDelivery, Detail: fmt.Sprintf("the packet to %s reaches network interface %s, not %s", p.Dst, ic.NIC.Name, named.NIC.Name),
			Hint: "the two networks overlap and are not peered: peer them or use the destination's public IP"}
	}
	return ic, public, nil
}

// appliance returns the IP-forwarding NIC configuration holding a.
func (e *Engine) appliance(a netip.Addr) *IPConfig {
	for _, ic := range e.byAddr[a] {
		if ic.NIC.IPForwarding {
			return ic
		}
	}
	return nil
}

// leavesVNet reports whether a next hop takes packets out of the virtual
// networks, where vnetml does not follow them further.
func leavesVNet(hop string) bool {
	switch hop {
	case network.HopInternet, network.HopVirtualNetworkGateway, network.HopVirtualNetworkServiceEndpoint:
		return true
	}
	return false
}

func isPlatform(a netip.Addr) bool { return a == servicetag.HostVIP.Addr() }

// returnRoute checks that the reply from dst to an outside source leaves
// the way the request came in: over the Internet (or a service endpoint)
// for Internet sources, through the gateway for on-premises sources.
// Forced tunneling breaks this for direct inbound (spec §3.3).
func (e *Engine) returnRoute(dst *IPConfig, p Packet) (Hop, bool) {
	r := dst.Subnet.routes.lookup(p.Src)
	h := routeHop(dst.Subnet, r, p.Src)
	h.Stage = StageReturnRoute
	if r == nil {
		h.Access = Deny
		return h, false
	}
	onPrem := containsAddr(dst.Subnet.VNet.Gateway, p.Src)
	ok := r.NextHopType == network.HopInternet || r.NextHopType == network.HopVirtualNetworkServiceEndpoint ||
		(onPrem && r.NextHopType == network.HopVirtualNetworkGateway)
	if ok {
		h.Access = Allow
		return h, true
	}
	h.Access = Deny
	h.Detail = fmt.Sprintf("the reply to %s would leave through %s", p.Src, describeHop(r))
	tag := e.tagOf(p.Src)
	if tag == "" {
		tag = p.Src.String() + "/32"
	}
	h.Hint = fmt.Sprintf("asymmetric routing: add a user-defined route for %s with next hop Internet to the route table of subnet %s", tag, dst.Subnet.Name)
	return h, false
}

func describeHop(r *Route) string {
	s := r.NextHopType
	if r.NextHopIP.IsValid() {
		s += " " + r.NextHopIP.String()
	}
	if r.Name != "" {
		s = fmt.Sprintf("route %s (%s, %s)", r.Name, r.Prefix, s)
	} else {
		s = fmt.Sprintf("system route %s (%s)", r.Prefix, s)
	}
	return s
}

func routeHop(s *Subnet, r *Route, dst netip.Addr) Hop {
	h := Hop{Stage: StageRoute, Access: Allow, Where: "subnet " + s.Name}
	if r == nil {
		h.Access = Deny
		h.Detail = "no route to " + dst.String()
		return h
	}
	h.Detail = r.NextHopType
	h.Resource, h.Name = SystemRoute, SystemRoute
	if r.Source == SourceUser {
		h.Resource = r.TableID
		if id, err := network.ParseResourceID(r.TableID); err == nil {
			h.Name = id.Name()
			h.Where = "route table " + id.ResourceGroup + "/" + id.Name() + " on subnet " + s.Name
		}
		h.Rule = "routes/" + r.Name
	} else {
		h.Rule = "system route " + r.Prefix.String()
	}
	if r.NextHopType == network.HopNone || r.Unusable {
		h.Access = Deny
		if r.Unusable {
			h.Detail = fmt.Sprintf("next hop VirtualAppliance %s is outside the virtual network and its peers, so the route drops traffic", r.NextHopIP)
			h.Hint = "point the route at an appliance address inside the virtual network"
		} else {
			h.Detail = "next hop None drops traffic to " + r.Prefix.String()
			if r.Source == SourceUser {
				h.Hint = fmt.Sprintf("change route %s's next hop, or add a more specific route for %s", r.Name, dst)
			} else {
				h.Hint = fmt.Sprintf("%s is reserved address space outside the virtual network; add it to the address space, peer its network, or route it with a user-defined route", r.Prefix)
			}
		}
	}
	return h
}

func (e *Engine) nsgHop(stage Stage, d Decision, ic *IPConfig, p *Packet) Hop {
	h := Hop{Stage: stage, Access: d.Access}
	if d.NSG == nil {
		h.Detail = "no network security group on subnet " + ic.Subnet.Name + " or network interface " + ic.NIC.Name
		return h
	}
	h.Resource, h.Name = d.NSG.ID, d.NSG.Name
	h.Where = describeNSG(d.NSG, d.Level, ic)
	r := d.DecidingRule()
	if r == nil {
		h.Detail = "no rule matched"
		return h
	}
	h.Rule, h.Priority = r.Name, r.Priority
	if d.Access == Deny {
		h.Hint = e.nsgHint(d, r, p)
	}
	return h
}

// nsgHint says which rule would admit the packet.
func (e *Engine) nsgHint(d Decision, r *Rule, p *Packet) string {
	peer, dir := p.Src, "from"
	if d.Dir == Outbound {
		peer, dir = p.Dst, "to"
	}
	who := peer.String()
	if tag := e.tagOf(peer); tag != "" {
		who = "service tag " + tag
	}
	port := ""
	if p.Proto.HasPorts() {
		port = fmt.Sprintf(" port %d", p.DstPort)
	}
	prio := "a priority below " + fmt.Sprint(r.Priority)
	switch {
	case r.Priority > 4096:
		prio = "a priority between 100 and 4096"
	case r.Priority <= 100:
		// Nothing goes before 100: the refusing rule must move.
		prio = fmt.Sprintf("priority 100, moving %s to a higher number", r.Name)
	}
	return fmt.Sprintf("Allow %s %s on %s%s with %s", strings.ToLower(d.Dir.String()), dir+" "+who, strings.ToUpper(p.Proto.String()), port, prio)
}

// tagOf names a service tag holding a, preferring a global tag over a
// regional one and skipping the catch-all AzureCloud tags. The table it
// reads is built once, on the first explanation.
func (e *Engine) tagOf(a netip.Addr) string {
	e.tagIndexOnce.Do(e.buildTagIndex)
	name, _ := e.tagIndex.Lookup(a)
	return name
}

// buildTagIndex maps every prefix of every tag to its preferred name. A
// longest-prefix match then finds the most specific tag's prefix; among
// tags sharing a prefix, a global name wins over a regional one.
func (e *Engine) buildTagIndex() {
	t := new(bart.Table[string])
	for _, name := range e.tags.Names() {
		if strings.HasPrefix(strings.ToLower(name), "azurecloud") {
			continue
		}
		tag, _ := e.tags.Lookup(name)
		for _, p := range tag.V4 {
			t.Modify(p, func(old string, ok bool) (string, bool) {
				if !ok || strings.Contains(old, ".") && !strings.Contains(name, ".") {
					return name, false
				}
				return old, false
			})
		}
	}
	e.tagIndex = t
}

// firewallHop is the firewall stage of a path: the service's decision on
// caller, with the fix when it refuses. src, the caller's ip
// configuration, names its subnet in the fix (nil when unknown).
func (e *Engine) firewallHop(service string, caller Caller, src *IPConfig) (Hop, bool) {
	fv, ok := e.Firewall(service, caller)
	if !ok {
		return Hop{}, false
	}
	h := Hop{Stage: StageFirewall, Access: fv.Access, Resource: service, Name: fv.Service(), Rule: fv.RuleText(), Code: fv.Code(),
		Where: "storage account " + fv.Service()}
	if fv.Kind() == KindKeyVault {
		h.Where = "key vault " + fv.Service()
	}
	if fv.Access == Deny {
		h.Hint = e.firewallHint(fv, caller, src)
	}
	return h, true
}

// FirewallHop is a service's firewall decision on a caller as a path's
// hop, with the fix when it refuses; srcNIC (may be empty) is the
// caller's network interface, whose subnet the fix names. False when the
// engine knows no such service.
func (e *Engine) FirewallHop(service string, caller Caller, srcNIC string, srcAddr netip.Addr) (Hop, bool) {
	var src *IPConfig
	if srcNIC != "" {
		if n, err := e.NIC(srcNIC); err == nil {
			src, _ = n.IPConfigFor(srcAddr)
		}
	}
	return e.firewallHop(service, caller, src)
}

func (e *Engine) firewallHint(fv FirewallVerdict, c Caller, src *IPConfig) string {
	svc := "Microsoft.Storage"
	if fv.Kind() == KindKeyVault {
		svc = "Microsoft.KeyVault"
	}
	switch {
	case fv.Rule == RulePublicDisabled:
		return fmt.Sprintf("public network access to %s is disabled: reach it through a private endpoint, or as a trusted service", fv.Service())
	case src != nil && c.Subnet == "":
		return fmt.Sprintf("enable the %s service endpoint on subnet %s and add the subnet to %s's virtual network rules", svc, src.Subnet.Name, fv.Service())
	case src != nil:
		return fmt.Sprintf("add subnet %s to %s's virtual network rules", src.Subnet.Name, fv.Service())
	case c.Trusted:
		return fmt.Sprintf("allow trusted Microsoft services (bypass AzureServices) on %s", fv.Service())
	}
	return fmt.Sprintf("add %s to %s's ipRules, or call from an allowed virtual network", c.Addr, fv.Service())
}
