package proxyproto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// testKey is the key of the golden header: bytes 0x00 to 0x1f.
var testKey = func() (k Key) {
	for i := range k {
		k[i] = byte(i)
	}
	return k
}()

// testTime is the timestamp of the golden header.
var testTime = time.Unix(0, 1_700_000_000_123_456_789)

// at returns a clock stopped at t.
func at(t time.Time) func() time.Time { return func() time.Time { return t } }

// encodeAt returns the header Write would write for h at ts with nonce.
func encodeAt(h Header, key Key, ts time.Time, nonce [nonceLen]byte) []byte {
	var b [headerLen]byte
	encode(&b, h, ts.UnixNano(), &nonce, hmac.New(sha256.New, key[:]))
	return b[:]
}

// refEncode is the slow, obviously correct encoder: the oracle for encode.
func refEncode(h Header, key Key, ts int64, nonce [nonceLen]byte) []byte {
	var b bytes.Buffer
	b.WriteString("\r\n\r\n\x00\r\nQUIT\n")
	b.WriteByte(0x21)
	b.WriteByte(0x11)
	binary.Write(&b, binary.BigEndian, uint16(4+4+2+2+3+1+8+16+32))
	b.Write(h.Src.Addr().AsSlice())
	b.Write(h.Dst.Addr().AsSlice())
	binary.Write(&b, binary.BigEndian, h.Src.Port())
	binary.Write(&b, binary.BigEndian, h.Dst.Port())
	b.WriteByte(0xE0)
	binary.Write(&b, binary.BigEndian, uint16(1+8+16+32))
	b.WriteByte(1)
	binary.Write(&b, binary.BigEndian, ts)
	b.Write(nonce[:])
	m := hmac.New(sha256.New, key[:])
	m.Write(b.Bytes())
	b.Write(m.Sum(nil))
	return b.Bytes()
}

func goldenHeader() Header {
	return Header{Src: netip.MustParseAddrPort("10.0.0.4:50000"), Dst: netip.MustParseAddrPort("198.18.3.9:443")}
}

func goldenNonce() (n [nonceLen]byte) {
	for i := range n {
		n[i] = 0xa0 + byte(i)
	}
	return n
}

// golden is the header of goldenHeader, written by hand from the PROXY v2
// specification; its MAC was computed with Python's hmac module.
var golden = []byte{
	// signature
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
	0x21,       // version 2, PROXY
	0x11,       // AF_INET, STREAM
	0x00, 0x48, // 72 bytes follow
	10, 0, 0, 4, // source 10.0.0.4
	198, 18, 3, 9, // destination 198.18.3.9
	0xc3, 0x50, // source port 50000
	0x01, 0xbb, // destination port 443
	0xE0,       // PP2_TYPE_MIN_CUSTOM
	0x00, 0x39, // 57 bytes
	0x01,                                           // vnetml TLV version
	0x17, 0x97, 0x9c, 0xfe, 0x3d, 0x85, 0xcd, 0x15, // 1700000000123456789 ns
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, // nonce
	// HMAC-SHA256(0x00..0x1f, bytes 0 to 55)
	0xd4, 0x33, 0x98, 0x57, 0xd8, 0x9f, 0xce, 0xd7, 0xf3, 0x84, 0x91, 0xcf, 0x7c, 0x76, 0xc9, 0xeb,
	0xc9, 0x7a, 0x02, 0x3b, 0xa9, 0x7b, 0xe0, 0x35, 0x90, 0xb4, 0xff, 0x8b, 0x4f, 0xb8, 0xc2, 0x3d,
}

func TestGolden(t *testing.T) {
	got := encodeAt(goldenHeader(), testKey, testTime, goldenNonce())
	if !bytes.Equal(got, golden) {
		t.Fatalf("encode:\n got %x\nwant %x", got, golden)
	}
	if len(golden) != headerLen {
		t.Fatalf("golden is %d bytes, headerLen %d", len(golden), headerLen)
	}
	h, err := NewVerifier(testKey, at(testTime)).Read(bytes.NewReader(golden))
	if err != nil || h != goldenHeader() {
		t.Fatalf("Read(golden) = %v, %v; want %v", h, err, goldenHeader())
	}
}

// randHeader returns a random IPv4 header.
func randHeader(r *rand.Rand) Header {
	var a, b [4]byte
	binary.BigEndian.PutUint32(a[:], r.Uint32())
	binary.BigEndian.PutUint32(b[:], r.Uint32())
	return Header{
		Src: netip.AddrPortFrom(netip.AddrFrom4(a), uint16(r.Uint32())),
		Dst: netip.AddrPortFrom(netip.AddrFrom4(b), uint16(r.Uint32())),
	}
}

func TestEncodeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		h := randHeader(r)
		var key Key
		var nonce [nonceLen]byte
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		for i := range nonce {
			nonce[i] = byte(r.Uint32())
		}
		ts := r.Int64()
		got, want := encodeAt(h, key, time.Unix(0, ts), nonce), refEncode(h, key, ts, nonce)
		if !bytes.Equal(got, want) {
			t.Fatalf("encode(%v, ts %d):\n got %x\nwant %x", h, ts, got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	key := NewKey()
	v := NewVerifier(key, nil)
	headers := []Header{
		goldenHeader(),
		{Src: netip.MustParseAddrPort("0.0.0.0:0"), Dst: netip.MustParseAddrPort("255.255.255.255:65535")},
	}
	for range 200 {
		headers = append(headers, randHeader(r))
	}
	for _, h := range headers {
		var b bytes.Buffer
		if err := Write(&b, h, key); err != nil {
			t.Fatalf("Write(%v): %v", h, err)
		}
		if b.Len() != headerLen {
			t.Fatalf("Write(%v) wrote %d bytes, want %d", h, b.Len(), headerLen)
		}
		got, err := v.Read(&b)
		if err != nil || got != h {
			t.Fatalf("Read = %v, %v; want %v", got, err, h)
		}
	}
}

func TestWriteRefuses(t *testing.T) {
	good := netip.MustParseAddrPort("10.0.0.4:80")
	for _, tc := range []struct {
		name string
		h    Header
	}{
		{"zero", Header{}},
		{"zero source", Header{Dst: good}},
		{"zero destination", Header{Src: good}},
		{"IPv6 source", Header{Src: netip.MustParseAddrPort("[2001:db8::1]:80"), Dst: good}},
		{"IPv4-mapped source", Header{Src: netip.MustParseAddrPort("[::ffff:10.0.0.5]:80"), Dst: good}},
		{"IPv4-mapped destination", Header{Src: good, Dst: netip.MustParseAddrPort("[::ffff:10.0.0.5]:80")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tc.h, testKey); err == nil {
				t.Fatalf("Write(%v) = nil, want an error", tc.h)
			}
			if b.Len() != 0 {
				t.Fatalf("Write(%v) wrote %d bytes after refusing", tc.h, b.Len())
			}
		})
	}
}

// with returns the golden header changed by f.
func with(f func(b []byte) []byte) []byte {
	return f(bytes.Clone(golden))
}

// resign recomputes the MAC of a golden-sized header b under testKey.
func resign(b []byte) []byte {
	m := hmac.New(sha256.New, testKey[:])
	m.Write(b[:offMAC])
	return m.Sum(b[:offMAC])
}

// localHeader is a LOCAL header as a health checker sends it.
var localHeader = []byte("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")

// header builds a PROXY TCP4 header with a length field of n, followed by
// the addresses of the golden header and rest.
func header(n int, rest ...byte) []byte {
	b := append([]byte(nil), golden[:offTLV]...)
	binary.BigEndian.PutUint16(b[14:], uint16(n))
	return append(b, rest...)
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		key  Key
		want error
	}{
		{"empty", nil, testKey, ErrNoHeader},
		{"plain HTTP client", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), testKey, ErrNoHeader},
		{"PROXY v1 text", []byte("PROXY TCP4 10.0.0.4 198.18.3.9 50000 443\r\nhello"), testKey, ErrNoHeader},
		{"TLS client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, testKey, ErrNoHeader},
		{"one wrong byte", []byte{0x0D, 0x0A, 0x0D, 0x0B}, testKey, ErrNoHeader},
		{"signature cut short", golden[:7], testKey, ErrMalformed},
		{"fixed part cut short", golden[:14], testKey, ErrMalformed},
		{"body cut short", golden[:headerLen-1], testKey, ErrMalformed},
		{"version 1", with(func(b []byte) []byte { b[12] = 0x11; return b }), testKey, ErrMalformed},
		{"version 3", with(func(b []byte) []byte { b[12] = 0x31; return b }), testKey, ErrMalformed},
		{"command 2", with(func(b []byte) []byte { b[12] = 0x22; return b }), testKey, ErrMalformed},
		{"LOCAL", localHeader, testKey, ErrUnauthenticated},
		{"LOCAL with the golden body", with(func(b []byte) []byte { b[12] = 0x20; return b }), testKey, ErrUnauthenticated},
		{"AF_INET6", with(func(b []byte) []byte { b[13] = 0x21; return b }), testKey, ErrMalformed},
		{"UDP", with(func(b []byte) []byte { b[13] = 0x12; return b }), testKey, ErrMalformed},
		{"AF_UNSPEC", with(func(b []byte) []byte { b[13] = 0x00; return b }), testKey, ErrMalformed},
		{"length under the addresses", header(11), testKey, ErrMalformed},
		{"length over 1 KiB", header(1009, make([]byte, 1009-addrLen)...), testKey, ErrMalformed},
		{"length longer than the input", with(func(b []byte) []byte { b[15]++; return b }), testKey, ErrMalformed},
		{"TLV overruns the header", with(func(b []byte) []byte { b[15]--; return b[:len(b)-1] }), testKey, ErrMalformed},
		{"TLV length overruns", with(func(b []byte) []byte { b[offTLV+2]++; return b }), testKey, ErrMalformed},
		{"stray byte after the TLVs", header(addrLen+1, 0xE0), testKey, ErrMalformed},
		{"no TLV", header(addrLen), testKey, ErrUnauthenticated},
		{"only a NOOP TLV", header(addrLen+3, 0x04, 0, 0), testKey, ErrUnauthenticated},
		{"other custom TLV", header(addrLen+4, 0xE1, 0, 1, 7), testKey, ErrUnauthenticated},
		{"vnetml TLV and a NOOP", with(func(b []byte) []byte {
			b[15] += 3
			return append(b, 0x04, 0, 0)
		}), testKey, ErrMalformed},
		{"vnetml TLV twice", with(func(b []byte) []byte {
			b[15] += byte(tlvHdrLen + tlvBodyLen)
			return append(b, b[offTLV:]...)
		}), testKey, ErrMalformed},
		{"vnetml TLV too short", header(addrLen+3+1, 0xE0, 0, 1, 1), testKey, ErrMalformed},
		{"vnetml TLV version 2", with(func(b []byte) []byte { b[offVersion] = 2; return resign(b) }), testKey, ErrMalformed},
		{"wrong key", golden, NewKey(), ErrUnauthenticated},
		{"zero MAC", with(func(b []byte) []byte { clear(b[offMAC:]); return b }), testKey, ErrUnauthenticated},
		{"source changed", with(func(b []byte) []byte { b[offAddr+3] = 5; return b }), testKey, ErrUnauthenticated},
		{"timestamp changed", with(func(b []byte) []byte { b[offTime+7]++; return b }), testKey, ErrUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewVerifier(tc.key, at(testTime)).Read(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read = %v, %v; want %v", h, err, tc.want)
			}
			if h != (Header{}) {
				t.Fatalf("Read returned %v with its error", h)
			}
			if !strings.HasPrefix(err.Error(), tc.want.Error()) {
				t.Errorf("error %q does not start with %q", err, tc.want)
			}
		})
	}
}

// TestFlippedBit flips every bit of the golden header in turn: each must be
// refused, as not a header if the bit is in the signature.
func TestFlippedBit(t *testing.T) {
	for i := range len(golden) * 8 {
		b := bytes.Clone(golden)
		b[i/8] ^= 1 << (i % 8)
		_, err := NewVerifier(testKey, at(testTime)).Read(bytes.NewReader(b))
		ok := errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrMalformed) ||
			i/8 < sigLen && errors.Is(err, ErrNoHeader)
		if !ok {
			t.Errorf("bit %d of byte %d flipped: Read = %v", i%8, i/8, err)
		}
	}
}

func TestStale(t *testing.T) {
	for _, tc := range []struct {
		name  string
		clock time.Duration // the receiver's clock, after the writer's
		want  error
	}{
		{"same time", 0, nil},
		{"29s old", 29 * time.Second, nil},
		{"exactly MaxSkew old", MaxSkew, nil},
		{"just over MaxSkew old", MaxSkew + 1, ErrStale},
		{"31s old", 31 * time.Second, ErrStale},
		{"an hour old", time.Hour, ErrStale},
		{"29s in the future", -29 * time.Second, nil},
		{"31s in the future", -31 * time.Second, ErrStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// With the injected clock, on a header from encode.
			_, err := NewVerifier(testKey, at(testTime.Add(tc.clock))).Read(bytes.NewReader(golden))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read = %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				return // the real clock moves between Write and now(): only a refusal is certain
			}
			// And on a header from Write, at the real time.
			var b bytes.Buffer
			if err := Write(&b, goldenHeader(), testKey); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if tc.clock < 0 {
				now = now.Add(-time.Second) // before Write's time.Now
			}
			_, err = NewVerifier(testKey, at(now.Add(tc.clock))).Read(&b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read(Write) = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReplayed(t *testing.T) {
	clock := testTime
	v := NewVerifier(testKey, func() time.Time { return clock })
	if _, err := v.Read(bytes.NewReader(golden)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, time.Second, MaxSkew} {
		clock = testTime.Add(d)
		if _, err := v.Read(bytes.NewReader(golden)); !errors.Is(err, ErrReplayed) {
			t.Fatalf("replayed %v later: Read = %v, want ErrReplayed", d, err)
		}
	}
	// Once the header is stale its nonce is forgotten; the header stays
	// refused.
	clock = testTime.Add(MaxSkew + 1)
	if _, err := v.Read(bytes.NewReader(golden)); !errors.Is(err, ErrStale) {
		t.Fatalf("Read = %v, want ErrStale", err)
	}
	// The next header admitted prunes it.
	nonce := goldenNonce()
	nonce[0] = 0
	if _, err := v.Read(bytes.NewReader(encodeAt(goldenHeader(), testKey, clock, nonce))); err != nil {
		t.Fatal(err)
	}
	if n := len(v.seen.set); n != 1 {
		t.Fatalf("%d nonces remembered, want 1", n)
	}
	// Even if the clock steps back.
	clock = testTime
	if _, err := v.Read(bytes.NewReader(golden)); !errors.Is(err, ErrStale) {
		t.Fatalf("clock stepped back: Read = %v, want ErrStale", err)
	}

	// A header Write wrote, replayed.
	v = NewVerifier(testKey, nil)
	var b bytes.Buffer
	if err := Write(&b, goldenHeader(), testKey); err != nil {
		t.Fatal(err)
	}
	in := b.Bytes()
	if _, err := v.Read(bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Read(bytes.NewReader(in)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("Read = %v, want ErrReplayed", err)
	}
}

// TestNonceBound fills a Verifier's nonce set past its bound: a forgotten
// nonce is refused as stale, never admitted again.
func TestNonceBound(t *testing.T) {
	v := NewVerifier(testKey, at(testTime))
	v.seen.max = 4
	var in [][]byte
	for i := range 10 {
		nonce := goldenNonce()
		nonce[0] = byte(i)
		in = append(in, encodeAt(goldenHeader(), testKey, testTime.Add(time.Duration(i)), nonce))
		if _, err := v.Read(bytes.NewReader(in[i])); err != nil {
			t.Fatalf("header %d: %v", i, err)
		}
		if n := len(v.seen.set); n > 4 {
			t.Fatalf("%d nonces remembered, bound 4", n)
		}
	}
	for i, b := range in {
		want := ErrReplayed
		if i < 6 {
			want = ErrStale
		}
		if _, err := v.Read(bytes.NewReader(b)); !errors.Is(err, want) {
			t.Errorf("header %d again: Read = %v, want %v", i, err, want)
		}
	}
}

// TestPayloadUnread checks that Read consumes the header and nothing more.
func TestPayloadUnread(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte at a time", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data and EOF together", iotest.DataErrReader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, goldenHeader(), testKey); err != nil {
				t.Fatal(err)
			}
			b.WriteString("hello")
			r := tc.wrap(&b)
			h, err := NewVerifier(testKey, nil).Read(r)
			if err != nil || h != goldenHeader() {
				t.Fatalf("Read = %v, %v", h, err)
			}
			rest, err := io.ReadAll(r)
			if err != nil || string(rest) != "hello" {
				t.Fatalf("after the header: %q, %v; want \"hello\"", rest, err)
			}
		})
	}
}

// TestReadDoesNotWaitForPayload reads a header over a synchronous pipe on
// which nothing follows it until Read has returned: a Read that wanted more
// than the header would block until the deadline.
func TestReadDoesNotWaitForPayload(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	server.SetDeadline(time.Now().Add(10 * time.Second))
	client.SetDeadline(time.Now().Add(10 * time.Second))
	read := make(chan error, 1)
	go func() {
		if err := Write(client, goldenHeader(), testKey); err != nil {
			read <- err
			return
		}
		<-read // the server has its header
		_, err := client.Write([]byte("hello"))
		read <- err
	}()
	h, err := NewVerifier(testKey, nil).Read(server)
	if err != nil || h != goldenHeader() {
		t.Fatalf("Read = %v, %v", h, err)
	}
	read <- nil
	buf := make([]byte, 5)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("payload %q, %v", buf, err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
}

// TestReadStopsAtNonSignature checks that a client that sends a few bytes
// that are not a PROXY header and waits is refused at once.
func TestReadStopsAtNonSignature(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	server.SetDeadline(time.Now().Add(10 * time.Second))
	go client.Write([]byte("hi\n"))
	if _, err := NewVerifier(testKey, nil).Read(server); !errors.Is(err, ErrNoHeader) {
		t.Fatalf("Read = %v, want ErrNoHeader", err)
	}
}

func TestReadIOError(t *testing.T) {
	boom := errors.New("boom")
	for _, n := range []int{0, 5, fixedLen, 40} {
		r := io.MultiReader(bytes.NewReader(golden[:n]), iotest.ErrReader(boom))
		_, err := NewVerifier(testKey, at(testTime)).Read(r)
		if !errors.Is(err, boom) {
			t.Errorf("error after %d bytes: Read = %v, want %v", n, err, boom)
		}
		for _, e := range []error{ErrNoHeader, ErrMalformed, ErrUnauthenticated, ErrStale, ErrReplayed} {
			if errors.Is(err, e) {
				t.Errorf("error after %d bytes: Read = %v, an I/O error taken for %v", n, err, e)
			}
		}
	}
}

// TestConcurrentRead reads headers from many goroutines through one
// Verifier: every fresh header is admitted once, and of many goroutines
// that race to read the same header exactly one wins.
func TestConcurrentRead(t *testing.T) {
	key := NewKey()
	v := NewVerifier(key, nil)
	const goroutines, each = 16, 200
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				h := Header{
					Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i)}), uint16(i)),
					Dst: goldenHeader().Dst,
				}
				var b bytes.Buffer
				if err := Write(&b, h, key); err != nil {
					errs <- err
					return
				}
				got, err := v.Read(&b)
				if err != nil || got != h {
					errs <- fmt.Errorf("Read = %v, %v; want %v", got, err, h)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var b bytes.Buffer
	if err := Write(&b, goldenHeader(), key); err != nil {
		t.Fatal(err)
	}
	in := b.Bytes()
	var mu sync.Mutex
	admitted, replayed := 0, 0
	for range goroutines {
		wg.Go(func() {
			_, err := v.Read(bytes.NewReader(in))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted++
			case errors.Is(err, ErrReplayed):
				replayed++
			default:
				t.Errorf("Read = %v", err)
			}
		})
	}
	wg.Wait()
	if admitted != 1 || replayed != goroutines-1 {
		t.Fatalf("%d admitted, %d replayed; want 1 and %d", admitted, replayed, goroutines-1)
	}
}

// TestAllocs proves that Write and Read allocate nothing once warm.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so Write and Read allocate")
	}
	var b bytes.Buffer
	b.Grow(headerLen)
	if n := testing.AllocsPerRun(100, func() {
		b.Reset()
		if err := Write(&b, goldenHeader(), testKey); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Write: %v allocations, want 0", n)
	}

	// Each header is stamped a minute after the one before, so the nonce
	// set stays at one entry, as it would in a steady state.
	clock := testTime
	v := NewVerifier(testKey, func() time.Time { return clock })
	var r bytes.Reader
	var buf [headerLen]byte
	nonce := goldenNonce()
	m := hmac.New(sha256.New, testKey[:])
	read := func() {
		clock = clock.Add(time.Minute)
		binary.BigEndian.PutUint64(nonce[:], uint64(clock.UnixNano()))
		encode(&buf, goldenHeader(), clock.UnixNano(), &nonce, m)
		r.Reset(buf[:])
		if _, err := v.Read(&r); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		read() // warm the pools and the nonce set
	}
	if n := testing.AllocsPerRun(1000, read); n != 0 {
		t.Errorf("Read: %v allocations, want 0", n)
	}
}
