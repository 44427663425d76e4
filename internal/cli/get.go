package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// getCmd is `vnetml get TYPE [NAME]`: one resource of the server, or all
// of a type in a group or subscription.
type getCmd struct {
	env *env
	srv serverFlags
	loc typeFlags
	out outputFlag
}

func newGetCmd(e *env) *cobra.Command {
	c := &getCmd{env: e}
	cmd := &cobra.Command{
		Use:   "get TYPE [NAME] [-g GROUP] [-o table|json]",
		Short: "Show a resource of the server, or list the resources of a type",
		Long: `Show a resource of the vnetml server, or, without NAME, list the resources of
a type: in the resource group given with -g, else in the whole subscription.

TYPE is one of these, in any case, singular or plural (other spellings on
the right):

` + typeHelp() + `

NAME is the resource's name or its full id. Without -g, a name is looked for
in the whole subscription; when resources in several groups share it, the
command lists them and asks for -g. A subnet, security rule or route is named
PARENT/NAME (mynetwork/default), or NAME with --vnet, --nsg or --route-table.
A lock is looked for on --scope, else on the group given with -g, else on the
subscription; listing locks lists those at and under that scope.

The table shows a few columns per type; -o json prints the server's
documents as they are (a list as a JSON array), as 'az ... show' and
'az ... list' print them.`,
		Example: `  vnetml get vnets -g mygroup
  vnetml get vnet mynetwork -o json
  vnetml get subnet mynetwork/default -g mygroup
  vnetml get rules --nsg ml-nsg
  vnetml get locks -g mygroup
  vnetml get watchers`,
		Args:              typeArgs(1, 2),
		ValidArgsFunction: completeTypes,
		RunE:              func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.loc.register(f)
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

func (c *getCmd) run(ctx context.Context, args []string) error {
	t, err := parseType(args[0])
	if err != nil {
		return err
	}
	name := ""
	if len(args) > 1 {
		name = args[1]
	}
	r, err := c.srv.resolved()
	if err != nil {
		return err
	}
	x, err := newTarget(t, name, &c.loc, r.subscription)
	if err != nil {
		return err
	}
	cl, _, err := c.srv.client()
	if err != nil {
		return err
	}
	if name == "" {
		docs, err := x.list(ctx, cl)
		if err != nil {
			return err
		}
		if c.out.json() {
			if docs == nil {
				docs = []json.RawMessage{}
			}
			return writeJSON(c.env.stdout, docs)
		}
		if len(docs) == 0 {
			_, err := fmt.Fprintf(c.env.stdout, "No %s in %s.\n", t.plural, x.where())
			return internalErr(err)
		}
		return typeTable(t, docs).write(c.env.stdout)
	}
	id, found, err := x.resolve(ctx, cl)
	if err != nil {
		return err
	}
	if !found {
		return x.notFound(ctx, cl)
	}
	doc, err := cl.Get(ctx, id)
	if err != nil {
		if a, ok := armerror.As(err); ok && a.Code == codeResourceNotFound {
			if hint := x.lockHint(ctx, cl); hint != "" {
				c := *a
				c.Message = strings.TrimSuffix(c.Message, ".") + hint + "."
				return &c
			}
		}
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, doc)
	}
	return typeTable(t, []json.RawMessage{doc}).write(c.env.stdout)
}

// typeArgs accepts from lo to hi arguments, the first being TYPE.
func typeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageErr(armerror.New(codeMissingArgument, "TYPE", "TYPE is required: one of %s", typeNames()))
		case len(args) < lo:
			return usageErr(armerror.New(codeMissingArgument, "NAME", "NAME is required: the name or full id of the %s to %s",
				args[0], cmd.Name()))
		case len(args) > hi:
			return usageErr(armerror.New(codeInvalidArgument, "", "unexpected argument %q: %s takes TYPE and NAME; every other input is a flag",
				args[hi], cmd.CommandPath()))
		}
		return nil
	}
}

// completeTypes completes TYPE with the canonical type names.
func completeTypes(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, len(resourceTypes))
	for i, t := range resourceTypes {
		names[i] = t.name + "\t" + t.plural
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
