package fabric

import (
	"net/netip"
	"testing"
)

func TestNames(t *testing.T) {
	var n Names
	a := netip.MustParseAddr("198.18.1.4")
	n.Set("MyStore.blob.core.windows.net.", a)
	for _, name := range []string{"mystore.blob.core.windows.net", "MYSTORE.BLOB.CORE.WINDOWS.NET."} {
		if got, ok := n.Resolve(name); !ok || got != a {
			t.Errorf("Resolve(%q) = %v, %v; want %v", name, got, ok, a)
		}
	}
	if got, ok := n.Resolve("10.0.0.4"); !ok || got != netip.MustParseAddr("10.0.0.4") {
		t.Errorf("an IPv4 literal resolves to %v, %v", got, ok)
	}
	if _, ok := n.Lookup("10.0.0.4"); ok {
		t.Error("Lookup took a literal for a name")
	}
	if _, ok := n.Resolve("::1"); ok {
		t.Error("an IPv6 literal resolved")
	}
	n.Set("mystore.blob.core.windows.net", netip.Addr{})
	if _, ok := n.Resolve("mystore.blob.core.windows.net"); ok {
		t.Error("a removed name still resolves")
	}
}
