package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/inference/aks"
)

// computeAttachCmd is `vnetml compute attach NAME --type aks`: the SDK's
// AksCompute.attach_configuration, ComputeTarget.attach and, with --wait,
// wait_for_completion(show_output=True) (surface §A.5).
type computeAttachCmd struct {
	env         *env
	ws          computeFlags
	out         outputFlag
	wait        waitFlags
	typ         string
	resourceID  string
	clusterName string
	purpose     string
	lbType      string
	lbSubnet    string
	description string
}

func newComputeAttachCmd(e *env) *cobra.Command {
	c := &computeAttachCmd{env: e}
	cmd := &cobra.Command{
		Use: "attach NAME -w WORKSPACE [-g GROUP] --type aks (--resource-id ID | --cluster-name CLUSTER -g GROUP) " +
			"[--cluster-purpose FastProd|DevTest] [--load-balancer-type PublicIp|InternalLoadBalancer [--load-balancer-subnet SUBNET]] [--wait [--timeout DURATION]]",
		Short: "Attach an existing Kubernetes cluster (a managed cluster) as an inference compute",
		Long: `Attach a managed cluster (Microsoft.ContainerService/managedClusters, made
with 'vnetml apply') to a workspace as an inference compute, as the Azure ML
SDK's AksCompute.attach_configuration and ComputeTarget.attach do. Name the
cluster by --resource-id, or by --cluster-name in the resource group -g
(the SDK's resource_group; -g also finds the workspace, so use
--resource-id for a cluster in another group).

The server checks that the cluster exists, that you may write to it, that
it is Succeeded and attached to no other compute, that a FastProd cluster
(the default --cluster-purpose) has at least 12 vCPUs in its agent pool
(DevTest has no minimum), and that --load-balancer-subnet is a subnet of
the cluster's virtual network. Attaching installs azureml-fe, the front end
scoring calls arrive at, in the cluster's subnet: behind a public IP, or at
an address of --load-balancer-subnet with --load-balancer-type
InternalLoadBalancer. The compute then shows the cluster's agent pool and
network, and web services deploy to it as to a cluster the workspace
created ('vnetml service deploy --compute NAME').

--wait follows the cluster's nodes as 'vnetml compute create --type aks
--wait' does. 'vnetml compute detach' undoes the attach and leaves the
cluster running.

Exit status: 0 when attached; 2 when the server refuses (the flag to change
is named); 1 otherwise.`,
		Example: `  # A managed cluster of the resource group mygroup, for development
  vnetml compute attach myaks -w myworkspace -g mygroup --type aks --cluster-name myk8s --cluster-purpose DevTest

  # By its id, scoring on an address of the virtual network only
  vnetml compute attach myaks -w myworkspace --type aks \
      --resource-id /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/aksgroup/providers/Microsoft.ContainerService/managedClusters/myk8s \
      --load-balancer-type InternalLoadBalancer --load-balancer-subnet default --wait`,
		Args: nameArg("the name of the compute to attach the cluster as"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.typ, "aks"), "type", "what to attach: aks, a managed cluster (required)")
	f.Var(text(&c.resourceID, "ID"), "resource-id", "the managed cluster's resource id (the SDK's resource_id)")
	f.Var(text(&c.clusterName, "CLUSTER"), "cluster-name", "the managed cluster's name, in the resource group -g (the SDK's cluster_name)")
	f.Var(text(&c.purpose, "FastProd|DevTest"), "cluster-purpose", "FastProd (default; at least 12 vCPUs in the cluster's agent pool) or DevTest")
	f.Var(text(&c.lbType, "PublicIp|InternalLoadBalancer"), "load-balancer-type", "where scoring calls arrive: a public IP (default) or an address of the cluster's virtual network")
	f.Var(text(&c.lbSubnet, "SUBNET"), "load-balancer-subnet", "the internal load balancer's subnet, of the cluster's virtual network (default aks-subnet)")
	f.Var(text(&c.description, "TEXT"), "description", "what the compute is for")
	c.wait.register(f)
	c.out.register(f)
	c.ws.register(f)
	return cmd
}

// attachTargets name the flag of each field the server may refuse.
var attachTargets = map[string]string{
	"properties.resourceId":                    "--resource-id",
	"properties.properties.clusterPurpose":     "--cluster-purpose",
	"properties.properties.loadBalancerType":   "--load-balancer-type",
	"properties.properties.loadBalancerSubnet": "--load-balancer-subnet",
}

func (c *computeAttachCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	c.ws.check(&l, "to attach the cluster to")
	switch strings.ToLower(c.typ) {
	case "aks":
	case "":
		l.Addf(codeMissingArgument, "--type", "--type is required: aks (a managed cluster, the only kind vnetml attaches)")
	default:
		l.Addf(codeInvalidArgument, "--type", "--type %q: vnetml attaches aks, a managed cluster (SSH hosts and HDInsight are not attached yet)", c.typ)
	}
	switch {
	case c.resourceID == "" && c.clusterName == "":
		l.Addf(codeMissingArgument, "--resource-id", "give the cluster: --resource-id ID, or --cluster-name CLUSTER with -g GROUP")
	case c.clusterName != "" && c.ws.group == "":
		l.Addf(codeMissingArgument, "--resource-group", "--cluster-name needs -g/--resource-group, the cluster's resource group (the SDK's resource_group); or give --resource-id")
	case c.resourceID != "" && c.clusterName != "":
		l.Addf(codeInvalidArgument, "--cluster-name", "--resource-id and --cluster-name cannot be combined: name the cluster one way")
	}
	timeout, interval := c.wait.check(&l)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, ws, err := c.ws.open(ctx)
	if err != nil {
		return err
	}
	group := ""
	if c.clusterName != "" {
		group = c.ws.group
	}
	// The SDK's checks of attach_configuration, before anything is sent.
	id, err := aks.AttachResourceID(strings.Split(ws, "/")[2], group, c.clusterName, strings.TrimRight(c.resourceID, "/"))
	if a, ok := armerror.As(err); ok {
		return usageErr(retargetPrefix(a, map[string]string{"resource_id": "--resource-id", "cluster_name": "--cluster-name", "resource_group": "--resource-group"}))
	} else if err != nil {
		return err
	}
	props := map[string]any{}
	for k, v := range map[string]string{"clusterPurpose": c.purpose, "loadBalancerType": c.lbType, "loadBalancerSubnet": c.lbSubnet} {
		if v != "" {
			props[k] = v
		}
	}
	body := map[string]any{"properties": map[string]any{"computeType": "AKS", "resourceId": id, "description": c.description, "properties": props}}
	name := args[0]
	cid := ws + "/computes/" + name
	doc, err := createOnly(ctx, cl, computeType, cid, body, "detach it first to attach another cluster (vnetml compute detach "+name+" -w "+lastSegment(ws)+")")
	if err != nil {
		targets := attachTargets
		if c.clusterName != "" {
			targets = map[string]string{"properties.resourceId": "--cluster-name"}
			for k, v := range attachTargets {
				if k != "properties.resourceId" {
					targets[k] = v
				}
			}
		}
		return retargetErr(err, targets)
	}
	create := &computeCreateCmd{env: c.env, out: c.out, wait: c.wait}
	return create.finish(ctx, cl, cid, name, ws, doc, timeout, interval)
}
