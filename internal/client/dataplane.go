package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
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
	if clientAddress == "" {
		clientAddress = api.DefaultClientAddress
	}
	hdr := http.Header{}
	hdr.Set(api.ClientAddressHeader, clientAddress)
	return c.dataPlane(ctx, hdr)
}

// DataPlaneFromNIC is DataPlane for connections that leave from a network
// interface (resource id, or a name unique among the NICs) instead of a
// public address: as a process of its VM, inside the virtual network.
// The token needs write access to the interface.
func (c *Client) DataPlaneFromNIC(ctx context.Context, nic string) (*http.Client, error) {
	hdr := http.Header{}
	hdr.Set(api.ClientNICHeader, nic)
	return c.dataPlane(ctx, hdr)
}

func (c *Client) dataPlane(ctx context.Context, hdr http.Header) (*http.Client, error) {
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
	proxy := *c.base
	proxy.Path, proxy.RawQuery = "", ""
	hdr.Set("Proxy-Authorization", "Bearer "+c.token)
	tr := &http.Transport{
		// HTTPS goes through the transport's own CONNECT; plain HTTP (a
		// scoring endpoint on port 80) would be sent to the proxy as an
		// absolute-form request, which the server does not relay, so it
		// is dialed through a CONNECT of its own.
		Proxy: func(r *http.Request) (*url.URL, error) {
			if r.URL.Scheme == "https" {
				return &proxy, nil
			}
			return nil, nil
		},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == c.serverAddr() { // the proxy itself, for HTTPS
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
			return c.connect(ctx, addr, hdr)
		},
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

// connect opens a connection to addr in the virtual cloud: an HTTP
// CONNECT through the server, with the headers that say who the client is.
func (c *Client) connect(ctx context.Context, addr string, hdr http.Header) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.serverAddr())
	if err != nil {
		return nil, c.transportError(err)
	}
	if c.base.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: c.base.Hostname(), RootCAs: c.roots, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, c.transportError(err)
		}
		conn = tc
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
		defer conn.SetDeadline(time.Time{})
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: hdr.Clone()}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, c.transportError(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, c.transportError(err)
	}
	if err := tunnelRefusal(ctx, nil, req, resp); err != nil {
		conn.Close()
		return nil, err
	}
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// bufferedConn is a connection whose first bytes were read ahead.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// serverAddr is the server's host:port.
func (c *Client) serverAddr() string {
	if c.base.Port() != "" {
		return c.base.Host
	}
	port := "80"
	if c.base.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(c.base.Hostname(), port)
}
