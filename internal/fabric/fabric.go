// Package fabric owns vnetml's data plane contract (DESIGN.md §4): the
// Fabric interface that carries every connection of the virtual cloud
// between virtual endpoints and admits it only if the flow engine's path
// verdict allows it, the errors a refused connection returns, and the flow
// log of every decision. Implementations live in subpackages named after
// their technology (userspace); fabrictest is the conformance suite each
// passes.
package fabric

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"syscall"

	"github.com/vnetml/vnetml/internal/flow"
)

// Endpoint is one end of a virtual connection: a network interface's
// address, a platform service's address, or an outside client's.
type Endpoint struct {
	// NIC is the resource id of the network interface whose address Addr
	// is; empty for a platform service or an outside client.
	NIC string
	// Addr is the virtual address.
	Addr netip.Addr
	// Service is the resource id of the storage account or key vault that
	// serves at Addr: its firewall decides last.
	Service string
	// Trusted marks an endpoint that calls as a trusted Azure service
	// (a firewall's bypass AzureServices applies to it).
	Trusted bool
	// Resource is the resource id of the calling resource instance, which
	// a firewall's resourceAccessRules match.
	Resource string
}

func (e Endpoint) flow() flow.Endpoint {
	return flow.Endpoint{NIC: e.NIC, Addr: e.Addr, Service: e.Service, Trusted: e.Trusted, Resource: e.Resource}
}

// FlowEndpoint is the endpoint as the flow engine takes it.
func (e Endpoint) FlowEndpoint() flow.Endpoint { return e.flow() }

// Fabric carries the virtual cloud's connections.
//
// Concurrency: every method is safe for concurrent use. Apply swaps the
// engine atomically: a Dial decides with the engine current when it
// starts, and connections already admitted are never decided again (as
// Azure keeps established flows across a rule change).
type Fabric interface {
	// Apply makes eng decide every connection from now on.
	Apply(eng *flow.Engine)
	// Listen accepts connections to ep.Addr:port. A connection arrives
	// only after the path verdict allowed it; its RemoteAddr and
	// LocalAddr are the virtual addresses (an *Addr), and PeerOf tells
	// who opened it.
	//
	// A platform service (ep.Service set) is listening for requests that
	// its firewall decides one by one, as a storage account or key vault
	// answers a request its firewall refuses with a 403: a connection that
	// only the firewall refuses is admitted, with the refusing verdict in
	// its Peer, and the service asks the engine again per request.
	Listen(ctx context.Context, ep Endpoint, port uint16) (net.Listener, error)
	// Dial connects from src to the virtual address dst. A refusal by the
	// network rules is a *Denied; nothing listening is a *Refused.
	Dial(ctx context.Context, src Endpoint, dst netip.AddrPort) (net.Conn, error)
	// DialEndpoint is Dial to a destination named as an endpoint — a NIC
	// with its address — where an address alone is ambiguous (virtual
	// networks whose address spaces overlap).
	DialEndpoint(ctx context.Context, src, dst Endpoint, port uint16) (net.Conn, error)
	// Expose serves ep.Addr:port by forwarding each admitted connection to
	// target, a real address where a process of ep listens (a node agent, a
	// scoring replica). Closing the result stops it.
	Expose(ctx context.Context, ep Endpoint, port uint16, target netip.AddrPort) (Closer, error)
	// Command returns a command confined to ep's network: it reaches the
	// virtual cloud through an egress proxy that dials from ep (set in its
	// environment). How far the confinement holds depends on the
	// implementation; see its documentation.
	Command(ctx context.Context, ep Endpoint, name string, args ...string) (*exec.Cmd, error)
	// EgressProxy returns the URL of ep's egress proxy
	// (http://user:password@host:port), through which a process reaches
	// the virtual cloud as ep: what Command puts in a process's
	// environment, for a process started otherwise (a node agent hands it
	// to its jobs). Empty when the implementation needs no proxy.
	EgressProxy(ep Endpoint) (string, error)
	// SetName makes a platform service's host name resolve to addr (an
	// invalid addr removes it); Resolve looks a name up.
	SetName(name string, addr netip.Addr)
	Resolve(name string) (netip.Addr, bool)
	// Log is the flow log of every decision.
	Log() *FlowLog
	// Close closes every listener, proxy and connection of the fabric.
	Close() error
}

// Namespaced is implemented by a fabric whose endpoints are Linux network
// namespaces (the kernel fabric): a process started inside the namespace
// at NetnsPath(ep) — by a node agent, for a replica at its pod's address —
// is confined to ep's network.
type Namespaced interface {
	NetnsPath(ep Endpoint) (string, error)
}

// Peer is who opened an accepted connection, as the fabric decided it.
type Peer struct {
	// Src is the source as it dialed: its NIC, trust and resource, and
	// the address its packets left with (before any SNAT).
	Src Endpoint
	// SrcPort is the source's ephemeral port.
	SrcPort uint16
	// Verdict is the path verdict the connection was admitted under. For
	// a service's listener it may be a refusal by the firewall alone.
	Verdict flow.PathVerdict
}

// PeerOf returns the peer of a connection a fabric listener accepted
// (false for any other connection).
func PeerOf(c net.Conn) (Peer, bool) {
	if p, ok := c.(interface{ Peer() (Peer, bool) }); ok {
		return p.Peer()
	}
	return Peer{}, false
}

// FirewallOnly reports whether v refuses a connection at the destination
// service's firewall and nowhere before: the network delivers it, and the
// service refuses its requests.
func FirewallOnly(v *flow.PathVerdict) bool {
	h := v.Refusal()
	return h != nil && h.Stage == flow.StageFirewall
}

// Closer stops something the fabric runs.
type Closer interface{ Close() error }

// Addr is a virtual TCP address, as net.Conn reports it.
type Addr netip.AddrPort

func (a Addr) Network() string { return "tcp" }
func (a Addr) String() string  { return netip.AddrPort(a).String() }

// Denied is the error of a connection the network rules refuse: the path
// verdict names the deciding rule, resource and fix.
type Denied struct {
	Src, Dst netip.AddrPort
	Verdict  flow.PathVerdict
}

func (d *Denied) Error() string {
	return "connection refused by the network rules: " + d.Verdict.Explain()
}

// Refused is the error of a connection the rules allow but nothing
// accepts: no endpoint listens at the destination.
type Refused struct {
	Src, Dst netip.AddrPort
}

func (r *Refused) Error() string {
	return fmt.Sprintf("connection from %s to %s refused: nothing listens at %s", r.Src, r.Dst, r.Dst)
}

// Is makes a Refused match syscall.ECONNREFUSED, as a refused connection
// on a real network does (the egress proxy answers it with 502).
func (r *Refused) Is(target error) bool { return target == syscall.ECONNREFUSED }

// Unresolved is the error of a connection the engine could not decide: a
// source or destination the network does not know, or no network applied
// yet. It matches syscall.EHOSTUNREACH (the egress proxy answers 502).
type Unresolved struct{ Err error }

func (u *Unresolved) Error() string        { return u.Err.Error() }
func (u *Unresolved) Unwrap() error        { return u.Err }
func (u *Unresolved) Is(target error) bool { return target == syscall.EHOSTUNREACH }
