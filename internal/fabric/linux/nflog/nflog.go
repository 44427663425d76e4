// Package nflog reads the packets that nftables rules log to a netlink
// group — `log group N prefix "..."` — so that the kernel's own accepts
// and drops in a network namespace can become flow-log records. It owns
// the NFLOG wire format (nfnetlink_log over NETLINK_NETFILTER) and nothing
// else: writing rules and entering namespaces belong to its caller.
//
// Open binds a group in the calling thread's network namespace and
// returns a Reader; Read returns the IPv4 packets logged to it. Parse
// decodes one datagram without a socket.
//
// What the kernel does, which shapes the API:
//   - Groups belong to a network namespace: the same group number can be
//     bound once in every namespace, each Reader sees only the packets
//     logged in its own, and a second bind in one namespace fails with
//     EPERM. Rules may log to a group nobody has bound: the kernel
//     discards those packets.
//   - A socket stays in the namespace it was created in, so a Reader
//     opened on a thread that entered a namespace may then be read from
//     any goroutine.
//   - When the socket's receive buffer overflows the kernel drops
//     messages, and then every new one until the queue has been read dry;
//     Read reports the overflow once (ErrOverflow) and Lost counts what
//     was dropped.
//   - A rule can only lower what the Reader asks: its `snaplen` shortens
//     the copy (ports then read as zero), its `queue-threshold` the batch,
//     which is already one message per datagram.
package nflog

import (
	"errors"
	"net/netip"
)

// Packet is one logged packet: the facts of its IPv4 and transport
// headers, and where and why it was logged.
type Packet struct {
	// Prefix is the logging rule's prefix ("" if it has none).
	Prefix string
	// Proto is the IP protocol number: 6 TCP, 17 UDP, 1 ICMP.
	Proto uint8
	// Src and Dst are the packet's addresses and ports. Ports are zero
	// for protocols without them, for fragments after the first, and
	// when the copy is too short to hold them.
	Src, Dst netip.AddrPort
	// InDev and OutDev are the indexes of the interfaces the packet came
	// in on and goes out of (NFULA_IFINDEX_INDEV/OUTDEV), zero if none:
	// the output hook has no InDev, the input hook no OutDev.
	InDev, OutDev uint32
	// TCPFlags is a TCP packet's flags byte (FIN 0x01, SYN 0x02, RST 0x04,
	// PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80); zero otherwise.
	TCPFlags uint8
}

// TCP flags, as in Packet.TCPFlags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
	URG = 0x20
	ECE = 0x40
	CWR = 0x80
)

var (
	// ErrOverflow is returned by Read when the kernel had to drop
	// messages because the socket's receive buffer was full. The Reader
	// goes on working; Lost says how many were dropped once later
	// messages arrive.
	ErrOverflow = errors.New("nflog: receive buffer overflowed, messages were dropped")
	// ErrClosed is returned by Read once the Reader is closed.
	ErrClosed = errors.New("nflog: reader closed")
)
