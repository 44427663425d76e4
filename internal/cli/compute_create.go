package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/network"
)

// computeCreateCmd is `vnetml compute create NAME -w WORKSPACE`: the SDK's
// AmlCompute.provisioning_configuration, ComputeTarget.create and, with
// --wait, wait_for_completion(show_output=True).
type computeCreateCmd struct {
	env          *env
	ws           computeFlags
	out          outputFlag
	wait         waitFlags
	vmSize       string
	vmPriority   string
	minNodes     string
	maxNodes     string
	idleSeconds  string
	adminUser    string
	password     string
	passwordFile string
	sshKeyFile   string
	vnetGroup    string
	vnetName     string
	subnetName   string
	subnet       string
	remoteLogin  string
	description  string
	// typ is --type: aml (AmlCompute, the default) or aks (an inference
	// cluster, compute_create_aks.go).
	typ string
	aks aksFlags
}

func newComputeCreateCmd(e *env) *cobra.Command {
	c := &computeCreateCmd{env: e}
	cmd := &cobra.Command{
		Use: "create NAME -w WORKSPACE [-g GROUP] --max-nodes N [--min-nodes N] [--vm-size SIZE] [--vm-priority dedicated|lowpriority] " +
			"[--admin-username USER --admin-password-file FILE] [--vnet-resourcegroup-name GROUP --vnet-name VNET --subnet-name SUBNET | --subnet SUBNET_ID] " +
			"[--wait [--timeout DURATION]]",
		Short: "Create a compute cluster (AmlCompute), optionally waiting for its nodes",
		Long: `Create an AmlCompute cluster in a workspace, as the Azure ML SDK's
AmlCompute.provisioning_configuration and ComputeTarget.create do, with the
SDK's defaults and checks (the server applies them and answers with the
SDK's messages): --max-nodes is required and at least --min-nodes (default
0); --vm-size defaults to STANDARD_NC6 (see 'vnetml compute list-sizes');
--idle-seconds-before-scaledown to 1800.

Credentials: --admin-username with a password or an SSH public key. Give
the password in a file (--admin-password-file, - for stdin) rather than on
the command line (--admin-password), where shell history keeps it; it needs
three of: a lower-case letter, an upper-case letter, a digit, a special
character. The server never shows it again.

The virtual network: --vnet-resourcegroup-name, --vnet-name and
--subnet-name together (the SDK's vnet_resourcegroup_name, vnet_name,
subnet_name; the network must be in the workspace's subscription and
region), or --subnet with the subnet's id (or VNET/SUBNET in the
workspace's resource group). Without either, vnetml makes the cluster a
network of its own. In a virtual network the nodes' SSH port is closed
unless --remote-login-port-public-access Enabled.

The cluster creates, in the network's resource group, a network security
group, a public IP and a load balancer; then its nodes start in the
background. Without --wait the command prints the cluster as created. With
--wait it prints what the SDK's wait_for_completion(show_output=True)
prints while it polls (every 5 s) until min-nodes nodes are provisioned,
the cluster reports errors (a subnet too small for max-nodes: a partial
allocation; nodes unusable because a rule blocks Batch node management), or
--timeout passes; with -o json that transcript goes to stderr and the
cluster's final document to stdout.

The SDK counts nodes as provisioned as soon as they are allocated, usable
or not, so its transcript says "Minimum number of nodes requested have
been provisioned" over nodes that a rule makes unusable. vnetml prints the
same, then goes on polling quietly until no node is preparing, and if any
is unusable it says so (with the rule) and exits 2. 'vnetml compute
list-nodes' shows each node's state, and why a node is unusable.

A compute that exists is not changed: the command fails with Conflict (use
'vnetml compute update' for the scale settings).

Exit status: 0 when the cluster is created (with --wait: when min-nodes
nodes are provisioned and none is unusable); 2 when the server refuses the
settings or, with --wait, when the cluster reports errors or unusable
nodes (its network or subnet is at fault); 1 when --timeout passes or the
cluster fails.`,
		Example: `  # The 2019 article's cluster, in the example network
  vnetml compute create cpucluster -w myworkspace -g mygroup --vm-size STANDARD_D2_V2 --max-nodes 4 \
      --vnet-resourcegroup-name mygroup --vnet-name mynetwork --subnet-name default --wait

  # With an admin account whose password is in a file
  vnetml compute create gpucluster -w myworkspace -g mygroup --vm-size STANDARD_NC6 --min-nodes 1 --max-nodes 2 \
      --vm-priority lowpriority --admin-username azureuser --admin-password-file ./password.txt \
      --subnet /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup/providers/Microsoft.Network/virtualNetworks/mynetwork/subnets/default`,
		Args: nameArg("the name of the compute to create"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.vmSize, "SIZE"), "vm-size", "the nodes' VM size, e.g. STANDARD_D2_V2 (default STANDARD_NC6; see vnetml compute list-sizes)")
	f.Var(text(&c.vmPriority, "dedicated|lowpriority"), "vm-priority", "dedicated nodes, or low-priority nodes Azure may preempt (default dedicated)")
	f.Var(text(&c.minNodes, "N"), "min-nodes", "the nodes the cluster keeps even when idle (default 0)")
	f.Var(text(&c.maxNodes, "N"), "max-nodes", "the most nodes the cluster scales to (required)")
	f.Var(text(&c.idleSeconds, "SECONDS"), "idle-seconds-before-scaledown", "how long a node stays idle before the cluster removes it (default 1800)")
	f.Var(text(&c.adminUser, "USER"), "admin-username", "the nodes' administrator account")
	f.Var(text(&c.password, "PASSWORD"), "admin-password", "the administrator's password (prefer --admin-password-file: shell history keeps this, and ps shows it to other users)")
	f.Var(text(&c.passwordFile, "FILE"), "admin-password-file", "a file holding the administrator's password (- reads stdin; a final newline is dropped)")
	f.Var(text(&c.sshKeyFile, "FILE"), "ssh-key", "a file holding the administrator's OpenSSH public key (id_rsa.pub)")
	f.Var(text(&c.vnetGroup, "GROUP"), "vnet-resourcegroup-name", "the resource group of the virtual network")
	f.Var(text(&c.vnetName, "VNET"), "vnet-name", "the virtual network the nodes join")
	f.Var(text(&c.subnetName, "SUBNET"), "subnet-name", "the subnet of --vnet-name the nodes join")
	f.Var(text(&c.subnet, "SUBNET_ID"), "subnet", "the subnet the nodes join: its id, or VNET/SUBNET in the workspace's group (instead of the three --vnet flags)")
	f.Var(text(&c.remoteLogin, "Enabled|Disabled"), "remote-login-port-public-access",
		"whether the nodes' SSH port is open to the Internet (default NotSpecified: closed in a virtual network, open otherwise)")
	f.Var(text(&c.description, "TEXT"), "description", "what the cluster is for")
	f.Var(text(&c.typ, "aml|aks"), "type", "aml: a training cluster (AmlCompute, the default); aks: an inference cluster (AKS) for web services")
	c.aks.register(f)
	c.wait.register(f)
	c.out.register(f)
	c.ws.register(f)
	return cmd
}

// computeBody is the PUT body of an AmlCompute.
type computeBody struct {
	Properties struct {
		ComputeType string        `json:"computeType"`
		Description string        `json:"description,omitempty"`
		Properties  amlProperties `json:"properties"`
	} `json:"properties"`
}

type amlProperties struct {
	VMSize                      string         `json:"vmSize,omitempty"`
	VMPriority                  string         `json:"vmPriority,omitempty"`
	ScaleSettings               map[string]any `json:"scaleSettings"`
	UserAccountCredentials      map[string]any `json:"userAccountCredentials,omitempty"`
	Subnet                      map[string]any `json:"subnet,omitempty"`
	VNet                        map[string]any `json:"vnet,omitempty"`
	RemoteLoginPortPublicAccess string         `json:"remoteLoginPortPublicAccess,omitempty"`
}

func (c *computeCreateCmd) run(ctx context.Context, args []string) error {
	switch strings.ToLower(c.typ) {
	case "", "aml", "amlcompute":
	case "aks":
		return c.runAKS(ctx, args)
	default:
		return usageErr(armerror.New(codeInvalidArgument, "--type", "--type %q: use aml (a training cluster) or aks (an inference cluster)", c.typ))
	}
	var l armerror.List
	if c.aks.set() {
		l.Addf(codeInvalidArgument, "--type", "--agent-count, --service-cidr and the other inference settings need --type aks")
	}
	c.ws.check(&l, "to create the compute in")
	timeout, interval := c.wait.check(&l)
	scale := map[string]any{}
	if n, ok := intArg(&l, "--min-nodes", c.minNodes); ok {
		scale["minNodeCount"] = n
	}
	if n, ok := intArg(&l, "--max-nodes", c.maxNodes); ok {
		scale["maxNodeCount"] = n
	}
	if n, ok := intArg(&l, "--idle-seconds-before-scaledown", c.idleSeconds); ok {
		if n < 0 {
			l.Addf(codeInvalidArgument, "--idle-seconds-before-scaledown", "--idle-seconds-before-scaledown %d is negative", n)
		}
		scale["nodeIdleTimeBeforeScaleDown"] = fmt.Sprintf("PT%dS", n)
	}
	if c.password != "" && c.passwordFile != "" {
		l.Addf(codeInvalidArgument, "--admin-password-file", "--admin-password and --admin-password-file cannot be combined: give the password one way")
	}
	if c.subnet != "" && (c.vnetGroup != "" || c.vnetName != "" || c.subnetName != "") {
		l.Addf(codeInvalidArgument, "--subnet", "--subnet and the --vnet-resourcegroup-name, --vnet-name and --subnet-name trio cannot be combined: give the subnet one way")
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	password, err := readFlagFile(c.env.stdin, "--admin-password-file", c.passwordFile, c.password)
	if err != nil {
		return err
	}
	sshKey, err := readFlagFile(c.env.stdin, "--ssh-key", c.sshKeyFile, "")
	if err != nil {
		return err
	}
	cl, ws, err := c.ws.open(ctx)
	if err != nil {
		return err
	}

	var body computeBody
	body.Properties.ComputeType = "AmlCompute"
	body.Properties.Description = c.description
	p := &body.Properties.Properties
	p.VMSize, p.VMPriority, p.ScaleSettings, p.RemoteLoginPortPublicAccess = c.vmSize, c.vmPriority, scale, c.remoteLogin
	if c.adminUser != "" || password != "" || sshKey != "" {
		p.UserAccountCredentials = map[string]any{"adminUserName": c.adminUser}
		if password != "" {
			p.UserAccountCredentials["adminUserPassword"] = password
		}
		if sshKey != "" {
			p.UserAccountCredentials["adminUserSshPublicKey"] = sshKey
		}
	}
	if c.subnet != "" {
		id, err := subnetRef(ws, c.subnet)
		if err != nil {
			return err
		}
		p.Subnet = map[string]any{"id": id}
	}
	if c.vnetGroup != "" || c.vnetName != "" || c.subnetName != "" {
		p.VNet = map[string]any{"resourceGroup": c.vnetGroup, "name": c.vnetName, "subnet": c.subnetName}
	}
	name := args[0]
	id := ws + "/computes/" + name
	doc, err := createOnly(ctx, cl, computeType, id, body, "change its scale settings with `vnetml compute update "+name+" -w "+lastSegment(ws)+"`")
	if err != nil {
		targets := computeTargets
		if c.passwordFile != "" { // name the flag the password came from
			targets = maps.Clone(computeTargets)
			targets["properties.properties.userAccountCredentials.adminUserPassword"] = "--admin-password-file"
		}
		return retargetErr(err, targets)
	}
	return c.finish(ctx, cl, id, name, ws, doc, timeout, interval)
}

// finish prints the created compute, or with --wait follows it as the
// SDK's wait_for_completion(show_output=True) does.
func (c *computeCreateCmd) finish(ctx context.Context, cl *client.Client, id, name, ws string, doc json.RawMessage, timeout, interval time.Duration) error {
	if !c.wait.wait {
		if c.out.json() {
			return writeJSON(c.env.stdout, doc)
		}
		return printCompute(c.env.stdout, doc)
	}
	transcript := c.env.stdout
	if c.out.json() {
		transcript = c.env.stderr
	}
	cw := &computeWaiter{w: transcript, interval: interval, timeout: timeout, now: time.Now, sleep: sleepCtx,
		poll: func(ctx context.Context) (computePoll, error) {
			d, err := cl.Get(ctx, id)
			if err != nil {
				return computePoll{}, err
			}
			doc = d
			return decodePoll(d)
		}}
	start := time.Now()
	last, outcome, err := cw.run(ctx)
	if err == nil && outcome == waitMinNodes {
		last, err = cw.settle(ctx, last, start)
	}
	if err != nil {
		return err
	}
	if c.out.json() {
		if err := writeJSON(c.env.stdout, doc); err != nil {
			return err
		}
	}
	return waitResult(name, lastSegment(ws), timeout, last, outcome)
}

// waitResult is the error (and exit status) of a wait that ended
// otherwise than with the minimum nodes provisioned; the transcript has
// said why.
func waitResult(name, ws string, timeout time.Duration, last computePoll, outcome waitOutcome) error {
	nodes := "see the nodes and why with `vnetml compute list-nodes " + name + " -w " + ws + "`"
	switch outcome {
	case waitMinNodes:
		if last.preparing > 0 {
			return armerror.New("NodesNotChecked", "", "compute %s has its minimum nodes, but %d of them were not checked yet when the wait timed out; %s",
				name, last.preparing, nodes)
		}
		if last.unusable == 0 {
			var errs []computeError
			_ = json.Unmarshal(last.errors, &errs)
			if len(errs) > 0 {
				// A partial allocation (or another problem) the minimum
				// did not run into: the SDK's transcript says nothing.
				return armerror.New(errs[0].Code, "", "compute %s has its minimum nodes, but reports: %s", name, errs[0].Message)
			}
			return nil
		}
		var errs []computeError
		_ = json.Unmarshal(last.errors, &errs)
		for _, e := range errs {
			if e.Code == "NodesUnusable" {
				return armerror.New(e.Code, "", "compute %s has its minimum nodes, but not all are usable: %s; %s, and every flow it needs with `vnetml workspace diagnose %s`",
					name, strings.TrimSuffix(e.Message, "."), nodes, ws)
			}
		}
		return armerror.New("NodesUnusable", "", "compute %s has its minimum nodes, but %d of its %d nodes are unusable; %s, and every flow it needs with `vnetml workspace diagnose %s`",
			name, last.unusable, last.currentNodeCount, nodes, ws)
	case waitErrors:
		var errs []computeError
		_ = json.Unmarshal(last.errors, &errs)
		code := "ComputeErrors"
		if len(errs) > 0 && errs[0].Code != "" {
			code = errs[0].Code
		}
		return armerror.New(code, "", "compute %s reported errors (above); %s, and every flow it needs with `vnetml workspace diagnose %s`", name, nodes, ws)
	case waitTimeout:
		return fmt.Errorf("compute %s did not provision its minimum nodes in %s; it goes on scaling: %s", name, timeout, nodes)
	case waitTerminal:
		return fmt.Errorf("compute %s reached the terminal state %s; delete it and create it again", name, last.provisioningState)
	}
	return nil
}

// readFlagFile returns the contents of the file a flag names (- for
// stdin) without its final newline, or value when no file is given.
func readFlagFile(stdin io.Reader, flag, file, value string) (string, error) {
	if file == "" {
		return value, nil
	}
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", usageErr(armerror.New(codeInvalidArgument, flag, "cannot read %s %s: %v", flag, file, err))
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", usageErr(armerror.New(codeInvalidArgument, flag, "%s %s is empty", flag, file))
	}
	return s, nil
}

// subnetRef turns --subnet into a subnet id: an id as it is (it must be
// a subnet's), VNET/SUBNET as the subnet in the workspace's resource group.
func subnetRef(ws, s string) (string, error) {
	bad := func(why string) error {
		return usageErr(armerror.New(codeInvalidArgument, "--subnet",
			"--subnet %q %s: give VNET/SUBNET (a subnet of a virtual network in the workspace's group) or a subnet's full resource id", s, why))
	}
	if strings.HasPrefix(s, "/") {
		id := strings.TrimRight(s, "/")
		r, err := network.ParseResourceID(id)
		if err != nil || !strings.EqualFold(r.Type(), network.TypeSubnet) {
			return "", bad("is not a subnet's resource id")
		}
		return id, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", bad("names no subnet")
	}
	r, err := network.ParseResourceID(ws)
	if err != nil {
		return "", bad("cannot be resolved in the workspace's group")
	}
	return network.MakeID(r.Subscription, r.ResourceGroup, network.TypeSubnet, s), nil
}
