package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
)

// The wait prints the SDK's wait_for_completion(show_output=True)
// transcript, character for character, for each way it ends: the polls
// are scripted and the clock advances one interval per poll.
func TestComputeWaitTranscript(t *testing.T) {
	ok := func(cur, minN int) computePoll {
		return computePoll{provisioningState: "Succeeded", status: true, currentNodeCount: cur, minNodeCount: minN}
	}
	withErrors := func(p computePoll, errs string) computePoll { p.errors = json.RawMessage(errs); return p }
	const finished = "\nAmlCompute wait for completion finished\n\n"
	cases := []struct {
		name    string
		polls   []computePoll
		timeout int // in intervals
		want    string
		outcome waitOutcome
	}{
		{"min nodes zero", []computePoll{ok(0, 0)}, 100,
			"Creating\nSucceeded" + finished + "Minimum number of nodes requested have been provisioned\n", waitMinNodes},
		{"scaling to two", []computePoll{ok(0, 2), ok(1, 2), ok(1, 2), ok(2, 2)}, 100,
			"Creating\nSucceeded." +
				"Waiting for cluster to scale. 1 out of 2 nodes ready.\n." +
				"Waiting for cluster to scale. 1 out of 2 nodes ready.\n." +
				finished + "Minimum number of nodes requested have been provisioned\n", waitMinNodes},
		{"unusable nodes", []computePoll{ok(0, 2), withErrors(ok(2, 3), `[{"code": "NodesUnusable", "message": "2 node(s) unusable. it's 'deny' at \\ 100\n"}]`)}, 100,
			"Creating\nSucceeded." + finished +
				"There were errors reported from AmlCompute:\n[{'code': 'NodesUnusable', 'message': \"2 node(s) unusable. it's 'deny' at \\\\ 100\\n\"}]\n", waitErrors},
		{"min nodes win over errors", []computePoll{withErrors(ok(1, 1), `[{"code": "InsufficientSubnetAddresses", "message": "Partial allocation"}]`)}, 100,
			"Creating\nSucceeded" + finished + "Minimum number of nodes requested have been provisioned\n", waitMinNodes},
		{"timeout", []computePoll{ok(1, 2), ok(1, 2), ok(1, 2), ok(1, 2)}, 3,
			"Creating\nSucceeded" +
				"Waiting for cluster to scale. 1 out of 2 nodes ready.\n." +
				"Waiting for cluster to scale. 1 out of 2 nodes ready.\n." +
				"Waiting for cluster to scale. 1 out of 2 nodes ready.\n." + finished +
				"Wait timeout has been reached\nCurrent provisioning state of AmlCompute is \"Succeeded\" and current node count is \"1\"\n", waitTimeout},
		{"no status", []computePoll{{provisioningState: "Succeeded"}, {provisioningState: "Succeeded"}}, 1,
			"Creating" + finished + "Wait timeout has been reached\nCurrent provisioning state of AmlCompute is \"Succeeded\"\n", waitTimeout},
		{"failed", []computePoll{{provisioningState: "Failed", status: true, minNodeCount: 1, provisioningErrors: json.RawMessage(`[{"error": {"code": "X", "message": "m", "details": null}}]`)}}, 100,
			"Creating\nFailed" + finished + "Terminal state of \"Failed\" has been reached\n\n" +
				"Provisioning errors: [{'error': {'code': 'X', 'message': 'm', 'details': None}}]\n\n", waitTerminal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			now := time.Unix(0, 0)
			i := 0
			cw := &computeWaiter{w: &out, interval: time.Second, timeout: time.Duration(tc.timeout) * time.Second,
				now:   func() time.Time { return now },
				sleep: func(context.Context, time.Duration) error { now = now.Add(time.Second); return nil },
				poll: func(context.Context) (computePoll, error) {
					p := tc.polls[min(i, len(tc.polls)-1)]
					i++
					return p, nil
				}}
			_, outcome, err := cw.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("transcript (-want +got):\n%s", diff)
			}
			if outcome != tc.outcome {
				t.Errorf("outcome %d, want %d", outcome, tc.outcome)
			}
			if i != len(tc.polls) {
				t.Errorf("%d polls, want %d", i, len(tc.polls))
			}
		})
	}

	// A poll that fails ends the transcript's line and the wait.
	var out strings.Builder
	boom := errors.New("boom")
	cw := &computeWaiter{w: &out, interval: time.Second, timeout: time.Minute, now: time.Now,
		sleep: func(context.Context, time.Duration) error { return nil },
		poll:  func(context.Context) (computePoll, error) { return computePoll{}, boom }}
	if _, _, err := cw.run(context.Background()); !errors.Is(err, boom) || out.String() != "Creating\n" {
		t.Errorf("a failing poll: %v, %q", err, out.String())
	}
}

// Once the minimum is reached the wait polls on, printing nothing, while
// nodes are preparing; an unusable node then fails the command with the
// cluster's explanation.
func TestComputeWaitSettles(t *testing.T) {
	preparing := computePoll{provisioningState: "Succeeded", status: true, currentNodeCount: 2, minNodeCount: 2, preparing: 2}
	settled := preparing
	settled.preparing, settled.unusable = 0, 1
	settled.errors = json.RawMessage(`[{"code": "NodesUnusable", "message": "1 node(s) unusable. n1: denied by rule deny."}]`)
	var out strings.Builder
	polls := []computePoll{preparing, preparing, settled}
	cw := &computeWaiter{w: &out, interval: time.Second, timeout: time.Minute, now: time.Now,
		sleep: func(context.Context, time.Duration) error { return nil },
		poll: func(context.Context) (computePoll, error) {
			p := polls[0]
			polls = polls[1:]
			return p, nil
		}}
	last, outcome, err := cw.run(context.Background())
	if err != nil || outcome != waitMinNodes {
		t.Fatalf("run: %v, %d", err, outcome)
	}
	if last, err = cw.settle(context.Background(), last, time.Now()); err != nil || len(polls) != 0 || last.unusable != 1 {
		t.Fatalf("settle: %+v, %v; %d polls left", last, err, len(polls))
	}
	if !strings.HasSuffix(out.String(), "Minimum number of nodes requested have been provisioned\n") {
		t.Errorf("settling printed:\n%s", out.String())
	}
	err = waitResult("cpu", "ws", time.Minute, last, outcome)
	if a, ok := armerror.As(err); !ok || a.Code != "NodesUnusable" || !strings.Contains(a.Message, "not all are usable: 1 node(s) unusable. n1: denied by rule deny;") {
		t.Errorf("waitResult: %v", err)
	}
	settled.unusable, settled.errors = 0, nil
	if err := waitResult("cpu", "ws", time.Minute, settled, waitMinNodes); err != nil {
		t.Errorf("waitResult of usable nodes: %v", err)
	}
}

// pyRepr prints JSON as Python's repr of json.loads prints it.
func TestPyRepr(t *testing.T) {
	for in, want := range map[string]string{
		`[{"code": "A", "message": "b"}]`:         `[{'code': 'A', 'message': 'b'}]`,
		`{"b": 1, "a": [true, false, null, 1.5]}`: `{'b': 1, 'a': [True, False, None, 1.5]}`,
		`"it's"`:                 `"it's"`,
		`"it's \"x\""`:           `'it\'s "x"'`,
		`"tab\tnl\ncr\rbs\\"`:    `'tab\tnl\ncr\rbs\\'`,
		`"\u0001\u007f é\u200b"`: `'\x01\x7f é\u200b'`,
		`[]`:                     `[]`,
		``:                       `None`,
		`{bad`:                   `{bad`,
	} {
		if got := pyRepr(json.RawMessage(in)); got != want {
			t.Errorf("pyRepr(%s) = %s, want %s", in, got, want)
		}
	}
}
