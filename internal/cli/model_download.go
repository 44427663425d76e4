package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// modelDownloadCmd is `vnetml model download NAME`: the SDK v1's
// Model.download(target_dir).
type modelDownloadCmd struct {
	env        *env
	mf         modelFlags
	version    string
	dest       string
	noProgress bool
}

func newModelDownloadCmd(e *env) *cobra.Command {
	c := &modelDownloadCmd{env: e}
	cmd := &cobra.Command{
		Use:   "download NAME -w WORKSPACE [-g GROUP] [--version V] [--dest DIR]",
		Short: "Download a model's files, through the storage account's firewall",
		Long: `Download the files of a version of a model (the latest unless --version),
as the SDK v1's Model.download(target_dir): a single-file model goes to
DEST/<its file name>, a folder to DEST/<the folder's name>/... (DEST
defaults to the current directory). Nothing is written outside DEST,
whatever the names in storage.

The files come from the datastore's storage account through its data plane,
from your client address (--client-address, VNETML_CLIENT_ADDRESS, vnetml
login --client-address, else 203.0.113.10): the account's firewall judges
you, and a refusal names the rule and how to be admitted.`,
		Example: `  vnetml model download mymodel -w myworkspace --dest ./model
  vnetml model download mymodel -w myworkspace --version 1 --client-address 198.51.100.9`,
		Args: modelArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.version, "V"), "version", "the version (default: the latest)")
	f.Var(text(&c.dest, "DIR"), "dest", "the directory to download to (default: the current directory)")
	f.BoolVar(&c.noProgress, "no-progress", false, "show no download progress on stderr")
	c.mf.register(f)
	c.mf.srv.registerClientAddress(f)
	return cmd
}

func (c *modelDownloadCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.mf.check(&l)
	checkModelVersion(&l, c.version)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, r, ws, err := c.mf.open(ctx)
	if err != nil {
		return err
	}
	v, err := cl.GetModelVersion(ctx, ws, args[0], c.version)
	if err != nil {
		return retargetErr(err, map[string]string{"name": "NAME", "version": "--version"})
	}
	from, err := r.dataPlaneAddress()
	if err != nil {
		return err
	}
	hc, err := cl.DataPlane(ctx, from.String())
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
	bar := &fileProgress{w: c.env.stderr, verb: "Downloading", off: c.noProgress}
	files, skipped, err := cl.DownloadModel(ctx, hc, ws, v, root, bar.update)
	bar.end()
	for _, f := range skipped {
		fmt.Fprintf(c.env.stderr, "vnetml: skipped blob %s: its name would write outside %s\n", f.Blob, dest)
	}
	for _, f := range files {
		fmt.Fprintf(c.env.stdout, "Downloaded %s (%s) to %s\n", f.Path, bytesText(f.Size), filepath.Join(dest, filepath.FromSlash(f.Path)))
	}
	if err != nil {
		return firewallRefusal(err, fmt.Sprintf("Downloading model %s version %s", v.Properties.ModelName, v.Properties.Version),
			c.account(ctx, cl, ws, v.Properties.ModelURI), from.String())
	}
	if len(files) == 0 {
		return armerror.New(codeNotFound, "NAME", "Model %s version %s has no file that can be written under %s", v.Properties.ModelName, v.Properties.Version, dest)
	}
	return nil
}

// account names the storage account of a model's datastore, for the hint
// of a refusal ("ACCOUNT" when it cannot be told).
func (c *modelDownloadCmd) account(ctx context.Context, cl *client.Client, ws, uri string) string {
	if name, _, ok := api.ParseModelURI(uri); ok {
		if ds, err := cl.GetDatastore(ctx, ws, name); err == nil && ds.Properties.AccountName != "" {
			return ds.Properties.AccountName
		}
	}
	return "ACCOUNT"
}
