package runs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vnetml/vnetml/internal/job"
)

// TestAppendLogNeverLosesNorDoubles sends an attempt's log in random
// chunks, each possibly repeated, reordered or resent from a stale
// offset, as a node retrying across failures does, and checks the log
// holds every byte once, in order — against the plain concatenation.
func TestAppendLogNeverLosesNorDoubles(t *testing.T) {
	for seed := range uint64(50) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			f := newFiles(t.TempDir())
			const key = "run"
			// Attempt 1 wrote something before; attempt 2 starts after it.
			base, err := f.appendRaw(key, []byte("attempt 1's log\n"))
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, 1+rng.IntN(5000))
			for i := range want {
				want[i] = byte('a' + rng.IntN(26))
			}
			var acked int64 // what the server acknowledged
			for acked < int64(len(want)) {
				// The node resends from anywhere it may believe is the
				// end: the acknowledged length, or before it (a retry),
				// or past it (a chunk whose predecessor was lost).
				off := acked + int64(rng.IntN(40)) - 20
				off = max(0, min(off, int64(len(want))))
				end := min(int64(len(want)), off+int64(1+rng.IntN(300)))
				length, gap, err := f.appendLog(key, base, off, want[off:end])
				if err != nil {
					t.Fatal(err)
				}
				if gap != (off > acked) {
					t.Fatalf("offset %d with %d acknowledged: gap %v", off, acked, gap)
				}
				if length < acked {
					t.Fatalf("length went back from %d to %d", acked, length)
				}
				acked = length
			}
			got := make([]byte, 2*len(want)+100)
			n, err := f.readLog(key, got, base)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:n], want) {
				t.Fatalf("the log differs from what was sent:\n got %q\nwant %q", got[:n], want)
			}
		})
	}
}

func TestMetricsBatchesOnce(t *testing.T) {
	f := newFiles(t.TempDir())
	one := int64(1)
	b := job.MetricBatch{BatchID: "b1", Metrics: []job.Metric{{Name: "accuracy", Value: 0.5, Step: &one}}}
	for range 3 {
		if err := f.addMetrics("r", b); err != nil {
			t.Fatal(err)
		}
	}
	// A restarted server (no memory) still knows the batch.
	f2 := newFiles(f.dir)
	if err := f2.addMetrics("r", b); err != nil {
		t.Fatal(err)
	}
	if err := f2.addMetrics("r", job.MetricBatch{BatchID: "b2", Metrics: []job.Metric{{Name: "loss", Value: 2.0}}}); err != nil {
		t.Fatal(err)
	}
	m, err := f2.metrics("r")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[0].Name != "accuracy" || m[1].Name != "loss" {
		t.Fatalf("metrics %+v, want accuracy then loss once each", m)
	}
}

func TestTokens(t *testing.T) {
	s := &Service{key: bytes.Repeat([]byte{7}, 32)}
	tok := s.token("/subscriptions/s/x/runs/r", 2)
	if a, ok := s.checkToken("/subscriptions/s/x/runs/r", tok); !ok || a != 2 {
		t.Fatalf("own token: attempt %d ok %v", a, ok)
	}
	for _, bad := range []string{"", "2", "2.", "x." + tok[2:], "3" + tok[1:], tok[:len(tok)-1] + "0", "0" + tok[1:]} {
		if bad == tok {
			continue
		}
		if _, ok := s.checkToken("/subscriptions/s/x/runs/r", bad); ok {
			t.Errorf("token %q accepted", bad)
		}
	}
	if _, ok := s.checkToken("/subscriptions/s/x/runs/other", tok); ok {
		t.Error("a token of another run accepted")
	}
}

func TestSplitHistoryPath(t *testing.T) {
	ws := "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
	tests := []struct {
		path, id, op string
		ok           bool
	}{
		{historyPrefix + ws + "/experiments/e/runs/r/events", ws + "/experiments/e/runs/r", "events", true},
		{historyPrefix + ws + "/experiments/runs/runs/r/secrets/a-b", ws + "/experiments/runs/runs/r", "secrets/a-b", true},
		{historyPrefix + ws + "/experiments/e/runs/r", "", "", false},
		{historyPrefix + ws + "/experiments//runs/r/events", "", "", false},
		{"/history/v2.0" + ws + "/experiments/e/runs/r/events", "", "", false},
		{historyPrefix + "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/workspaces/w/experiments/e/runs/r/logs", "", "", false},
	}
	for _, tc := range tests {
		id, op, ok := splitHistoryPath(tc.path)
		if ok != tc.ok || id != tc.id || op != tc.op {
			t.Errorf("%s: (%q, %q, %v), want (%q, %q, %v)", tc.path, id, op, ok, tc.id, tc.op, tc.ok)
		}
	}
}

func FuzzSplitHistoryPath(f *testing.F) {
	f.Add(historyPrefix + "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/experiments/e/runs/r/events")
	f.Add("/history/v1.0//")
	f.Fuzz(func(t *testing.T, p string) {
		id, op, ok := splitHistoryPath(p)
		if ok && (id == "" || op == "" || historyPrefix+id+"/"+op != p) {
			t.Fatalf("%q split into %q + %q", p, id, op)
		}
	})
}
