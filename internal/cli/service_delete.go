package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/client"
)

// serviceDeleteCmd is `vnetml service delete NAME`: the SDK v1's
// Webservice.delete().
type serviceDeleteCmd struct {
	env *env
	sf  serviceFlags
}

func newServiceDeleteCmd(e *env) *cobra.Command {
	c := &serviceDeleteCmd{env: e}
	cmd := &cobra.Command{
		Use:   "delete NAME -w WORKSPACE [-g GROUP]",
		Short: "Delete a web service: its replicas stop",
		Long: `Delete a web service, as the SDK v1's delete(): its replicas stop, their
pod addresses go back to the subnet, and its scoring URI answers 404. The
models stay registered. A service that does not exist is not an error (as
az).`,
		Example: `  vnetml service delete mysvc -w myworkspace`,
		Args:    serviceArg,
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	c.sf.register(cmd.Flags())
	return cmd
}

func (c *serviceDeleteCmd) run(ctx context.Context, args []string) error {
	cl, ws, err := c.sf.checkOpen(ctx)
	if err != nil {
		return err
	}
	existed, err := cl.DeleteService(ctx, client.ServicePath(ws, args[0]))
	if err != nil {
		return err
	}
	if existed {
		_, err = fmt.Fprintf(c.env.stdout, "Deleted service %s\n", args[0])
	} else {
		_, err = fmt.Fprintf(c.env.stdout, "Service %s did not exist\n", args[0])
	}
	return internalErr(err)
}
