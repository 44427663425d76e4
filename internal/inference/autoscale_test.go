package inference

import (
	"testing"
	"time"
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
