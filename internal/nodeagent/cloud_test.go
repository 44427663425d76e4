package nodeagent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/blobstore"
	"github.com/vnetml/vnetml/internal/fabric/egress"
	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/pki"
	"github.com/vnetml/vnetml/internal/snapshot"
	"github.com/vnetml/vnetml/internal/storageauth"
)

// testCloud is the part of a virtual cloud a node's job talks to, made of
// the real pieces: a blob store over TLS for storage account mystore, a
// run-history server over TLS, the deployment CA both chain to, and the
// fabric's egress proxies, whose dialer maps virtual addresses to those
// loopback servers and refuses what a test denies as the fabric does.
type testCloud struct {
	t     *testing.T
	ca    *pki.CA
	store *blobstore.Store
	key   []byte
	hist  *history

	// firewall makes the storage account's firewall refuse every request.
	firewall     atomic.Bool
	snapshotGets atomic.Int64

	mu     sync.Mutex
	routes map[netip.AddrPort]string // virtual → loopback
}

// The virtual cloud's names and addresses.
const (
	storageHost   = "mystore.blob.core.windows.net"
	artHost       = "artstore.blob.core.windows.net" // the same store, under another name
	historyHost   = "westus.experiments.azureml.net"
	testNodeAddr  = "10.0.0.5"
	testToken     = "run-token-0123"
	snapContainer = "azureml-blobstore"
	artContainer  = "azureml"
)

var (
	storageAddr = netip.MustParseAddrPort("198.18.1.4:443")
	artAddr     = netip.MustParseAddrPort("198.18.1.5:443")
	historyAddr = netip.MustParseAddrPort("198.18.2.10:443")
)

// deniedRule is the text the fabric's Denied gives, after its prefix.
const deniedRule = "denied by securityRules/deny-internet-out (priority 200) of NSG ml-nsg on subnet default. " +
	"Allow outbound TCP 443 to the Storage service tag with a rule of priority below 200"

func newTestCloud(t *testing.T) *testCloud {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := blobstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &testCloud{t: t, ca: ca, store: st, key: storageauth.NewKey(), routes: map[netip.AddrPort]string{}}
	ctx := context.Background()
	for _, ctr := range []string{snapContainer, artContainer} {
		if err := st.CreateContainer(ctx, "mystore", ctr); err != nil {
			t.Fatal(err)
		}
	}
	blobs := st.Handler(func(*http.Request) (string, bool) { return "mystore", true },
		func(r *http.Request, req blobstore.Request) error {
			sas, ok, err := storageauth.ParseSAS(r.URL.Query())
			if err != nil {
				return err
			}
			if !ok {
				return armerror.New("NoAuthenticationInformation", "", "no SAS")
			}
			return sas.Verify("mystore", [][]byte{c.key}, storageauth.NewAccess(storageauth.Kind(req.Kind()), req.Container, req.Blob),
				netip.Addr{}, true, time.Now())
		})
	c.routes[storageAddr] = c.serveTLS([]string{storageHost, artHost}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.firewall.Load() {
			blobstore.WriteError(w, r, armerror.New("AuthorizationFailure", "networkAcls",
				"This request is not authorized to perform this operation. The firewall of storage account mystore refused the request from 10.0.0.5: networkAcls.defaultAction is Deny."))
			return
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/snapshots/") {
			c.snapshotGets.Add(1)
		}
		blobs.ServeHTTP(w, r)
	}))
	c.routes[artAddr] = c.routes[storageAddr]
	c.hist = newHistory()
	c.routes[historyAddr] = c.serveTLS([]string{historyHost}, c.hist)
	return c
}

func (c *testCloud) serveTLS(names []string, h http.Handler) string {
	cert, err := c.ca.Issue(names, nil, time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	c.t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// testEgress is one of the fabric's egress proxies for the node.
type testEgress struct {
	url string

	mu     sync.Mutex
	deny   map[netip.AddrPort]bool
	dials  map[netip.AddrPort]int // granted
	denied map[netip.AddrPort]int
}

// egress starts an egress proxy that requires credentials, as the
// fabric's do.
func (c *testCloud) egress() *testEgress {
	e := &testEgress{deny: map[netip.AddrPort]bool{}, dials: map[netip.AddrPort]int{}, denied: map[netip.AddrPort]int{}}
	resolve := func(host string) (netip.Addr, bool) {
		switch host {
		case storageHost:
			return storageAddr.Addr(), true
		case artHost:
			return artAddr.Addr(), true
		case historyHost:
			return historyAddr.Addr(), true
		}
		return netip.Addr{}, false
	}
	dial := func(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
		e.mu.Lock()
		if e.deny[dst] {
			e.denied[dst]++
			e.mu.Unlock()
			return nil, errors.New(deniedPrefix + deniedRule)
		}
		e.dials[dst]++
		e.mu.Unlock()
		c.mu.Lock()
		real, ok := c.routes[dst]
		c.mu.Unlock()
		if !ok {
			return nil, errors.New(deniedPrefix + "no route to " + dst.String() + " (test network)")
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", real)
	}
	p := egress.New(dial, resolve, nil)
	p.RequireCredentials("node-1", "egress-pw")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		p.Serve(context.Background(), ln)
		close(done)
	}()
	c.t.Cleanup(func() {
		p.Close()
		<-done
	})
	e.url = "http://node-1:egress-pw@" + ln.Addr().String()
	return e
}

func (e *testEgress) setDeny(dst netip.AddrPort, deny bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deny[dst] = deny
}

func (e *testEgress) counts(dst netip.AddrPort) (granted, denied int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dials[dst], e.denied[dst]
}

// testSnapshot is a snapshot uploaded to the datastore.
type testSnapshot struct {
	sha  string
	blob string
}

// putSnapshot packs files into a snapshot and uploads it.
func (c *testCloud) putSnapshot(files map[string]string) testSnapshot {
	c.t.Helper()
	dir := c.t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	info, err := snapshot.Pack(dir, &buf, snapshot.Limits{})
	if err != nil {
		c.t.Fatal(err)
	}
	s := testSnapshot{sha: info.SHA256, blob: "snapshots/" + info.SHA256 + ".tar.gz"}
	c.putBlob(snapContainer, s.blob, buf.Bytes())
	return s
}

func (c *testCloud) putBlob(container, name string, b []byte) {
	c.t.Helper()
	if _, err := c.store.PutBlob(context.Background(), "mystore", container, name, bytes.NewReader(b), blobstore.PutOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// blob returns a blob's content; false when there is none.
func (c *testCloud) blob(container, name string) (string, bool) {
	b, err := c.store.OpenBlob(context.Background(), "mystore", container, name, blobstore.Conditions{})
	if err != nil {
		return "", false
	}
	defer b.Close()
	buf := make([]byte, b.ContentLength)
	if _, err := b.ReadAt(buf, 0); err != nil && err != io.EOF {
		c.t.Fatal(err)
	}
	return string(buf), true
}

// sas returns the https URL of a container or blob with a SAS.
func (c *testCloud) sas(container, blob string, perm storageauth.Permission) string {
	c.t.Helper()
	q, err := storageauth.SignServiceSAS("mystore", c.key, storageauth.ServiceSASParams{
		Container: container, Blob: blob, Permissions: perm, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		c.t.Fatal(err)
	}
	u := "https://" + storageHost + "/" + container
	if blob != "" {
		u += "/" + blob
	}
	return u + "?" + q.Encode()
}

// spec returns the spec of attempt 1 of a run of script (sh -c) on the
// snapshot, through the egress proxy.
func (c *testCloud) spec(runID string, snap testSnapshot, e *testEgress, script string) job.Spec {
	return job.Spec{
		RunID: runID, Experiment: "exp", Attempt: 1,
		Argv: []string{"sh", "-c", script},
		Snapshot: job.Snapshot{URL: c.sas(snapContainer, snap.blob, storageauth.PermRead), SHA256: snap.sha,
			Account: "mystore", Datastore: "workspaceblobstore"},
		Artifacts: job.Artifacts{URL: c.sas(artContainer, "", storageauth.PermCreate|storageauth.PermWrite),
			Prefix: "ExperimentRun/dcid." + runID + "/", Account: "mystore"},
		History: "https://" + historyHost + "/history/v1.0/runs/" + runID, Token: testToken,
		CACert: string(c.ca.CertPEM()), Proxy: e.url, NodeID: "node-1", NodeAddress: testNodeAddr,
	}
}

// history is a run-history server with the protocol of package job: it
// records the events and logs it acknowledges, and misbehaves on demand.
type history struct {
	mux *http.ServeMux

	mu       sync.Mutex
	events   map[string][]job.Event // by run
	logs     map[string][]byte      // by run/attempt
	conflict map[string]bool        // runs whose events are answered 409
	// logConflict: runs whose log chunks are answered 409 with an error,
	// as run history answers an attempt that is no longer the run's.
	logConflict map[string]bool
	failLogs    int // the next log posts answered 503
	log409s     int
	logPosts    int
	maxChunk    int
}

func newHistory() *history {
	h := &history{mux: http.NewServeMux(), events: map[string][]job.Event{}, logs: map[string][]byte{}, conflict: map[string]bool{},
		logConflict: map[string]bool{}}
	h.mux.HandleFunc("POST /history/v1.0/runs/{run}/events", h.event)
	h.mux.HandleFunc("POST /history/v1.0/runs/{run}/logs", h.log)
	return h
}

func (h *history) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		writeJSON(w, http.StatusUnauthorized, armerror.Envelope{Error: armerror.New("Unauthorized", "", "wrong token")})
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *history) event(w http.ResponseWriter, r *http.Request) {
	var ev job.Event
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		writeJSON(w, http.StatusBadRequest, armerror.Envelope{Error: armerror.New("BadRequest", "", "%v", err)})
		return
	}
	run := r.PathValue("run")
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conflict[run] {
		writeJSON(w, http.StatusConflict, armerror.Envelope{Error: armerror.New("AttemptSuperseded", "", "the run was canceled")})
		return
	}
	h.events[run] = append(h.events[run], ev)
	writeJSON(w, http.StatusOK, map[string]string{"status": ev.State})
}

func (h *history) log(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("run") + "/" + r.URL.Query().Get("attempt")
	off, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	body, rerr := io.ReadAll(r.Body)
	if err != nil || rerr != nil {
		writeJSON(w, http.StatusBadRequest, armerror.Envelope{Error: armerror.New("BadRequest", "", "bad offset")})
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logPosts++
	h.maxChunk = max(h.maxChunk, len(body))
	if h.logConflict[r.PathValue("run")] {
		writeJSON(w, http.StatusConflict, armerror.Envelope{Error: armerror.New("RunAttemptSuperseded", "attempt",
			"Attempt %s is no longer the run's: it was canceled, it ended, or the run was retried on another node. Stop the job.", r.URL.Query().Get("attempt"))})
		return
	}
	if h.failLogs > 0 {
		h.failLogs--
		writeJSON(w, http.StatusServiceUnavailable, armerror.Envelope{Error: armerror.New("ServiceUnavailable", "", "try again")})
		return
	}
	have := int64(len(h.logs[key]))
	if off > have {
		h.log409s++
		writeJSON(w, http.StatusConflict, map[string]int64{"length": have})
		return
	}
	if skip := have - off; skip < int64(len(body)) {
		h.logs[key] = append(h.logs[key], body[skip:]...)
	}
	writeJSON(w, http.StatusOK, map[string]int64{"length": int64(len(h.logs[key]))})
}

func (h *history) logOf(run string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.logs[run+"/1"])
}

func (h *history) eventsOf(run string) []job.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]job.Event(nil), h.events[run]...)
}

func (h *history) states(run string) []string {
	var s []string
	for _, ev := range h.eventsOf(run) {
		s = append(s, ev.State)
	}
	return s
}

// truncate makes run history lose the tail of a log, as a restarted
// server that had not kept it would.
func (h *history) truncate(run string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs[run+"/1"] = h.logs[run+"/1"][:n]
}

func (h *history) set(f func(h *history)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

// waitFor waits until cond holds, checking often, for at most within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
