package nodeagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/netns"
	"github.com/vnetml/vnetml/internal/replica"
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
// An agent confined to a network namespace of its own (the kernel
// fabric's) listens on that namespace's loopback: the dial is made from
// inside it.
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
		return dialIn(ctx, a.PID, addr)
	}
}

// dialIn dials addr from the network namespace of process pid.
func dialIn(ctx context.Context, pid int, addr netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	h, err := netns.OfProcess(pid)
	if err != nil {
		return d.DialContext(ctx, "tcp", addr.String())
	}
	defer h.Close()
	if h.IsCurrent() {
		return d.DialContext(ctx, "tcp", addr.String())
	}
	var c net.Conn
	err = h.Do(func() error {
		var err error
		c, err = d.DialContext(ctx, "tcp", addr.String())
		return err
	})
	return c, err
}

// StatusError is an agent's answer other than success (200 OK, 202
// Accepted or 204 No Content). A busy node answers SubmitJob with 409 and
// code NodeBusy; an unknown run is 404, code JobNotFound; a spec the agent
// refuses is 400, code InvalidJobSpec (InvalidReplicaSpec for a replica);
// an unknown replica is 404, code ReplicaNotFound.
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

// SubmitJob hands an attempt to the agent through its control port
// (29877). The agent answers at once, in state Preparing (202); the same
// run and attempt again answers its status (200). A nil dial is
// a.Loopback().
func (a *Agent) SubmitJob(ctx context.Context, dial Dial, spec job.Spec) (job.Status, error) {
	var st job.Status
	err := a.request(ctx, dial, ControlPort, http.MethodPost, "/v1/jobs", spec, &st)
	return st, err
}

// JobStatus asks the agent about the last attempt of a run it was given.
func (a *Agent) JobStatus(ctx context.Context, dial Dial, runID string) (job.Status, error) {
	var st job.Status
	err := a.request(ctx, dial, ControlPort, http.MethodGet, "/v1/jobs/"+url.PathEscape(runID), nil, &st)
	return st, err
}

// CancelJob asks the agent to stop a run's attempt: SIGTERM to the job's
// process group, the agent's grace period, SIGKILL; it is reported
// Canceled. It returns once the agent took the request, not once the job
// ended (JobStatus tells).
func (a *Agent) CancelJob(ctx context.Context, dial Dial, runID string) error {
	var st job.Status
	return a.request(ctx, dial, ControlPort, http.MethodPost, "/v1/jobs/"+url.PathEscape(runID)+"/cancel", nil, &st)
}

// RebindJob tells the agent that the node's egress proxy is proxy from
// now on (a restarted server runs a new one): the agent's reports and the
// job's new connections leave through it; the job keeps running.
func (a *Agent) RebindJob(ctx context.Context, dial Dial, runID, proxy string) error {
	var st job.Status
	return a.request(ctx, dial, ControlPort, http.MethodPost, "/v1/jobs/"+url.PathEscape(runID)+"/rebind", job.Rebind{Proxy: proxy}, &st)
}

// StartReplica hands a replica to the agent through its control port
// (29877). The agent answers at once, in state Starting (202); the same id
// and generation again answers its status (200); a new generation
// replaces the replica of that id. A nil dial is a.Loopback().
func (a *Agent) StartReplica(ctx context.Context, dial Dial, spec replica.Spec) (replica.Status, error) {
	var st replica.Status
	err := a.request(ctx, dial, ControlPort, http.MethodPost, "/v1/replicas", spec, &st)
	return st, err
}

// Replicas lists the replicas of the node, by id.
func (a *Agent) Replicas(ctx context.Context, dial Dial) ([]replica.Status, error) {
	var all []replica.Status
	err := a.request(ctx, dial, ControlPort, http.MethodGet, "/v1/replicas", nil, &all)
	return all, err
}

// ReplicaStatus asks the agent about one replica; an unknown one is a
// *StatusError of 404, code ReplicaNotFound.
func (a *Agent) ReplicaStatus(ctx context.Context, dial Dial, id string) (replica.Status, error) {
	var st replica.Status
	err := a.request(ctx, dial, ControlPort, http.MethodGet, "/v1/replicas/"+url.PathEscape(id), nil, &st)
	return st, err
}

// ReplicaLogs returns the replica's output: stdout and stderr of its
// processes, restarts included, the last replica.MaxLogBytes of it.
func (a *Agent) ReplicaLogs(ctx context.Context, dial Dial, id string) (string, error) {
	var logs string
	err := a.roundTrip(ctx, dial, ControlPort, http.MethodGet, "/v1/replicas/"+url.PathEscape(id)+"/logs", nil, func(r io.Reader) error {
		b, err := io.ReadAll(io.LimitReader(r, replica.MaxLogBytes+1))
		logs = string(b)
		return err
	})
	return logs, err
}

// StopReplica stops a replica (SIGTERM, the agent's grace period, SIGKILL)
// and forgets it. It returns once the replica's processes are gone.
func (a *Agent) StopReplica(ctx context.Context, dial Dial, id string) error {
	return a.request(ctx, dial, ControlPort, http.MethodDelete, "/v1/replicas/"+url.PathEscape(id), nil, nil)
}

// call makes a request without a body.
func (a *Agent) call(ctx context.Context, dial Dial, port uint16, method, path string, out any) error {
	return a.request(ctx, dial, port, method, path, nil, out)
}

// request makes one request and decodes its JSON answer into out (nil:
// an answer without a body, 204). in, if not nil, is sent as JSON.
func (a *Agent) request(ctx context.Context, dial Dial, port uint16, method, path string, in, out any) error {
	return a.roundTrip(ctx, dial, port, method, path, in, func(r io.Reader) error {
		if out == nil {
			return nil
		}
		if err := json.NewDecoder(io.LimitReader(r, 64<<10)).Decode(out); err != nil {
			return fmt.Errorf("nodeagent: node %s port %d: unreadable answer: %w", a.NodeID, port, err)
		}
		return nil
	})
}

// roundTrip makes one request on a connection of its own: no keep-alive,
// so that each call is a new flow that the fabric decides under the rules
// of the moment (an established connection would survive a rule change,
// as in Azure). in, if not nil, is sent as JSON. A success (200, 202 or
// 204) is read by read; anything else is a *StatusError.
func (a *Agent) roundTrip(ctx context.Context, dial Dial, port uint16, method, path string, in any, read func(io.Reader) error) error {
	if dial == nil {
		dial = a.Loopback()
	}
	tr := &http.Transport{
		DialContext:            func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, port) },
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 16 << 10,
	}
	defer tr.CloseIdleConnections()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://node-agent"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+string(a.Secret))
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // the URL names no node: say which instead
		}
		return fmt.Errorf("nodeagent: node %s port %d: %w", a.NodeID, port, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted:
		return read(resp.Body)
	case http.StatusNoContent:
		return nil
	}
	e := &StatusError{Port: port, StatusCode: resp.StatusCode}
	var env armerror.Envelope
	if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&env) == nil {
		e.Err = env.Error
	}
	return e
}
