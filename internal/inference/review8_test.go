package inference

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/userspace"
	"github.com/vnetml/vnetml/internal/replica"
)

// TestReview8RetryDuringRedeploy: an idempotent call retried on another
// replica while the service is updated (Upsert writes its spec) does not
// read the spec unlocked. Run with -race.
func TestReview8RetryDuringRedeploy(t *testing.T) {
	e := newEnv(t, goEcho, "")
	sp := spec("retryrace")
	sp.Fixed, sp.Retry = 2, true
	e.deploy(t, sp, api.ServiceHealthy)
	e.nodes.mu.Lock()
	for _, r := range e.nodes.replicas {
		r.stop() // one dies; its status still says Running
		break
	}
	e.nodes.mu.Unlock()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := e.ctl.Upsert(sp); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	c := e.client(t, admitted)
	for range 40 {
		if a := call(t, c, http.MethodPost, scoreURL("retryrace"), "", `{"i": 1}`); a.status != http.StatusOK {
			t.Errorf("call answered %d %+v", a.status, a.err)
		}
	}
	close(stop)
	wg.Wait()
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// TestReview8RetryNotOnTheFailedReplica: a round republishes every slot
// as a copy (ensure); the replica a call failed on is still excluded from
// its next try, not taken for another one.
func TestReview8RetryNotOnTheFailedReplica(t *testing.T) {
	mk := func(id, pod string) *slot {
		return &slot{id: id, pod: netip.MustParseAddr(pod), gen: 1, exposed: nopCloser{},
			status: replica.Status{State: replica.Running, Generation: 1}}
	}
	dead, live := mk("svc-0", "10.0.0.20"), mk("svc-1", "10.0.0.30")
	s := &service{slots: []*slot{dead, live}}
	// The first try failed on dead. (Before the fix, serveRetrying kept
	// map[*slot]bool{dead: true}, which the copies below escape.)
	tried := map[netip.Addr]bool{dead.pod: true}
	// A round ends meanwhile: the slots are copies now.
	cp0, cp1 := *dead, *live
	s.slots = []*slot{&cp0, &cp1}
	for range 4 {
		if sl := s.pickExcept(tried); sl == nil || sl.pod == dead.pod {
			t.Fatalf("the retry went to %+v, want the other replica %s", sl, live.pod)
		}
	}
}

// countingNodes counts the controller's rounds by its status requests.
type countingNodes struct {
	*fakeNodes
	status atomic.Int64
}

func (n *countingNodes) ReplicaStatus(ctx context.Context, cluster, node, id string) (replica.Status, error) {
	n.status.Add(1)
	return n.fakeNodes.ReplicaStatus(ctx, cluster, node, id)
}

// TestReview8WaitReadyRoundRate: callers of a service with no ready
// replica — unauthenticated ones too (swagger.json) — each ask for a
// round; under a flood the rounds (each a health probe and a status
// request per replica to its node) come at a bounded rate, not back to
// back.
func TestReview8WaitReadyRoundRate(t *testing.T) {
	fab := userspace.New(userspace.Options{})
	fab.Apply(testEngine(t))
	n := &countingNodes{fakeNodes: &fakeNodes{backend: neverReady, replicas: map[string]*fakeReplica{}}}
	ctl := New(Config{Fabric: fab, Nodes: n, Platform: &fakePlatform{given: map[string]netip.Addr{}}, Interval: time.Hour})
	t.Cleanup(func() {
		ctl.Close()
		n.stopAll()
		fab.Close()
	})
	e := &testEnv{fab: fab, ctl: ctl, nodes: n.fakeNodes}
	sp := spec("flooded")
	sp.Keys = []string{"k"}
	e.deploy(t, sp, api.ServiceTransitioning)
	c := e.client(t, admitted)
	before := n.status.Load()
	const flood = time.Second
	deadline := time.Now().Add(flood)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				resp, err := c.Get(swaggerURL("flooded"))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	rounds := n.status.Load() - before
	t.Logf("%d rounds in %v of calls", rounds, flood)
	if rounds > 20 {
		t.Errorf("%d rounds in %v: a flood of calls runs the service's rounds back to back", rounds, flood)
	}
}

// TestReview8FrontEndKeepsAnotherClustersName: cluster A served TLS
// as ml.contoso.com, was deleted (its front end stays), and cluster B
// took the name. When A is created again without TLS its old front end
// closes — and must not remove the name B now holds.
func TestReview8FrontEndKeepsAnotherClustersName(t *testing.T) {
	e := newEnv(t, goEcho, "")
	ca := newTestCA(t)
	cert, key := ca.leaf(t, "ml.contoso.com")
	a := spec("svca")
	a.TLS = &TLS{Host: "ml.contoso.com", Addr: publicFE, CertPEM: cert, KeyPEM: key}
	if err := e.ctl.Upsert(a); err != nil {
		t.Fatal(err)
	}
	e.ctl.Remove(context.Background(), a.ID) // cluster A deleted with its service

	b := spec("svcb")
	b.ClusterID = cluster + "b"
	b.FrontEnd = fabric.Endpoint{NIC: node1NIC, Addr: netip.MustParseAddr("10.0.0.5")}
	b.TLS = &TLS{Host: "ml.contoso.com", Addr: b.FrontEnd.Addr, CertPEM: cert, KeyPEM: key}
	if err := e.ctl.Upsert(b); err != nil {
		t.Fatal(err)
	}
	if got, ok := e.fab.Resolve("ml.contoso.com"); !ok || got != b.FrontEnd.Addr {
		t.Fatalf("ml.contoso.com resolves to %v %v, want cluster B's %v", got, ok, b.FrontEnd.Addr)
	}
	a2 := spec("svca2") // cluster A again, without TLS
	if err := e.ctl.Upsert(a2); err != nil {
		t.Fatal(err)
	}
	if got, ok := e.fab.Resolve("ml.contoso.com"); !ok || got != b.FrontEnd.Addr {
		t.Errorf("after cluster A's old front end closed, ml.contoso.com resolves to %v %v, want cluster B's %v", got, ok, b.FrontEnd.Addr)
	}
}
