//go:build linux

package linux

import (
	"net/netip"
	"sync"
	"time"
)

// pending holds what Dial leaves for a later reader — a connection's peer
// for its listener, a logged flow for the kernel log — by the flow's
// (source, destination). An entry nobody takes (the listener was not the
// fabric's, a process's; no router saw the flow) is never taken once it
// is older than pendingAge — a later connection with the same addresses
// and ports must not inherit a stale peer — and is dropped by a sweep that
// runs when the table has doubled or pendingAge has passed, so the table
// stays small at a cost proportional to what is put.
type pending[V any] struct {
	mu        sync.Mutex
	m         map[[2]netip.AddrPort]pendingEntry[V]
	sweepAt   int       // the size at which old entries are swept
	lastSweep time.Time // when they last were
}

type pendingEntry[V any] struct {
	v  V
	at time.Time
}

const (
	pendingAge  = time.Minute
	pendingSoft = 1024 // entries past which old ones are swept
)

func (p *pending[V]) put(k [2]netip.AddrPort, v V) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[[2]netip.AddrPort]pendingEntry[V]{}
		p.sweepAt, p.lastSweep = pendingSoft, now
	}
	if len(p.m) >= p.sweepAt || now.Sub(p.lastSweep) > pendingAge {
		for k, e := range p.m {
			if now.Sub(e.at) > pendingAge {
				delete(p.m, k)
			}
		}
		p.sweepAt, p.lastSweep = max(2*len(p.m), pendingSoft), now
	}
	p.m[k] = pendingEntry[V]{v, now}
}

func (p *pending[V]) take(k [2]netip.AddrPort) (V, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[k]
	delete(p.m, k)
	if ok && time.Since(e.at) > pendingAge {
		var zero V
		return zero, false
	}
	return e.v, ok
}
