package network

import (
	"net/netip"
	"testing"
)

func TestFreeAddress(t *testing.T) {
	s := &Subnet{Name: "s", Properties: SubnetProperties{AddressPrefixes: []string{"10.0.0.0/29", "10.0.1.0/30", "10.0.2.0/28"}}}
	used := map[netip.Addr]bool{}
	var got []string
	for {
		a, ok := FreeAddress(s, func(a netip.Addr) bool { return used[a] })
		if !ok {
			break
		}
		used[a] = true
		got = append(got, a.String())
	}
	// /29: .4-.6 usable; /30: none; /28: .4-.14.
	want := []string{"10.0.0.4", "10.0.0.5", "10.0.0.6"}
	for i := 4; i <= 14; i++ {
		want = append(want, netip.AddrFrom4([4]byte{10, 0, 2, byte(i)}).String())
	}
	if len(got) != len(want) {
		t.Fatalf("allocated %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allocated %v, want %v", got, want)
		}
	}
	if n := UsableCount(netip.MustParsePrefix("10.0.0.0/24")); n != 251 {
		t.Errorf("UsableCount(/24) = %d, want 251", n)
	}
	if n := UsableCount(netip.MustParsePrefix("10.0.0.0/30")); n != 0 {
		t.Errorf("UsableCount(/30) = %d, want 0", n)
	}
	if Usable(netip.MustParsePrefix("10.0.0.0/24"), netip.MustParseAddr("10.0.0.255")) {
		t.Error("the broadcast address is usable")
	}
}
