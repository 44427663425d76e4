//go:build linux

package linux

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/linux/nflog"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// The kernel decides the flows of processes inside the namespaces on its
// own; its rules log what they admit and refuse (NFLOG), and each router's
// reader turns those packets into flow log records, explained by the
// engine. Flows dialed through the fabric are logged by Dial already.

// startReader opens r's NFLOG reader and feeds the flow log from it.
func (f *Fabric) startReader(r *router) (closer, error) {
	var rd *nflog.Reader
	if err := r.ns.do(func() error {
		var err error
		rd, err = nflog.Open(logGroup)
		return err
	}); err != nil {
		return nil, fmt.Errorf("reading the kernel's flow log: %w", err)
	}
	kl := &kernelLog{f: f, r: r, seen: map[flowTuple]time.Time{}, rd: rd, sweepAt: 4096}
	go func() {
		for {
			pkts, err := rd.Read()
			switch {
			case kl.closed.Load() || errors.Is(err, nflog.ErrClosed):
				return
			case errors.Is(err, nflog.ErrOverflow):
				f.log.Warn("fabric: the kernel logged flows faster than they were read; some are missing from the flow log", "router", r.ns.name, "lost", rd.Lost())
				continue
			case err != nil && !errors.Is(err, nflog.ErrMalformed):
				f.log.Warn("fabric: reading the kernel's flow log", "router", r.ns.name, "error", err)
				continue
			}
			for _, p := range pkts {
				kl.record(p)
			}
		}
	}()
	return kl, nil
}

// Close stops the reader.
func (kl *kernelLog) Close() error {
	kl.closed.Store(true)
	return kl.rd.Close()
}

type flowTuple struct {
	proto    uint8
	src, dst netip.AddrPort
	kind     string
}

// kernelLog is one router's reader state: the tuples logged lately (a SYN
// sent again, or seen twice on its way through an appliance, is one flow).
type kernelLog struct {
	f       *Fabric
	r       *router
	rd      *nflog.Reader
	closed  atomic.Bool
	mu      sync.Mutex
	seen    map[flowTuple]time.Time
	sweepAt int // the size of seen at which old tuples are swept
	// sec, logged and dropped count this second's records, so that one
	// job's flood cannot flush the flow log (kernelLogPerSecond).
	sec             int64
	logged, dropped int
}

// kernelLogPerSecond bounds the records one VNet's kernel decisions add
// to the flow log a second; the rest are counted in one record.
const kernelLogPerSecond = 200

// dedupWindow is how long a flow's tuple is remembered: long enough for
// a SYN's first retransmissions (1 s, then 2 s later).
const dedupWindow = 5 * time.Second

func (kl *kernelLog) record(p nflog.Packet) {
	if p.Proto != 6 && p.Proto != 17 {
		return
	}
	kind := p.Prefix
	t := flowTuple{p.Proto, p.Src, p.Dst, kind}
	now := time.Now()
	kl.mu.Lock()
	if at, ok := kl.seen[t]; ok && now.Sub(at) < dedupWindow {
		kl.mu.Unlock()
		return
	}
	if len(kl.seen) > kl.sweepAt {
		// Swept when it doubles: the cost stays proportional to the
		// records, however fast flows come.
		for k, at := range kl.seen {
			if now.Sub(at) >= dedupWindow {
				delete(kl.seen, k)
			}
		}
		kl.sweepAt = max(2*len(kl.seen), 4096)
	}
	kl.seen[t] = now
	if s := now.Unix(); s != kl.sec {
		if kl.dropped > 0 {
			kl.f.flows.Append(kl.floodRecord(now, kl.dropped))
		}
		kl.sec, kl.logged, kl.dropped = s, 0, 0
	}
	kl.logged++
	if kl.logged > kernelLogPerSecond {
		kl.dropped++
		first := kl.dropped == 1
		kl.mu.Unlock()
		if first {
			kl.f.flows.Append(kl.floodRecord(now, 0))
		}
		return
	}
	kl.mu.Unlock()

	f := kl.f
	if kind == logAdmitted {
		if _, ok := f.dialed.take([2]netip.AddrPort{p.Src, p.Dst}); ok {
			return // Dial logged it
		}
	}
	eng := f.eng.Load()
	src, dst := kl.endpoint(eng, p.InDev, p.Src.Addr()), kl.endpoint(eng, p.OutDev, p.Dst.Addr())
	if kind == logSpoofed {
		src.NIC = kl.nicAt(eng, p.InDev)
	}
	proto := "T"
	if p.Proto == 17 {
		proto = "U"
	}
	rec := fabric.Record{Time: now, Proto: proto, Src: p.Src.String(), Dst: p.Dst.String(), SrcNIC: src.NIC, DstNIC: dst.NIC,
		Decision: "A", State: "B", Stage: "kernel"}
	switch kind {
	case logSpoofed:
		rec.Decision = "D"
		rec.Stage = "NSG outbound"
		rec.Reason = fmt.Sprintf("source %s is not an address of the network interface it came from, which does not forward (IP forwarding is off): dropped as Azure drops spoofed packets", p.Src.Addr())
		if src.NIC != "" {
			rec.Reason = fmt.Sprintf("source %s is not an address of network interface %s, which does not forward (IP forwarding is off): dropped as Azure drops spoofed packets", p.Src.Addr(), src.NIC)
		}
		rec.SrcNIC = src.NIC
	case logAdmitted, logDenied:
		if eng == nil {
			break
		}
		v, err := eng.Path(src.FlowEndpoint(), dst.FlowEndpoint(), network.Protocol(p.Proto), p.Src.Port(), p.Dst.Port())
		if err != nil {
			rec.Reason = err.Error()
			if kind == logDenied {
				rec.Decision = "D"
			}
			break
		}
		r := fabric.RecordOf(src, p.Src.Port(), dst, p.Dst.Port(), &v)
		r.Proto, r.Src, r.Dst = proto, rec.Src, rec.Dst
		if (kind == logDenied) != (v.Access == flow.Deny) {
			f.log.Error("fabric: the kernel and the engine disagree", "kernel", kind, "verdict", v.Explain())
			r.Reason = "the kernel decided " + map[bool]string{true: "deny", false: "allow"}[kind == logDenied] + ", the engine: " + v.Explain()
			r.Decision = map[bool]string{true: "D", false: "A"}[kind == logDenied]
		}
		rec = r
	default:
		return
	}
	f.flows.Append(rec)
}

// endpoint places an address seen on one of the router's interfaces: the
// port behind the interface (ifindex), else an outside address.
func (kl *kernelLog) endpoint(eng *flow.Engine, ifindex uint32, a netip.Addr) fabric.Endpoint {
	if ifindex == 0 || eng == nil {
		return fabric.Endpoint{Addr: a}
	}
	t := kl.f.topo.Load()
	for _, pt := range t.ports {
		if pt.router == kl.r && pt.ifindex == ifindex && slices.Contains(t.addrs[pt], a) {
			if n, err := eng.NIC(pt.key.nic); err == nil {
				return fabric.Endpoint{NIC: n.ID, Addr: a}
			}
		}
	}
	// Forwarded by an appliance: the NIC of the VNet holding the source.
	for _, ic := range eng.IPConfigsAt(a) {
		if network.Key(ic.Subnet.VNet.ID) == kl.r.key {
			return fabric.Endpoint{NIC: ic.NIC.ID, Addr: a}
		}
	}
	return fabric.Endpoint{Addr: a}
}

// nicAt names the network interface of the router's port at ifindex.
func (kl *kernelLog) nicAt(eng *flow.Engine, ifindex uint32) string {
	if eng == nil || ifindex == 0 {
		return ""
	}
	for _, pt := range kl.f.topo.Load().ports {
		if pt.router == kl.r && pt.ifindex == ifindex {
			if n, err := eng.NIC(pt.key.nic); err == nil {
				return n.ID
			}
		}
	}
	return ""
}

// floodRecord says that the VNet's kernel decided more flows in a second
// than the flow log takes: how many were left out (0: from now on, this
// second).
func (kl *kernelLog) floodRecord(now time.Time, n int) fabric.Record {
	why := fmt.Sprintf("more than %d flows in a second in this virtual network (%s): the rest of this second's are counted, not logged", kernelLogPerSecond, kl.r.key)
	if n > 0 {
		why = fmt.Sprintf("%d more flows in the second before in this virtual network (%s) were not logged", n, kl.r.key)
	}
	return fabric.Record{Time: now, Proto: "T", Src: "kernel", Decision: "A", State: "B", Stage: "kernel", Reason: why}
}
