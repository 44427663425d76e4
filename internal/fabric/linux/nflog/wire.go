package nflog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrMalformed is wrapped by the error Parse and Read return for bytes
// they cannot read: a netlink header or attribute whose length does not
// fit, or an IPv4 header that contradicts itself. Such an error is not
// fatal: the packets returned with it are good.
var ErrMalformed = errors.New("nflog: malformed message")

// Wire constants of nfnetlink_log, from include/uapi/linux/netfilter/
// nfnetlink_log.h (x/sys/unix has only some of them).
const (
	nfnlSubsysULOG = 4 // NFNL_SUBSYS_ULOG

	nfulnlMsgPacket = 0 // NFULNL_MSG_PACKET
	nfulnlMsgConfig = 1 // NFULNL_MSG_CONFIG

	// enum nfulnl_attr_type
	nfulaPacketHdr     = 1  // struct nfulnl_msg_packet_hdr
	nfulaIfindexInDev  = 4  // __be32
	nfulaIfindexOutDev = 5  // __be32
	nfulaPayload       = 9  // the packet from its network header
	nfulaPrefix        = 10 // NUL-terminated
	nfulaSeq           = 12 // __be32, per instance, with NFULNL_CFG_F_SEQ

	// enum nfulnl_attr_config
	nfulaCfgCmd     = 1 // struct nfulnl_msg_config_cmd
	nfulaCfgMode    = 2 // struct nfulnl_msg_config_mode (packed, 6 bytes)
	nfulaCfgTimeout = 4 // __be32, hundredths of a second (3 is NLBUFSIZ)
	nfulaCfgQthresh = 5 // __be32, messages
	nfulaCfgFlags   = 6 // __be16

	nfulnlCfgCmdBind = 1      // NFULNL_CFG_CMD_BIND
	nfulnlCopyPacket = 2      // NFULNL_COPY_PACKET
	nfulnlCfgFSeq    = 0x0001 // NFULNL_CFG_F_SEQ

	nlmsgHdrLen   = 16     // sizeof(struct nlmsghdr)
	nfgenLen      = 4      // sizeof(struct nfgenmsg)
	nlaHdrLen     = 4      // sizeof(struct nlattr)
	nlaTypeMask   = 0x3fff // NLA_TYPE_MASK: without NLA_F_NESTED, NLA_F_NET_BYTEORDER
	nlmsgError    = 2      // NLMSG_ERROR
	nfprotoIPv4   = 2      // NFPROTO_IPV4 (= AF_INET)
	nfprotoNetdev = 5      // NFPROTO_NETDEV
	nfprotoBridge = 7      // NFPROTO_BRIDGE
	ethPIP        = 0x0800 // ETH_P_IP
)

// msgPacket is the netlink message type of a logged packet.
const msgPacket = nfnlSubsysULOG<<8 | nfulnlMsgPacket

// maxIntern bounds the prefixes a parser keeps: a ruleset has a handful,
// and a hostile or buggy stream must not grow memory without bound.
const maxIntern = 1024

var (
	ne = binary.NativeEndian // netlink headers are in host order
	be = binary.BigEndian    // nfnetlink_log attributes and IP in network order
)

// Parse decodes one netlink datagram — as received from an NFLOG socket,
// which may hold many messages — into the IPv4 packets it logs, in order.
//
// It skips, without error, messages that are not NFLOG packets (acks,
// NLMSG_DONE, other subsystems) and packets that are not IPv4 (IPv6, ARP,
// a bridge's non-IP frames, or no payload at all). For anything it cannot
// read it returns an error wrapping ErrMalformed, the first one met,
// together with every packet it could read: a bad attribute or IP header
// skips its message; a netlink header whose length cannot be trusted ends
// the datagram, since the next message cannot be found. It never panics
// and never reads outside b.
func Parse(b []byte) ([]Packet, error) {
	var p parser
	return p.parse(b, nil)
}

// parser decodes datagrams; it keeps state across them (interned
// prefixes, the expected sequence number) so that Reader allocates
// nothing per packet.
type parser struct {
	intern map[string]string
	// next is the NFULA_SEQ expected next; the instance's count starts at
	// zero when it is bound, so loss before the first message counts too.
	next uint32
	// lost counts the messages skipped in the sequence (see Reader.Lost).
	lost uint64
}

// parse appends to dst the packets of datagram b.
func (p *parser) parse(b []byte, dst []Packet) ([]Packet, error) {
	var first error
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return dst, firstOf(first, malformed("netlink header truncated: %d bytes", len(b)))
		}
		l := ne.Uint32(b[0:4])
		if l < nlmsgHdrLen || uint64(l) > uint64(len(b)) {
			return dst, firstOf(first, malformed("netlink message length %d, %d bytes left", l, len(b)))
		}
		typ := ne.Uint16(b[4:6])
		msg := b[nlmsgHdrLen:l]
		b = b[min(align4(int(l)), len(b)):]
		if typ != msgPacket {
			continue
		}
		var err error
		dst, err = p.packet(msg, dst)
		first = firstOf(first, err)
	}
	return dst, first
}

// packet appends the packet of one NFULNL_MSG_PACKET message (the bytes
// after its netlink header), if it is IPv4.
func (p *parser) packet(msg []byte, dst []Packet) ([]Packet, error) {
	if len(msg) < nfgenLen {
		return dst, malformed("nfgenmsg truncated: %d bytes", len(msg))
	}
	family := msg[0]
	var (
		pkt            Packet
		prefix         []byte
		payload        []byte
		hwProto        uint16
		seq            uint32
		hasSeq, hasHdr bool
	)
	attrs := msg[nfgenLen:]
	for len(attrs) >= nlaHdrLen {
		al := ne.Uint16(attrs[0:2])
		at := ne.Uint16(attrs[2:4]) & nlaTypeMask
		if al < nlaHdrLen || int(al) > len(attrs) {
			return dst, malformed("attribute %d length %d, %d bytes left", at, al, len(attrs))
		}
		data := attrs[nlaHdrLen:al]
		attrs = attrs[min(align4(int(al)), len(attrs)):]
		switch at {
		case nfulaPacketHdr:
			if len(data) < 4 {
				return dst, malformed("packet header attribute of %d bytes", len(data))
			}
			hwProto, hasHdr = be.Uint16(data[0:2]), true
		case nfulaIfindexInDev, nfulaIfindexOutDev, nfulaSeq:
			if len(data) != 4 {
				return dst, malformed("attribute %d of %d bytes, want 4", at, len(data))
			}
			v := be.Uint32(data)
			switch at {
			case nfulaIfindexInDev:
				pkt.InDev = v
			case nfulaIfindexOutDev:
				pkt.OutDev = v
			default:
				seq, hasSeq = v, true
			}
		case nfulaPayload:
			payload = data
		case nfulaPrefix:
			prefix = data
			if i := bytes.IndexByte(prefix, 0); i >= 0 {
				prefix = prefix[:i]
			}
		}
	}
	if len(attrs) != 0 {
		return dst, malformed("%d bytes after the last attribute", len(attrs))
	}
	if hasSeq {
		// A forward gap is loss; anything else (impossible from the
		// kernel) resynchronises rather than counting ~4 billion.
		if gap := seq - p.next; gap != 0 && gap < 1<<31 {
			p.lost += uint64(gap)
		}
		p.next = seq + 1
	}
	switch {
	case family == nfprotoIPv4:
	case (family == nfprotoBridge || family == nfprotoNetdev) && hasHdr && hwProto == ethPIP:
		// A bridge's or device's IPv4 frame: the payload still starts
		// at the network header.
	default:
		return dst, nil
	}
	if len(payload) == 0 {
		return dst, nil // copy mode none or meta: nothing to report
	}
	if err := parseIPv4(payload, &pkt); err != nil {
		return dst, err
	}
	pkt.Prefix = p.str(prefix)
	return append(dst, pkt), nil
}

// parseIPv4 fills the protocol, addresses, ports and TCP flags of pkt from
// an IPv4 packet (RFC 791 §3.1), which may be cut short by the copy range
// or a rule's snaplen: only the IP header must be whole.
func parseIPv4(b []byte, pkt *Packet) error {
	if len(b) < 20 {
		return malformed("IPv4 header truncated: %d bytes", len(b))
	}
	if v := b[0] >> 4; v != 4 {
		return malformed("IP version %d in an IPv4 message", v)
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return malformed("IPv4 header length %d", ihl)
	}
	if ihl > len(b) {
		return malformed("IPv4 options truncated: header %d bytes, %d captured", ihl, len(b))
	}
	// A total length of zero is how GSO and BIG TCP packets larger than
	// 64 KiB say "see the buffer"; otherwise it bounds the capture (a
	// frame can be padded).
	if tot := int(be.Uint16(b[2:4])); tot != 0 {
		if tot < ihl {
			return malformed("IPv4 total length %d below header length %d", tot, ihl)
		}
		b = b[:min(tot, len(b))]
	}
	pkt.Proto = b[9]
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	var sport, dport uint16
	// Only the first fragment (offset zero) carries the transport header.
	if l4 := b[ihl:]; be.Uint16(b[6:8])&0x1fff == 0 && hasPorts(pkt.Proto) && len(l4) >= 4 {
		sport, dport = be.Uint16(l4[0:2]), be.Uint16(l4[2:4])
		if pkt.Proto == 6 && len(l4) >= 14 {
			pkt.TCPFlags = l4[13] // RFC 9293 §3.1: CWR ECE URG ACK PSH RST SYN FIN
		}
	}
	pkt.Src, pkt.Dst = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	return nil
}

// hasPorts reports whether a transport protocol starts with 16-bit source
// and destination ports.
func hasPorts(proto uint8) bool {
	switch proto {
	case 6, 17, 33, 132, 136: // TCP, UDP, DCCP, SCTP, UDP-Lite
		return true
	}
	return false
}

// str returns b as a string, the same string for the same bytes.
func (p *parser) str(b []byte) string {
	if s, ok := p.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if p.intern == nil {
		p.intern = make(map[string]string)
	}
	if len(p.intern) < maxIntern {
		p.intern[s] = s
	}
	return s
}

// appendAttr appends a netlink attribute, padded to four bytes.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = ne.AppendUint16(b, uint16(nlaHdrLen+len(data)))
	b = ne.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func align4(n int) int { return (n + 3) &^ 3 }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func firstOf(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
