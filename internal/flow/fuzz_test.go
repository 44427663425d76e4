package flow_test

import (
	"net/netip"
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// FuzzQueries: no query panics the engine, whatever the addresses, ports,
// protocols or references; answers are Allow or Deny, and a path's
// verdict agrees with its hops.
func FuzzQueries(f *testing.F) {
	e := amlNetFuzz(f)
	f.Add("node0", uint8(6), []byte{10, 0, 0, 5}, []byte{198, 18, 3, 9}, uint16(29876), uint16(443), false, false)
	f.Add("fw", uint8(17), []byte{10, 0, 1, 4}, []byte{8, 8, 8, 8}, uint16(0), uint16(65535), true, true)
	f.Add("", uint8(1), []byte{203, 0, 113, 7}, []byte{198, 18, 1, 4}, uint16(1), uint16(443), false, true)
	f.Add("node0", uint8(50), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, []byte{255, 255, 255, 255}, uint16(7), uint16(7), true, false)
	f.Fuzz(func(t *testing.T, nic string, proto uint8, a, b []byte, sport, dport uint16, inbound, service bool) {
		src, ok1 := netip.AddrFromSlice(a)
		dst, ok2 := netip.AddrFromSlice(b)
		if !ok1 || !ok2 {
			return
		}
		dir := flow.Outbound
		if inbound {
			dir = flow.Inbound
		}
		q := flow.VerifyQuery{NIC: nic, Direction: dir, Protocol: network.Protocol(proto),
			Local: netip.AddrPortFrom(src, sport), Remote: netip.AddrPortFrom(dst, dport)}
		if r, err := e.IPFlowVerify(q); err == nil && r.Access != "Allow" && r.Access != "Deny" {
			t.Fatalf("IPFlowVerify: %+v", r)
		}
		_, _ = e.NextHop(nic, src, dst)
		_, _ = e.EffectiveNSGs(nic)
		_, _ = e.EffectiveRoutes(nic)
		from := flow.Endpoint{NIC: nic, Addr: src}
		to := flow.Endpoint{Addr: dst}
		if service {
			to.Service = storageID
		}
		v, err := e.Path(from, to, network.Protocol(proto), sport, dport)
		if err != nil {
			return
		}
		if (v.Access == flow.Deny) != (v.Refusal() != nil) {
			t.Fatalf("verdict %v disagrees with hops %+v", v.Access, v.Hops)
		}
		_ = v.Explain()
	})
}

func amlNetFuzz(f *testing.F) *flow.Engine {
	tunnel := `[{"name":"to-fw","properties":{"addressPrefix":"0.0.0.0/0","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.1.4"}},
	  {"name":"bnm","properties":{"addressPrefix":"BatchNodeManagement.EastUS","nextHopType":"Internet"}}]`
	acl := `"networkAcls":{"defaultAction":"Deny","ipRules":[{"value":"203.0.113.0/28"}]}`
	return amlNet(f, []string{allowBNM, denyAllIn}, tunnel, `,"serviceEndpoints":[{"service":"Microsoft.Storage"}]`, acl, acl)
}
