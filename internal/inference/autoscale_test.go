package inference

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
)

// TestAutoscale follows the desired replicas through busy, idle and
// saturated periods: one more above the target utilization, one fewer
// below half of it (an idle period included), within min and max, at most
// once per refresh.
func TestAutoscale(t *testing.T) {
	s := &service{sp: Spec{Min: 1, Max: 3, TargetUtilization: 70, Refresh: time.Second, Workers: 2}, desired: 1}
	load := func(inflight float64, slots int) {
		s.slots = make([]*slot, slots)
		s.busySum, s.busyN = inflight*10, 10
		s.lastScale = time.Now().Add(-2 * time.Second)
	}
	steps := []struct {
		name     string
		inflight float64 // requests in flight on average
		want     int
	}{
		{"busy: 2 of 2 workers", 2, 2},
		{"still busy: 4 of 4", 4, 3},
		{"saturated at max", 6, 3},
		{"moderate: 3 of 6 (50%)", 3, 3},
		{"quiet: 1 of 6", 1, 2},
	}
	for _, st := range steps {
		load(st.inflight, s.desired)
		s.autoscale()
		if s.desired != st.want {
			t.Fatalf("%s: desired %d, want %d", st.name, s.desired, st.want)
		}
	}
	// No call at all since the last change: down to the minimum, one
	// step per refresh.
	for range 3 {
		s.busySum, s.busyN, s.lastScale = 0, 0, time.Now().Add(-2*time.Second)
		s.autoscale()
	}
	if s.desired != 1 {
		t.Fatalf("idle: desired %d, want the minimum 1", s.desired)
	}
	// Within the refresh nothing changes.
	load(4, 1)
	s.lastScale = time.Now()
	s.autoscale()
	if s.desired != 1 {
		t.Fatalf("within the refresh: desired %d, want 1", s.desired)
	}
	// Fixed replicas ignore load.
	f := &service{sp: Spec{Fixed: 2}, desired: 2}
	f.busySum, f.busyN = 100, 1
	f.autoscale()
	if f.desired != 2 {
		t.Fatalf("fixed: desired %d", f.desired)
	}
}

// slowEntry is a scoring script whose run() takes a while, so that
// concurrent callers keep its one worker busy.
const slowEntry = `import time


def init():
    pass


def run(raw_data):
    time.sleep(0.05)
    return "ok"
`

// TestAutoscaleUnderLoad: an autoscaled service of real Python replicas
// (one worker each) under four callers at once grows to its maximum, one
// replica per refresh; once the callers stop it shrinks back to its
// minimum. Every call is answered meanwhile, replicas coming and going.
func TestAutoscaleUnderLoad(t *testing.T) {
	if err := havePython(); err != nil {
		t.Skip(err)
	}
	e := newEnv(t, pythonScore, slowEntry)
	sp := spec("elastic")
	sp.Fixed, sp.Min, sp.Max, sp.TargetUtilization, sp.Refresh = 0, 1, 3, 50, time.Second
	e.deploy(t, sp, api.ServiceHealthy)
	c := e.client(t, admitted)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, failed atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				a := call(t, c, http.MethodPost, scoreURL("elastic"), "", `{"data": 1}`)
				calls.Add(1)
				if a.status != http.StatusOK {
					failed.Add(1)
					t.Logf("a call under load: %d %s", a.status, a.body)
				}
			}
		})
	}
	replicas := func() int {
		st, _ := e.ctl.Status(sp.ID)
		return len(st.Replicas)
	}
	// Rounds run when the test asks: one after another, until the
	// service reaches its maximum (each step waits for the refresh).
	waitReplicas := func(want int, what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for replicas() != want {
			if ctx.Err() != nil {
				t.Fatalf("%s: %d replicas after 60s, want %d", what, replicas(), want)
			}
			e.ctl.Settled(ctx, sp.ID)
		}
	}
	waitReplicas(3, "under load")
	close(stop)
	wg.Wait()
	waitReplicas(1, "idle")
	if calls.Load() == 0 || failed.Load() != 0 {
		t.Errorf("%d calls, %d not answered 200; want every call answered", calls.Load(), failed.Load())
	}
}
