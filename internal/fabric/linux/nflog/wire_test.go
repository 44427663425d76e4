package nflog

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Builders of NFLOG datagrams, independent of the parser: they follow
// include/uapi/linux/netfilter/nfnetlink_log.h and RFC 791 directly.

// nlmsg is a netlink message of type typ.
func nlmsg(typ uint16, payload []byte) []byte {
	b := ne.AppendUint32(nil, uint32(nlmsgHdrLen+len(payload)))
	b = ne.AppendUint16(b, typ)
	b = ne.AppendUint16(b, 0) // flags
	b = ne.AppendUint32(b, 0) // seq
	b = ne.AppendUint32(b, 0) // pid
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// attr is a netlink attribute, padded.
func attr(typ uint16, data []byte) []byte { return appendAttr(nil, typ, data) }

func u32(v uint32) []byte { return be.AppendUint32(nil, v) }

// nflogMsg is an NFULNL_MSG_PACKET message of family for group 5.
func nflogMsg(family uint8, attrs ...[]byte) []byte {
	payload := []byte{family, 0, 0, 5}
	for _, a := range attrs {
		payload = append(payload, a...)
	}
	return nlmsg(msgPacket, payload)
}

// ipHdr is an IPv4 header with options opts (a multiple of 4 bytes),
// total length tot (0: header and l4 together) and fragment field frag,
// followed by l4.
func ipHdr(proto uint8, src, dst string, opts []byte, tot int, frag uint16, l4 []byte) []byte {
	ihl := 20 + len(opts)
	if tot == 0 {
		tot = ihl + len(l4)
	}
	b := []byte{0x40 | byte(ihl/4), 0}
	b = be.AppendUint16(b, uint16(tot))
	b = be.AppendUint16(b, 0x1234) // id
	b = be.AppendUint16(b, frag)
	b = append(b, 64, proto, 0, 0) // ttl, protocol, checksum (not checked)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	b = append(b, opts...)
	return append(b, l4...)
}

// tcpHdr is a 20-byte TCP header.
func tcpHdr(sport, dport uint16, flags uint8) []byte {
	b := be.AppendUint16(nil, sport)
	b = be.AppendUint16(b, dport)
	b = append(b, 0, 0, 0, 1, 0, 0, 0, 0) // seq, ack
	return append(b, 5<<4, flags, 0xff, 0xff, 0, 0, 0, 0)
}

// udpHdr is an 8-byte UDP header.
func udpHdr(sport, dport uint16) []byte {
	b := be.AppendUint16(nil, sport)
	b = be.AppendUint16(b, dport)
	return append(b, 0, 8, 0, 0)
}

// logged is the message of a packet logged by an IPv4 output hook.
func logged(prefix string, seq uint32, payload []byte) []byte {
	return nflogMsg(nfprotoIPv4,
		attr(nfulaPacketHdr, []byte{0x08, 0x00, 3, 0}),
		attr(nfulaIfindexOutDev, u32(1)),
		attr(nfulaPrefix, append([]byte(prefix), 0)),
		attr(nfulaSeq, u32(seq)),
		attr(nfulaPayload, payload))
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

var (
	syn     = ipHdr(6, "10.0.0.4", "10.0.1.5", nil, 0, 0, tcpHdr(40000, 443, SYN))
	synPkt  = Packet{Prefix: "vml:nsg", Proto: 6, Src: ap("10.0.0.4:40000"), Dst: ap("10.0.1.5:443"), OutDev: 1, TCPFlags: SYN}
	udp     = ipHdr(17, "10.0.0.4", "168.63.129.16", nil, 0, 0, udpHdr(5353, 53))
	udpPkt  = Packet{Prefix: "vml:dns", Proto: 17, Src: ap("10.0.0.4:5353"), Dst: ap("168.63.129.16:53"), OutDev: 1}
	options = []byte{1, 1, 1, 0} // NOP NOP NOP EOL
	maxOpts = bytes.Repeat([]byte{1}, 40)
)

var cmpPackets = cmpopts.EquateComparable(netip.AddrPort{})

func TestParse(t *testing.T) {
	hdr := attr(nfulaPacketHdr, []byte{0x08, 0x00, 3, 0})
	for _, tc := range []struct {
		name string
		in   []byte
		want []Packet
		// bad is whether an error (wrapping ErrMalformed) is expected.
		bad bool
	}{
		{name: "empty", in: nil},
		{name: "tcp syn", in: logged("vml:nsg", 0, syn), want: []Packet{synPkt}},
		{name: "udp", in: logged("vml:dns", 0, udp), want: []Packet{udpPkt}},
		{
			name: "icmp has no ports",
			in:   logged("p", 0, ipHdr(1, "10.0.0.4", "10.0.0.5", nil, 0, 0, []byte{8, 0, 0, 0, 0, 1, 0, 1})),
			want: []Packet{{Prefix: "p", Proto: 1, Src: ap("10.0.0.4:0"), Dst: ap("10.0.0.5:0"), OutDev: 1}},
		},
		{
			name: "sctp has ports",
			in:   logged("p", 0, ipHdr(132, "10.0.0.4", "10.0.0.5", nil, 0, 0, udpHdr(7, 8))),
			want: []Packet{{Prefix: "p", Proto: 132, Src: ap("10.0.0.4:7"), Dst: ap("10.0.0.5:8"), OutDev: 1}},
		},
		{
			name: "ip options",
			in:   logged("vml:nsg", 0, ipHdr(6, "10.0.0.4", "10.0.1.5", options, 0, 0, tcpHdr(40000, 443, SYN))),
			want: []Packet{synPkt},
		},
		{
			name: "most ip options (ihl 15)",
			in:   logged("vml:nsg", 0, ipHdr(6, "10.0.0.4", "10.0.1.5", maxOpts, 0, 0, tcpHdr(40000, 443, SYN))),
			want: []Packet{synPkt},
		},
		{
			name: "first fragment",
			in:   logged("vml:dns", 0, ipHdr(17, "10.0.0.4", "168.63.129.16", nil, 1500, 0x2000, udpHdr(5353, 53))),
			want: []Packet{udpPkt},
		},
		{
			name: "later fragment has no ports",
			in:   logged("vml:dns", 0, ipHdr(17, "10.0.0.4", "168.63.129.16", nil, 0, 185, udpHdr(5353, 53))),
			want: []Packet{{Prefix: "vml:dns", Proto: 17, Src: ap("10.0.0.4:0"), Dst: ap("168.63.129.16:0"), OutDev: 1}},
		},
		{
			name: "last fragment (more-fragments clear) has no flags either",
			in:   logged("vml:nsg", 0, ipHdr(6, "10.0.0.4", "10.0.1.5", nil, 0, 0x1fff, tcpHdr(40000, 443, SYN))),
			want: []Packet{{Prefix: "vml:nsg", Proto: 6, Src: ap("10.0.0.4:0"), Dst: ap("10.0.1.5:0"), OutDev: 1}},
		},
		{
			name: "don't fragment is not a fragment",
			in:   logged("vml:nsg", 0, ipHdr(6, "10.0.0.4", "10.0.1.5", nil, 0, 0x4000, tcpHdr(40000, 443, SYN))),
			want: []Packet{synPkt},
		},
		{
			name: "copy cut short: ports without flags",
			in:   logged("vml:nsg", 0, ipHdr(6, "10.0.0.4", "10.0.1.5", nil, 60, 0, tcpHdr(40000, 443, SYN)[:13])),
			want: []Packet{{Prefix: "vml:nsg", Proto: 6, Src: ap("10.0.0.4:40000"), Dst: ap("10.0.1.5:443"), OutDev: 1}},
		},
		{
			name: "copy cut short: no ports",
			in:   logged("vml:nsg", 0, ipHdr(6, "10.0.0.4", "10.0.1.5", nil, 60, 0, tcpHdr(40000, 443, SYN)[:3])),
			want: []Packet{{Prefix: "vml:nsg", Proto: 6, Src: ap("10.0.0.4:0"), Dst: ap("10.0.1.5:0"), OutDev: 1}},
		},
		{
			name: "padding after the total length is not read",
			in:   logged("vml:nsg", 0, ipHdr(6, "10.0.0.4", "10.0.1.5", nil, 22, 0, tcpHdr(40000, 443, SYN))),
			want: []Packet{{Prefix: "vml:nsg", Proto: 6, Src: ap("10.0.0.4:0"), Dst: ap("10.0.1.5:0"), OutDev: 1}},
		},
		{
			name: "total length 0 (GSO, BIG TCP) reads the capture",
			in: logged("vml:nsg", 0, func() []byte {
				b := slices.Clone(syn)
				b[2], b[3] = 0, 0
				return b
			}()),
			want: []Packet{synPkt},
		},
		{
			name: "input hook: in device, no out device",
			in: nflogMsg(nfprotoIPv4, hdr, attr(nfulaIfindexInDev, u32(7)),
				attr(nfulaPrefix, []byte("vml:nsg\x00")), attr(nfulaPayload, syn)),
			want: []Packet{{Prefix: "vml:nsg", Proto: 6, Src: ap("10.0.0.4:40000"), Dst: ap("10.0.1.5:443"), InDev: 7, TCPFlags: SYN}},
		},
		{
			name: "no prefix",
			in:   nflogMsg(nfprotoIPv4, attr(nfulaPayload, syn)),
			want: []Packet{{Proto: 6, Src: ap("10.0.0.4:40000"), Dst: ap("10.0.1.5:443"), TCPFlags: SYN}},
		},
		{
			name: "prefix without NUL, attributes in another order",
			in:   nflogMsg(nfprotoIPv4, attr(nfulaPayload, syn), attr(nfulaPrefix, []byte("vml:nsg")), attr(nfulaIfindexOutDev, u32(1))),
			want: []Packet{synPkt},
		},
		{
			name: "prefix up to its first NUL",
			in:   nflogMsg(nfprotoIPv4, attr(nfulaPrefix, []byte("vml:nsg\x00junk\x00")), attr(nfulaPayload, syn), attr(nfulaIfindexOutDev, u32(1))),
			want: []Packet{synPkt},
		},
		{
			name: "byte-order flag on an attribute type",
			in:   nflogMsg(nfprotoIPv4, attr(nfulaPrefix|0x4000, []byte("vml:nsg\x00")), attr(nfulaPayload, syn), attr(nfulaIfindexOutDev, u32(1))),
			want: []Packet{synPkt},
		},
		{
			name: "unknown attributes are skipped",
			in: nflogMsg(nfprotoIPv4, attr(99, []byte{1, 2, 3}), attr(nfulaPrefix, []byte("vml:nsg\x00")),
				attr(nfulaPayload, syn), attr(nfulaIfindexOutDev, u32(1)), attr(3, make([]byte, 16))),
			want: []Packet{synPkt},
		},
		{
			name: "a batch, with acks, NLMSG_DONE and another subsystem between",
			in: cat(logged("vml:nsg", 0, syn), nlmsg(nlmsgError, make([]byte, 20)), nlmsg(3<<8, []byte{2, 0, 0, 0}),
				logged("vml:dns", 1, udp), nlmsg(3, []byte{0, 0, 0, 0})),
			want: []Packet{synPkt, udpPkt},
		},
		{name: "ipv6 skipped", in: nflogMsg(10, hdr, attr(nfulaPayload, make([]byte, 40)))},
		{name: "arp skipped", in: nflogMsg(3, hdr, attr(nfulaPayload, make([]byte, 28)))},
		{name: "no payload skipped", in: nflogMsg(nfprotoIPv4, attr(nfulaPrefix, []byte("p\x00")))},
		{
			name: "bridge ipv4 frame",
			in:   nflogMsg(nfprotoBridge, hdr, attr(nfulaPrefix, []byte("vml:nsg\x00")), attr(nfulaPayload, syn), attr(nfulaIfindexOutDev, u32(1))),
			want: []Packet{synPkt},
		},
		{name: "bridge ipv6 frame skipped", in: nflogMsg(nfprotoBridge, attr(nfulaPacketHdr, []byte{0x86, 0xdd, 0, 0}), attr(nfulaPayload, syn))},
		{name: "bridge frame without header skipped", in: nflogMsg(nfprotoBridge, attr(nfulaPayload, syn))},

		// Malformed input.
		{name: "netlink header truncated", in: logged("p", 0, syn)[:10], bad: true},
		{name: "netlink length beyond the datagram", in: logged("p", 0, syn)[:40], bad: true},
		{
			name: "netlink length below its header",
			in: func() []byte {
				b := nlmsg(msgPacket, nil)
				ne.PutUint32(b, nlmsgHdrLen-1)
				return b
			}(),
			bad: true,
		},
		{
			name: "netlink length 8 ends the datagram",
			in: cat(logged("vml:nsg", 0, syn), func() []byte {
				b := nlmsg(msgPacket, make([]byte, 8))
				ne.PutUint32(b, 8)
				return b
			}(), logged("vml:dns", 1, udp)),
			want: []Packet{synPkt}, bad: true,
		},
		{name: "nfgenmsg truncated", in: nlmsg(msgPacket, []byte{2, 0}), bad: true},
		{
			name: "attribute length below its header",
			in:   nflogMsg(nfprotoIPv4, attr(nfulaPayload, syn), []byte{2, 0, 9, 0}),
			bad:  true,
		},
		{
			name: "attribute length beyond the message",
			in:   nflogMsg(nfprotoIPv4, attr(nfulaPayload, syn), []byte{200, 0, 9, 0}),
			bad:  true,
		},
		{name: "bytes after the last attribute", in: nflogMsg(nfprotoIPv4, attr(nfulaPayload, syn), []byte{1, 2}), bad: true},
		{name: "interface index of 2 bytes", in: nflogMsg(nfprotoIPv4, attr(nfulaIfindexOutDev, []byte{0, 1}), attr(nfulaPayload, syn)), bad: true},
		{name: "sequence of 8 bytes", in: nflogMsg(nfprotoIPv4, attr(nfulaSeq, make([]byte, 8)), attr(nfulaPayload, syn)), bad: true},
		{name: "packet header of 2 bytes", in: nflogMsg(nfprotoIPv4, attr(nfulaPacketHdr, []byte{8, 0}), attr(nfulaPayload, syn)), bad: true},
		{name: "ip header truncated", in: logged("p", 0, syn[:19]), bad: true},
		{name: "ip version 6 in an ipv4 message", in: logged("p", 0, append([]byte{0x65}, syn[1:]...)), bad: true},
		{name: "ihl 4", in: logged("p", 0, append([]byte{0x44}, syn[1:]...)), bad: true},
		{name: "ip options truncated", in: logged("p", 0, ipHdr(6, "10.0.0.4", "10.0.1.5", maxOpts, 0, 0, nil)[:40]), bad: true},
		{name: "total length below header length", in: logged("p", 0, ipHdr(6, "10.0.0.4", "10.0.1.5", nil, 19, 0, tcpHdr(1, 2, SYN))), bad: true},
		{
			name: "a bad message between good ones is skipped",
			in: cat(logged("vml:nsg", 0, syn), logged("p", 1, syn[:19]), logged("vml:dns", 2, udp),
				nflogMsg(nfprotoIPv4, []byte{200, 0, 9, 0}), logged("vml:nsg", 4, syn)),
			want: []Packet{synPkt, udpPkt, synPkt}, bad: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if (err != nil) != tc.bad || err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v, want malformed: %v", err, tc.bad)
			}
			if diff := cmp.Diff(tc.want, got, cmpPackets, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("packets (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseTruncations cuts a datagram of several messages everywhere:
// what is read is always the packets of the whole messages before the
// cut, and a cut inside a message is reported.
func TestParseTruncations(t *testing.T) {
	msgs := [][]byte{logged("vml:nsg", 0, syn), logged("vml:dns", 1, udp), logged("vml:x", 2, ipHdr(6, "10.0.0.4", "10.0.1.5", options, 0, 0, tcpHdr(1, 2, RST|ACK)))}
	full, err := Parse(cat(msgs...))
	if err != nil || len(full) != 3 {
		t.Fatalf("whole datagram: %v, %v", full, err)
	}
	b := cat(msgs...)
	ends := map[int]int{0: 0} // message boundary -> packets before it
	for i, n := 0, 0; i < len(msgs); i++ {
		n += len(msgs[i])
		ends[n] = i + 1
	}
	for cut := range len(b) + 1 {
		got, err := Parse(b[:cut])
		whole, boundary := ends[cut]
		if !boundary {
			whole = len(got)
		}
		if !slices.Equal(got, full[:whole]) {
			t.Fatalf("cut at %d: %+v, want the first %d packets", cut, got, whole)
		}
		if boundary != (err == nil) {
			t.Fatalf("cut at %d: error %v, want one only inside a message", cut, err)
		}
	}
}

// TestLost counts gaps in the sequence numbers.
func TestLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		seqs []uint32
		want uint64
	}{
		{"none", []uint32{0, 1, 2}, 0},
		{"before the first", []uint32{3, 4}, 3},
		{"in between", []uint32{0, 1, 5, 6, 8}, 4},
		// From 0, 2^32-2 is a step back (resynchronised); then 0 is
		// skipped as the count wraps.
		{"across the wrap", []uint32{1<<32 - 2, 1<<32 - 1, 1, 2}, 1},
		{"half the space ahead is a step back", []uint32{0, 1<<31 + 1}, 0},
		{"just under half is a gap", []uint32{0, 1 << 31}, 1<<31 - 1},
		{"backwards resynchronises", []uint32{0, 1, 2, 1, 2}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p parser
			for _, s := range tc.seqs {
				if _, err := p.parse(logged("p", s, syn), nil); err != nil {
					t.Fatal(err)
				}
			}
			if p.lost != tc.want {
				t.Errorf("lost %d, want %d", p.lost, tc.want)
			}
		})
	}
}

// TestParseAllocs: a Reader's parser allocates nothing per packet once it
// has seen a prefix.
func TestParseAllocs(t *testing.T) {
	b := cat(logged("vml:nsg", 0, syn), logged("vml:dns", 1, udp))
	var p parser
	dst := make([]Packet, 0, 4)
	if n := testing.AllocsPerRun(100, func() {
		dst, _ = p.parse(b, dst[:0])
	}); n != 0 {
		t.Errorf("%v allocations per datagram, want 0", n)
	}
}

func BenchmarkParse(b *testing.B) {
	datagram := cat(logged("vml:nsg", 0, syn), logged("vml:dns", 1, udp))
	b.Run("Parse", func(b *testing.B) { // the naive way: new slice, new strings
		b.ReportAllocs()
		for b.Loop() {
			Parse(datagram)
		}
	})
	b.Run("reader", func(b *testing.B) { // as Read does before it copies out
		b.ReportAllocs()
		var p parser
		var dst []Packet
		for b.Loop() {
			dst, _ = p.parse(datagram, dst[:0])
		}
	})
}

// render is the golden text of a parse.
func render(pkts []Packet, err error) string {
	var b strings.Builder
	for _, p := range pkts {
		fmt.Fprintf(&b, "prefix=%q proto=%d src=%v dst=%v in=%d out=%d tcpflags=%#02x\n", p.Prefix, p.Proto, p.Src, p.Dst, p.InDev, p.OutDev, p.TCPFlags)
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

// captures are the datagrams saved from the kernel by TestKernelCaptures;
// none on a big-endian machine, since netlink headers are in host order.
func captures(t testing.TB) map[string][]byte {
	t.Helper()
	if ne.Uint16([]byte{1, 0}) != 1 {
		return nil
	}
	files, err := filepath.Glob(filepath.Join("testdata", "captured", "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no captures in testdata/captured: run the tests as root with -update")
	}
	m := make(map[string][]byte)
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var digits strings.Builder
		for line := range strings.Lines(string(text)) {
			if !strings.HasPrefix(line, "#") {
				digits.WriteString(strings.TrimSpace(line))
			}
		}
		b, err := hex.DecodeString(digits.String())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		m[strings.TrimSuffix(filepath.Base(f), ".hex")] = b
	}
	return m
}

// TestParseCaptured parses real kernel messages against their golden
// parse.
func TestParseCaptured(t *testing.T) {
	c := captures(t)
	if c == nil {
		t.Skip("the captures are little-endian")
	}
	for name, b := range c {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "captured", name+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), render(Parse(b))); diff != "" {
				t.Errorf("parse (-golden +got):\n%s", diff)
			}
		})
	}
}

// FuzzParse feeds Parse anything: it must not panic, must be
// deterministic, and what it returns must be a packet it could have read.
func FuzzParse(f *testing.F) {
	for _, b := range captures(f) {
		f.Add(b)
	}
	f.Add(cat(logged("vml:nsg", 0, syn), logged("vml:dns", 1, udp)))
	f.Add(logged("p", 7, ipHdr(17, "10.0.0.4", "10.0.0.5", maxOpts, 0, 0x2000, udpHdr(1, 2))))
	f.Add(nflogMsg(nfprotoBridge, attr(nfulaPacketHdr, []byte{8, 0, 0, 0}), attr(nfulaPayload, syn)))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := slices.Clone(b)
		got, err := Parse(b)
		if !bytes.Equal(b, in) {
			t.Fatal("Parse modified its input")
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		again, err2 := Parse(b)
		if !slices.Equal(got, again) || (err == nil) != (err2 == nil) {
			t.Fatal("Parse is not deterministic")
		}
		for _, p := range got {
			if !p.Src.Addr().Is4() || !p.Dst.Addr().Is4() {
				t.Fatalf("non-IPv4 addresses in %+v", p)
			}
			if (p.Src.Port() != 0 || p.Dst.Port() != 0) && !hasPorts(p.Proto) {
				t.Fatalf("ports for protocol %d in %+v", p.Proto, p)
			}
			if p.TCPFlags != 0 && p.Proto != 6 {
				t.Fatalf("TCP flags for protocol %d in %+v", p.Proto, p)
			}
			if strings.IndexByte(p.Prefix, 0) >= 0 {
				t.Fatalf("NUL in prefix %q", p.Prefix)
			}
		}
	})
}

// FuzzRoundTrip builds a message from a packet's fields and parses it
// back: the builders above are the oracle.
func FuzzRoundTrip(f *testing.F) {
	f.Add("vml:nsg", uint8(6), uint32(0x0a000004), uint32(0x0a000105), uint16(40000), uint16(443), uint32(0), uint32(1), uint8(SYN), uint8(0), uint32(0))
	f.Add("", uint8(1), uint32(0x7f000001), uint32(0x7f000001), uint16(0), uint16(0), uint32(1), uint32(0), uint8(0), uint8(10), uint32(7))
	f.Fuzz(func(t *testing.T, prefix string, proto uint8, src, dst uint32, sport, dport uint16, in, out uint32, flags, optWords uint8, seq uint32) {
		if i := strings.IndexByte(prefix, 0); i >= 0 {
			prefix = prefix[:i]
		}
		prefix = prefix[:min(len(prefix), 127)] // NF_LOG_PREFIXLEN, with its NUL
		want := Packet{Prefix: prefix, Proto: proto, InDev: in, OutDev: out}
		var l4 []byte
		switch {
		case proto == 6:
			l4, want.TCPFlags = tcpHdr(sport, dport, flags), flags
		case hasPorts(proto):
			l4 = udpHdr(sport, dport)
		default:
			l4, sport, dport = []byte{byte(sport), byte(dport)}, 0, 0
		}
		s, d := netip.AddrFrom4([4]byte(be.AppendUint32(nil, src))), netip.AddrFrom4([4]byte(be.AppendUint32(nil, dst)))
		want.Src, want.Dst = netip.AddrPortFrom(s, sport), netip.AddrPortFrom(d, dport)
		payload := ipHdr(proto, s.String(), d.String(), bytes.Repeat([]byte{1}, 4*int(optWords%11)), 0, 0, l4)
		attrs := [][]byte{attr(nfulaPrefix, append([]byte(prefix), 0)), attr(nfulaSeq, u32(seq)), attr(nfulaPayload, payload)}
		if in != 0 {
			attrs = append(attrs, attr(nfulaIfindexInDev, u32(in)))
		}
		if out != 0 {
			attrs = append(attrs, attr(nfulaIfindexOutDev, u32(out)))
		}
		got, err := Parse(nflogMsg(nfprotoIPv4, attrs...))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Packet{want}, got, cmpPackets); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	})
}
