package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"
)

// chunkReader hands out data at most chunk bytes a Read and counts what it
// handed out.
type chunkReader struct {
	data  []byte
	chunk int
	off   int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.chunk)], r.data[r.off:])
	r.off += n
	return n, nil
}

// FuzzRead checks, on any input, that Read does not panic, reads nothing
// past the length the header declares (nor past the signature's 16 bytes
// when there is no signature, nor past 1 KiB), refuses with one of its
// errors, and accepts only what encode gives for the fields it returns:
// the bytes Write would have written with the key.
func FuzzRead(f *testing.F) {
	other := encodeAt(Header{
		Src: netip.MustParseAddrPort("203.0.113.7:61000"), Dst: netip.MustParseAddrPort("10.1.2.3:29876"),
	}, testKey, testTime.Add(-time.Second), [nonceLen]byte{1, 2, 3})
	for _, seed := range [][]byte{
		golden,
		other,
		append(bytes.Clone(golden), "hello"...),
		golden[:fixedLen],
		localHeader,
		header(addrLen),
		header(addrLen+3, 0x04, 0, 0),
		with(func(b []byte) []byte { b[15] += 3; return append(b, 0x04, 0, 0) }),
		[]byte("PROXY TCP4 10.0.0.4 198.18.3.9 50000 443\r\n"),
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	} {
		f.Add(seed, uint8(0))
		f.Add(seed, uint8(6))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		r := &chunkReader{data: in, chunk: int(chunk%20) + 1}
		v := NewVerifier(testKey, at(testTime))
		h, err := v.Read(r)

		limit := fixedLen
		if len(in) >= fixedLen && bytes.Equal(in[:sigLen], signature[:]) {
			limit += int(binary.BigEndian.Uint16(in[14:]))
		}
		if r.off > limit || r.off > maxHeaderLen {
			t.Fatalf("read %d bytes, past the %d the header declares (or 1 KiB)", r.off, limit)
		}
		if err != nil {
			if h != (Header{}) {
				t.Fatalf("Read returned %v with %v", h, err)
			}
			if !errors.Is(err, ErrNoHeader) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnauthenticated) &&
				!errors.Is(err, ErrStale) && !errors.Is(err, ErrReplayed) {
				t.Fatalf("Read = %v, not one of its errors", err)
			}
			return
		}
		if r.off != headerLen {
			t.Fatalf("accepted a %d-byte header", r.off)
		}
		ts := time.Unix(0, int64(binary.BigEndian.Uint64(in[offTime:])))
		want := encodeAt(h, testKey, ts, [nonceLen]byte(in[offNonce:offMAC]))
		if !bytes.Equal(in[:r.off], want) {
			t.Fatalf("accepted %x\nwhich encodes back to %x", in[:r.off], want)
		}
		if _, err := v.Read(bytes.NewReader(in)); !errors.Is(err, ErrReplayed) {
			t.Fatalf("read twice: %v, want ErrReplayed", err)
		}
	})
}
