package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Dial connects to one of a node's ports, ManagementPort or ControlPort, as
// the caller reaches the node. The server's node manager dials through the
// fabric, from a BatchNodeManagement address to the node's NIC address at
// that port, so that the NSG decides:
//
//	func(ctx context.Context, port uint16) (net.Conn, error) {
//		return fab.Dial(ctx, batchEndpoint, netip.AddrPortFrom(nodeAddr, port))
//	}
//
// Agent.Loopback dials the agent's real listeners directly.
type Dial func(ctx context.Context, port uint16) (net.Conn, error)

// Loopback returns the Dial that reaches the agent's loopback listeners,
// bypassing the virtual network: for the spawner's own use (adoption,
// leases), never for what the node manager does on the network's terms.
func (a *Agent) Loopback() Dial {
	return func(ctx context.Context, port uint16) (net.Conn, error) {
		addr := a.Management
		switch port {
		case ManagementPort:
		case ControlPort:
			addr = a.Control
		default:
			return nil, fmt.Errorf("nodeagent: the agent answers on ports %d and %d, not %d", ManagementPort, ControlPort, port)
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr.String())
	}
}

// StatusError is an agent's answer other than 200 OK.
type StatusError struct {
	Port       uint16
	StatusCode int
	Err        *armerror.Error // the body, when it was ARM's error shape
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("node agent port %d answered %d %s", e.Port, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Err != nil {
		msg += ": " + e.Err.Message
	}
	return msg
}

func (e *StatusError) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return e.Err
}

// Health asks the agent's management port (29876) how it is. A nil dial is
// a.Loopback(). An answer for another node is an error: whatever dial
// reached is not this node's agent.
func (a *Agent) Health(ctx context.Context, dial Dial) (HealthInfo, error) {
	return a.healthAt(ctx, dial, ManagementPort)
}

// ControlHealth asks the agent's control port (29877) how it is, so that
// the NSG rules of that port are exercised too. It does not renew the lease.
func (a *Agent) ControlHealth(ctx context.Context, dial Dial) (HealthInfo, error) {
	return a.healthAt(ctx, dial, ControlPort)
}

func (a *Agent) healthAt(ctx context.Context, dial Dial, port uint16) (HealthInfo, error) {
	var h HealthInfo
	if err := a.call(ctx, dial, port, http.MethodGet, "/v1/health", &h); err != nil {
		return h, err
	}
	if h.NodeID != a.NodeID {
		return h, fmt.Errorf("nodeagent: port %d answered as node %q, not %q", port, h.NodeID, a.NodeID)
	}
	return h, nil
}

// Renew renews the agent's lease through its management port (29876) and
// returns the new terms. A nil dial is a.Loopback().
func (a *Agent) Renew(ctx context.Context, dial Dial) (LeaseInfo, error) {
	var l LeaseInfo
	err := a.call(ctx, dial, ManagementPort, http.MethodPost, "/v1/lease", &l)
	return l, err
}

// call makes one request on a connection of its own: no keep-alive, so
// that each call is a new flow that the fabric decides under the rules of
// the moment (an established connection would survive a rule change, as
// in Azure).
func (a *Agent) call(ctx context.Context, dial Dial, port uint16, method, path string, out any) error {
	if dial == nil {
		dial = a.Loopback()
	}
	tr := &http.Transport{
		DialContext:            func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, port) },
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 16 << 10,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, "http://node-agent"+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+string(a.Secret))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // the URL names no node: say which instead
		}
		return fmt.Errorf("nodeagent: node %s port %d: %w", a.NodeID, port, err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, 64<<10)
	if resp.StatusCode != http.StatusOK {
		e := &StatusError{Port: port, StatusCode: resp.StatusCode}
		var env armerror.Envelope
		if json.NewDecoder(body).Decode(&env) == nil {
			e.Err = env.Error
		}
		return e
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("nodeagent: node %s port %d: unreadable answer: %w", a.NodeID, port, err)
	}
	return nil
}
