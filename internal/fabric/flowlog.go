package fabric

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/flow"
)

// Record is one entry of the flow log: a connection decided (state Begin,
// or a Deny), or a connection ended (state End, with its byte counts) —
// the facts an NSG flow log (version 2) records, plus the deciding rule's
// resource and the explanation of a refusal.
type Record struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Proto  string    `json:"protocol"` // T or U
	Src    string    `json:"source"`   // virtual ip:port
	Dst    string    `json:"destination"`
	SrcNIC string    `json:"sourceNic,omitempty"`
	DstNIC string    `json:"destinationNic,omitempty"`
	// Decision is A (allowed) or D (denied).
	Decision string `json:"decision"`
	// State is B (begin) or E (end), as in NSG flow logs: a denied
	// connection is a B record with decision D, and has no end.
	State string `json:"state"`
	// Rule is the deciding rule (securityRules/x, a route's name, a
	// firewall rule); Resource the NSG, route table or service that holds
	// it; Stage where on the path it decided.
	Rule     string `json:"rule,omitempty"`
	Resource string `json:"resource,omitempty"`
	Stage    string `json:"stage,omitempty"`
	// Reason explains a refusal in one line, with the fix.
	Reason string `json:"reason,omitempty"`
	// BytesSent and BytesReceived are counted from the source's side (End
	// records only).
	BytesSent     int64 `json:"bytesSent,omitempty"`
	BytesReceived int64 `json:"bytesReceived,omitempty"`
}

// Tuple renders the record as an NSG flow log version 2 flow tuple:
// "time,src ip,dst ip,src port,dst port,protocol,direction,decision,state,
// packets s→d,bytes s→d,packets d→s,bytes d→s" (packets are not counted:
// a userspace fabric sees streams, not packets; those fields are empty).
func (r *Record) Tuple() string {
	src, _ := netip.ParseAddrPort(r.Src)
	dst, _ := netip.ParseAddrPort(r.Dst)
	dir := "I"
	if r.SrcNIC != "" {
		dir = "O"
	}
	tuple := fmt.Sprintf("%d,%s,%s,%d,%d,%s,%s,%s,%s", r.Time.Unix(), src.Addr(), dst.Addr(), src.Port(), dst.Port(), r.Proto, dir, r.Decision, r.State)
	if r.State == "E" {
		return tuple + fmt.Sprintf(",,%d,,%d", r.BytesSent, r.BytesReceived)
	}
	return tuple + ",,,,"
}

// RecordOf makes the record of a decision.
func RecordOf(src Endpoint, srcPort uint16, dst Endpoint, dstPort uint16, v *flow.PathVerdict) Record {
	r := Record{
		Time: time.Now(), Proto: "T",
		Src:    netip.AddrPortFrom(src.Addr, srcPort).String(),
		Dst:    netip.AddrPortFrom(dst.Addr, dstPort).String(),
		SrcNIC: src.NIC, DstNIC: dst.NIC,
		Decision: "A", State: "B",
	}
	if v == nil {
		return r
	}
	if src.NIC == "" && v.Packet.Src.IsValid() {
		r.Src = netip.AddrPortFrom(v.Packet.Src, v.Packet.SrcPort).String()
	}
	h := v.Refusal()
	if h != nil {
		r.Decision, r.Reason = "D", v.Explain()
	} else {
		// The rule that admitted it: the last NSG on the path (inbound at
		// the destination), else the first hop.
		for i := range v.Hops {
			if v.Hops[i].Stage == flow.StageNSGIn || v.Hops[i].Stage == flow.StageNSGOut {
				h = &v.Hops[i]
			}
		}
		if h == nil && len(v.Hops) > 0 {
			h = &v.Hops[0]
		}
	}
	if h != nil {
		r.Rule, r.Resource, r.Stage = h.Rule, h.Resource, string(h.Stage)
	}
	return r
}

// Filter selects flow log records; the zero value selects all.
type Filter struct {
	NIC      string     // the source or destination NIC (id, case-insensitive; or its name)
	Addr     netip.Addr // the source or destination address
	Decision string     // A or D (or Allow, Deny)
}

// Matches reports whether r passes the filter.
func (f Filter) Matches(r *Record) bool {
	if f.NIC != "" && !nicMatches(f.NIC, r.SrcNIC) && !nicMatches(f.NIC, r.DstNIC) {
		return false
	}
	if f.Addr.IsValid() {
		s, _ := netip.ParseAddrPort(r.Src)
		d, _ := netip.ParseAddrPort(r.Dst)
		if s.Addr() != f.Addr && d.Addr() != f.Addr {
			return false
		}
	}
	if f.Decision != "" && !strings.EqualFold(f.Decision[:1], r.Decision) {
		return false
	}
	return true
}

func nicMatches(want, id string) bool {
	if id == "" {
		return false
	}
	if strings.EqualFold(want, id) {
		return true
	}
	return !strings.Contains(want, "/") && strings.EqualFold(want, id[strings.LastIndexByte(id, '/')+1:])
}

// FlowLog keeps the newest records in a ring. Safe for concurrent use.
type FlowLog struct {
	mu      sync.Mutex
	ring    []Record
	next    uint64        // the seq of the next record; records 1..next-1 were appended
	changed chan struct{} // closed and replaced on every append
}

// DefaultFlowLogSize is how many records a flow log keeps.
const DefaultFlowLogSize = 1 << 16

// NewFlowLog returns a flow log keeping the newest size records.
func NewFlowLog(size int) *FlowLog {
	if size <= 0 {
		size = DefaultFlowLogSize
	}
	return &FlowLog{ring: make([]Record, size), next: 1, changed: make(chan struct{})}
}

// Append adds r, numbering it, and returns its seq.
func (l *FlowLog) Append(r Record) uint64 {
	l.mu.Lock()
	r.Seq = l.next
	l.ring[r.Seq%uint64(len(l.ring))] = r
	l.next++
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return r.Seq
}

// Query returns, oldest first, up to limit records after seq that match
// selects (limit 0: all; a nil match selects all), and the seq to ask
// after next time. A cursor from before the log's oldest record resumes at
// the oldest, with truncated set (records were dropped in between); a
// cursor beyond the newest (from before a restart) starts again from the
// oldest, with reset set.
//
// The ring is scanned in chunks, the lock released between them, so that a
// long query never holds up the Appends of the data plane.
func (l *FlowLog) Query(match func(*Record) bool, after uint64, limit int) (recs []Record, next uint64, truncated, reset bool) {
	const chunk = 1024
	l.mu.Lock()
	if after >= l.next {
		after, reset = 0, after > 0
	}
	l.mu.Unlock()
	next = after
	for {
		l.mu.Lock()
		first := uint64(1)
		if l.next > uint64(len(l.ring)) {
			first = l.next - uint64(len(l.ring))
		}
		if next+1 < first {
			next, truncated = first-1, truncated || after > 0 || first > 1
		}
		end := min(l.next, next+1+chunk)
		for s := next + 1; s < end; s++ {
			r := &l.ring[s%uint64(len(l.ring))]
			next = s
			if match == nil || match(r) {
				recs = append(recs, *r)
				if limit > 0 && len(recs) == limit {
					l.mu.Unlock()
					return recs, next, truncated, reset
				}
			}
		}
		done := end >= l.next
		l.mu.Unlock()
		if done {
			return recs, next, truncated, reset
		}
	}
}

// Wait returns when a record after seq exists (or seq is beyond the
// newest: a cursor from before a restart, which Query resets), or ctx is
// done.
func (l *FlowLog) Wait(ctx context.Context, after uint64) error {
	for {
		l.mu.Lock()
		has, ch := l.next > after+1 || after >= l.next, l.changed
		l.mu.Unlock()
		if has {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
