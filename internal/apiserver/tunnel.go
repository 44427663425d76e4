package apiserver

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"go4.org/netipx"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// tunnel answers CONNECT host:port (see api.ClientAddressHeader): a client
// outside the virtual cloud opens a connection to a virtual address
// through the fabric, from its public address — or from a network
// interface it may write to (api.ClientNICHeader), as its VM would. A refusal by the network
// is a 403 whose body carries the explanation (vnetml's client reads it;
// Go's transport alone would show only the status).
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		s.log.Info("tunnel refused", "target", r.Host, "status", status, "reason", msg)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, msg+"\n")
	}
	if s.fab == nil {
		fail(http.StatusNotImplemented, "this server runs no fabric, so the virtual cloud's data planes cannot be reached")
		return
	}
	token := proxyToken(r)
	if token == "" {
		w.Header().Set("Proxy-Authenticate", `Bearer realm="vnetml"`)
		fail(http.StatusProxyAuthRequired, "send your vnetml token as Proxy-Authorization: Bearer <token>")
		return
	}
	p, err := s.auth.Authenticate(r.Context(), "Bearer "+token)
	if err != nil {
		fail(http.StatusProxyAuthRequired, err.Error())
		return
	}
	var src fabric.Endpoint
	if ref := strings.TrimSpace(r.Header.Get(api.ClientNICHeader)); ref != "" {
		// From a network interface: acting as its VM, which writing to
		// the interface allows.
		n, err := s.sourceNIC(p, ref)
		if err != nil {
			fail(http.StatusBadRequest, fmt.Sprintf("%s %q: %v", api.ClientNICHeader, ref, err))
			return
		}
		src = fabric.Endpoint{NIC: n.ID}
	} else {
		from, err := clientAddress(r.Header.Get(api.ClientAddressHeader))
		if err == nil {
			err = s.notPlatform(from)
		}
		if err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		src = fabric.Endpoint{Addr: from}
	}
	host, portText, err := net.SplitHostPort(r.Host)
	port, perr := strconv.ParseUint(portText, 10, 16)
	if err != nil || perr != nil || port == 0 {
		fail(http.StatusBadRequest, fmt.Sprintf("CONNECT wants host:port, not %q", r.Host))
		return
	}
	dst, ok := s.fab.Resolve(host)
	if !ok {
		fail(http.StatusBadGateway, fmt.Sprintf("%s does not resolve in the virtual cloud: no storage account or key vault has that host name", host))
		return
	}
	if id := s.holderOf(dst); id != "" {
		if err := auth.Authorize(p, auth.Read, id); err != nil {
			fail(http.StatusForbidden, fmt.Sprintf("token %s may not reach %s: %v", p.TokenID, host, err))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	c, err := s.fab.Dial(ctx, src, netip.AddrPortFrom(dst, uint16(port)))
	cancel()
	if err != nil {
		var d *fabric.Denied
		if errors.As(err, &d) {
			fail(http.StatusForbidden, err.Error())
		} else {
			fail(http.StatusBadGateway, err.Error())
		}
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		c.Close()
		fail(http.StatusHTTPVersionNotSupported, "CONNECT needs HTTP/1.1")
		return
	}
	client, rw, err := hj.Hijack()
	if err != nil {
		c.Close()
		return
	}
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		client.Close()
		c.Close()
		return
	}
	// Bytes the client sent after its request (a TLS hello) may sit in
	// the server's buffer already.
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		if _, err := c.Write(b); err != nil {
			client.Close()
			c.Close()
			return
		}
	}
	done := make(chan struct{})
	go func() {
		pipe(client, c)
		close(done)
	}()
	go s.recheckTunnel(token, done, client, c)
}

// sourceNIC resolves a CONNECT's network interface — a resource id, or a
// name — among the NICs p may write to (acting as their VM), and only
// those: a NIC of a scope p has no role in is neither confirmed nor
// denied to exist, and its name makes no name of p's own ambiguous. The
// error names no NIC but ref.
func (s *Server) sourceNIC(p auth.Principal, ref string) (*flow.NIC, error) {
	key := network.Key(ref)
	var found []*flow.NIC
	for _, n := range s.engine().eng.NICs() {
		if network.Key(n.ID) != key && !strings.EqualFold(n.Name, ref) {
			continue
		}
		if auth.Authorize(p, auth.Write, n.ID) == nil {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("token %s may write to no network interface of that name or resource id, so it cannot call from it (give the resource id of a NIC in its scope)", p.TokenID)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("network interface name %q is ambiguous: give its resource id", ref)
}

// recheckTunnel closes a tunnel whose token was revoked or expired, at
// the next check (every Config.TunnelRecheck), until the tunnel ends.
func (s *Server) recheckTunnel(token string, done <-chan struct{}, conns ...net.Conn) {
	t := time.NewTicker(s.tunnelRecheck)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if _, err := s.auth.Authenticate(context.Background(), "Bearer "+token); err != nil {
			s.log.Info("closing a tunnel whose token is no longer valid", "error", err)
			for _, c := range conns {
				c.Close()
			}
			return
		}
	}
}

// pipe copies both ways until either side ends, then closes both.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	a.Close()
	b.Close()
}

// proxyToken returns the token of a CONNECT request: Proxy-Authorization
// Bearer, or Basic with the token as password.
func proxyToken(r *http.Request) string {
	h := r.Header.Get("Proxy-Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	if b, ok := strings.CutPrefix(h, "Basic "); ok {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b))
		if err == nil {
			if _, pass, ok := strings.Cut(string(raw), ":"); ok {
				return pass
			}
		}
	}
	return ""
}

// clientAddress parses a client's claimed public address: empty means
// api.DefaultClientAddress; anything but a public IPv4 address is refused
// (a private, shared, loopback, link-local, multicast or reserved address
// would claim a place inside some network).
func clientAddress(s string) (netip.Addr, error) {
	if s == "" {
		s = api.DefaultClientAddress
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s %q is not an IPv4 address; set your public address with vnetml login --client-address", api.ClientAddressHeader, s)
	}
	if p, bad := api.NonPublic(a); bad {
		return netip.Addr{}, fmt.Errorf("%s %s is in %s, which is not a public address; a client outside the virtual cloud calls from a public IPv4 address", api.ClientAddressHeader, a, p)
	}
	return a, nil
}

// notPlatform refuses a client address inside the virtual cloud's own
// ranges: a service tag's (Batch node management, the ML control plane,
// storage, …), where NSG rules written for the platform would admit the
// client, or a public IP address the deployment gave a resource, where it
// would pose as a node. The tag ranges are gathered once, on first use.
func (s *Server) notPlatform(a netip.Addr) error {
	s.platformOnce.Do(func() {
		var b netipx.IPSetBuilder
		for _, name := range s.tags.Names() {
			if t, ok := s.tags.Lookup(name); ok {
				for _, p := range t.V4 {
					b.AddPrefix(p)
				}
			}
		}
		s.platform, _ = b.IPSet()
	})
	if s.platform != nil && s.platform.Contains(a) {
		tag := "a service tag"
		for _, name := range s.tags.Names() {
			if t, ok := s.tags.Lookup(name); ok && slices.ContainsFunc(t.V4, func(p netip.Prefix) bool { return p.Contains(a) }) {
				tag = "service tag " + t.Name
				break
			}
		}
		return fmt.Errorf("%s %s is in %s, an address of the platform, not of a client; a client outside the virtual cloud calls from another public address, e.g. %s",
			api.ClientAddressHeader, a, tag, api.DefaultClientAddress)
	}
	if servicetag.HostVIP.Contains(a) {
		return fmt.Errorf("%s %s is Azure's host address (AzureLoadBalancer), not a client's; a client outside the virtual cloud calls from another public address, e.g. %s",
			api.ClientAddressHeader, a, api.DefaultClientAddress)
	}
	snap := s.view.Load().snap
	for _, g := range snap.LocalNetworkGateways {
		for _, ps := range g.Properties.LocalNetworkAddressSpace.AddressPrefixes {
			if p, err := netip.ParsePrefix(ps); err == nil && p.Contains(a) {
				return fmt.Errorf("%s %s is in %s, the on-premises network of local network gateway %s, which reaches the virtual network through its gateway; a client on the Internet calls from another public address, e.g. %s",
					api.ClientAddressHeader, a, p, g.Name, api.DefaultClientAddress)
			}
		}
	}
	for _, p := range snap.PublicIPAddresses {
		if p.Properties.IPAddress == a.String() {
			return fmt.Errorf("%s %s is public IP address %s of this deployment, not a client's; a client outside the virtual cloud calls from another public address, e.g. %s",
				api.ClientAddressHeader, a, p.ID, api.DefaultClientAddress)
		}
	}
	return nil
}

// holderOf returns the id of the storage account, key vault or public IP
// address whose virtual address a is ("" for none): a tunnel to it needs
// a token that may read it.
func (s *Server) holderOf(a netip.Addr) string {
	snap := s.view.Load().snap
	addr := a.String()
	for _, x := range snap.StorageAccounts {
		if x.Properties.VirtualAddress == addr {
			return x.ID
		}
	}
	for _, x := range snap.KeyVaults {
		if x.Properties.VirtualAddress == addr {
			return x.ID
		}
	}
	for _, x := range snap.PublicIPAddresses {
		if x.Properties.IPAddress == addr {
			return x.ID
		}
	}
	return ""
}
