package cli

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// runDownloadCmd is `vnetml run download RUN_ID`: the SDK's
// Run.download_files(prefix="outputs") and download_file(name).
type runDownloadCmd struct {
	env        *env
	rf         runFlags
	path       string
	dest       string
	noProgress bool
}

func newRunDownloadCmd(e *env) *cobra.Command {
	c := &runDownloadCmd{env: e}
	cmd := &cobra.Command{
		Use:   "download RUN_ID -w WORKSPACE [-g GROUP] [-e EXPERIMENT] [--path outputs/FILE] [--dest DIR]",
		Short: "Download a run's output files, through the storage account's firewall",
		Long: `Download the files a run wrote to ./outputs, as the SDK's
Run.download_files(prefix="outputs"): they are in the workspace's storage
account, under the run's prefix, and come down through the data plane from
your client address (--client-address, VNETML_CLIENT_ADDRESS, vnetml login
--client-address, else 203.0.113.10), so the account's firewall judges you
and a refusal names the rule. Each file is written to DEST/outputs/...
(DEST defaults to the current directory); --path takes one file or
directory of the outputs (outputs/model.json). Nothing is written outside
DEST, whatever the names in storage.`,
		Example: `  vnetml run download quickstart_1700000000_1a2b3c4d -w myworkspace
  vnetml run download quickstart_1700000000_1a2b3c4d -w myworkspace --path outputs/model.json --dest ./model`,
		Args: runArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.path, "PATH"), "path", "a file or directory of the outputs, such as outputs/model.json (default: every output)")
	f.Var(text(&c.dest, "DIR"), "dest", "the directory to download to (default: the current directory)")
	f.BoolVar(&c.noProgress, "no-progress", false, "show no download progress on stderr")
	c.rf.register(f, "the run's experiment (default: found by listing the workspace's)")
	c.rf.srv.registerClientAddress(f)
	return cmd
}

// outputsDir is where a run's ./outputs go in DEST, as the SDK names them.
const outputsDir = "outputs"

func (c *runDownloadCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.rf.check(&l)
	want := strings.Trim(path.Clean("/"+filepath.ToSlash(c.path)), "/")
	if c.path != "" && want != outputsDir && !strings.HasPrefix(want, outputsDir+"/") {
		l.Addf(codeInvalidArgument, "--path", "--path %q is not under outputs/: a run's files are outputs/..., such as outputs/model.json", c.path)
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, r, ws, err := c.rf.open(ctx)
	if err != nil {
		return err
	}
	run, err := c.rf.findRun(ctx, cl, ws, args[0])
	if err != nil {
		return err
	}
	o := run.Properties.Outputs
	if o == nil || o.Account == "" || o.Container == "" {
		return armerror.New(codeNotFound, "RUN_ID", "Run %s has no outputs (it is %s): a run's outputs are what it writes to ./outputs, uploaded when it ends",
			args[0], run.Properties.Status)
	}
	from, err := r.dataPlaneAddress()
	if err != nil {
		return err
	}
	hc, err := cl.DataPlane(ctx, from.String())
	if err != nil {
		return err
	}
	st, err := cl.Storage(ctx, hc, o.Account, client.StorageOptions{})
	if err != nil {
		return err
	}
	blobs, err := st.List(ctx, o.Container, o.Prefix)
	if err != nil {
		return err
	}
	dest := firstOf(c.dest, ".")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return usageErr(armerror.New(codeInvalidArgument, "--dest", "cannot make %s: %v", dest, err))
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return usageErr(armerror.New(codeInvalidArgument, "--dest", "cannot write to %s: %v", dest, err))
	}
	defer root.Close()
	n := 0
	for _, b := range blobs {
		rel, ok := outputPath(o.Prefix, b.Name)
		if !ok {
			fmt.Fprintf(c.env.stderr, "vnetml: skipped blob %s: its name would write outside %s\n", b.Name, dest)
			continue
		}
		if c.path != "" && rel != want && !strings.HasPrefix(rel, want+"/") {
			continue
		}
		if err := c.fetch(ctx, st, root, o.Container, b, rel); err != nil {
			return err
		}
		fmt.Fprintf(c.env.stdout, "Downloaded %s (%s) to %s\n", rel, bytesText(b.Size), filepath.Join(dest, filepath.FromSlash(rel)))
		n++
	}
	if n == 0 {
		what, target := "no output files", "RUN_ID"
		if c.path != "" {
			what, target = "no output "+c.path, "--path"
		}
		return armerror.New(codeNotFound, target,
			"Run %s has %s in storage account %s (container %s, prefix %s)%s", args[0], what, lastSegment(o.Account), o.Container, o.Prefix, outputsList(run.Properties.OutputFiles))
	}
	return nil
}

// outputPath is where blob name of a run's outputs (under prefix) goes in
// DEST: outputs/<the rest of its name>; ok is false for a name that would
// leave DEST (a ".." element, an absolute path, a backslash) or names no
// file.
func outputPath(prefix, name string) (rel string, ok bool) {
	rest, found := strings.CutPrefix(name, prefix)
	if !found || rest == "" || strings.HasSuffix(rest, "/") || strings.Contains(rest, "\\") {
		return "", false
	}
	rel = outputsDir + "/" + rest
	if !filepath.IsLocal(filepath.FromSlash(rel)) || path.Clean(rel) != rel {
		return "", false
	}
	return rel, true
}

// fetch downloads one blob to rel under root, through a temporary file.
func (c *runDownloadCmd) fetch(ctx context.Context, st *client.Storage, root *os.Root, container string, b client.BlobInfo, rel string) error {
	if d := path.Dir(rel); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return usageErr(armerror.New(codeInvalidArgument, "--dest", "cannot make %s: %v", d, err))
		}
	}
	part := rel + partSuffix
	f, err := root.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return usageErr(armerror.New(codeInvalidArgument, "--dest", "cannot write %s: %v", rel, err))
	}
	bar := newProgress(c.env.stderr, "Downloading", rel, b.Size, 0, c.noProgress)
	_, err = st.Download(ctx, container, b.Name, 0, "", f, bar.update)
	bar.end()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(part, rel)
	}
	if err != nil {
		root.Remove(part)
		return err
	}
	return nil
}

// outputsList is "; its outputs are: a, b" for the run's output files.
func outputsList(files []string) string {
	if len(files) == 0 {
		return ""
	}
	return "; its outputs are: outputs/" + strings.Join(files, ", outputs/")
}
