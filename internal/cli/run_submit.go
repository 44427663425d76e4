package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/snapshot"
)

// runSubmitCmd is `vnetml run submit`: the SDK's
// Experiment(ws, name).submit(ScriptRunConfig(source_directory, script,
// arguments, compute_target, environment variables, max_run_duration)),
// and with --stream run.wait_for_completion(show_output=True).
type runSubmitCmd struct {
	env         *env
	rf          runFlags
	out         outputFlag
	poll        pollFlag
	compute     string
	source      string
	script      string
	args        []string
	envs        []string
	datastore   string
	maxDuration string
	maxRetries  string
	runID       string
	stream      bool
	noProgress  bool
	argv        []string // the command after --
	before      []string // positional arguments before -- (refused)
}

// Default datastore of a run's snapshot, as the SDK v1's
// source_directory_data_store.
const defaultSnapshotDatastore = "workspacefilestore"

func newRunSubmitCmd(e *env) *cobra.Command {
	c := &runSubmitCmd{env: e}
	cmd := &cobra.Command{
		Use: "submit -w WORKSPACE [-g GROUP] -e EXPERIMENT --compute CLUSTER --source DIR (--script FILE [--arg ARG]... | -- ARGV...) " +
			"[--env NAME=VALUE]... [--datastore NAME] [--max-duration DURATION] [--max-retries N] [--run-id ID] [--stream]",
		Short: "Pack a source directory, upload it and run a script on a compute cluster",
		Long: `Submit a run, as the SDK v1's Experiment.submit(ScriptRunConfig(...)):

 1. Pack --source into a snapshot (gzip tar; the same tree gives the same
    snapshot id). The directory's .amlignore, else its .gitignore, leaves
    files out with git's rules; symlinks to files inside are packed as the
    file, other symlinks, sockets and devices are skipped and listed. The
    SDK's limits hold: 300 MB and 2000 files.
 2. Upload it to the datastore (--datastore: workspacefilestore, the SDK's
    default, workspaceblobstore, or one you registered) as
    snapshots/<id>.tar.gz, from your client address (--client-address,
    VNETML_CLIENT_ADDRESS, vnetml login --client-address, else
    203.0.113.10): the storage account's firewall judges you as it judged
    the SDK on your laptop, and a refusal names the rule. A snapshot that
    is there already (same id, same size) is reused, not sent again.
 3. Submit the run: --script runs with python3 with the --arg arguments
    (ScriptRunConfig's script and arguments), or the command after -- runs
    as it is. --env sets environment variables; --max-duration bounds each
    attempt; --max-retries gives the run more attempts when its node is
    lost. The run id is EXPERIMENT_<unix time>_<8 hex digits>, as the SDK
    makes it, unless --run-id.

The command prints the run id. With --stream it follows the run as
wait_for_completion(show_output=True) does: each status change with its
time, the driver log as it is written, then the execution summary.

In a virtual network, the node downloads the snapshot from inside it: the
2019 article's advice holds (a file share behind a firewall fails at
Preparing; use --datastore workspaceblobstore), and so does every rule on
the way, named in the run's error.

Exit status: 0 when the run is submitted (with --stream: when it
completes); 1 when it fails or is canceled (with --stream; its error is
printed); 2 for bad input, a snapshot over the limits, or a refusal.`,
		Example: `  vnetml run submit -w myworkspace -g mygroup -e quickstart --compute cpucluster \
      --source examples/quickstart/train --script train.py --arg --epochs --arg 5 \
      --datastore workspaceblobstore --stream

  # Any command, after --
  vnetml run submit -w myworkspace -e smoke --compute cpucluster --source . \
      --datastore workspaceblobstore --env MODE=fast -- sh run.sh --verbose`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				c.before, c.argv = args[:dash], args[dash:]
			} else {
				c.before = args
			}
			return c.run(cmd.Context(), args)
		},
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.compute, "CLUSTER"), "compute", "the compute cluster to run on (required; ScriptRunConfig's compute_target)")
	f.Var(text(&c.source, "DIR"), "source", "the source directory to pack and upload (required; ScriptRunConfig's source_directory)")
	f.Var(text(&c.script, "FILE"), "script", "the script to run with python3, relative to --source (or give the command after --)")
	f.Var(&listFlag{&c.args, "ARG"}, "arg", "an argument of the script; repeat for more (--arg --epochs --arg 5)")
	f.Var(&listFlag{&c.envs, "NAME=VALUE"}, "env", "an environment variable of the run; repeat for more")
	f.Var(text(&c.datastore, "NAME"), "datastore", "the datastore for the snapshot: workspacefilestore (default), workspaceblobstore, or a registered one")
	f.Var(text(&c.maxDuration, "DURATION"), "max-duration", "the longest an attempt may run, e.g. 1h or 90m (default: no bound)")
	f.Var(text(&c.maxRetries, "N"), "max-retries", "more attempts when the run's node is lost (default 0)")
	f.Var(text(&c.runID, "ID"), "run-id", "the run's id (default EXPERIMENT_<unix time>_<8 hex digits>)")
	f.BoolVar(&c.stream, "stream", false, "follow the run: status changes and the driver log until it ends (wait_for_completion(show_output=True))")
	f.BoolVar(&c.noProgress, "no-progress", false, "show no upload progress on stderr")
	c.rf.register(f, "the experiment (required; created by its first run)")
	c.rf.srv.registerClientAddress(f)
	c.poll.register(f)
	c.out.register(f)
	return cmd
}

// submitTargets maps the fields of the server's errors to the flags that
// set them.
var submitTargets = map[string]string{
	"experimentName":                      "--experiment",
	"runId":                               "--run-id",
	"properties.script":                   "--script",
	"properties.arguments":                "--arg",
	"properties.command":                  "--",
	"properties.environmentVariables":     "--env",
	"properties.target":                   "--compute",
	"properties.sourceDirectoryDataStore": "--datastore",
	"properties.snapshotId":               "--source",
	"properties.maxRunDurationSeconds":    "--max-duration",
	"properties.maxRetries":               "--max-retries",
}

// check validates the flags; every problem is reported at once.
func (c *runSubmitCmd) check() (api.RunProperties, time.Duration, error) {
	var l armerror.List
	c.rf.check(&l)
	p := api.RunProperties{Target: c.compute, Script: c.script, Arguments: c.args, Command: c.argv,
		SourceDirectoryDataStore: firstOf(c.datastore, defaultSnapshotDatastore)}
	if c.rf.experiment == "" {
		l.Addf(codeMissingArgument, "--experiment", "-e/--experiment is required: the experiment the run belongs to (created by its first run)")
	}
	if c.compute == "" {
		l.Addf(codeMissingArgument, "--compute", "--compute is required: the compute cluster to run on (see `vnetml compute list`)")
	}
	if c.source == "" {
		l.Addf(codeMissingArgument, "--source", "--source is required: the directory holding the script, packed and uploaded as the run's snapshot")
	}
	if len(c.before) > 0 {
		l.Addf(codeInvalidArgument, "", "unexpected argument %q: every input is a flag, and a command to run goes after -- (vnetml run submit ... -- python3 train.py)", c.before[0])
	}
	switch {
	case c.script != "" && len(c.argv) > 0:
		l.Addf(codeInvalidArgument, "--script", "--script and a command after -- cannot be combined: give the script (with --arg for its arguments) or the command")
	case c.script == "" && len(c.argv) == 0:
		l.Addf(codeMissingArgument, "--script", "give the script to run with --script FILE (run with python3), or the command after -- (-- sh run.sh)")
	case len(c.argv) > 0 && len(c.args) > 0:
		l.Addf(codeInvalidArgument, "--arg", "--arg goes with --script; with a command after --, put its arguments in the command")
	case len(c.argv) > 0 && c.argv[0] == "":
		l.Addf(codeInvalidArgument, "--", "the command after -- starts with an empty program name")
	case c.script != "":
		// ./train.py is train.py: the snapshot names its files without
		// the dot, and so does the node.
		if s := path.Clean(filepath.ToSlash(c.script)); path.IsAbs(s) || s == "." || s == ".." || strings.HasPrefix(s, "../") {
			l.Addf(codeInvalidArgument, "--script", "--script %q must be a path inside --source, relative to it (train.py, src/train.py)", c.script)
		} else {
			c.script, p.Script = s, s
		}
	}
	if len(c.envs) > 0 {
		p.EnvironmentVariables = map[string]string{}
	}
	for _, kv := range c.envs {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			l.Addf(codeInvalidArgument, "--env", "--env %q is not NAME=VALUE: give the variable's name, '=', and its value (--env MODE=fast; --env EMPTY= for an empty value)", kv)
		case k == "":
			l.Addf(codeInvalidArgument, "--env", "--env %q has no name before '='", kv)
		default:
			if _, dup := p.EnvironmentVariables[k]; dup {
				l.Addf(codeInvalidArgument, "--env", "--env sets %s twice: give each variable once", k)
			}
			p.EnvironmentVariables[k] = v
		}
	}
	if c.maxDuration != "" {
		d, err := time.ParseDuration(c.maxDuration)
		if err != nil || d <= 0 {
			l.Addf(codeInvalidArgument, "--max-duration", "--max-duration %q is not a positive duration such as 1h, 90m or 3600s", c.maxDuration)
		} else {
			p.MaxRunDurationSeconds = int64(math.Ceil(d.Seconds()))
		}
	}
	if n, ok := intArg(&l, "--max-retries", c.maxRetries); ok {
		if n < 0 {
			l.Addf(codeInvalidArgument, "--max-retries", "--max-retries %d is negative: give 0 (no retry) or more", n)
		}
		p.MaxRetries = n
	}
	if c.runID != "" && !runIDName.MatchString(c.runID) {
		l.Addf(codeInvalidArgument, "--run-id", "--run-id %q is not a run id: 1 to 255 letters, digits, '_', '-' and '.', not starting with '.'", c.runID)
	}
	interval := c.poll.check(&l)
	if l.Len() > 0 {
		return p, 0, usageErr(l.In("the command line"))
	}
	return p, interval, nil
}

// newRunID is the SDK's run id: experiment_<unix seconds>_<8 hex digits>.
func newRunID(experiment string, now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return experiment + "_" + strconv.FormatInt(now.Unix(), 10) + "_" + hex.EncodeToString(b[:])
}

func (c *runSubmitCmd) run(ctx context.Context, _ []string) error {
	props, interval, err := c.check()
	if err != nil {
		return err
	}
	// The transcript goes to stdout; with -o json, stdout is the run's
	// document and the transcript goes to stderr.
	w := c.env.stdout
	if c.out.json() {
		w = c.env.stderr
	}
	packed, info, err := c.pack(w)
	if err != nil {
		return err
	}
	defer os.Remove(packed)
	cl, r, ws, err := c.rf.open(ctx)
	if err != nil {
		return err
	}
	from, err := r.dataPlaneAddress()
	if err != nil {
		return err
	}
	ds, err := c.datastoreOf(ctx, cl, ws, props.SourceDirectoryDataStore)
	if err != nil {
		return err
	}
	if err := c.upload(ctx, w, cl, ds, packed, info, from.String()); err != nil {
		return err
	}
	props.SnapshotID = info.SHA256
	runID := firstOf(c.runID, newRunID(c.rf.experiment, time.Now()))
	run, err := cl.SubmitRun(ctx, ws, c.rf.experiment, runID, api.Run{Properties: props})
	if err != nil {
		return retargetErr(err, submitTargets)
	}
	if !c.stream {
		if c.out.json() {
			return writeJSON(c.env.stdout, run)
		}
		_, err := fmt.Fprintf(w, "Submitted run %s of experiment %s to compute %s.\nRunId: %s\n", runID, c.rf.experiment, c.compute, runID)
		return internalErr(err)
	}
	fmt.Fprintf(w, "Submitted run %s of experiment %s to compute %s.\n\nRunId: %s\nWeb View: none\n\n", runID, c.rf.experiment, c.compute, runID)
	fol := &runFollower{cl: cl, id: client.RunPath(ws, c.rf.experiment, runID), interval: interval, statuses: true, out: &lineWriter{w: w}}
	final, err := fol.follow(ctx)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(c.env.stderr, "vnetml: the run goes on; follow it with `vnetml run logs %s -w %s -e %s --follow`\n", runID, c.rf.workspace, c.rf.experiment)
		}
		return err
	}
	printRunSummary(w, final, time.Now())
	if c.out.json() {
		if err := writeJSON(c.env.stdout, final); err != nil {
			return err
		}
	}
	return runEnded(final)
}

// pack packs --source to a temporary file and says what went in.
func (c *runSubmitCmd) pack(w io.Writer) (string, snapshot.Info, error) {
	f, err := os.CreateTemp("", "vnetml-snapshot-*.tar.gz")
	if err != nil {
		return "", snapshot.Info{}, internalErr(err)
	}
	info, err := snapshot.Pack(c.source, f, snapshot.DefaultLimits)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = internalErr(cerr)
	}
	if err != nil {
		os.Remove(f.Name())
		a, ok := armerror.As(err)
		if !ok {
			return "", info, err
		}
		e := *a
		e.Target = "--source"
		if a.Code == snapshot.CodeSourceDir {
			return "", info, usageErr(&e)
		}
		return "", info, &e
	}
	files := "files"
	if len(info.Files) == 1 {
		files = "file"
	}
	fmt.Fprintf(w, "Packed %d %s (%s) from %s: snapshot %s (%s compressed).\n",
		len(info.Files), files, bytesText(info.Bytes), c.source, info.SHA256, bytesText(info.Size))
	for _, s := range info.Skipped {
		fmt.Fprintf(w, "  skipped %s: %s\n", s.Path, s.Why)
	}
	if c.script != "" && !slices.Contains(info.Files, filepath.ToSlash(c.script)) {
		os.Remove(f.Name())
		why := "there is no such file in " + c.source
		if st, err := os.Stat(filepath.Join(c.source, c.script)); err == nil && st.Mode().IsRegular() {
			why = "the directory's .amlignore (or .gitignore) leaves it out of the snapshot"
		}
		return "", info, usageErr(armerror.New(codeInvalidArgument, "--script", "--script %s is not in the snapshot: %s", c.script, why))
	}
	return f.Name(), info, nil
}

// datastoreOf returns datastore name of the workspace; an unknown one is
// NotFound naming those there are.
func (c *runSubmitCmd) datastoreOf(ctx context.Context, cl *client.Client, ws, name string) (client.Datastore, error) {
	ds, err := cl.GetDatastore(ctx, ws, name)
	if err == nil {
		return ds, nil
	}
	if !isNotFound(err) {
		return ds, err
	}
	return ds, armerror.New(codeNotFound, "--datastore", "Datastore %q was not found in workspace %s%s; use workspacefilestore, workspaceblobstore or a datastore listed by `vnetml workspace datastore list -w %s`",
		name, c.rf.workspace, knownNames(ctx, cl, ws+"/datastores"), c.rf.workspace)
}

// upload uploads the snapshot, or says that it is there already. A
// refusal by the account's firewall says how to admit the client.
func (c *runSubmitCmd) upload(ctx context.Context, w io.Writer, cl *client.Client, ds client.Datastore, packed string, info snapshot.Info, from string) error {
	hc, err := cl.DataPlane(ctx, from)
	if err != nil {
		return err
	}
	what := "blob container"
	if ds.File() {
		what = "file share"
	}
	where := fmt.Sprintf("datastore %s (%s %s of storage account %s)", ds.Name, what, ds.Container(), ds.Properties.AccountName)
	bar := newProgress(c.env.stderr, "Uploading", "the snapshot", info.Size, 0, c.noProgress)
	up, err := cl.UploadSnapshot(ctx, hc, ds, packed, info, bar.update)
	bar.end()
	if err != nil {
		a, ok := armerror.As(err)
		if !ok || (a.Code != "AuthorizationFailure" && a.Code != "ConnectionDenied") {
			return err
		}
		return armerror.New(a.Code, "--client-address", "Uploading the snapshot to %s from %s was refused: %s\nHint: the SDK uploads from your machine, outside the virtual network: "+
			"add your public address to the account's IP rules (vnetml storage account update %s --add-ip-rule %s/32), or call from an address they admit (--client-address)",
			where, from, a.Message, ds.Properties.AccountName, from)
	}
	if up.Reused {
		_, err = fmt.Fprintf(w, "Snapshot %s is unchanged: reused from %s, not uploaded again.\n", info.SHA256, where)
	} else {
		_, err = fmt.Fprintf(w, "Uploaded the snapshot to %s as %s.\n", where, up.Blob)
	}
	return internalErr(err)
}

// bytesText renders a size as 1.5 KiB, 300.0 MiB, 12 bytes.
func bytesText(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
