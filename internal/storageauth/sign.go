package storageauth

import (
	"net/url"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// ServiceSASParams are the fields of a service SAS for a blob or a
// container.
type ServiceSASParams struct {
	// Container is required. Blob names one blob (sr=b); empty makes a
	// container SAS (sr=c). Both are names, not URL-encoded.
	Container, Blob string
	// Permissions (sp) is required: letters of a service SAS
	// ("racwdxyltfmeopi").
	Permissions Permission
	// Start (st) is optional; Expiry (se) is required. Both are written to
	// the second, in UTC.
	Start, Expiry time.Time
	// IPRange (sip) and Protocol (spr) are optional.
	IPRange  IPRange
	Protocol Protocol
	// Version (sv) defaults to SASVersion; it must be that or later.
	Version string
	// EncryptionScope (ses) and the response header overrides (rscc, rscd,
	// rsce, rscl, rsct) are optional.
	EncryptionScope                                                                 string
	CacheControl, ContentDisposition, ContentEncoding, ContentLanguage, ContentType string
}

// AccountSASParams are the fields of an account SAS.
type AccountSASParams struct {
	// Services (ss) defaults to ServiceBlob.
	Services Services
	// ResourceTypes (srt) is required.
	ResourceTypes ResourceTypes
	// Permissions (sp) is required: letters of an account SAS
	// ("rwdxylacupfti").
	Permissions Permission
	// Start (st) is optional; Expiry (se) is required.
	Start, Expiry time.Time
	IPRange       IPRange
	Protocol      Protocol
	// Version (sv) defaults to SASVersion; it must be that or later.
	Version         string
	EncryptionScope string
}

// SignServiceSAS returns the query parameters of a service SAS for
// account's blob or container, signed with key. Append them to the blob's
// or container's URL.
func SignServiceSAS(account string, key []byte, p ServiceSASParams) (url.Values, error) {
	s := SAS{Resource: "b"}
	if p.Blob == "" {
		s.Resource = "c"
	}
	s.raw[fSR] = s.Resource
	if p.Container == "" {
		return nil, armerror.New(CodeInvalidParameter, "container", "a service SAS needs a container")
	}
	if p.Permissions == 0 || p.Permissions&^servicePerms != 0 {
		return nil, badParam("sp", "the permissions %q are not those of a service SAS (%s)", p.Permissions.String(), serviceOrder)
	}
	s.raw[fSP] = p.Permissions.letters(serviceOrder)
	err := s.common(account, key, p.Start, p.Expiry, p.IPRange, p.Protocol, p.Version, p.EncryptionScope)
	if err != nil {
		return nil, err
	}
	s.raw[fRSCC], s.raw[fRSCD], s.raw[fRSCE] = p.CacheControl, p.ContentDisposition, p.ContentEncoding
	s.raw[fRSCL], s.raw[fRSCT] = p.ContentLanguage, p.ContentType
	if err := s.sign(account, key, Access{Container: p.Container, Blob: p.Blob}); err != nil {
		return nil, err
	}
	return s.Values(), nil
}

// SignAccountSAS returns the query parameters of an account SAS for
// account, signed with key. Append them to any URL of the account.
func SignAccountSAS(account string, key []byte, p AccountSASParams) (url.Values, error) {
	var s SAS
	if p.Services == 0 {
		p.Services = ServiceBlob
	}
	if p.Services&^(ServiceBlob|ServiceFile|ServiceQueue|ServiceTable) != 0 {
		return nil, badParam("ss", "unknown services")
	}
	s.raw[fSS] = p.Services.String()
	if p.ResourceTypes == 0 || p.ResourceTypes&^(ResourceService|ResourceContainer|ResourceObject) != 0 {
		return nil, badParam("srt", "an account SAS needs resource types, letters of %q", resourceLetters)
	}
	s.raw[fSRT] = p.ResourceTypes.String()
	if p.Permissions == 0 || p.Permissions&^accountPerms != 0 {
		return nil, badParam("sp", "the permissions %q are not those of an account SAS (%s)", p.Permissions.String(), accountOrder)
	}
	s.raw[fSP] = p.Permissions.letters(accountOrder)
	if err := s.common(account, key, p.Start, p.Expiry, p.IPRange, p.Protocol, p.Version, p.EncryptionScope); err != nil {
		return nil, err
	}
	if err := s.sign(account, key, Access{}); err != nil {
		return nil, err
	}
	return s.Values(), nil
}

// common fills the fields both kinds of SAS have.
func (s *SAS) common(account string, key []byte, start, expiry time.Time, ipr IPRange, proto Protocol, version, scope string) error {
	if len(key) == 0 {
		return armerror.New(CodeInvalidParameter, "key", "the account key is empty; pass one of the account's keys")
	}
	if account == "" {
		return armerror.New(CodeInvalidParameter, "account", "the account name is empty")
	}
	if expiry.IsZero() {
		return badParam("se", "a SAS needs an expiry time")
	}
	s.raw[fSE] = expiry.UTC().Format(SASTimeFormat)
	if !start.IsZero() {
		if !start.Before(expiry) {
			return badParam("st", "the start time %s is not before the expiry time %s", start.UTC().Format(SASTimeFormat), s.raw[fSE])
		}
		s.raw[fST] = start.UTC().Format(SASTimeFormat)
	}
	if err := ipr.check(); err != nil {
		return badParam("sip", "the IP range is not valid: %v", err)
	}
	s.raw[fSIP] = ipr.String()
	if proto > ProtocolHTTPSAndHTTP {
		return badParam("spr", "unknown protocol %d", proto)
	}
	s.raw[fSPR] = proto.String()
	if version == "" {
		version = SASVersion
	}
	if err := checkVersion(version); err != nil {
		return err
	}
	s.raw[fSV] = version
	s.raw[fSES] = scope
	return nil
}

// sign checks that no field breaks the string-to-sign's lines, parses the
// raw fields back (so that the SAS returned is one ParseSAS accepts) and
// computes the signature.
func (s *SAS) sign(account string, key []byte, a Access) error {
	for i, v := range s.raw {
		if strings.ContainsAny(v, "\r\n") {
			return badParam(fieldNames[i], "the value holds a line break")
		}
	}
	if strings.ContainsAny(account+a.Container+a.Blob, "\r\n") {
		return armerror.New(CodeInvalidParameter, "", "the account, container and blob names may not hold line breaks")
	}
	buf := make([]byte, macPad, 512)
	buf = s.appendStringToSign(buf, account, a)
	sig := macSHA256(key, buf)
	s.raw[fSIG] = encodeSig(sig)
	if err := s.parse(); err != nil {
		return err
	}
	return nil
}

func badParam(target, format string, args ...any) *armerror.Error {
	return armerror.New(CodeInvalidParameter, target, format, args...)
}
