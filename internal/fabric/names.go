package fabric

import (
	"net/netip"
	"strings"
	"sync"
)

// Names maps platform host names (mystore.blob.core.windows.net) to
// virtual addresses: what implementations keep for SetName and Resolve.
// Names are case-insensitive and may end with a dot. The zero value is
// ready; it is safe for concurrent use.
type Names struct {
	mu sync.RWMutex
	m  map[string]netip.Addr
}

// Set makes name resolve to addr; an invalid addr removes it.
func (n *Names) Set(name string, addr netip.Addr) {
	name = canonicalName(name)
	n.mu.Lock()
	defer n.mu.Unlock()
	if !addr.IsValid() {
		delete(n.m, name)
		return
	}
	if n.m == nil {
		n.m = map[string]netip.Addr{}
	}
	n.m[name] = addr
}

// Lookup returns the address registered for name.
func (n *Names) Lookup(name string) (netip.Addr, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	a, ok := n.m[canonicalName(name)]
	return a, ok
}

// Resolve is Lookup that also takes an IPv4 literal.
func (n *Names) Resolve(name string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
		return a, true
	}
	return n.Lookup(name)
}

func canonicalName(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }
