package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// serviceShowCmd is `vnetml service show NAME`: the SDK v1's
// Webservice(ws, name) — its state, error, settings and replicas.
type serviceShowCmd struct {
	env *env
	sf  serviceFlags
	out outputFlag
}

func newServiceShowCmd(e *env) *cobra.Command {
	c := &serviceShowCmd{env: e}
	cmd := &cobra.Command{
		Use:   "show NAME -w WORKSPACE [-g GROUP] [-o table|json]",
		Short: "Show a web service: its state and error, settings, scoring URI and replicas",
		Long: `Show a web service, as the SDK v1's Webservice(ws, name): its state
(Transitioning, Healthy, Unhealthy, Failed) and, when it is not Healthy,
why; the inference cluster, models and entry script it runs; its replica
and auth settings; its scoring and swagger URIs; and each replica — its
node, pod address, state and restarts. -o json prints the service's
document as the server answers it.`,
		Example: `  vnetml service show mysvc -w myworkspace
  vnetml service show mysvc -w myworkspace -o json`,
		Args: serviceArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.sf.register(f)
	c.out.register(f)
	return cmd
}

func (c *serviceShowCmd) run(ctx context.Context, args []string) error {
	cl, ws, err := c.sf.checkOpen(ctx)
	if err != nil {
		return err
	}
	s, err := getService(ctx, cl, ws, c.sf.workspace, args[0])
	if err != nil {
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, s)
	}
	return printService(c.env.stdout, s)
}
