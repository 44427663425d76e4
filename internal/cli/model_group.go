package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// The model commands are the Azure ML SDK v1's model registry:
// Model.register and Run.register_model (register), Model.list (list),
// Model(ws, name, version) (show), Model.download (download) and
// Model.delete (delete). This file holds what they share; each command
// is in its own file.

func newModelCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Register, list, show, download and delete models (Model.register, az ml model ...)",
		Long: `Keep a workspace's models, as the Azure ML SDK v1's Model class does: a
model is a name with numbered versions (1, 2, …, given by the server), each
pointing at a file, or a folder of files, in a datastore of the workspace —
azureml://datastores/<datastore>/paths/<path>.

'vnetml model register' registers a file a run wrote to ./outputs (it stays
in the run's artifacts), or uploads a local file or directory to a datastore
first (LocalUpload/<unix time>/<name>, as the SDK did). 'vnetml model
download' fetches a version's files. Both transfers go through the storage
account's data plane from your client address (--client-address,
VNETML_CLIENT_ADDRESS, vnetml login --client-address, else 203.0.113.10),
so the account's firewall judges you, and a refusal names the rule and the
fix.`,
		Args: noArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(newModelRegisterCmd(e), newModelListCmd(e), newModelShowCmd(e), newModelDownloadCmd(e), newModelDeleteCmd(e))
	return cmd
}

// modelFlags say which workspace a model command addresses, and which
// server: the run commands' -w/--workspace and -g.
type modelFlags struct {
	srv       serverFlags
	group     string
	workspace string
}

func (f *modelFlags) register(fs *pflag.FlagSet) {
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
func (f *modelFlags) check(l *armerror.List) {
	if f.workspace == "" {
		l.Addf(codeMissingArgument, "--workspace", "-w/--workspace is required: the workspace of the models")
	}
}

// open returns a client, the resolved server flags and the workspace's id.
func (f *modelFlags) open(ctx context.Context) (*client.Client, serverFlags, string, error) {
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

var (
	// modelName and modelVersion are the server's rules, checked before
	// anything is uploaded.
	modelName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$`)
	modelVersion = regexp.MustCompile(`^[1-9][0-9]{0,8}$`)
)

// checkModelName adds a malformed model name (target: the flag or
// argument that gave it) to l.
func checkModelName(l *armerror.List, target, name string) {
	if !modelName.MatchString(name) {
		l.Addf(codeInvalidArgument, target, "%q is not a model name: 1 to 255 letters, digits, '-', '_' and '.', starting with a letter or digit", name)
	}
}

// checkModelVersion adds a malformed --version to l.
func checkModelVersion(l *armerror.List, v string) {
	if v != "" && !modelVersion.MatchString(v) {
		l.Addf(codeInvalidArgument, "--version", "--version %q is not a model version: versions are numbers from 1, as `vnetml model list --name NAME` shows", v)
	}
}

// modelArg is the positional NAME of the commands that take one.
func modelArg(cmd *cobra.Command, args []string) error {
	if err := nameArg("the model's name, as `vnetml model list` shows it")(cmd, args); err != nil {
		return err
	}
	var l armerror.List
	checkModelName(&l, "NAME", args[0])
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	return nil
}

// modelTargets map the fields of the server's errors to the flags that
// set them.
var modelTargets = map[string]string{
	"name":           "--name",
	"path":           "--path",
	"runId":          "--run",
	"experimentName": "--experiment",
	"datastore":      "--datastore",
	"description":    "--description",
	"tags":           "--tag",
	"properties":     "--property",
	"version":        "--version",
}

// firewallRefusal explains a data-plane refusal of a model transfer:
// the SDK moves models from your machine, outside the virtual network.
// Other errors pass unchanged.
func firewallRefusal(err error, doing, account, from string) error {
	a, ok := armerror.As(err)
	if !ok || (a.Code != "AuthorizationFailure" && a.Code != "ConnectionDenied") {
		return err
	}
	return armerror.New(a.Code, "--client-address", "%s from %s was refused: %s\nHint: models move between your machine, outside the virtual network, and the storage account: "+
		"add your public address to the account's IP rules (vnetml storage account update %s --add-ip-rule %s/32), or call from an address they admit (--client-address)",
		doing, from, a.Message, account, from)
}

// fileProgress draws the progress of one file at a time.
type fileProgress struct {
	w    io.Writer
	verb string
	off  bool
	cur  string
	bar  *progress
}

func (f *fileProgress) update(file string, done, total int64) {
	if file != f.cur {
		f.bar.end()
		f.cur, f.bar = file, newProgress(f.w, f.verb, file, total, 0, f.off)
	}
	f.bar.update(done)
}

func (f *fileProgress) end() { f.bar.end() }

// modelSource says where a version came from: the run, or the datastore.
func modelSource(v api.ModelVersion) string {
	p := v.Properties
	if p.RunID != "" {
		return "run " + p.RunID + " (" + p.ExperimentName + ")"
	}
	if ds, _, ok := api.ParseModelURI(p.ModelURI); ok {
		return "datastore " + ds
	}
	return ""
}

// printModelVersion prints a version as a table of its properties.
func printModelVersion(w io.Writer, v api.ModelVersion) error {
	p := v.Properties
	fmt.Fprintf(w, "Model %s version %s\n\n", p.ModelName, firstOf(p.Version, v.Name))
	t := table{header: []string{"Property", "Value"}}
	t.add("modelUri", p.ModelURI)
	if p.RunID != "" {
		t.add("run", p.RunID)
		t.add("experiment", p.ExperimentName)
	}
	if p.Description != "" {
		t.add("description", p.Description)
	}
	t.add("created", utc(&p.CreatedTime))
	if p.CreatedBy != "" {
		t.add("createdBy", p.CreatedBy)
	}
	for _, kv := range sortedPairs(p.Tags) {
		t.add("tag", kv)
	}
	for _, kv := range sortedPairs(p.Properties) {
		t.add("property", kv)
	}
	return t.write(w)
}

// sortedPairs renders a map as k=v, sorted.
func sortedPairs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// joinPairs renders a map as k=v, sorted, comma-separated.
func joinPairs(m map[string]string) string { return strings.Join(sortedPairs(m), ", ") }
