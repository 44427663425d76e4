package storageauth

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// SASVersion is the signed version (sv) SignServiceSAS and SignAccountSAS
// write by default, and the oldest one ParseSAS accepts: the first whose
// string-to-sign includes the encryption scope (ses). The string-to-sign of
// a SAS signed with an account key has not changed since, so later versions
// are verified the same way.
const SASVersion = "2020-12-06"

// SASTimeFormat is the form SignServiceSAS and SignAccountSAS write st and
// se in. ParseSAS also accepts fractions of a second, "2006-01-02T15:04Z"
// and "2006-01-02", Azure's other ISO 8601 UTC forms.
const SASTimeFormat = "2006-01-02T15:04:05Z"

// Protocol is a SAS's spr: the protocols a request may use.
type Protocol uint8

const (
	// ProtocolAny: spr is absent; HTTPS and HTTP are both allowed.
	ProtocolAny Protocol = iota
	// ProtocolHTTPS: spr=https.
	ProtocolHTTPS
	// ProtocolHTTPSAndHTTP: spr=https,http.
	ProtocolHTTPSAndHTTP
)

func (p Protocol) String() string {
	switch p {
	case ProtocolHTTPS:
		return "https"
	case ProtocolHTTPSAndHTTP:
		return "https,http"
	}
	return ""
}

func parseProtocol(s string) (Protocol, error) {
	switch s {
	case "https":
		return ProtocolHTTPS, nil
	case "https,http":
		return ProtocolHTTPSAndHTTP, nil
	}
	return 0, fmt.Errorf("use https or https,http")
}

// IPRange is a SAS's sip: the caller addresses it allows, First through
// Last inclusive, of one family. The zero value (no sip) allows any
// address; a single address has First == Last.
type IPRange struct {
	First, Last netip.Addr
}

// ParseIPRange reads "a" or "a-b". IPv4-mapped IPv6 addresses are unmapped.
func ParseIPRange(s string) (IPRange, error) {
	first, last, isRange := strings.Cut(s, "-")
	if !isRange {
		last = first
	}
	a, err := netip.ParseAddr(first)
	if err != nil || a.Zone() != "" {
		return IPRange{}, fmt.Errorf("%s is not an IP address", quote(first, 64))
	}
	b, err := netip.ParseAddr(last)
	if err != nil || b.Zone() != "" {
		return IPRange{}, fmt.Errorf("%s is not an IP address", quote(last, 64))
	}
	r := IPRange{First: a.Unmap(), Last: b.Unmap()}
	if err := r.check(); err != nil {
		return IPRange{}, err
	}
	return r, nil
}

func (r IPRange) check() error {
	switch {
	case !r.First.IsValid() && !r.Last.IsValid():
		return nil
	case !r.First.IsValid() || !r.Last.IsValid():
		return fmt.Errorf("set both ends of the range, or neither")
	case r.First.Zone() != "" || r.Last.Zone() != "":
		return fmt.Errorf("addresses with a zone are not allowed")
	case r.First.Is4() != r.Last.Is4():
		return fmt.Errorf("%s and %s are of different families", r.First, r.Last)
	case r.Last.Less(r.First):
		return fmt.Errorf("%s comes after %s", r.First, r.Last)
	}
	return nil
}

// IsZero reports whether r is the zero range, which allows any address.
func (r IPRange) IsZero() bool { return !r.First.IsValid() }

// Contains reports whether r allows a; the zero range allows any address.
// An IPv4-mapped IPv6 a is treated as IPv4; its zone is ignored.
func (r IPRange) Contains(a netip.Addr) bool {
	if r.IsZero() {
		return true
	}
	a = a.Unmap().WithZone("")
	return a.IsValid() && a.Is4() == r.First.Is4() && !a.Less(r.First) && !r.Last.Less(a)
}

// String returns sip's form: "a" or "a-b"; "" for the zero range.
func (r IPRange) String() string {
	switch {
	case r.IsZero():
		return ""
	case r.First == r.Last:
		return r.First.String()
	}
	return r.First.String() + "-" + r.Last.String()
}

// The signed fields of a SAS, by index into SAS.raw.
const (
	fSV = iota
	fSS
	fSRT
	fSR
	fSP
	fST
	fSE
	fSIP
	fSPR
	fSES
	fRSCC
	fRSCD
	fRSCE
	fRSCL
	fRSCT
	fSIG
	nFields
)

var fieldNames = [nFields]string{
	fSV: "sv", fSS: "ss", fSRT: "srt", fSR: "sr", fSP: "sp", fST: "st", fSE: "se", fSIP: "sip", fSPR: "spr",
	fSES: "ses", fRSCC: "rscc", fRSCD: "rscd", fRSCE: "rsce", fRSCL: "rscl", fRSCT: "rsct", fSIG: "sig",
}

// unsupported are the SAS parameters of features this package does not
// support, with why.
var unsupported = []struct{ name, why string }{
	{"si", "Stored access policies (si) are not supported; put sp, st and se in the SAS itself."},
	{"skoid", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"sktid", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"skt", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"ske", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"sks", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"skv", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"skdutid", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"sduoid", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"saoid", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"suoid", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"scid", "User delegation SAS are not supported; sign the SAS with an account key."},
	{"srh", "Signed request headers (srh) are not supported."},
	{"srq", "Signed request query parameters (srq) are not supported."},
	{"sdd", "Directory SAS (sr=d, sdd) are not supported; use a container SAS."},
}

// isSASParam reports whether name is a SAS query parameter.
func isSASParam(name string) bool {
	for _, f := range fieldNames {
		if f == name {
			return true
		}
	}
	for _, u := range unsupported {
		if u.name == name {
			return true
		}
	}
	return false
}

// StripSAS returns q without its SAS parameters, for handlers that must not
// see them. q is not modified; when it holds no SAS parameter it is
// returned as is.
func StripSAS(q url.Values) url.Values {
	found := false
	for k := range q {
		if isSASParam(k) {
			found = true
			break
		}
	}
	if !found {
		return q
	}
	out := make(url.Values, len(q))
	for k, v := range q {
		if !isSASParam(k) {
			out[k] = v
		}
	}
	return out
}

// SAS is a parsed shared access signature: a service SAS (Resource "b" or
// "c") or an account SAS (Resource "", Services and ResourceTypes set). It
// keeps each signed field exactly as it was sent, since the signature
// covers the text, not the value. Its String form omits the signature.
type SAS struct {
	Version       string        // sv
	Resource      string        // sr: "b" (blob) or "c" (container); "" for an account SAS
	Services      Services      // ss (account SAS)
	ResourceTypes ResourceTypes // srt (account SAS)
	Permissions   Permission    // sp
	Start         time.Time     // st; zero when absent
	Expiry        time.Time     // se
	IPRange       IPRange       // sip; zero when absent
	Protocol      Protocol      // spr
	// EncryptionScope is ses. It is signed but not enforced: the blob store
	// has no encryption scopes.
	EncryptionScope string
	// The response header overrides of a service SAS (rscc, rscd, rsce,
	// rscl, rsct). They are signed; applying them to a read's response is
	// the server's business.
	CacheControl, ContentDisposition, ContentEncoding, ContentLanguage, ContentType string

	raw [nFields]string
	sig [sha256.Size]byte
}

// IsAccount reports whether s is an account SAS.
func (s SAS) IsAccount() bool { return s.Resource == "" }

// Values returns s as query parameters, signature included.
func (s SAS) Values() url.Values {
	v := make(url.Values, nFields)
	for i, f := range s.raw {
		if f != "" {
			v.Set(fieldNames[i], f)
		}
	}
	return v
}

// Encode returns s as a query string, signature included.
func (s SAS) Encode() string { return s.Values().Encode() }

// String returns s's parameters without the signature, for logs.
func (s SAS) String() string {
	v := s.Values()
	v.Del("sig")
	return v.Encode()
}

// GoString is String, so that %#v does not print the signature either.
func (s SAS) GoString() string { return "storageauth.SAS(" + s.String() + ")" }

// ParseSAS reads the SAS in a request's query. It returns false, and no
// error, when q has no sig parameter (no SAS), and an
// InvalidQueryParameterValue error, Target the parameter, for a SAS that
// is malformed or uses a feature this package does not support (stored
// access policies, user delegation, snapshot, version, directory and file
// SAS). A parameter name is matched exactly ("sig", not "SIG").
func ParseSAS(q url.Values) (SAS, bool, error) {
	if _, ok := q["sig"]; !ok {
		return SAS{}, false, nil
	}
	var s SAS
	for i, name := range fieldNames {
		switch vs := q[name]; len(vs) {
		case 0:
		case 1:
			if vs[0] == "" {
				return SAS{}, true, badQuery(name, "The SAS parameter %s is empty.", name)
			}
			if strings.ContainsAny(vs[0], "\r\n") {
				return SAS{}, true, badQuery(name, "The SAS parameter %s holds a line break.", name)
			}
			s.raw[i] = vs[0]
		default:
			return SAS{}, true, badQuery(name, "The SAS parameter %s appears %d times; a SAS has each once.", name, len(vs))
		}
	}
	for _, u := range unsupported {
		if _, ok := q[u.name]; ok {
			return SAS{}, true, badQuery(u.name, "%s", u.why)
		}
	}
	if err := s.parse(); err != nil {
		return SAS{}, true, err
	}
	return s, true, nil
}

// parse fills s's typed fields from s.raw.
func (s *SAS) parse() *armerror.Error {
	if !decodeSig(&s.sig, s.raw[fSIG]) {
		return badQuery("sig", "The signature is not the base64 of a 32-byte HMAC-SHA256.")
	}
	s.Version = s.raw[fSV]
	if err := checkVersion(s.Version); err != nil {
		return err
	}
	s.Resource = s.raw[fSR]
	switch s.Resource {
	case "":
		if s.raw[fSS] == "" || s.raw[fSRT] == "" {
			if s.raw[fSS] == "" && s.raw[fSRT] == "" {
				return badQuery("sr", "The SAS has neither sr (a service SAS) nor ss and srt (an account SAS).")
			}
			target := "srt"
			if s.raw[fSS] == "" {
				target = "ss"
			}
			return badQuery(target, "An account SAS needs both ss and srt.")
		}
		for _, f := range []int{fRSCC, fRSCD, fRSCE, fRSCL, fRSCT} {
			if s.raw[f] != "" {
				return badQuery(fieldNames[f], "%s applies to a service SAS only; an account SAS does not sign it.", fieldNames[f])
			}
		}
		ss, err := parseSet(s.raw[fSS], serviceLetters)
		if err != nil {
			return badQuery("ss", "The signed services are not valid: %v.", err)
		}
		srt, err := parseSet(s.raw[fSRT], resourceLetters)
		if err != nil {
			return badQuery("srt", "The signed resource types are not valid: %v.", err)
		}
		s.Services, s.ResourceTypes = Services(ss), ResourceTypes(srt)
	case "b", "c":
		if s.raw[fSS] != "" || s.raw[fSRT] != "" {
			target := "ss"
			if s.raw[fSS] == "" {
				target = "srt"
			}
			return badQuery(target, "A service SAS (sr) carries no ss or srt.")
		}
	case "bs", "bv":
		return badQuery("sr", "Snapshot and version SAS (sr=%s) are not supported; use a blob SAS (sr=b).", s.Resource)
	case "d":
		return badQuery("sr", "Directory SAS (sr=d) are not supported; use a container SAS (sr=c).")
	case "f", "s":
		return badQuery("sr", "File service SAS (sr=%s) are not supported; use an account SAS with ss=f.", s.Resource)
	default:
		return badQuery("sr", "The signed resource %s is not valid; use b (blob) or c (container).", quote(s.Resource, 16))
	}
	valid := servicePerms
	if s.IsAccount() {
		valid = accountPerms
	}
	if s.raw[fSP] == "" {
		return badQuery("sp", "The SAS has no permissions (sp).")
	}
	p, err := parsePermission(s.raw[fSP], valid)
	if err != nil {
		return badQuery("sp", "The signed permissions are not valid: %v.", err)
	}
	s.Permissions = p
	if s.raw[fSE] == "" {
		return badQuery("se", "The SAS has no expiry time (se).")
	}
	if s.Expiry, err = parseSASTime(s.raw[fSE]); err != nil {
		return badQuery("se", "The expiry time %s is not an ISO 8601 UTC time such as 2024-01-31T12:00:00Z.", quote(s.raw[fSE], 40))
	}
	if s.raw[fST] != "" {
		if s.Start, err = parseSASTime(s.raw[fST]); err != nil {
			return badQuery("st", "The start time %s is not an ISO 8601 UTC time such as 2024-01-31T12:00:00Z.", quote(s.raw[fST], 40))
		}
	}
	if s.raw[fSIP] != "" {
		if s.IPRange, err = ParseIPRange(s.raw[fSIP]); err != nil {
			return badQuery("sip", "The signed IP range is not valid: %v; use an address or first-last.", err)
		}
	}
	if s.raw[fSPR] != "" {
		if s.Protocol, err = parseProtocol(s.raw[fSPR]); err != nil {
			return badQuery("spr", "The signed protocol %s is not valid; %v.", quote(s.raw[fSPR], 16), err)
		}
	}
	s.EncryptionScope = s.raw[fSES]
	s.CacheControl, s.ContentDisposition, s.ContentEncoding = s.raw[fRSCC], s.raw[fRSCD], s.raw[fRSCE]
	s.ContentLanguage, s.ContentType = s.raw[fRSCL], s.raw[fRSCT]
	return nil
}

func checkVersion(v string) *armerror.Error {
	if v == "" {
		return badQuery("sv", "The SAS has no signed version (sv).")
	}
	if _, err := time.Parse("2006-01-02", v); err != nil {
		return badQuery("sv", "The signed version %s is not a service version such as %s.", quote(v, 16), SASVersion)
	}
	if v < SASVersion {
		return badQuery("sv", "The signed version %s is not supported; sign with sv=%s or later.", v, SASVersion)
	}
	return nil
}

// sasTimeFormats are the ISO 8601 UTC forms Azure accepts in st and se.
// time.Parse accepts a fraction of a second after the seconds of the first
// form.
var sasTimeFormats = []string{SASTimeFormat, "2006-01-02T15:04Z", "2006-01-02"}

func parseSASTime(s string) (time.Time, error) {
	var err error
	for _, f := range sasTimeFormats {
		var t time.Time
		if t, err = time.Parse(f, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// Verify decides whether s allows access a to account's data, requested by
// caller (the caller's virtual address, which sip is checked against) over
// HTTPS or not, at now. keys are the account's keys; a signature under any
// of them is valid.
//
// The checks, in order, and what each failure is (Target in parentheses):
//
//   - a service SAS is for the blob service: AuthorizationServiceMismatch
//     (sr); a blob SAS covers one blob, a container SAS the container's
//     blobs and List Blobs: AuthorizationResourceTypeMismatch (sr);
//   - the signature: AuthenticationFailed (sig), with the string-to-sign;
//   - st ≤ now < se: AuthenticationFailed (st or se);
//   - spr: AuthorizationProtocolMismatch (spr);
//   - sip: AuthorizationSourceIPMismatch (sip);
//   - an account SAS's ss and srt: AuthorizationServiceMismatch (ss),
//     AuthorizationResourceTypeMismatch (srt);
//   - sp holds one of a.Perm: AuthorizationPermissionMismatch (sp).
func (s SAS) Verify(account string, keys [][]byte, a Access, caller netip.Addr, https bool, now time.Time) error {
	if s.raw[fSIG] == "" {
		return badQuery("sig", "The SAS was not made by ParseSAS.")
	}
	svc := a.service()
	rt := a.ResourceType()
	need := a.Perm
	if a.Blob != "" && a.Container == "" {
		return fail(CodeAuthorizationResourceTypeMismatch, "", msgResourceType, "The request names a blob but no container.")
	}
	if !s.IsAccount() {
		if svc != ServiceBlob {
			return fail(CodeAuthorizationServiceMismatch, "sr", msgService,
				"A blob service SAS (sr=%s) cannot be used at the %s endpoint; use an account SAS with ss=%s.", s.Resource, serviceName(svc), svc)
		}
		switch {
		case s.Resource == "b" && rt != ResourceObject:
			return fail(CodeAuthorizationResourceTypeMismatch, "sr", msgResourceType,
				"A blob SAS (sr=b) covers one blob; container and account operations need a container or account SAS.")
		case s.Resource == "c" && rt == ResourceService:
			return fail(CodeAuthorizationResourceTypeMismatch, "sr", msgResourceType,
				"A container SAS (sr=c) covers one container; account operations need an account SAS (srt=s).")
		case s.Resource == "c" && rt == ResourceContainer:
			// Of the container's own operations, a container SAS allows
			// List Blobs only.
			if need &= PermList; need == 0 {
				return fail(CodeAuthorizationResourceTypeMismatch, "sr", msgResourceType,
					"A container SAS (sr=c) allows listing the container's blobs, not other operations on the container itself; use an account SAS (srt=c).")
			}
		}
	}

	buf := getSASBuf()
	defer putSASBuf(buf)
	*buf = s.appendStringToSign((*buf)[:macPad], account, a)
	if !verifyMAC(keys, *buf, &s.sig) {
		return authFailed("sig", "Signature did not match. String to sign used was %s", showStringToSign(string((*buf)[macPad:])))
	}

	if now.Before(s.Start) || !now.Before(s.Expiry) {
		target := "se"
		if now.Before(s.Start) {
			target = "st"
		}
		var start string
		if !s.Start.IsZero() {
			start = s.Start.UTC().Format(http1123)
		}
		return authFailed(target, "Signature not valid in the specified time frame: Start [%s] - Expiry [%s] - Current [%s]",
			start, s.Expiry.UTC().Format(http1123), now.UTC().Format(http1123))
	}
	if s.Protocol == ProtocolHTTPS && !https {
		return fail(CodeAuthorizationProtocolMismatch, "spr", msgProtocol, "The SAS allows HTTPS only (spr=https); send the request over HTTPS.")
	}
	if !s.IPRange.Contains(caller) {
		return fail(CodeAuthorizationSourceIPMismatch, "sip", "This request is not authorized to perform this operation using this source IP %s.",
			"The SAS allows requests from %s only (sip).", callerString(caller), s.IPRange)
	}
	if s.IsAccount() {
		if s.Services&svc == 0 {
			return fail(CodeAuthorizationServiceMismatch, "ss", msgService,
				"The account SAS is for services %q (ss); this is the %s service (%s).", s.Services, serviceName(svc), svc)
		}
		if s.ResourceTypes&rt == 0 {
			return fail(CodeAuthorizationResourceTypeMismatch, "srt", msgResourceType,
				"The account SAS covers resource types %q (srt); this operation is on %s (srt=%s).", s.ResourceTypes, resourceName(rt), rt)
		}
	}
	if s.Permissions&need == 0 {
		return fail(CodeAuthorizationPermissionMismatch, "sp", msgPermission, "The SAS grants %q (sp); this operation needs %s.", s.raw[fSP], needString(need))
	}
	return nil
}

// http1123 is http.TimeFormat, which Azure's messages use for times.
const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

func callerString(a netip.Addr) string {
	if !a.IsValid() {
		return "(unknown)"
	}
	return a.Unmap().WithZone("").String()
}

func serviceName(s Services) string {
	switch s {
	case ServiceBlob:
		return "blob"
	case ServiceFile:
		return "file"
	case ServiceQueue:
		return "queue"
	case ServiceTable:
		return "table"
	}
	return "unknown"
}

func resourceName(r ResourceTypes) string {
	switch r {
	case ResourceService:
		return "the account"
	case ResourceContainer:
		return "a container"
	}
	return "an object"
}

func needString(p Permission) string {
	switch l := p.String(); len(l) {
	case 0:
		return "a permission no SAS grants"
	case 1:
		return fmt.Sprintf("%q", l)
	default:
		return fmt.Sprintf("one of %q", l)
	}
}

// appendStringToSign appends s's string-to-sign for access a (service
// version 2020-12-06 and later) to dst. A service SAS's:
//
//	sp \n st \n se \n /blob/<account>/<container>[/<blob>] \n si \n sip \n
//	spr \n sv \n sr \n snapshot time \n ses \n rscc \n rscd \n rsce \n rscl \n rsct
//
// (the blob only for sr=b; si and the snapshot time are empty, since
// neither is supported). An account SAS's:
//
//	account \n sp \n ss \n srt \n st \n se \n sip \n spr \n sv \n ses \n
func (s *SAS) appendStringToSign(dst []byte, account string, a Access) []byte {
	line := func(v string) { dst = append(dst, v...); dst = append(dst, '\n') }
	r := &s.raw
	if s.IsAccount() {
		for _, v := range [...]string{account, r[fSP], r[fSS], r[fSRT], r[fST], r[fSE], r[fSIP], r[fSPR], r[fSV], r[fSES]} {
			line(v)
		}
		return dst
	}
	line(r[fSP])
	line(r[fST])
	line(r[fSE])
	dst = append(dst, "/blob/"...)
	dst = append(dst, account...)
	dst = append(dst, '/')
	dst = append(dst, a.Container...)
	if s.Resource == "b" {
		dst = append(dst, '/')
		dst = append(dst, a.Blob...)
	}
	dst = append(dst, '\n')
	line("") // si
	line(r[fSIP])
	line(r[fSPR])
	line(r[fSV])
	line(r[fSR])
	line("") // snapshot time
	line(r[fSES])
	line(r[fRSCC])
	line(r[fRSCD])
	line(r[fRSCE])
	line(r[fRSCL])
	dst = append(dst, r[fRSCT]...)
	return dst
}

// sasBufs pools the buffers SAS string-to-signs are built in.
var sasBufs = sync.Pool{New: func() any { b := make([]byte, macPad, 512); return &b }}

func getSASBuf() *[]byte { return sasBufs.Get().(*[]byte) }

func putSASBuf(b *[]byte) {
	if cap(*b) <= maxPooled {
		clear((*b)[:macPad])
		sasBufs.Put(b)
	}
}

// encodeSig is the base64 form of a signature.
func encodeSig(sig [sha256.Size]byte) string { return base64.StdEncoding.EncodeToString(sig[:]) }
