package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/client"
)

// serviceLogsCmd is `vnetml service logs NAME`: the SDK v1's
// Webservice.get_logs().
type serviceLogsCmd struct {
	env *env
	sf  serviceFlags
}

func newServiceLogsCmd(e *env) *cobra.Command {
	c := &serviceLogsCmd{env: e}
	cmd := &cobra.Command{
		Use:   "logs NAME -w WORKSPACE [-g GROUP]",
		Short: "Print the output of a web service's replicas",
		Long: `Print what a web service's replicas wrote, as the SDK v1's get_logs(): the
scoring server's lines (each call, with its status and time) and the entry
script's own output — for an init() that raised, its traceback.`,
		Example: `  vnetml service logs mysvc -w myworkspace`,
		Args:    serviceArg,
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	c.sf.register(cmd.Flags())
	return cmd
}

func (c *serviceLogsCmd) run(ctx context.Context, args []string) error {
	cl, ws, err := c.sf.checkOpen(ctx)
	if err != nil {
		return err
	}
	logs, err := cl.ServiceLogs(ctx, client.ServicePath(ws, args[0]))
	if err != nil {
		return serviceNotFound(ctx, cl, ws, c.sf.workspace, args[0], err)
	}
	if logs != "" && !strings.HasSuffix(logs, "\n") {
		logs += "\n"
	}
	_, err = fmt.Fprint(c.env.stdout, logs)
	return internalErr(err)
}
