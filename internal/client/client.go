// Package client owns talking to a vnetml server: the endpoint and bearer
// token, TLS, ARM's error envelope, paging through nextLink, and the
// config file that `vnetml login` writes. It is what the CLI and the
// tests use; it imports only wire types (api, armerror), never the server.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// Client calls one vnetml server. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
	// roots are the CAs trusted for the server's certificate (nil: the
	// system's); the data plane's transport adds the deployment CA.
	roots *x509.CertPool
}

// Options tune a Client. The zero value is fine.
type Options struct {
	// CACert is a PEM file of certificates to trust for the server's TLS
	// certificate (a self-signed one, typically).
	CACert string
	// HTTPClient replaces the default client (tests).
	HTTPClient *http.Client
	// Timeout bounds each request; 0 means 2 minutes.
	Timeout time.Duration
}

// New returns a client for the server at endpoint (http:// or https://)
// that presents token.
func New(endpoint, token string, opt Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, armerror.New("InvalidEndpoint", "endpoint", "The endpoint %q is not an http:// or https:// URL such as %s.", endpoint, api.DefaultEndpoint)
	}
	var roots *x509.CertPool
	if opt.CACert != "" {
		pem, err := os.ReadFile(opt.CACert)
		if err != nil {
			return nil, armerror.New("InvalidCACert", "ca-cert", "Reading the CA certificate: %v.", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, armerror.New("InvalidCACert", "ca-cert", "%s holds no PEM certificate.", opt.CACert)
		}
	}
	hc := opt.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if roots != nil {
			tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		}
		timeout := opt.Timeout
		if timeout == 0 {
			timeout = 2 * time.Minute
		}
		hc = &http.Client{Transport: tr, Timeout: timeout}
	}
	return &Client{base: u, token: token, http: hc, roots: roots}, nil
}

// Endpoint returns the server's URL.
func (c *Client) Endpoint() string { return c.base.String() }

// Response is a raw answer.
type Response struct {
	Status int
	Body   json.RawMessage
}

// Do sends one request to path (an ARM path, with or without a query) and
// returns the answer; a status of 400 or more is returned as the server's
// *armerror.Error. in is marshaled as JSON unless it is nil or
// json.RawMessage/[]byte.
func (c *Client) Do(ctx context.Context, method, path string, in any, header ...string) (Response, error) {
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case json.RawMessage:
		body = bytes.NewReader(v)
	case []byte:
		body = bytes.NewReader(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return Response{}, err
		}
		body = bytes.NewReader(b)
	}
	u, err := c.resolve(path)
	if err != nil {
		return Response{}, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return Response{}, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, c.transportError(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return Response{}, c.transportError(err)
	}
	if resp.StatusCode >= 400 {
		var env armerror.Envelope
		if json.Unmarshal(b, &env) == nil && env.Error != nil {
			return Response{Status: resp.StatusCode, Body: b}, env.Error
		}
		return Response{Status: resp.StatusCode, Body: b}, armerror.New("UnexpectedResponse", "", "%s %s answered %s: %s", method, path, resp.Status, truncate(b))
	}
	return Response{Status: resp.StatusCode, Body: b}, nil
}

// resolve builds the URL of path, adding api-version. A full URL (a
// nextLink) contributes only its path and query: the server builds
// nextLink from the Host header it was sent, and the token must never
// follow it to another host or over plain HTTP.
func (c *Client) resolve(path string) (string, error) {
	rel, err := url.Parse(path)
	if err != nil {
		return "", armerror.New("InvalidResourceId", "", "%q is not a resource path: %v", path, err)
	}
	u := *c.base
	u.Path = c.base.Path + rel.Path
	q := rel.Query()
	if q.Get("api-version") == "" {
		q.Set("api-version", api.APIVersion)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func (c *Client) transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return armerror.New("ServerUnreachable", "endpoint", "The server at %s did not answer in time: %v.", c.base, err)
	}
	return armerror.New("ServerUnreachable", "endpoint", "Cannot reach the vnetml server at %s: %v. Is it running (`vnetml server`), and is the endpoint right (--endpoint, VNETML_ENDPOINT, or `vnetml login`)?", c.base, err)
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// Get returns a resource's document.
func (c *Client) Get(ctx context.Context, id string) (json.RawMessage, error) {
	r, err := c.Do(ctx, http.MethodGet, id, nil)
	return r.Body, err
}

// GetInto gets path and decodes the answer into out.
func (c *Client) GetInto(ctx context.Context, path string, out any) error {
	r, err := c.Do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(r.Body, out); err != nil {
		return fmt.Errorf("decoding the answer of %s: %w", path, err)
	}
	return nil
}

// Put creates or replaces a resource and returns it as stored. ifMatch, if
// not empty, makes the write conditional on the resource's etag.
func (c *Client) Put(ctx context.Context, id string, doc any, ifMatch string) (json.RawMessage, error) {
	var hdr []string
	if ifMatch != "" {
		hdr = []string{"If-Match", ifMatch}
	}
	r, err := c.Do(ctx, http.MethodPut, id, doc, hdr...)
	return r.Body, err
}

// Patch merges patch into a resource (RFC 7386) and returns it as stored.
func (c *Client) Patch(ctx context.Context, id string, patch any) (json.RawMessage, error) {
	r, err := c.Do(ctx, http.MethodPatch, id, patch)
	return r.Body, err
}

// Delete deletes a resource; existed is false when there was none.
func (c *Client) Delete(ctx context.Context, id string) (existed bool, err error) {
	r, err := c.Do(ctx, http.MethodDelete, id, nil)
	return r.Status == http.StatusOK, err
}

// List returns every item of a collection, following nextLink.
func (c *Client) List(ctx context.Context, path string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for path != "" {
		r, err := c.Do(ctx, http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return nil, fmt.Errorf("decoding the list %s: %w", path, err)
		}
		out = append(out, page.Value...)
		path = page.NextLink
	}
	return out, nil
}

// Post calls an action and decodes its answer into out (unless nil).
func (c *Client) Post(ctx context.Context, path string, in, out any) error {
	r, err := c.Do(ctx, http.MethodPost, path, in)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(r.Body, out); err != nil {
		return fmt.Errorf("decoding the answer of %s: %w", path, err)
	}
	return nil
}

// Apply puts resources (ARM documents with their ids) in one transaction;
// with dryRun it checks them and writes nothing.
func (c *Client) Apply(ctx context.Context, resources []json.RawMessage, dryRun bool) (api.ApplyResult, error) {
	path := api.ApplyPath
	if dryRun {
		path += "?dryRun=true"
	}
	items := make([]any, len(resources))
	for i, r := range resources {
		items[i] = r
	}
	var out api.ApplyResult
	err := c.Post(ctx, path, api.ApplyRequest{Resources: items}, &out)
	return out, err
}

// IPFlowVerify asks a network watcher whether a flow is allowed.
func (c *Client) IPFlowVerify(ctx context.Context, watcherID string, req api.FlowVerifyRequest) (api.FlowVerifyResult, error) {
	var out api.FlowVerifyResult
	err := c.Post(ctx, watcherID+"/ipFlowVerify", req, &out)
	return out, err
}

// NextHop asks a network watcher where a packet goes next.
func (c *Client) NextHop(ctx context.Context, watcherID string, req api.NextHopRequest) (api.NextHopResult, error) {
	var out api.NextHopResult
	err := c.Post(ctx, watcherID+"/nextHop", req, &out)
	return out, err
}

// Watcher returns the id of the subscription's network watcher for a
// region.
func (c *Client) Watcher(ctx context.Context, subscription, location string) (string, error) {
	items, err := c.List(ctx, "/subscriptions/"+subscription+"/providers/Microsoft.Network/networkWatchers")
	if err != nil {
		return "", err
	}
	loc := strings.ToLower(strings.ReplaceAll(location, " ", ""))
	for _, it := range items {
		var w struct{ ID, Location string }
		if json.Unmarshal(it, &w) == nil && strings.EqualFold(w.Location, loc) {
			return w.ID, nil
		}
	}
	return "", armerror.New("NetworkWatcherNotFound", "", "Subscription %s has no network watcher in %s; the server creates one with the first virtual network of a region.", subscription, location)
}

// Health checks that the server answers /healthz.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.Do(ctx, http.MethodGet, "/healthz", nil)
	return err
}
