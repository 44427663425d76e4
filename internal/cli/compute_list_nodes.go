package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// computeListNodesCmd is `vnetml compute list-nodes NAME -w WORKSPACE`:
// the SDK's AmlCompute.list_nodes().
type computeListNodesCmd struct {
	env *env
	ws  computeFlags
	out outputFlag
}

func newComputeListNodesCmd(e *env) *cobra.Command {
	c := &computeListNodesCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list-nodes NAME -w WORKSPACE [-g GROUP] [-o table|json]",
		Short: "List a compute cluster's nodes, their states, and why a node is unusable",
		Long: `List the nodes of a compute cluster as the SDK's list_nodes() does: each
node's id, private address in the cluster's subnet, public address, port,
state (preparing, idle, running, unusable, leaving, preempted) and run.
vnetml adds the reason a node is unusable: the rule or route that keeps
Batch node management (TCP 29876-29877 from BatchNodeManagement) from
reaching it, and what would fix it. -o json prints the list as the SDK
returns it.`,
		Example: `  vnetml compute list-nodes cpucluster -w myworkspace -g mygroup
  vnetml compute list-nodes cpucluster -w myworkspace -o json | jq -r '.[] | select(.nodeState == "unusable") | .reason'`,
		Args: nameArg("the name of the compute whose nodes to list"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.out.register(f)
	c.ws.register(f)
	return cmd
}

// computeNode is one row of listNodes.
type computeNode struct {
	NodeID           string `json:"nodeId"`
	PrivateIPAddress string `json:"privateIpAddress"`
	PublicIPAddress  string `json:"publicIpAddress"`
	Port             int    `json:"port"`
	NodeState        string `json:"nodeState"`
	RunID            string `json:"runId"`
	Reason           string `json:"reason"`
}

func (c *computeListNodesCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.ws.check(&l, "of the compute")
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, ws, err := c.ws.open(ctx)
	if err != nil {
		return err
	}
	var answer struct {
		Nodes []json.RawMessage `json:"nodes"`
	}
	if err := cl.Post(ctx, ws+"/computes/"+args[0]+"/listNodes", nil, &answer); err != nil {
		return computeNotFound(ctx, cl, err, ws, args[0])
	}
	if answer.Nodes == nil {
		answer.Nodes = []json.RawMessage{}
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, answer.Nodes)
	}
	if len(answer.Nodes) == 0 {
		_, err := fmt.Fprintf(c.env.stdout, "Compute %s has no nodes.\n", args[0])
		return internalErr(err)
	}
	t := table{header: []string{"NodeId", "PrivateIpAddress", "PublicIpAddress", "Port", "State", "RunId", "Reason"}}
	for _, raw := range answer.Nodes {
		var n computeNode
		if err := json.Unmarshal(raw, &n); err != nil {
			return internalErr(fmt.Errorf("the server's node is not JSON: %w", err))
		}
		t.add(n.NodeID, n.PrivateIPAddress, n.PublicIPAddress, strconv.Itoa(n.Port), n.NodeState, n.RunID, n.Reason)
	}
	return t.write(c.env.stdout)
}
