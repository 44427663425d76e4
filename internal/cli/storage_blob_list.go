package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// storageBlobListCmd is `vnetml storage blob list`.
type storageBlobListCmd struct {
	env    *env
	blob   blobFlags
	out    outputFlag
	prefix string
}

func newStorageBlobListCmd(e *env) *cobra.Command {
	c := &storageBlobListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list --account-name ACCOUNT -c CONTAINER [--prefix PREFIX] [-o table|json]",
		Short: "List the blobs of a container, through the account's firewall",
		Long: `List the blobs of a container (or the files of a share, with --file-share):
name, size and last modification. --prefix keeps those whose names start
with it. Listing is a data-plane request: the account's firewall judges
your client address, as for upload.`,
		Example: `  vnetml storage blob list --account-name mlstore -c data
  vnetml storage blob list --account-name mlstore -c data --prefix 2019/ -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.prefix, "PREFIX"), "prefix", "list only the blobs whose names start with PREFIX")
	c.blob.register(f)
	c.out.register(f)
	return cmd
}

func (c *storageBlobListCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	c.blob.check(&l)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	s, err := c.blob.open(ctx)
	if err != nil {
		return err
	}
	blobs, err := s.List(ctx, c.blob.container, c.prefix)
	if err != nil {
		return err
	}
	if blobs == nil {
		blobs = []client.BlobInfo{}
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, blobs)
	}
	if len(blobs) == 0 {
		_, err := fmt.Fprintf(c.env.stdout, "No blobs in container %s of storage account %s.\n", c.blob.container, s.Account())
		return internalErr(err)
	}
	t := table{header: []string{"Name", "Size", "LastModified"}}
	for _, b := range blobs {
		t.add(b.Name, strconv.FormatInt(b.Size, 10), b.LastModified.UTC().Format(time.RFC3339))
	}
	return t.write(c.env.stdout)
}
