package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// listEffectiveNSGCmd is `vnetml network nic list-effective-nsg`: the NSGs
// that apply to a network interface, with their rules expanded.
type listEffectiveNSGCmd struct {
	env *env
	res resourceFlags
	net serverSide
	out outputFlag
	nic string
}

func newListEffectiveNSGCmd(e *env) *cobra.Command {
	c := &listEffectiveNSGCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list-effective-nsg [--resources FILE | -g GROUP] --nic NIC",
		Short: "List the effective security rules of a network interface",
		Long: `List the network security groups that apply to a network interface — its
subnet's, then its own — with every rule, default rules included, as
'az network nic list-effective-nsg' does: service tags and application
security groups expanded to prefixes, * written 0.0.0.0/0, every port
0-65535, protocol * as All.

-o json prints Azure's {"value": [...]} with its field names; the table lists
one rule per row in evaluation order.`,
		Example: `  vnetml network nic list-effective-nsg --resources examples/secure-network/network.json --nic node0`,
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

// nicFlags maps the effective-rules queries' field to its flag.
var nicFlags = map[string]string{"networkInterface": "--nic", "targetResourceId": "--nic"}

// askNIC answers a question about one network interface (its effective
// NSGs or routes): offline from the --resources files with the engine's
// method, else from the server's action of that name.
func askNIC[T any](ctx context.Context, e *env, res *resourceFlags, net *serverSide, nic, action string, offline func(*flow.Engine, string) (T, error)) (T, error) {
	var out T
	isOffline, err := net.checkNIC(res, nic)
	if err != nil {
		return out, err
	}
	if !isOffline {
		return out, net.ask(ctx, nic, action, &out)
	}
	eng, err := res.load(ctx, e)
	if err != nil {
		return out, err
	}
	if out, err = offline(eng, nic); err != nil {
		return out, queryError(err, nicFlags)
	}
	return out, nil
}

func (c *listEffectiveNSGCmd) run(ctx context.Context, _ []string) error {
	list, err := askNIC(ctx, c.env, &c.res, &c.net, c.nic, "/effectiveNetworkSecurityGroups", (*flow.Engine).EffectiveNSGs)
	if err != nil {
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, list)
	}
	if len(list.Value) == 0 {
		_, err := fmt.Fprintf(c.env.stdout, "No network security group is attached to network interface %s or its subnet: every flow is allowed.\n", c.nic)
		return internalErr(err)
	}
	return effectiveNSGTable(list).write(c.env.stdout)
}

// effectiveNSGTable is az's table of effective rules (NIC, Subnet, NSG,
// rule), with the match columns added.
func effectiveNSGTable(list flow.EffectiveNSGList) *table {
	t := &table{header: []string{"NIC", "Subnet", "NSG", "Rule Name", "Direction", "Priority", "Access", "Protocol",
		"Source", "Source Ports", "Destination", "Destination Ports"}}
	for _, n := range list.Value {
		nic, subnet := "-", "-"
		if a := n.Association.NetworkInterface; a != nil {
			nic = lastSegment(a.ID)
		}
		if a := n.Association.Subnet; a != nil {
			subnet = lastSegment(a.ID)
		}
		nsg := lastSegment(n.NetworkSecurityGroup.ID)
		for _, r := range n.EffectiveSecurityRules {
			t.add(nic, subnet, nsg, r.Name, r.Direction, strconv.Itoa(r.Priority), r.Access, r.Protocol,
				strings.Join(r.SourceAddressPrefixes, ","), strings.Join(r.SourcePortRanges, ","),
				strings.Join(r.DestinationAddressPrefixes, ","), strings.Join(r.DestinationPortRanges, ","))
		}
	}
	return t
}

// lastSegment is a resource id's name.
func lastSegment(id string) string {
	if r, err := network.ParseResourceID(id); err == nil && r.Name() != "" {
		return r.Name()
	}
	return id[strings.LastIndex(id, "/")+1:]
}
