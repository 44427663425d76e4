//go:build unix

package nodeagent

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/job"
)

// Review 7 (runs on nodes): regression tests for problems found in
// review. Each fails on the code as reviewed.

// Run history refuses the log of an attempt that is no longer the run's
// (retried on another node, or ended by the server) with 409 and an
// error, not a length. The agent resent the chunk for as long as it
// lived: the job ran on for nothing, its outputs would have overwritten
// those of the attempt that is the run's, and the attempt never ended.
// It must stop the job and report and upload nothing more, as after a
// 409 to an event.
func TestReview7LogRefusedAsSupersededStopsTheJob(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	a := jobAgent(t)
	c.hist.set(func(h *history) { h.logConflict["run-sl"] = true })
	submit(t, a, c.spec("run-sl", c.putSnapshot(map[string]string{"x": "x"}), e,
		`mkdir outputs; echo stale > outputs/o.txt; echo hello; sleep 60`))
	st := waitJob(t, a, "run-sl", "the attempt stopped as superseded", func(st job.Status) bool { return job.Terminal(st.State) })
	if st.State != job.Canceled || errCode(st) != job.CodeCanceled || !strings.Contains(st.Error.Message, "no longer takes reports") {
		t.Errorf("status %+v (%+v), want Canceled: run history no longer takes reports", st, st.Error)
	}
	waitFor(t, 10*time.Second, "the job directory removed", func() bool {
		_, err := os.Stat(filepath.Join(a.Dir(), jobsDir, "run-sl-1"))
		return errors.Is(err, os.ErrNotExist)
	})
	if d := cmp.Diff([]string{job.Preparing, job.Running}, c.hist.states("run-sl")); d != "" {
		t.Errorf("events after the refusal (-want +got):\n%s", d)
	}
	if _, ok := c.blob(artContainer, "ExperimentRun/dcid.run-sl/outputs/o.txt"); ok {
		t.Error("a superseded attempt uploaded its outputs over the run's")
	}
}

// A plain HTTP request that the upstream egress proxy refuses for the
// node's credentials reached the job as 407 Proxy Authentication
// Required: the job's user was sent to check the job's HTTP_PROXY, which
// is right. It is the node's fault, as for CONNECT: 502, saying so.
func TestReview7ForwardedUpstream407IsTheNodes(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	t.Cleanup(plain.Close)
	web := netip.MustParseAddrPort("198.18.3.1:80")
	c.mu.Lock()
	c.routes[web] = plain.Listener.Addr().String()
	c.mu.Unlock()
	e := c.egress()
	p, _ := startTestLocalProxy(t, strings.Replace(e.url, "egress-pw", "wrong-pw", 1))
	pu, _ := url.Parse(p.URL())
	tr := &http.Transport{Proxy: http.ProxyURL(pu), DisableKeepAlives: true}
	resp, err := (&http.Client{Transport: tr}).Get("http://198.18.3.1/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "refused the node's credentials") {
		t.Errorf("a forwarded request the upstream refused for the node's credentials: %d %q; want 502 saying so", resp.StatusCode, b)
	}
}

// A proxy URL that does not parse was quoted whole in the error, password
// included: into the 400 that the server turns into the run's error, which
// users read.
func TestReview7BadProxyURLErrorHidesThePassword(t *testing.T) {
	for _, raw := range []string{"http://node-1:s3cret@host:port", "http://node-1:s3cret@[::1:99", "http://node-1:s3cret@10.0.0.1:99\x7f"} {
		_, err := parseProxy(raw)
		if err == nil {
			t.Fatalf("parseProxy(%q) took it", raw)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("parseProxy(%q): %v: the password leaks", raw, err)
		}
		if verr := validateSpec(job.Spec{Proxy: raw}); verr == nil || strings.Contains(verr.Error(), "s3cret") {
			t.Errorf("validateSpec: %v: the password leaks", verr)
		}
	}
}

// A child that the job started with a clean environment (env -i, Python's
// subprocess with env={...}) carries no VNETML_JOB_TAG. Once the leader
// was reaped nothing could prove the group the job's, so the child was
// left running: after the job completed, and after a cancel whose SIGTERM
// it ignored. The group is killed while the leader's pid still holds it.
func TestReview7UntaggedChildDiesWithTheJob(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("only Linux can wait for the leader without reaping it")
	}
	// The child says its pid once it has no tag and ignores SIGTERM.
	const child = `env -i sh -c 'trap "" TERM; echo $$ > "$1/child.tmp"; mv "$1/child.tmp" "$1/child"; exec sleep 60' child "$TESTDIR" & `
	for _, tc := range []struct {
		name, script string
		cancel       bool
		want         string
	}{
		{"completed", child + `while [ ! -e "$TESTDIR/child" ]; do sleep 0.01; done`, false, job.Completed},
		{"canceled", child + `wait`, true, job.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestCloud(t)
			a := jobAgent(t)
			tmp := t.TempDir()
			spec := c.spec("run-"+tc.name, c.putSnapshot(map[string]string{"x": "x"}), c.egress(), tc.script)
			spec.Env = map[string]string{"TESTDIR": tmp}
			submit(t, a, spec)
			var child int
			waitFor(t, 20*time.Second, "the job's child", func() bool {
				b, err := os.ReadFile(filepath.Join(tmp, "child"))
				if err == nil {
					child, err = strconv.Atoi(strings.TrimSpace(string(b)))
				}
				return err == nil
			})
			t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
			if tc.cancel {
				if err := a.CancelJob(testCtx(t), nil, spec.RunID); err != nil {
					t.Fatal(err)
				}
			}
			if st := waitReported(t, a, spec.RunID); st.State != tc.want {
				t.Errorf("status %+v (%+v), want %s", st, st.Error, tc.want)
			}
			waitGone(t, child, 5*time.Second)
		})
	}
}
