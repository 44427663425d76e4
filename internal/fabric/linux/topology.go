//go:build linux

package linux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// The addresses of the links between namespaces (link-local, never seen
// by the virtual cloud):
//
//	inet ──(inetIf 169.254.0.6 | svcInetIf 169.254.0.5)── svc
//	svc ──(u<n> 169.254.0.1 | uplink 169.254.0.2)── router of VNet n
//	router ──(i<k> | eth0 <ip configuration's address>)── port k
//
// Every router answers ARP for routerGW (on its loopback), the default
// gateway of its ports; every svc end of an uplink holds uplinkPeer.
var (
	uplinkPeer  = netip.MustParseAddr("169.254.0.1") // svc's end of an uplink
	uplinkLocal = netip.MustParseAddr("169.254.0.2") // a router's end
	svcToInet   = netip.MustParseAddr("169.254.0.5")
	inetToSvc   = netip.MustParseAddr("169.254.0.6")
	routerGW    = netip.MustParseAddr("169.254.1.1")
	hostVIP     = netip.MustParseAddr("168.63.129.16") // Azure's platform address: DNS
)

const (
	uplinkIf  = "uplink" // a router's uplink
	portIf    = "eth0"   // a port's interface
	inetIf    = "svc"    // inet's link to svc
	svcInetIf = "inet"   // svc's link to inet
	// Route table numbers in a router: subnet k's table is
	// subnetTableBase+k; in svc, VNet n's is vnetTableBase+n.
	subnetTableBase = 1000
	vnetTableBase   = 1000
)

// router is the namespace of one VNet.
type router struct {
	ns     *netns
	n      int    // its number: names u<n>, table, mark
	key    string // the VNet's key
	space  []netip.Prefix
	tables map[string]int // subnet key -> table number
	rules  []string       // the ip rules last installed ("pref 1001 iif i3 lookup 1001")
	// routes and ruleset are what was last installed (the routes and
	// rules as ip batch lines, the nftables text), so that an Apply that
	// changes neither does nothing.
	routes, ruleset string
	reader          closer // its flow log reader
}

func (r *router) mark() uint32 { return uint32(r.n + 1) }

// port is the namespace of one network interface.
type port struct {
	ns         *netns
	k          int // its number: names i<k>
	key        portKey
	router     *router
	addrs      []netip.Addr // its ip configurations' addresses, the primary first
	forwarding bool
	applied    bool   // its table is installed
	ifname     string // the router's end of its veth
	ifindex    uint32 // that interface's index in the router
}

type closer interface{ Close() error }

// applyPlan makes the kernel match a plan: new namespaces and links for
// new VNets and ports, gone ones deleted, then every router's routes,
// rules and table rewritten. It is called with f.applyMu held.
func (f *Fabric) applyPlan(ctx context.Context, p *plan) error {
	var errs []error
	// Gone ports and routers.
	for k, pt := range f.ports {
		if _, ok := p.ports[k]; !ok {
			f.removePort(pt)
		}
	}
	want := map[string]*vnetPlan{}
	for _, v := range p.vnets {
		want[v.key] = v
	}
	for k, r := range f.routers {
		if _, ok := want[k]; !ok {
			f.removeRouter(r)
		}
	}
	// New routers and ports.
	for _, v := range p.vnets {
		r := f.routers[v.key]
		if r == nil {
			var err error
			if r, err = f.addRouter(ctx, v); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		r.space = v.vnet.Space
		for _, pp := range v.ports {
			if pt, ok := f.ports[pp.key]; ok {
				if err := f.setAddrs(ctx, pt, pp); err != nil {
					errs = append(errs, fmt.Errorf("addresses of network interface %s: %w", pp.nic.Name, err))
				}
				continue
			}
			if err := f.addPort(ctx, r, pp); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Every router's routes, rules and table; every port's table.
	for _, v := range p.vnets {
		if r := f.routers[v.key]; r != nil {
			if err := f.programRouter(ctx, r, v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := f.programServices(ctx, p); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (f *Fabric) nsName(kind string, n int) string {
	return fmt.Sprintf("%s-%s%d", f.id, kind, n)
}

func (f *Fabric) addRouter(ctx context.Context, v *vnetPlan) (*router, error) {
	f.nextRouter++
	n := f.nextRouter
	name := f.nsName("r", n)
	if err := addNetns(ctx, name); err != nil {
		return nil, err
	}
	ns, err := openNetns(name)
	if err != nil {
		delNetns(name)
		return nil, err
	}
	r := &router{ns: ns, n: n, key: v.key, tables: map[string]int{}}
	fail := func(err error) (*router, error) {
		ns.close()
		delNetns(name)
		return nil, fmt.Errorf("creating the router of VNet %s: %w", v.vnet.Name, err)
	}
	if err := ns.sysctl(routerSysctls...); err != nil {
		return fail(err)
	}
	svcIf := fmt.Sprintf("u%d", n)
	if err := ipBatch(ctx, name, []string{
		"link set lo up",
		"addr add " + routerGW.String() + "/32 dev lo",
		fmt.Sprintf("link add %s type veth peer name %s netns %s", uplinkIf, svcIf, f.svc.name),
		"addr add " + uplinkLocal.String() + "/32 dev " + uplinkIf,
		"link set " + uplinkIf + " up",
		// An address of the VNet that no port holds goes nowhere (the
		// engine: no network interface holds it).
		"route replace blackhole default",
		// The platform's address is reached straight through the uplink
		// by what the mangle chain marks (DNS, answers to the host VIP):
		// no user-defined route applies to it (the engine checks no
		// return route for it).
		fmt.Sprintf("route replace %s/32 via %s dev %s onlink", hostVIP, uplinkPeer, uplinkIf),
		fmt.Sprintf("rule add pref 900 fwmark %d lookup main", replyMark),
	}); err != nil {
		return fail(err)
	}
	if err := ipBatch(ctx, f.svc.name, []string{
		"addr add " + uplinkPeer.String() + "/32 dev " + svcIf,
		"link set " + svcIf + " up",
		fmt.Sprintf("rule add pref 40 fwmark %d lookup %d", r.mark(), vnetTableBase+n),
	}); err != nil {
		return fail(err)
	}
	if err := ns.sysctl("ipv4/conf/"+uplinkIf+"/rp_filter", "0", "ipv4/conf/"+uplinkIf+"/send_redirects", "0"); err != nil {
		return fail(err)
	}
	if f.openReader != nil {
		rd, err := f.openReader(r)
		if err != nil {
			return fail(err)
		}
		r.reader = rd
	}
	f.routers[v.key] = r
	return r, nil
}

var routerSysctls = []string{
	// IPv4 only: the virtual cloud has no IPv6 (the engine refuses it),
	// so no namespace may speak it (link-local addresses, router
	// advertisements).
	"ipv6/conf/all/disable_ipv6", "1",
	"ipv6/conf/default/disable_ipv6", "1",
	"ipv4/ip_forward", "1",
	"ipv4/conf/all/rp_filter", "0",
	"ipv4/conf/default/rp_filter", "0",
	"ipv4/conf/all/send_redirects", "0",
	"ipv4/conf/default/send_redirects", "0",
	"ipv4/conf/all/accept_redirects", "0",
	"ipv4/conf/default/accept_redirects", "0",
}

func (f *Fabric) removeRouter(r *router) {
	for k, pt := range f.ports {
		if pt.router == r {
			f.removePort(pt)
			delete(f.ports, k)
		}
	}
	if r.reader != nil {
		r.reader.Close()
	}
	r.ns.close()
	delNetns(r.ns.name) // its uplink's svc end goes with it
	// The svc rule of its mark.
	ipBatch(context.Background(), f.svc.name, []string{fmt.Sprintf("rule del pref 40 fwmark %d", r.mark())})
	delete(f.routers, r.key)
}

func (f *Fabric) addPort(ctx context.Context, r *router, pp *portPlan) error {
	f.nextPort++
	k := f.nextPort
	name := f.nsName("n", k)
	if err := addNetns(ctx, name); err != nil {
		return err
	}
	ns, err := openNetns(name)
	if err != nil {
		delNetns(name)
		return err
	}
	pt := &port{ns: ns, k: k, key: pp.key, router: r, ifname: fmt.Sprintf("i%d", k)}
	fail := func(err error) error {
		ns.close()
		delNetns(name) // the veth goes with it
		os.RemoveAll(filepath.Join(etcNetns, name))
		return fmt.Errorf("creating the namespace of network interface %s: %w", pp.nic.Name, err)
	}
	if err := ns.sysctl(routerSysctls...); err != nil {
		return fail(err)
	}
	if err := ipBatch(ctx, r.ns.name, []string{
		fmt.Sprintf("link add %s type veth peer name %s netns %s", pt.ifname, portIf, name),
		"link set " + pt.ifname + " up",
	}); err != nil {
		return fail(err)
	}
	if err := ipBatch(ctx, name, []string{
		"link set lo up",
		"link set " + portIf + " up",
		fmt.Sprintf("route add %s dev %s scope link", routerGW, portIf),
	}); err != nil {
		return fail(err)
	}
	if err := f.setAddrs(ctx, pt, pp); err != nil {
		return fail(err)
	}
	if err := r.ns.sysctl("ipv4/conf/"+pt.ifname+"/rp_filter", "0", "ipv4/conf/"+pt.ifname+"/send_redirects", "0"); err != nil {
		return fail(err)
	}
	if err := ns.sysctl("ipv4/conf/"+portIf+"/rp_filter", "0", "ipv4/conf/"+portIf+"/send_redirects", "0"); err != nil {
		return fail(err)
	}
	if err := r.ns.do(func() error {
		i, err := net.InterfaceByName(pt.ifname)
		if err == nil {
			pt.ifindex = uint32(i.Index)
		}
		return err
	}); err != nil {
		return fail(err)
	}
	// Processes started in the namespace (ip netns exec) resolve names
	// with the platform's DNS, as Azure's VMs do by default.
	if err := os.MkdirAll(filepath.Join(etcNetns, name), 0o755); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(etcNetns, name, "resolv.conf"), []byte("nameserver "+hostVIP.String()+"\n"), 0o644); err != nil {
		return fail(err)
	}
	f.ports[pp.key] = pt
	return nil
}

// etcNetns holds the files `ip netns exec` mounts over /etc for a
// namespace's processes.
const etcNetns = "/etc/netns"

// setAddrs gives a port the addresses of its ip configurations (a NIC
// gains and loses secondary ones: a pod's address), with the router's
// host routes to them and the default route from the primary.
func (f *Fabric) setAddrs(ctx context.Context, pt *port, pp *portPlan) error {
	var want []netip.Addr
	for _, ic := range pp.ics {
		want = append(want, ic.Addr)
	}
	var inRouter, inPort []string
	for _, a := range pt.addrs {
		if !slices.Contains(want, a) {
			inRouter = append(inRouter, fmt.Sprintf("route del %s/32 dev %s", a, pt.ifname))
			inPort = append(inPort, fmt.Sprintf("addr del %s/32 dev %s", a, portIf))
		}
	}
	for _, a := range want {
		if !slices.Contains(pt.addrs, a) {
			inRouter = append(inRouter, fmt.Sprintf("route replace %s/32 dev %s scope link", a, pt.ifname))
			inPort = append(inPort, fmt.Sprintf("addr add %s/32 dev %s", a, portIf))
		}
	}
	if len(pt.addrs) == 0 || pt.addrs[0] != want[0] {
		inPort = append(inPort, fmt.Sprintf("route replace default via %s dev %s src %s", routerGW, portIf, want[0]))
	}
	if err := ipBatch(ctx, pt.router.ns.name, inRouter); err != nil {
		return err
	}
	if err := ipBatch(ctx, pt.ns.name, inPort); err != nil {
		return err
	}
	pt.addrs = want
	return nil
}

func (f *Fabric) removePort(pt *port) {
	pt.ns.close()
	delNetns(pt.ns.name)
	os.RemoveAll(filepath.Join(etcNetns, pt.ns.name))
	delete(f.ports, pt.key)
}

// programRouter installs a router's policy rules, subnet tables and
// nftables table for the engine's view of its VNet, and the tables of its
// ports' namespaces.
func (f *Fabric) programRouter(ctx context.Context, r *router, v *vnetPlan) error {
	portIfAt := func(a netip.Addr) (string, bool) {
		for _, pp := range v.ports {
			for _, ic := range pp.ics {
				if ic.Addr == a {
					if pt := f.ports[pp.key]; pt != nil {
						return pt.ifname, true
					}
				}
			}
		}
		return "", false
	}
	var lines []string
	var rules []string
	for i, s := range v.subnets {
		t := subnetTableBase + i
		r.tables[network.Key(s.ID)] = t
		lines = append(lines, flushTable(t)...)
		for _, kr := range subnetRoutes(s, portIfAt) {
			lines = append(lines, kr.line(t))
		}
	}
	var ports []routerPort
	for _, pp := range v.ports {
		pt := f.ports[pp.key]
		if pt == nil {
			continue
		}
		// Each address routes by its own subnet's table; what the port
		// forwards (an appliance) by its primary configuration's.
		for _, ic := range pp.ics {
			rules = append(rules, fmt.Sprintf("pref 1000 from %s iif %s lookup %d", ic.Addr, pt.ifname, r.tables[network.Key(ic.Subnet.ID)]))
		}
		rules = append(rules, fmt.Sprintf("pref 1001 iif %s lookup %d", pt.ifname, r.tables[network.Key(pp.primary().Subnet.ID)]))
		ports = append(ports, routerPort{ifname: pt.ifname, ics: pp.ics})
	}
	for _, rule := range rules {
		lines = append(lines, "rule add "+rule)
	}
	// Only what changed is applied: Apply runs on every change to the
	// network, most of which leave a VNet's routes or rules as they were.
	//
	// The NSGs are installed even when the routes fail: a rule that
	// tightens access must not wait for a route to be fixed.
	var errs []error
	if routes := strings.Join(lines, "\n"); routes != r.routes {
		// The old rules go first, each on its own (one that is gone
		// already is no error); a batch that fails halfway leaves rules
		// that the next Apply deletes again.
		var del []string
		for _, rule := range append(r.rules, rules...) {
			del = append(del, "rule del "+rule)
		}
		run(ctx, strings.Join(del, "\n")+"\n", "ip", "-n", r.ns.name, "-force", "-batch", "-")
		r.routes, r.rules = "", rules
		if err := ipBatch(ctx, r.ns.name, lines); err != nil {
			errs = append(errs, fmt.Errorf("routes of VNet %s: %w", v.vnet.Name, err))
		} else {
			r.routes = routes
		}
	}
	if rs := routerRuleset(ports); rs != r.ruleset {
		r.ruleset = ""
		if err := r.ns.run(ctx, rs, "nft", "-f", "-"); err != nil {
			return errors.Join(append(errs, fmt.Errorf("nftables of VNet %s: %w", v.vnet.Name, err))...)
		}
		r.ruleset = rs
	}
	for _, pp := range v.ports {
		pt := f.ports[pp.key]
		fw := pp.nic.IPForwarding
		if pt == nil || (pt.applied && pt.forwarding == fw) {
			continue
		}
		if err := pt.ns.run(ctx, portRuleset(fw), "nft", "-f", "-"); err != nil {
			errs = append(errs, fmt.Errorf("nftables of %s: %w", pp.nic.Name, err))
			continue
		}
		pt.applied, pt.forwarding = true, fw
	}
	return errors.Join(errs...)
}

// flushTable returns the lines that empty route table t, whether or not
// it exists yet ("route flush" of a table that does not exist fails).
func flushTable(t int) []string {
	return []string{fmt.Sprintf("route replace blackhole 255.255.255.255/32 table %d", t), fmt.Sprintf("route flush table %d", t)}
}

// programServices installs svc's routes: to each VNet's public IPs (main
// table); where no other VNet's space overlaps it, to its address space
// for svc's own connections only (spacesTable: what svc forwards from one
// VNet's uplink must not reach another VNet's private addresses, which
// the engine sends to the Internet, where no NIC holds them); to each
// VNet's space by the VNet's mark (its table), for answers to private
// addresses and for platform connections to VNets whose spaces overlap;
// and only to public IPs for what comes from the Internet (inetTable). It
// installs the marking table too.
func (f *Fabric) programServices(ctx context.Context, p *plan) error {
	lines := append(flushTable(inetTable), flushTable(spacesTable)...)
	var undo []string
	marks := map[string]uint32{}
	owners := map[netip.Prefix]int{}
	for _, v := range p.vnets {
		for _, s := range v.vnet.Space {
			owners[s.Masked()]++
		}
	}
	overlaps := func(s netip.Prefix) bool {
		for o, n := range owners {
			if o != s.Masked() && o.Overlaps(s) || o == s.Masked() && n > 1 {
				return true
			}
		}
		return false
	}
	var public []netip.Addr
	for _, v := range p.vnets {
		r := f.routers[v.key]
		if r == nil {
			continue
		}
		dev := fmt.Sprintf("u%d", r.n)
		marks[dev] = r.mark()
		t := vnetTableBase + r.n
		lines = append(lines, flushTable(t)...)
		for _, s := range v.vnet.Space {
			lines = append(lines, fmt.Sprintf("route replace %s via %s dev %s onlink table %d", s.Masked(), uplinkLocal, dev, t))
			if !overlaps(s) {
				lines = append(lines, fmt.Sprintf("route replace %s via %s dev %s onlink table %d", s.Masked(), uplinkLocal, dev, spacesTable))
			}
		}
		for _, pp := range v.ports {
			for _, ic := range pp.ics {
				if pub := ic.PublicIP; pub.IsValid() && !slices.Contains(public, pub) {
					public = append(public, pub)
					for _, table := range []string{"main", fmt.Sprint(inetTable)} {
						lines = append(lines, fmt.Sprintf("route replace %s/32 via %s dev %s onlink table %s", pub, uplinkLocal, dev, table))
					}
					undo = append(undo, fmt.Sprintf("route del %s/32 via %s dev %s", pub, uplinkLocal, dev))
				}
			}
		}
	}
	if routes := strings.Join(lines, "\n"); routes != f.svcState.routes {
		// The routes of the last plan go first; one whose VNet is gone
		// went with its uplink, so errors here are expected and ignored.
		if len(f.svcState.undo) > 0 {
			run(ctx, strings.Join(f.svcState.undo, "\n")+"\n", "ip", "-n", f.svc.name, "-force", "-batch", "-")
		}
		f.svcState.routes, f.svcState.undo = "", nil
		if err := ipBatch(ctx, f.svc.name, lines); err != nil {
			return fmt.Errorf("routes of the services namespace: %w", err)
		}
		f.svcState.routes, f.svcState.undo = routes, undo
	}
	if rs := servicesRuleset(marks); rs != f.svcState.ruleset {
		f.svcState.ruleset = ""
		if err := f.svc.run(ctx, rs, "nft", "-f", "-"); err != nil {
			return fmt.Errorf("nftables of the services namespace: %w", err)
		}
		f.svcState.ruleset = rs
	}
	return nil
}

// inetTable is svc's table for what arrives from the Internet: the public
// IPs of the VNets, and nothing else (a private address is not reached
// from the Internet: the engine refuses it, and svc drops it silently).
const inetTable = 50

// spacesTable is svc's table of the VNets' address spaces (those no other
// VNet's overlaps), for connections svc itself makes (rule iif lo).
const spacesTable = 60

// setupOutside creates the services and internet namespaces and their
// link.
func (f *Fabric) setupOutside(ctx context.Context) error {
	svc, inet := f.id+"-svc", f.id+"-inet"
	if err := addNetns(ctx, svc, inet); err != nil {
		return err
	}
	var err error
	if f.svc, err = openNetns(svc); err != nil {
		return err
	}
	if f.inet, err = openNetns(inet); err != nil {
		return err
	}
	// Accepted sockets, and the resets and ICMP errors svc answers with
	// itself (fwmark_reflect), carry the mark of the VNet a packet came
	// from: without it they find no route back to VNets whose spaces
	// overlap.
	if err := f.svc.sysctl(append(slices.Clone(routerSysctls), "ipv4/tcp_fwmark_accept", "1", "ipv4/fwmark_reflect", "1")...); err != nil {
		return err
	}
	if err := f.inet.sysctl(routerSysctls...); err != nil {
		return err
	}
	if err := ipBatch(ctx, svc, []string{
		"link set lo up",
		fmt.Sprintf("link add %s type veth peer name %s netns %s", svcInetIf, inetIf, inet),
		"addr add " + svcToInet.String() + "/32 dev " + svcInetIf,
		"link set " + svcInetIf + " up",
		// Policy: answers by their VNet's mark first (pref 40, added
		// per VNet); what comes from the Internet reaches public IPs only
		// and is dropped otherwise; svc's own connections reach the VNets'
		// spaces (pref 60); the rest uses main, and an address
		// that no namespace holds is unreachable, so that a caller inside
		// a VNet is told at once (the engine allows such a flow, and
		// nothing listens).
		fmt.Sprintf("rule add pref 50 iif %s lookup %d", svcInetIf, inetTable),
		fmt.Sprintf("rule add pref 51 iif %s blackhole", svcInetIf),
		fmt.Sprintf("rule add pref 60 iif lo lookup %d", spacesTable),
		"rule add pref 40000 unreachable",
	}); err != nil {
		return err
	}
	if err := ipBatch(ctx, inet, []string{
		"link set lo up",
		"addr add " + inetToSvc.String() + "/32 dev " + inetIf,
		"link set " + inetIf + " up",
		fmt.Sprintf("route add %s dev %s scope link", svcToInet, inetIf),
		fmt.Sprintf("route add default via %s dev %s", svcToInet, inetIf),
	}); err != nil {
		return err
	}
	if err := f.svc.sysctl("ipv4/conf/"+svcInetIf+"/rp_filter", "0"); err != nil {
		return err
	}
	return f.svc.run(ctx, servicesRuleset(nil), "nft", "-f", "-")
}

// outsideNS returns the namespace where an outside address lives, adding
// it there on first use: svc for platform services and addresses of
// service tags (they reach ports at private addresses, as the engine
// delivers them), inet for the rest.
func (f *Fabric) outsideNS(ctx context.Context, eng *flow.Engine, ep epKey) (*netns, error) {
	ns := f.inet
	if ep.service || flow.IsPlatform(ep.addr) || (eng != nil && eng.TagOf(ep.addr) != "") {
		ns = f.svc
	}
	f.addrMu.Lock()
	defer f.addrMu.Unlock()
	if at, ok := f.outside[ep.addr]; ok {
		if at != ns {
			return nil, fmt.Errorf("fabric: %s is an address of the %s namespace already", ep.addr, at.name)
		}
		return ns, nil
	}
	if err := ipBatch(ctx, ns.name, []string{fmt.Sprintf("addr add %s/32 dev lo", ep.addr)}); err != nil {
		return nil, err
	}
	if ns == f.inet {
		if err := ipBatch(ctx, f.svc.name, []string{fmt.Sprintf("route replace %s/32 via %s dev %s onlink", ep.addr, inetToSvc, svcInetIf)}); err != nil {
			return nil, err
		}
	}
	f.outside[ep.addr] = ns
	return ns, nil
}

type epKey struct {
	addr    netip.Addr
	service bool
}
