package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// storageBlobUploadCmd is `vnetml storage blob upload`.
type storageBlobUploadCmd struct {
	env        *env
	blob       blobFlags
	out        outputFlag
	name       string
	file       string
	noProgress bool
}

func newStorageBlobUploadCmd(e *env) *cobra.Command {
	c := &storageBlobUploadCmd{env: e}
	cmd := &cobra.Command{
		Use:   "upload --account-name ACCOUNT -c CONTAINER -f FILE [-n NAME] [--auth-mode key|login] [--file-share] [--no-progress]",
		Short: "Upload a file to a blob, through the account's firewall",
		Long: `Upload a file to a blob of a storage account, creating the container if
it is missing. A file of up to 4 MiB goes in one request; a larger one in
4 MiB blocks committed at the end, so that readers never see half a blob.
Files over 8 MiB show their progress on stderr (percentage, bytes, rate)
unless --no-progress.

The request calls the account from your client address (--client-address,
VNETML_CLIENT_ADDRESS, vnetml login --client-address, else 203.0.113.10),
as a client on the Internet: the account's firewall judges that address,
and a refusal (AuthorizationFailure) names the rule that decided and what
would admit you. --auth-mode key (the default) signs with the account's key,
which needs Contributor on the account; login sends your vnetml token.`,
		Example: `  vnetml storage blob upload --account-name mlstore -c data -f train.csv
  vnetml storage blob upload --account-name mlstore -c data -n 2019/train.csv -f train.csv --client-address 198.51.100.9`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.VarP(text(&c.name, "NAME"), "name", "n", "the blob's name (default: the file's name)")
	f.VarP(text(&c.file, "FILE"), "file", "f", "the file to upload (required)")
	f.BoolVar(&c.noProgress, "no-progress", false, "show no progress on stderr")
	c.blob.register(f)
	c.out.register(f)
	return cmd
}

func (c *storageBlobUploadCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	c.blob.check(&l)
	if c.file == "" {
		l.Addf(codeMissingArgument, "--file", "-f/--file is required: the file to upload")
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	name := firstOf(c.name, filepath.Base(c.file))
	f, err := os.Open(c.file)
	if err != nil {
		return usageErr(armerror.New(codeInvalidArgument, "--file", "cannot read the file to upload: %v", err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return usageErr(armerror.New(codeInvalidArgument, "--file", "%s is not a regular file", c.file))
	}
	s, err := c.blob.open(ctx)
	if err != nil {
		return err
	}
	if err := s.CreateContainer(ctx, c.blob.container); err != nil {
		return err
	}
	bar := newProgress(c.env.stderr, "Uploading", name, st.Size(), 0, c.noProgress)
	err = s.Upload(ctx, c.blob.container, name, f, st.Size(), bar.update)
	bar.end()
	if err != nil {
		return err
	}
	info, err := s.Properties(ctx, c.blob.container, name)
	if err != nil {
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, info)
	}
	_, err = fmt.Fprintf(c.env.stdout, "Uploaded %s to blob %s/%s of storage account %s (%d bytes, ETag %s).\n",
		c.file, c.blob.container, name, s.Account(), info.Size, info.ETag)
	return internalErr(err)
}
