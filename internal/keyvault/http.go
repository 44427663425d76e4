package keyvault

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Op is a data-plane operation, named as Key Vault's access-policy secret
// permissions name them, so that authorize can check a policy directly.
type Op string

// The secret operations. PATCH needs OpSet, as in Key Vault.
const (
	OpGet    Op = "get"
	OpList   Op = "list"
	OpSet    Op = "set"
	OpDelete Op = "delete"
)

// MaxBodyBytes bounds a request body. It is above 64 KiB because a 25 KiB
// value of control characters is six times longer in JSON (\u0000).
const MaxBodyBytes = 256 << 10

// apiVersions are the Key Vault data-plane versions accepted in
// ?api-version= (a -preview suffix is accepted on any of them).
var apiVersions = map[string]bool{
	"2015-06-01": true, "2016-10-01": true,
	"7.0": true, "7.1": true, "7.2": true, "7.3": true, "7.4": true, "7.5": true, "7.6": true,
}

const latestAPIVersion = "7.6"

// Handler serves Key Vault's secrets REST API (the data plane of every
// vault) at /secrets…:
//
//	PUT    /secrets/{name}                 set: a new version
//	GET    /secrets/{name}[/[{version}]]   get: the newest enabled, or that version
//	GET    /secrets                        list (?maxresults=1..25, nextLink)
//	GET    /secrets/{name}/versions        list versions
//	DELETE /secrets/{name}                 delete with every version
//	PATCH  /secrets/{name}[/{version}]     update attributes, tags, contentType
//
// vaultOf maps a request to its vault's ARM id (by Host, later); false is
// 404. authorize then decides (access policies and the firewall live
// there): an *armerror.Error it returns is written as is, with status 401
// for code Unauthorized and 403 otherwise; any other error is a plain 403.
// Every error is Key Vault's envelope {"error": {"code", "message",
// "innererror"}}.
func (s *Service) Handler(vaultOf func(r *http.Request) (vaultID string, ok bool), authorize func(r *http.Request, vaultID string, op Op) error) http.Handler {
	return &handler{s: s, vaultOf: vaultOf, authorize: authorize}
}

type handler struct {
	s         *Service
	vaultOf   func(*http.Request) (string, bool)
	authorize func(*http.Request, string, Op) error
}

type route int

const (
	routeList route = iota
	routeSecret
	routeVersion
	routeVersions
)

// reply is a handler's answer; body is marshaled as JSON.
type reply struct {
	status int
	body   any
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			// A bug, never the input's fault: log where, answer 500.
			h.s.log.Error("keyvault: handler panic", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			writeError(w, armerror.New(CodeInternal, "", "The request failed unexpectedly; retry, and report it if it persists."))
		}
	}()
	rep, err := h.serve(r)
	var d deniedError
	if errors.As(err, &d) {
		writeErrorStatus(w, d.status, d.e)
		return
	}
	if err != nil {
		e, ok := armerror.As(err)
		if !ok {
			h.s.log.Error("keyvault: request failed", slog.String("method", r.Method), slog.Any("err", err))
			e = armerror.New(CodeInternal, "", "The request failed unexpectedly; retry.")
		}
		writeError(w, e)
		return
	}
	writeJSON(w, rep.status, rep.body)
}

func (h *handler) serve(r *http.Request) (reply, error) {
	kind, name, version, err := parsePath(r.URL.Path)
	if err != nil {
		return reply{}, err
	}
	op, err := opOf(r.Method, kind)
	if err != nil {
		return reply{}, err
	}
	vaultID, ok := h.vaultOf(r)
	if !ok {
		return reply{}, armerror.New(CodeNotFound, "", "No key vault answers at %s.", shown(r.Host))
	}
	if _, err := checkVault(vaultID); err != nil {
		return reply{}, errInternal("map the request to its vault", err)
	}
	if err := h.authorize(r, vaultID, op); err != nil {
		return reply{}, denied(err)
	}
	q := r.URL.Query()
	apiVersion, err := checkAPIVersion(q)
	if err != nil {
		return reply{}, err
	}
	if kind != routeList {
		if err := CheckName(name); err != nil {
			return reply{}, err
		}
	}
	ctx := r.Context()
	base := "https://" + strings.ToLower(vaultName(vaultID)) + "." + h.s.dns
	switch {
	case r.Method == http.MethodPut:
		in, err := readSetBody(r)
		if err != nil {
			return reply{}, err
		}
		b, err := h.s.Set(ctx, vaultID, name, []byte(in.value), in.opts)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, bundleJSON(base, b)}, nil
	case r.Method == http.MethodPatch:
		u, err := readUpdateBody(r)
		if err != nil {
			return reply{}, err
		}
		b, err := h.s.Update(ctx, vaultID, name, version, u)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, bundleJSON(base, b)}, nil
	case r.Method == http.MethodDelete:
		b, err := h.s.Delete(ctx, vaultID, name)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, bundleJSON(base, b)}, nil
	case kind == routeList || kind == routeVersions:
		p, err := pageOptions(q)
		if err != nil {
			return reply{}, err
		}
		var page Page
		if kind == routeList {
			page, err = h.s.ListPage(ctx, vaultID, p)
		} else {
			page, err = h.s.VersionsPage(ctx, vaultID, name, p)
		}
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, listJSON(base, r.URL.Path, apiVersion, p, page, kind == routeVersions)}, nil
	default:
		b, err := h.s.Get(ctx, vaultID, name, version)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, bundleJSON(base, b)}, nil
	}
}

// parsePath splits /secrets[/{name}[/{version}|/versions]], with one
// optional trailing slash (the SDKs send /secrets/{name}/ for "newest").
func parsePath(p string) (kind route, name, version string, err error) {
	rest, ok := strings.CutPrefix(p, "/")
	segs := strings.Split(rest, "/")
	if n := len(segs); n > 1 && segs[n-1] == "" {
		segs = segs[:n-1]
	}
	if !ok || !strings.EqualFold(segs[0], "secrets") || len(segs) > 3 {
		return 0, "", "", armerror.New(CodeNotFound, "", "No such path %q; the secrets API is at /secrets, /secrets/{name}[/{version}] and /secrets/{name}/versions.", shown(p))
	}
	switch len(segs) {
	case 1:
		return routeList, "", "", nil
	case 2:
		return routeSecret, segs[1], "", nil
	}
	if strings.EqualFold(segs[2], "versions") {
		return routeVersions, segs[1], "", nil
	}
	return routeVersion, segs[1], segs[2], nil
}

// opOf checks the method against the route and names its operation.
func opOf(method string, kind route) (Op, error) {
	allowed := map[route]map[string]Op{
		routeList:     {http.MethodGet: OpList},
		routeSecret:   {http.MethodGet: OpGet, http.MethodPut: OpSet, http.MethodDelete: OpDelete, http.MethodPatch: OpSet},
		routeVersion:  {http.MethodGet: OpGet, http.MethodPatch: OpSet},
		routeVersions: {http.MethodGet: OpList},
	}[kind]
	if op, ok := allowed[method]; ok {
		return op, nil
	}
	return "", armerror.New(CodeMethodNotAllowed, "", "The method %s is not allowed here.", shown(method))
}

// deniedError is authorize's verdict with the status it is written with.
type deniedError struct {
	e      *armerror.Error
	status int
}

func (d deniedError) Error() string { return d.e.Error() }

// denied turns authorize's error into the one written: an *armerror.Error
// as is, 401 for Unauthorized and 403 for any other code; anything else a
// plain Forbidden (its text is not shown to the caller).
func denied(err error) deniedError {
	if e, ok := armerror.As(err); ok {
		if e.Code == CodeUnauthorized {
			return deniedError{e, http.StatusUnauthorized}
		}
		return deniedError{e, http.StatusForbidden}
	}
	return deniedError{armerror.New(CodeForbidden, "", "The caller is not authorized to perform this operation on the key vault."), http.StatusForbidden}
}

func checkAPIVersion(q url.Values) (string, error) {
	v := q.Get("api-version")
	if v == "" {
		return "", badParameter("api-version", "The api-version query parameter is missing; add ?api-version=%s.", latestAPIVersion)
	}
	base, _, _ := strings.Cut(v, "-preview")
	if !apiVersions[base] {
		return "", badParameter("api-version", "The specified version (%s) is not recognized. Consider using the latest supported version (%s).", shown(v), latestAPIVersion)
	}
	return v, nil
}

func pageOptions(q url.Values) (PageOptions, error) {
	var p PageOptions
	if m := q.Get("maxresults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > DefaultMaxResults {
			return p, badParameter("maxresults", "maxresults %q is not a whole number between 1 and %d.", shown(m), DefaultMaxResults)
		}
		p.MaxResults = n
	}
	p.SkipToken = q.Get("$skiptoken")
	return p, nil
}

// Wire shapes: Key Vault's SecretBundle, SecretItem, DeletedSecretBundle
// (Purgeable: no recoveryId), SecretListResult and error envelope.

type attributesJSON struct {
	Enabled       bool   `json:"enabled"`
	NBF           *int64 `json:"nbf,omitempty"`
	Exp           *int64 `json:"exp,omitempty"`
	Created       int64  `json:"created"`
	Updated       int64  `json:"updated"`
	RecoveryLevel string `json:"recoveryLevel"`
}

type bundleWire struct {
	Value       *string           `json:"value,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
	ID          string            `json:"id"`
	Attributes  attributesJSON    `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
}

type listWire struct {
	Value    []bundleWire `json:"value"`
	NextLink *string      `json:"nextLink"`
}

func attributesOf(a Attributes) attributesJSON {
	return attributesJSON{
		Enabled: a.Enabled, NBF: unixPtr(a.NotBefore), Exp: unixPtr(a.Expires),
		Created: a.Created.Unix(), Updated: a.Updated.Unix(), RecoveryLevel: "Purgeable",
	}
}

func bundleJSON(base string, b Bundle) bundleWire {
	w := bundleWire{ContentType: b.ContentType, ID: base + "/secrets/" + b.Name + "/" + b.Version, Attributes: attributesOf(b.Attributes), Tags: b.Tags}
	if b.Value != nil {
		v := string(b.Value)
		w.Value = &v
	}
	return w
}

func listJSON(base, path, apiVersion string, p PageOptions, page Page, versions bool) listWire {
	out := listWire{Value: make([]bundleWire, 0, len(page.Bundles))}
	for _, b := range page.Bundles {
		item := bundleWire{ContentType: b.ContentType, ID: base + "/secrets/" + b.Name, Attributes: attributesOf(b.Attributes), Tags: b.Tags}
		if versions {
			item.ID += "/" + b.Version
		}
		out.Value = append(out.Value, item)
	}
	if page.Next != "" {
		q := url.Values{"api-version": {apiVersion}, "$skiptoken": {page.Next}}
		if p.MaxResults != 0 {
			q.Set("maxresults", strconv.Itoa(p.MaxResults))
		}
		link := base + ":443" + strings.TrimSuffix(path, "/") + "?" + q.Encode()
		out.NextLink = &link
	}
	return out
}

type innerJSON struct {
	Code string `json:"code"`
}

type errorJSON struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError *innerJSON `json:"innererror,omitempty"`
}

func writeError(w http.ResponseWriter, e *armerror.Error) { writeErrorStatus(w, status(e.Code), e) }

func writeErrorStatus(w http.ResponseWriter, status int, e *armerror.Error) {
	body := errorJSON{Code: e.Code, Message: e.Message}
	if len(e.Details) == 1 && e.Details[0].Message == "" {
		body.InnerError = &innerJSON{Code: e.Details[0].Code}
	} else if len(e.Details) > 0 {
		// Several validation errors: Key Vault has one message, so join them.
		var b strings.Builder
		b.WriteString(e.Message)
		for _, d := range e.Details {
			b.WriteString(" ")
			b.WriteString(d.Message)
		}
		body.Message = b.String()
	}
	writeJSON(w, status, map[string]errorJSON{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil { // cannot happen: strings, numbers and maps of strings
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"The response could not be encoded."}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	w.Write(b)
}

// Request bodies are read field by field so that an unknown field, or a
// field of the wrong type, is refused by name.

type setBody struct {
	value string
	opts  SetOptions
}

// readObject reads the bounded body as a JSON object and checks its keys
// (case-insensitively, as Key Vault matches them) against allowed.
func readObject(r *http.Request) (map[string]json.RawMessage, error) {
	if r.Body == nil {
		return nil, badParameter("", "The request body is empty; send a JSON object.")
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, badParameter("", "The request body could not be read.")
	}
	if len(b) > MaxBodyBytes {
		return nil, armerror.New(CodeTooLarge, "", "The request body is larger than %d bytes.", MaxBodyBytes)
	}
	return parseObject(b, "")
}

func parseObject(b []byte, where string) (map[string]json.RawMessage, error) {
	what := "The request body"
	if where != "" {
		what = where
	}
	b = bytes.TrimSpace(b)
	if !utf8.Valid(b) {
		return nil, badParameter(where, "%s is not valid UTF-8.", what)
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, badParameter(where, "%s must be a JSON object.", what)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, badParameter(where, "%s is not valid JSON.", what)
	}
	return m, nil
}

// field finds the canonical key of k among allowed, case-insensitively.
func field(k string, allowed ...string) (string, bool) {
	for _, a := range allowed {
		if strings.EqualFold(k, a) {
			return a, true
		}
	}
	return "", false
}

func unknownField(where, k string) error {
	if where == "" {
		return badParameter(k, "Unknown field %q in the request body.", shown(k))
	}
	return badParameter(where+"."+k, "Unknown field %q in %s.", shown(k), where)
}

// canonical checks the keys of m against allowed (case-insensitively, as
// Key Vault matches them) and returns m keyed by the canonical names; a
// key given twice in different cases is refused rather than picked at
// random.
func canonical(where string, m map[string]json.RawMessage, allowed ...string) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		f, ok := field(k, allowed...)
		if !ok {
			return nil, unknownField(where, k)
		}
		if _, dup := out[f]; dup {
			return nil, badParameter(f, "The field %q is given more than once (names are case-insensitive).", f)
		}
		out[f] = v
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool { return raw == nil || string(bytes.TrimSpace(raw)) == "null" }

func decodeString(raw json.RawMessage, name string) (*string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, badParameter(name, "%s must be a string.", name)
	}
	return &s, nil
}

func decodeTags(raw json.RawMessage) (map[string]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	t := map[string]string{}
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, badParameter("tags", "tags must be an object of string values.")
	}
	return t, nil
}

// attrsBody is the "attributes" object of a set or update.
type attrsBody struct {
	enabled  *bool
	nbf, exp *time.Time
}

func decodeAttributes(raw json.RawMessage) (attrsBody, error) {
	var a attrsBody
	if isNull(raw) {
		return a, nil
	}
	m, err := parseObject(raw, "attributes")
	if err != nil {
		return a, err
	}
	// created, updated, recoveryLevel and recoverableDays are read-only: a
	// client may send a bundle's attributes back, and they are ignored.
	m, err = canonical("attributes", m, "enabled", "nbf", "exp", "created", "updated", "recoveryLevel", "recoverableDays")
	if err != nil {
		return a, err
	}
	if v, ok := m["enabled"]; ok && !isNull(v) {
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return a, badParameter("attributes.enabled", "attributes.enabled must be true or false.")
		}
		a.enabled = &b
	}
	for _, f := range []string{"nbf", "exp"} {
		v, ok := m[f]
		if !ok || isNull(v) {
			continue
		}
		var n int64
		if err := json.Unmarshal(v, &n); err != nil || n < 0 || n > 253402300799 { // up to 9999-12-31
			return a, badParameter("attributes."+f, "attributes.%s must be whole seconds since 1970-01-01 UTC.", f)
		}
		t := time.Unix(n, 0).UTC()
		if f == "nbf" {
			a.nbf = &t
		} else {
			a.exp = &t
		}
	}
	return a, nil
}

func readSetBody(r *http.Request) (setBody, error) {
	var out setBody
	m, err := readObject(r)
	if err != nil {
		return out, err
	}
	if m, err = canonical("", m, "value", "contentType", "tags", "attributes"); err != nil {
		return out, err
	}
	value, err := decodeString(m["value"], "value")
	if err != nil {
		return out, err
	}
	if value == nil {
		return out, badParameter("value", "The request body has no value; send {\"value\": \"…\"}.")
	}
	out.value = *value
	ct, err := decodeString(m["contentType"], "contentType")
	if err != nil {
		return out, err
	}
	if ct != nil {
		out.opts.ContentType = *ct
	}
	if out.opts.Tags, err = decodeTags(m["tags"]); err != nil {
		return out, err
	}
	a, err := decodeAttributes(m["attributes"])
	if err != nil {
		return out, err
	}
	out.opts.Enabled, out.opts.NotBefore, out.opts.Expires = a.enabled, a.nbf, a.exp
	return out, nil
}

func readUpdateBody(r *http.Request) (Update, error) {
	var u Update
	m, err := readObject(r)
	if err != nil {
		return u, err
	}
	if m, err = canonical("", m, "contentType", "tags", "attributes", "value"); err != nil {
		return u, err
	}
	if _, ok := m["value"]; ok {
		return u, badParameter("value", "An update cannot change the value; set a new version with PUT /secrets/{name}.")
	}
	if u.ContentType, err = decodeString(m["contentType"], "contentType"); err != nil {
		return u, err
	}
	if u.Tags, err = decodeTags(m["tags"]); err != nil {
		return u, err
	}
	a, err := decodeAttributes(m["attributes"])
	if err != nil {
		return u, err
	}
	u.Enabled, u.NotBefore, u.Expires = a.enabled, a.nbf, a.exp
	return u, nil
}

// WriteError answers e in Key Vault's error shape with the status of its
// code (403 for a code this package does not know and Forbidden): for a
// front end that refuses a request before the handler sees it (a
// firewall).
func WriteError(w http.ResponseWriter, e *armerror.Error) {
	st := status(e.Code)
	if st == http.StatusBadRequest {
		if _, known := statusOf[e.Code]; !known {
			st = http.StatusForbidden
		}
	}
	writeErrorStatus(w, st, e)
}
