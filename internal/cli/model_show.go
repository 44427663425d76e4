package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// modelShowCmd is `vnetml model show NAME`: the SDK v1's
// Model(ws, name, version).
type modelShowCmd struct {
	env     *env
	mf      modelFlags
	out     outputFlag
	version string
}

func newModelShowCmd(e *env) *cobra.Command {
	c := &modelShowCmd{env: e}
	cmd := &cobra.Command{
		Use:   "show NAME -w WORKSPACE [-g GROUP] [--version V] [-o table|json]",
		Short: "Show a version of a model (the latest by default)",
		Long: `Show a version of a model, the latest unless --version: where its files
are (modelUri: azureml://datastores/<datastore>/paths/<path>), the run it
was registered from, its description, tags and properties, when and by
whom it was registered. -o json prints the version's document.`,
		Example: `  vnetml model show mymodel -w myworkspace
  vnetml model show mymodel -w myworkspace --version 2 -o json`,
		Args: modelArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.version, "V"), "version", "the version (default: the latest)")
	c.mf.register(f)
	c.out.register(f)
	return cmd
}

func (c *modelShowCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.mf.check(&l)
	checkModelVersion(&l, c.version)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, _, ws, err := c.mf.open(ctx)
	if err != nil {
		return err
	}
	v, err := cl.GetModelVersion(ctx, ws, args[0], c.version)
	if err != nil {
		return retargetErr(err, map[string]string{"name": "NAME", "version": "--version"})
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, v)
	}
	return printModelVersion(c.env.stdout, v)
}
