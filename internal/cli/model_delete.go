package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// modelDeleteCmd is `vnetml model delete NAME`: the SDK v1's
// Model.delete(), of one version or of every one.
type modelDeleteCmd struct {
	env     *env
	mf      modelFlags
	version string
}

func newModelDeleteCmd(e *env) *cobra.Command {
	c := &modelDeleteCmd{env: e}
	cmd := &cobra.Command{
		Use:   "delete NAME -w WORKSPACE [-g GROUP] [--version V]",
		Short: "Delete a version of a model, or the model with every version",
		Long: `Delete one version of a model (--version), or the model with all its
versions. The files stay where they are (the run's artifacts, the
datastore): a registration only points at them. Version numbers are not
reused: after deleting version 3 of 3, the next registration is 4. A model
or version that does not exist is not an error (as az).`,
		Example: `  vnetml model delete mymodel -w myworkspace --version 1
  vnetml model delete mymodel -w myworkspace`,
		Args: modelArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.version, "V"), "version", "delete this version only (default: the model and every version)")
	c.mf.register(f)
	return cmd
}

func (c *modelDeleteCmd) run(ctx context.Context, args []string) error {
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
	name := args[0]
	if c.version != "" {
		existed, err := cl.DeleteModelVersion(ctx, ws, name, c.version)
		if err != nil {
			return err
		}
		if existed {
			_, err = fmt.Fprintf(c.env.stdout, "Deleted model %s version %s\n", name, c.version)
		} else {
			_, err = fmt.Fprintf(c.env.stdout, "Model %s version %s did not exist\n", name, c.version)
		}
		return internalErr(err)
	}
	existed, err := cl.DeleteModel(ctx, ws, name)
	if err != nil {
		return err
	}
	if existed {
		_, err = fmt.Fprintf(c.env.stdout, "Deleted model %s with its versions\n", name)
	} else {
		_, err = fmt.Fprintf(c.env.stdout, "Model %s did not exist\n", name)
	}
	return internalErr(err)
}
