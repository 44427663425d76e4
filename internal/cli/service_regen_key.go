package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// serviceRegenKeyCmd is `vnetml service regen-key NAME --key
// Primary|Secondary`: the SDK v1's Webservice.regen_key(key).
type serviceRegenKeyCmd struct {
	env *env
	sf  serviceFlags
	out outputFlag
	key string
}

func newServiceRegenKeyCmd(e *env) *cobra.Command {
	c := &serviceRegenKeyCmd{env: e}
	cmd := &cobra.Command{
		Use:   "regen-key NAME -w WORKSPACE [-g GROUP] --key Primary|Secondary [-o table|json]",
		Short: "Replace a web service's primary or secondary key",
		Long: `Replace one key of a web service, as the SDK v1's regen_key(key): the old
key is refused from then on (401), the other one keeps working, so callers
move to the other key first and nothing stops. The command prints both
keys, as get-keys does.`,
		Example: `  vnetml service regen-key mysvc -w myworkspace --key Primary`,
		Args:    serviceArg,
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.key, "Primary|Secondary"), "key", "the key to replace (required)")
	c.sf.register(f)
	c.out.register(f)
	return cmd
}

func (c *serviceRegenKeyCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.sf.check(&l)
	key := ""
	switch strings.ToLower(c.key) {
	case "":
		l.Addf(codeMissingArgument, "--key", "--key is required: Primary or Secondary, the key to replace")
	case "primary":
		key = client.KeyPrimary
	case "secondary":
		key = client.KeySecondary
	default:
		l.Addf(codeInvalidArgument, "--key", "--key %q is not a key: give Primary or Secondary", c.key)
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, _, ws, err := c.sf.open(ctx)
	if err != nil {
		return err
	}
	keys, err := cl.RegenerateServiceKey(ctx, client.ServicePath(ws, args[0]), key)
	if err != nil {
		return serviceNotFound(ctx, cl, ws, c.sf.workspace, args[0], err)
	}
	if !c.out.json() {
		fmt.Fprintf(c.env.stdout, "Regenerated the %s key of service %s: the old one is refused from now on.\n\n", strings.ToLower(key), args[0])
	}
	return printKeys(c.env.stdout, &c.out, keys)
}
