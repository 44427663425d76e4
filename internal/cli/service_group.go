package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// The service commands are the Azure ML SDK v1's web services on an
// inference cluster: Model.deploy(ws, name, models, InferenceConfig(entry
// script), AksWebservice.deploy_configuration(...), aks_target) and
// wait_for_deployment(show_output=True) (deploy), Webservice(ws, name)
// (show), Webservice.list (list), get_logs (logs), get_keys (get-keys),
// regen_key (regen-key), get_token (get-token), delete (delete) and run
// (score). This file holds what they share; each command is in its own
// file.

func newServiceCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Deploy registered models as web services on an inference cluster and score them (Model.deploy, az ml service ...)",
		Long: `Serve a workspace's registered models as web services, as the Azure ML SDK
v1's Model.deploy(...) to an AksCompute does: an entry script (init() and
run(raw_data)) runs as replicas on the inference cluster's nodes, behind
the cluster's front end (azureml-fe), at
http://<front end>:80/api/v1/service/<name>/score, or, on a cluster with
TLS (compute create --ssl-*), https://<cname or generated name>/api/v1/service/<name>/score.

'vnetml service deploy' sends the models, the entry script and
AksWebservice.deploy_configuration's settings; --wait follows the
deployment to Healthy or Failed. 'vnetml service score' calls the scoring
URI as a client outside the virtual network, from your client address
(--from), so the NSG of the cluster's subnet judges the call as Azure
would: a refusal names the rule.`,
		Args: noArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(newServiceDeployCmd(e), newServiceShowCmd(e), newServiceListCmd(e), newServiceLogsCmd(e),
		newServiceGetKeysCmd(e), newServiceRegenKeyCmd(e), newServiceGetTokenCmd(e), newServiceDeleteCmd(e), newServiceScoreCmd(e))
	return cmd
}

// serviceFlags say which workspace a service command addresses, and which
// server: the model commands' -w/--workspace and -g.
type serviceFlags struct {
	srv       serverFlags
	group     string
	workspace string
}

func (f *serviceFlags) register(fs *pflag.FlagSet) {
	fs.VarP(text(&f.workspace, "WORKSPACE"), "workspace", "w", "the workspace (required; --workspace-name is the same flag)")
	groupFlag(fs, &f.group, false)
	f.srv.register(fs)
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "workspace-name" {
			name = "workspace"
		}
		return pflag.NormalizedName(name)
	})
}

// check adds a missing workspace to l.
func (f *serviceFlags) check(l *armerror.List) {
	if f.workspace == "" {
		l.Addf(codeMissingArgument, "--workspace", "-w/--workspace is required: the workspace of the services")
	}
}

// open returns a client, the resolved server flags and the workspace's id.
func (f *serviceFlags) open(ctx context.Context) (*client.Client, serverFlags, string, error) {
	cl, r, err := f.srv.client()
	if err != nil {
		return nil, r, "", err
	}
	id, err := findResource(ctx, cl, workspaceType, r.subscription, f.group, f.workspace)
	if err != nil {
		return nil, r, "", retargetErr(err, map[string]string{"NAME": "--workspace"})
	}
	return cl, r, id, nil
}

// serviceName is the server's rule (and the SDK's) for a service's name,
// checked before anything is read or sent.
var serviceName = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}[a-z0-9]$`)

// serviceArg is the positional NAME of the service commands.
// checkOpen checks the flags and connects, for the commands that take
// nothing else: the client and the workspace's id.
func (f *serviceFlags) checkOpen(ctx context.Context) (*client.Client, string, error) {
	var l armerror.List
	f.check(&l)
	if l.Len() > 0 {
		return nil, "", usageErr(l.In("the command line"))
	}
	cl, _, ws, err := f.open(ctx)
	return cl, ws, err
}

func serviceArg(cmd *cobra.Command, args []string) error {
	if err := nameArg("the service's name, as `vnetml service list` shows it")(cmd, args); err != nil {
		return err
	}
	if !serviceName.MatchString(args[0]) {
		return usageErr(armerror.New(codeInvalidArgument, "NAME", "%q is not a service name: 3 to 32 lower-case letters, digits and '-', starting with a letter and not ending with '-' (the SDK's rule)", args[0]))
	}
	return nil
}

// serviceTargets map the fields of the server's errors to the flags that
// set them.
var serviceTargets = map[string]string{
	"properties.name":                         "NAME",
	"properties.computeTarget":                "--compute",
	"properties.models":                       "--model",
	"properties.entryScript":                  "--entry",
	"properties.environmentVariables":         "--env",
	"properties.description":                  "--description",
	"properties.tags":                         "--tag",
	"properties.numReplicas":                  "--num-replicas",
	"properties.autoscaleEnabled":             "--autoscale-min",
	"properties.autoscaleMinReplicas":         "--autoscale-min",
	"properties.autoscaleMaxReplicas":         "--autoscale-max",
	"properties.autoscaleTargetUtilization":   "--autoscale-target-utilization",
	"properties.autoscaleRefreshSeconds":      "--autoscale-refresh-seconds",
	"properties.authEnabled":                  "--no-auth",
	"properties.tokenAuthEnabled":             "--token-auth",
	"properties.primaryKey":                   "--primary-key",
	"properties.secondaryKey":                 "--secondary-key",
	"properties.scoringTimeoutMs":             "--scoring-timeout-ms",
	"properties.replicaMaxConcurrentRequests": "--max-concurrent-requests",
	"properties.maxRequestWaitTime":           "--max-request-wait-ms",
	"keyType":                                 "--key",
}

// serviceNotFound turns the server's 404 of an operation on service name
// into one that names the workspace's services; a 404 of a service that
// exists (its logs while it does not run) and other errors pass as they
// are, retargeted.
func serviceNotFound(ctx context.Context, cl *client.Client, ws, workspace, name string, err error) error {
	if !isNotFound(err) {
		return retargetErr(err, serviceTargets)
	}
	if _, gerr := cl.GetService(ctx, client.ServicePath(ws, name)); gerr == nil || !isNotFound(gerr) {
		return err
	}
	return armerror.New(codeNotFound, "NAME", "Service %s was not found in workspace %s%s; deploy it with `vnetml service deploy %s -w %s ...`, or see `vnetml service list -w %s`",
		name, workspace, knownNames(ctx, cl, ws+"/services"), name, workspace, workspace)
}

// getService returns service name of the workspace, or a NotFound naming
// the services there are.
func getService(ctx context.Context, cl *client.Client, ws, workspace, name string) (api.Service, error) {
	s, err := cl.GetService(ctx, client.ServicePath(ws, name))
	if err != nil {
		return s, serviceNotFound(ctx, cl, ws, workspace, name, err)
	}
	return s, nil
}

// authMode says how callers of a service authenticate: key, token or none.
func authMode(p api.ServiceProperties) string {
	switch {
	case p.TokenAuthEnabled:
		return "token"
	case p.AuthEnabled == nil || *p.AuthEnabled:
		return "key"
	}
	return "none"
}

// replicasText renders a service's replica settings: "2" (fixed), or
// "autoscale 1-10 at 70%, every 1s".
func replicasText(p api.ServiceProperties) string {
	if p.NumReplicas != nil {
		return strconv.Itoa(*p.NumReplicas)
	}
	val := func(q *int) string {
		if q == nil {
			return "?"
		}
		return strconv.Itoa(*q)
	}
	return fmt.Sprintf("autoscale %s-%s at %s%%, every %ss", val(p.AutoscaleMinReplicas), val(p.AutoscaleMaxReplicas),
		val(p.AutoscaleTargetUtilization), val(p.AutoscaleRefreshSeconds))
}

// printService prints a service: its state and error, its settings, its
// endpoints and its replicas.
func printService(w io.Writer, s api.Service) error {
	p := s.Properties
	fmt.Fprintf(w, "Service %s: %s\n", s.Name, firstOf(p.State, "unknown"))
	if p.Error != nil {
		fmt.Fprintf(w, "Error: %s: %s\n", p.Error.Code, p.Error.Message)
	}
	fmt.Fprintln(w)
	t := table{header: []string{"Property", "Value"}}
	t.add("compute", p.ComputeTarget)
	t.add("models", strings.Join(p.Models, ", "))
	t.add("entryScript", p.EntryScript.Name)
	t.add("replicas", replicasText(p))
	t.add("auth", authMode(p))
	t.add("scoringUri", p.ScoringURI)
	t.add("swaggerUri", p.SwaggerURI)
	t.add("scoringTimeoutMs", strconv.Itoa(p.ScoringTimeoutMs))
	t.add("maxConcurrentRequests", strconv.Itoa(p.ReplicaMaxConcurrentRequests))
	t.add("maxRequestWaitMs", strconv.Itoa(p.MaxRequestWaitTime))
	if p.Description != "" {
		t.add("description", p.Description)
	}
	for _, kv := range sortedPairs(p.EnvironmentVariables) {
		t.add("env", kv)
	}
	for _, kv := range sortedPairs(p.Tags) {
		t.add("tag", kv)
	}
	t.add("generation", strconv.FormatInt(p.Generation, 10))
	t.add("created", utc(p.CreatedTime))
	t.add("updated", utc(p.UpdatedTime))
	if err := t.write(w); err != nil {
		return err
	}
	if len(p.Replicas) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	rt := table{header: []string{"Replica", "Node", "PodAddress", "State", "Restarts", "Error"}}
	for _, r := range p.Replicas {
		rt.add(r.ID, r.NodeID, r.PodAddress, r.State, strconv.Itoa(r.Restarts), firstLine(r.Error))
	}
	return rt.write(w)
}

// firstLine is the first line of s, marked when more follow (a traceback
// in a table cell would break the table).
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
