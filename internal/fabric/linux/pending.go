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
// fabric's; no router saw the flow) is dropped once it is older than
// pendingAge, so the table stays small.
type pending[V any] struct {
	mu sync.Mutex
	m  map[[2]netip.AddrPort]pendingEntry[V]
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
	}
	if len(p.m) >= pendingSoft {
		for k, e := range p.m {
			if now.Sub(e.at) > pendingAge {
				delete(p.m, k)
			}
		}
	}
	p.m[k] = pendingEntry[V]{v, now}
}

func (p *pending[V]) take(k [2]netip.AddrPort) (V, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[k]
	delete(p.m, k)
	return e.v, ok
}
