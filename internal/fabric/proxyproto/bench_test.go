package proxyproto

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// naiveVerifier is the straightforward reader the pooled one is measured
// against: fresh buffers and a freshly keyed HMAC for every header.
type naiveVerifier struct {
	key  Key
	mu   sync.Mutex
	seen map[[nonceLen]byte]bool
}

func (v *naiveVerifier) read(r io.Reader) (Header, error) {
	fixed := make([]byte, fixedLen)
	if _, err := io.ReadFull(r, fixed); err != nil {
		return Header{}, err
	}
	if !bytes.Equal(fixed[:sigLen], signature[:]) || fixed[12] != 0x21 || fixed[13] != 0x11 {
		return Header{}, ErrMalformed
	}
	body := make([]byte, binary.BigEndian.Uint16(fixed[14:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return Header{}, err
	}
	b := append(fixed, body...)
	if len(b) != headerLen || b[offTLV] != 0xE0 {
		return Header{}, ErrMalformed
	}
	m := hmac.New(sha256.New, v.key[:])
	m.Write(b[:offMAC])
	if !hmac.Equal(m.Sum(nil), b[offMAC:]) {
		return Header{}, ErrUnauthenticated
	}
	ts := time.Unix(0, int64(binary.BigEndian.Uint64(b[offTime:])))
	if d := time.Since(ts); d > MaxSkew || d < -MaxSkew {
		return Header{}, ErrStale
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	nonce := [nonceLen]byte(b[offNonce:offMAC])
	if v.seen[nonce] {
		return Header{}, ErrReplayed
	}
	v.seen[nonce] = true
	return Header{
		Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[offAddr:])), binary.BigEndian.Uint16(b[offAddr+8:])),
		Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[offAddr+4:])), binary.BigEndian.Uint16(b[offAddr+10:])),
	}, nil
}

// naiveWrite encodes with the reference encoder.
func naiveWrite(w io.Writer, h Header, key Key) error {
	var nonce [nonceLen]byte
	rand.Read(nonce[:])
	_, err := w.Write(refEncode(h, key, time.Now().UnixNano(), nonce))
	return err
}

// BenchmarkWriteRead measures a header's cost on a connection's setup path,
// against the naive implementation.
func BenchmarkWriteRead(b *testing.B) {
	h := goldenHeader()
	key := NewKey()
	b.Run("pooled", func(b *testing.B) {
		v := NewVerifier(key, nil)
		var buf bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := Write(&buf, h, key); err != nil {
				b.Fatal(err)
			}
			if _, err := v.Read(&buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("naive", func(b *testing.B) {
		v := &naiveVerifier{key: key, seen: map[[nonceLen]byte]bool{}}
		var buf bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := naiveWrite(&buf, h, key); err != nil {
				b.Fatal(err)
			}
			if _, err := v.read(&buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWriteReadParallel measures the Verifier shared by every
// connection of a fabric, as connections are set up at once.
func BenchmarkWriteReadParallel(b *testing.B) {
	h := goldenHeader()
	key := NewKey()
	v := NewVerifier(key, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var buf bytes.Buffer
		for pb.Next() {
			buf.Reset()
			if err := Write(&buf, h, key); err != nil {
				b.Error(err)
				return
			}
			if _, err := v.Read(&buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
