package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/flow"
)

// showEffectiveRouteTableCmd is `vnetml network nic
// show-effective-route-table`: the routes a network interface's subnet uses.
type showEffectiveRouteTableCmd struct {
	env *env
	res resourceFlags
	net serverSide
	out outputFlag
	nic string
}

func newShowEffectiveRouteTableCmd(e *env) *cobra.Command {
	c := &showEffectiveRouteTableCmd{env: e}
	cmd := &cobra.Command{
		Use:   "show-effective-route-table [--resources FILE | -g GROUP] --nic NIC",
		Short: "Show the effective routes of a network interface",
		Long: `Show the effective routes of a network interface's subnet, as
'az network nic show-effective-route-table' does: system routes (Default),
routes learned from gateways, service endpoint routes and the user-defined
routes of the subnet's route table (User). Routes that lose to another for the
same prefix are listed with state Invalid.

-o json prints Azure's {"value": [...]} with its field names; the table has
az's columns.`,
		Example: `  vnetml network nic show-effective-route-table --resources examples/secure-network/network.json --nic node0`,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.res.register(f)
	c.net.register(f)
	f.Var(text(&c.nic, "NIC"), "nic", "the network interface: its name or full resource id")
	c.out.register(f)
	return cmd
}

func (c *showEffectiveRouteTableCmd) run(ctx context.Context, _ []string) error {
	list, err := askNIC(ctx, c.env, &c.res, &c.net, c.nic, "/effectiveRouteTable", (*flow.Engine).EffectiveRoutes)
	if err != nil {
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, list)
	}
	return effectiveRouteTable(list).write(c.env.stdout)
}

// effectiveRouteTable is az's table of effective routes.
func effectiveRouteTable(list flow.EffectiveRouteList) *table {
	t := &table{header: []string{"Source", "State", "Address Prefix", "Next Hop Type", "Next Hop IP"}}
	for _, r := range list.Value {
		t.add(r.Source, r.State, strings.Join(r.AddressPrefix, " "), r.NextHopType, strings.Join(r.NextHopIPAddress, " "))
	}
	return t
}
