package storageauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// hdrXMsDate is x-ms-date in canonical form, which http.Header.Get finds
// without allocating.
const hdrXMsDate = "X-Ms-Date"

// MaxClockSkew is how far a Shared Key request's x-ms-date (or Date) may be
// from the server's clock, either way: Azure's 15 minutes.
const MaxClockSkew = 15 * time.Minute

// SignSharedKey signs r for account with key: it sets x-ms-date to now if
// the request has none, then Authorization to "SharedKey
// <account>:<signature>". Sign last: any header or query parameter changed
// afterwards invalidates the signature. Azure also requires x-ms-version on
// every signed request; set it before signing.
//
// Content-Length is taken from the header if set, otherwise from
// r.ContentLength, as net/http will send it.
func SignSharedKey(r *http.Request, account string, key []byte, now time.Time) error {
	if len(key) == 0 {
		return armerror.New(CodeInvalidParameter, "key", "the account key is empty; pass one of the account's keys (ParseKey reads Azure's base64 form)")
	}
	if account == "" || strings.ContainsAny(account, ": \t\r\n") {
		return armerror.New(CodeInvalidParameter, "account", "the account name %s is not valid; use the storage account's name", quote(account, 64))
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if r.Header.Get(hdrXMsDate) == "" {
		r.Header.Set(hdrXMsDate, now.UTC().Format(http.TimeFormat))
	}
	c := getCanon()
	defer putCanon(c)
	if err := c.sharedKey(r, account); err != nil {
		return err
	}
	sum := macSHA256(key, c.buf)
	var enc [44]byte
	base64.StdEncoding.Encode(enc[:], sum[:])
	r.Header.Set("Authorization", "SharedKey "+account+":"+string(enc[:]))
	return nil
}

// VerifySharedKey verifies r's Authorization header, "SharedKey
// <account>:<signature>", against any of the account's keys (Azure's key1
// and key2), and that its x-ms-date (or Date) is within MaxClockSkew of now.
//
// account is the account the server routed r to (by host name); r's path
// is Azure's without the account ("/container/blob"), and the resource the
// signature covers is "/<account><path>", as Azure's is.
//
// It fails with NoAuthenticationInformation when r has no Authorization
// header, InvalidAuthenticationInfo when the header is malformed or not
// Shared Key, AuthenticationFailed (Target "Authorization", "x-ms-date" or
// "Date") when the signature, account or date is wrong, and
// InvalidQueryParameterValue or InvalidHeaderValue when the query or an
// x-ms-* header cannot be canonicalized.
func VerifySharedKey(r *http.Request, account string, keys [][]byte, now time.Time) error {
	h := r.Header.Get("Authorization")
	if h == "" {
		return fail(CodeNoAuthenticationInformation, "Authorization", msgNoAuthentication,
			"The request has no Authorization header; sign it with Shared Key or add a SAS to its query.")
	}
	scheme, cred, _ := strings.Cut(h, " ")
	switch scheme {
	case "SharedKey":
	case "SharedKeyLite":
		return badAuthInfo("Shared Key Lite is not supported; sign with SharedKey.")
	case "Bearer":
		return badAuthInfo("Bearer tokens are not supported on this data plane; sign with SharedKey or use a SAS.")
	default:
		return badAuthInfo("The scheme %s is not supported; the header must read \"SharedKey <account>:<signature>\".", quote(scheme, 32))
	}
	name, enc, ok := strings.Cut(cred, ":")
	if !ok {
		return badAuthInfo("The header must read \"SharedKey <account>:<signature>\".")
	}
	var sig [sha256.Size]byte
	if !decodeSig(&sig, enc) {
		return badAuthInfo("The signature is not the base64 of a 32-byte HMAC-SHA256.")
	}
	if name != account {
		return authFailed("Authorization", "The Authorization header names the account %s, but the request is for account %s.", quote(name, 64), account)
	}
	if err := checkDate(r.Header, now); err != nil {
		return err
	}
	c := getCanon()
	defer putCanon(c)
	if err := c.sharedKey(r, account); err != nil {
		return err
	}
	if verifyMAC(keys, c.buf, &sig) {
		return nil
	}
	return authFailed("Authorization", "The MAC signature found in the HTTP request is not the same as any computed signature. Server used following string to sign: '%s'.",
		showStringToSign(string(c.buf[macPad:])))
}

// decodeSig decodes a base64 HMAC-SHA256 into sig without allocating.
func decodeSig(sig *[sha256.Size]byte, s string) bool {
	if len(s) != base64.StdEncoding.EncodedLen(sha256.Size) {
		return false
	}
	var src [44]byte // EncodedLen(sha256.Size); copied so as not to allocate
	copy(src[:], s)
	var buf [sha256.Size + 2]byte
	n, err := base64.StdEncoding.Decode(buf[:], src[:])
	if err != nil || n != sha256.Size {
		return false
	}
	copy(sig[:], buf[:n])
	return true
}

// checkDate enforces MaxClockSkew on x-ms-date, or Date when x-ms-date is
// absent.
func checkDate(h http.Header, now time.Time) error {
	name, v := "x-ms-date", get(h, hdrXMsDate)
	if v == "" {
		name, v = "Date", get(h, "Date")
	}
	if v == "" {
		return authFailed("x-ms-date", "Request date header not specified. Set x-ms-date to the current time in RFC 1123 form (%s).", now.UTC().Format(http.TimeFormat))
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return authFailed(name, "The %s header %s is not an RFC 1123 date such as %q.", name, quote(v, 64), now.UTC().Format(http.TimeFormat))
	}
	switch d := now.Sub(t); {
	case d > MaxClockSkew:
		return authFailed(name, "Request date header too old: '%s'. The server's clock reads %s; a request is accepted for %v after its date.",
			t.UTC().Format(http.TimeFormat), now.UTC().Format(http.TimeFormat), MaxClockSkew)
	case d < -MaxClockSkew:
		return authFailed(name, "Request date header too far in the future: '%s'. The server's clock reads %s; check the client's clock.",
			t.UTC().Format(http.TimeFormat), now.UTC().Format(http.TimeFormat))
	}
	return nil
}

// canon is the scratch space of one canonicalization, pooled so that
// verifying a request allocates nothing.
type canon struct {
	// buf holds macPad bytes of headroom (see macSHA256), then the
	// string-to-sign.
	buf []byte
	// names holds the lowercased names of x-ms-* headers; hdrs points into
	// it.
	names []byte
	hdrs  []hdrEntry
	// query holds the decoded names and values of query parameters; params
	// points into it.
	query  []byte
	params []param
}

type hdrEntry struct {
	start, end int      // the lowercased name, names[start:end]
	key        string   // the header's key in the map, to break ties
	vals       []string // its values
}

type param struct {
	ns, ne, vs, ve int // name query[ns:ne], value query[vs:ve]
}

var canonPool = sync.Pool{New: func() any { return new(canon) }}

func getCanon() *canon {
	c := canonPool.Get().(*canon)
	if cap(c.buf) < macPad {
		c.buf = make([]byte, macPad, 1024)
	}
	c.buf = c.buf[:macPad]
	return c
}

// maxPooled bounds the buffers kept for reuse, so that one huge request does
// not pin its buffers forever.
const maxPooled = 64 << 10

func putCanon(c *canon) {
	clear(c.buf[:macPad])
	clear(c.hdrs) // drop references to the request's header values
	c.hdrs = c.hdrs[:0]
	c.params = c.params[:0]
	if cap(c.buf) > maxPooled || cap(c.names) > maxPooled || cap(c.query) > maxPooled {
		return
	}
	canonPool.Put(c)
}

// standardHeaders are the headers of the string-to-sign, in order, after the
// verb (Azure's Blob, Queue and File services, version 2009-09-19 and
// later).
var standardHeaders = [...]string{
	"Content-Encoding",
	"Content-Language",
	"Content-Length",
	"Content-Md5",
	"Content-Type",
	"Date",
	"If-Modified-Since",
	"If-Match",
	"If-None-Match",
	"If-Unmodified-Since",
	"Range",
}

// sharedKey appends r's Shared Key string-to-sign to c.buf:
//
//	VERB \n Content-Encoding \n Content-Language \n Content-Length \n
//	Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n If-Match \n
//	If-None-Match \n If-Unmodified-Since \n Range \n
//	CanonicalizedHeaders CanonicalizedResource
//
// Content-Length is empty when 0; Date is empty when x-ms-date is set.
// CanonicalizedHeaders is "name:value\n" for every x-ms-* header, names
// lowercased and in Azure's collation (collate), values trimmed, line folds
// replaced by a space, and several values joined by commas.
// CanonicalizedResource is "/<account><escaped path>", then
// "\nname:value1,value2" for every query parameter, names lowercased and
// sorted, values URL-decoded and sorted.
func (c *canon) sharedKey(r *http.Request, account string) error {
	c.buf = append(c.buf, r.Method...)
	c.buf = append(c.buf, '\n')
	xmsDate := get(r.Header, hdrXMsDate) != ""
	for _, name := range standardHeaders {
		v := get(r.Header, name)
		switch name {
		case "Content-Length":
			if v == "" && r.ContentLength > 0 {
				c.buf = strconv.AppendInt(c.buf, r.ContentLength, 10)
				v = ""
			} else if v == "0" {
				v = ""
			}
		case "Date":
			if xmsDate {
				v = ""
			}
		}
		c.buf = appendValue(c.buf, v)
		c.buf = append(c.buf, '\n')
	}
	if err := c.headers(r.Header); err != nil {
		return err
	}
	c.buf = append(c.buf, '/')
	c.buf = append(c.buf, account...)
	if p := r.URL.EscapedPath(); p != "" {
		c.buf = append(c.buf, p...)
	} else {
		c.buf = append(c.buf, '/')
	}
	return c.queryParams(r.URL.RawQuery)
}

// get is h.Get for a name already in canonical form, without Get's
// canonicalization of the name.
func get(h http.Header, canonicalName string) string {
	if v := h[canonicalName]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// headers appends the CanonicalizedHeaders.
func (c *canon) headers(h http.Header) error {
	c.names = c.names[:0]
	for k, vs := range h {
		if len(k) < 5 || !strings.EqualFold(k[:5], "x-ms-") || len(vs) == 0 {
			continue
		}
		start := len(c.names)
		for i := 0; i < len(k); i++ {
			b := k[i]
			if !isTokenChar(b) {
				return fail(CodeInvalidHeaderValue, quote(k, 64), msgInvalidHeader, "An x-ms-* header name may hold only token characters (RFC 9110).")
			}
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			c.names = append(c.names, b)
		}
		c.hdrs = append(c.hdrs, hdrEntry{start: start, end: len(c.names), key: k, vals: vs})
	}
	names := c.names
	slices.SortFunc(c.hdrs, func(a, b hdrEntry) int {
		na, nb := names[a.start:a.end], names[b.start:b.end]
		if d := collate(na, nb); d != 0 {
			return d
		}
		if d := bytes.Compare(na, nb); d != 0 {
			return d
		}
		return strings.Compare(a.key, b.key)
	})
	for i, e := range c.hdrs {
		name := names[e.start:e.end]
		if i > 0 && bytes.Equal(name, names[c.hdrs[i-1].start:c.hdrs[i-1].end]) {
			// The same name under two map keys (a map built by hand):
			// one header with all the values.
			c.buf = c.buf[:len(c.buf)-1]
			c.buf = append(c.buf, ',')
		} else {
			c.buf = append(c.buf, name...)
			c.buf = append(c.buf, ':')
		}
		for j, v := range e.vals {
			if j > 0 {
				c.buf = append(c.buf, ',')
			}
			c.buf = appendValue(c.buf, v)
		}
		c.buf = append(c.buf, '\n')
	}
	return nil
}

// queryParams appends the query part of the CanonicalizedResource. It
// parses raw as url.ParseQuery does (and refuses what it refuses), and
// refuses a decoded name or value with a line break, which would make the
// string-to-sign ambiguous.
func (c *canon) queryParams(raw string) error {
	if raw == "" {
		return nil
	}
	if cap(c.query) < len(raw) {
		c.query = make([]byte, 0, len(raw)) // decoding never lengthens
	}
	c.query = c.query[:0]
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if strings.IndexByte(seg, ';') >= 0 {
			return badQuery("", "The query contains a semicolon; separate parameters with & only.")
		}
		if seg == "" {
			continue
		}
		name, value, _ := strings.Cut(seg, "=")
		var p param
		var ok bool
		p.ns = len(c.query)
		if c.query, ok = appendUnescape(c.query, name); !ok {
			return badQuery(clip(name, 64), "The query parameter name is not validly %%-encoded.")
		}
		p.ne = len(c.query)
		p.vs = p.ne
		if c.query, ok = appendUnescape(c.query, value); !ok {
			return badQuery(clip(name, 64), "The query parameter value is not validly %%-encoded.")
		}
		p.ve = len(c.query)
		if bytes.ContainsAny(c.query[p.ns:p.ve], "\r\n") {
			return badQuery(clip(name, 64), "A query parameter holds a line break, which a Shared Key signature cannot cover unambiguously.")
		}
		for i := p.ns; i < p.ne; i++ {
			if b := c.query[i]; 'A' <= b && b <= 'Z' {
				c.query[i] = b + 'a' - 'A'
			}
		}
		c.params = append(c.params, p)
	}
	q := c.query
	slices.SortFunc(c.params, func(a, b param) int {
		if d := bytes.Compare(q[a.ns:a.ne], q[b.ns:b.ne]); d != 0 {
			return d
		}
		return bytes.Compare(q[a.vs:a.ve], q[b.vs:b.ve])
	})
	for i, p := range c.params {
		if i > 0 && bytes.Equal(q[p.ns:p.ne], q[c.params[i-1].ns:c.params[i-1].ne]) {
			c.buf = append(c.buf, ',')
		} else {
			c.buf = append(c.buf, '\n')
			c.buf = append(c.buf, q[p.ns:p.ne]...)
			c.buf = append(c.buf, ':')
		}
		c.buf = append(c.buf, q[p.vs:p.ve]...)
	}
	return nil
}

// appendUnescape appends s decoded as url.QueryUnescape decodes it ('+' is a
// space); false if s holds a malformed %-escape.
func appendUnescape(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; b {
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return dst, false
			}
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case '+':
			dst = append(dst, ' ')
		default:
			dst = append(dst, b)
		}
	}
	return dst, true
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

func unhex(b byte) byte {
	switch {
	case b >= 'a':
		return b - 'a' + 10
	case b >= 'A':
		return b - 'A' + 10
	}
	return b - '0'
}

// appendValue appends a header value as Azure canonicalizes it: without
// leading or trailing whitespace, and with each line fold (a run of
// whitespace holding CR or LF) replaced by one space. Runs of spaces within
// a line are kept: Azure's service and SDKs keep them (see
// docs/storage-auth.md).
func appendValue(dst []byte, v string) []byte {
	for len(v) > 0 && isSpace(v[0]) {
		v = v[1:]
	}
	for len(v) > 0 && isSpace(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	if !hasLineBreak(v) {
		return append(dst, v...)
	}
	for i := 0; i < len(v); {
		if !isSpace(v[i]) {
			dst = append(dst, v[i])
			i++
			continue
		}
		j, fold := i, false
		for j < len(v) && isSpace(v[j]) {
			fold = fold || v[j] == '\r' || v[j] == '\n'
			j++
		}
		if fold {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, v[i:j]...)
		}
		i = j
	}
	return dst
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func hasLineBreak(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] == '\r' || v[i] == '\n' {
			return true
		}
	}
	return false
}

// tokenChars marks the bytes that may appear in an HTTP field name (RFC
// 9110's tchar).
var tokenChars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
	}
	return t
}()

func isTokenChar(b byte) bool { return tokenChars[b] }
