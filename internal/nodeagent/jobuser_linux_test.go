//go:build linux

package nodeagent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/job"
)

// TestJobRunsAsItsOwnUser: with --job-uid, a job runs as that user with
// no capabilities — it cannot enter another network namespace (the
// host's), read the node's secret or write its own driver log — while it
// still reads its snapshot, writes its outputs and temporary files, and
// its outputs are uploaded.
func TestJobRunsAsItsOwnUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running jobs as another user needs root")
	}
	t.Parallel()
	// The job finds python3 in the directories any user may search.
	if _, err := lookPath("python3", publicPath(os.Getenv("PATH")), "/"); err != nil {
		t.Skip("no python3 that another user may run: ", err)
	}
	c := newTestCloud(t)
	e := c.egress()
	const uid = 2_345_678
	h := newHarness(t)
	// The job's user must reach its directory under the state root, as
	// the daemon opens the data directory to traversal.
	for d := h.root; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	sp := h.spawner(SpawnerConfig{Command: agentCommand(t, "VNETML_AGENT_JOB_GRACE=300ms", "VNETML_AGENT_JOB_UID=2345678")})
	a := h.start(sp, "node-1")
	t.Cleanup(func() { a.Stop(context.Background()) })
	snap := c.putSnapshot(map[string]string{"data/input.txt": "input line\n"})
	probe := `import ctypes, os, tempfile
print("uid", os.getuid())
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")]
print("capeff", caps[0])
libc = ctypes.CDLL(None, use_errno=True)
try:
    fd = os.open("/proc/1/ns/net", os.O_RDONLY)
    print("setns", "denied" if libc.setns(fd, 0x40000000) != 0 else "entered the host's namespace")
except PermissionError:
    print("setns denied")
for name in ("../../../secret", "../70_driver_log.txt"):
    try:
        open(name, "a" if "log" in name else "r").close()
        print("opened", name)
    except PermissionError:
        print("denied", name)
print(open("data/input.txt").read().strip())
with tempfile.NamedTemporaryFile(dir=os.environ["TMPDIR"]) as f:
    print("tmp ok")
os.makedirs("outputs", exist_ok=True)
open("outputs/model.txt", "w").write("weights")
`
	spec := c.spec("run-user", snap, e, `python3 -c "$PROBE"`)
	spec.Env = map[string]string{"PROBE": probe}
	submit(t, a, spec)
	st := waitReported(t, a, "run-user")
	log := c.hist.logOf("run-user")
	if st.State != job.Completed {
		t.Fatalf("status %+v (error %+v); log:\n%s", st, st.Error, log)
	}
	for _, want := range []string{"uid 2345678", "capeff 0000000000000000", "setns denied", "denied ../../../secret",
		"denied ../70_driver_log.txt", "input line", "tmp ok"} {
		if !strings.Contains(log, want) {
			t.Errorf("the job's log lacks %q:\n%s", want, log)
		}
	}
	if got, ok := c.blob(artContainer, "ExperimentRun/dcid.run-user/outputs/model.txt"); !ok || got != "weights" {
		t.Errorf("the uploaded output = %q (exists %v), want the job's", got, ok)
	}
}
