package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// Review 6 (CLI for compute clusters): regression tests for problems found
// in review. Each fails on the code as reviewed.

// A VNETML_POLL_INTERVAL the user set for some other run must not break a
// create that does not wait, and must not be blamed on a hidden flag the
// user never typed.
func TestReview6PollIntervalEnvIgnoredWithoutWait(t *testing.T) {
	withTempConfig(t)
	t.Setenv(envPollInterval, "abc")
	r := run(t, "compute", "create", "c", "-w", "ws", "--max-nodes", "1", "--endpoint", "http://127.0.0.1:1")
	if strings.Contains(r.stderr, "--poll-interval") {
		t.Errorf("create without --wait failed on $%s, blaming --poll-interval:\n%s", envPollInterval, r.stderr)
	}
}

// A poll interval of a nanosecond turns --wait into a loop of back-to-back
// GETs against the server: the interval needs a floor.
func TestReview6PollIntervalHasAFloor(t *testing.T) {
	var l armerror.List
	f := waitFlags{wait: true, interval: "1ns"}
	_, interval := f.check(&l)
	if l.Len() == 0 && interval < time.Millisecond {
		t.Errorf("--poll-interval 1ns accepted as %v: the wait polls the server in a tight loop", interval)
	}
}

// When the minimum is reached but the timeout ends before the nodes are
// checked, the command must not exit 0 as if the nodes were usable.
func TestReview6SettleTimeoutWithPreparingNodesIsNotSuccess(t *testing.T) {
	preparing := computePoll{provisioningState: "Succeeded", status: true, currentNodeCount: 2, minNodeCount: 2, preparing: 2}
	now := time.Unix(0, 0)
	cw := &computeWaiter{w: &strings.Builder{}, interval: time.Second, timeout: 3 * time.Second,
		now:   func() time.Time { return now },
		sleep: func(context.Context, time.Duration) error { now = now.Add(time.Second); return nil },
		poll:  func(context.Context) (computePoll, error) { return preparing, nil }}
	start := now
	last, outcome, err := cw.run(context.Background())
	if err != nil || outcome != waitMinNodes {
		t.Fatalf("run: %v, %d", err, outcome)
	}
	now = start.Add(10 * time.Second) // the timeout passed while the minimum was reached
	if last, err = cw.settle(context.Background(), last, start); err != nil {
		t.Fatal(err)
	}
	if last.preparing == 0 {
		t.Fatal("test setup: nodes should still be preparing")
	}
	if err := waitResult("cpu", "ws", cw.timeout, last, outcome); err == nil {
		t.Errorf("2 nodes still preparing (never checked) at the timeout, yet the wait succeeds (exit 0)")
	}
}

// The help promises exit 2 "when the cluster reports errors" such as "a
// subnet too small for max-nodes: a partial allocation"; with min-nodes
// below what the subnet fits, the minimum wins and the errors vanish:
// exit 0 and nothing printed.
func TestReview6PartialAllocationAfterMinimumIsReported(t *testing.T) {
	last := computePoll{provisioningState: "Succeeded", status: true, currentNodeCount: 0, minNodeCount: 0,
		errors: json.RawMessage(`[{"code": "InsufficientSubnetAddresses", "message": "Partial allocation: subnet small has free addresses for 3 nodes"}]`)}
	if err := waitResult("cpu", "ws", time.Minute, last, waitMinNodes); err == nil {
		t.Errorf("status.errors holds InsufficientSubnetAddresses, yet create --wait exits 0 without a word; " +
			"the help says --wait exits 2 on a partial allocation")
	}
}

// A sleep never runs past the deadline: --timeout 1s with the default 5 s
// interval waits 5 s.
func TestReview6SleepClippedToTimeout(t *testing.T) {
	now := time.Unix(0, 0)
	var slept []time.Duration
	cw := &computeWaiter{w: &strings.Builder{}, interval: 5 * time.Second, timeout: time.Second,
		now:   func() time.Time { return now },
		sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil },
		poll: func(context.Context) (computePoll, error) {
			return computePoll{provisioningState: "Succeeded", status: true, currentNodeCount: 0, minNodeCount: 1}, nil
		}}
	if _, outcome, err := cw.run(context.Background()); err != nil || outcome != waitTimeout {
		t.Fatalf("run: %v, %d", err, outcome)
	}
	var total time.Duration
	for _, d := range slept {
		total += d
	}
	if total > 2*time.Second {
		t.Errorf("--timeout 1s slept %v in all (%v)", total, slept)
	}
}

// --subnet takes an id or VNET/SUBNET; a bare subnet name (the common
// slip: --subnet default) panics the CLI with a Go stack trace (exit 2
// by accident), and VNET/SUBNET/EXTRA silently drops EXTRA. Both must be
// usage errors against --subnet.
func TestReview6SubnetMalformedRef(t *testing.T) {
	s := newDataServer(t)
	s.ok("apply", "-f", exampleManifest)
	for _, in := range []string{"default", "mynetwork/default/extra"} {
		t.Run(in, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("--subnet %s panics the CLI: %v", in, p)
				}
			}()
			r := s.run("compute", "create", "cc", "-w", "myworkspace", "-g", "mygroup", "--max-nodes", "1", "--subnet", in)
			wantFail(t, r, exitInput, "(--subnet)")
		})
	}
}

// The server's refusal of the compute's name is reported against NAME, as
// every other error about the positional argument (Conflict, NotFound).
func TestReview6InvalidNameTargetsNAME(t *testing.T) {
	s := newDataServer(t)
	s.ok("apply", "-f", exampleManifest)
	r := s.run("compute", "create", "c", "-w", "myworkspace", "-g", "mygroup", "--max-nodes", "1")
	wantFail(t, r, exitInput, "(NAME)")
}

// A password given with --admin-password-file that the server refuses is
// reported against --admin-password-file, the flag the user gave.
func TestReview6PasswordFileErrorNamesTheFlagGiven(t *testing.T) {
	s := newDataServer(t)
	s.ok("apply", "-f", exampleManifest)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("weakpassword\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.run("compute", "create", "bad", "-w", "myworkspace", "-g", "mygroup", "--max-nodes", "1",
		"--admin-username", "u", "--admin-password-file", pw)
	wantFail(t, r, exitInput, "(--admin-password-file)")
	if strings.Contains(r.stderr, "weakpassword") {
		t.Errorf("the password was printed:\n%s", r.stderr)
	}
}
