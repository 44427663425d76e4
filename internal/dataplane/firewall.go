package dataplane

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// refusal is a firewall's refusal of one request.
type refusal struct {
	verdict flow.PathVerdict
	caller  string // the caller described: address, NIC, subnet
}

func (f *refusal) hop() *flow.Hop { return f.verdict.Refusal() }

// firewall decides a request to the service id at addr:port by its
// firewall, now: nil when it is admitted.
//
// The whole path is asked again with the engine of the moment, so that a
// change of the firewall, or a new service endpoint on the caller's
// subnet, applies to the next request. Should the network itself now
// refuse the connection (an NSG changed after it was set up, or the
// caller's NIC is gone), the connection stands, as established flows do
// in Azure, and today's firewall decides on the caller as it was seen
// when the connection was made.
func (s *Server) firewall(r *http.Request, id string, addr netip.Addr, port uint16) *refusal {
	peer, ok := peerOf(r)
	if !ok {
		// Not a fabric connection: cannot happen, since front ends listen
		// only through the fabric; refuse rather than guess.
		return &refusal{caller: "an unknown caller", verdict: flow.PathVerdict{Access: flow.Deny, Hops: []flow.Hop{{
			Stage: flow.StageFirewall, Access: flow.Deny, Resource: id, Rule: "defaultAction Deny", Detail: "the connection did not come through the fabric"}}}}
	}
	eng := s.eng.Load()
	v, err := eng.Path(peer.Src.FlowEndpoint(), flow.Endpoint{Addr: addr, Service: id}, network.ProtoTCP, peer.SrcPort, port)
	switch {
	case err == nil && v.Access == flow.Allow:
		return nil
	case err == nil && fabric.FirewallOnly(&v):
	default:
		h, ok := eng.FirewallHop(id, peer.Verdict.Caller, peer.Src.NIC, peer.Src.Addr)
		if !ok || h.Access == flow.Allow {
			return nil // !ok: the service is gone; its front end is stopping
		}
		v = flow.PathVerdict{Access: flow.Deny, Packet: peer.Verdict.Packet, Seen: peer.Verdict.Seen, Caller: peer.Verdict.Caller, Hops: []flow.Hop{h}}
	}
	ref := &refusal{verdict: v, caller: describeCaller(eng, peer, v.Caller.Addr)}
	s.logRefusal(peer, addr, port, ref)
	return ref
}

// describeCaller names a caller as a refusal message shows it: seen, the
// address the firewall judged (a VM's public IP when it left without a
// service endpoint), then who it is.
func describeCaller(eng *flow.Engine, p fabric.Peer, seen netip.Addr) string {
	if !seen.IsValid() {
		seen = p.Src.Addr
	}
	if p.Src.NIC != "" {
		via := ""
		if seen != p.Src.Addr {
			via = ", private address " + p.Src.Addr.String()
		}
		if n, err := eng.NIC(p.Src.NIC); err == nil {
			if ic, err := n.IPConfigFor(p.Src.Addr); err == nil {
				return fmt.Sprintf("%s (network interface %s in subnet %s of virtual network %s%s)", seen, n.Name, ic.Subnet.Name, ic.Subnet.VNet.Name, via)
			}
		}
		return fmt.Sprintf("%s (network interface %s%s)", seen, p.Src.NIC, via)
	}
	if p.Src.Trusted {
		return fmt.Sprintf("%s (a trusted Azure service)", seen)
	}
	return fmt.Sprintf("%s (a client outside the virtual network)", seen)
}

// logRefusal records a refused request in the flow log: the network
// delivered the connection, the firewall refused this request. At most
// refusalsLogged records a second per front end, then one saying how many
// more there were, so that a client cannot flush the log with refusals.
func (s *Server) logRefusal(p fabric.Peer, addr netip.Addr, port uint16, ref *refusal) {
	h := ref.hop()
	rec := fabric.Record{
		Time: time.Now(), Proto: "T",
		Src:    netip.AddrPortFrom(p.Src.Addr, p.SrcPort).String(),
		Dst:    netip.AddrPortFrom(addr, port).String(),
		SrcNIC: p.Src.NIC, Decision: "D", State: "B",
		Stage: string(flow.StageFirewall), Rule: h.Rule, Resource: h.Resource,
		Reason: "request refused: " + ref.verdict.Explain(),
	}
	if extra, ok := s.limit.admit(netip.AddrPortFrom(addr, port), rec.Time); !ok {
		return
	} else if extra > 0 {
		more := rec
		more.Rule, more.Reason = "", fmt.Sprintf("%d more requests refused by the firewall in the second before", extra)
		s.cfg.Fabric.Log().Append(more)
	}
	s.cfg.Fabric.Log().Append(rec)
}

// refusalsLogged is how many refused requests a second one front end logs.
const refusalsLogged = 10

// refusalLimit counts logged refusals per front end and second.
type refusalLimit struct {
	mu  sync.Mutex
	sec map[netip.AddrPort]*refusalCount
}

type refusalCount struct {
	sec   int64
	n     int
	extra int // beyond the limit in sec
}

// admit reports whether a refusal at t is logged, and how many were left
// out in the second before it (reported once).
func (l *refusalLimit) admit(k netip.AddrPort, t time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sec == nil {
		l.sec = map[netip.AddrPort]*refusalCount{}
	}
	c := l.sec[k]
	if c == nil {
		c = &refusalCount{}
		l.sec[k] = c
	}
	extra := 0
	if now := t.Unix(); now != c.sec {
		extra, c.sec, c.n, c.extra = c.extra, now, 0, 0
	}
	c.n++
	if c.n > refusalsLogged {
		c.extra++
		return 0, false
	}
	return extra, true
}

// storageRefusal is the 403 of a storage firewall's refusal, in Azure's
// words and then vnetml's.
func storageRefusal(account string, ref *refusal) *armerror.Error {
	h := ref.hop()
	msg := fmt.Sprintf("This request is not authorized to perform this operation. The firewall of storage account %s refused the request from %s: %s.",
		account, ref.caller, h.Rule)
	if h.Hint != "" {
		msg += " To admit it: " + h.Hint + "."
	}
	return armerror.New("AuthorizationFailure", "networkAcls", "%s", msg)
}

// vaultRefusal is the 403 of a key vault firewall's refusal: code
// Forbidden, inner code ForbiddenByFirewall, Key Vault's text first.
func vaultRefusal(vault, location string, ref *refusal) *armerror.Error {
	h := ref.hop()
	msg := fmt.Sprintf("Client address is not authorized and caller is not a trusted service.\r\nClient address: %s\r\nCaller: %s\r\nVault: %s;location=%s\r\nDeciding rule: %s.",
		ref.verdict.Caller.Addr, ref.caller, vault, location, h.Rule)
	if h.Hint != "" {
		msg += " To admit it: " + h.Hint + "."
	}
	e := armerror.New("Forbidden", "networkAcls", "%s", msg)
	e.Details = []*armerror.Error{{Code: "ForbiddenByFirewall"}}
	return e
}

// lastSegment is the name at the end of a resource id.
func lastSegment(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }
