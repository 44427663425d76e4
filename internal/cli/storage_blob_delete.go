package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// storageBlobDeleteCmd is `vnetml storage blob delete`.
type storageBlobDeleteCmd struct {
	env  *env
	blob blobFlags
	name string
}

func newStorageBlobDeleteCmd(e *env) *cobra.Command {
	c := &storageBlobDeleteCmd{env: e}
	cmd := &cobra.Command{
		Use:   "delete --account-name ACCOUNT -c CONTAINER -n NAME",
		Short: "Delete a blob, through the account's firewall",
		Long: `Delete a blob of a container (or a file of a share, with --file-share).
A blob that does not exist is an error (BlobNotFound), as in Azure.`,
		Example: `  vnetml storage blob delete --account-name mlstore -c data -n train.csv`,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.VarP(text(&c.name, "NAME"), "name", "n", "the blob to delete (required)")
	c.blob.register(f)
	return cmd
}

func (c *storageBlobDeleteCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	c.blob.check(&l)
	if c.name == "" {
		l.Addf(codeMissingArgument, "--name", "-n/--name is required: the blob to delete")
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	s, err := c.blob.open(ctx)
	if err != nil {
		return err
	}
	if err := s.Delete(ctx, c.blob.container, c.name); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.env.stdout, "Deleted blob %s/%s of storage account %s.\n", c.blob.container, c.name, s.Account())
	return internalErr(err)
}
