package proxyproto

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"sync"
	"time"
)

// Header is what the fabric tells the receiver of a loopback connection:
// the virtual connection's source and destination, TCP over IPv4 (the flow
// engine is IPv4-only). An IPv4-mapped IPv6 address is not IPv4 here.
type Header struct {
	Src, Dst netip.AddrPort
}

// MaxSkew is how far a header's timestamp may be from the receiver's clock,
// in either direction. Both sides run on one machine, so this covers
// scheduling delays, not clock drift; it is also how long the receiver
// remembers a nonce.
const MaxSkew = 30 * time.Second

// Errors of Read, to compare with errors.Is. The errors Read returns wrap
// one of them with the detail; any other error is an I/O error of the
// reader (a deadline, a reset connection).
var (
	// ErrNoHeader: the connection does not start with the PROXY v2
	// signature: a plain client, a PROXY v1 text header, or a process
	// connecting to the loopback port instead of going through the fabric.
	ErrNoHeader = errors.New("proxyproto: no PROXY v2 header")
	// ErrMalformed: the header has the signature but not the shape Write
	// gives it (version, command, family, length, TLVs), or ends early.
	ErrMalformed = errors.New("proxyproto: malformed PROXY v2 header")
	// ErrUnauthenticated: the header carries no vnetml TLV, is a LOCAL
	// header, or its MAC does not verify under the deployment's key.
	ErrUnauthenticated = errors.New("proxyproto: PROXY v2 header not authenticated with the deployment's key")
	// ErrStale: the header's timestamp is more than MaxSkew away from the
	// receiver's clock, or older than the nonces the receiver still
	// remembers.
	ErrStale = errors.New("proxyproto: stale PROXY v2 header")
	// ErrReplayed: the header's nonce was seen before.
	ErrReplayed = errors.New("proxyproto: replayed PROXY v2 header")
)

// The wire format; the package documentation draws it.
const (
	sigLen     = 12
	fixedLen   = 16 // signature, ver_cmd, fam, len
	addrLen    = 12 // IPv4: source, destination, source port, destination port
	tlvHdrLen  = 3  // type, length (big endian)
	nonceLen   = 16
	macLen     = sha256.Size
	tlvBodyLen = 1 + 8 + nonceLen + macLen // version, timestamp, nonce, MAC
	headerLen  = fixedLen + addrLen + tlvHdrLen + tlvBodyLen

	// Offsets in the header.
	offAddr    = fixedLen
	offTLV     = offAddr + addrLen
	offVersion = offTLV + tlvHdrLen
	offTime    = offVersion + 1
	offNonce   = offTime + 8
	offMAC     = offNonce + nonceLen

	verCmdProxy = 0x21 // version 2, command PROXY
	verCmdLocal = 0x20 // version 2, command LOCAL
	famTCP4     = 0x11 // AF_INET, STREAM
	tlvType     = 0xE0 // PP2_TYPE_MIN_CUSTOM
	tlvVersion  = 1

	// maxHeaderLen bounds what Read reads for one header.
	maxHeaderLen = 1024
)

// signature opens every PROXY v2 header.
var signature = [sigLen]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// check refuses a header that is not TCP over IPv4.
func (h Header) check() error {
	if !h.Src.Addr().Is4() {
		return fmt.Errorf("proxyproto: source %v is not an IPv4 address and port", h.Src)
	}
	if !h.Dst.Addr().Is4() {
		return fmt.Errorf("proxyproto: destination %v is not an IPv4 address and port", h.Dst)
	}
	return nil
}

// writer is what one Write needs; writers are pooled so that Write does not
// allocate.
type writer struct {
	buf   [headerLen]byte
	nonce [nonceLen]byte
	key   Key
	mac   hash.Hash // HMAC-SHA256 keyed with key; nil until first use
}

var writers = sync.Pool{New: func() any { return new(writer) }}

// Write writes h to w as one PROXY v2 header, in a single w.Write call,
// authenticated with key, stamped with the current time and a fresh random
// nonce. It refuses a Src or Dst that is not IPv4. It is safe for
// concurrent use (on different writers).
func Write(w io.Writer, h Header, key Key) error {
	if err := h.check(); err != nil {
		return err
	}
	s := writers.Get().(*writer)
	defer writers.Put(s)
	// A deployment has one key, so a pooled HMAC is nearly always keyed
	// with it already; keying one costs more than the rest of Write.
	if s.mac == nil || subtle.ConstantTimeCompare(s.key[:], key[:]) != 1 {
		s.key = key
		s.mac = hmac.New(sha256.New, s.key[:])
	}
	rand.Read(s.nonce[:]) // never fails: crypto/rand crashes the program rather than return an error
	encode(&s.buf, h, time.Now().UnixNano(), &s.nonce, s.mac)
	if _, err := w.Write(s.buf[:]); err != nil {
		return fmt.Errorf("proxyproto: write header: %w", err)
	}
	return nil
}

// encode fills b with the header of h stamped ts and nonce. mac is an
// HMAC-SHA256 keyed with the deployment's key; encode resets it.
func encode(b *[headerLen]byte, h Header, ts int64, nonce *[nonceLen]byte, mac hash.Hash) {
	copy(b[:], signature[:])
	b[12] = verCmdProxy
	b[13] = famTCP4
	binary.BigEndian.PutUint16(b[14:], headerLen-fixedLen)
	src, dst := h.Src.Addr().As4(), h.Dst.Addr().As4()
	copy(b[offAddr:], src[:])
	copy(b[offAddr+4:], dst[:])
	binary.BigEndian.PutUint16(b[offAddr+8:], h.Src.Port())
	binary.BigEndian.PutUint16(b[offAddr+10:], h.Dst.Port())
	b[offTLV] = tlvType
	binary.BigEndian.PutUint16(b[offTLV+1:], tlvBodyLen)
	b[offVersion] = tlvVersion
	binary.BigEndian.PutUint64(b[offTime:], uint64(ts))
	copy(b[offNonce:], nonce[:])
	mac.Reset()
	mac.Write(b[:offMAC])
	mac.Sum(b[:offMAC])
}
