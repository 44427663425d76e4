package apiserver

import (
	"context"

	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/auth"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// stageWatcher stages a network watcher.
func (s *Server) stageWatcher(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	if err := inGroup(id); err != nil {
		return false, err
	}
	id = t.canonical(id)
	body, err := patched(t.get(id.Key), body, patch, func() error { return notFound(store.NotFound(id.ID), id) })
	if err != nil {
		return false, err
	}
	var d watcherDoc
	if err := decodeBody(body, &d); err != nil {
		return false, err
	}
	if err := checkName(id, d.Name, d.Type); err != nil {
		return false, err
	}
	d.Location = normLocation(d.Location)
	if d.Location == "" {
		return false, armerror.New(codeLocationRequired, "location", "The location property is required: a network watcher serves one region.")
	}
	d.ID, d.Name, d.Type, d.Etag = id.ID, lastSegment(id.ID), typeNetworkWatcher, ""
	d.Properties.ProvisioningState = succeeded
	return t.stagePlain(id, d, cond, true)
}

// watcherEngine checks that the watcher exists and that the caller may
// query the NIC, and returns the engine. Queries read the newest engine
// through an atomic pointer: they take no lock and never wait for a
// writer.
//
// The caller is authorized against the NIC the query is about, not the
// watcher: watchers live in NetworkWatcherRG, and a token scoped to the
// group of the NIC must be able to ask about it.
func (s *Server) watcherEngine(_ context.Context, rq *request, nic string) (*flow.Engine, error) {
	if err := auth.Authorize(rq.principal, auth.Query, nic); err != nil {
		return nil, err
	}
	v := s.view.Load()
	wloc, ok := v.watchers[rq.target.id.Key]
	if !ok {
		return nil, armerror.New(codeNotFound, "", "The network watcher '%s' was not found. vnetml creates NetworkWatcher_<region> in resource group %s with the first virtual network of a region; use that one.",
			rq.target.id.ID, watcherGroup)
	}
	// As in Azure, a watcher answers for the network interfaces of its own
	// subscription and region.
	if nloc, ok := v.nics[network.Key(nic)]; ok {
		nid, _ := store.ParseID(nic)
		if !strings.EqualFold(nid.Subscription, rq.target.id.Subscription) || nloc != wloc {
			return nil, armerror.New(codeInvalidParameter, "targetResourceId",
				"The network watcher %s serves subscription %s in %s; the network interface is in subscription %s in %s. Ask NetworkWatcher_%s of the interface's subscription.",
				lastSegment(rq.target.id.ID), rq.target.id.Subscription, wloc, nid.Subscription, nloc, nloc)
		}
	}
	return s.engine().eng, nil
}

// targetNIC picks the NIC a query is about: targetNicResourceId, else
// targetResourceId when it is a NIC (vnetml has no virtual machines yet).
func targetNIC(target, nic string) (string, error) {
	if nic != "" {
		return nic, nil
	}
	if target == "" {
		return "", armerror.New(codeInvalidParameter, "targetResourceId", "targetResourceId is required: the id of the network interface to check.")
	}
	r, err := network.ParseResourceID(target)
	if err != nil || !strings.EqualFold(r.Type(), network.TypeNetworkInterface) {
		return "", armerror.New(codeInvalidParameter, "targetResourceId",
			"targetResourceId %q is not a network interface; vnetml checks network interfaces: give the NIC's id here or in targetNicResourceId.", target)
	}
	return target, nil
}

// ipFlowVerify answers POST …/networkWatchers/{nw}/ipFlowVerify.
func (s *Server) ipFlowVerify(ctx context.Context, rq *request) (response, error) {
	var req api.FlowVerifyRequest
	if err := decodeBody(rq.body, &req); err != nil {
		return response{}, err
	}
	var l armerror.List
	nic, err := targetNIC(req.TargetResourceID, req.TargetNicResourceID)
	if err != nil {
		e, _ := armerror.As(err)
		l.Add(e)
	}
	q := flow.VerifyQuery{NIC: nic}
	if d, ok := flow.ParseDirection(req.Direction); ok {
		q.Direction = d
	} else {
		l.Addf(codeInvalidParameter, "direction", "direction %q is not Inbound or Outbound.", req.Direction)
	}
	switch strings.ToUpper(req.Protocol) {
	case "TCP":
		q.Protocol = network.ProtoTCP
	case "UDP":
		q.Protocol = network.ProtoUDP
	default:
		l.Addf(codeInvalidParameter, "protocol", "protocol %q is not TCP or UDP: IP flow verify checks those two.", req.Protocol)
	}
	q.Local = addrPort(&l, "localIPAddress", req.LocalIPAddress, "localPort", req.LocalPort)
	q.Remote = addrPort(&l, "remoteIPAddress", req.RemoteIPAddress, "remotePort", req.RemotePort)
	if l.Len() > 0 {
		return response{}, l.In("the request body")
	}
	eng, err := s.watcherEngine(ctx, rq, nic)
	if err != nil {
		return response{}, err
	}
	res, err := eng.IPFlowVerify(q)
	if err != nil {
		return response{}, queryError(err)
	}
	return ok(api.FlowVerifyResult{Access: res.Access, RuleName: res.RuleName, Explanation: eng.ExplainVerify(q, res)})
}

// nextHop answers POST …/networkWatchers/{nw}/nextHop.
func (s *Server) nextHop(ctx context.Context, rq *request) (response, error) {
	var req api.NextHopRequest
	if err := decodeBody(rq.body, &req); err != nil {
		return response{}, err
	}
	var l armerror.List
	nic, err := targetNIC(req.TargetResourceID, req.TargetNicResourceID)
	if err != nil {
		e, _ := armerror.As(err)
		l.Add(e)
	}
	src := addr(&l, "sourceIPAddress", req.SourceIPAddress)
	dst := addr(&l, "destinationIPAddress", req.DestinationIPAddress)
	if l.Len() > 0 {
		return response{}, l.In("the request body")
	}
	eng, err := s.watcherEngine(ctx, rq, nic)
	if err != nil {
		return response{}, err
	}
	res, err := eng.NextHop(nic, src, dst)
	if err != nil {
		return response{}, queryError(err)
	}
	return ok(api.NextHopResult{NextHopType: res.NextHopType, NextHopIPAddress: res.NextHopIPAddress,
		RouteTableID: res.RouteTableID, Explanation: flow.ExplainNextHop(src, dst, res)})
}

// effectiveNSGs answers POST …/networkInterfaces/{nic}/effectiveNetworkSecurityGroups.
func (s *Server) effectiveNSGs(ctx context.Context, rq *request) (response, error) {
	res, err := s.engine().eng.EffectiveNSGs(rq.target.id.ID)
	if err != nil {
		return response{}, queryError(err)
	}
	return ok(res)
}

// effectiveRoutes answers POST …/networkInterfaces/{nic}/effectiveRouteTable.
func (s *Server) effectiveRoutes(ctx context.Context, rq *request) (response, error) {
	res, err := s.engine().eng.EffectiveRoutes(rq.target.id.ID)
	if err != nil {
		return response{}, queryError(err)
	}
	return ok(res)
}

// queryError turns the engine's query errors into ARM's shape: an unknown
// NIC is NotFound, anything else names the offending field.
func queryError(err error) error {
	var qe *flow.QueryError
	if errors.As(err, &qe) {
		if qe.Field == "targetResourceId" || errors.Is(qe.Err, flow.ErrNotFound) {
			return armerror.New(codeNotFound, qe.Field, "%v", qe.Err)
		}
		return armerror.New(codeInvalidParameter, qe.Field, "%v", qe.Err)
	}
	return err
}

func addr(l *armerror.List, field, s string) netip.Addr {
	if s == "" {
		l.Addf(codeInvalidParameter, field, "%s is required.", field)
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		l.Addf(codeInvalidParameter, field, "%s %q is not an IP address.", field, s)
	}
	return a
}

// addrPort parses an address and a port ("*" is port 0, as Network
// Watcher accepts for any port).
func addrPort(l *armerror.List, afield, a, pfield, p string) netip.AddrPort {
	ad := addr(l, afield, a)
	var port uint64
	switch p {
	case "":
		l.Addf(codeInvalidParameter, pfield, "%s is required: a port number, or * for any.", pfield)
	case "*":
	default:
		var err error
		port, err = strconv.ParseUint(p, 10, 16)
		if err != nil {
			l.Addf(codeInvalidParameter, pfield, "%s %q is not a port number (0-65535) or *.", pfield, p)
		}
	}
	return netip.AddrPortFrom(ad, uint16(port))
}
