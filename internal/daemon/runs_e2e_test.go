package daemon

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/job"
)

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the quickstart's job is a Python script")
	}
}

// TestQuickstartRun is the 2019 article's experiment end to end: the
// quickstart's network, a cluster scaling from zero, train.py run on a
// node that fetched its snapshot through the storage firewall (admitted
// by the subnet's service endpoint), metrics and logs in run history,
// model.json uploaded — every flow through the fabric and in its log.
func TestQuickstartRun(t *testing.T) {
	needPython(t)
	s := startLive(t, t.TempDir())
	s.quickstart(0, 2, nil)
	snap := s.upload("../../examples/quickstart/train", false)
	id := s.submit("quickstart", "quickstart_1", api.RunProperties{Script: "train.py", Arguments: []string{"--epochs", "5"},
		Target: "cpucluster", SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap})
	r, log := s.wait(id)
	p := r.Properties
	if p.Status != job.Completed {
		t.Fatalf("run %s: %+v\nlog:\n%s", p.Status, p.Error, log)
	}
	want := []string{job.NotStarted, job.Queued, job.Preparing, job.Running, job.Finalizing, job.Completed}
	if got := statuses(r); !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	if p.StartTimeUtc == nil || p.EndTimeUtc == nil || p.EndTimeUtc.Before(*p.StartTimeUtc) || p.NodeID == "" || p.Attempt != 1 {
		t.Errorf("times, node or attempt missing: %+v", p)
	}
	if !strings.Contains(log, "epoch  5") || !strings.Contains(log, "model written to outputs/model.json") {
		t.Errorf("the driver log lacks the job's output:\n%s", log)
	}
	var acc int
	for _, m := range s.metrics(id) {
		if m.Name == "accuracy" {
			acc++
		}
	}
	if acc != 5 {
		t.Errorf("%d accuracy values logged, want 5 (one per epoch)", acc)
	}
	if !slices.Contains(p.OutputFiles, "model.json") || p.Outputs == nil {
		t.Fatalf("outputs %v at %+v, want model.json", p.OutputFiles, p.Outputs)
	}
	// The model is in the workspace's storage, where the user downloads
	// it from outside (the account's ipRules admit them).
	ctx := context.Background()
	hc, err := s.c.DataPlane(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.c.Storage(ctx, hc, p.Outputs.Account, client.StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var model strings.Builder
	if _, err := st.Download(ctx, p.Outputs.Container, p.Outputs.Prefix+"model.json", 0, "", &model, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(model.String(), `"weights"`) {
		t.Errorf("model.json: %s", model.String())
	}
}

// TestRunOnFileStoreInVNetFails: a snapshot on workspacefilestore (the
// SDK's default) of a storage account restricted to virtual networks
// fails at Preparing with the 2019 article's advice.
func TestRunOnFileStoreInVNetFails(t *testing.T) {
	s := startLive(t, t.TempDir())
	s.quickstart(0, 1, nil)
	snap := s.upload(writeSource(t, map[string]string{"run.sh": "echo hi\n"}), true)
	id := s.submit("e", "r1", api.RunProperties{Command: []string{"sh", "run.sh"}, Target: "cpucluster", SnapshotID: snap})
	r, _ := s.wait(id)
	p := r.Properties
	if p.Status != job.Failed || p.Error == nil || !strings.Contains(p.Error.Message, "Preparing failed") ||
		!strings.Contains(p.Error.Message, "workspaceblobstore") || !strings.Contains(p.Error.Message, "mlquickstartstore") {
		t.Fatalf("run %s with %+v, want Failed at Preparing with the advice to use workspaceblobstore", p.Status, p.Error)
	}
	if got := statuses(r); got[len(got)-2] != job.Preparing {
		t.Errorf("states %v: it should fail from Preparing", got)
	}
}

// TestRunNetworkRefusalsExplained: an NSG that denies the nodes outbound
// storage fails the run at Preparing naming the rule; one that denies
// run history leaves the job running on the node, and the run still ends,
// with the rule, instead of hanging (surface §D, pain point 2).
func TestRunNetworkRefusalsExplained(t *testing.T) {
	s := startLive(t, t.TempDir())
	s.quickstart(1, 1, func(m string) string {
		return strings.Replace(m, "    - name: AllowStorageOutbound\n      priority: 100\n", "    - name: AllowStorageOutbound\n      priority: 100\n      access: Deny\n", 1)
	})
	snap := s.upload(writeSource(t, map[string]string{"run.sh": "echo hi\n"}), false)
	id := s.submit("e", "denied_storage", api.RunProperties{Command: []string{"sh", "run.sh"}, Target: "cpucluster",
		SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap})
	r, _ := s.wait(id)
	p := r.Properties
	if p.Status != job.Failed || p.Error == nil || p.Error.Code != job.CodeNetwork ||
		!strings.Contains(p.Error.Message, "could not download the snapshot from storage account mlquickstartstore") ||
		!strings.Contains(p.Error.Message, "AllowStorageOutbound") || !strings.Contains(p.Error.Message, "ml-nsg") {
		t.Fatalf("run %s with %+v, want a network failure naming AllowStorageOutbound of ml-nsg", p.Status, p.Error)
	}
	t.Logf("storage denied: %s", p.Error.Message)

	// Storage allowed again; run history denied.
	s.quickstart(1, 1, func(m string) string {
		return strings.Replace(m, "    - name: AllowAzureMachineLearningOutbound\n      priority: 110\n", "    - name: AllowAzureMachineLearningOutbound\n      priority: 110\n      access: Deny\n", 1)
	})
	id = s.submit("e", "denied_history", api.RunProperties{Command: []string{"sh", "run.sh"}, Target: "cpucluster",
		SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap})
	r, _ = s.wait(id)
	p = r.Properties
	if p.Status != job.Failed || p.Error == nil || !strings.Contains(p.Error.Message, "could not report to run history") ||
		!strings.Contains(p.Error.Message, "AllowAzureMachineLearningOutbound") {
		t.Fatalf("run %s with %+v, want a failure naming AllowAzureMachineLearningOutbound", p.Status, p.Error)
	}
	t.Logf("run history denied: %s", p.Error.Message)
}

// TestRunNodeLostIsRetried: an agent killed under a run fails its attempt
// with "node lost"; with maxRetries the run goes on another node and
// completes, and the first attempt's log is kept.
func TestRunNodeLostIsRetried(t *testing.T) {
	s := startLive(t, t.TempDir())
	s.quickstart(0, 2, nil)
	snap := s.upload(writeSource(t, map[string]string{"run.sh": `echo "attempt $AZUREML_RUN_ATTEMPT"
if [ "$AZUREML_RUN_ATTEMPT" = 1 ]; then exec sleep 600; fi
echo done
`}), false)
	id := s.submit("e", "lost", api.RunProperties{Command: []string{"sh", "run.sh"}, Target: "cpucluster",
		SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap, MaxRetries: 1})
	r := s.waitFor(id, func(r api.Run) bool {
		return r.Properties.Status == job.Running && strings.Contains(s.logs(id), "attempt 1")
	})
	killAgent(t, s.dir, r.Properties.NodeID)
	r, log := s.wait(id)
	p := r.Properties
	if p.Status != job.Completed || p.Attempt != 2 {
		t.Fatalf("run %s at attempt %d (%+v), want Completed at attempt 2\nlog:\n%s", p.Status, p.Attempt, p.Error, log)
	}
	if !strings.Contains(log, "attempt 1") || !strings.Contains(log, "Node lost") || !strings.Contains(log, "attempt 2") || !strings.Contains(log, "done") {
		t.Errorf("the log lost an attempt:\n%s", log)
	}
	if !slices.Contains(statuses(r), job.Queued) || strings.Count(strings.Join(statuses(r), ","), job.Running) != 2 {
		t.Errorf("states %v: want the run queued again and running twice", statuses(r))
	}

	// Without retries the run fails with the reason.
	id = s.submit("e", "lost_once", api.RunProperties{Command: []string{"sh", "run.sh"}, Target: "cpucluster",
		SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap})
	r = s.waitFor(id, func(r api.Run) bool {
		return r.Properties.Status == job.Running && strings.Contains(s.logs(id), "attempt 1")
	})
	killAgent(t, s.dir, r.Properties.NodeID)
	r, _ = s.wait(id)
	if p := r.Properties; p.Status != job.Failed || p.Error == nil || p.Error.Code != job.CodeNodeLost || !strings.Contains(p.Error.Message, "Node lost") {
		t.Fatalf("run %s with %+v, want Failed with NodeLost", p.Status, p.Error)
	}
}

// TestRunCancel cancels a running run: the node stops the job.
func TestRunCancel(t *testing.T) {
	s := startLive(t, t.TempDir())
	s.quickstart(1, 1, nil)
	snap := s.upload(writeSource(t, map[string]string{"run.sh": "echo started\nexec sleep 600\n"}), false)
	id := s.submit("e", "c", api.RunProperties{Command: []string{"sh", "run.sh"}, Target: "cpucluster",
		SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap})
	s.waitFor(id, func(r api.Run) bool {
		return r.Properties.Status == job.Running && strings.Contains(s.logs(id), "started")
	})
	if err := s.c.Post(context.Background(), id+"/cancel", nil, nil); err != nil {
		t.Fatal(err)
	}
	r, _ := s.wait(id)
	if r.Properties.Status != job.Canceled {
		t.Fatalf("run %s (%+v), want Canceled", r.Properties.Status, r.Properties.Error)
	}
}

// killAgent kills a node's agent with SIGKILL.
func killAgent(t *testing.T, dataDir, nodeID string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, NodesDir, nodeID, "agent.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ PID int }
	if err := json.Unmarshal(b, &rec); err != nil || rec.PID <= 0 {
		t.Fatalf("agent.json of %s: %v", nodeID, err)
	}
	if err := syscall.Kill(rec.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// TestRunSurvivesServerKill: a server killed with SIGKILL while a run is
// Running leaves its node's agent running the job; the next server adopts
// the node, rebinds the job to its own egress, and the run completes with
// its whole log, each line once.
func TestRunSurvivesServerKill(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("VNETML_TEST_FAST", "1")
	// The last server is killed too: its agents, left behind by design,
	// are stopped here (cleanups run last-in first-out, so after it).
	t.Cleanup(func() { killAgents(t, dir) })
	child := startServer(t, dir)
	c, err := client.New(child.url, child.token, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &liveServer{t: t, dir: dir, c: c}
	s.quickstart(1, 1, nil)
	release := filepath.Join(t.TempDir(), "release")
	snap := s.upload(writeSource(t, map[string]string{"run.sh": `echo started
while [ ! -e "$RELEASE" ]; do sleep 0.05; done
echo released
`}), false)
	id := s.submit("e", "survivor", api.RunProperties{Command: []string{"sh", "run.sh"}, Target: "cpucluster",
		SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap, EnvironmentVariables: map[string]string{"RELEASE": release}})
	before := s.waitFor(id, func(r api.Run) bool {
		return r.Properties.Status == job.Running && strings.Contains(s.logs(id), "started")
	})

	child.kill()
	child = startServer(t, dir)
	if s.c, err = client.New(child.url, child.token, client.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r, log := s.wait(id)
	p := r.Properties
	if p.Status != job.Completed || p.Attempt != 1 || p.NodeID != before.Properties.NodeID {
		t.Fatalf("run %s, attempt %d on %s (%+v), want Completed at attempt 1 on %s\nlog:\n%s", p.Status, p.Attempt, p.NodeID, p.Error, before.Properties.NodeID, log)
	}
	if strings.Count(log, "started") != 1 || strings.Count(log, "released") != 1 {
		t.Errorf("the log lost or doubled a line across the restart:\n%s", log)
	}
}

// TestRunAfterGracefulRestart: a server stopped gracefully stops its
// nodes (no process is left behind); the next server finds the run it
// left Running and fails it with the reason instead of leaving it stuck.
func TestRunAfterGracefulRestart(t *testing.T) {
	dir := t.TempDir()
	s := startLive(t, dir)
	s.quickstart(1, 1, nil)
	snap := s.upload(writeSource(t, map[string]string{"run.sh": "echo started\nexec sleep 600\n"}), false)
	id := s.submit("e", "orphaned", api.RunProperties{Command: []string{"sh", "run.sh"}, Target: "cpucluster",
		SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap})
	s.waitFor(id, func(r api.Run) bool {
		return r.Properties.Status == job.Running && strings.Contains(s.logs(id), "started")
	})
	s.stop()
	s = startLive(t, dir)
	r, log := s.wait(id)
	p := r.Properties
	if p.Status != job.Failed || p.Error == nil || p.Error.Code != job.CodeNodeLost || !strings.Contains(p.Error.Message, "server restarted") {
		t.Fatalf("run %s with %+v, want Failed: node lost as the server restarted\nlog:\n%s", p.Status, p.Error, log)
	}
	if !strings.Contains(log, "started") {
		t.Errorf("the log written before the restart is lost:\n%s", log)
	}
}

// TestRunSecretsAndUploads: a job reads a workspace secret through run
// history (which reads the key vault as a trusted service, so the vault's
// firewall decides) and uploads a file to the run's artifacts; with the
// vault's bypass None, the secret is refused with the firewall's reason.
func TestRunSecretsAndUploads(t *testing.T) {
	needPython(t)
	s := startLive(t, t.TempDir())
	s.quickstart(1, 1, nil)
	src := writeSource(t, map[string]string{"job.py": `import io, sys
from vnetml_run import Run, RunError
run = Run.get_context()
try:
    print("secret length", len(run.get_secret("storage-mlquickstartstore-key")))
except RunError as e:
    print("refused:", e)
    sys.exit(3)
run.upload_file("notes/hello.txt", io.BytesIO(b"hello"))
print("uploaded")
`})
	snap := s.upload(src, false)
	id := s.submit("e", "secret_ok", api.RunProperties{Script: "job.py", Target: "cpucluster", SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap})
	r, log := s.wait(id)
	if r.Properties.Status != job.Completed || !strings.Contains(log, "secret length 88") || !strings.Contains(log, "uploaded") {
		t.Fatalf("run %s (%+v), log:\n%s", r.Properties.Status, r.Properties.Error, log)
	}
	ctx := context.Background()
	hc, err := s.c.DataPlane(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.c.Storage(ctx, hc, r.Properties.Outputs.Account, client.StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	if _, err := st.Download(ctx, r.Properties.Outputs.Container, "ExperimentRun/dcid.secret_ok/notes/hello.txt", 0, "", &got, nil); err != nil || got.String() != "hello" {
		t.Fatalf("the uploaded file: %q, %v", got.String(), err)
	}

	s.quickstart(1, 1, func(m string) string {
		return strings.Replace(m, "  keyVaults:\n  - name: mlquickstart-kv\n    firewall:\n      defaultAction: Deny\n      bypass: AzureServices\n",
			"  keyVaults:\n  - name: mlquickstart-kv\n    firewall:\n      defaultAction: Deny\n      bypass: None\n", 1)
	})
	id = s.submit("e", "secret_refused", api.RunProperties{Script: "job.py", Target: "cpucluster", SourceDirectoryDataStore: "workspaceblobstore", SnapshotID: snap})
	r, log = s.wait(id)
	if r.Properties.Status != job.Failed || !strings.Contains(log, "refused:") || !strings.Contains(log, "mlquickstart-kv") || !strings.Contains(log, "AzureServices") {
		t.Fatalf("run %s, log:\n%s\nwant the vault's refusal, naming the vault and its bypass", r.Properties.Status, log)
	}
	t.Logf("refused: %s", log[strings.Index(log, "refused:"):])
}

// killAgents kills every node agent (with its process group) that a
// killed server left in dataDir.
func killAgents(t *testing.T, dataDir string) {
	entries, _ := os.ReadDir(filepath.Join(dataDir, NodesDir))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dataDir, NodesDir, e.Name(), "agent.json"))
		if err != nil {
			continue
		}
		var rec struct{ PID int }
		if json.Unmarshal(b, &rec) == nil && rec.PID > 0 {
			syscall.Kill(-rec.PID, syscall.SIGKILL) // the agent leads its group
		}
	}
}
