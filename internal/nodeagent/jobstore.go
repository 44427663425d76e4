package nodeagent

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vnetml/vnetml/internal/job"
)

// storageVersion is the Blob service version the agent speaks.
const storageVersion = "2021-12-02"

// newHTTPClient returns the agent's own client for an attempt: to storage
// and run history, through the route's upstream proxy directly (not
// through the node-local proxy), trusting the deployment CA only.
func newHTTPClient(rt *route, roots *x509.CertPool) *http.Client {
	tr := &http.Transport{
		Proxy:                  proxyFunc(rt.proxy),
		OnProxyConnectResponse: onProxyConnect,
		DialContext:            (&net.Dialer{Timeout: dialTimeout}).DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    15 * time.Second,
		ResponseHeaderTimeout:  time.Minute,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        time.Minute,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// proxyRefusal is a CONNECT that the upstream egress proxy did not grant.
type proxyRefusal struct {
	Status int
	// Denied marks a refusal by the network rules (X-Vnetml-Denied: 1).
	Denied bool
	// Destination is the virtual address the proxy resolved the name to
	// (X-Vnetml-Destination), when it got that far.
	Destination string
	// Message is the proxy's explanation (its body).
	Message string
}

func (e *proxyRefusal) Error() string {
	return fmt.Sprintf("the node's egress proxy answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// onProxyConnect keeps what the upstream proxy said when it refused a
// CONNECT: net/http would keep only the status line.
func onProxyConnect(_ context.Context, _ *url.URL, _ *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	return &proxyRefusal{Status: resp.StatusCode, Denied: resp.Header.Get("X-Vnetml-Denied") == "1",
		Destination: resp.Header.Get("X-Vnetml-Destination"), Message: strings.TrimSpace(string(body))}
}

// deniedPrefix starts the text of the fabric's refusals; the rest names
// the deciding rule and the fix.
const deniedPrefix = "connection refused by the network rules: "

// transfer is one transfer of the node's, named for the messages that
// explain its failure: what failed, from where (the node's address), to
// what (the destination), and why.
type transfer struct {
	phase    string // "Preparing", "Finalizing"; "": the message says none
	node     string // the node's address
	what     string // "download the snapshot from storage account mystore"
	hostport string // the destination as the URL names it
}

func newTransfer(phase, node, what string, u *url.URL) transfer {
	hp := u.Host
	if u.Port() == "" {
		hp = net.JoinHostPort(u.Hostname(), "443")
	}
	return transfer{phase: phase, node: node, what: what, hostport: hp}
}

func (t transfer) error(code, dest, why string) *job.Error {
	msg := fmt.Sprintf("node %s could not %s (%s): %s", t.node, t.what, dest, why)
	if t.phase != "" {
		msg = t.phase + " failed: " + msg
	}
	return &job.Error{Code: code, Message: msg}
}

// failed explains a request that got no answer from its destination.
func (t transfer) failed(err error) *job.Error {
	var (
		ref     *proxyRefusal
		op      *net.OpError
		timeout interface{ Timeout() bool }
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &ref):
		dest := t.hostport
		if ref.Destination != "" {
			dest = ref.Destination
		}
		switch {
		case ref.Denied:
			return t.error(job.CodeNetwork, dest, strings.TrimPrefix(ref.Message, deniedPrefix))
		case ref.Status == http.StatusProxyAuthRequired:
			return t.error(job.CodeSystem, dest, "the node's egress proxy refused the node's credentials: "+ref.Message)
		}
		return t.error(job.CodeNetwork, dest, ref.Message)
	case errors.As(err, &op) && op.Op == "proxyconnect":
		return t.error(job.CodeSystem, t.hostport, "the node's egress proxy could not be reached: "+op.Err.Error())
	case errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid):
		return t.error(job.CodeSystem, t.hostport, "its TLS certificate is not one the deployment CA issued for it: "+bare(err))
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timeout) && timeout.Timeout():
		return t.error(job.CodeNetwork, t.hostport, "no answer in time: "+bare(err))
	}
	return t.error(job.CodeNetwork, t.hostport, bare(err))
}

// bare is an error's text without net/http's "Get \"<url>\": ", which
// would show the SAS of the URL.
func bare(err error) string {
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// refused explains an answer of storage other than success; a 404 is
// notFound's (the snapshot's fault or the platform's).
func (t transfer) refused(resp *http.Response, notFound string) *job.Error {
	se := readStorageError(resp)
	switch {
	case resp.StatusCode == http.StatusForbidden && se.Code == "AuthorizationFailure":
		return t.error(job.CodeNetwork, t.hostport, "the storage account's firewall refused it: "+se.String())
	case resp.StatusCode == http.StatusNotFound:
		return t.error(notFound, t.hostport, se.String())
	}
	return t.error(job.CodeSystem, t.hostport, fmt.Sprintf("storage answered %s: %s", resp.Status, se))
}

// storageError is Azure Storage's error body.
type storageError struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func (e storageError) String() string {
	switch {
	case e.Code == "":
		return e.Message
	case e.Message == "":
		return e.Code
	}
	return e.Code + ": " + e.Message
}

func readStorageError(resp *http.Response) storageError {
	var se storageError
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	xml.Unmarshal(b, &se)
	if se.Code == "" {
		se.Code = resp.Header.Get("x-ms-error-code")
	}
	// Azure appends RequestId and Time lines, which say nothing here.
	msg, _, _ := strings.Cut(se.Message, "\nRequestId:")
	se.Message = strings.TrimSpace(msg)
	if se.Code == "" && se.Message == "" {
		se.Message = strings.TrimSpace(string(b))
	}
	return se
}

// snapshotCache keeps verified snapshots, named by their SHA-256, so
// that a later attempt or run with the same snapshot downloads nothing.
// It keeps the keep most recently used.
type snapshotCache struct {
	dir  string
	keep int
	mu   sync.Mutex // one download at a time, and pruning
}

func (c *snapshotCache) path(sha string) string { return filepath.Join(c.dir, sha+".tar.gz") }

// get returns the snapshot, opened, downloading it if need be. hit tells
// that it was cached.
func (c *snapshotCache) get(ctx context.Context, cli *http.Client, s job.Snapshot, t transfer) (f *os.File, hit bool, jerr *job.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, err := os.Open(c.path(s.SHA256)); err == nil {
		now := time.Now()
		os.Chtimes(f.Name(), now, now) // most recently used
		return f, true, nil
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, false, &job.Error{Code: job.CodeSystem, Message: t.phase + " failed: the snapshot cache: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, false, t.error(job.CodeSnapshot, t.hostport, "the snapshot URL: "+bare(err))
	}
	req.Header.Set("x-ms-version", storageVersion)
	resp, err := cli.Do(req)
	if err != nil {
		return nil, false, t.failed(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, t.refused(resp, job.CodeSnapshot)
	}
	tmp, err := os.CreateTemp(c.dir, ".download-*")
	if err != nil {
		return nil, false, &job.Error{Code: job.CodeSystem, Message: t.phase + " failed: the snapshot cache: " + err.Error()}
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if err != nil {
		tmp.Close()
		return nil, false, t.failed(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != s.SHA256 {
		tmp.Close()
		return nil, false, &job.Error{Code: job.CodeSnapshot, Message: fmt.Sprintf(
			"%s failed: the snapshot node %s downloaded from storage account %s (%s) is not the run's: its SHA-256 is %s, not %s. "+
				"The blob was changed or damaged after the run was submitted; submit the run again",
			t.phase, t.node, s.Account, t.hostport, got, s.SHA256)}
	}
	if err := os.Rename(tmp.Name(), c.path(s.SHA256)); err != nil {
		tmp.Close()
		return nil, false, &job.Error{Code: job.CodeSystem, Message: t.phase + " failed: the snapshot cache: " + err.Error()}
	}
	tmp.Seek(0, io.SeekStart)
	c.prune()
	return tmp, false, nil
}

// prune removes all but the keep most recently used snapshots.
func (c *snapshotCache) prune() {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type snap struct {
		name string
		used time.Time
	}
	var all []snap
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".tar.gz") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			all = append(all, snap{e.Name(), fi.ModTime()})
		}
	}
	slices.SortFunc(all, func(a, b snap) int { return b.used.Compare(a.used) })
	for _, s := range all[min(len(all), c.keep):] {
		os.Remove(filepath.Join(c.dir, s.name))
	}
}

// container is where a run's artifacts go: the container URL and its SAS,
// which is kept byte for byte (it is signed text).
type container struct {
	base   string // scheme://host/container
	sas    string
	prefix string
}

func parseContainer(a job.Artifacts) (container, error) {
	u, err := url.Parse(a.URL)
	if err != nil {
		return container{}, err
	}
	if u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") == "" || strings.Contains(strings.Trim(u.Path, "/"), "/") {
		return container{}, fmt.Errorf("%s is not the https URL of a container", redactURL(u))
	}
	return container{base: u.Scheme + "://" + u.Host + "/" + strings.Trim(u.EscapedPath(), "/"), sas: u.RawQuery, prefix: a.Prefix}, nil
}

// blobURL is the URL of blob name (unescaped) with the SAS and extra
// query parameters.
func (c container) blobURL(name, extra string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	q := c.sas
	if extra != "" {
		if q != "" {
			q += "&"
		}
		q += extra
	}
	u := c.base + "/" + strings.Join(segs, "/")
	if q != "" {
		u += "?" + q
	}
	return u
}

// uploader writes block blobs: one Put Blob up to maxPut bytes, Put Block
// and Put Block List beyond, in blocks of block bytes.
type uploader struct {
	cli    *http.Client
	maxPut int64
	block  int64
}

// Azure's Put Blob takes up to 5000 MiB, but a retry of a large single put
// resends all of it; the SDKs switch to blocks much earlier.
const (
	defaultMaxPut = 256 << 20
	defaultBlock  = 64 << 20
)

// upload uploads the file at path as blob name of c.
func (u uploader) upload(ctx context.Context, c container, name, path string, t transfer) *job.Error {
	f, err := os.Open(path)
	if err != nil {
		return &job.Error{Code: job.CodeSystem, Message: fmt.Sprintf("%s failed: reading %s: %v", t.phase, path, err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return &job.Error{Code: job.CodeSystem, Message: fmt.Sprintf("%s failed: %s is no longer a regular file", t.phase, path)}
	}
	if fi.Size() <= u.maxPut {
		return u.put(ctx, c.blobURL(name, ""), io.NewSectionReader(f, 0, fi.Size()), fi.Size(), true, t)
	}
	var list strings.Builder
	list.WriteString(`<?xml version="1.0" encoding="utf-8"?><BlockList>`)
	for i, off := 0, int64(0); off < fi.Size(); i, off = i+1, off+u.block {
		n := min(u.block, fi.Size()-off)
		// Every block id of a blob has the same length.
		id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "block-%08d", i))
		if jerr := u.put(ctx, c.blobURL(name, "comp=block&blockid="+url.QueryEscape(id)), io.NewSectionReader(f, off, n), n, false, t); jerr != nil {
			return jerr
		}
		list.WriteString("<Latest>" + id + "</Latest>")
	}
	list.WriteString("</BlockList>")
	body := list.String()
	return u.put(ctx, c.blobURL(name, "comp=blocklist"), strings.NewReader(body), int64(len(body)), false, t)
}

func (u uploader) put(ctx context.Context, target string, body io.Reader, n int64, blob bool, t transfer) *job.Error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, body)
	if err != nil {
		return t.error(job.CodeSystem, t.hostport, bare(err))
	}
	req.ContentLength = n
	if n == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("x-ms-version", storageVersion)
	if blob {
		req.Header.Set("x-ms-blob-type", "BlockBlob")
	}
	resp, err := u.cli.Do(req)
	if err != nil {
		return t.failed(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return t.refused(resp, job.CodeSystem)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

// outputs lists the regular files under dir, as slash-separated paths
// relative to it, sorted. Links are not followed: a job must not make
// the node upload a file outside its outputs.
func outputs(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, os.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}
