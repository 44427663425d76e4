package blobstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// APIVersion is the x-ms-version answered when the client sends none.
const APIVersion = "2023-11-03"

// maxBlockListBody bounds the XML body of Put Block List (50,000 ids of up
// to 88 base64 characters fit well within it).
const maxBlockListBody = 8 << 20

// Handler returns an http.Handler serving the store's blob REST subset.
//
// accountOf names the storage account a request is for (from its Host, or
// however the server routes accounts); false answers 400 InvalidUri. Paths
// are Azure's with the account stripped: /{container}/{blob...}.
//
// authorize, if not nil, is called with every parsed request before any
// data is read or written; a non-nil error refuses it. An *armerror.Error
// is answered with its own code (status from the code, 403 if the code is
// not one of this package's); any other error is answered with 403
// AuthorizationFailure, its text withheld from the client.
func (s *Store) Handler(accountOf func(r *http.Request) (string, bool), authorize func(r *http.Request, req Request) error) http.Handler {
	return &handler{s: s, accountOf: accountOf, authorize: authorize}
}

type handler struct {
	s         *Store
	accountOf func(*http.Request) (string, bool)
	authorize func(*http.Request, Request) error
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	reqID := newRequestID()
	hd.Set("x-ms-request-id", reqID)
	v := r.Header.Get("x-ms-version")
	if v == "" || len(v) > 32 {
		v = APIVersion
	}
	hd.Set("x-ms-version", v)
	req, q, err := h.parse(r)
	if err == nil && h.authorize != nil {
		if aerr := h.authorize(r, req); aerr != nil {
			e, ok := armerror.As(aerr)
			if !ok {
				e = newErr(CodeAuthorizationFailure, "", "This request is not authorized to perform this operation.")
			}
			status, known := statuses[e.Code]
			if !known {
				status = http.StatusForbidden
			}
			writeError(w, r, reqID, status, e)
			return
		}
	}
	if err == nil {
		err = h.serve(w, r, req, q)
	}
	if err != nil {
		if errors.Is(err, errNotModified) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		e, ok := armerror.As(err)
		switch {
		case ok:
		case errors.As(err, new(bodyError)) || errors.Is(err, context.Canceled):
			e = newErr(CodeInvalidInput, "", "the request body could not be read: %v", err)
		default:
			slog.Error("blobstore: internal error", "op", req.Operation.String(), "account", req.Account,
				"container", req.Container, "blob", req.Blob, "requestId", reqID, "err", err)
			e = newErr(CodeInternalError, "", "the server encountered an internal error; the server log has request %s", reqID)
		}
		status, known := statuses[e.Code]
		if !known {
			status = http.StatusInternalServerError
		}
		writeError(w, r, reqID, status, e)
	}
}

// parse maps method, path and query to a Request, validating names so the
// authorize hook sees only well-formed targets.
func (h *handler) parse(r *http.Request) (Request, url.Values, error) {
	var req Request
	account, ok := h.accountOf(r)
	if !ok {
		return req, nil, newErr(CodeInvalidURI, "Host", "no storage account is served at %q", truncate(r.Host, 100))
	}
	if err := validAccount(account); err != nil {
		return req, nil, err
	}
	req.Account = account
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return req, nil, newErr(CodeInvalidQueryParameterValue, "", "the query string is not valid: %v", err)
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/")
	if !ok {
		return req, nil, newErr(CodeInvalidURI, "", "the path must start with /")
	}
	req.Container, req.Blob, _ = strings.Cut(path, "/")
	restype, comp := q.Get("restype"), q.Get("comp")
	method := r.Method
	get := method == http.MethodGet || method == http.MethodHead
	switch {
	case req.Container == "":
		if get && comp == "list" {
			req.Operation = OpListContainers
			return req, q, nil
		}
		return req, nil, unsupported(method, comp, "the account supports only GET /?comp=list")
	case req.Blob == "":
		if err := ValidContainerName(req.Container); err != nil {
			return req, nil, err
		}
		if restype != "container" {
			return req, nil, newErr(CodeInvalidQueryParameterValue, "restype", "container operations need restype=container")
		}
		switch {
		case method == http.MethodPut && comp == "":
			req.Operation = OpCreateContainer
		case method == http.MethodDelete && comp == "":
			req.Operation = OpDeleteContainer
		case get && comp == "list":
			req.Operation = OpListBlobs
		case get && comp == "":
			req.Operation = OpGetContainerProperties
		default:
			return req, nil, unsupported(method, comp, "containers support PUT, DELETE, GET and GET ?comp=list")
		}
		return req, q, nil
	}
	if err := ValidContainerName(req.Container); err != nil {
		return req, nil, err
	}
	if err := ValidBlobName(req.Blob); err != nil {
		return req, nil, err
	}
	switch {
	case method == http.MethodPut && comp == "":
		req.Operation = OpPutBlob
	case method == http.MethodPut && comp == "block":
		req.Operation = OpPutBlock
	case method == http.MethodPut && comp == "blocklist":
		req.Operation = OpPutBlockList
	case method == http.MethodGet && comp == "blocklist":
		req.Operation = OpGetBlockList
	case method == http.MethodGet && comp == "":
		req.Operation = OpGetBlob
	case method == http.MethodHead && comp == "":
		req.Operation = OpGetBlobProperties
	case method == http.MethodDelete && comp == "":
		req.Operation = OpDeleteBlob
	default:
		return req, nil, unsupported(method, comp, "blobs support PUT (comp=block, comp=blocklist), GET (comp=blocklist), HEAD and DELETE")
	}
	return req, q, nil
}

func unsupported(method, comp, hint string) error {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return newErr(CodeInvalidQueryParameterValue, "comp", "comp=%q is not supported here; %s", truncate(comp, 50), hint)
	}
	return newErr(CodeUnsupportedHTTPVerb, "", "the method %q is not supported; %s", truncate(method, 20), hint)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, req Request, q url.Values) error {
	ctx := r.Context()
	s := h.s
	switch req.Operation {
	case OpListContainers:
		opts, err := listOptions(q)
		if err != nil {
			return err
		}
		page, err := s.ListContainers(ctx, req.Account, opts)
		if err != nil {
			return err
		}
		return writeXML(w, r, http.StatusOK, containerListXML(endpoint(r), q, opts, page))
	case OpCreateContainer:
		if err := s.CreateContainer(ctx, req.Account, req.Container); err != nil {
			return err
		}
		c, err := s.ContainerProperties(ctx, req.Account, req.Container)
		if err == nil {
			setContainerHeaders(w, c)
		}
		w.WriteHeader(http.StatusCreated)
	case OpDeleteContainer:
		if err := s.DeleteContainer(ctx, req.Account, req.Container); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
	case OpGetContainerProperties:
		c, err := s.ContainerProperties(ctx, req.Account, req.Container)
		if err != nil {
			return err
		}
		setContainerHeaders(w, c)
		w.WriteHeader(http.StatusOK)
	case OpListBlobs:
		opts, err := listOptions(q)
		if err != nil {
			return err
		}
		page, err := s.ListBlobs(ctx, req.Account, req.Container, opts)
		if err != nil {
			return err
		}
		meta := strings.Contains(","+q.Get("include")+",", ",metadata,")
		return writeXML(w, r, http.StatusOK, blobListXML(endpoint(r), req.Container, q, opts, page, meta))
	case OpPutBlob:
		return h.putBlob(w, r, req)
	case OpPutBlock:
		return h.putBlock(w, r, req, q)
	case OpPutBlockList:
		return h.putBlockList(w, r, req)
	case OpGetBlockList:
		return h.getBlockList(w, r, req, q)
	case OpGetBlob, OpGetBlobProperties:
		return h.getBlob(w, r, req)
	case OpDeleteBlob:
		if err := s.DeleteBlob(ctx, req.Account, req.Container, req.Blob, conditions(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
	}
	return nil
}

func conditions(r *http.Request) Conditions {
	return Conditions{IfMatch: r.Header.Get("If-Match"), IfNoneMatch: r.Header.Get("If-None-Match")}
}

// parseMD5 decodes a base64 MD5 header; empty is nil.
func parseMD5(r *http.Request, header string) ([]byte, error) {
	v := r.Header.Get(header)
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != 16 {
		return nil, newErr(CodeInvalidMd5, header, "%s must be the base64 of a 16-byte MD5", header)
	}
	return b, nil
}

// metadataOf collects the x-ms-meta-* headers, names lowercased.
func metadataOf(r *http.Request) map[string]string {
	var md map[string]string
	for k, v := range r.Header {
		if len(k) > len("x-ms-meta-") && strings.EqualFold(k[:len("x-ms-meta-")], "x-ms-meta-") && len(v) > 0 {
			if md == nil {
				md = map[string]string{}
			}
			md[strings.ToLower(k[len("x-ms-meta-"):])] = v[0]
		}
	}
	return md
}

func putOptions(r *http.Request, md5Header string) (PutOptions, error) {
	o := PutOptions{Metadata: metadataOf(r), Conditions: conditions(r)}
	o.ContentType = r.Header.Get("x-ms-blob-content-type")
	if o.ContentType == "" && md5Header == "Content-MD5" {
		o.ContentType = r.Header.Get("Content-Type")
	}
	sum, err := parseMD5(r, md5Header)
	if err != nil {
		return o, err
	}
	o.ContentMD5 = sum
	return o, nil
}

func (h *handler) putBlob(w http.ResponseWriter, r *http.Request, req Request) error {
	if bt := r.Header.Get("x-ms-blob-type"); bt != "" && bt != "BlockBlob" {
		return newErr(CodeInvalidHeaderValue, "x-ms-blob-type", "only BlockBlob is supported, not %q", truncate(bt, 30))
	}
	if r.ContentLength > h.s.cfg.MaxPutSize {
		return tooLarge("blob", h.s.cfg.MaxPutSize)
	}
	o, err := putOptions(r, "Content-MD5")
	if err != nil {
		return err
	}
	// x-ms-blob-content-md5 sets the blob's MD5; it must agree with the
	// content as Content-MD5 must.
	blobMD5, err := parseMD5(r, "x-ms-blob-content-md5")
	if err != nil {
		return err
	}
	if blobMD5 != nil {
		if o.ContentMD5 != nil && string(o.ContentMD5) != string(blobMD5) {
			return md5Mismatch("blob")
		}
		o.ContentMD5 = blobMD5
	}
	p, err := h.s.PutBlob(r.Context(), req.Account, req.Container, req.Blob, r.Body, o)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("ETag", p.ETag)
	hd.Set("Last-Modified", httpTime(p.LastModified))
	hd.Set("Content-MD5", base64.StdEncoding.EncodeToString(p.ContentMD5))
	hd.Set("x-ms-request-server-encrypted", "false")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (h *handler) putBlock(w http.ResponseWriter, r *http.Request, req Request, q url.Values) error {
	if r.ContentLength > h.s.cfg.MaxBlockSize {
		return tooLarge("block", h.s.cfg.MaxBlockSize)
	}
	sum, err := parseMD5(r, "Content-MD5")
	if err != nil {
		return err
	}
	if err := h.s.PutBlock(r.Context(), req.Account, req.Container, req.Blob, q.Get("blockid"), r.Body, sum); err != nil {
		return err
	}
	if sum != nil {
		w.Header().Set("Content-MD5", base64.StdEncoding.EncodeToString(sum))
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (h *handler) putBlockList(w http.ResponseWriter, r *http.Request, req Request) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBlockListBody+1))
	if err != nil {
		return bodyError{err}
	}
	if len(body) > maxBlockListBody {
		return tooLarge("block list", maxBlockListBody)
	}
	refs, err := parseBlockList(body)
	if err != nil {
		return err
	}
	o, err := putOptions(r, "x-ms-blob-content-md5")
	if err != nil {
		return err
	}
	p, err := h.s.PutBlockList(r.Context(), req.Account, req.Container, req.Blob, refs, o)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", p.ETag)
	w.Header().Set("Last-Modified", httpTime(p.LastModified))
	w.WriteHeader(http.StatusCreated)
	return nil
}

// parseBlockList reads <BlockList><Latest|Committed|Uncommitted>id</...>...
// keeping the order across element kinds.
func parseBlockList(body []byte) ([]BlockRef, error) {
	bad := func(format string, args ...any) error {
		return newErr(CodeInvalidXMLDocument, "BlockList", "the block list is not valid: "+format, args...)
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	var refs []BlockRef
	depth := 0
	var cur *BlockRef
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bad("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && t.Name.Local == "BlockList":
			case depth == 2:
				src, ok := map[string]BlockSource{"Latest": Latest, "Committed": Committed, "Uncommitted": Uncommitted}[t.Name.Local]
				if !ok {
					return nil, bad("unexpected element <%s>; use Latest, Committed or Uncommitted", truncate(t.Name.Local, 40))
				}
				cur = &BlockRef{Source: src}
				text.Reset()
			default:
				return nil, bad("unexpected element <%s>", truncate(t.Name.Local, 40))
			}
		case xml.CharData:
			if cur != nil {
				text.Write(t)
			}
		case xml.EndElement:
			if depth == 2 && cur != nil {
				cur.ID = strings.TrimSpace(text.String())
				refs = append(refs, *cur)
				cur = nil
			}
			depth--
		}
	}
	if depth != 0 {
		return nil, bad("unterminated document")
	}
	return refs, nil
}

func (h *handler) getBlockList(w http.ResponseWriter, r *http.Request, req Request, q url.Values) error {
	var committed, uncommitted bool
	switch t := q.Get("blocklisttype"); t {
	case "", "committed":
		committed = true
	case "uncommitted":
		uncommitted = true
	case "all":
		committed, uncommitted = true, true
	default:
		return newErr(CodeInvalidQueryParameterValue, "blocklisttype", "blocklisttype %q is not one of committed, uncommitted, all", truncate(t, 30))
	}
	bl, err := h.s.GetBlockList(r.Context(), req.Account, req.Container, req.Blob, committed, uncommitted)
	if err != nil {
		return err
	}
	if bl.ETag != "" {
		w.Header().Set("ETag", bl.ETag)
		w.Header().Set("x-ms-blob-content-length", strconv.FormatInt(bl.ContentLength, 10))
	}
	return writeXML(w, r, http.StatusOK, blockListXML(bl))
}

func (h *handler) getBlob(w http.ResponseWriter, r *http.Request, req Request) error {
	b, err := h.s.OpenBlob(r.Context(), req.Account, req.Container, req.Blob, conditions(r))
	if err != nil {
		if errors.Is(err, errNotModified) {
			w.Header().Set("ETag", strings.Trim(r.Header.Get("If-None-Match"), " "))
		}
		return err
	}
	defer b.Close()
	hd := w.Header()
	hd.Set("ETag", b.ETag)
	hd.Set("Last-Modified", httpTime(b.LastModified))
	hd.Set("x-ms-creation-time", httpTime(b.CreationTime))
	hd.Set("Content-Type", b.ContentType)
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("x-ms-blob-type", "BlockBlob")
	hd.Set("x-ms-lease-status", "unlocked")
	hd.Set("x-ms-lease-state", "available")
	hd.Set("x-ms-server-encrypted", "false")
	for _, k := range sortedNames(b.Metadata) {
		hd["x-ms-meta-"+k] = []string{b.Metadata[k]}
	}
	off, n, partial := int64(0), b.ContentLength, false
	if r.Method == http.MethodGet {
		rng := r.Header.Get("x-ms-range")
		if rng == "" {
			rng = r.Header.Get("Range")
		}
		var ok bool
		off, n, partial, ok = parseRange(rng, b.ContentLength)
		if !ok {
			hd.Set("Content-Range", fmt.Sprintf("bytes */%d", b.ContentLength))
			return newErr(CodeInvalidRange, "Range", "the range %q is not satisfiable for a blob of %d bytes", truncate(rng, 60), b.ContentLength)
		}
	}
	md5 := base64.StdEncoding.EncodeToString(b.ContentMD5)
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, b.ContentLength))
		if len(b.ContentMD5) > 0 {
			hd.Set("x-ms-blob-content-md5", md5)
		}
	} else if len(b.ContentMD5) > 0 {
		hd.Set("Content-MD5", md5)
	}
	hd.Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead || n == 0 {
		return nil
	}
	rd, err := b.Range(off, n)
	if err == nil {
		_, err = io.Copy(w, rd)
	}
	if err != nil && r.Context().Err() == nil {
		slog.Warn("blobstore: sending a blob failed", "blob", req.Blob, "err", err)
	}
	return nil // the status is sent; a failure shows as a short body
}

// parseRange interprets a Range / x-ms-range header ("bytes=a-b", "bytes=a-",
// "bytes=-n") against size. A header it does not understand (another
// unit, several ranges, a malformed one) is ignored, as RFC 9110 allows,
// and the whole blob is sent. ok is false for an unsatisfiable range.
func parseRange(h string, size int64) (off, n int64, partial, ok bool) {
	whole := func() (int64, int64, bool, bool) { return 0, size, false, true }
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return whole()
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return whole()
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" {
		k, good := parseDigits(b)
		if !good {
			return whole()
		}
		if k == 0 || size == 0 {
			return 0, 0, false, false
		}
		k = min(k, size)
		return size - k, k, true, true
	}
	start, good := parseDigits(a)
	if !good {
		return whole()
	}
	end := size - 1
	if b != "" {
		e, good := parseDigits(b)
		if !good || e < start {
			return whole()
		}
		end = min(e, size-1)
	}
	if start >= size {
		return 0, 0, false, false
	}
	return start, end - start + 1, true, true
}

func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

func listOptions(q url.Values) (ListOptions, error) {
	o := ListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), Marker: q.Get("marker")}
	if v := q.Get("maxresults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return o, newErr(CodeInvalidQueryParameterValue, "maxresults", "maxresults %q is not an integer", truncate(v, 30))
		}
		if n <= 0 {
			return o, newErr(CodeOutOfRangeQueryParameterValue, "maxresults", "maxresults must be at least 1, not %d", n)
		}
		o.MaxResults = min(n, DefaultMaxResults)
	}
	return o, nil
}

func setContainerHeaders(w http.ResponseWriter, c Container) {
	w.Header().Set("ETag", c.ETag)
	w.Header().Set("Last-Modified", httpTime(c.LastModified))
}

func httpTime(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// endpoint is the ServiceEndpoint attribute of list responses.
func endpoint(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/"
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

const xmlHeader = `<?xml version="1.0" encoding="utf-8"?>` + "\n"

func writeXML(w http.ResponseWriter, r *http.Request, status int, v any) error {
	body, err := xml.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xmlHeader)+len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, xmlHeader)
		w.Write(body)
	}
	return nil
}

// writeError answers Azure Storage's error shape: the code in
// x-ms-error-code and an XML body <Error><Code/><Message/></Error>.
func writeError(w http.ResponseWriter, r *http.Request, reqID string, status int, e *armerror.Error) {
	w.Header().Set("x-ms-error-code", e.Code)
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	b.WriteString("<Error><Code>")
	xml.EscapeText(&b, []byte(e.Code))
	b.WriteString("</Code><Message>")
	msg := e.Message
	if e.Target != "" {
		msg += " (" + e.Target + ")"
	}
	xml.EscapeText(&b, []byte(strings.ToValidUTF8(msg, "\uFFFD")+"\nRequestId:"+reqID+"\nTime:"+time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")))
	b.WriteString("</Message></Error>")
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// WriteError answers err in Azure Storage's error shape, as the handler
// does: for a front end that refuses a request before the handler sees
// it (a firewall). Its status is the code's (403 for codes this package
// does not know).
func WriteError(w http.ResponseWriter, r *http.Request, e *armerror.Error) {
	reqID := newRequestID()
	w.Header().Set("x-ms-request-id", reqID)
	w.Header().Set("x-ms-version", APIVersion)
	status, known := statuses[e.Code]
	if !known {
		status = http.StatusForbidden
	}
	writeError(w, r, reqID, status, e)
}
