package runs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/nodeagent"
	"github.com/vnetml/vnetml/internal/pki"
	"github.com/vnetml/vnetml/internal/storageauth"
	"github.com/vnetml/vnetml/internal/store"
	"github.com/vnetml/vnetml/internal/store/sqlite"
)

// The review's regression tests drive a Service that is not started: the
// test calls schedule and poll itself, with fake nodes whose answers it
// controls, so that each interleaving is reached on purpose.

const (
	r7Workspace = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
	r7Cluster   = r7Workspace + "/computes/c1"
)

// r7Nodes is a compute controller whose nodes the test hands out.
type r7Nodes struct {
	mu        sync.Mutex
	idle      []compute.NodeRef
	owner     map[string]string // node → run key
	demand    map[string]int    // the last demand told, by lower-cased cluster id
	gone      map[string]bool   // clusters not running, by lower-cased id
	submitted map[string]string // node → run id it took
	canceled  map[string]bool   // run ids stopped on their node
	// gate, when set, holds SubmitJob until it is closed (or ctx ends);
	// entered is signalled as a SubmitJob starts waiting on it.
	gate    chan struct{}
	entered chan struct{}
	// submitErr is what SubmitJob answers once through the gate.
	submitErr error
	status    func(nodeID, runID string) (job.Status, error)
	// onDemand, when set, runs in Demand before it is recorded.
	onDemand func(n int)
	lost     func(clusterID, nodeID, runID, reason string)
}

func newR7Nodes(nodes ...string) *r7Nodes {
	f := &r7Nodes{owner: map[string]string{}, demand: map[string]int{}, gone: map[string]bool{},
		submitted: map[string]string{}, canceled: map[string]bool{}}
	for i, id := range nodes {
		f.idle = append(f.idle, compute.NodeRef{ID: id, NIC: "nic-" + id, Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(4 + i)})})
	}
	return f
}

func (f *r7Nodes) Claim(clusterID, runID string) (compute.NodeRef, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.idle) == 0 {
		return compute.NodeRef{}, false
	}
	n := f.idle[0]
	f.idle = f.idle[1:]
	f.owner[n.ID] = runID
	return n, true
}

func (f *r7Nodes) ClaimNode(clusterID, nodeID, runID string) (compute.NodeRef, bool) {
	return compute.NodeRef{}, false
}

func (f *r7Nodes) Release(clusterID, nodeID, runID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.owner[nodeID] == runID {
		delete(f.owner, nodeID)
	}
}

func (f *r7Nodes) Demand(clusterID string, n int) {
	f.mu.Lock()
	hook := f.onDemand
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	f.mu.Lock()
	f.demand[strings.ToLower(clusterID)] = n
	f.mu.Unlock()
}

func (f *r7Nodes) SubmitJob(ctx context.Context, clusterID, nodeID string, spec job.Spec) (job.Status, error) {
	f.mu.Lock()
	gate, entered := f.gate, f.entered
	f.mu.Unlock()
	if gate != nil {
		if entered != nil {
			entered <- struct{}{}
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return job.Status{}, ctx.Err()
		}
	}
	f.mu.Lock()
	if err := f.submitErr; err != nil {
		f.mu.Unlock()
		return job.Status{}, err
	}
	f.submitted[nodeID] = spec.RunID
	f.mu.Unlock()
	return job.Status{RunID: spec.RunID, Attempt: spec.Attempt, State: job.Preparing}, nil
}

func (f *r7Nodes) JobStatus(ctx context.Context, clusterID, nodeID, runID string) (job.Status, error) {
	f.mu.Lock()
	status := f.status
	f.mu.Unlock()
	if status != nil {
		return status(nodeID, runID)
	}
	return job.Status{}, &nodeagent.StatusError{Port: compute.PortControl, StatusCode: 404}
}

func (f *r7Nodes) CancelJob(ctx context.Context, clusterID, nodeID, runID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.submitted[nodeID] != runID {
		return &nodeagent.StatusError{Port: compute.PortControl, StatusCode: 404}
	}
	f.canceled[runID] = true
	return nil
}

func (f *r7Nodes) RebindJob(ctx context.Context, clusterID, nodeID, runID, proxy string) error {
	return nil
}

func (f *r7Nodes) OnNodeLost(fn func(clusterID, nodeID, runID, reason string)) { f.lost = fn }
func (f *r7Nodes) OnNodeIdle(func(clusterID string))                           {}

func (f *r7Nodes) Running(clusterID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.gone[strings.ToLower(clusterID)]
}

func (f *r7Nodes) demandOf(clusterID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.demand[strings.ToLower(clusterID)]
}

// r7Platform answers every question of the control plane favourably.
type r7Platform struct{}

func (r7Platform) Target(ctx context.Context, workspaceID, name string) (Target, error) {
	return Target{ClusterID: workspaceID + "/computes/" + name, Location: "eastus"}, nil
}

func (r7Platform) Datastore(ctx context.Context, workspaceID, name string) (Datastore, error) {
	return Datastore{Name: name, File: name == DatastoreFile, AccountID: "acct", AccountName: "acct", Container: "c"}, nil
}

func (r7Platform) BlobSize(ctx context.Context, ds Datastore, name string) (int64, bool, error) {
	return 1, true, nil
}

func (r7Platform) EnsureContainer(ctx context.Context, ds Datastore) error { return nil }

func (r7Platform) SAS(ctx context.Context, ds Datastore, name string, perms storageauth.Permission, expiry time.Time) (string, error) {
	return "https://acct.blob.core.windows.net/c/" + name + "?sig=x", nil
}

func (r7Platform) Secret(ctx context.Context, workspaceID, name string) (string, error) {
	return "", errors.New("no secrets here")
}

func (r7Platform) Explain(src fabric.Endpoint, dst netip.AddrPort) string { return "" }

func (r7Platform) HistoryAddr(location string) (netip.Addr, bool) {
	return netip.MustParseAddr("198.18.0.1"), true
}

// r7Fabric listens on loopback; nothing else of it is used.
type r7Fabric struct{ fabric.Fabric }

func (r7Fabric) Listen(ctx context.Context, ep fabric.Endpoint, port uint16) (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}
func (r7Fabric) EgressProxy(ep fabric.Endpoint) (string, error) { return "", nil }
func (r7Fabric) SetName(name string, addr netip.Addr)           {}

// r7Clock is a clock the test moves.
type r7Clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *r7Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *r7Clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type r7Env struct {
	t     *testing.T
	s     *Service
	nodes *r7Nodes
	clock *r7Clock
	st    store.Store
	dir   string
}

func newR7(t *testing.T, nodes *r7Nodes) *r7Env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	clock := &r7Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s, err := New(Config{Store: st, Dir: filepath.Join(dir, "runs"), Fabric: r7Fabric{}, Nodes: nodes, Platform: r7Platform{},
		CA: ca, PollInterval: time.Second, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		st.Close()
	})
	return &r7Env{t: t, s: s, nodes: nodes, clock: clock, st: st, dir: dir}
}

// submit submits a run of a command to cluster c1 and returns its id.
func (e *r7Env) submit(runID string, maxRetries int) string {
	e.t.Helper()
	v, err := e.s.Submit(context.Background(), Submission{WorkspaceID: r7Workspace, Experiment: "e", RunID: runID, Run: api.Run{Properties: api.RunProperties{
		Command: []string{"sh", "-c", "true"}, Target: "c1", SourceDirectoryDataStore: DatastoreBlob, SnapshotID: snap, MaxRetries: maxRetries}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return v.ID
}

// dispatch schedules the queued runs and waits for their hand-overs.
func (e *r7Env) dispatch() {
	e.s.schedule()
	e.s.wg.Wait()
}

func (e *r7Env) run(id string) api.Run {
	e.t.Helper()
	v, err := e.s.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *r7Env) active(id string) *run {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return e.s.active[strings.ToLower(id)]
}

func (e *r7Env) queued(id string) int {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	n := 0
	for _, q := range e.s.queues {
		for _, r := range q {
			if r.key == strings.ToLower(id) {
				n++
			}
		}
	}
	return n
}

func (e *r7Env) log(id string) string {
	e.t.Helper()
	lr, err := e.s.Logs(context.Background(), id, 0, false)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := io.ReadAll(lr)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// TestReview7NodeLostTwiceQueuesOnce: a poll that found the node gone and
// the controller's OnNodeLost both end the same attempt. The second used
// to pass finish's check (same attempt, not terminal: it was Queued for
// its retry) and queued the run a second time — two nodes claimed for it,
// two dispatches racing over one record — and wrote a second "Node lost".
func TestReview7NodeLostTwiceQueuesOnce(t *testing.T) {
	e := newR7(t, newR7Nodes("n1"))
	id := e.submit("twice", 2)
	e.dispatch()
	if got := e.run(id).Properties; got.Status != job.Preparing || got.NodeID != "n1" {
		t.Fatalf("run %s on %q, want Preparing on n1", got.Status, got.NodeID)
	}
	r := e.active(id)
	e.s.lose(r, 1, "node n1 is no longer in the cluster")    // the poll's view
	e.s.lose(r, 1, "node n1 went away during the run: gone") // OnNodeLost, a moment later
	if n := e.queued(id); n != 1 {
		t.Errorf("the run is queued %d times, want once", n)
	}
	if got := e.run(id).Properties; got.Status != job.Queued || got.Attempt != 1 {
		t.Errorf("run %s at attempt %d, want Queued after attempt 1", got.Status, got.Attempt)
	}
	if n := strings.Count(e.log(id), "Node lost"); n != 1 {
		t.Errorf("the log says %d times that the node was lost, want once:\n%s", n, e.log(id))
	}
}

// TestReview7HandoverFailingAfterNodeLost: the node is lost while it is
// being handed the attempt, and the run is queued for its retry; then the
// hand-over fails (the node is gone). dispatch used to end the attempt as
// failed ("!r.claimed" gave up) — and finish took it: the run went Failed
// while it was still in the queue, and was dispatched again, terminal.
func TestReview7HandoverFailingAfterNodeLost(t *testing.T) {
	nodes := newR7Nodes("n1")
	nodes.gate, nodes.entered = make(chan struct{}), make(chan struct{}, 1)
	e := newR7(t, nodes)
	id := e.submit("lost_in_handover", 1)
	e.s.schedule()
	<-nodes.entered
	e.s.nodeLost(r7Cluster, "n1", strings.ToLower(id), "its agent exited")
	if got := e.run(id).Properties; got.Status != job.Queued {
		t.Fatalf("after the node was lost: %s, want Queued for the retry", got.Status)
	}
	// The hand-over to the lost node fails.
	nodes.mu.Lock()
	nodes.submitErr = fmt.Errorf("compute c1 has no node n1: %w", compute.ErrNoNode)
	nodes.mu.Unlock()
	close(nodes.gate)
	e.s.wg.Wait()
	if got := e.run(id).Properties; got.Status != job.Queued || e.queued(id) != 1 {
		t.Fatalf("after the failed hand-over: %s (%+v), queued %d times; want Queued once", got.Status, got.Error, e.queued(id))
	}
}

// TestReview7CancelBeforeDispatchNumberedTheAttempt: Cancel came after
// schedule claimed a node for the run, before dispatch numbered the
// attempt. It asked the node to stop a job it did not have (404), then
// ended attempt 0 — which finish ignored, as the run's attempt was 1 by
// then. The node took the job and ran it: the cancel was lost.
func TestReview7CancelBeforeDispatchNumberedTheAttempt(t *testing.T) {
	nodes := newR7Nodes("n1")
	e := newR7(t, nodes)
	id := e.submit("cancel_early", 0)
	// schedule's claim, without its dispatch yet.
	e.s.mu.Lock()
	r := e.s.active[strings.ToLower(id)]
	n, _ := nodes.Claim(r7Cluster, r.key)
	e.s.dequeue(r)
	r.node, r.claimed = n, true
	e.s.mu.Unlock()
	if _, err := e.s.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	e.s.wg.Add(1)
	go func() {
		defer e.s.wg.Done()
		e.s.dispatch(r, n)
	}()
	e.s.wg.Wait()
	nodes.mu.Lock()
	took, stopped, owner := nodes.submitted["n1"] == "cancel_early", nodes.canceled["cancel_early"], nodes.owner["n1"]
	nodes.mu.Unlock()
	if took && !stopped {
		t.Fatalf("the node took the job after Cancel, and was never told to stop it; the run is %s", e.run(id).Properties.Status)
	}
	if got := e.run(id).Properties.Status; got != job.Canceled || owner != "" {
		t.Fatalf("run %s, node n1 held by %q; want Canceled, the node free", got, owner)
	}
}

// TestReview7CancelDuringHandover: Cancel came while the node was being
// handed the attempt. It asked the node to stop a job it did not have yet
// (404), ended the run, and gave the node back — while the node was
// taking the job: another run could be handed the busy node, and the job
// ran until its next report.
func TestReview7CancelDuringHandover(t *testing.T) {
	nodes := newR7Nodes("n1")
	nodes.gate, nodes.entered = make(chan struct{}), make(chan struct{}, 1)
	e := newR7(t, nodes)
	id := e.submit("cancel_race", 0)
	e.s.schedule()
	<-nodes.entered
	if _, err := e.s.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	nodes.mu.Lock()
	owner := nodes.owner["n1"]
	nodes.mu.Unlock()
	if owner == "" {
		t.Errorf("Cancel gave node n1 back while it was being handed the job")
	}
	close(nodes.gate)
	e.s.wg.Wait()
	nodes.mu.Lock()
	took, stopped := nodes.submitted["n1"] == "cancel_race", nodes.canceled["cancel_race"]
	nodes.mu.Unlock()
	if took && !stopped {
		t.Fatalf("the node took the job after Cancel, and was never told to stop it; the run is %s", e.run(id).Properties.Status)
	}
	// The node stops it and says so.
	e.s.report(strings.ToLower(id), job.Event{Attempt: 1, State: job.Canceled, Error: &job.Error{Code: job.CodeCanceled, Message: "canceled"}})
	if got := e.run(id).Properties.Status; got != job.Canceled {
		t.Fatalf("run %s, want Canceled", got)
	}
}

// TestReview7FollowEndsWhenRunEndsMidRead: LogReader.Read read "active",
// then took the change channel. A run that ended in between had notified
// the old channel already: the reader waited on a new one that nothing
// would ever close, and `logs --follow` hung until the client gave up.
func TestReview7FollowEndsWhenRunEndsMidRead(t *testing.T) {
	e := newR7(t, newR7Nodes("n1"))
	id := e.submit("follow", 0)
	e.dispatch()
	key := strings.ToLower(id)
	var once sync.Once
	testHookLogActive = func() {
		once.Do(func() { e.s.report(key, job.Event{Attempt: 1, State: job.Completed}) })
	}
	t.Cleanup(func() { testHookLogActive = nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lr, err := e.s.Logs(ctx, id, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(lr); err != nil {
		t.Fatalf("following the log of a run that ended: %v, want its end", err)
	}
}

// TestReview7DemandEndsAtZero: runs ending together (or one ending while
// schedule counted) each counted the cluster's runs under the lock and
// told the count after letting go of it, so a count told late could
// overwrite a later, lower one; and schedule told only the clusters that
// still had runs. A cluster could keep a demand of 1 with no run left, and
// never scale down. The counts are now told in order, and every tick tells
// each cluster its count, 0 included.
func TestReview7DemandEndsAtZero(t *testing.T) {
	nodes := newR7Nodes("n1", "n2")
	e := newR7(t, nodes)
	a, b := e.submit("a", 0), e.submit("b", 0)
	e.dispatch()
	if got := nodes.demandOf(r7Cluster); got != 2 {
		t.Fatalf("demand %d with 2 runs", got)
	}
	var wg sync.WaitGroup
	for _, id := range []string{a, b} {
		wg.Go(func() { e.s.report(strings.ToLower(id), job.Event{Attempt: 1, State: job.Completed}) })
	}
	wg.Wait()
	if got := nodes.demandOf(r7Cluster); got != 0 {
		t.Fatalf("both runs ended, and the cluster's demand is %d", got)
	}
	// The count a racing caller told late, as the old code could.
	nodes.Demand(r7Cluster, 1)
	e.s.schedule() // the next tick
	if got := nodes.demandOf(r7Cluster); got != 0 {
		t.Fatalf("no run is left, and after a tick the cluster's demand is still %d", got)
	}
}

// TestReview7CloseDoesNotWaitForHandovers: Close waited for every
// hand-over in flight, each bounded only by its own 30 s timeout, and the
// run then failed its hand-over because the server was stopping.
func TestReview7CloseDoesNotWaitForHandovers(t *testing.T) {
	nodes := newR7Nodes("n1")
	nodes.gate, nodes.entered = make(chan struct{}), make(chan struct{}, 1) // never opened
	e := newR7(t, nodes)
	id := e.submit("slow_node", 0)
	e.s.schedule()
	<-nodes.entered
	closed := make(chan struct{})
	go func() {
		e.s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a node that does not answer")
	}
	res, err := e.st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := decodeRecord(res.Doc)
	if err != nil {
		t.Fatal(err)
	}
	if p := rec.Properties; p.Status != job.Queued || p.Error != nil || rec.Internal.Handovers != 0 {
		t.Errorf("stored as %s (%+v, %d failed hand-overs), want Queued for the next server, no hand-over counted", p.Status, p.Error, rec.Internal.Handovers)
	}
}

// TestReview7QueuedForDeletedComputeFails: a run queued for a compute that
// was deleted (or whose runs were retried as its nodes went with it) used
// to stay Queued forever: Claim never finds a node of a cluster that does
// not run.
func TestReview7QueuedForDeletedComputeFails(t *testing.T) {
	nodes := newR7Nodes() // no node idle
	e := newR7(t, nodes)
	id := e.submit("orphan", 0)
	e.s.schedule()
	if got := e.run(id).Properties.Status; got != job.Queued {
		t.Fatalf("run %s, want Queued", got)
	}
	nodes.mu.Lock()
	nodes.gone[strings.ToLower(r7Cluster)] = true
	nodes.mu.Unlock()
	e.s.schedule()
	if got := e.run(id).Properties.Status; got != job.Queued {
		t.Fatalf("run %s at once, want Queued during the grace", got)
	}
	e.clock.add(orphanGrace)
	e.s.schedule()
	p := e.run(id).Properties
	if p.Status != job.Failed || p.Error == nil || !strings.Contains(p.Error.Message, "c1") || !strings.Contains(p.Error.Message, "Submit it again") {
		t.Fatalf("run %s (%+v), want Failed naming the compute and what to do", p.Status, p.Error)
	}
	if got := nodes.demandOf(r7Cluster); got != 0 {
		t.Errorf("demand %d with no run left", got)
	}
}

// TestReview7DeleteWorkspaceForgetsItsRuns: DeleteWorkspace deleted the
// stored runs but left the unfinished ones in memory: still shown by Get,
// still queued (for a compute of the same name, should one come back).
func TestReview7DeleteWorkspaceForgetsItsRuns(t *testing.T) {
	e := newR7(t, newR7Nodes())
	id := e.submit("doomed", 0)
	if err := e.s.DeleteWorkspace(context.Background(), r7Workspace); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Get(context.Background(), id); !store.IsNotFound(err) && !strings.Contains(fmt.Sprint(err), "was not found") {
		t.Fatalf("Get of a run of a deleted workspace: %v, want not found", err)
	}
	if n := e.queued(id); n != 0 {
		t.Errorf("the run of a deleted workspace is still queued (%d)", n)
	}
}

// TestReview7NodeLostAfterCloseIsIgnored: the server stops its runs before
// its nodes; a node going away in between used to fail (and store) the
// run, which the next server would have found again.
func TestReview7NodeLostAfterCloseIsIgnored(t *testing.T) {
	e := newR7(t, newR7Nodes("n1"))
	id := e.submit("survivor", 0)
	e.dispatch()
	e.s.Close()
	e.s.nodeLost(r7Cluster, "n1", strings.ToLower(id), "its agent exited")
	res, err := e.st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := decodeRecord(res.Doc)
	if p := rec.Properties; p.Status != job.Preparing {
		t.Fatalf("stored as %s (%+v) after the server closed, want Preparing for the next server", p.Status, p.Error)
	}
}

// TestReview7UnreportedGraceIsPerAttempt: a poll that found attempt 1 over
// on its node (unreported yet) started the report grace; the node was then
// lost and the run retried. The grace's start was kept: the first poll of
// attempt 2 over on its node found the grace long past and failed the run
// before the node had a chance to report it.
func TestReview7UnreportedGraceIsPerAttempt(t *testing.T) {
	nodes := newR7Nodes("n1", "n2")
	e := newR7(t, nodes)
	id := e.submit("grace", 1)
	e.dispatch()
	nodes.mu.Lock()
	nodes.status = func(nodeID, runID string) (job.Status, error) {
		a := 1
		if nodeID == "n2" {
			a = 2
		}
		return job.Status{RunID: runID, Attempt: a, State: job.Completed}, nil
	}
	nodes.mu.Unlock()
	e.s.poll() // attempt 1 over, unreported: the grace starts
	e.clock.add(reportGrace + time.Second)
	e.s.nodeLost(r7Cluster, "n1", strings.ToLower(id), "its agent exited")
	e.dispatch()
	if p := e.run(id).Properties; p.Attempt != 2 || p.NodeID != "n2" {
		t.Fatalf("attempt %d on %s, want attempt 2 on n2", p.Attempt, p.NodeID)
	}
	e.s.poll() // attempt 2 over, unreported: its grace starts now
	if p := e.run(id).Properties; job.Terminal(p.Status) {
		t.Fatalf("attempt 2 ended at its first poll: %s (%+v), want the report grace first", p.Status, p.Error)
	}
}

// TestReview7TornMetricsLineDoesNotEatTheNextBatch: a crash while a batch
// was written leaves a torn last line (never acknowledged); the next
// batch was appended to it, one unreadable line — acknowledged, and lost.
func TestReview7TornMetricsLineDoesNotEatTheNextBatch(t *testing.T) {
	f := newFiles(t.TempDir())
	const key = "run"
	if err := f.addMetrics(key, job.MetricBatch{BatchID: "b1", Metrics: []job.Metric{{Name: "loss", Value: 1.0}}}); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(f.dirOf(key), metricsName)
	fh, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString(`{"batchId":"b2","metrics":[{"na`) // the crash
	fh.Close()
	f = newFiles(f.dir) // the restarted server
	if err := f.addMetrics(key, job.MetricBatch{BatchID: "b2", Metrics: []job.Metric{{Name: "loss", Value: 0.5}}}); err != nil {
		t.Fatal(err)
	}
	m, err := f.metrics(key)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[1].Value != 0.5 {
		t.Fatalf("metrics %+v, want both batches", m)
	}
}

// TestReview7ValidateNamesTheElement: a NUL byte in a command was blamed
// on properties.arguments (which the run did not have), once per bad
// element; a command of any length was taken; "." passed as a script
// (python3 cannot run a directory) and a script named "..data.py" was
// refused as leaving the source directory.
func TestReview7ValidateNamesTheElement(t *testing.T) {
	targets := func(err error) []string {
		e, ok := armerror.As(err)
		if !ok {
			return nil
		}
		if len(e.Details) == 0 {
			return []string{e.Target}
		}
		var out []string
		for _, d := range e.Details {
			out = append(out, d.Target)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		p    api.RunProperties
		want []string // nil: valid
	}{
		{"NUL in command", api.RunProperties{Command: []string{"sh", "a\x00b"}}, []string{"properties.command[1]"}},
		{"NUL in arguments", api.RunProperties{Script: "t.py", Arguments: []string{"x", "y", "\x00"}}, []string{"properties.arguments[2]"}},
		{"long command", api.RunProperties{Command: make([]string, maxArgs+1)}, []string{"properties.command"}},
		{"dot script", api.RunProperties{Script: "."}, []string{"properties.script"}},
		{"dot-dot name", api.RunProperties{Script: "..data.py"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := api.Run{Properties: tc.p}
			in.Properties.Target, in.Properties.SnapshotID = "c1", snap
			if tc.name == "long command" {
				in.Properties.Command[0] = "true"
			}
			err := validate("e", "r", &in)
			got := targets(err)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("targets %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

// TestReview7StaleNodeOfARetriedHandover: a hand-over that failed (say it
// timed out while the node was taking the job) is retried with the same
// attempt number, and the same token, on another node. Run history took
// the first node's events as the run's: its Completed ended the run while
// the second node ran it.
func TestReview7StaleNodeOfARetriedHandover(t *testing.T) {
	nodes := newR7Nodes("n1", "n2")
	e := newR7(t, nodes)
	id := e.submit("stale_node", 0)
	nodes.submitErr = errors.New("context deadline exceeded") // n1 took it, but the answer was lost
	e.dispatch()
	nodes.mu.Lock()
	nodes.submitErr = nil
	nodes.mu.Unlock()
	e.dispatch()
	if p := e.run(id).Properties; p.Attempt != 1 || p.NodeID != "n2" {
		t.Fatalf("attempt %d on %s, want attempt 1 on n2", p.Attempt, p.NodeID)
	}
	h := httptest.NewServer(e.s.HistoryHandler())
	defer h.Close()
	body := `{"attempt": 1, "state": "Completed", "nodeId": "n1", "time": "2026-01-02T03:04:05Z"}`
	req, _ := http.NewRequest(http.MethodPost, h.URL+historyPrefix+id+"/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.s.token(strings.ToLower(id), 1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("node n1's event answered %d, want 409 (the attempt is n2's)", resp.StatusCode)
	}
	if p := e.run(id).Properties; p.Status != job.Preparing {
		t.Fatalf("run %s after node n1's report, want still Preparing on n2", p.Status)
	}
}
