package storageauth

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var caller = netip.MustParseAddr("10.1.0.4")

func mustSign(t *testing.T, q url.Values, err error) SAS {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	s, ok, err := ParseSAS(q)
	if err != nil || !ok {
		t.Fatalf("ParseSAS(%s) = %v, %v", q.Encode(), ok, err)
	}
	return s
}

func blobSAS(t *testing.T, key []byte, mod func(*ServiceSASParams)) SAS {
	t.Helper()
	p := ServiceSASParams{Container: "data", Blob: "b.txt", Permissions: PermRead, Start: testNow.Add(-time.Hour), Expiry: testNow.Add(time.Hour)}
	if mod != nil {
		mod(&p)
	}
	q, err := SignServiceSAS(testAccount, key, p)
	return mustSign(t, q, err)
}

func accountSAS(t *testing.T, mod func(*AccountSASParams)) SAS {
	t.Helper()
	p := AccountSASParams{ResourceTypes: ResourceContainer | ResourceObject, Permissions: PermRead | PermList, Expiry: testNow.Add(time.Hour)}
	if mod != nil {
		mod(&p)
	}
	q, err := SignAccountSAS(testAccount, testKeys[0], p)
	return mustSign(t, q, err)
}

// TestSASRefusals covers every way Verify refuses, each with its code and
// target, beside the request it would allow.
func TestSASRefusals(t *testing.T) {
	read := NewAccess(KindRead, "data", "b.txt")
	type req struct {
		account string
		a       Access
		caller  netip.Addr
		https   bool
		now     time.Time
	}
	ok := req{testAccount, read, caller, true, testNow}
	with := func(f func(*req)) req { r := ok; f(&r); return r }
	tamper := func(s SAS) SAS {
		q := s.Values()
		sig := []byte(q.Get("sig"))
		sig[0] = map[bool]byte{true: 'A', false: 'B'}[sig[0] != 'A']
		q.Set("sig", string(sig))
		out, _, err := ParseSAS(q)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		sas          SAS
		req          req
		code, target string
		contains     string
	}{
		{"tampered signature", tamper(blobSAS(t, testKeys[0], nil)), ok, CodeAuthenticationFailed, "sig",
			`Signature did not match. String to sign used was r\n2025-03-14T08:26:53Z\n2025-03-14T10:26:53Z\n/blob/vnetmlacct/data/b.txt\n\n\n\n2020-12-06\nb\n\n\n\n\n\n\n`},
		{"another account", blobSAS(t, testKeys[0], nil), with(func(r *req) { r.account = "other" }), CodeAuthenticationFailed, "sig", "/blob/other/data/b.txt"},
		{"a key the account lacks", blobSAS(t, []byte("not one of the account's keys, 32+ bytes long"), nil), ok, CodeAuthenticationFailed, "sig", ""},
		{"another blob", blobSAS(t, testKeys[0], nil), with(func(r *req) { r.a.Blob = "c.txt" }), CodeAuthenticationFailed, "sig", "/data/c.txt"},
		{"account SAS tampered", func() SAS {
			s := accountSAS(t, nil)
			q := s.Values()
			q.Set("srt", "sco")
			out, _, _ := ParseSAS(q)
			return out
		}(), ok, CodeAuthenticationFailed, "sig", `vnetmlacct\nrl\nb\nsco\n`},
		{"expired", blobSAS(t, testKeys[0], nil), with(func(r *req) { r.now = testNow.Add(time.Hour) }), CodeAuthenticationFailed, "se",
			"Signature not valid in the specified time frame: Start [Fri, 14 Mar 2025 08:26:53 GMT] - Expiry [Fri, 14 Mar 2025 10:26:53 GMT] - Current [Fri, 14 Mar 2025 10:26:53 GMT]"},
		{"not yet valid", blobSAS(t, testKeys[0], nil), with(func(r *req) { r.now = testNow.Add(-time.Hour - time.Second) }), CodeAuthenticationFailed, "st", "Start [Fri, 14 Mar 2025 08:26:53 GMT]"},
		{"lacks the permission", blobSAS(t, testKeys[0], nil), with(func(r *req) { r.a = NewAccess(KindWrite, "data", "b.txt") }),
			CodeAuthorizationPermissionMismatch, "sp", `The SAS grants "r" (sp); this operation needs "w".`},
		{"create needs c or w", blobSAS(t, testKeys[0], func(p *ServiceSASParams) { p.Permissions = PermRead | PermAdd }),
			with(func(r *req) { r.a = NewAccess(KindCreate, "data", "b.txt") }), CodeAuthorizationPermissionMismatch, "sp", `needs one of "cw"`},
		{"zero Perm", blobSAS(t, testKeys[0], nil), with(func(r *req) { r.a.Perm = 0 }), CodeAuthorizationPermissionMismatch, "sp", "no SAS grants"},
		{"outside sip", blobSAS(t, testKeys[0], func(p *ServiceSASParams) {
			p.IPRange = IPRange{netip.MustParseAddr("10.1.0.8"), netip.MustParseAddr("10.1.0.15")}
		}), ok, CodeAuthorizationSourceIPMismatch, "sip", "using this source IP 10.1.0.4. The SAS allows requests from 10.1.0.8-10.1.0.15 only"},
		{"sip of another family", blobSAS(t, testKeys[0], func(p *ServiceSASParams) {
			p.IPRange = IPRange{netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::1")}
		}), ok, CodeAuthorizationSourceIPMismatch, "sip", ""},
		{"sip and no caller address", blobSAS(t, testKeys[0], func(p *ServiceSASParams) {
			p.IPRange = IPRange{caller, caller}
		}), with(func(r *req) { r.caller = netip.Addr{} }), CodeAuthorizationSourceIPMismatch, "sip", "source IP (unknown)"},
		{"https only, over http", blobSAS(t, testKeys[0], func(p *ServiceSASParams) { p.Protocol = ProtocolHTTPS }),
			with(func(r *req) { r.https = false }), CodeAuthorizationProtocolMismatch, "spr", ""},
		{"blob SAS, container operation", blobSAS(t, testKeys[0], nil), with(func(r *req) { r.a = NewAccess(KindList, "data", "") }),
			CodeAuthorizationResourceTypeMismatch, "sr", "sr=b"},
		{"container SAS, create container", blobSAS(t, testKeys[0], func(p *ServiceSASParams) { p.Blob = ""; p.Permissions = PermCreate | PermWrite }),
			with(func(r *req) { r.a = NewAccess(KindCreate, "data", "") }), CodeAuthorizationResourceTypeMismatch, "sr", "srt=c"},
		{"container SAS, list containers", blobSAS(t, testKeys[0], func(p *ServiceSASParams) { p.Blob = ""; p.Permissions = PermList }),
			with(func(r *req) { r.a = NewAccess(KindList, "", "") }), CodeAuthorizationResourceTypeMismatch, "sr", "srt=s"},
		{"service SAS at the file endpoint", blobSAS(t, testKeys[0], nil), with(func(r *req) { r.a.Service = ServiceFile }),
			CodeAuthorizationServiceMismatch, "sr", "file endpoint"},
		{"account SAS, another service", accountSAS(t, nil), with(func(r *req) { r.a.Service = ServiceFile }),
			CodeAuthorizationServiceMismatch, "ss", `services "b"`},
		{"account SAS, another resource type", accountSAS(t, nil), with(func(r *req) { r.a = NewAccess(KindList, "", "") }),
			CodeAuthorizationResourceTypeMismatch, "srt", `resource types "co" (srt); this operation is on the account (srt=s)`},
		{"account SAS, lacks the permission", accountSAS(t, nil), with(func(r *req) { r.a = NewAccess(KindDelete, "data", "b.txt") }),
			CodeAuthorizationPermissionMismatch, "sp", `The SAS grants "rl"`},
		{"blob without container", blobSAS(t, testKeys[0], nil), with(func(r *req) { r.a.Container = "" }),
			CodeAuthorizationResourceTypeMismatch, "", ""},
		{"zero SAS", SAS{}, ok, CodeInvalidQueryParameterValue, "sig", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req
			err := tc.sas.Verify(r.account, testKeys, r.a, r.caller, r.https, r.now)
			e := expectCode(t, err, tc.code, tc.target)
			if !strings.Contains(e.Message, tc.contains) {
				t.Errorf("message %q\ndoes not contain %q", e.Message, tc.contains)
			}
			if Status(e.Code) != map[bool]int{true: http.StatusBadRequest, false: http.StatusForbidden}[tc.code == CodeInvalidQueryParameterValue] {
				t.Errorf("Status(%s) = %d", e.Code, Status(e.Code))
			}
		})
	}
}

// TestSASAllows covers the edges of what Verify allows.
func TestSASAllows(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sas    SAS
		a      Access
		caller netip.Addr
		https  bool
		now    time.Time
	}{
		{"at st", blobSAS(t, testKeys[0], nil), NewAccess(KindRead, "data", "b.txt"), caller, true, testNow.Add(-time.Hour)},
		{"just before se", blobSAS(t, testKeys[0], nil), NewAccess(KindRead, "data", "b.txt"), caller, true, testNow.Add(time.Hour - time.Nanosecond)},
		{"no st", blobSAS(t, testKeys[0], func(p *ServiceSASParams) { p.Start = time.Time{} }), NewAccess(KindRead, "data", "b.txt"), caller, true, time.Unix(0, 0)},
		{"key2", blobSAS(t, testKeys[1], nil), NewAccess(KindRead, "data", "b.txt"), caller, true, testNow},
		{"https,http over http", blobSAS(t, testKeys[0], func(p *ServiceSASParams) { p.Protocol = ProtocolHTTPSAndHTTP }), NewAccess(KindRead, "data", "b.txt"), caller, false, testNow},
		{"https over https", blobSAS(t, testKeys[0], func(p *ServiceSASParams) { p.Protocol = ProtocolHTTPS }), NewAccess(KindRead, "data", "b.txt"), caller, true, testNow},
		{"sip range ends", blobSAS(t, testKeys[0], func(p *ServiceSASParams) {
			p.IPRange = IPRange{netip.MustParseAddr("10.1.0.4"), netip.MustParseAddr("10.1.0.4")}
		}), NewAccess(KindRead, "data", "b.txt"), netip.MustParseAddr("::ffff:10.1.0.4"), true, testNow},
		{"sip IPv6", blobSAS(t, testKeys[0], func(p *ServiceSASParams) {
			p.IPRange = IPRange{netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::ff")}
		}), NewAccess(KindRead, "data", "b.txt"), netip.MustParseAddr("fd00::10"), true, testNow},
		{"create with c", blobSAS(t, testKeys[0], func(p *ServiceSASParams) { p.Permissions = PermCreate }), NewAccess(KindCreate, "data", "b.txt"), caller, true, testNow},
		{"container SAS lists", blobSAS(t, testKeys[0], func(p *ServiceSASParams) { p.Blob = ""; p.Permissions = PermList | PermRead }), NewAccess(KindList, "data", ""), caller, true, testNow},
		{"container SAS reads a blob", blobSAS(t, testKeys[0], func(p *ServiceSASParams) { p.Blob = ""; p.Permissions = PermRead }), NewAccess(KindRead, "data", "any"), caller, true, testNow},
		{"account SAS lists containers", accountSAS(t, func(p *AccountSASParams) { p.ResourceTypes = ResourceService }), NewAccess(KindList, "", ""), caller, true, testNow},
		{"account SAS at the file endpoint", accountSAS(t, func(p *AccountSASParams) { p.Services = ServiceBlob | ServiceFile }),
			Access{Service: ServiceFile, Container: "share", Blob: "f", Perm: PermRead}, caller, true, testNow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.sas.Verify(testAccount, testKeys, tc.a, tc.caller, tc.https, tc.now); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseSASRefusals(t *testing.T) {
	good := blobSAS(t, testKeys[0], nil).Values()
	acct := accountSAS(t, nil).Values()
	for _, tc := range []struct {
		name     string
		base     url.Values
		set, del []string
		target   string
		contains string
	}{
		{"sig not base64", good, []string{"sig", "!!"}, nil, "sig", ""},
		{"sig too short", good, []string{"sig", "QUJD"}, nil, "sig", ""},
		{"no sv", good, nil, []string{"sv"}, "sv", ""},
		{"sv not a version", good, []string{"sv", "latest"}, nil, "sv", ""},
		{"sv too old", good, []string{"sv", "2019-12-12"}, nil, "sv", "sv=2020-12-06 or later"},
		{"no sp", good, nil, []string{"sp"}, "sp", ""},
		{"sp unknown letter", good, []string{"sp", "rz"}, nil, "sp", `"z"`},
		{"account sp with a service letter", acct, []string{"sp", "rm"}, nil, "sp", `"m"`},
		{"no se", good, nil, []string{"se"}, "se", ""},
		{"se not a time", good, []string{"se", "tomorrow"}, nil, "se", ""},
		{"se with an offset", good, []string{"se", "2025-03-14T10:26:53+01:00"}, nil, "se", ""},
		{"st not a time", good, []string{"st", "2025-13-01"}, nil, "st", ""},
		{"sip not an address", good, []string{"sip", "10.0.0.300"}, nil, "sip", ""},
		{"sip range reversed", good, []string{"sip", "10.0.0.9-10.0.0.1"}, nil, "sip", ""},
		{"sip range of two families", good, []string{"sip", "10.0.0.1-fd00::1"}, nil, "sip", ""},
		{"spr http", good, []string{"spr", "http"}, nil, "spr", ""},
		{"sr unknown", good, []string{"sr", "x"}, nil, "sr", ""},
		{"sr snapshot", good, []string{"sr", "bs"}, nil, "sr", "Snapshot"},
		{"sr version", good, []string{"sr", "bv"}, nil, "sr", ""},
		{"sr directory", good, []string{"sr", "d"}, nil, "sr", "Directory"},
		{"sr file", good, []string{"sr", "f"}, nil, "sr", "File service SAS"},
		{"sr and ss", good, []string{"ss", "b"}, nil, "ss", ""},
		{"sr and srt", good, []string{"srt", "o"}, nil, "srt", ""},
		{"neither sr nor ss", good, nil, []string{"sr"}, "sr", "neither"},
		{"ss without srt", acct, nil, []string{"srt"}, "srt", ""},
		{"srt without ss", acct, nil, []string{"ss"}, "ss", ""},
		{"ss unknown letter", acct, []string{"ss", "bx"}, nil, "ss", ""},
		{"srt unknown letter", acct, []string{"srt", "sx"}, nil, "srt", ""},
		{"account SAS with rscc", acct, []string{"rscc", "no-cache"}, nil, "rscc", "service SAS only"},
		{"stored access policy", good, []string{"si", "policy1"}, nil, "si", "Stored access policies"},
		{"user delegation", good, []string{"skoid", "00000000-0000-0000-0000-000000000000"}, nil, "skoid", "User delegation"},
		{"signed request headers", good, []string{"srh", "x-ms-foo"}, nil, "srh", ""},
		{"empty parameter", good, []string{"ses", ""}, nil, "ses", "empty"},
		{"line break", good, []string{"ses", "a\nb"}, nil, "ses", "line break"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range tc.base {
				q[k] = v
			}
			for i := 0; i+1 < len(tc.set); i += 2 {
				q.Set(tc.set[i], tc.set[i+1])
			}
			for _, k := range tc.del {
				q.Del(k)
			}
			_, ok, err := ParseSAS(q)
			if !ok {
				t.Error("ParseSAS said there is no SAS")
			}
			e := expectCode(t, err, CodeInvalidQueryParameterValue, tc.target)
			if !strings.Contains(e.Message, tc.contains) || !strings.HasPrefix(e.Message, msgInvalidQuery) {
				t.Errorf("message %q does not contain %q", e.Message, tc.contains)
			}
		})
	}
	q := url.Values{}
	for k, v := range good {
		q[k] = v
	}
	q.Add("sp", "r")
	_, _, err := ParseSAS(q)
	expectCode(t, err, CodeInvalidQueryParameterValue, "sp")
}

func TestParseSASNone(t *testing.T) {
	for _, q := range []url.Values{nil, {}, {"comp": {"list"}}, {"sv": {"2020-12-06"}, "sp": {"r"}}} {
		if s, ok, err := ParseSAS(q); ok || err != nil || s.raw != (SAS{}).raw {
			t.Errorf("ParseSAS(%v) = %v, %v, %v", q, s, ok, err)
		}
	}
}

// TestParseSASFields checks the typed fields and the accepted time forms.
func TestParseSASFields(t *testing.T) {
	q := blobSAS(t, testKeys[0], func(p *ServiceSASParams) {
		p.IPRange = IPRange{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.9")}
		p.Protocol = ProtocolHTTPS
		p.ContentType = "text/plain"
	}).Values()
	for _, form := range []string{"2025-03-14T10:26:53Z", "2025-03-14T10:26:53.1234567Z", "2025-03-14T10:26Z", "2025-03-14"} {
		q.Set("se", form)
		s, _, err := ParseSAS(q)
		if err != nil {
			t.Fatalf("se=%s: %v", form, err)
		}
		want, _ := time.Parse(time.RFC3339Nano, map[string]string{
			"2025-03-14T10:26Z": "2025-03-14T10:26:00Z", "2025-03-14": "2025-03-14T00:00:00Z"}[form]+"")
		if want.IsZero() {
			want, _ = time.Parse(time.RFC3339Nano, form)
		}
		if !s.Expiry.Equal(want) {
			t.Errorf("se=%s: Expiry = %v, want %v", form, s.Expiry, want)
		}
		if s.Resource != "b" || s.Permissions != PermRead || s.Protocol != ProtocolHTTPS || s.ContentType != "text/plain" ||
			s.IPRange.String() != "10.0.0.1-10.0.0.9" || s.Version != SASVersion || s.IsAccount() {
			t.Errorf("parsed %#v", s)
		}
	}
}

// TestSASStringHidesSignature: printing a SAS, however, never shows sig.
func TestSASStringHidesSignature(t *testing.T) {
	s := blobSAS(t, testKeys[0], nil)
	sig := s.Values().Get("sig")
	for _, out := range []string{s.String(), s.GoString(), fmtAll(s)} {
		if strings.Contains(out, sig) || strings.Contains(out, url.QueryEscape(sig)) {
			t.Errorf("%q shows the signature", out)
		}
	}
	if !strings.Contains(s.String(), "sp=r") {
		t.Errorf("String() = %q", s.String())
	}
}

func TestStripSAS(t *testing.T) {
	q := blobSAS(t, testKeys[0], nil).Values()
	q.Set("comp", "list")
	q.Set("si", "x")
	q.Set("skoid", "y")
	got := StripSAS(q)
	if d := cmp.Diff(url.Values{"comp": {"list"}}, got); d != "" {
		t.Errorf("StripSAS (-want +got):\n%s", d)
	}
	if q.Get("sig") == "" {
		t.Error("StripSAS modified its argument")
	}
	plain := url.Values{"comp": {"list"}}
	if got := StripSAS(plain); len(got) != 1 {
		t.Errorf("StripSAS(%v) = %v", plain, got)
	}
}

func TestSignSASRefusals(t *testing.T) {
	exp := testNow.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		err    error
		code   string
		target string
	}{
		{"no key", func() error {
			_, err := SignServiceSAS("a", nil, ServiceSASParams{Container: "c", Permissions: PermRead, Expiry: exp})
			return err
		}(), CodeInvalidParameter, "key"},
		{"no container", func() error {
			_, err := SignServiceSAS("a", testKeys[0], ServiceSASParams{Permissions: PermRead, Expiry: exp})
			return err
		}(), CodeInvalidParameter, "container"},
		{"no permission", func() error {
			_, err := SignServiceSAS("a", testKeys[0], ServiceSASParams{Container: "c", Expiry: exp})
			return err
		}(), CodeInvalidParameter, "sp"},
		{"account letter in a service SAS", func() error {
			_, err := SignServiceSAS("a", testKeys[0], ServiceSASParams{Container: "c", Permissions: PermUpdate, Expiry: exp})
			return err
		}(), CodeInvalidParameter, "sp"},
		{"no expiry", func() error {
			_, err := SignServiceSAS("a", testKeys[0], ServiceSASParams{Container: "c", Permissions: PermRead})
			return err
		}(), CodeInvalidParameter, "se"},
		{"start after expiry", func() error {
			_, err := SignServiceSAS("a", testKeys[0], ServiceSASParams{Container: "c", Permissions: PermRead, Start: exp, Expiry: exp})
			return err
		}(), CodeInvalidParameter, "st"},
		{"half a range", func() error {
			_, err := SignServiceSAS("a", testKeys[0], ServiceSASParams{Container: "c", Permissions: PermRead, Expiry: exp, IPRange: IPRange{First: caller}})
			return err
		}(), CodeInvalidParameter, "sip"},
		{"old version", func() error {
			_, err := SignServiceSAS("a", testKeys[0], ServiceSASParams{Container: "c", Permissions: PermRead, Expiry: exp, Version: "2019-02-02"})
			return err
		}(), CodeInvalidQueryParameterValue, "sv"},
		{"line break", func() error {
			_, err := SignServiceSAS("a", testKeys[0], ServiceSASParams{Container: "c", Permissions: PermRead, Expiry: exp, ContentType: "a\nb"})
			return err
		}(), CodeInvalidParameter, "rsct"},
		{"line break in a name", func() error {
			_, err := SignServiceSAS("a", testKeys[0], ServiceSASParams{Container: "c", Blob: "x\ny", Permissions: PermRead, Expiry: exp})
			return err
		}(), CodeInvalidParameter, ""},
		{"no resource types", func() error {
			_, err := SignAccountSAS("a", testKeys[0], AccountSASParams{Permissions: PermRead, Expiry: exp})
			return err
		}(), CodeInvalidParameter, "srt"},
		{"service letter in an account SAS", func() error {
			_, err := SignAccountSAS("a", testKeys[0], AccountSASParams{ResourceTypes: ResourceObject, Permissions: PermMove, Expiry: exp})
			return err
		}(), CodeInvalidParameter, "sp"},
		{"unknown protocol", func() error {
			_, err := SignAccountSAS("a", testKeys[0], AccountSASParams{ResourceTypes: ResourceObject, Permissions: PermRead, Expiry: exp, Protocol: 9})
			return err
		}(), CodeInvalidParameter, "spr"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectCode(t, tc.err, tc.code, tc.target) })
	}
}

func TestPermission(t *testing.T) {
	p, err := ParsePermission("lrw")
	if err != nil || p != PermList|PermRead|PermWrite || p.String() != "rwl" || p.letters(accountOrder) != "rwl" {
		t.Errorf("ParsePermission(lrw) = %v (%s), %v", p, p, err)
	}
	all, err := ParsePermission(permLetters)
	if err != nil || all.String() != "racwdxyltfmeopiu" || all.letters(accountOrder) != accountOrder {
		t.Errorf("all letters: %v, %v", all, err)
	}
	if _, err := ParsePermission("rq"); err == nil {
		t.Error("ParsePermission accepted q")
	}
	for k, want := range map[Kind]Permission{KindRead: PermRead, KindWrite: PermWrite, KindCreate: PermCreate | PermWrite, KindDelete: PermDelete, KindList: PermList, 0: 0, 99: 0} {
		if got := NewAccess(k, "c", "b").Perm; got != want {
			t.Errorf("NewAccess(%d).Perm = %v, want %v", k, got, want)
		}
	}
	if (Access{}).ResourceType() != ResourceService || (Access{Container: "c"}).ResourceType() != ResourceContainer ||
		(Access{Container: "c", Blob: "b"}).ResourceType() != ResourceObject {
		t.Error("ResourceType")
	}
	if (ServiceBlob|ServiceTable).String() != "bt" || (ResourceService|ResourceObject).String() != "so" {
		t.Error("set String")
	}
}

func TestIPRange(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		in4     []string
		out4    []string
	}{
		{"10.0.0.1", "10.0.0.1", []string{"10.0.0.1", "::ffff:10.0.0.1"}, []string{"10.0.0.2", "::1", ""}},
		{"10.0.0.1-10.0.0.9", "10.0.0.1-10.0.0.9", []string{"10.0.0.1", "10.0.0.5", "10.0.0.9"}, []string{"10.0.0.0", "10.0.0.10", "fd00::1"}},
		{"::ffff:10.0.0.1-10.0.0.2", "10.0.0.1-10.0.0.2", []string{"10.0.0.2"}, nil},
		{"fd00::1-fd00::2", "fd00::1-fd00::2", []string{"fd00::2", "fd00::1%eth0"}, []string{"fd00::3", "10.0.0.1"}},
	} {
		r, err := ParseIPRange(tc.in)
		if err != nil || r.String() != tc.out {
			t.Errorf("ParseIPRange(%q) = %v, %v", tc.in, r, err)
			continue
		}
		for _, a := range tc.in4 {
			if !r.Contains(parseAddr(a)) {
				t.Errorf("%s does not contain %s", r, a)
			}
		}
		for _, a := range tc.out4 {
			if r.Contains(parseAddr(a)) {
				t.Errorf("%s contains %s", r, a)
			}
		}
	}
	if !(IPRange{}).Contains(netip.Addr{}) || (IPRange{}).String() != "" {
		t.Error("the zero range allows any address")
	}
	for _, bad := range []string{"", "-", "10.0.0.1-", "fe80::1%eth0", "10.0.0.2-10.0.0.1", "x"} {
		if _, err := ParseIPRange(bad); err == nil {
			t.Errorf("ParseIPRange(%q) succeeded", bad)
		}
	}
}

func parseAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

// TestSASVerifyAllocs: verifying a SAS allocates nothing.
func TestSASVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items; allocation counts mean nothing")
	}
	s := blobSAS(t, testKeys[1], func(p *ServiceSASParams) { p.IPRange = IPRange{caller, caller} })
	a := NewAccess(KindRead, "data", "b.txt")
	if n := testing.AllocsPerRun(200, func() {
		if err := s.Verify(testAccount, testKeys, a, caller, true, testNow); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Verify allocates %v times per call", n)
	}
}

func TestStatus(t *testing.T) {
	for code, want := range map[string]int{
		CodeAuthenticationFailed: 403, CodeAuthorizationPermissionMismatch: 403, CodeAuthorizationResourceTypeMismatch: 403,
		CodeAuthorizationServiceMismatch: 403, CodeAuthorizationSourceIPMismatch: 403, CodeAuthorizationProtocolMismatch: 403,
		CodeNoAuthenticationInformation: 401, CodeInvalidAuthenticationInfo: 400, CodeInvalidQueryParameterValue: 400,
		CodeInvalidHeaderValue: 400, CodeInvalidParameter: 400, "SomethingElse": 403,
	} {
		if got := Status(code); got != want {
			t.Errorf("Status(%s) = %d, want %d", code, got, want)
		}
	}
}
