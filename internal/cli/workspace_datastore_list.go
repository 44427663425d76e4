package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// workspaceDatastoreListCmd is `vnetml workspace datastore list -w WS`.
type workspaceDatastoreListCmd struct {
	env       *env
	srv       serverFlags
	out       outputFlag
	group     string
	workspace string
}

func newWorkspaceDatastoreListCmd(e *env) *cobra.Command {
	c := &workspaceDatastoreListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list -w WORKSPACE [-g GROUP] [-o table|json]",
		Short: "List a workspace's datastores",
		Long: `List the datastores registered in a workspace: where each one's data is
(storage account and blob container or file share), whether it is the
default, and the key vault secret that holds its credential; then the
warnings the 2019 article's constraints raise for them.`,
		Example: `  vnetml workspace datastore list -w ml -g mygroup`,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.VarP(text(&c.workspace, "WORKSPACE"), "workspace-name", "w", "the workspace (required)")
	groupFlag(f, &c.group, false)
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

func (c *workspaceDatastoreListCmd) run(ctx context.Context, _ []string) error {
	if c.workspace == "" {
		return usageErr(armerror.New(codeMissingArgument, "--workspace-name", "-w/--workspace-name is required: the workspace whose datastores to list"))
	}
	cl, r, err := c.srv.client()
	if err != nil {
		return err
	}
	id, err := findResource(ctx, cl, workspaceType, r.subscription, c.group, c.workspace)
	if err != nil {
		return retargetErr(err, map[string]string{"NAME": "--workspace-name"})
	}
	docs, err := cl.List(ctx, id+"/datastores")
	if err != nil {
		return err
	}
	if c.out.json() {
		if docs == nil {
			docs = []json.RawMessage{}
		}
		return writeJSON(c.env.stdout, docs)
	}
	if len(docs) == 0 {
		_, err := fmt.Fprintf(c.env.stdout, "No datastores in workspace %s.\n", c.workspace)
		return internalErr(err)
	}
	if err := typeTable(datastoreType, docs).write(c.env.stdout); err != nil {
		return err
	}
	return printDatastoreWarnings(c.env.stdout, docs)
}
