package inference

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/api"
)

// TestRetryIdempotent: one of two replicas dies without the controller
// knowing yet (its listener is gone; its status still says Running). A
// service whose calls are idempotent answers every call from the other;
// one that did not say so answers the calls routed to the dead one 502.
func TestRetryIdempotent(t *testing.T) {
	for _, retry := range []bool{true, false} {
		name := map[bool]string{true: "retried", false: "notretried"}[retry]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, goEcho, "")
			sp := spec(name)
			sp.Fixed, sp.Retry = 2, retry
			st := e.deploy(t, sp, api.ServiceHealthy)
			if len(st.Replicas) != 2 {
				t.Fatalf("replicas %+v, want 2", st.Replicas)
			}
			e.nodes.mu.Lock()
			for _, r := range e.nodes.replicas {
				r.stop() // the first one dies
				break
			}
			e.nodes.mu.Unlock()
			c := e.client(t, admitted)
			codes := map[int]int{}
			for range 6 {
				a := call(t, c, http.MethodPost, scoreURL(name), "", `{"i": 1}`)
				codes[a.status]++
				if a.status == http.StatusBadGateway && a.err.Code != "ReplicaUnreachable" {
					t.Errorf("502 with %+v, want ReplicaUnreachable", a.err)
				}
			}
			switch {
			case retry && codes[http.StatusOK] != 6:
				t.Errorf("answers %v, want every call answered 200 by the live replica", codes)
			case !retry && (codes[http.StatusBadGateway] == 0 || codes[http.StatusOK] == 0):
				t.Errorf("answers %v, want the calls to the dead replica 502 and the others 200", codes)
			}
		})
	}
}

// TestRemoveCluster: a deleted inference cluster's front end stops — a
// call to it finds nothing listening — and comes back with the next
// deployment to the cluster created again.
func TestRemoveCluster(t *testing.T) {
	e := newEnv(t, goEcho, "")
	sp := spec("gone")
	e.deploy(t, sp, api.ServiceHealthy)
	c := e.client(t, admitted)
	if a := call(t, c, http.MethodPost, scoreURL("gone"), "", `{}`); a.status != http.StatusOK {
		t.Fatalf("before: %d %s", a.status, a.body)
	}
	e.ctl.RemoveCluster(sp.ClusterID)
	c.CloseIdleConnections()
	if _, err := c.Post(scoreURL("gone"), "application/json", strings.NewReader(`{}`)); err == nil {
		t.Fatal("the front end of a deleted cluster still answers")
	}
	sp.Generation++
	e.deploy(t, sp, api.ServiceHealthy)
	if a := call(t, c, http.MethodPost, scoreURL("gone"), "", `{}`); a.status != http.StatusOK {
		t.Fatalf("after the cluster came back: %d %s", a.status, a.body)
	}
}
