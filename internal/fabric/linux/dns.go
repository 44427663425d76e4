//go:build linux

package linux

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

// The platform's DNS: Azure answers every VM at 168.63.129.16; the kernel
// fabric does too, from the services namespace, with the names the
// platform registered (SetName: storage accounts, key vaults, run
// history, scoring front ends). Every port's processes use it (their
// resolv.conf). It knows no other names: the virtual cloud is closed.

// dnsTTL is the TTL of an answer: short, as names move when resources are
// recreated.
const dnsTTL = 5

// maxDNSConns bounds the TCP connections the DNS server serves at once:
// DNS is open to every port whatever its NSGs say, and each connection is
// a descriptor and a goroutine of the server's own process.
const maxDNSConns = 64

// serveDNS starts the DNS server on hostVIP:53 (UDP and TCP) in svc.
func (f *Fabric) serveDNS() error {
	if _, err := f.outsideNS(context.Background(), nil, epKey{addr: hostVIP, service: true}); err != nil {
		return err
	}
	var pc net.PacketConn
	var ln net.Listener
	err := f.svc.do(func() error {
		var err error
		addr := netip.AddrPortFrom(hostVIP, 53).String()
		if pc, err = net.ListenPacket("udp4", addr); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", addr); err != nil {
			pc.Close()
		}
		return err
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.closers[pc] = struct{}{}
	f.closers[ln] = struct{}{}
	f.mu.Unlock()
	// A query carries the mark of the VNet it came from (servicesRuleset);
	// its answer must too, or it is routed by svc's main table, which has
	// no route to VNets whose address spaces overlap (an accepted TCP
	// socket gets the mark from its SYN, a UDP answer only this way).
	uc := pc.(*net.UDPConn)
	if rc, err := uc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVMARK, 1) })
	}
	go func() {
		buf := make([]byte, 1500)
		oob := make([]byte, 64)
		for {
			n, oobn, _, from, err := uc.ReadMsgUDPAddrPort(buf, oob)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			if out := f.answer(buf[:n], 512); out != nil {
				uc.WriteMsgUDPAddrPort(out, markCmsg(oob[:oobn]), from)
			}
		}
	}()
	go func() {
		// Bounded: DNS is open to every port whatever its NSGs say, and
		// each connection is a descriptor and a goroutine of the server.
		sem := make(chan struct{}, maxDNSConns)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case sem <- struct{}{}:
				go func() {
					defer func() { <-sem }()
					f.serveDNSConn(c)
				}()
			default:
				c.Close()
			}
		}
	}()
	return nil
}

// markCmsg returns the control message that sends an answer with the mark
// its query arrived with (SO_RCVMARK), or nil when it had none.
func markCmsg(oob []byte) []byte {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_MARK && len(m.Data) >= 4 {
			if binary.NativeEndian.Uint32(m.Data) == 0 {
				return nil
			}
			b := make([]byte, unix.CmsgSpace(4))
			h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
			h.Level, h.Type = unix.SOL_SOCKET, unix.SO_MARK
			h.SetLen(unix.CmsgLen(4))
			copy(b[unix.CmsgLen(0):], m.Data[:4])
			return b
		}
	}
	return nil
}

// serveDNSConn answers the length-prefixed queries of one TCP connection.
func (f *Fabric) serveDNSConn(c net.Conn) {
	defer c.Close()
	for {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		out := f.answer(q, 65535)
		if out == nil {
			return
		}
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...)); err != nil {
			return
		}
	}
}

// answer answers one query: A records of registered names, an empty
// answer for other types of them, NXDOMAIN for unknown names, FORMERR for
// what does not parse (nil: not even a header to answer).
func (f *Fabric) answer(query []byte, limit int) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil
	}
	resp := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, OpCode: h.OpCode}
	q, err := p.Question()
	if err != nil || h.OpCode != 0 {
		resp.RCode = dnsmessage.RCodeFormatError
		if h.OpCode != 0 {
			resp.RCode = dnsmessage.RCodeNotImplemented
		}
		b := dnsmessage.NewBuilder(nil, resp)
		out, _ := b.Finish()
		return out
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	addr, ok := f.names.Lookup(name)
	if !ok {
		resp.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 128), resp)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil {
		return nil
	}
	if ok && q.Type == dnsmessage.TypeA && q.Class == dnsmessage.ClassINET {
		b.StartAnswers()
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: dnsTTL}, dnsmessage.AResource{A: addr.As4()})
	}
	out, err := b.Finish()
	if err != nil || len(out) > limit {
		return nil
	}
	return out
}
