package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// modelListCmd is `vnetml model list`: the SDK v1's Model.list(ws), and
// with --name the versions of one model.
type modelListCmd struct {
	env  *env
	mf   modelFlags
	out  outputFlag
	name string
}

func newModelListCmd(e *env) *cobra.Command {
	c := &modelListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list -w WORKSPACE [-g GROUP] [--name NAME] [-o table|json]",
		Short: "List a workspace's models, or the versions of one",
		Long: `List the models of a workspace, by name, with each one's latest version;
with --name, list that model's versions, newest first: when and by whom
each was registered, and from what (a run, or a datastore). -o json prints
the documents as the server answers them (the models, or the versions).`,
		Example: `  vnetml model list -w myworkspace
  vnetml model list -w myworkspace --name mymodel -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.VarP(text(&c.name, "NAME"), "name", "n", "list the versions of this model")
	c.mf.register(f)
	c.out.register(f)
	return cmd
}

func (c *modelListCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	c.mf.check(&l)
	if c.name != "" {
		checkModelName(&l, "--name", c.name)
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, _, ws, err := c.mf.open(ctx)
	if err != nil {
		return err
	}
	if c.name != "" {
		versions, err := cl.ListModelVersions(ctx, ws, c.name)
		if err != nil {
			return retargetErr(err, modelTargets)
		}
		slices.Reverse(versions) // newest first
		if c.out.json() {
			return writeJSON(c.env.stdout, versions)
		}
		if len(versions) == 0 {
			_, err := fmt.Fprintf(c.env.stdout, "Model %s has no versions left in workspace %s.\n", c.name, c.mf.workspace)
			return internalErr(err)
		}
		t := table{header: []string{"Name", "Version", "Created", "CreatedBy", "Source", "Tags"}}
		for _, v := range versions {
			p := v.Properties
			t.add(p.ModelName, p.Version, utc(&p.CreatedTime), p.CreatedBy, modelSource(v), joinPairs(p.Tags))
		}
		return t.write(c.env.stdout)
	}
	models, err := cl.ListModels(ctx, ws)
	if err != nil {
		return err
	}
	if c.out.json() {
		if models == nil {
			models = []api.Model{}
		}
		return writeJSON(c.env.stdout, models)
	}
	if len(models) == 0 {
		_, err := fmt.Fprintf(c.env.stdout, "No models in workspace %s: register one with `vnetml model register`.\n", c.mf.workspace)
		return internalErr(err)
	}
	t := table{header: []string{"Name", "LatestVersion", "Created", "Description"}}
	for _, m := range models {
		t.add(m.Name, m.Properties.LatestVersion, utc(&m.Properties.CreatedTime), m.Properties.Description)
	}
	return t.write(c.env.stdout)
}
