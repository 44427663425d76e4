package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// testConnectivityCmd is `vnetml network watcher test-connectivity`:
// Network Watcher's connectivity check, a real connection through the
// server's data plane.
type testConnectivityCmd struct {
	env     *env
	net     serverSide
	out     outputFlag
	source  string
	address string
	port    int
}

func newTestConnectivityCmd(e *env) *cobra.Command {
	c := &testConnectivityCmd{env: e}
	cmd := &cobra.Command{
		Use:   "test-connectivity --source-resource NIC --dest-address IP --dest-port PORT",
		Short: "Open a real TCP connection from a network interface through the data plane",
		Long: `Open a TCP connection from a network interface to an address and port through
the server's data plane, as 'az network watcher test-connectivity' does, and
say whether it got through — and if not, which rule or route stopped it, or
that nothing listens there. Unlike test-ip-flow, which asks the rules, this
asks the fabric that enforces them; the attempt appears in the flow log.`,
		Example: `  vnetml network watcher test-connectivity -g mygroup --source-resource node0 \
      --dest-address 198.18.1.4 --dest-port 443`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	f := cmd.Flags()
	f.Var(text(&c.source, "NIC"), "source-resource", "the network interface to connect from: name (with -g) or id")
	f.Var(text(&c.address, "IP"), "dest-address", "the virtual address to connect to")
	f.IntVar(&c.port, "dest-port", 0, "the port to connect to")
	c.net.register(f)
	c.out.register(f)
	return cmd
}

func (c *testConnectivityCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	if c.source == "" {
		l.Addf(codeMissingArgument, "--source-resource", "--source-resource is required: the network interface to connect from")
	}
	if c.address == "" {
		l.Addf(codeMissingArgument, "--dest-address", "--dest-address is required: the address to connect to")
	}
	if c.port < 1 || c.port > 65535 {
		l.Addf(codeInvalidArgument, "--dest-port", "--dest-port %d is not a port (1-65535)", c.port)
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	ss, err := c.net.open()
	if err != nil {
		return err
	}
	nic, err := ss.nic(ctx, c.source, "--source-resource")
	if err != nil {
		return err
	}
	w, err := ss.watcher(ctx, nic)
	if err != nil {
		return err
	}
	var req api.ConnectivityRequest
	req.Source.ResourceID = nic.id
	req.Destination.Address, req.Destination.Port, req.Protocol = c.address, c.port, "Tcp"
	var res api.ConnectivityResult
	if err := ss.c.Post(ctx, w+"/connectivityCheck", req, &res); err != nil {
		if a, ok := armerror.As(err); ok && !fatal(a) {
			return usageErr(retarget(a, map[string]string{"destination.address": "--dest-address", "destination.port": "--dest-port", "source": "--source-resource"}))
		}
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, res)
	}
	t := table{header: []string{"ConnectionStatus", "ProbesSent", "ProbesFailed", "AvgLatencyInMs"}}
	t.add(res.ConnectionStatus, fmt.Sprint(res.ProbesSent), fmt.Sprint(res.ProbesFailed), fmt.Sprint(res.AvgLatencyInMs))
	if err := t.write(c.env.stdout); err != nil {
		return err
	}
	if res.Explanation != "" {
		_, err = fmt.Fprintln(c.env.stdout, strings.TrimSpace(res.Explanation))
	}
	return internalErr(err)
}
