package apiserver

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/store"
)

// maxFlowLogWait bounds a long poll of the flow log.
const maxFlowLogWait = 60 * time.Second

// listFlowLogs answers GET /providers/vnetml.Network/flowLogs: the
// fabric's decisions, oldest first, NSG flow log style. Query parameters:
// nic (an id or a name), address, decision (Allow/Deny), after (a seq from
// an earlier answer's "next"), limit (default and at most 1,000), and wait
// (e.g. 30s: when nothing is new, wait up to that long — how `vnetml
// network flow-log --follow` follows). A caller sees the records of the
// network interfaces it may read; records between outside addresses only
// (a platform service and an Internet client) need a role on "/".
func (s *Server) listFlowLogs(ctx context.Context, rq *request) (response, error) {
	if s.fab == nil {
		return response{}, armerror.New(codeNotSupported, "", "This server runs no data plane, so there is no flow log.")
	}
	var l armerror.List
	f := fabric.Filter{NIC: rq.query("nic")}
	if a := rq.query("address"); a != "" {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			l.Addf(store.CodeInvalidQuery, "address", "address=%q is not an IP address.", a)
		}
		f.Addr = addr
	}
	switch d := strings.ToLower(rq.query("decision")); d {
	case "":
	case "a", "allow", "allowed":
		f.Decision = "A"
	case "d", "deny", "denied":
		f.Decision = "D"
	default:
		l.Addf(store.CodeInvalidQuery, "decision", "decision=%q is not Allow or Deny.", d)
	}
	after := parseUint(&l, rq.query("after"), "after", 0)
	limit := int(parseUint(&l, rq.query("limit"), "limit", 1000))
	limit = min(max(limit, 1), 1000)
	var wait time.Duration
	if w := rq.query("wait"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 {
			l.Addf(store.CodeInvalidQuery, "wait", "wait=%q is not a duration such as 30s.", w)
		}
		wait = min(d, maxFlowLogWait)
	}
	if e := l.In("the query"); e != nil {
		return response{}, e
	}
	out := struct {
		Value     []flowRecord `json:"value"`
		Next      uint64       `json:"next"`
		Truncated bool         `json:"truncated,omitempty"` // records after the cursor were dropped from the log
		Reset     bool         `json:"reset,omitempty"`     // the cursor was from before a restart: this starts over
	}{Value: []flowRecord{}}
	// The limit counts what the caller may see.
	match := func(r *fabric.Record) bool { return f.Matches(r) && visible(rq.principal, r) }
	deadline := time.Now().Add(wait)
	for {
		recs, last, truncated, reset := s.fab.Log().Query(match, after, limit)
		for _, r := range recs {
			out.Value = append(out.Value, flowRecord{Record: redact(rq.principal, r), FlowTuple: r.Tuple()})
		}
		out.Next, out.Truncated, out.Reset = last, out.Truncated || truncated, out.Reset || reset
		after = last
		if len(out.Value) > 0 || wait == 0 || !time.Now().Before(deadline) {
			return ok(out)
		}
		wctx, cancel := context.WithDeadline(ctx, deadline)
		err := s.fab.Log().Wait(wctx, after)
		cancel()
		if err != nil && ctx.Err() != nil {
			return response{}, ctx.Err()
		}
	}
}

// redact hides the deciding rule of a record from a caller who may see the
// flow (a NIC of its) but not the resource that decided it (another
// group's NSG).
func redact(p auth.Principal, r fabric.Record) fabric.Record {
	if r.Resource != "" && auth.Authorize(p, auth.Read, r.Resource) != nil {
		r.Rule, r.Resource = "", ""
		r.Reason = "denied by a rule of a resource this token may not read"
		if r.Decision == "A" {
			r.Reason = ""
		}
	}
	return r
}

// flowRecord is a record with its NSG flow log (v2) tuple.
type flowRecord struct {
	fabric.Record
	FlowTuple string `json:"flowTuple"`
}

// visible reports whether p may see a flow record.
func visible(p auth.Principal, r *fabric.Record) bool {
	for _, nic := range []string{r.SrcNIC, r.DstNIC} {
		if nic != "" && auth.Authorize(p, auth.Read, nic) == nil {
			return true
		}
	}
	return auth.Authorize(p, auth.Read, "/") == nil
}

func parseUint(l *armerror.List, s, field string, def uint64) uint64 {
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		l.Addf(store.CodeInvalidQuery, field, "%s=%q is not a non-negative integer.", field, s)
	}
	return n
}

// connectivityCheck answers POST …/networkWatchers/{nw}/connectivityCheck
// (Azure's ConnectivityParameters and ConnectivityInformation) by opening a
// real connection through the fabric from the source NIC, so the answer is
// what the data plane does, not only what the rules say.
func (s *Server) connectivityCheck(ctx context.Context, rq *request) (response, error) {
	var req api.ConnectivityRequest
	if err := decodeBody(rq.body, &req); err != nil {
		return response{}, err
	}
	if s.fab == nil {
		return response{}, armerror.New(codeNotSupported, "", "This server runs no data plane, so it cannot send a connection; ask ipFlowVerify instead.")
	}
	var l armerror.List
	nic, err := targetNIC(req.Source.ResourceID, "")
	if err != nil {
		e, _ := armerror.As(err)
		l.Add(e.WithPrefix("source"))
	}
	if req.Protocol != "" && !strings.EqualFold(req.Protocol, "Tcp") {
		l.Addf(codeInvalidParameter, "protocol", "protocol %q: vnetml checks TCP connectivity (Tcp).", req.Protocol)
	}
	dst := addr(&l, "destination.address", req.Destination.Address)
	if req.Destination.Port < 1 || req.Destination.Port > 65535 {
		l.Addf(codeInvalidParameter, "destination.port", "destination.port %d is not a port (1-65535).", req.Destination.Port)
	}
	if l.Len() > 0 {
		return response{}, l.In("the request body")
	}
	if _, err := s.watcherEngine(ctx, rq, nic); err != nil {
		return response{}, err
	}
	to := netip.AddrPortFrom(dst, uint16(req.Destination.Port))
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	c, err := s.fab.Dial(dctx, fabric.Endpoint{NIC: nic}, to)
	ms := int(time.Since(start).Milliseconds())
	out := api.ConnectivityResult{ProbesSent: 1, Hops: []api.ConnectivityHop{{Type: "Source", ResourceID: nic, Issues: []api.ConnectivityIssue{}}}}
	dest := api.ConnectivityHop{Type: "Destination", Address: to.Addr().String(), Issues: []api.ConnectivityIssue{}}
	if err == nil {
		c.Close()
		out.ConnectionStatus = "Reachable"
		out.AvgLatencyInMs, out.MinLatencyInMs, out.MaxLatencyInMs = ms, ms, ms
		out.Hops = append(out.Hops, dest)
		return ok(out)
	}
	var unresolved *fabric.Unresolved
	if errors.As(err, &unresolved) {
		// A source or destination the network does not know: not an
		// answer about connectivity.
		var qe *flow.QueryError
		if errors.As(err, &qe) {
			return response{}, queryError(qe)
		}
		return response{}, armerror.New(codeInvalidParameter, "source", "%v", err)
	}
	out.ConnectionStatus, out.ProbesFailed, out.Explanation = "Unreachable", 1, err.Error()
	issue := api.ConnectivityIssue{Severity: "Error", Type: "Platform", Context: []map[string]string{{"detail": err.Error()}}}
	var denied *fabric.Denied
	if errors.As(err, &denied) {
		if h := denied.Verdict.Refusal(); h != nil {
			issue.Context = []map[string]string{{"RuleName": h.Rule, "Resource": h.Resource}}
			switch h.Stage {
			case flow.StageNSGOut:
				issue.Origin, issue.Type = "Outbound", "NetworkSecurityRule"
			case flow.StageNSGIn:
				issue.Origin, issue.Type = "Inbound", "NetworkSecurityRule"
			case flow.StageAppliance:
				issue.Origin, issue.Type = "Outbound", "NetworkSecurityRule"
				if h.Rule == "" {
					issue.Type = "UserDefinedRoute"
				}
			case flow.StageRoute, flow.StageReturnRoute:
				issue.Origin, issue.Type = "Outbound", "UserDefinedRoute"
			default: // delivery (a firewall refuses requests, not connections: a TCP check reaches it)
				issue.Origin = "Inbound"
			}
		}
	}
	dest.Issues = append(dest.Issues, issue)
	out.Hops = append(out.Hops, dest)
	return ok(out)
}
