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

	"golang.org/x/net/dns/dnsmessage"
)

// The platform's DNS: Azure answers every VM at 168.63.129.16; the kernel
// fabric does too, from the services namespace, with the names the
// platform registered (SetName: storage accounts, key vaults, run
// history, scoring front ends). Every port's processes use it (their
// resolv.conf). It knows no other names: the virtual cloud is closed.

// dnsTTL is the TTL of an answer: short, as names move when resources are
// recreated.
const dnsTTL = 5

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
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			if out := f.answer(buf[:n], 512); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serveDNSConn(c)
		}
	}()
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
	f.mu.Lock()
	addr, ok := f.names[name]
	f.mu.Unlock()
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
