package storageauth

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// stringToSignRef is the Shared Key string-to-sign by its definition, built
// the obvious way (url.ParseQuery, maps, sort, strings.Join); the pooled,
// allocation-free canon is tested against it.
func stringToSignRef(r *http.Request, account string) (string, error) {
	fold := regexp.MustCompile(`[ \t]*[\r\n][ \t\r\n]*`)
	value := func(v string) string { return fold.ReplaceAllString(strings.Trim(v, " \t\r\n"), " ") }
	lines := []string{r.Method}
	for _, name := range []string{"Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type",
		"Date", "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range"} {
		v := value(r.Header.Get(name))
		switch {
		case name == "Content-Length" && v == "" && r.ContentLength > 0:
			v = fmt.Sprint(r.ContentLength)
		case name == "Content-Length" && v == "0":
			v = ""
		case name == "Date" && r.Header.Get("x-ms-date") != "":
			v = ""
		}
		lines = append(lines, v)
	}
	type hdr struct{ name, key string }
	var hs []hdr
	for k, vs := range r.Header {
		if n := strings.ToLower(k); strings.HasPrefix(n, "x-ms-") && len(vs) > 0 {
			if strings.IndexFunc(k, func(c rune) bool { return c > 0x7e || !isTokenChar(byte(c)) }) >= 0 {
				return "", fmt.Errorf("bad header name")
			}
			hs = append(hs, hdr{n, k})
		}
	}
	slices.SortFunc(hs, func(a, b hdr) int {
		if c := collateRef(a.name, b.name); c != 0 {
			return c
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	var canon []string
	for i, h := range hs {
		var vals []string
		for _, v := range r.Header[h.key] {
			vals = append(vals, value(v))
		}
		if i > 0 && hs[i-1].name == h.name {
			canon[len(canon)-1] += "," + strings.Join(vals, ",")
			continue
		}
		canon = append(canon, h.name+":"+strings.Join(vals, ","))
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	res := "/" + account + path
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	lower := map[string][]string{}
	for k, vs := range q {
		if strings.ContainsAny(k+strings.Join(vs, ""), "\r\n") {
			return "", fmt.Errorf("line break")
		}
		lower[strings.ToLower(k)] = append(lower[strings.ToLower(k)], vs...)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range lower {
			if !yield(k) {
				return
			}
		}
	})
	for _, n := range names {
		vs := slices.Sorted(slices.Values(lower[n]))
		res += "\n" + n + ":" + strings.Join(vs, ",")
	}
	s := strings.Join(lines, "\n") + "\n"
	for _, c := range canon {
		s += c + "\n"
	}
	return s + res, nil
}

// randomRequest makes a request with the features the canonicalization
// cares about: standard headers or not, x-ms-* names in any case (some not
// canonicalized, some repeated under two keys), values with spaces, tabs
// and folds, repeated and %-encoded query parameters, escaped paths.
func randomRequest(rng interface {
	IntN(int) int
}) *http.Request {
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	path := pick("", "/", "/c", "/c/b", "/c/a%20b/%41", "/c/dir/x+y.txt", "/c/%E2%82%AC")
	var q []string
	for range rng.IntN(5) {
		q = append(q, pick("comp", "Comp", "restype", "blockid", "prefix", "x", "a%20b", "+", "")+
			pick("", "=", "=list", "=b", "=a", "=YQ%3D%3D", "=a+b", "=%2F", "=,", "=%41"))
	}
	r, err := http.NewRequest(pick("GET", "PUT", "DELETE", "HEAD"), "http://acct.blob.core.windows.net"+path+"?"+strings.Join(q, pick("&", "&&")), nil)
	if err != nil {
		panic(err)
	}
	value := func() string {
		return pick("v", " v ", "a  b", "a\tb", "a\r\n b", "x\n\ty", "", "Mon, 02 Jan 2006 15:04:05 GMT", "\"etag\"")
	}
	for _, h := range []string{"Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type",
		"Date", "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range"} {
		if rng.IntN(3) == 0 {
			r.Header.Set(h, value())
		}
	}
	if rng.IntN(2) == 0 {
		r.Header.Set("Content-Length", pick("0", "12", ""))
	}
	r.ContentLength = int64(rng.IntN(3) * 7)
	for range rng.IntN(6) {
		name := pick("x-ms-date", "X-Ms-Version", "x-ms-meta-", "X-MS-META-", "x-ms-blob-type", "x-ms-a_", "x-ms-a-", "x-ms-a'") + pick("", "a", "b", "_", "-", "0")
		for range 1 + rng.IntN(2) {
			r.Header[name] = append(r.Header[name], value())
		}
	}
	return r
}

func TestStringToSignMatchesReference(t *testing.T) {
	rng := newRand(11)
	for i := range 5000 {
		r := randomRequest(rng)
		got, gotErr := stringToSign(r, "acct")
		want, wantErr := stringToSignRef(r, "acct")
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("request %d (%s %s %v): err %v, reference %v", i, r.Method, r.URL, r.Header, gotErr, wantErr)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("request %d (%s %s %v) (-reference +got):\n%s", i, r.Method, r.URL, r.Header, d)
		}
	}
}

// TestStringToSignExample pins one string-to-sign, line by line, against
// Azure's documented format.
func TestStringToSignExample(t *testing.T) {
	r, _ := http.NewRequest("PUT", "http://acct.blob.core.windows.net/mycontainer/my%20blob?comp=block&blockid=YmxvY2s%3D&timeout=30&Timeout=5", nil)
	r.Header.Set("Content-Length", "0")
	r.Header.Set("Content-Type", "application/octet-stream")
	r.Header.Set("If-Match", `"0x8D"`)
	r.Header.Set("x-ms-date", "Fri, 14 Mar 2025 09:26:53 GMT")
	r.Header.Set("Date", "Thu, 13 Mar 2025 00:00:00 GMT")
	r.Header.Set("x-ms-version", "2023-11-03")
	r.Header.Set("X-Ms-Meta-Name", "  a   b  ")
	r.Header["x-ms-meta-a_b"] = []string{"1"}
	r.Header["x-ms-meta-a-c"] = []string{"2", "3"}
	got, err := stringToSign(r, "acct")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"PUT",
		"", // Content-Encoding
		"", // Content-Language
		"", // Content-Length 0
		"", // Content-MD5
		"application/octet-stream",
		"", // Date, since x-ms-date is set
		"", // If-Modified-Since
		`"0x8D"`,
		"", "", "", // If-None-Match, If-Unmodified-Since, Range
		"x-ms-date:Fri, 14 Mar 2025 09:26:53 GMT",
		"x-ms-meta-a_b:1",
		"x-ms-meta-a-c:2,3", // Azure's collation: a_b before a-c
		"x-ms-meta-name:a   b",
		"x-ms-version:2023-11-03",
		"/acct/mycontainer/my%20blob",
		"blockid:YmxvY2s=",
		"comp:block",
		"timeout:30,5",
	}, "\n")
	if d := cmp.Diff(strings.Split(want, "\n"), strings.Split(got, "\n")); d != "" {
		t.Fatalf("string-to-sign (-want +got):\n%s", d)
	}
}

func signed(t *testing.T, method, target string, key []byte, hdr ...string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, "http://acct.blob.core.windows.net"+target, strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("x-ms-version", "2023-11-03")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	if err := SignSharedKey(r, "acct", key, testNow); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSignSharedKeyRoundTrip(t *testing.T) {
	r := signed(t, "PUT", "/c/b?comp=block&blockid=QQ%3D%3D", testKeys[0], "x-ms-meta-k", "v")
	if got := r.Header.Get("x-ms-date"); got != testNow.Format(http.TimeFormat) {
		t.Errorf("x-ms-date = %q", got)
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "SharedKey acct:") {
		t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
	}
	for _, keys := range [][][]byte{testKeys, {testKeys[0]}, {nil, testKeys[0]}} {
		if err := VerifySharedKey(r, "acct", keys, testNow); err != nil {
			t.Fatal(err)
		}
	}
	// 15 minutes either way is still within Azure's window.
	for _, now := range []time.Time{testNow.Add(MaxClockSkew), testNow.Add(-MaxClockSkew)} {
		if err := VerifySharedKey(r, "acct", testKeys, now); err != nil {
			t.Fatal(err)
		}
	}
	// An existing x-ms-date is kept; so is Date when there is none.
	r = signed(t, "GET", "/c/b", testKeys[1], "x-ms-date", testNow.Add(-time.Minute).Format(http.TimeFormat))
	if r.Header.Get("x-ms-date") != testNow.Add(-time.Minute).Format(http.TimeFormat) {
		t.Error("SignSharedKey replaced x-ms-date")
	}
	if err := VerifySharedKey(r, "acct", testKeys, testNow); err != nil {
		t.Fatal(err)
	}
}

// TestVerifySharedKeyRefusals covers every way VerifySharedKey refuses,
// each with its code and target.
func TestVerifySharedKeyRefusals(t *testing.T) {
	other := bytes.Repeat([]byte{0x33}, KeySize)
	for _, tc := range []struct {
		name         string
		req          func() *http.Request
		now          time.Time
		code, target string
		contains     string
	}{
		{"no Authorization", func() *http.Request {
			r := signed(t, "GET", "/c/b", testKeys[0])
			r.Header.Del("Authorization")
			return r
		}, testNow, CodeNoAuthenticationInformation, "Authorization", ""},
		{"tampered signature", func() *http.Request {
			r := signed(t, "GET", "/c/b", testKeys[0])
			a := []byte(r.Header.Get("Authorization"))
			a[len("SharedKey acct:")] = map[bool]byte{true: 'A', false: 'B'}[a[len("SharedKey acct:")] != 'A']
			r.Header.Set("Authorization", string(a))
			return r
		}, testNow, CodeAuthenticationFailed, "Authorization", `GET\n\n\n4\n\n\n\n\n\n\n\n\nx-ms-date:`},
		{"signed with a key the account lacks", func() *http.Request { return signed(t, "GET", "/c/b", other) },
			testNow, CodeAuthenticationFailed, "Authorization", `\n/acct/c/b'.`},
		{"wrong account", func() *http.Request {
			r := signed(t, "GET", "/c/b", testKeys[0])
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "acct:", "other:", 1))
			return r
		}, testNow, CodeAuthenticationFailed, "Authorization", `names the account "other"`},
		{"query changed after signing", func() *http.Request {
			r := signed(t, "GET", "/c?restype=container&comp=list&prefix=a", testKeys[0])
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "prefix=a", "prefix=b", 1)
			return r
		}, testNow, CodeAuthenticationFailed, "Authorization", `\nprefix:b\nrestype:container'.`},
		{"path changed after signing", func() *http.Request {
			r := signed(t, "DELETE", "/c/b", testKeys[0])
			r.URL.Path = "/c/other"
			return r
		}, testNow, CodeAuthenticationFailed, "Authorization", `/acct/c/other`},
		{"header changed after signing", func() *http.Request {
			r := signed(t, "PUT", "/c/b", testKeys[0], "x-ms-meta-a", "1")
			r.Header.Set("x-ms-meta-a", "2")
			return r
		}, testNow, CodeAuthenticationFailed, "Authorization", `x-ms-meta-a:2`},
		{"date too old", func() *http.Request { return signed(t, "GET", "/c/b", testKeys[0]) },
			testNow.Add(MaxClockSkew + time.Second), CodeAuthenticationFailed, "x-ms-date", "too old"},
		{"date in the future", func() *http.Request { return signed(t, "GET", "/c/b", testKeys[0]) },
			testNow.Add(-MaxClockSkew - time.Second), CodeAuthenticationFailed, "x-ms-date", "in the future"},
		{"Date too old", func() *http.Request {
			r, _ := http.NewRequest("GET", "http://acct.blob.core.windows.net/c/b", nil)
			r.Header.Set("Date", testNow.Add(-time.Hour).Format(http.TimeFormat))
			r.Header.Set("Authorization", "SharedKey acct:"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
			return r
		}, testNow, CodeAuthenticationFailed, "Date", "too old"},
		{"no date", func() *http.Request {
			r, _ := http.NewRequest("GET", "http://acct.blob.core.windows.net/c/b", nil)
			r.Header.Set("Authorization", "SharedKey acct:"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
			return r
		}, testNow, CodeAuthenticationFailed, "x-ms-date", "not specified"},
		{"date not a date", func() *http.Request {
			r := signed(t, "GET", "/c/b", testKeys[0])
			r.Header.Set("x-ms-date", "yesterday")
			return r
		}, testNow, CodeAuthenticationFailed, "x-ms-date", "not an RFC 1123 date"},
		{"no colon", func() *http.Request { return withAuth("SharedKey acct") }, testNow, CodeInvalidAuthenticationInfo, "Authorization", ""},
		{"signature not base64", func() *http.Request { return withAuth("SharedKey acct:!!!!") }, testNow, CodeInvalidAuthenticationInfo, "Authorization", ""},
		{"signature too short", func() *http.Request {
			return withAuth("SharedKey acct:" + base64.StdEncoding.EncodeToString(make([]byte, 31)))
		}, testNow, CodeInvalidAuthenticationInfo, "Authorization", ""},
		{"Shared Key Lite", func() *http.Request { return withAuth("SharedKeyLite acct:x") }, testNow, CodeInvalidAuthenticationInfo, "Authorization", "Lite"},
		{"bearer", func() *http.Request { return withAuth("Bearer eyJ") }, testNow, CodeInvalidAuthenticationInfo, "Authorization", "Bearer"},
		{"unknown scheme", func() *http.Request { return withAuth("Basic YTpi") }, testNow, CodeInvalidAuthenticationInfo, "Authorization", `"Basic"`},
		{"bad %-escape in the query", func() *http.Request {
			r := signed(t, "GET", "/c/b", testKeys[0])
			r.URL.RawQuery = "comp=%zz"
			return r
		}, testNow, CodeInvalidQueryParameterValue, "comp", ""},
		{"semicolon in the query", func() *http.Request {
			r := signed(t, "GET", "/c/b", testKeys[0])
			r.URL.RawQuery = "a=1;b=2"
			return r
		}, testNow, CodeInvalidQueryParameterValue, "", "semicolon"},
		{"line break in the query", func() *http.Request {
			r := signed(t, "GET", "/c/b", testKeys[0])
			r.URL.RawQuery = "a=x%0Ab:y"
			return r
		}, testNow, CodeInvalidQueryParameterValue, "a", "line break"},
		{"header name not a token", func() *http.Request {
			r := signed(t, "GET", "/c/b", testKeys[0])
			r.Header["x-ms-a:b"] = []string{"c"}
			return r
		}, testNow, CodeInvalidHeaderValue, `"x-ms-a:b"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySharedKey(tc.req(), "acct", testKeys, tc.now)
			e := expectCode(t, err, tc.code, tc.target)
			if !strings.Contains(e.Message, tc.contains) {
				t.Errorf("message %q does not contain %q", e.Message, tc.contains)
			}
			if tc.code == CodeAuthenticationFailed && !strings.HasPrefix(e.Message, msgAuthenticationFailed+" ") {
				t.Errorf("message %q does not start with Azure's", e.Message)
			}
		})
	}
}

func withAuth(h string) *http.Request {
	r, _ := http.NewRequest("GET", "http://acct.blob.core.windows.net/c/b", nil)
	r.Header.Set("x-ms-date", testNow.Format(http.TimeFormat))
	r.Header.Set("Authorization", h)
	return r
}

// TestSharedKeyErrorsKeepSecrets: a refusal shows the string-to-sign but
// never a key, the signature the server computed, or a secret x-ms-*
// header's value.
func TestSharedKeyErrorsKeepSecrets(t *testing.T) {
	const cpk = "Y3VzdG9tZXIgcHJvdmlkZWQga2V5IHNlY3JldCAxMjM0NTY3OA=="
	r := signed(t, "PUT", "/c/b", bytes.Repeat([]byte{0x44}, KeySize), "x-ms-encryption-key", cpk, "x-ms-copy-source-authorization", "Bearer secret-token")
	err := VerifySharedKey(r, "acct", testKeys, testNow)
	e := expectCode(t, err, CodeAuthenticationFailed, "Authorization")
	sts, _ := stringToSign(r, "acct")
	var forbidden []string
	for _, k := range testKeys {
		buf := append(make([]byte, macPad), sts...)
		sum := macSHA256(k, buf)
		forbidden = append(forbidden, FormatKey(k), base64.StdEncoding.EncodeToString(sum[:]))
	}
	forbidden = append(forbidden, cpk, "secret-token")
	for _, s := range forbidden {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
	if !strings.Contains(e.Message, `x-ms-encryption-key:<redacted>\n`) || !strings.Contains(e.Message, `x-ms-copy-source-authorization:<redacted>\n`) {
		t.Errorf("message %q does not show the redacted headers", e.Message)
	}
}

func TestSignSharedKeyRefusals(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://acct.blob.core.windows.net/c", nil)
	expectCode(t, SignSharedKey(r, "acct", nil, testNow), CodeInvalidParameter, "key")
	expectCode(t, SignSharedKey(r, "a:b", testKeys[0], testNow), CodeInvalidParameter, "account")
	r.URL.RawQuery = "a=%"
	expectCode(t, SignSharedKey(r, "acct", testKeys[0], testNow), CodeInvalidQueryParameterValue, "a")
}

// TestVerifySharedKeyAllocs: verifying a typical request allocates
// nothing.
func TestVerifySharedKeyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items; allocation counts mean nothing")
	}
	r := benchRequest(t)
	if err := VerifySharedKey(r, "acct", testKeys, testNow); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() {
		if err := VerifySharedKey(r, "acct", testKeys, testNow); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("VerifySharedKey allocates %v times per call", n)
	}
}

// benchRequest is a Put Block as azblob sends it, signed.
func benchRequest(t testing.TB) *http.Request {
	r, err := http.NewRequest("PUT", "http://acct.blob.core.windows.net/data/dir/part-00017.parquet?comp=block&blockid=YmxvY2stMDAwMDE%3D&timeout=30", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Length", "4194304")
	r.Header.Set("Content-Type", "application/octet-stream")
	r.Header.Set("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")
	r.Header.Set("x-ms-version", "2023-11-03")
	r.Header.Set("x-ms-client-request-id", "0f8fad5b-d9cb-469f-a165-70867728950e")
	r.Header.Set("x-ms-meta-Project", "vnetml")
	r.Header.Set("x-ms-meta-run_id", "42")
	r.Header.Set("User-Agent", "azsdk-go-azblob/v1.8.3 (go1.26.8; linux)")
	if err := SignSharedKey(r, "acct", testKeys[1], testNow); err != nil {
		t.Fatal(err)
	}
	return r
}
