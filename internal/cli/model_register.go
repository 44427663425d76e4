package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// modelRegisterCmd is `vnetml model register`: the SDK v1's
// Run.register_model(model_name, model_path) (--run) and
// Model.register(ws, model_path, model_name) (--file).
type modelRegisterCmd struct {
	env         *env
	mf          modelFlags
	out         outputFlag
	name        string
	runID       string
	experiment  string
	path        string
	file        string
	datastore   string
	description string
	tags        []string
	properties  []string
	noProgress  bool
}

func newModelRegisterCmd(e *env) *cobra.Command {
	c := &modelRegisterCmd{env: e}
	cmd := &cobra.Command{
		Use: "register --name NAME -w WORKSPACE [-g GROUP] (--run RUN_ID [-e EXPERIMENT] --path outputs/FILE | --file LOCAL [--datastore NAME] | --path PATH [--datastore NAME]) " +
			"[--description TEXT] [--tag KEY=VALUE]... [--property KEY=VALUE]...",
		Short: "Register a model from a run's outputs, a local file or a datastore path",
		Long: `Register the next version of a model (1 for a new name), as the SDK v1 does:

  --run RUN_ID --path outputs/model.json
      Run.register_model: a file (or folder) the run wrote to ./outputs, kept
      in the run's artifacts; the run must be Completed. -e names its
      experiment (default: found by listing the workspace's).
  --file LOCAL [--datastore NAME]
      Model.register with a local path: the file (or every file of the
      directory) is uploaded first to the datastore (default
      workspaceblobstore) at LocalUpload/<unix time>/<name>, through the
      storage account's firewall from your client address, then registered.
  --path PATH [--datastore NAME]
      a file or folder already in the datastore.

The server checks that the files exist, and gives the version. Tags and
properties are KEY=VALUE, repeated; at most 50 of each.`,
		Example: `  vnetml model register --name mymodel -w myworkspace --run quickstart_1700000000_1a2b3c4d --path outputs/model.json
  vnetml model register --name mymodel -w myworkspace --file ./model.json --tag stage=dev --description "hand-made"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.VarP(text(&c.name, "NAME"), "name", "n", "the model's name (required)")
	f.Var(text(&c.runID, "RUN_ID"), "run", "register from this run's artifacts (with --path)")
	f.VarP(text(&c.experiment, "EXPERIMENT"), "experiment", "e", "the run's experiment (default: found by listing the workspace's)")
	f.Var(text(&c.path, "PATH"), "path", "the model's file or folder: in the run's artifacts (outputs/model.json) with --run, else in the datastore")
	f.Var(text(&c.file, "LOCAL"), "file", "a local file or directory to upload and register")
	f.Var(text(&c.datastore, "NAME"), "datastore", "the datastore of --file or --path (default "+defaultModelDatastore+")")
	f.Var(text(&c.description, "TEXT"), "description", "the version's description")
	f.Var(&listFlag{&c.tags, "KEY=VALUE"}, "tag", "a tag of the version; repeat for more")
	f.Var(&listFlag{&c.properties, "KEY=VALUE"}, "property", "a property of the version; repeat for more")
	f.BoolVar(&c.noProgress, "no-progress", false, "show no upload progress on stderr")
	c.mf.register(f)
	c.mf.srv.registerClientAddress(f)
	c.out.register(f)
	return cmd
}

// defaultModelDatastore is where the SDK v1 put local models.
const defaultModelDatastore = "workspaceblobstore"

// check validates the flags, every problem at once, and returns the
// request they make (without what the run or the upload decide).
func (c *modelRegisterCmd) check() (api.ModelRegisterRequest, error) {
	var l armerror.List
	c.mf.check(&l)
	req := api.ModelRegisterRequest{Path: c.path, Description: c.description}
	switch {
	case c.name == "":
		l.Addf(codeMissingArgument, "--name", "-n/--name is required: the model's name (a new name starts at version 1)")
	default:
		checkModelName(&l, "--name", c.name)
	}
	switch {
	case c.runID != "" && c.file != "":
		l.Addf(codeInvalidArgument, "--file", "--run and --file cannot be combined: register a run's output (--run with --path) or a local file (--file)")
	case c.runID != "":
		if c.path == "" {
			l.Addf(codeMissingArgument, "--path", "--path is required with --run: the model's file in the run's artifacts, such as outputs/model.json (see `vnetml run show %s`)", c.runID)
		}
		if c.datastore != "" {
			l.Addf(codeInvalidArgument, "--datastore", "--datastore goes with --file or --path alone: a run's outputs are in its artifacts")
		}
		if !runIDName.MatchString(c.runID) {
			l.Addf(codeInvalidArgument, "--run", "--run %q is not a run id: 1 to 255 letters, digits, '_', '-' and '.', not starting with '.'", c.runID)
		}
	case c.file != "":
		if c.path != "" {
			l.Addf(codeInvalidArgument, "--path", "--path and --file cannot be combined: --file is uploaded to LocalUpload/<unix time>/<its name>")
		}
	case c.path == "":
		l.Addf(codeMissingArgument, "--run", "say what to register: --run RUN_ID --path outputs/FILE (a run's output), --file LOCAL (a local file), or --path PATH (in a datastore)")
	}
	if c.experiment != "" {
		if c.runID == "" {
			l.Addf(codeInvalidArgument, "--experiment", "--experiment goes with --run: it is the run's experiment")
		} else if !experimentName.MatchString(c.experiment) {
			l.Addf(codeInvalidArgument, "--experiment", "--experiment %q is not an experiment name: 1 to 255 letters, digits, '_' and '-', starting with a letter or digit", c.experiment)
		}
	}
	req.Tags = keyValues(&l, "--tag", c.tags)
	req.Properties = keyValues(&l, "--property", c.properties)
	if l.Len() > 0 {
		return req, usageErr(l.In("the command line"))
	}
	return req, nil
}

// keyValues parses repeated KEY=VALUE flags.
func keyValues(l *armerror.List, flag string, kvs []string) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			l.Addf(codeInvalidArgument, flag, "%s %q is not KEY=VALUE (%s stage=dev; %s note= for an empty value)", flag, kv, flag, flag)
		case k == "":
			l.Addf(codeInvalidArgument, flag, "%s %q has no key before '='", flag, kv)
		default:
			if _, dup := out[k]; dup {
				l.Addf(codeInvalidArgument, flag, "%s sets %s twice: give each key once", flag, k)
			}
			out[k] = v
		}
	}
	return out
}

func (c *modelRegisterCmd) run(ctx context.Context, _ []string) error {
	req, err := c.check()
	if err != nil {
		return err
	}
	// The transcript goes to stdout; with -o json, stdout is the
	// version's document and the transcript goes to stderr.
	w := c.env.stdout
	if c.out.json() {
		w = c.env.stderr
	}
	cl, r, ws, err := c.mf.open(ctx)
	if err != nil {
		return err
	}
	switch {
	case c.runID != "":
		rf := runFlags{workspace: c.mf.workspace, experiment: c.experiment}
		run, err := rf.findRun(ctx, cl, ws, c.runID)
		if err != nil {
			return retargetErr(err, map[string]string{"RUN_ID": "--run"})
		}
		req.RunID, req.ExperimentName = firstOf(run.Properties.RunID, run.Name), run.Properties.Experiment
	case c.file != "":
		if req.Path, err = c.upload(ctx, w, cl, r, ws); err != nil {
			return err
		}
		req.Datastore = firstOf(c.datastore, defaultModelDatastore)
	default:
		req.Datastore = c.datastore
	}
	v, err := cl.RegisterModel(ctx, ws, c.name, req)
	if err != nil {
		return retargetErr(err, modelTargets)
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, v)
	}
	_, err = fmt.Fprintf(w, "Registered model %s version %s: %s\n", v.Properties.ModelName, v.Properties.Version, v.Properties.ModelURI)
	return internalErr(err)
}

// upload uploads --file to the datastore, as the SDK did, and returns
// the path to register.
func (c *modelRegisterCmd) upload(ctx context.Context, w io.Writer, cl *client.Client, r serverFlags, ws string) (string, error) {
	name := firstOf(c.datastore, defaultModelDatastore)
	ds, err := cl.GetDatastore(ctx, ws, name)
	if err != nil {
		if isNotFound(err) {
			return "", armerror.New(codeNotFound, "--datastore", "Datastore %q was not found in workspace %s%s; use workspaceblobstore or a datastore listed by `vnetml workspace datastore list -w %s`",
				name, c.mf.workspace, knownNames(ctx, cl, ws+"/datastores"), c.mf.workspace)
		}
		return "", err
	}
	from, err := r.dataPlaneAddress()
	if err != nil {
		return "", err
	}
	hc, err := cl.DataPlane(ctx, from.String())
	if err != nil {
		return "", err
	}
	bar := &fileProgress{w: c.env.stderr, verb: "Uploading", off: c.noProgress}
	prefix := "LocalUpload/" + strconv.FormatInt(time.Now().Unix(), 10)
	path, files, err := cl.UploadModel(ctx, hc, ds, c.file, prefix, bar.update)
	bar.end()
	if err != nil {
		if e, ok := armerror.As(err); ok && e.Target == "file" {
			c := *e
			c.Target = "--file"
			return "", usageErr(&c)
		}
		return "", firewallRefusal(err, fmt.Sprintf("Uploading %s to datastore %s (storage account %s)", filepath.Base(c.file), ds.Name, ds.Properties.AccountName),
			ds.Properties.AccountName, from.String())
	}
	var size int64
	for _, f := range files {
		size += f.Size
	}
	what := filepath.Base(c.file)
	if len(files) > 1 {
		what = fmt.Sprintf("%d files of %s", len(files), what)
	}
	_, err = fmt.Fprintf(w, "Uploaded %s (%s) to datastore %s as %s.\n", what, bytesText(size), ds.Name, path)
	return path, internalErr(err)
}
