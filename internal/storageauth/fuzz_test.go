package storageauth

import (
	"bytes"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// FuzzParseSAS: ParseSAS never panics; it fails only with
// InvalidQueryParameterValue; a SAS it accepts survives Encode and
// ParseSAS unchanged, and Verify decides on it without panicking, only
// with this package's codes, and never allows it under a key that did not
// sign it.
func FuzzParseSAS(f *testing.F) {
	for _, s := range []string{
		"sv=2020-12-06&sr=b&sp=r&se=2025-03-14T10:26:53Z&sig=" + url.QueryEscape(encodeSig([32]byte{1})),
		"sv=2026-12-06&ss=bf&srt=sco&sp=rwdlacup&st=2025-03-14&se=2025-03-15T00:00Z&sip=10.0.0.1-10.0.0.9&spr=https&ses=x&sig=" + url.QueryEscape(encodeSig([32]byte{2})),
		"sv=2020-12-06&sr=c&sp=rl&se=2025-03-14T10:26:53.1234567Z&spr=https,http&rsct=text%2Fplain&rscc=a&sig=" + url.QueryEscape(encodeSig([32]byte{3})),
		"sig=x&si=policy",
		"sig=&sv=",
		"comp=list",
	} {
		f.Add(s)
	}
	q, _ := SignServiceSAS(testAccount, testKeys[0], ServiceSASParams{Container: "c", Blob: "b", Permissions: PermRead, Expiry: testNow})
	f.Add(q.Encode())
	q, _ = SignAccountSAS(testAccount, testKeys[0], AccountSASParams{ResourceTypes: ResourceObject, Permissions: PermRead, Expiry: testNow})
	f.Add(q.Encode())
	known := map[string]bool{}
	for c := range statuses {
		known[c] = true
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		s, ok, err := ParseSAS(q)
		if err != nil {
			if !ok {
				t.Fatal("an error, but no SAS")
			}
			if e, isErr := armerror.As(err); !isErr || e.Code != CodeInvalidQueryParameterValue {
				t.Fatalf("err = %v (%T)", err, err)
			}
			return
		}
		if !ok {
			if _, has := q["sig"]; has {
				t.Fatal("sig, but no SAS")
			}
			return
		}
		again, ok2, err := ParseSAS(s.Values())
		if err != nil || !ok2 || !reflect.DeepEqual(s, again) {
			t.Fatalf("round trip: %v -> %v, %v", s, again, err)
		}
		if strings.Contains(s.String(), "sig=") {
			t.Fatalf("String() = %q shows the signature", s.String())
		}
		for _, a := range []Access{NewAccess(KindRead, "c", "b"), NewAccess(KindList, "c", ""), NewAccess(KindList, "", ""), {Service: ServiceFile, Container: "c", Blob: "b", Perm: PermWrite}} {
			err := s.Verify(testAccount, testKeys, a, netip.MustParseAddr("10.0.0.5"), false, testNow)
			if err == nil {
				t.Fatalf("Verify allowed a SAS no test key signed: %s", s)
			}
			if e, isErr := armerror.As(err); !isErr || !known[e.Code] {
				t.Fatalf("Verify: %v (%T)", err, err)
			}
		}
	})
}

// FuzzVerifySharedKey: VerifySharedKey never panics on any request and
// fails only with this package's codes; a request SignSharedKey signs
// verifies under the key that signed it and under no other.
func FuzzVerifySharedKey(f *testing.F) {
	f.Add("PUT", "/c/b?comp=block&blockid=QQ%3D%3D", "x-ms-meta-a: 1\nContent-Type: text/plain\nContent-Length: 4", "SharedKey acct:"+encodeSig([32]byte{}), []byte("key"))
	f.Add("GET", "/c?restype=container&comp=list&prefix=a+b&marker=%2F", "X-MS-Version: 2023-11-03\nx-ms-a_b: x\nx-ms-a-c: y\nx-ms-a-c: z", "", []byte{})
	f.Add("DELETE", "/", "Date: Fri, 14 Mar 2025 09:26:53 GMT\nx-ms-x:  folded\r\n value ", "SharedKeyLite acct:x", bytes.Repeat([]byte{1}, 64))
	f.Add("GET", "/c/%zz?a=%&b=;", "x-ms-\x00: v", "Bearer x", []byte("k"))
	known := map[string]bool{}
	for c := range statuses {
		known[c] = true
	}
	f.Fuzz(func(t *testing.T, method, target, headers, auth string, key []byte) {
		u, err := url.Parse(target)
		if err != nil {
			return
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}}
		for line := range strings.SplitSeq(headers, "\n") {
			k, v, _ := strings.Cut(line, ":")
			r.Header[k] = append(r.Header[k], v) // as given: not canonical, maybe not a token
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		check := func(err error) *armerror.Error {
			if err == nil {
				return nil
			}
			e, ok := armerror.As(err)
			if !ok || !known[e.Code] {
				t.Fatalf("err = %v (%T)", err, err)
			}
			return e
		}
		check(VerifySharedKey(r, "acct", [][]byte{key}, testNow))

		for k := range r.Header {
			if strings.EqualFold(k, "x-ms-date") || strings.EqualFold(k, "date") {
				delete(r.Header, k)
			}
		}
		if e := check(SignSharedKey(r, "acct", key, testNow)); e != nil {
			return
		}
		if err := VerifySharedKey(r, "acct", [][]byte{key}, testNow.Add(time.Minute)); err != nil {
			t.Fatalf("a request signed with the key does not verify: %v", err)
		}
		other := append([]byte("other"), key...)
		if e := check(VerifySharedKey(r, "acct", [][]byte{other}, testNow)); e == nil || e.Code != CodeAuthenticationFailed {
			t.Fatalf("a request verified under a key that did not sign it: %v", e)
		}
	})
}
