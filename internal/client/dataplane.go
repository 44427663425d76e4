package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// DataPlane returns an HTTP client for the virtual cloud's data planes
// (https://<account>.blob.core.windows.net, https://<vault>.vault.azure.net,
// …): each connection is an HTTP CONNECT through the server, which dials
// from clientAddress (empty: api.DefaultClientAddress) through the fabric,
// so NSGs and firewalls judge it as a client on the Internet. TLS is
// verified against the deployment CA, fetched from the server.
func (c *Client) DataPlane(ctx context.Context, clientAddress string) (*http.Client, error) {
	ca, err := c.CA(ctx)
	if err != nil {
		return nil, err
	}
	var pool *x509.CertPool
	if c.roots != nil {
		pool = c.roots.Clone()
	} else if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(ca) {
		return nil, armerror.New("InvalidCACert", "", "The server's deployment CA (%s) is not a PEM certificate.", api.CAPath)
	}
	if clientAddress == "" {
		clientAddress = api.DefaultClientAddress
	}
	proxy := *c.base
	proxy.Path, proxy.RawQuery = "", ""
	hdr := http.Header{}
	hdr.Set("Proxy-Authorization", "Bearer "+c.token)
	hdr.Set(api.ClientAddressHeader, clientAddress)
	tr := &http.Transport{
		Proxy:                  func(*http.Request) (*url.URL, error) { return &proxy, nil },
		ProxyConnectHeader:     hdr,
		OnProxyConnectResponse: tunnelRefusal,
		TLSClientConfig:        &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:      false,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    30 * time.Second,
		ResponseHeaderTimeout:  2 * time.Minute,
	}
	return &http.Client{Transport: tr}, nil
}

// CA returns the deployment CA's certificate (PEM).
func (c *Client) CA(ctx context.Context) ([]byte, error) {
	u := *c.base
	u.Path = c.base.Path + api.CAPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, armerror.New("DataPlaneUnavailable", "", "The server serves no deployment CA (%s answered %s): it runs no data planes.", api.CAPath, resp.Status)
	}
	return b, nil
}

// tunnelRefusal turns a refused CONNECT into the server's explanation
// (Go's transport would report only the status).
func tunnelRefusal(_ context.Context, _ *url.URL, req *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		msg = resp.Status
	}
	code := "TunnelRefused"
	switch resp.StatusCode {
	case http.StatusForbidden:
		code = "ConnectionDenied"
	case http.StatusProxyAuthRequired:
		code = "AuthenticationFailed"
	case http.StatusBadRequest:
		code = "InvalidArgument"
	case http.StatusBadGateway:
		code = "DataPlaneUnreachable"
	}
	host := req.Host
	if host == "" && req.URL != nil {
		host = req.URL.Host
	}
	return armerror.New(code, "", "reaching %s: %s", host, msg)
}
