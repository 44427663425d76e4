package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// The compute commands are az ml's and the Azure ML SDK's AmlCompute:
// create (ComputeTarget.create and wait_for_completion), show
// (get_status), list, list-nodes, update, delete, list-sizes
// (supported_vmsizes) and preempt-node. This file holds what they share;
// each command is in its own file.

// computeType is a compute cluster, for `vnetml get` and the list table.
var computeType = &resourceType{name: "compute", noun: "compute", plural: "computes",
	aliases: []string{"computes", "amlcompute", "amlcomputes"}, armType: armWorkspace + "/computes",
	scope: scopeChild, parent: workspaceType, parentFlag: "workspace-name", segment: "computes",
	columns: []column{nameCol, {"Workspace", parentName}, {"VmSize", docField("properties.properties.vmSize")},
		{"Priority", docField("properties.properties.vmPriority")}, stateCol, {"Nodes", computeNodesCol},
		{"Allocation", docField("properties.properties.allocationState")}}}

// computeNodesCol is a compute's node count as current/target, "" when
// the server reports no status for it.
func computeNodesCol(d map[string]any) string {
	cur := docField("properties.properties.currentNodeCount")(d)
	if cur == "" {
		return ""
	}
	return cur + "/" + firstOf(docField("properties.properties.targetNodeCount")(d), "0")
}

func newComputeCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compute",
		Short: "Azure ML compute clusters (AmlCompute) and their nodes (az ml computetarget ...)",
		Long: `Manage a workspace's compute clusters (AmlCompute), as the Azure ML SDK's
AmlCompute and 'az ml computetarget' do. A cluster's nodes are real
processes ('vnetml agent') with an address in the cluster's subnet: Batch
node management reaches them through the virtual network on TCP 29876-29877,
so a rule or a route that blocks it makes them unusable, naming the rule —
the 2019 article's most common trap. 'vnetml workspace diagnose' checks
every flow a cluster needs.

Each cluster creates, in its virtual network's resource group, a network
security group, a public IP address and a load balancer (counted against
quotas, refused under a ReadOnly lock), as Batch does in Azure.`,
		Args: noArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(newComputeCreateCmd(e), newComputeShowCmd(e), newComputeListCmd(e), newComputeListNodesCmd(e),
		newComputeUpdateCmd(e), newComputeDeleteCmd(e), newComputeAttachCmd(e), newComputeDetachCmd(e), newComputeListSizesCmd(e), newComputePreemptNodeCmd(e))
	return cmd
}

// computeFlags say which workspace a compute command addresses, and
// which server.
type computeFlags struct {
	srv       serverFlags
	group     string
	workspace string
}

func (f *computeFlags) register(fs *pflag.FlagSet) {
	fs.VarP(text(&f.workspace, "WORKSPACE"), "workspace-name", "w", "the workspace (required)")
	groupFlag(fs, &f.group, false)
	f.srv.register(fs)
}

// check adds a missing workspace to l.
func (f *computeFlags) check(l *armerror.List, what string) {
	if f.workspace == "" {
		l.Addf(codeMissingArgument, "--workspace-name", "-w/--workspace-name is required: the workspace %s", what)
	}
}

// open returns a client and the id of the workspace.
func (f *computeFlags) open(ctx context.Context) (*client.Client, string, error) {
	cl, r, err := f.srv.client()
	if err != nil {
		return nil, "", err
	}
	id, err := findResource(ctx, cl, workspaceType, r.subscription, f.group, f.workspace)
	if err != nil {
		return nil, "", retargetErr(err, map[string]string{"NAME": "--workspace-name"})
	}
	return cl, id, nil
}

// get returns a client, the id of the compute named name and its
// document; a compute that does not exist is NotFound, listing those
// that do.
func (f *computeFlags) get(ctx context.Context, name string) (*client.Client, string, json.RawMessage, error) {
	cl, ws, err := f.open(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	id := ws + "/computes/" + name
	doc, err := cl.Get(ctx, id)
	if err != nil {
		return nil, "", nil, computeNotFound(ctx, cl, err, ws, name)
	}
	return cl, id, doc, nil
}

// computeNotFound turns the server's 404 of the compute name into
// workspace ws into NotFound naming the computes there; other errors
// pass.
func computeNotFound(ctx context.Context, cl *client.Client, err error, ws, name string) error {
	a, ok := armerror.As(err)
	if !ok || a.Code != codeResourceNotFound {
		return err
	}
	msg := fmt.Sprintf("Compute %q was not found in workspace %s", name, lastSegment(ws))
	if docs, lerr := cl.List(ctx, ws+"/computes"); lerr == nil && len(docs) > 0 {
		var names []string
		for _, d := range docs {
			var h struct{ Name string }
			if json.Unmarshal(d, &h) == nil {
				names = append(names, h.Name)
			}
		}
		msg += "; known: " + strings.Join(names, ", ")
	} else {
		msg += "; it has no computes (create one with `vnetml compute create`)"
	}
	return armerror.New(codeNotFound, "NAME", "%s", msg)
}

// computeTargets maps the JSON paths of a compute's errors to the flags
// that set them.
var computeTargets = map[string]string{
	"name":                             "NAME",
	"properties.properties.vmSize":     "--vm-size",
	"properties.properties.vmPriority": "--vm-priority",
	"properties.properties.scaleSettings.minNodeCount":                   "--min-nodes",
	"properties.properties.scaleSettings.maxNodeCount":                   "--max-nodes",
	"properties.properties.scaleSettings.nodeIdleTimeBeforeScaleDown":    "--idle-seconds-before-scaledown",
	"properties.properties.userAccountCredentials":                       "--admin-username",
	"properties.properties.userAccountCredentials.adminUserPassword":     "--admin-password",
	"properties.properties.userAccountCredentials.adminUserSshPublicKey": "--ssh-key",
	"properties.properties.subnet":                                       "--subnet",
	"properties.properties.vnet":                                         "--vnet-name",
	"properties.properties.vnet.resourceGroup":                           "--vnet-resourcegroup-name",
	"properties.properties.vnet.subnet":                                  "--subnet-name",
	"properties.properties.remoteLoginPortPublicAccess":                  "--remote-login-port-public-access",
	"properties.description":                                             "--description",
}

// intArg parses the whole number a text flag holds, adding a problem to
// l; ok is false when the flag is unset or bad.
func intArg(l *armerror.List, flag, s string) (n int, ok bool) {
	if s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		l.Addf(codeInvalidArgument, flag, "%s %q is not a whole number", flag, s)
		return 0, false
	}
	return n, true
}

// computeView is what the compute commands print of a compute: its
// settings and the status the server merges into them.
type computeView struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Location   string `json:"location"`
	Properties struct {
		ComputeType       string `json:"computeType"`
		Description       string `json:"description"`
		ProvisioningState string `json:"provisioningState"`
		Properties        struct {
			VMSize        string `json:"vmSize"`
			VMPriority    string `json:"vmPriority"`
			ScaleSettings struct {
				MinNodeCount                int    `json:"minNodeCount"`
				MaxNodeCount                int    `json:"maxNodeCount"`
				NodeIdleTimeBeforeScaleDown string `json:"nodeIdleTimeBeforeScaleDown"`
			} `json:"scaleSettings"`
			UserAccountCredentials *struct {
				AdminUserName         string `json:"adminUserName"`
				AdminUserSSHPublicKey string `json:"adminUserSshPublicKey"`
			} `json:"userAccountCredentials"`
			Subnet *struct {
				ID string `json:"id"`
			} `json:"subnet"`
			RemoteLoginPortPublicAccess   string          `json:"remoteLoginPortPublicAccess"`
			EnableNodePublicIP            *bool           `json:"enableNodePublicIp"`
			AllocationState               string          `json:"allocationState"`
			AllocationStateTransitionTime string          `json:"allocationStateTransitionTime"`
			CurrentNodeCount              *int            `json:"currentNodeCount"`
			TargetNodeCount               int             `json:"targetNodeCount"`
			NodeStateCounts               nodeStateCounts `json:"nodeStateCounts"`
			Errors                        []computeError  `json:"errors"`
		} `json:"properties"`
		Resources struct {
			NetworkSecurityGroup string `json:"networkSecurityGroup"`
			PublicIPAddress      string `json:"publicIPAddress"`
			LoadBalancer         string `json:"loadBalancer"`
			VirtualNetwork       string `json:"virtualNetwork"`
		} `json:"vnetmlResources"`
	} `json:"properties"`
}

type nodeStateCounts struct {
	Idle      int `json:"idleNodeCount"`
	Running   int `json:"runningNodeCount"`
	Preparing int `json:"preparingNodeCount"`
	Unusable  int `json:"unusableNodeCount"`
	Leaving   int `json:"leavingNodeCount"`
	Preempted int `json:"preemptedNodeCount"`
}

// computeError is one of a cluster's status errors: ARM's
// {"error": {"code", "message"}}, or the same flat.
type computeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *computeError) UnmarshalJSON(b []byte) error {
	var v struct {
		Code, Message string
		Error         *struct{ Code, Message string }
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	e.Code, e.Message = v.Code, v.Message
	if v.Error != nil {
		e.Code, e.Message = v.Error.Code, v.Error.Message
	}
	return nil
}

// printCompute prints a compute: a line saying what and where it is, its
// settings, its status (allocation and nodes by state), the network
// resources it owns, and its errors.
func printCompute(w io.Writer, doc json.RawMessage) error {
	var c computeView
	if err := json.Unmarshal(doc, &c); err != nil {
		return internalErr(fmt.Errorf("the server's compute is not JSON: %w", err))
	}
	p, s := c.Properties, c.Properties.Properties
	fmt.Fprintf(w, "Compute %s in workspace %s (resource group %s, %s): %s, %s\n", c.Name, parentName(map[string]any{"id": c.ID}),
		groupOfID(c.ID), c.Location, p.ComputeType, p.ProvisioningState)
	if p.Description != "" {
		fmt.Fprintln(w, p.Description)
	}
	fmt.Fprintln(w)
	t := table{header: []string{"Setting", "Value"}}
	t.add("vmSize", s.VMSize)
	t.add("vmPriority", s.VMPriority)
	t.add("minNodeCount", strconv.Itoa(s.ScaleSettings.MinNodeCount))
	t.add("maxNodeCount", strconv.Itoa(s.ScaleSettings.MaxNodeCount))
	t.add("nodeIdleTimeBeforeScaleDown", s.ScaleSettings.NodeIdleTimeBeforeScaleDown)
	if u := s.UserAccountCredentials; u != nil {
		t.add("adminUserName", u.AdminUserName)
		if u.AdminUserSSHPublicKey != "" {
			t.add("adminUserSshPublicKey", sshKeySummary(u.AdminUserSSHPublicKey))
		}
	}
	if s.Subnet != nil {
		t.add("subnet", s.Subnet.ID)
	}
	t.add("remoteLoginPortPublicAccess", s.RemoteLoginPortPublicAccess)
	if s.EnableNodePublicIP != nil {
		t.add("enableNodePublicIp", strconv.FormatBool(*s.EnableNodePublicIP))
	}
	if err := t.write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if s.CurrentNodeCount == nil {
		fmt.Fprintln(w, "No status: the server runs no nodes for this compute.")
	} else {
		n := s.NodeStateCounts
		st := table{header: []string{"Allocation", "Since", "Nodes", "Idle", "Running", "Preparing", "Unusable", "Leaving", "Preempted"}}
		since := s.AllocationStateTransitionTime
		if t, err := time.Parse(time.RFC3339Nano, since); err == nil {
			since = t.UTC().Format(time.RFC3339)
		}
		st.add(s.AllocationState, since, fmt.Sprintf("%d/%d", *s.CurrentNodeCount, s.TargetNodeCount),
			strconv.Itoa(n.Idle), strconv.Itoa(n.Running), strconv.Itoa(n.Preparing), strconv.Itoa(n.Unusable), strconv.Itoa(n.Leaving), strconv.Itoa(n.Preempted))
		if err := st.write(w); err != nil {
			return err
		}
	}
	r := p.Resources
	rt := table{header: []string{"Resource", "Name", "Id"}}
	for _, x := range []struct{ what, id string }{
		{"virtual network", r.VirtualNetwork}, {"network security group", r.NetworkSecurityGroup},
		{"public IP address", r.PublicIPAddress}, {"load balancer", r.LoadBalancer},
	} {
		if x.id != "" {
			rt.add(x.what, lastSegment(x.id), x.id)
		}
	}
	if len(rt.rows) > 0 {
		fmt.Fprintln(w)
		if err := rt.write(w); err != nil {
			return err
		}
	}
	if len(s.Errors) > 0 {
		fmt.Fprintln(w, "\nErrors:")
		for _, e := range s.Errors {
			fmt.Fprintf(w, "  %s: %s\n", e.Code, e.Message)
		}
	}
	return nil
}

// sshKeySummary shows an OpenSSH public key by its type and comment, as
// the whole key is long and says nothing to a reader.
func sshKeySummary(k string) string {
	f := strings.Fields(k)
	switch {
	case len(f) >= 3:
		return f[0] + " … " + strings.Join(f[2:], " ")
	case len(f) == 2:
		return f[0] + " …"
	}
	return k
}
