package storageauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
)

// BenchmarkVerifySharedKey measures VerifySharedKey on a Put Block as
// azblob sends it, against the floor: one bare HMAC-SHA256 (crypto/hmac)
// over the same string-to-sign and a comparison with the signature.
func BenchmarkVerifySharedKey(b *testing.B) {
	r := benchRequest(b)
	sts, err := stringToSign(r, "acct")
	if err != nil {
		b.Fatal(err)
	}
	auth := r.Header.Get("Authorization")
	want, err := base64.StdEncoding.DecodeString(auth[strings.IndexByte(auth, ':')+1:])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("VerifySharedKey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := VerifySharedKey(r, "acct", testKeys[1:], testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hmac-sha256-baseline", func(b *testing.B) {
		b.ReportAllocs()
		msg := []byte(sts)
		for b.Loop() {
			h := hmac.New(sha256.New, testKeys[1])
			h.Write(msg)
			if !hmac.Equal(h.Sum(nil), want) {
				b.Fatal("mismatch")
			}
		}
	})
}

// BenchmarkVerifySAS measures SAS.Verify of a blob SAS with an IP range.
func BenchmarkVerifySAS(b *testing.B) {
	caller := netip.MustParseAddr("10.1.0.4")
	q, err := SignServiceSAS(testAccount, testKeys[0], ServiceSASParams{Container: "data", Blob: "dir/part-00017.parquet",
		Permissions: PermRead, Start: testNow.Add(-1), Expiry: testNow.Add(1e12), IPRange: IPRange{caller, caller}, Protocol: ProtocolHTTPS})
	if err != nil {
		b.Fatal(err)
	}
	s, _, err := ParseSAS(q)
	if err != nil {
		b.Fatal(err)
	}
	a := NewAccess(KindRead, "data", "dir/part-00017.parquet")
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Verify(testAccount, testKeys, a, caller, true, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
