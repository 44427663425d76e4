package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
)

// serviceListCmd is `vnetml service list`: the SDK v1's
// Webservice.list(ws).
type serviceListCmd struct {
	env *env
	sf  serviceFlags
	out outputFlag
}

func newServiceListCmd(e *env) *cobra.Command {
	c := &serviceListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list -w WORKSPACE [-g GROUP] [-o table|json]",
		Short: "List a workspace's web services",
		Long: `List the web services of a workspace, by name: each one's state, inference
cluster, models, replicas, auth and scoring URI. -o json prints the
services' documents as the server answers them.`,
		Example: `  vnetml service list -w myworkspace
  vnetml service list -w myworkspace -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.sf.register(f)
	c.out.register(f)
	return cmd
}

func (c *serviceListCmd) run(ctx context.Context, _ []string) error {
	cl, ws, err := c.sf.checkOpen(ctx)
	if err != nil {
		return err
	}
	services, err := cl.ListServices(ctx, ws)
	if err != nil {
		return err
	}
	if c.out.json() {
		if services == nil {
			services = []api.Service{}
		}
		return writeJSON(c.env.stdout, services)
	}
	if len(services) == 0 {
		_, err := fmt.Fprintf(c.env.stdout, "No services in workspace %s: deploy one with `vnetml service deploy`.\n", c.sf.workspace)
		return internalErr(err)
	}
	t := table{header: []string{"Name", "State", "Compute", "Models", "Replicas", "Auth", "ScoringUri"}}
	for _, s := range services {
		p := s.Properties
		t.add(s.Name, p.State, p.ComputeTarget, strings.Join(p.Models, ", "), replicasText(p), authMode(p), p.ScoringURI)
	}
	return t.write(c.env.stdout)
}
