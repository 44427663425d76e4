package flow

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/vnetml/vnetml/internal/network"
)

// Verdict is a decision: Deny (the zero value) or Allow.
type Verdict uint8

// Verdicts.
const (
	Deny Verdict = iota
	Allow
)

// String renders v as ARM's access enum: "Allow" or "Deny".
func (v Verdict) String() string {
	if v == Allow {
		return network.AccessAllow
	}
	return network.AccessDeny
}

// Direction is a flow's direction relative to a NIC.
type Direction uint8

// Directions, indexing per-direction tables.
const (
	Inbound Direction = iota
	Outbound
)

// String renders d as ARM's direction enum.
func (d Direction) String() string {
	if d == Outbound {
		return network.DirectionOutbound
	}
	return network.DirectionInbound
}

// ParseDirection parses Inbound or Outbound, case-insensitively.
func ParseDirection(s string) (Direction, bool) {
	switch {
	case strings.EqualFold(s, "Inbound"):
		return Inbound, true
	case strings.EqualFold(s, "Outbound"):
		return Outbound, true
	}
	return 0, false
}

// Packet is the 5-tuple a decision is made on. Addresses are IPv4; ports
// are ignored for protocols other than TCP and UDP.
type Packet struct {
	Proto   network.Protocol
	Src     netip.Addr
	Dst     netip.Addr
	SrcPort uint16
	DstPort uint16
}

// Reverse returns the packet of the return direction.
func (p Packet) Reverse() Packet {
	return Packet{Proto: p.Proto, Src: p.Dst, Dst: p.Src, SrcPort: p.DstPort, DstPort: p.SrcPort}
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}
