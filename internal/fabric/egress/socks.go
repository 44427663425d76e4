package egress

import (
	"bytes"
	"io"
	"net/netip"
	"strconv"
	"time"
)

// SOCKS5 as RFC 1928 defines it, the parts the proxy speaks: no
// authentication or username/password (RFC 1929, with RequireCredentials),
// CONNECT, IPv4 addresses and domain names.
const (
	socksVersion byte = 0x05

	socksNoAuth       byte = 0x00
	socksNoAcceptable byte = 0xFF

	socksConnect byte = 0x01

	socksAtypIPv4   byte = 0x01
	socksAtypDomain byte = 0x03
	socksAtypIPv6   byte = 0x04

	socksSucceeded          byte = 0x00
	socksGeneralFailure     byte = 0x01
	socksNotAllowed         byte = 0x02
	socksNetworkUnreachable byte = 0x03
	socksHostUnreachable    byte = 0x04
	socksConnectionRefused  byte = 0x05
	socksTTLExpired         byte = 0x06
	socksCommandUnsupported byte = 0x07
	socksAtypUnsupported    byte = 0x08
)

// serveSOCKS serves a SOCKS5 client: greeting, one CONNECT request, then
// the spliced connection.
func (c *conn) serveSOCKS() {
	var hdr [2]byte // VER NMETHODS
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(c.br, methods); err != nil {
		return
	}
	if c.p.requireAuth {
		if !c.socksLogin(methods) {
			return
		}
	} else if !bytes.Contains(methods, []byte{socksNoAuth}) {
		c.c.Write([]byte{socksVersion, socksNoAcceptable})
		c.p.logRefusal(c.ctx, "socks5", c.c.RemoteAddr(), "", &refusal{reply: socksNoAcceptable,
			msg: "vnetml egress: the client offers no authentication method the proxy accepts (only none, 0x00)"})
		c.lingerClose()
		return
	}
	if !c.p.requireAuth {
		if _, err := c.c.Write([]byte{socksVersion, socksNoAuth}); err != nil {
			return
		}
	}

	var req [4]byte // VER CMD RSV ATYP
	if _, err := io.ReadFull(c.br, req[:]); err != nil {
		return
	}
	if req[0] != socksVersion {
		c.refuseSOCKS("", badRequest("SOCKS version %d in the request", req[0]))
		return
	}
	var host string
	switch req[3] {
	case socksAtypIPv4:
		var a [4]byte
		if _, err := io.ReadFull(c.br, a[:]); err != nil {
			return
		}
		host = netip.AddrFrom4(a).String()
	case socksAtypDomain:
		var n [1]byte
		if _, err := io.ReadFull(c.br, n[:]); err != nil {
			return
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(c.br, name); err != nil {
			return
		}
		host = string(name)
	case socksAtypIPv6:
		c.refuseSOCKS("", &refusal{reply: socksAtypUnsupported,
			msg: "vnetml egress: IPv6 destinations are not supported; the virtual network is IPv4"})
		return
	default:
		c.refuseSOCKS("", &refusal{reply: socksAtypUnsupported,
			msg: "vnetml egress: unknown SOCKS5 address type " + strconv.Itoa(int(req[3]))})
		return
	}
	var pb [2]byte
	if _, err := io.ReadFull(c.br, pb[:]); err != nil {
		return
	}
	port := uint16(pb[0])<<8 | uint16(pb[1])
	target := host + ":" + strconv.Itoa(int(port))
	if req[1] != socksConnect {
		c.refuseSOCKS(target, &refusal{reply: socksCommandUnsupported,
			msg: "vnetml egress: only the SOCKS5 CONNECT command is supported, not " + strconv.Itoa(int(req[1]))})
		return
	}
	if host == "" {
		c.refuseSOCKS(target, badRequest("empty domain name"))
		return
	}
	dst, ref := c.p.destination(host, port)
	if ref != nil {
		c.refuseSOCKS(target, ref)
		return
	}
	up, ref := c.p.dialTo(c.ctx, dst)
	if ref != nil {
		c.refuseSOCKS(target, ref)
		return
	}
	stop := closeOnDone(c.ctx, up)
	defer stop()
	c.c.SetReadDeadline(time.Time{})
	if _, err := c.c.Write(socksReply(socksSucceeded)); err != nil {
		up.Close()
		return
	}
	c.lr.n = -1
	pending, _ := c.br.Peek(c.br.Buffered())
	sent, received := splice(c.c, pending, up, nil)
	c.p.logConn(c.ctx, "socks5", c.c.RemoteAddr(), dst, sent, received)
}

// socksReply is a reply to a request. A virtual connection has no
// meaningful bound address (the fabric's real sockets are not reachable
// from the virtual network), so BND.ADDR and BND.PORT are always 0.0.0.0:0.
func socksReply(code byte) []byte {
	return []byte{socksVersion, code, 0x00, socksAtypIPv4, 0, 0, 0, 0, 0, 0}
}

func (c *conn) refuseSOCKS(target string, r *refusal) {
	c.c.Write(socksReply(r.reply))
	c.p.logRefusal(c.ctx, "socks5", c.c.RemoteAddr(), target, r)
	c.lingerClose()
}

// socksLogin runs the username/password method (RFC 1929) when the proxy
// requires credentials; false when the client did not log in (it has been
// answered and the connection is to be closed).
func (c *conn) socksLogin(methods []byte) bool {
	const userPass, authVersion = 0x02, 0x01
	if !bytes.Contains(methods, []byte{userPass}) {
		c.c.Write([]byte{socksVersion, socksNoAcceptable})
		c.p.logRefusal(c.ctx, "socks5", c.c.RemoteAddr(), "", &refusal{reply: socksNoAcceptable, authn: true,
			msg: "vnetml egress: this proxy requires the username/password method (0x02)"})
		c.lingerClose()
		return false
	}
	if _, err := c.c.Write([]byte{socksVersion, userPass}); err != nil {
		return false
	}
	var hdr [2]byte // VER ULEN
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil || hdr[0] != authVersion {
		return false
	}
	user := make([]byte, hdr[1])
	if _, err := io.ReadFull(c.br, user); err != nil {
		return false
	}
	var plen [1]byte
	if _, err := io.ReadFull(c.br, plen[:]); err != nil {
		return false
	}
	pass := make([]byte, plen[0])
	if _, err := io.ReadFull(c.br, pass); err != nil {
		return false
	}
	if !c.p.authorized(string(user), string(pass)) {
		c.c.Write([]byte{authVersion, 0x01})
		c.p.logRefusal(c.ctx, "socks5", c.c.RemoteAddr(), "", &refusal{reply: 0x01, authn: true,
			msg: "vnetml egress: wrong proxy credentials"})
		c.lingerClose()
		return false
	}
	_, err := c.c.Write([]byte{authVersion, 0x00})
	return err == nil
}
