package proxyproto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"sync"
	"time"
)

// Verifier reads headers and admits only those that Write produced with its
// key, within MaxSkew of its clock, once each.
//
// A Verifier is safe for concurrent use: one serves every connection of a
// fabric, and the nonces it remembers are shared, so a header replayed on
// another connection is refused as well. The zero Verifier is not usable;
// use NewVerifier.
type Verifier struct {
	now     func() time.Time
	readers sync.Pool // of *reader, keyed with the Verifier's key
	seen    nonces
}

// reader is what one Read needs; readers are pooled so that Read does not
// allocate.
type reader struct {
	buf [maxHeaderLen]byte
	mac hash.Hash
	sum [macLen]byte
}

// maxNonces bounds how many nonces a Verifier remembers (a few MiB): a
// MaxSkew's worth of connections at 2,000 a second. Past that, the
// oldest nonce is forgotten and headers as old as it are refused as stale
// (see nonces), so the bound costs at worst a refusal of a header that
// took long to arrive, never a replay.
const maxNonces = 1 << 16

// NewVerifier returns a Verifier of headers authenticated with key, that
// takes the time from now (time.Now if nil).
func NewVerifier(key Key, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{now: now, seen: nonces{max: maxNonces}}
	v.readers.New = func() any { return &reader{mac: hmac.New(sha256.New, key[:])} }
	return v
}

// Read reads one header from r and returns it if it is authentic, fresh and
// new. It reads nothing past the header (it does not buffer), so what
// follows in r is the connection's payload. It reads the header's 16 fixed
// bytes first, stopping as soon as they cannot be a PROXY v2 signature, then
// as many more as they announce, refusing to read more than 1 KiB in all.
//
// A refusal wraps ErrNoHeader, ErrMalformed, ErrUnauthenticated, ErrStale or
// ErrReplayed; a LOCAL header (a health check) is ErrUnauthenticated, since
// it carries no source to trust. Any other error is r's. Read blocks until
// the header has arrived: give a connection a read deadline first.
//
// Read is safe for concurrent use.
func (v *Verifier) Read(r io.Reader) (Header, error) {
	s := v.readers.Get().(*reader)
	defer v.readers.Put(s)
	return v.read(r, s)
}

func (v *Verifier) read(r io.Reader, s *reader) (Header, error) {
	if err := readFixed(r, s.buf[:fixedLen]); err != nil {
		return Header{}, err
	}
	b := s.buf[:]
	switch b[12] {
	case verCmdProxy:
	case verCmdLocal:
		return Header{}, fmt.Errorf("%w: a LOCAL header carries no source", ErrUnauthenticated)
	default:
		return Header{}, fmt.Errorf("%w: version and command 0x%02x, want 0x%02x (version 2, PROXY)", ErrMalformed, b[12], verCmdProxy)
	}
	if b[13] != famTCP4 {
		return Header{}, fmt.Errorf("%w: family 0x%02x, want 0x%02x (TCP over IPv4)", ErrMalformed, b[13], famTCP4)
	}
	n := int(binary.BigEndian.Uint16(b[14:]))
	if n < addrLen || fixedLen+n > maxHeaderLen {
		return Header{}, fmt.Errorf("%w: length %d, want %d to %d", ErrMalformed, n, addrLen, maxHeaderLen-fixedLen)
	}
	b = b[:fixedLen+n]
	if m, err := io.ReadFull(r, b[fixedLen:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Header{}, fmt.Errorf("%w: the connection ended %d bytes into a %d-byte header", ErrMalformed, fixedLen+m, fixedLen+n)
		}
		return Header{}, err
	}

	// Walk every TLV, so that one overrunning the header is malformed
	// whatever else it holds; the vnetml TLV must be the only one.
	vnetml, count := -1, 0
	for i := offTLV; i < len(b); {
		if len(b)-i < tlvHdrLen {
			return Header{}, fmt.Errorf("%w: %d stray bytes after the last TLV", ErrMalformed, len(b)-i)
		}
		l := int(binary.BigEndian.Uint16(b[i+1:]))
		if len(b)-i-tlvHdrLen < l {
			return Header{}, fmt.Errorf("%w: TLV 0x%02x of %d bytes overruns the header", ErrMalformed, b[i], l)
		}
		if b[i] == tlvType && vnetml < 0 {
			vnetml = i
		}
		count++
		i += tlvHdrLen + l
	}
	if vnetml < 0 {
		return Header{}, fmt.Errorf("%w: no vnetml TLV (type 0x%02x)", ErrUnauthenticated, tlvType)
	}
	if count != 1 || len(b) != headerLen {
		return Header{}, fmt.Errorf("%w: %d TLVs in %d bytes, want the vnetml TLV only", ErrMalformed, count, len(b))
	}
	if b[offVersion] != tlvVersion {
		return Header{}, fmt.Errorf("%w: vnetml TLV version %d, want %d", ErrMalformed, b[offVersion], tlvVersion)
	}

	// Authenticate before trusting the timestamp or remembering the nonce:
	// otherwise anyone could fill the nonce set.
	s.mac.Reset()
	s.mac.Write(b[:offMAC])
	if !hmac.Equal(s.mac.Sum(s.sum[:0]), b[offMAC:headerLen]) {
		return Header{}, fmt.Errorf("%w: the MAC does not verify", ErrUnauthenticated)
	}

	ts := int64(binary.BigEndian.Uint64(b[offTime:]))
	now := v.now().UnixNano()
	if ts < now-int64(MaxSkew) || ts > now+int64(MaxSkew) {
		return Header{}, fmt.Errorf("%w: written %v from now, more than %v", ErrStale, time.Duration(ts-now), MaxSkew)
	}
	if err := v.seen.add([nonceLen]byte(b[offNonce:offMAC]), ts, now); err != nil {
		return Header{}, err
	}
	return Header{
		Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[offAddr:])), binary.BigEndian.Uint16(b[offAddr+8:])),
		Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[offAddr+4:])), binary.BigEndian.Uint16(b[offAddr+10:])),
	}, nil
}

// readFixed fills b, the fixed part of a header, from r, refusing as soon
// as what has arrived cannot start a PROXY v2 signature: a client that
// sends a few bytes and waits for an answer is refused at once, not when
// the read deadline expires.
func readFixed(r io.Reader, b []byte) error {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if k := min(n, sigLen); !bytes.Equal(b[:k], signature[:k]) {
			if bytes.HasPrefix(b[:n], []byte("PROXY ")) {
				return fmt.Errorf("%w: a PROXY v1 text header; the fabric speaks v2 only", ErrNoHeader)
			}
			return fmt.Errorf("%w: the connection starts with %q; connections to a virtual endpoint come through the fabric", ErrNoHeader, b[:k])
		}
		if err != nil {
			if n == len(b) {
				break
			}
			switch {
			case n == 0 && errors.Is(err, io.EOF):
				return fmt.Errorf("%w: the connection ended before any byte", ErrNoHeader)
			case errors.Is(err, io.EOF):
				return fmt.Errorf("%w: the connection ended %d bytes into the header", ErrMalformed, n)
			}
			return err
		}
	}
	return nil
}

// nonces remembers the nonces of the headers admitted in the last MaxSkew
// or so, to refuse a header seen before.
//
// A header with timestamp ts can pass the clock check only while the clock
// reads at most ts+MaxSkew, so its nonce is kept until then. To stay
// within max nonces, and in case the clock steps back, forgetting a nonce
// raises floor to its timestamp, and headers stamped at or before floor
// are refused: a nonce is forgotten only once no header it could match is
// admitted any more.
type nonces struct {
	mu    sync.Mutex
	max   int
	set   map[[nonceLen]byte]struct{}
	queue []stamped // in the order admitted; queue[head:] are in set
	head  int
	floor int64
}

type stamped struct {
	nonce [nonceLen]byte
	ts    int64
}

// add remembers nonce, stamped ts, at time now (unix nanoseconds), or
// refuses it as replayed or stale.
func (s *nonces) add(nonce [nonceLen]byte, ts, now int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The queue is in the order admitted, nearly the order of ts: a nonce
	// stuck behind a younger one is kept a little longer, never shorter.
	for s.head < len(s.queue) && s.queue[s.head].ts < now-int64(MaxSkew) {
		s.forget()
	}
	if ts <= s.floor {
		return fmt.Errorf("%w: older than the oldest nonce remembered", ErrStale)
	}
	if _, ok := s.set[nonce]; ok {
		return fmt.Errorf("%w: nonce seen %v ago", ErrReplayed, time.Duration(now-ts))
	}
	if len(s.queue)-s.head >= s.max {
		s.forget()
	}
	if s.set == nil {
		s.set = make(map[[nonceLen]byte]struct{})
	}
	s.set[nonce] = struct{}{}
	// Reuse the queue's front once half of it is forgotten: amortised
	// constant time, and no allocation once the queue has grown.
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
	} else if s.head >= 32 && 2*s.head >= len(s.queue) {
		s.queue = s.queue[:copy(s.queue, s.queue[s.head:])]
		s.head = 0
	}
	s.queue = append(s.queue, stamped{nonce, ts})
	return nil
}

// forget drops the oldest nonce.
func (s *nonces) forget() {
	e := s.queue[s.head]
	s.head++
	delete(s.set, e.nonce)
	s.floor = max(s.floor, e.ts)
}
