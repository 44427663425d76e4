package daemon

import (
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/job"
)

// BenchmarkRunOnWarmNode submits trivial runs (python3 -c pass) one after
// another to a cluster with one idle node whose snapshot cache is warm,
// and reports, beside the baseline measured in the same run — spawning
// `python3 -c pass` directly and waiting for it to exit — the latency from
// the PUT to Running (the node started the process: startTimeUtc), to
// Completed (endTimeUtc: the process exited, its log and outputs were
// uploaded and reported), and the runs per second end to end.
//
//	go test ./internal/daemon -run '^$' -bench RunOnWarmNode -benchtime 50x
func BenchmarkRunOnWarmNode(b *testing.B) {
	if _, err := exec.LookPath("python3"); err != nil {
		b.Skip("python3 is not installed")
	}
	s := startLive(b, b.TempDir())
	s.quickstart(1, 1, nil)
	snap := s.upload(writeSource(b, map[string]string{"noop.txt": "x\n"}), false)
	submit := func(i int) (time.Duration, time.Duration) {
		id := fmt.Sprintf("bench_%d_%d", time.Now().UnixNano(), i)
		t0 := time.Now()
		full := s.submit("bench", id, api.RunProperties{Command: []string{"python3", "-c", "pass"}, Target: "cpucluster",
			SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap})
		r, _ := s.wait(full)
		if r.Properties.Status != job.Completed || r.Properties.StartTimeUtc == nil {
			b.Fatalf("run %s: %+v", r.Properties.Status, r.Properties.Error)
		}
		return r.Properties.StartTimeUtc.Sub(t0), r.Properties.EndTimeUtc.Sub(t0)
	}
	submit(-1) // warms the node's snapshot cache and run history
	var toRunning, toDone, baseline []time.Duration
	var total time.Duration
	b.ResetTimer()
	i := 0
	for b.Loop() {
		t0 := time.Now()
		run, done := submit(i)
		total += time.Since(t0)
		toRunning, toDone = append(toRunning, run), append(toDone, done)
		b.StopTimer()
		t0 = time.Now()
		if err := exec.Command("python3", "-c", "pass").Run(); err != nil {
			b.Fatal(err)
		}
		baseline = append(baseline, time.Since(t0))
		b.StartTimer()
		i++
	}
	p50 := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	p90 := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)*9/10] }
	b.ReportMetric(float64(p50(toRunning).Microseconds())/1000, "submit-to-running-p50-ms")
	b.ReportMetric(float64(p90(toRunning).Microseconds())/1000, "submit-to-running-p90-ms")
	b.ReportMetric(float64(p50(baseline).Microseconds())/1000, "baseline-python-p50-ms")
	b.ReportMetric(float64(p50(toDone).Microseconds())/1000, "submit-to-completed-p50-ms")
	b.ReportMetric(float64((p50(toDone)-p50(baseline)).Microseconds())/1000, "added-completed-p50-ms")
	b.ReportMetric(float64(len(toRunning))/total.Seconds(), "runs/s")
}
