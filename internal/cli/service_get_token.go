package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/client"
)

// serviceGetTokenCmd is `vnetml service get-token NAME`: the SDK v1's
// Webservice.get_token().
type serviceGetTokenCmd struct {
	env *env
	sf  serviceFlags
	out outputFlag
}

func newServiceGetTokenCmd(e *env) *cobra.Command {
	c := &serviceGetTokenCmd{env: e}
	cmd := &cobra.Command{
		Use:   "get-token NAME -w WORKSPACE [-g GROUP] [-o table|json]",
		Short: "Print a token for a web service with token auth",
		Long: `Print a token for a web service deployed with --token-auth, as the SDK
v1's get_token(): a caller sends it as Authorization: Bearer <token>. A
token lasts an hour; get a new one after refreshAfter (half of it). A
service with key auth has no tokens: use get-keys. -o json prints
{"accessToken", "expiryOn", "refreshAfter"}.`,
		Example: `  vnetml service get-token mysvc -w myworkspace
  vnetml service get-token mysvc -w myworkspace -o json`,
		Args: serviceArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.sf.register(f)
	c.out.register(f)
	return cmd
}

func (c *serviceGetTokenCmd) run(ctx context.Context, args []string) error {
	cl, ws, err := c.sf.checkOpen(ctx)
	if err != nil {
		return err
	}
	tok, err := cl.ServiceToken(ctx, client.ServicePath(ws, args[0]))
	if err != nil {
		return serviceNotFound(ctx, cl, ws, c.sf.workspace, args[0], err)
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, tok)
	}
	t := table{header: []string{"AccessToken", "ExpiryOn", "RefreshAfter"}}
	t.add(tok.AccessToken, utc(&tok.ExpiryOn), utc(&tok.RefreshAfter))
	return t.write(c.env.stdout)
}
