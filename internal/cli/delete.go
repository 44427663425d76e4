package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// deleteCmd is `vnetml delete TYPE NAME`: delete a resource of the server.
type deleteCmd struct {
	env *env
	srv serverFlags
	loc typeFlags
}

func newDeleteCmd(e *env) *cobra.Command {
	c := &deleteCmd{env: e}
	cmd := &cobra.Command{
		Use:   "delete TYPE NAME [-g GROUP] [--scope ID]",
		Short: "Delete a resource of the server",
		Long: `Delete a resource of the vnetml server, as 'az ... delete' does.

TYPE and NAME are as for 'vnetml get': TYPE in any case, singular or
plural; NAME the resource's name (looked for in the whole subscription
without -g) or its full id; a subnet, security rule or route as PARENT/NAME
or NAME with --vnet, --nsg or --route-table; a lock on --scope, else on the
group given with -g, else on the subscription. The types:

` + typeHelp() + `

Deleting a resource group deletes everything in it. The server refuses what
Azure refuses, with Azure's codes: a resource under a lock (ScopeLocked), a
subnet that network interfaces use (InUseSubnetCannotBeDeleted), a
network security group or route table still attached, and so on.

Exit status: 0 when the resource was deleted and when it did not exist (as
az), 2 when the server refuses, 1 when it cannot be reached.`,
		Example: `  vnetml delete vnet mynetwork -g mygroup
  vnetml delete subnet mynetwork/appliance -g mygroup
  vnetml delete rule ml-nsg/DenyInternetInbound
  vnetml delete lock keep --scope /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup
  vnetml delete group mygroup`,
		Args:              typeArgs(2, 2),
		ValidArgsFunction: completeTypes,
		RunE:              func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.loc.register(f)
	c.srv.register(f)
	return cmd
}

func (c *deleteCmd) run(ctx context.Context, args []string) error {
	t, err := parseType(args[0])
	if err != nil {
		return err
	}
	r, err := c.srv.resolved()
	if err != nil {
		return err
	}
	x, err := newTarget(t, args[1], &c.loc, r.subscription)
	if err != nil {
		return err
	}
	cl, _, err := c.srv.client()
	if err != nil {
		return err
	}
	id, found, err := x.resolve(ctx, cl)
	if err != nil {
		return err
	}
	existed := false
	if found {
		existed, err = cl.Delete(ctx, id)
		if a, ok := armerror.As(err); ok && a.Code == codeResourceNotFound && t == tokenType {
			// Tokens answer a missing name with 404, not 204.
			existed, err = false, nil
		}
		if err != nil {
			return err
		}
	}
	shown := x.name
	if found {
		shown = x.display(id)
	}
	if existed {
		_, err = fmt.Fprintf(c.env.stdout, "Deleted %s %s\n", t.noun, shown)
	} else {
		_, err = fmt.Fprintf(c.env.stdout, "%s %s did not exist%s\n", capitalize(t.noun), shown, x.lockHint(ctx, cl))
	}
	return internalErr(err)
}

// codeResourceNotFound is ARM's code for a resource that is not there.
const codeResourceNotFound = "ResourceNotFound"
