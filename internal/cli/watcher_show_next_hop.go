package cli

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/flow"
)

// showNextHopCmd is `vnetml network watcher show-next-hop`: Network
// Watcher's next hop for a packet leaving a network interface.
type showNextHopCmd struct {
	env      *env
	res      resourceFlags
	net      serverSide
	out      outputFlag
	nic      string
	sourceIP string
	destIP   string
}

func newShowNextHopCmd(e *env) *cobra.Command {
	c := &showNextHopCmd{env: e}
	cmd := &cobra.Command{
		Use:   "show-next-hop [--resources FILE | -g GROUP] --nic NIC --source-ip IP --dest-ip IP",
		Short: "Show the next hop of a packet leaving a network interface",
		Long: `Show where a packet from a network interface goes next, as
'az network watcher show-next-hop' does: the next hop type (Internet,
VirtualAppliance, VirtualNetworkGateway, VnetLocal, HyperNetGateway or None),
the next hop's address for an appliance, and the route table of the
user-defined route that won ("System Route" otherwise).

--source-ip must be an address of the network interface. The routes are the
effective routes of its subnet: system routes, peering, gateway, service and
private endpoint routes, and the subnet's route table, with Azure's
tie-breaks.

With --resources, the command checks resource files offline. Without it,
it asks the vnetml server (see 'vnetml login'): --nic is the name of a
network interface on the server, looked for in the resource group given
with -g or in the whole subscription, or its full id, and the network
watcher of the subscription and the NIC's region answers. The table's
explanation line is printed when the answer carries one.`,
		Example: `  vnetml network watcher show-next-hop --resources examples/secure-network/network.json \
      --nic node0 --source-ip 10.0.0.4 --dest-ip 198.18.3.9

  # Ask the server (after vnetml login)
  vnetml network watcher show-next-hop -g mygroup --nic node0 --source-ip 10.0.0.4 --dest-ip 8.8.8.8`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.res.register(f)
	c.net.register(f)
	f.Var(text(&c.nic, "NIC"), "nic", "the network interface: its name or full resource id")
	f.Var(text(&c.sourceIP, "IP"), "source-ip", "the packet's source: an address of the network interface")
	f.Var(text(&c.destIP, "IP"), "dest-ip", "the packet's destination")
	c.out.register(f)
	return cmd
}

// nextHopFlags maps next hop's query fields to flags.
var nextHopFlags = map[string]string{
	"targetResourceId": "--nic", "targetNicResourceId": "--nic", "sourceIPAddress": "--source-ip", "destinationIPAddress": "--dest-ip",
}

// nextHopJSON is Network Watcher's answer as az prints it: an absent next
// hop address is null.
type nextHopJSON struct {
	NextHopIPAddress *string `json:"nextHopIpAddress"`
	NextHopType      string  `json:"nextHopType"`
	RouteTableID     string  `json:"routeTableId"`
}

func (c *showNextHopCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	offline := c.net.check(&l, &c.res)
	if c.nic == "" {
		l.Addf(codeMissingArgument, "--nic", "--nic is required: the network interface's name or resource id")
	}
	src := parseAddrFlag(&l, "--source-ip", c.sourceIP, "an address of the network interface")
	dst := parseAddrFlag(&l, "--dest-ip", c.destIP, "the destination address")
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	if !offline {
		return c.runServer(ctx, src, dst)
	}
	eng, err := c.res.load(ctx, c.env)
	if err != nil {
		return err
	}
	res, err := eng.NextHop(c.nic, src, dst)
	if err != nil {
		return queryError(err, nextHopFlags)
	}
	return c.print(res.NextHopType, res.NextHopIPAddress, res.RouteTableID, flow.ExplainNextHop(src, dst, res))
}

// print prints an answer: Azure's JSON, or a table and the explanation
// (when there is one).
func (c *showNextHopCmd) print(hopType, hopIP, routeTable, explanation string) error {
	out := nextHopJSON{NextHopType: hopType, RouteTableID: routeTable}
	if hopIP != "" {
		out.NextHopIPAddress = &hopIP
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, out)
	}
	t := table{header: []string{"NextHopType", "NextHopIpAddress", "RouteTableId"}}
	t.add(hopType, hopIP, routeTable)
	if err := t.write(c.env.stdout); err != nil {
		return err
	}
	if explanation == "" {
		return nil
	}
	_, err := fmt.Fprintln(c.env.stdout, explanation)
	return internalErr(err)
}

// runServer asks the server's network watcher.
func (c *showNextHopCmd) runServer(ctx context.Context, src, dst netip.Addr) error {
	s, err := c.net.open()
	if err != nil {
		return err
	}
	nic, err := s.nic(ctx, c.nic, "--nic")
	if err != nil {
		return err
	}
	w, err := s.watcher(ctx, nic)
	if err != nil {
		return err
	}
	// The answer is Network Watcher's NextHopResult; an explanation beside
	// it, as IP flow verify has, is printed when the server gives one.
	var res struct {
		api.NextHopResult
		Explanation string `json:"explanation"`
	}
	err = s.c.Post(ctx, w+"/nextHop", api.NextHopRequest{
		TargetResourceID: nic.id, SourceIPAddress: src.String(), DestinationIPAddress: dst.String(),
	}, &res)
	if err != nil {
		return askErr(err, nextHopFlags)
	}
	return c.print(res.NextHopType, res.NextHopIPAddress, res.RouteTableID, res.Explanation)
}

// parseAddrFlag parses a required IP address flag, recording problems in l.
func parseAddrFlag(l *armerror.List, flag, value, want string) netip.Addr {
	if value == "" {
		l.Addf(codeMissingArgument, flag, "%s is required: %s", flag, want)
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(value)
	if err != nil || a.Zone() != "" {
		l.Addf(codeInvalidArgument, flag, "%q is not an IP address (write e.g. 10.0.0.4)", value)
	}
	return a
}
