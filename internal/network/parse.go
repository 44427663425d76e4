package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Protocol is an IP protocol number; ProtoAny (0) matches every protocol.
type Protocol uint8

// Protocols usable in NSG rules (spec §1.1). Values are IANA protocol numbers.
const (
	ProtoAny  Protocol = 0
	ProtoICMP Protocol = 1
	ProtoTCP  Protocol = 6
	ProtoUDP  Protocol = 17
	ProtoESP  Protocol = 50
	ProtoAH   Protocol = 51
)

// ParseProtocol parses a rule's protocol field: Tcp, Udp, Icmp, Esp, Ah or *
// (case-insensitive, as ARM accepts; "All" as effective rules print it).
func ParseProtocol(s string) (Protocol, bool) {
	switch strings.ToLower(s) {
	case "*", "all", "any":
		return ProtoAny, true
	case "tcp":
		return ProtoTCP, true
	case "udp":
		return ProtoUDP, true
	case "icmp":
		return ProtoICMP, true
	case "esp":
		return ProtoESP, true
	case "ah":
		return ProtoAH, true
	}
	return 0, false
}

// String renders p as ARM's enum spells it.
func (p Protocol) String() string {
	switch p {
	case ProtoAny:
		return "*"
	case ProtoTCP:
		return "Tcp"
	case ProtoUDP:
		return "Udp"
	case ProtoICMP:
		return "Icmp"
	case ProtoESP:
		return "Esp"
	case ProtoAH:
		return "Ah"
	}
	return strconv.Itoa(int(p))
}

// HasPorts reports whether port ranges mean anything for p. NSG port fields
// only restrict TCP and UDP; for other protocols a rule's ports are ignored
// (spec §11.3, decided here).
func (p Protocol) HasPorts() bool { return p == ProtoTCP || p == ProtoUDP }

// PortRange is an inclusive range of ports.
type PortRange struct{ First, Last uint16 }

// AllPorts is 0-65535.
var AllPorts = PortRange{0, 65535}

// Contains reports whether port lies in r.
func (r PortRange) Contains(port uint16) bool { return r.First <= port && port <= r.Last }

// String renders r as ARM does: "*" for all, "N" for one, "A-B" otherwise.
func (r PortRange) String() string {
	switch {
	case r == AllPorts:
		return "*"
	case r.First == r.Last:
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Effective renders r as effective security rules do: "0-65535" for all.
func (r PortRange) Effective() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// ParsePortRange parses "*", "N" or "A-B" with 0 <= A <= B <= 65535.
// Anything else — a comma list, spaces, signs, leading '+' — is rejected,
// as ARM rejects it with SecurityRuleInvalidPortRange.
func ParsePortRange(s string) (PortRange, bool) {
	if s == "*" {
		return AllPorts, true
	}
	a, b, isRange := strings.Cut(s, "-")
	first, ok := parsePort(a)
	if !ok {
		return PortRange{}, false
	}
	if !isRange {
		return PortRange{first, first}, true
	}
	last, ok := parsePort(b)
	if !ok || last < first {
		return PortRange{}, false
	}
	return PortRange{first, last}, true
}

func parsePort(s string) (uint16, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// ParsePrefix parses an IPv4 or IPv6 address or CIDR strictly: a CIDR with
// host bits set is an error whose message names the canonical prefix (as
// Azure's InvalidCIDRNotation does). A bare address is its /32 (or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR prefix", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, &HostBitsError{Given: s, Canonical: m}
	}
	return p, nil
}

// HostBitsError reports a CIDR prefix with host bits set.
type HostBitsError struct {
	Given     string
	Canonical netip.Prefix
}

func (e *HostBitsError) Error() string {
	return fmt.Sprintf("the address prefix %s has an invalid CIDR notation. For the given prefix length, the address prefix should be %s", e.Given, e.Canonical)
}

// LooksLikeAddress reports whether s is written as an address or prefix
// (digits, dots, colons, a slash) rather than a tag name.
func LooksLikeAddress(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == '.' || c == '/' || c == ':' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return strings.ContainsAny(s, ".:")
}
