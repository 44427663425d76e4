package dataplane

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
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
// refuse the connection (an NSG changed after it was set up), the
// connection stands, as established flows do in Azure, and the firewall
// decides as it did when the connection was made.
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
	case err != nil:
		v = peer.Verdict
	case v.Access == flow.Allow:
		return nil
	case !fabric.FirewallOnly(&v):
		v = peer.Verdict
	}
	if !fabric.FirewallOnly(&v) {
		return nil
	}
	ref := &refusal{verdict: v, caller: describeCaller(eng, peer)}
	s.logRefusal(peer, addr, port, ref)
	return ref
}

// describeCaller names a caller as a refusal message shows it.
func describeCaller(eng *flow.Engine, p fabric.Peer) string {
	if p.Src.NIC != "" {
		if n, err := eng.NIC(p.Src.NIC); err == nil {
			if ic, err := n.IPConfigFor(p.Src.Addr); err == nil {
				return fmt.Sprintf("%s (network interface %s in subnet %s of virtual network %s)", ic.Addr, n.Name, ic.Subnet.Name, ic.Subnet.VNet.Name)
			}
		}
		return fmt.Sprintf("%s (network interface %s)", p.Src.Addr, p.Src.NIC)
	}
	if p.Src.Trusted {
		return fmt.Sprintf("%s (a trusted Azure service)", p.Src.Addr)
	}
	return fmt.Sprintf("%s (a client outside the virtual network)", p.Src.Addr)
}

// logRefusal records a refused request in the flow log: the network
// delivered the connection, the firewall refused this request.
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
	s.cfg.Fabric.Log().Append(rec)
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
		ref.verdict.Packet.Src, ref.caller, vault, location, h.Rule)
	if h.Hint != "" {
		msg += " To admit it: " + h.Hint + "."
	}
	e := armerror.New("Forbidden", "networkAcls", "%s", msg)
	e.Details = []*armerror.Error{{Code: "ForbiddenByFirewall"}}
	return e
}

// lastSegment is the name at the end of a resource id.
func lastSegment(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }
