package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/api"
)

// Every service command documents its flags, and the group lists them.
func TestServiceCommandsHelp(t *testing.T) {
	common := []string{"-w, --workspace WORKSPACE", "-g, --resource-group GROUP", "--endpoint URL", "--token TOKEN"}
	for cmd, flags := range map[string][]string{
		"deploy": {"--compute CLUSTER", "--model NAME[:VERSION]", "--entry FILE", "--env NAME=VALUE", "--num-replicas N", "--autoscale-min N",
			"--autoscale-max N", "--autoscale-target-utilization P", "--autoscale-refresh-seconds S", "--token-auth", "--no-auth",
			"--primary-key KEY", "--secondary-key KEY", "--scoring-timeout-ms N", "--max-concurrent-requests N", "--max-request-wait-ms N",
			"--description TEXT", "--tag KEY=VALUE", "--wait", "--timeout DURATION", "-o, --output json|table"},
		"show":      {"-o, --output json|table"},
		"list":      {"-o, --output json|table"},
		"logs":      nil,
		"get-keys":  {"-o, --output json|table"},
		"regen-key": {"--key Primary|Secondary", "-o, --output json|table"},
		"get-token": {"-o, --output json|table"},
		"delete":    nil,
		"score":     {"--data JSON", "--data-file FILE", "--from IP", "--key KEY"},
	} {
		r := run(t, "service", cmd, "--help")
		wantOK(t, r)
		if !strings.Contains(r.stdout, "Usage:\n  vnetml service "+cmd+" ") {
			t.Errorf("service %s --help has no usage line:\n%s", cmd, r.stdout)
		}
		for _, f := range append(flags, common...) {
			if !strings.Contains(r.stdout, f) {
				t.Errorf("service %s --help lacks %q:\n%s", cmd, f, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "--poll-interval") {
			t.Errorf("service %s --help shows the hidden --poll-interval", cmd)
		}
	}
	for _, args := range [][]string{{"service"}, {"service", "--help"}} {
		r := run(t, args...)
		wantOK(t, r)
		for _, c := range []string{"deploy", "show", "list", "logs", "get-keys", "regen-key", "get-token", "delete", "score"} {
			if !strings.Contains(r.stdout, "\n  "+c+" ") {
				t.Errorf("%v lists no %s:\n%s", args, c, r.stdout)
			}
		}
	}
	if r := run(t, "--help"); !strings.Contains(r.stdout, "\n  service ") {
		t.Errorf("vnetml --help lists no service group:\n%s", r.stdout)
	}
	wantFail(t, run(t, "service", "deplyo"), exitInput, `"deplyo" is not a command of "vnetml service"`, "did you mean deploy")
}

// The service commands refuse bad input before they call a server, every
// problem at once, naming the flag.
func TestServiceFlags(t *testing.T) {
	t.Setenv("VNETML_ENDPOINT", "http://127.0.0.1:1") // nothing is called
	t.Setenv(envPollInterval, "")
	dir := t.TempDir()
	entry := filepath.Join(dir, "score.py")
	empty := filepath.Join(dir, "empty.py")
	big := filepath.Join(dir, "big.py")
	for name, size := range map[string]int{entry: 10, empty: 0, big: maxEntryScript + 1} {
		if err := os.WriteFile(name, []byte(strings.Repeat("#", size)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deploy := func(args ...string) []string {
		return append([]string{"service", "deploy", "mysvc", "-w", "ws", "--compute", "aks", "--model", "m"}, args...)
	}
	withEntry := func(args ...string) []string { return deploy(append([]string{"--entry", entry}, args...)...) }
	score := func(args ...string) []string {
		return append([]string{"service", "score", "mysvc", "-w", "ws"}, args...)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"service", "deploy", "mysvc"}, []string{"-w/--workspace is required", "--compute is required", "--model is required", "--entry is required"}},
		{[]string{"service", "deploy"}, []string{"NAME is required"}},
		{[]string{"service", "deploy", "My_Service", "-w", "ws"}, []string{"(NAME)", `"My_Service" is not a service name`}},
		{deploy("--entry", filepath.Join(dir, "nosuch.py")), []string{"(--entry)", "cannot read --entry", "no such file or directory"}},
		{deploy("--entry", dir), []string{"(--entry)", "is not a regular file"}},
		{deploy("--entry", empty), []string{"(--entry)", "is empty"}},
		{deploy("--entry", big), []string{"(--entry)", "an entry script may be at most 1.0 MiB"}},
		{withEntry("--model", "m:latest", "--model", "-x"), []string{`--model "m:latest": "latest" is not a model version`, `"-x" is not a model name`}},
		{withEntry("--num-replicas", "2", "--autoscale-min", "1", "--autoscale-max", "3"),
			[]string{"(--num-replicas)", "--num-replicas cannot be combined with --autoscale-min, --autoscale-max"}},
		{withEntry("--num-replicas", "0"), []string{"(--num-replicas)", "--num-replicas 0 must be 1 or more"}},
		{withEntry("--num-replicas", "two"), []string{"(--num-replicas)", `--num-replicas "two" is not a whole number`}},
		{withEntry("--autoscale-min", "5", "--autoscale-max", "2"), []string{"(--autoscale-max)", "--autoscale-max 2 is less than --autoscale-min 5"}},
		{withEntry("--autoscale-target-utilization", "150"), []string{"(--autoscale-target-utilization)", "1 to 100"}},
		{withEntry("--autoscale-refresh-seconds", "0"), []string{"(--autoscale-refresh-seconds)", "must be 1 or more"}},
		{withEntry("--token-auth", "--primary-key", "k1"), []string{"(--token-auth)", "--token-auth cannot be combined with --primary-key"}},
		{withEntry("--no-auth", "--secondary-key", "k2"), []string{"(--no-auth)", "--no-auth cannot be combined with --secondary-key"}},
		{withEntry("--no-auth", "--token-auth"), []string{"(--no-auth)", "--no-auth and --token-auth cannot be combined"}},
		{withEntry("--primary-key", "k", "--secondary-key", "k"), []string{"(--secondary-key)", "the same as --primary-key"}},
		{withEntry("--scoring-timeout-ms", "-1", "--max-concurrent-requests", "0", "--max-request-wait-ms", "x"),
			[]string{"(--scoring-timeout-ms)", "(--max-concurrent-requests)", "(--max-request-wait-ms)"}},
		{withEntry("--env", "novalue", "--tag", "=v"), []string{`--env "novalue" is not KEY=VALUE`, `--tag "=v" has no key`}},
		{withEntry("--timeout", "5m"), []string{"(--timeout)", "--timeout applies to --wait only"}},
		{withEntry("--wait", "--timeout", "soon"), []string{"(--timeout)", `--timeout "soon" is not a positive duration`}},
		{withEntry("--poll-interval", "1s"), []string{"(--poll-interval)", "applies to --wait only"}},
		{withEntry("--wait", "--poll-interval", "1ms"), []string{"(--poll-interval)", "too short"}},
		{[]string{"service", "show"}, []string{"NAME is required"}},
		{[]string{"service", "show", "a", "b"}, []string{`unexpected argument "b"`}},
		{[]string{"service", "show", "mysvc"}, []string{"-w/--workspace is required"}},
		{[]string{"service", "list", "extra", "-w", "ws"}, []string{`unexpected argument "extra"`}},
		{[]string{"service", "regen-key", "mysvc", "-w", "ws"}, []string{"(--key)", "--key is required: Primary or Secondary"}},
		{[]string{"service", "regen-key", "mysvc", "-w", "ws", "--key", "Tertiary"}, []string{"(--key)", `--key "Tertiary" is not a key`}},
		{[]string{"service", "delete", "mysvc"}, []string{"-w/--workspace is required"}},
		{score(), []string{"(--data)", "give the request body"}},
		{score("--data", "{}", "--data-file", entry), []string{"(--data)", "cannot be combined"}},
		{score("--data", "not json"), []string{"(--data)", "--data is not JSON"}},
		{score("--data-file", entry), []string{"(--data-file)", "is not JSON"}},
		{score("--data-file", filepath.Join(dir, "nosuch.json")), []string{"(--data-file)", "cannot read --data-file", "no such file or directory"}},
		{score("--data", "{}", "--from", "10.0.0.9"), []string{"(--from)", "not a public address"}},
		{score("--data", "{}", "--from", "somewhere"), []string{"(--from)", "is not an IPv4 address"}},
		{score("--data", "{}", "--from", "203.0.113.7", "--from-nic", "vm-nic"), []string{"(--from-nic)", "cannot be combined"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, append(tc.args, "--token", "t")...)
			wantFail(t, r, exitInput, tc.want...)
			if r.stdout != "" {
				t.Errorf("stdout not empty:\n%s", r.stdout)
			}
		})
	}
}

// The request check builds the deployment the flags say: autoscale on
// with any autoscale flag, auth settings as the server reads them.
func TestServiceDeployRequest(t *testing.T) {
	entry := filepath.Join(t.TempDir(), "score.py")
	if err := os.WriteFile(entry, []byte("def init(): pass\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	one, two, fifty, off, on := 1, 2, 50, false, true
	base := api.ServiceProperties{ComputeTarget: "aks", Models: []string{"m", "n:2"}, EntryScript: api.ServiceScript{Name: "score.py", Content: "def init(): pass\n"}}
	with := func(f func(*api.ServiceProperties)) api.ServiceProperties { p := base; f(&p); return p }
	cases := []struct {
		name string
		set  func(*serviceDeployCmd)
		want api.ServiceProperties
	}{
		{"defaults", func(*serviceDeployCmd) {}, base},
		{"fixed replicas", func(c *serviceDeployCmd) { c.numReplicas = "2" }, with(func(p *api.ServiceProperties) { p.NumReplicas = &two })},
		{"autoscale", func(c *serviceDeployCmd) { c.autoscaleMin, c.autoscaleTarget = "1", "50" }, with(func(p *api.ServiceProperties) {
			p.AutoscaleEnabled, p.AutoscaleMinReplicas, p.AutoscaleTargetUtilization = &on, &one, &fifty
		})},
		{"token auth", func(c *serviceDeployCmd) { c.tokenAuth = true }, with(func(p *api.ServiceProperties) { p.AuthEnabled, p.TokenAuthEnabled = &off, true })},
		{"no auth", func(c *serviceDeployCmd) { c.noAuth = true }, with(func(p *api.ServiceProperties) { p.AuthEnabled = &off })},
		{"keys and limits", func(c *serviceDeployCmd) {
			c.primaryKey, c.secondaryKey, c.scoringTimeout, c.maxConcurrent, c.maxWait = "k1", "k2", "1000", "4", "100"
			c.envs, c.tags, c.description = []string{"A=1"}, []string{"t=v"}, "d"
		}, with(func(p *api.ServiceProperties) {
			p.PrimaryKey, p.SecondaryKey, p.ScoringTimeoutMs, p.ReplicaMaxConcurrentRequests, p.MaxRequestWaitTime = "k1", "k2", 1000, 4, 100
			p.EnvironmentVariables, p.Tags, p.Description = map[string]string{"A": "1"}, map[string]string{"t": "v"}, "d"
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &serviceDeployCmd{sf: serviceFlags{workspace: "ws"}, compute: "aks", models: []string{"m", "n:2"}, entry: entry}
			tc.set(c)
			svc, _, _, err := c.check()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, svc.Properties); diff != "" {
				t.Errorf("the deployment (-want +got):\n%s", diff)
			}
		})
	}
}

// The wait prints the SDK's wait_for_deployment(show_output=True)
// transcript for each way it ends: the polls are scripted and the clock
// advances by what the wait sleeps.
func TestServiceWaitTranscript(t *testing.T) {
	state := func(s string) api.Service { return api.Service{Name: "s", Properties: api.ServiceProperties{State: s}} }
	const transitioning, healthy, failed, unhealthy = api.ServiceTransitioning, api.ServiceHealthy, api.ServiceFailed, api.ServiceUnhealthy
	cases := []struct {
		name     string
		polls    []string
		timeout  time.Duration
		want     string
		last     string
		timedOut bool
	}{
		{"healthy", []string{transitioning, transitioning, healthy}, time.Minute,
			"Transitioning...\nHealthy\nAKS service creation operation finished, operation \"Succeeded\"\n", healthy, false},
		{"failed", []string{transitioning, failed}, time.Minute, "Transitioning..\nFailed\n", failed, false},
		// Unhealthy (a replica lost on the way) is not the end.
		{"through unhealthy", []string{unhealthy, healthy}, time.Minute,
			"Transitioning.\nUnhealthy.\nHealthy\nAKS service creation operation finished, operation \"Succeeded\"\n", healthy, false},
		// 2.5 intervals: two full sleeps, then one cut to what is left.
		{"timeout", []string{transitioning, transitioning, transitioning, transitioning}, 2500 * time.Millisecond,
			"Transitioning...\n", transitioning, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			now := time.Unix(0, 0)
			var slept []time.Duration
			i := 0
			sw := &serviceWaiter{w: &out, interval: time.Second, timeout: tc.timeout,
				now:   func() time.Time { return now },
				sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil },
				poll: func(context.Context) (api.Service, error) {
					s := state(tc.polls[min(i, len(tc.polls)-1)])
					i++
					return s, nil
				}}
			last, timedOut, err := sw.run(context.Background(), state(transitioning))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("transcript (-want +got):\n%s", diff)
			}
			if last.Properties.State != tc.last || timedOut != tc.timedOut {
				t.Errorf("ended %s (timed out %v), want %s (%v)", last.Properties.State, timedOut, tc.last, tc.timedOut)
			}
			if !tc.timedOut && i != len(tc.polls) {
				t.Errorf("%d polls, want %d", i, len(tc.polls))
			}
			if tc.timedOut {
				if diff := cmp.Diff([]time.Duration{time.Second, time.Second, 501 * time.Millisecond}, slept); diff != "" {
					t.Errorf("sleeps (-want +got):\n%s", diff)
				}
			}
		})
	}

	// A service Healthy when first seen is not polled; a failing poll
	// ends the transcript's line and the wait.
	var out strings.Builder
	boom := errors.New("boom")
	polls := 0
	sw := &serviceWaiter{w: &out, interval: time.Second, timeout: time.Minute, now: time.Now,
		sleep: func(context.Context, time.Duration) error { return nil },
		poll:  func(context.Context) (api.Service, error) { polls++; return api.Service{}, boom }}
	if _, _, err := sw.run(context.Background(), state(healthy)); err != nil || polls != 0 {
		t.Errorf("already healthy: %v, %d polls", err, polls)
	}
	out.Reset()
	if _, _, err := sw.run(context.Background(), state(transitioning)); !errors.Is(err, boom) || out.String() != "Transitioning\n" {
		t.Errorf("a failing poll: %v, %q", err, out.String())
	}
	// An interrupted wait stops sleeping at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sw = &serviceWaiter{w: &out, interval: time.Hour, timeout: 2 * time.Hour, now: time.Now, sleep: sleepCtx,
		poll: func(context.Context) (api.Service, error) {
			t.Error("polled after the interrupt")
			return api.Service{}, nil
		}}
	if _, _, err := sw.run(ctx, state(transitioning)); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted: %v", err)
	}
}

// A Failed deployment is bad input (exit 2) with the service's error; a
// timeout is not (exit 1), and says that the deployment goes on.
func TestServiceDeployEnded(t *testing.T) {
	c := &serviceDeployCmd{sf: serviceFlags{workspace: "ws"}}
	svc := func(state string, e *api.ServiceError) api.Service {
		return api.Service{Name: "s", Properties: api.ServiceProperties{State: state, Error: e, ScoringURI: "http://x/score", SwaggerURI: "http://x/swagger.json"}}
	}
	var out strings.Builder
	if err := c.ended(&out, svc(api.ServiceHealthy, nil), false, time.Minute); err != nil || out.String() != "Scoring URI: http://x/score\nSwagger URI: http://x/swagger.json\n" {
		t.Errorf("healthy: %v %q", err, out.String())
	}
	var errb strings.Builder
	e := &env{stdout: &out, stderr: &errb}
	err := c.ended(&out, svc(api.ServiceFailed, &api.ServiceError{Code: "DeploymentFailed", Message: "Traceback ...\nRuntimeError: x"}), false, time.Minute)
	if code := e.report(nil, err); code != exitInput || !strings.Contains(errb.String(), "current service state: Failed\nError:\nDeploymentFailed: Traceback ...\nRuntimeError: x") {
		t.Errorf("failed: exit %d\n%s", code, errb.String())
	}
	errb.Reset()
	err = c.ended(&out, svc(api.ServiceTransitioning, &api.ServiceError{Code: "ReplicasNotReady", Message: "replica s-0: node unusable"}), true, time.Minute)
	if code := e.report(nil, err); code != exitInternal || !strings.Contains(errb.String(), "reached the timeout (1m0s), current service state: Transitioning (ReplicasNotReady: replica s-0: node unusable)") ||
		!strings.Contains(errb.String(), "the deployment goes on") {
		t.Errorf("timed out: exit %d\n%s", code, errb.String())
	}
	// A service's HTTP error is its answer: exit 1, not bad input.
	errb.Reset()
	if code := e.report(nil, &serviceAnswer{name: "s", status: 401, err: &api.ServiceError{Code: "Unauthorized", Message: "no key"}}); code != exitInternal ||
		errb.String() != "vnetml: service s answered 401 Unauthorized: Unauthorized: no key\n" {
		t.Errorf("a service's error: exit %d\n%s", code, errb.String())
	}
}
