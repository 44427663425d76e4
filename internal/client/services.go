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
	"sort"
	"strings"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// This file is the client of a workspace's web services
// (internal/api/services.go): deploy, show, list, delete, keys, tokens,
// logs — and the scoring call itself, which goes through the data plane as
// a client outside the virtual network, so the NSG of the inference
// cluster's subnet judges the caller's address.

// ServicePath is the resource id of web service name of a workspace: the
// id the service methods take.
func ServicePath(workspaceID, name string) string { return workspaceID + "/services/" + name }

// DeployService deploys svc as service name of a workspace (PUT: a new
// service, or a redeployment that replaces every replica) and returns it
// as the server stored it, in state Transitioning.
func (c *Client) DeployService(ctx context.Context, workspaceID, name string, svc api.Service) (api.Service, error) {
	r, err := c.Do(ctx, http.MethodPut, ServicePath(workspaceID, name), svc)
	if err != nil {
		return api.Service{}, err
	}
	return decodeService(r.Body)
}

// GetService returns the service whose resource id is id, with its live
// state, error and replicas.
func (c *Client) GetService(ctx context.Context, id string) (api.Service, error) {
	r, err := c.Do(ctx, http.MethodGet, id, nil)
	if err != nil {
		return api.Service{}, err
	}
	return decodeService(r.Body)
}

// ListServices returns the services of a workspace, by name.
func (c *Client) ListServices(ctx context.Context, workspaceID string) ([]api.Service, error) {
	docs, err := c.List(ctx, workspaceID+"/services")
	if err != nil {
		return nil, err
	}
	out := make([]api.Service, 0, len(docs))
	for _, d := range docs {
		s, err := decodeService(d)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteService deletes the service id (its replicas stop); existed is
// false when there was none.
func (c *Client) DeleteService(ctx context.Context, id string) (existed bool, err error) {
	return c.Delete(ctx, id)
}

// ServiceKeys returns the service's primary and secondary keys.
func (c *Client) ServiceKeys(ctx context.Context, id string) (api.ServiceKeys, error) {
	var k api.ServiceKeys
	err := c.Post(ctx, id+"/listKeys", nil, &k)
	return k, err
}

// Key types of RegenerateServiceKey.
const (
	KeyPrimary   = "Primary"
	KeySecondary = "Secondary"
)

// RegenerateServiceKey replaces one key of the service id (KeyPrimary or
// KeySecondary) and returns both keys; the old key is refused from then
// on, the other one keeps working.
func (c *Client) RegenerateServiceKey(ctx context.Context, id, keyType string) (api.ServiceKeys, error) {
	var k api.ServiceKeys
	err := c.Post(ctx, id+"/regenerateKeys", map[string]string{"keyType": keyType}, &k)
	return k, err
}

// ServiceToken returns a token for a service with token auth (an hour's
// worth, to refresh after half of it).
func (c *Client) ServiceToken(ctx context.Context, id string) (api.ServiceToken, error) {
	var t api.ServiceToken
	err := c.Post(ctx, id+"/token", nil, &t)
	return t, err
}

// ServiceLogs returns the output of the service's replicas, as text.
func (c *Client) ServiceLogs(ctx context.Context, id string) (string, error) {
	r, err := c.Do(ctx, http.MethodGet, id+"/logs", nil, "Accept", "text/plain")
	return string(r.Body), err
}

func decodeService(b []byte) (api.Service, error) {
	var s api.Service
	if err := json.Unmarshal(b, &s); err != nil {
		return api.Service{}, fmt.Errorf("decoding the service: %w", err)
	}
	return s, nil
}

// maxScoreResponse bounds the answer of a scoring call kept in memory.
const maxScoreResponse = 64 << 20

// ScoreResult is what a service answered a scoring call: any HTTP
// status, the service's (or its front end's) answer.
type ScoreResult struct {
	Status      int
	ContentType string
	Body        []byte
}

// Err is the service's error when Status is 400 or more, else nil: the
// front end's {"error": {"code", "message"}}, or the body as it is (the
// traceback of an entry script's run() that raised), coded by status.
func (r ScoreResult) Err() *api.ServiceError {
	if r.Status < 400 {
		return nil
	}
	var env struct {
		Error *api.ServiceError `json:"error"`
	}
	if json.Unmarshal(r.Body, &env) == nil && env.Error != nil && (env.Error.Code != "" || env.Error.Message != "") {
		return env.Error
	}
	code := strings.ReplaceAll(http.StatusText(r.Status), " ", "")
	if code == "" {
		code = fmt.Sprintf("HTTP%d", r.Status)
	}
	return &api.ServiceError{Code: code, Message: strings.TrimRight(string(r.Body), "\n")}
}

// Score POSTs data (JSON) to a service's scoring URI over hc — a client
// from DataPlane, so the call comes from that client's address and the
// network judges it — with credential (a key or a token; "" sends none)
// as Authorization: Bearer. Every HTTP answer is a ScoreResult, errors
// included (see ScoreResult.Err); an error is a call that got no answer:
// a refusal by the network is the tunnel's *armerror.Error
// (ConnectionDenied, naming the rule), anything else DataPlaneUnreachable.
func (c *Client) Score(ctx context.Context, hc *http.Client, scoringURI, credential string, data []byte) (ScoreResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, scoringURI, bytes.NewReader(data))
	if err != nil {
		return ScoreResult{}, armerror.New("InvalidScoringUri", "", "The scoring URI %q is not a URL: %v.", scoringURI, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ScoreResult{}, scoreTransportError(scoringURI, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxScoreResponse+1))
	if err != nil {
		return ScoreResult{}, scoreTransportError(scoringURI, err)
	}
	if len(b) > maxScoreResponse {
		return ScoreResult{}, armerror.New("ResponseTooLarge", "", "The answer of %s is larger than %d bytes.", scoringURI, maxScoreResponse)
	}
	return ScoreResult{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: b}, nil
}

// CodeScoringCertificateUntrusted is the code of a scoring call whose
// TLS certificate the client does not trust: not issued for the scoring
// URI's host, or by no CA the client trusts (a cluster's own certificate
// whose CA is not among the client's roots; see TrustCAs).
const CodeScoringCertificateUntrusted = "ScoringCertificateUntrusted"

// scoreTransportError keeps the tunnel's own error (a refusal names the
// rule), says why a certificate was refused, and wraps the others.
func scoreTransportError(uri string, err error) error {
	if a, ok := armerror.As(err); ok {
		return a
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return armerror.New(CodeScoringCertificateUntrusted, "", "Calling %s: its certificate (for %s) was issued by %q, which this client does not trust: "+
			"the deployment CA signs only generated certificates (a leaf domain label); for the cluster's own certificate, trust the CA that issued it.",
			uri, certNames(unknown.Cert), unknown.Cert.Issuer.CommonName)
	case errors.As(err, &host):
		return armerror.New(CodeScoringCertificateUntrusted, "", "Calling %s: its certificate is for %s, not for %s: the inference cluster's cname and certificate disagree.",
			uri, certNames(host.Certificate), host.Host)
	case errors.As(err, &invalid):
		return armerror.New(CodeScoringCertificateUntrusted, "", "Calling %s: its certificate is not valid (%v).", uri, invalid)
	}
	return armerror.New("DataPlaneUnreachable", "", "Calling %s: %v.", uri, err)
}

func certNames(c *x509.Certificate) string {
	if c == nil {
		return "no name"
	}
	if len(c.DNSNames) > 0 {
		return strings.Join(c.DNSNames, ", ")
	}
	return c.Subject.CommonName
}

// TrustCAs returns a copy of hc, a client from DataPlane, that trusts the
// PEM CA certificates in pemCerts as well as the roots hc trusts: for a
// scoring endpoint whose certificate the user's own CA issued
// (sslConfiguration with cname, cert and key).
func TrustCAs(hc *http.Client, pemCerts []byte) (*http.Client, error) {
	tr, ok := hc.Transport.(*http.Transport)
	if !ok {
		return nil, armerror.New("InvalidArgument", "", "The HTTP client is not one of DataPlane's.")
	}
	tr = tr.Clone()
	var pool *x509.CertPool
	if tr.TLSClientConfig != nil && tr.TLSClientConfig.RootCAs != nil {
		pool = tr.TLSClientConfig.RootCAs.Clone()
	} else if p, err := x509.SystemCertPool(); err == nil && p != nil {
		pool = p
	} else {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemCerts) {
		return nil, armerror.New("InvalidCACert", "", "The CA certificates given hold no PEM certificate.")
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.RootCAs = pool
	c := *hc
	c.Transport = tr
	return &c, nil
}
