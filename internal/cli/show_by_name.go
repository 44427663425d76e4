package cli

import (
	"context"
	"encoding/json"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/client"
)

// showByName is what the `show NAME [-g GROUP] [-o table|json]` commands
// of storage accounts, key vaults and workspaces share: the resource of a
// type found by name (in the group, else the whole subscription), its
// document printed as JSON or by the command's own printer.
type showByName struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	group string
}

func (c *showByName) register(f *pflag.FlagSet) {
	groupFlag(f, &c.group, false)
	c.out.register(f)
	c.srv.register(f)
}

func (c *showByName) show(ctx context.Context, t *resourceType, name string, print func(cl *client.Client, doc json.RawMessage) error) error {
	cl, r, err := c.srv.client()
	if err != nil {
		return err
	}
	id, err := findResource(ctx, cl, t, r.subscription, c.group, name)
	if err != nil {
		return err
	}
	doc, err := cl.Get(ctx, id)
	if err != nil {
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, doc)
	}
	return print(cl, doc)
}
