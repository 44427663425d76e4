package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// serviceDeployCmd is `vnetml service deploy NAME`: the SDK v1's
// Model.deploy(ws, name, models, InferenceConfig(entry_script),
// AksWebservice.deploy_configuration(...), deployment_target), and with
// --wait wait_for_deployment(show_output=True).
type serviceDeployCmd struct {
	env         *env
	sf          serviceFlags
	out         outputFlag
	poll        pollFlag
	compute     string
	models      []string
	entry       string
	envs        []string
	tags        []string
	description string

	numReplicas     string
	autoscaleMin    string
	autoscaleMax    string
	autoscaleTarget string
	autoscaleEvery  string

	tokenAuth    bool
	retry        bool
	noAuth       bool
	primaryKey   string
	secondaryKey string

	scoringTimeout string
	maxConcurrent  string
	maxWait        string

	wait    bool
	timeout string
}

// maxEntryScript is the largest entry script the server takes.
const maxEntryScript = 1 << 20

func newServiceDeployCmd(e *env) *cobra.Command {
	c := &serviceDeployCmd{env: e}
	cmd := &cobra.Command{
		Use: "deploy NAME -w WORKSPACE [-g GROUP] --compute CLUSTER --model NAME[:VERSION]... --entry FILE [--env NAME=VALUE]... " +
			"[--num-replicas N | --autoscale-min N --autoscale-max N --autoscale-target-utilization P --autoscale-refresh-seconds S] " +
			"[--token-auth | --no-auth | --primary-key KEY --secondary-key KEY] [--scoring-timeout-ms N] [--max-concurrent-requests N] " +
			"[--max-request-wait-ms N] [--retry-idempotent] [--description TEXT] [--tag KEY=VALUE]... [--wait [--timeout DURATION]]",
		Short: "Deploy registered models and an entry script as a web service on an inference cluster",
		Long: `Deploy a web service, as the SDK v1's Model.deploy(ws, NAME, models,
InferenceConfig(entry_script=FILE), AksWebservice.deploy_configuration(...),
deployment_target=CLUSTER) does: the models (--model, repeated: a name for
its latest version, or name:version) and the entry script — a Python file
defining init() and run(raw_data), read from --entry and sent with its
base name — run as replicas on the inference cluster's nodes (--compute, a
cluster made with 'vnetml compute create --type aks'). Deploying a service
that exists redeploys it: every replica is replaced.

Replicas: --num-replicas fixes them; otherwise autoscale is on, between
--autoscale-min (1) and --autoscale-max (10) replicas, aiming at
--autoscale-target-utilization percent (70) of their workers busy, every
--autoscale-refresh-seconds (1).

Auth: key auth by default — callers send the primary or the secondary key
(given with --primary-key/--secondary-key, else generated; see get-keys);
--token-auth asks for a token instead (get-token); --no-auth asks for
nothing.

--scoring-timeout-ms (60000) bounds a call to run(); a replica takes
--max-concurrent-requests calls at once (1), and a call waits at most
--max-request-wait-ms (500) for one. --retry-idempotent says the calls
are idempotent: one whose replica fails before answering (it crashed, say)
is tried on another ready replica, up to 3 tries in all; without it such a
call gets 502.

The command prints the service's state and scoring URI. With --wait it
follows the deployment as wait_for_deployment(show_output=True) does —
the service's state, '.' for each poll — until it is Healthy, or Failed:
then the service's error is printed (an init() that raised: its
traceback), and 'vnetml service logs' has the replicas' output.

Exit status: 0 when the service is deployed (with --wait: Healthy); 2 for
bad input, a refusal, or (with --wait) a Failed deployment; 1 when --wait
times out (--timeout, default 10m; the deployment goes on).`,
		Example: `  vnetml service deploy mysvc -w myworkspace -g mygroup --compute myaks --model mymodel \
      --entry examples/quickstart/score.py --num-replicas 1 --wait

  # Autoscale, token auth, a model version of its own
  vnetml service deploy mysvc -w myworkspace --compute myaks --model mymodel:2 --entry score.py \
      --autoscale-min 1 --autoscale-max 4 --autoscale-target-utilization 50 --token-auth --env MODE=fast`,
		Args: serviceArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.compute, "CLUSTER"), "compute", "the inference cluster to deploy to (required; Model.deploy's deployment_target)")
	f.Var(&listFlag{&c.models, "NAME[:VERSION]"}, "model", "a registered model to serve: its latest version, or NAME:VERSION (required; repeat for more)")
	f.Var(text(&c.entry, "FILE"), "entry", "the entry script, defining init() and run(raw_data) (required; InferenceConfig's entry_script)")
	f.Var(&listFlag{&c.envs, "NAME=VALUE"}, "env", "an environment variable of the replicas; repeat for more")
	f.Var(text(&c.numReplicas, "N"), "num-replicas", "a fixed number of replicas (turns autoscale off)")
	f.Var(text(&c.autoscaleMin, "N"), "autoscale-min", "autoscale: the fewest replicas (default 1)")
	f.Var(text(&c.autoscaleMax, "N"), "autoscale-max", "autoscale: the most replicas (default 10)")
	f.Var(text(&c.autoscaleTarget, "P"), "autoscale-target-utilization", "autoscale: the percentage of the workers to keep busy, 1 to 100 (default 70)")
	f.Var(text(&c.autoscaleEvery, "S"), "autoscale-refresh-seconds", "autoscale: how often to reconsider the replicas, in seconds (default 1)")
	f.BoolVar(&c.tokenAuth, "token-auth", false, "callers send a token (vnetml service get-token) instead of a key")
	f.BoolVar(&c.noAuth, "no-auth", false, "callers send no key nor token")
	f.Var(text(&c.primaryKey, "KEY"), "primary-key", "key auth: the primary key (default: generated, or kept on a redeployment)")
	f.Var(text(&c.secondaryKey, "KEY"), "secondary-key", "key auth: the secondary key (default: generated, or kept on a redeployment)")
	f.Var(text(&c.scoringTimeout, "N"), "scoring-timeout-ms", "how long a call to run() may take, in milliseconds (default 60000)")
	f.Var(text(&c.maxConcurrent, "N"), "max-concurrent-requests", "the calls a replica takes at once (default 1)")
	f.Var(text(&c.maxWait, "N"), "max-request-wait-ms", "how long a call may wait for a free replica, in milliseconds (default 500)")
	f.BoolVar(&c.retry, "retry-idempotent", false, "the scoring calls are idempotent: one whose replica fails before answering is tried on another ready replica")
	f.Var(text(&c.description, "TEXT"), "description", "the service's description")
	f.Var(&listFlag{&c.tags, "KEY=VALUE"}, "tag", "a tag of the service; repeat for more")
	f.BoolVar(&c.wait, "wait", false, "follow the deployment until it is Healthy or Failed (wait_for_deployment(show_output=True))")
	f.Var(text(&c.timeout, "DURATION"), "timeout", "with --wait: how long to wait, e.g. 10m or 90s (default 10m)")
	f.Var(text(&c.poll.value, "DURATION"), "poll-interval", "with --wait: the time between polls (default $"+envPollInterval+", else 1s)")
	_ = f.MarkHidden("poll-interval")
	c.sf.register(f)
	c.out.register(f)
	return cmd
}

// check validates the flags, every problem at once, reads the entry
// script, and returns the deployment they make.
func (c *serviceDeployCmd) check() (api.Service, time.Duration, time.Duration, error) {
	var l armerror.List
	c.sf.check(&l)
	p := api.ServiceProperties{ComputeTarget: c.compute, Models: c.models, Description: c.description}
	if c.compute == "" {
		l.Addf(codeMissingArgument, "--compute", "--compute is required: the inference cluster to deploy to (vnetml compute create NAME --type aks ...; see `vnetml compute list`)")
	}
	if len(c.models) == 0 {
		l.Addf(codeMissingArgument, "--model", "--model is required: a registered model to serve, NAME or NAME:VERSION (see `vnetml model list`)")
	}
	for _, m := range c.models {
		name, version, hasVersion := strings.Cut(m, ":")
		switch {
		case !modelName.MatchString(name):
			l.Addf(codeInvalidArgument, "--model", "--model %q: %q is not a model name: 1 to 255 letters, digits, '-', '_' and '.', starting with a letter or digit", m, name)
		case hasVersion && !modelVersion.MatchString(version):
			l.Addf(codeInvalidArgument, "--model", "--model %q: %q is not a model version: versions are numbers from 1, as `vnetml model list --name %s` shows", m, version, name)
		}
	}
	p.EntryScript = c.readEntry(&l)
	p.EnvironmentVariables = keyValues(&l, "--env", c.envs)
	p.Tags = keyValues(&l, "--tag", c.tags)

	// Replicas: fixed, or autoscale (the SDK's
	// validate_configuration, with the flags named).
	positive := func(flag, s string) *int {
		n, ok := intArg(&l, flag, s)
		if !ok {
			return nil
		}
		if n < 1 {
			l.Addf(codeInvalidArgument, flag, "%s %d must be 1 or more", flag, n)
		}
		return &n
	}
	p.NumReplicas = positive("--num-replicas", c.numReplicas)
	p.AutoscaleMinReplicas = positive("--autoscale-min", c.autoscaleMin)
	p.AutoscaleMaxReplicas = positive("--autoscale-max", c.autoscaleMax)
	p.AutoscaleTargetUtilization = positive("--autoscale-target-utilization", c.autoscaleTarget)
	p.AutoscaleRefreshSeconds = positive("--autoscale-refresh-seconds", c.autoscaleEvery)
	var autoscaleFlags []string
	for _, a := range []struct {
		flag string
		set  bool
	}{{"--autoscale-min", c.autoscaleMin != ""}, {"--autoscale-max", c.autoscaleMax != ""},
		{"--autoscale-target-utilization", c.autoscaleTarget != ""}, {"--autoscale-refresh-seconds", c.autoscaleEvery != ""}} {
		if a.set {
			autoscaleFlags = append(autoscaleFlags, a.flag)
		}
	}
	switch {
	case c.numReplicas != "" && len(autoscaleFlags) > 0:
		l.Addf(codeInvalidArgument, "--num-replicas", "--num-replicas cannot be combined with %s: --num-replicas fixes the replicas, the autoscale flags set autoscale; give one or the other",
			strings.Join(autoscaleFlags, ", "))
	case len(autoscaleFlags) > 0:
		on := true
		p.AutoscaleEnabled = &on
		lo, hi := intOr(p.AutoscaleMinReplicas, 1), intOr(p.AutoscaleMaxReplicas, 10)
		if lo >= 1 && hi >= 1 && hi < lo {
			l.Addf(codeInvalidArgument, "--autoscale-max", "--autoscale-max %d is less than --autoscale-min %d", hi, lo)
		}
		if t := p.AutoscaleTargetUtilization; t != nil && *t > 100 {
			l.Addf(codeInvalidArgument, "--autoscale-target-utilization", "--autoscale-target-utilization %d is a percentage: 1 to 100", *t)
		}
	}

	// Auth: key (default), token, or none — one of them.
	off := false
	keys := c.primaryKey != "" || c.secondaryKey != ""
	keyFlag := "--primary-key"
	if c.primaryKey == "" {
		keyFlag = "--secondary-key"
	}
	switch {
	case c.tokenAuth && c.noAuth:
		l.Addf(codeInvalidArgument, "--no-auth", "--no-auth and --token-auth cannot be combined: --token-auth asks callers for a token, --no-auth for nothing")
	case c.tokenAuth && keys:
		l.Addf(codeInvalidArgument, "--token-auth", "--token-auth cannot be combined with %s: with token auth callers send a token, not a key; drop %s, or --token-auth for key auth", keyFlag, keyFlag)
	case c.noAuth && keys:
		l.Addf(codeInvalidArgument, "--no-auth", "--no-auth cannot be combined with %s: without auth there are no keys; drop %s, or --no-auth for key auth", keyFlag, keyFlag)
	case c.tokenAuth:
		p.AuthEnabled, p.TokenAuthEnabled = &off, true
	case c.noAuth:
		p.AuthEnabled = &off
	}
	p.PrimaryKey, p.SecondaryKey = c.primaryKey, c.secondaryKey
	if keys && c.primaryKey == c.secondaryKey {
		l.Addf(codeInvalidArgument, "--secondary-key", "--secondary-key is the same as --primary-key: the two keys are there to be regenerated one at a time")
	}

	if n := positive("--scoring-timeout-ms", c.scoringTimeout); n != nil {
		p.ScoringTimeoutMs = *n
	}
	if n := positive("--max-concurrent-requests", c.maxConcurrent); n != nil {
		p.ReplicaMaxConcurrentRequests = *n
	}
	if n := positive("--max-request-wait-ms", c.maxWait); n != nil {
		p.MaxRequestWaitTime = *n
	}
	p.RetryIdempotentRequests = c.retry

	// --wait and its companions.
	timeout, interval := defaultServiceTimeout, time.Duration(0)
	if c.timeout != "" {
		d, err := time.ParseDuration(c.timeout)
		switch {
		case !c.wait:
			l.Addf(codeInvalidArgument, "--timeout", "--timeout applies to --wait only")
		case err != nil || d <= 0:
			l.Addf(codeInvalidArgument, "--timeout", "--timeout %q is not a positive duration such as 10m, 90s or 1h", c.timeout)
		default:
			timeout = d
		}
	}
	if c.poll.value != "" && !c.wait {
		l.Addf(codeInvalidArgument, "--poll-interval", "--poll-interval applies to --wait only")
	}
	if c.wait {
		interval = c.poll.check(&l) // $VNETML_POLL_INTERVAL, else 1s; never below minRunPoll
	}
	if l.Len() > 0 {
		return api.Service{}, 0, 0, usageErr(l.In("the command line"))
	}
	return api.Service{Properties: p}, timeout, interval, nil
}

// readEntry reads --entry: its base name and content.
func (c *serviceDeployCmd) readEntry(l *armerror.List) api.ServiceScript {
	if c.entry == "" {
		l.Addf(codeMissingArgument, "--entry", "--entry is required: the entry script, a Python file defining init() and run(raw_data) (such as examples/quickstart/score.py)")
		return api.ServiceScript{}
	}
	st, err := os.Stat(c.entry)
	if err == nil && !st.Mode().IsRegular() {
		l.Addf(codeInvalidArgument, "--entry", "--entry %s is not a regular file: give the entry script itself, a Python file", c.entry)
		return api.ServiceScript{}
	}
	if err == nil && st.Size() > maxEntryScript {
		l.Addf(codeInvalidArgument, "--entry", "--entry %s is %s; an entry script may be at most %s: keep data in the model, not in the script", c.entry, bytesText(st.Size()), bytesText(maxEntryScript))
		return api.ServiceScript{}
	}
	var b []byte
	if err == nil {
		b, err = os.ReadFile(c.entry)
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		l.Addf(codeInvalidArgument, "--entry", "cannot read --entry %s: %v", c.entry, err)
		return api.ServiceScript{}
	}
	if strings.TrimSpace(string(b)) == "" {
		l.Addf(codeInvalidArgument, "--entry", "--entry %s is empty: an entry script defines init() and run(raw_data)", c.entry)
	}
	return api.ServiceScript{Name: filepath.Base(c.entry), Content: string(b)}
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func (c *serviceDeployCmd) run(ctx context.Context, args []string) error {
	svc, timeout, interval, err := c.check()
	if err != nil {
		return err
	}
	name := args[0]
	// The transcript goes to stdout; with -o json, stdout is the
	// service's document and the transcript goes to stderr.
	w := c.env.stdout
	if c.out.json() {
		w = c.env.stderr
	}
	cl, _, ws, err := c.sf.open(ctx)
	if err != nil {
		return err
	}
	got, err := cl.DeployService(ctx, ws, name, svc)
	if err != nil {
		return retargetErr(err, serviceTargets)
	}
	p := got.Properties
	if !c.wait {
		if c.out.json() {
			return writeJSON(c.env.stdout, got)
		}
		_, err := fmt.Fprintf(w, "Deploying service %s to inference cluster %s (generation %d): %s\nScoring URI: %s\n"+
			"Follow it with `vnetml service show %s -w %s`, or deploy with --wait.\n",
			name, p.ComputeTarget, p.Generation, p.State, p.ScoringURI, name, c.sf.workspace)
		return internalErr(err)
	}
	fmt.Fprintf(w, "Deploying service %s to inference cluster %s (generation %d).\n", name, p.ComputeTarget, p.Generation)
	id := client.ServicePath(ws, name)
	sw := &serviceWaiter{w: w, interval: interval, timeout: timeout, now: time.Now, sleep: sleepCtx,
		poll: func(ctx context.Context) (api.Service, error) { return cl.GetService(ctx, id) }}
	last, timedOut, err := sw.run(ctx, got)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(c.env.stderr, "vnetml: the deployment goes on; follow it with `vnetml service show %s -w %s`\n", name, c.sf.workspace)
		}
		return err
	}
	if c.out.json() {
		if err := writeJSON(c.env.stdout, last); err != nil {
			return err
		}
	}
	return c.ended(w, last, timedOut, timeout)
}

// ended reports how the wait ended: the scoring URI of a Healthy
// service; the service's error of a Failed one (exit 2); the state and
// reason at the timeout (exit 1).
func (c *serviceDeployCmd) ended(w io.Writer, s api.Service, timedOut bool, timeout time.Duration) error {
	p := s.Properties
	why := "no error was recorded"
	if p.Error != nil {
		why = p.Error.Code + ": " + p.Error.Message
	}
	switch {
	case p.State == api.ServiceHealthy:
		_, err := fmt.Fprintf(w, "Scoring URI: %s\nSwagger URI: %s\n", p.ScoringURI, p.SwaggerURI)
		return internalErr(err)
	case p.State == api.ServiceFailed:
		return armerror.New("DeploymentFailed", "", "Service deployment polling reached non-successful terminal state, current service state: %s\nError:\n%s\n"+
			"Hint: the replicas' output is in `vnetml service logs %s -w %s`; fix the entry script or the settings and deploy again",
			p.State, why, s.Name, c.sf.workspace)
	case timedOut:
		return fmt.Errorf("deployment polling reached the timeout (%s), current service state: %s (%s); the deployment goes on: follow it with `vnetml service show %s -w %s`",
			timeout, p.State, why, s.Name, c.sf.workspace)
	}
	return fmt.Errorf("the wait ended with service %s %s", s.Name, p.State)
}
