package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/store"
)

// MaxBodyBytes is the largest request body accepted, ARM's own limit.
const MaxBodyBytes = 4 << 20

// Error codes the API server returns besides the store's and the model's.
const (
	codeNotFound          = store.CodeNotFound
	codeGroupNotFound     = "ResourceGroupNotFound"
	codeSubNotFound       = "SubscriptionNotFound"
	codeParentNotFound    = "ParentResourceNotFound"
	codeInvalidContent    = store.CodeInvalidContent
	codeInvalidParameter  = "InvalidParameter"
	codeMethodNotAllowed  = "MethodNotAllowed"
	codeTooLarge          = "RequestEntityTooLarge"
	codeInternal          = "InternalServerError"
	codeUnavailable       = "ServiceUnavailable"
	codeScopeLocked       = "ScopeLocked"
	codeQuotaExceeded     = "QuotaExceeded"
	codeNameMismatch      = "InvalidResourceName"
	codeTypeMismatch      = "InvalidResourceType"
	codeLocationRequired  = "LocationRequired"
	codeInvalidLocation   = "InvalidResourceLocation"
	codeSubnetInUse       = "InUseSubnetCannotBeDeleted"
	codeNSGInUse          = "InUseNetworkSecurityGroupCannotBeDeleted"
	codeRouteTableInUse   = "InUseRouteTableCannotBeDeleted"
	codePublicIPInUse     = "PublicIPAddressCannotBeDeleted"
	codeASGInUse          = "InUseApplicationSecurityGroupCannotBeDeleted"
	codeLoadBalancerInUse = "InUseLoadBalancerCannotBeDeleted"
	codeSubNotEmpty       = "SubscriptionNotEmpty"
	codeNotSupported      = "OperationNotSupported"
	codeAuthentication    = "AuthenticationFailed"
	codeAuthorization     = "AuthorizationFailed"

	codeStorageNameTaken          = "StorageAccountAlreadyTaken"
	codeVaultNameTaken            = "VaultAlreadyExists"
	codeServiceAddressesExhausted = "ServiceAddressesExhausted"
)

// statusOf maps an error code to its HTTP status; unlisted codes are 400.
var statusOf = map[string]int{
	codeNotFound:                  http.StatusNotFound,
	codeGroupNotFound:             http.StatusNotFound,
	codeSubNotFound:               http.StatusNotFound,
	codeParentNotFound:            http.StatusNotFound,
	store.CodePreconditionFailed:  http.StatusPreconditionFailed,
	store.CodeConflict:            http.StatusConflict,
	codeScopeLocked:               http.StatusConflict,
	codeStorageNameTaken:          http.StatusConflict,
	codeVaultNameTaken:            http.StatusConflict,
	codeServiceAddressesExhausted: http.StatusConflict,
	codeAuthentication:            http.StatusUnauthorized,
	codeAuthorization:             http.StatusForbidden,
	codeTooLarge:                  http.StatusRequestEntityTooLarge,
	codeMethodNotAllowed:          http.StatusMethodNotAllowed,
	codeInternal:                  http.StatusInternalServerError,
	codeUnavailable:               http.StatusServiceUnavailable,
}

// request is one API call as the handlers see it.
type request struct {
	http      *http.Request
	principal auth.Principal
	target    target
	body      []byte // the request body, read in full (bounded) before the handler runs
}

// query returns a query parameter, matched case-insensitively as ARM does.
func (rq *request) query(name string) string {
	for k, v := range rq.http.URL.Query() {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// response is what a handler answers: a status and a JSON body (nil for
// none).
type response struct {
	status int
	body   any
}

func ok(body any) (response, error)      { return response{http.StatusOK, body}, nil }
func created(body any) (response, error) { return response{http.StatusCreated, body}, nil }

// serve runs one request through authentication, routing and the handler,
// and writes the answer or the error in ARM's shape. It never lets a panic
// escape: a handler that panics is a bug, answered with a 500 and logged
// with its stack.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newGUID()
	w.Header().Set("x-ms-request-id", reqID)
	var (
		status int
		route  = "unknown"
		who    string
		failed error // logged when the answer is a 5xx
	)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			failed = fmt.Errorf("panic: %v", p)
			status = writeError(w, armerror.New(codeInternal, "", "The server failed to handle the request (request id %s); this is a bug in vnetml, please report it.", reqID), reqID)
		}
		elapsed := time.Since(start)
		s.metrics.observeRequest(methodLabel(r.Method), route, status, elapsed)
		attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
			slog.Duration("elapsed", elapsed), slog.String("principal", who), slog.String("requestId", reqID)}
		if status >= 500 && failed != nil {
			attrs = append(attrs, slog.String("error", failed.Error()))
		}
		s.log.LogAttrs(r.Context(), levelFor(status), "request", attrs...)
	}()
	resp, routeName, p, err := s.handle(r)
	route, who = routeName, p.TokenID
	if err != nil {
		failed = err
		status = writeError(w, err, reqID)
		return
	}
	status = resp.status
	if resp.body == nil {
		w.WriteHeader(status)
		return
	}
	if st, ok := resp.body.(streamed); ok {
		writeStream(w, status, st)
		return
	}
	writeJSON(w, status, resp.body)
}

// writeStream writes a streamed body as it is read, flushing every read,
// until it ends or the client goes.
func writeStream(w http.ResponseWriter, status int, st streamed) {
	w.Header().Set("Content-Type", st.contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := st.r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

func levelFor(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// handle authenticates, reads the body, routes and calls the handler. It
// returns the route's name for metrics.
func (s *Server) handle(r *http.Request) (response, string, auth.Principal, error) {
	p, err := s.auth.Authenticate(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		return response{}, "unauthenticated", p, err
	}
	t, err := parseTarget(r.Method, r.URL.EscapedPath())
	if err != nil {
		return response{}, "invalid", p, err
	}
	rt, err := s.route(r.Method, t)
	if err != nil {
		return response{}, rt.name, p, err
	}
	name := rt.name
	switch {
	case rt.self:
	case rt.list:
		// A list is answered to a caller whose scope overlaps the listed
		// scope; items it may not read are left out.
		if !overlaps(p.Scope, scopeOf(t.id)) {
			return response{}, name, p, auth.Authorize(p, rt.act, scopeOf(t.id))
		}
	default:
		if err := auth.Authorize(p, rt.act, t.id.ID); err != nil {
			return response{}, name, p, err
		}
	}
	h := rt.h
	rq := &request{http: r, principal: p, target: t}
	if r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodPost {
		if rq.body, err = readBody(r); err != nil {
			return response{}, name, p, err
		}
	}
	resp, err := h(r.Context(), rq)
	return resp, name, p, err
}

// readBody reads at most MaxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, armerror.New(codeInvalidContent, "", "Reading the request body failed: %v.", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, armerror.New(codeTooLarge, "", "The request body is larger than %d bytes; split the change into several requests.", MaxBodyBytes)
	}
	return body, nil
}

// writeError writes err in ARM's envelope and returns the status written.
// Errors that are not *armerror.Error are internal: their text goes to the
// server's log (serve logs every 5xx with its error), and the client gets
// the request id to quote.
func writeError(w http.ResponseWriter, err error, reqID string) int {
	e, ok := armerror.As(err)
	switch {
	case errors.Is(err, store.ErrClosed):
		e = armerror.New(codeUnavailable, "", "The server is shutting down; retry against the restarted server.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e = armerror.New(codeUnavailable, "", "The request was canceled before it finished.")
	case !ok:
		e = armerror.New(codeInternal, "", "The server failed to handle the request (request id %s); its log has the cause.", reqID)
	}
	status, known := statusOf[e.Code]
	if !known {
		status = http.StatusBadRequest
	}
	if e.Code == codeAuthentication {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vnetml"`)
	}
	writeJSON(w, status, json.RawMessage(e.MarshalEnvelope()))
	return status
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	var b []byte
	switch v := body.(type) {
	case json.RawMessage:
		b = v
	default:
		var err error
		if b, err = json.Marshal(body); err != nil {
			b = armerror.New(codeInternal, "", "encoding the response failed: %v", err).MarshalEnvelope()
			status = http.StatusInternalServerError
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// decodeBody decodes the request body into v: a JSON object, no field that
// v does not have (reported with its path and the closest known name), no
// value of the wrong type, nothing after the object.
//
// A body that decodes cleanly takes one strict pass; any failure, whatever
// it is, goes to diagnoseBody, which finds every problem and says where.
func decodeBody(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' && utf8.Valid(body) {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(v) == nil && !dec.More() {
			return nil
		}
	}
	return diagnoseBody(body, v)
}

// diagnoseBody is decodeBody's slow path: it reports what is wrong with a
// body, all unknown fields at once, or decodes it.
func diagnoseBody(body []byte, v any) error {
	if len(body) == 0 {
		return armerror.New(codeInvalidContent, "", "The request body is empty; send the resource as a JSON object.")
	}
	if err := store.CheckDoc("the request body", body); err != nil {
		return err
	}
	var l armerror.List
	unknownFields(&l, body, v)
	if l.Len() > 0 {
		return l.In("the request body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return armerror.New(codeInvalidContent, te.Field,
				"The request content was invalid and could not be deserialized: %s is a JSON %s where %s belongs.", orWhole(te.Field), te.Value, describeGoType(te.Type.String()))
		}
		return armerror.New(codeInvalidContent, "", "The request content was invalid and could not be deserialized: %v.", err)
	}
	if dec.More() {
		return armerror.New(codeInvalidContent, "", "The request body has data after the JSON object; send one object.")
	}
	return nil
}

func orWhole(field string) string {
	if field == "" {
		return "the body"
	}
	return field
}

// describeGoType names a Go type as a JSON value for messages.
func describeGoType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "."):
		return "an object"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "a number"
	case t == "*int":
		return "a number"
	}
	return fmt.Sprintf("a %s", t)
}

// methodLabel bounds the method label of the request metrics: a client
// cannot mint a new time series by inventing methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodPost, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "other"
}
