package inference

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/fabric"
)

// FrontEndPort is where the front end takes scoring calls over HTTP, and
// FrontEndTLSPort over HTTPS when the cluster has a certificate. As
// azureml-fe does, a front end with TLS serves both: the scoring URI
// names the HTTPS one, and HTTP on port 80 goes on working for callers
// the NSG admits there.
const (
	FrontEndPort    = 80
	FrontEndTLSPort = 443
)

// TLS is an inference cluster's scoring TLS (its sslConfiguration): the
// certificate the front end serves on FrontEndTLSPort, and the name
// callers use. It is comparable: a front end whose TLS changes starts
// again.
type TLS struct {
	// Host is the name in the scoring URI: the cname, or the name
	// generated for a leaf domain label. The front end makes the
	// fabric resolve it to Addr while it runs (for a cname, what the
	// user's DNS record would do).
	Host string
	// Addr is where callers reach the front end: its public IP, or its
	// private address behind an internal load balancer.
	Addr netip.Addr
	// CertPEM is the certificate (then its chain) and KeyPEM its key.
	CertPEM, KeyPEM string
}

func sameTLS(a, b *TLS) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// DefaultMaxBodyBytes bounds a scoring request's body unless the service
// says otherwise.
const DefaultMaxBodyBytes = 100 << 20

// front is an inference cluster's azureml-fe: it listens at the front
// end's address through the fabric and passes each scoring call to a
// ready replica of the service it names.
type front struct {
	// down, when set, says why the load balancer's health probe cannot
	// reach the front end: it is out of rotation.
	down    atomic.Pointer[string]
	c       *Controller
	cluster string
	ep      fabric.Endpoint
	ln      net.Listener
	// tls is what the front end serves on tlsLn; both nil without TLS.
	tls   *TLS
	tlsLn net.Listener
	// ctx ends when the front end closes (stop), and with it every call
	// waiting for a replica.
	ctx  context.Context
	stop context.CancelFunc
	done <-chan struct{}
	// replicas are the connections to the replicas (relay.go).
	replicas *replicaPool
	// conns are the callers' connections; nil once closed.
	connMu sync.Mutex
	conns  map[net.Conn]struct{}
}

// frontFor starts the front end of sp's cluster on first use. The caller
// holds c.mu.
func (c *Controller) frontFor(sp Spec) error {
	key := strings.ToLower(sp.ClusterID)
	if f, ok := c.fronts[key]; ok && f.ep == sp.FrontEnd && sameTLS(f.tls, sp.TLS) {
		return nil
	} else if ok {
		c.releaseName(f)
		f.close()
		delete(c.fronts, key)
	}
	var tlsCfg *tls.Config
	if sp.TLS != nil {
		// Checked when the cluster was created; a pair that fails here
		// was changed since.
		cert, err := tls.X509KeyPair([]byte(sp.TLS.CertPEM), []byte(sp.TLS.KeyPEM))
		if err != nil {
			return fmt.Errorf("the front end of %s cannot serve TLS for %s: %w", lastSegment(sp.ClusterID), sp.TLS.Host, err)
		}
		// http/1.1 only: the relay speaks HTTP/1.1 (relay.go).
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := c.cfg.Fabric.Listen(ctx, sp.FrontEnd, FrontEndPort)
	if err != nil {
		return fmt.Errorf("the front end of %s cannot listen at %s:%d: %w", lastSegment(sp.ClusterID), sp.FrontEnd.Addr, FrontEndPort, err)
	}
	f := &front{c: c, cluster: sp.ClusterID, ep: sp.FrontEnd, ln: ln}
	if tlsCfg != nil {
		if f.tlsLn, err = c.cfg.Fabric.Listen(ctx, sp.FrontEnd, FrontEndTLSPort); err != nil {
			ln.Close()
			return fmt.Errorf("the front end of %s cannot listen at %s:%d: %w", lastSegment(sp.ClusterID), sp.FrontEnd.Addr, FrontEndTLSPort, err)
		}
		f.tls = sp.TLS
	}
	f.ctx, f.stop = context.WithCancel(context.Background())
	f.done = f.ctx.Done()
	f.replicas = newReplicaPool(f.dial)
	f.conns = map[net.Conn]struct{}{}
	go f.serve(ln, nil)
	go f.sweep()
	if f.tlsLn != nil {
		go f.serve(f.tlsLn, tlsCfg)
		c.names[canonicalHost(f.tls.Host)] = f
		c.cfg.Fabric.SetName(f.tls.Host, f.tls.Addr)
	}
	c.fronts[key] = f
	return nil
}

// close stops the front end: its listeners, the callers' connections and
// those to replicas, and calls waiting for a replica. Its name is released
// apart (releaseName).
func (f *front) close() {
	f.stop()
	f.ln.Close()
	if f.tlsLn != nil {
		f.tlsLn.Close()
	}
	f.connMu.Lock()
	conns := f.conns
	f.conns = nil
	f.connMu.Unlock()
	for c := range conns {
		c.Close()
	}
	f.replicas.close()
}

// sweep closes connections to replicas left idle for replicaIdleTimeout,
// until the front end closes.
func (f *front) sweep() {
	t := time.NewTicker(replicaIdleTimeout / 3)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			f.replicas.sweep(now.Add(-replicaIdleTimeout))
		case <-f.done:
			return
		}
	}
}

// releaseName makes the fabric forget f's TLS name — unless another front
// end registered it since: the front end of a deleted cluster lives on,
// and a new cluster may take its name. The caller holds c.mu.
func (c *Controller) releaseName(f *front) {
	if f.tls == nil {
		return
	}
	if key := canonicalHost(f.tls.Host); c.names[key] == f {
		delete(c.names, key)
		c.cfg.Fabric.SetName(f.tls.Host, netip.Addr{})
	}
}

func canonicalHost(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

// dial connects the front end to a replica's pod address through the
// fabric: as a pod of the subnet reaches another.
func (f *front) dial(ctx context.Context, pod netip.Addr) (net.Conn, error) {
	nic := f.c.podNIC(f.cluster, pod)
	return f.c.cfg.Fabric.DialEndpoint(ctx, f.ep, fabric.Endpoint{NIC: nic, Addr: pod}, ReplicaPort)
}

// ProbeAddr is where Azure load balancers' health probes come from
// (service tag AzureLoadBalancer).
var ProbeAddr = netip.MustParseAddr("168.63.129.16")

// probe reaches the front end as the load balancer's health probe does,
// through the fabric from AzureLoadBalancer: a refusal takes the front end
// out of rotation (the default rule AllowAzureLoadBalancerInBound admits
// it, unless a rule before it denies).
func (f *front) probe(ctx context.Context) {
	c, err := f.c.cfg.Fabric.DialEndpoint(ctx, fabric.Endpoint{Addr: ProbeAddr}, f.ep, FrontEndPort)
	var denied *fabric.Denied
	switch {
	case err == nil:
		c.Close()
		f.down.Store(nil)
	case errors.As(err, &denied):
		why := fmt.Sprintf("the load balancer's health probe from AzureLoadBalancer (%s) cannot reach the front end, so it is out of rotation: %s", ProbeAddr, denied.Verdict.Explain())
		f.down.Store(&why)
	}
}

// route decides a call before any byte of it goes on, by its method and
// path, its Authorization header and its declared length (-1 when unknown): the
// service it names and a ready replica of it — waiting up to the service's
// maxRequestWaitTime for one — or the front end's own answer.
func (f *front) route(ctx context.Context, method, path, authz string, length int64) (*service, Spec, *slot, *ownAnswer) {
	if why := f.down.Load(); why != nil {
		return nil, Spec{}, nil, &ownAnswer{http.StatusServiceUnavailable, "FrontEndOutOfRotation", *why}
	}
	rest, ok := strings.CutPrefix(path, "/api/v1/service/")
	name, op, _ := strings.Cut(rest, "/")
	if !ok || name == "" || (op != "score" && op != "swagger.json") {
		if path == "/" {
			return nil, Spec{}, nil, &ownAnswer{http.StatusOK, "Healthy", "azureml-fe is up; score at /api/v1/service/<name>/score"}
		}
		return nil, Spec{}, nil, &ownAnswer{http.StatusNotFound, "NotFound", "no such path: score at /api/v1/service/<name>/score, or get /api/v1/service/<name>/swagger.json"}
	}
	if op == "swagger.json" && method != http.MethodGet && method != http.MethodHead {
		return nil, Spec{}, nil, &ownAnswer{http.StatusMethodNotAllowed, "MethodNotAllowed", "swagger.json is read with GET"}
	}
	s := f.c.byName(f.cluster, name)
	if s == nil {
		return nil, Spec{}, nil, &ownAnswer{http.StatusNotFound, "ServiceNotFound", fmt.Sprintf("no service %q is deployed to this inference cluster", name)}
	}
	s.mu.Lock()
	sp := s.sp
	s.mu.Unlock()
	if op == "score" {
		if ok, why := authorized(sp, authz, time.Now()); !ok {
			return nil, Spec{}, nil, &ownAnswer{http.StatusUnauthorized, "Unauthorized", why}
		}
	}
	sl := s.pick()
	if sl == nil {
		// No replica ready at this moment (one being replaced or
		// re-exposed): the call waits, as a queued request does, up to
		// maxRequestWaitTime for the next round to make one ready.
		sl = s.waitReady(ctx, time.Duration(cmp.Or(sp.MaxWaitMs, defaultMaxWaitMs))*time.Millisecond)
	}
	if sl == nil {
		s.mu.Lock()
		state, why := s.state, ""
		if s.err != nil {
			why = ": " + s.err.Message
		}
		s.mu.Unlock()
		return nil, Spec{}, nil, &ownAnswer{http.StatusServiceUnavailable, "NoReplicaReady", fmt.Sprintf("service %s has no ready replica (it is %s%s)", name, state, why)}
	}
	if limit := sp.maxBody(); length > limit {
		return nil, Spec{}, nil, &ownAnswer{http.StatusRequestEntityTooLarge, "RequestTooLarge", fmt.Sprintf("the request body is %d bytes; service %s takes at most %d", length, name, limit)}
	}
	return s, sp, sl, nil
}

// maxBody is the most a scoring request's body may hold.
func (sp Spec) maxBody() int64 {
	if sp.MaxBodyBytes > 0 {
		return sp.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// MaxScoringTries bounds the replicas an idempotent call is tried on.
const MaxScoringTries = 3

// pick returns a ready replica, round robin.
func (s *service) pick() *slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.slots)
	start := int(s.rr.Add(1))
	for i := range n {
		if sl := s.slots[(start+i)%n]; sl.ready() {
			return sl
		}
	}
	return nil
}

// defaultMaxWaitMs is max_request_wait_time's default.
const defaultMaxWaitMs = 500

// waitReady waits up to wait for the end of the service's next round
// (which it asks for, at most one every minCallRound: see run), then
// picks a ready replica, or nil.
func (s *service) waitReady(ctx context.Context, wait time.Duration) *slot {
	s.mu.Lock()
	done := s.nextRound()
	s.mu.Unlock()
	select {
	case s.callKick <- struct{}{}:
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	case <-s.stopped:
	}
	return s.pick()
}

// pickExcept returns a ready replica whose pod is not among tried, or nil.
func (s *service) pickExcept(tried map[netip.Addr]bool) *slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.slots)
	start := int(s.rr.Add(1))
	for i := range n {
		if sl := s.slots[(start+i)%n]; sl.ready() && !tried[sl.pod] {
			return sl
		}
	}
	return nil
}

// byName finds a service of a cluster by name.
func (c *Controller) byName(cluster, name string) *service {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.services {
		s.mu.Lock()
		match := strings.EqualFold(s.sp.ClusterID, cluster) && strings.EqualFold(s.sp.Name, name)
		s.mu.Unlock()
		if match {
			return s
		}
	}
	return nil
}

// podNIC is the node interface that holds a pod address of a cluster.
func (c *Controller) podNIC(cluster string, pod netip.Addr) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.services {
		s.mu.Lock()
		for _, sl := range s.slots {
			if sl != nil && sl.pod == pod && strings.EqualFold(s.sp.ClusterID, cluster) {
				s.mu.Unlock()
				return sl.node.NIC
			}
		}
		s.mu.Unlock()
	}
	return ""
}

// authorized checks a caller's key or token.
func authorized(sp Spec, header string, now time.Time) (bool, string) {
	if len(sp.Keys) == 0 && sp.TokenKey == nil {
		return true, ""
	}
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || tok == "" {
		kind := "one of the service's keys (vnetml service get-keys)"
		if sp.TokenKey != nil {
			kind = "a token (vnetml service get-token)"
		}
		return false, "send " + kind + " as Authorization: Bearer <key>"
	}
	for _, k := range sp.Keys {
		if k != "" && subtle.ConstantTimeCompare([]byte(k), []byte(tok)) == 1 {
			return true, ""
		}
	}
	if sp.TokenKey != nil {
		if exp, ok := checkToken(sp, tok); ok {
			if now.Before(exp) {
				return true, ""
			}
			return false, "the token expired at " + exp.UTC().Format(time.RFC3339) + "; get a new one (vnetml service get-token)"
		}
	}
	return false, "the key or token is not this service's"
}

// Token returns a token for a service with token auth, valid for life.
func Token(sp Spec, expiry time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(expiry.Unix()))
	m := hmac.New(sha256.New, sp.TokenKey)
	m.Write([]byte(strings.ToLower(sp.ID)))
	m.Write(b[:])
	return "vnt." + base64.RawURLEncoding.EncodeToString(append(b[:], m.Sum(nil)...))
}

func checkToken(sp Spec, tok string) (time.Time, bool) {
	raw, ok := strings.CutPrefix(tok, "vnt.")
	if !ok {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) != 8+sha256.Size {
		return time.Time{}, false
	}
	m := hmac.New(sha256.New, sp.TokenKey)
	m.Write([]byte(strings.ToLower(sp.ID)))
	m.Write(b[:8])
	if !hmac.Equal(m.Sum(nil), b[8:]) {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0), true
}

// wwwAuthenticate is the challenge of a call without a valid key or token.
const wwwAuthenticate = `Bearer realm="azureml"`

// jsonError is an answer's body in the service error shape.
func jsonError(code, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"error": api.ServiceError{Code: code, Message: msg}})
	return append(b, '\n')
}
