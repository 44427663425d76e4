package flow

import (
	"net/netip"
	"sync"

	"github.com/vnetml/vnetml/internal/network"
)

// FlowKey identifies a connection by its 5-tuple, as seen by its initiator.
type FlowKey struct {
	Proto network.Protocol
	Src   netip.AddrPort
	Dst   netip.AddrPort
}

// Reverse is the key of the return direction.
func (k FlowKey) Reverse() FlowKey { return FlowKey{Proto: k.Proto, Src: k.Dst, Dst: k.Src} }

// Tracker records admitted flows so that their return traffic is admitted
// whatever the rules of the reverse direction say, and so that flows
// admitted before an engine swap survive it (spec §1.5: NSGs are stateful,
// and rule edits affect new flows only). It is safe for concurrent use; the
// zero value is ready. Entries live until Forget: a data plane forgets a
// flow when its connection closes (it does not yet expire idle flows).
type Tracker struct {
	mu    sync.RWMutex
	flows map[FlowKey]struct{}
}

// Admit records an admitted flow.
func (t *Tracker) Admit(k FlowKey) {
	t.mu.Lock()
	if t.flows == nil {
		t.flows = map[FlowKey]struct{}{}
	}
	t.flows[k] = struct{}{}
	t.mu.Unlock()
}

// Established reports whether k belongs to an admitted flow, in either
// direction: the flow itself, or its return traffic.
func (t *Tracker) Established(k FlowKey) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, fwd := t.flows[k]
	_, rev := t.flows[k.Reverse()]
	return fwd || rev
}

// Forget removes a flow when its connection ends.
func (t *Tracker) Forget(k FlowKey) {
	t.mu.Lock()
	delete(t.flows, k)
	t.mu.Unlock()
}

// Len reports the number of tracked flows.
func (t *Tracker) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.flows)
}
