package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/client"
)

// serviceGetKeysCmd is `vnetml service get-keys NAME`: the SDK v1's
// Webservice.get_keys().
type serviceGetKeysCmd struct {
	env *env
	sf  serviceFlags
	out outputFlag
}

func newServiceGetKeysCmd(e *env) *cobra.Command {
	c := &serviceGetKeysCmd{env: e}
	cmd := &cobra.Command{
		Use:   "get-keys NAME -w WORKSPACE [-g GROUP] [-o table|json]",
		Short: "Print a web service's primary and secondary keys",
		Long: `Print the two keys of a web service with key auth, as the SDK v1's
get_keys(): a caller sends either as Authorization: Bearer <key>. Replace
one at a time with 'vnetml service regen-key'. -o json prints
{"primaryKey", "secondaryKey"}.`,
		Example: `  vnetml service get-keys mysvc -w myworkspace
  vnetml service get-keys mysvc -w myworkspace -o json`,
		Args: serviceArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.sf.register(f)
	c.out.register(f)
	return cmd
}

func (c *serviceGetKeysCmd) run(ctx context.Context, args []string) error {
	cl, ws, err := c.sf.checkOpen(ctx)
	if err != nil {
		return err
	}
	keys, err := cl.ServiceKeys(ctx, client.ServicePath(ws, args[0]))
	if err != nil {
		return serviceNotFound(ctx, cl, ws, c.sf.workspace, args[0], err)
	}
	return printKeys(c.env.stdout, &c.out, keys)
}

// printKeys prints a service's keys as a table, or as JSON.
func printKeys(w io.Writer, out *outputFlag, k api.ServiceKeys) error {
	if out.json() {
		return writeJSON(w, k)
	}
	t := table{header: []string{"PrimaryKey", "SecondaryKey"}}
	t.add(k.PrimaryKey, k.SecondaryKey)
	return t.write(w)
}
