// Package quickstart owns `vnetml quickstart`: the 2019 article's
// scenario end to end on an embedded server in a temporary data directory
// — the network, a workspace whose storage account and key vault admit
// only the compute subnet, a cluster that scales from zero, an experiment
// run on it, its metrics and model, the flows the platform used, and one
// refusal with its explanation. Each step is a real `vnetml` command,
// printed before it runs, so that the quickstart doubles as a tutorial.
package quickstart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/examples/quickstart"
	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/cli"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/daemon"
)

// Command is `vnetml quickstart`.
func Command(stdout, stderr io.Writer) *cobra.Command {
	var keep bool
	var fab string
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Run the 2019 article's experiment end to end on an embedded server",
		Long: `Start a vnetml server in a temporary data directory and run "securely run
experiments and inference inside a virtual network" (Azure Machine Learning,
2019) on it, one vnetml command at a time: apply the network (a VNet whose
subnet's NSG lets Batch management in and only storage and Azure ML out; a
storage account and key vault whose firewalls admit the subnet), create the
compute cluster cpucluster (0-4 nodes), run train.py on it with its snapshot
in workspaceblobstore, show its metrics, its model and the flows the platform
used, then submit it the SDK's default way and show why that is refused.

The files are examples/quickstart/network.yaml and train/train.py (embedded
in the binary). Nothing outside the temporary directory is touched; it is
removed at the end unless --keep.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), stdout, stderr, keep, fab)
		},
		SilenceUsage: true,
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the data directory (its server.log, nodes, runs) instead of removing it")
	cmd.Flags().StringVar(&fab, "fabric", "userspace", "the embedded server's data plane: userspace, or linux (network namespaces and nftables; root)")
	return cmd
}

// step is one vnetml command of the quickstart.
type step struct {
	title string
	args  []string
	// fails is set for the step that shows a refusal: it must fail.
	fails bool
}

func run(ctx context.Context, stdout, stderr io.Writer, keep bool, fab string) (err error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "vnetml-quickstart-")
	if err != nil {
		return err
	}
	defer func() {
		if keep || err != nil {
			fmt.Fprintf(stdout, "\nThe data directory is kept: %s (server.log has the server's log).\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	work := filepath.Join(dir, "quickstart")
	if err := writeFiles(work); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vnetml quickstart: Azure ML's \"securely run experiments inside a virtual network\" (2019), end to end.\n")
	fmt.Fprintf(stdout, "Starting an embedded server in %s ...\n", dir)

	srv, err := startServer(ctx, dir, fab)
	if err != nil {
		return err
	}
	defer srv.stop()

	conn := []string{"--endpoint", srv.url, "--token", srv.token}
	ws := []string{"-w", "myworkspace", "-g", "mygroup"}
	steps := []step{
		{"The network: VNet mynetwork, subnet default with NSG ml-nsg, and workspace myworkspace whose storage\n" +
			"account and key vault admit only the subnet (its service endpoints), trusted services and you (203.0.113.10)",
			[]string{"apply", "-f", filepath.Join(work, "network.yaml")}, false},
		{"A compute cluster in the subnet: 0 to 4 nodes, each a real node agent with an address in 10.0.0.0/24",
			append([]string{"compute", "create", "cpucluster", "--vm-size", "STANDARD_D2_V2", "--min-nodes", "0", "--max-nodes", "4",
				"--vnet-resourcegroup-name", "mygroup", "--vnet-name", "mynetwork", "--subnet-name", "default", "--wait"}, ws...), false},
		{"The experiment: train.py on cpucluster. Its snapshot goes to workspaceblobstore through the storage\n" +
			"firewall (your address is in its ipRules); the cluster scales up; the node fetches the snapshot through\n" +
			"the NSG and the firewall (its subnet's service endpoint), runs the script and reports to run history",
			append([]string{"run", "submit", "--experiment", "quickstart", "--compute", "cpucluster", "--source", filepath.Join(work, "train"),
				"--script", "train.py", "--arg", "--epochs", "--arg", "8", "--datastore", "workspaceblobstore", "--run-id", "quickstart_1", "--stream"}, ws...), false},
		{"Its metrics, as run.log recorded them",
			append([]string{"run", "metrics", "quickstart_1", "--experiment", "quickstart"}, ws...), false},
		{"Its model, from outputs/ in the workspace's storage account",
			append([]string{"run", "download", "quickstart_1", "--experiment", "quickstart", "--dest", filepath.Join(work, "downloaded")}, ws...), false},
	}
	serve := []step{
		{"The model, registered from the run's outputs (it stays where the run put it, in the workspace's storage)",
			append([]string{"model", "register", "--name", "quickstart-model", "--run", "quickstart_1", "--experiment", "quickstart",
				"--path", "outputs/model.json"}, ws...), false},
		{"An inference cluster in the same subnet, checked as Azure CNI checks it (service CIDR, DNS IP, docker bridge,\n" +
			"room in the subnet); Azure Machine Learning manages its node on 29876-29877, which ml-nsg admits",
			append([]string{"compute", "create", "myaks", "--type", "aks", "--agent-count", "1", "--cluster-purpose", "DevTest",
				"--vnet-resourcegroup-name", "mygroup", "--vnet-name", "mynetwork", "--subnet-name", "default",
				"--service-cidr", "10.2.0.0/16", "--dns-service-ip", "10.2.0.10", "--docker-bridge-cidr", "172.17.0.1/16", "--wait"}, ws...), false},
		{"The web service: score.py over the model, one replica at a pod address of the subnet; the node fetches the\n" +
			"model through the NSG and the storage firewall",
			append([]string{"service", "deploy", "myservice", "--compute", "myaks", "--model", "quickstart-model",
				"--entry", filepath.Join(work, "score.py"), "--num-replicas", "1", "--wait"}, ws...), false},
		{"Scoring from the allowed network (you, 203.0.113.10: ml-nsg's AllowScoringFromOffice admits 203.0.113.0/24 on TCP 80)",
			append([]string{"service", "score", "myservice", "--data", `{"data": [[2, -1], [-2, 1]]}`}, ws...), false},
	}
	steps = append(steps, serve...)
	total := len(steps) + 3
	for i, s := range steps {
		if err := srv.runStep(ctx, stdout, stderr, i+1, total, s, conn); err != nil {
			return err
		}
		if i == 4 {
			if b, err := os.ReadFile(filepath.Join(work, "downloaded", "outputs", "model.json")); err == nil {
				fmt.Fprintf(stdout, "outputs/model.json:\n%s\n", indent(string(b)))
			}
		}
	}
	refusedCaller := step{"A refused caller, explained: the same call from 8.8.8.8, a network ml-nsg does not admit",
		append([]string{"service", "score", "myservice", "--data", `{"data": [[2, -1]]}`, "--from", "8.8.8.8"}, ws...), true}
	if err := srv.runStep(ctx, stdout, stderr, len(steps)+1, total, refusedCaller, conn); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "\n[%d/%d] The flows the platform used, from the fabric's flow log (every one decided by the NSG rules,\n"+
		"routes and firewalls above; `vnetml network flow-log` shows them one by one)\n", len(steps)+2, total)
	if err := srv.printFlows(ctx, stdout); err != nil {
		return err
	}

	refusal := step{"A refusal, explained: the same experiment the SDK's default way, with its snapshot on workspacefilestore,\n" +
		"the workspace's file share — which compute in a virtual network cannot use when the storage account is\n" +
		"restricted to it (the 2019 article's advice is to use workspaceblobstore)",
		append([]string{"run", "submit", "--experiment", "quickstart", "--compute", "cpucluster", "--source", filepath.Join(work, "train"),
			"--script", "train.py", "--arg", "--epochs", "--arg", "8", "--run-id", "quickstart_2", "--stream"}, ws...), true}
	if err := srv.runStep(ctx, stdout, stderr, total, total, refusal, conn); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nDone in %s. Next: docs/runs.md; run `vnetml server` and these commands yourself (examples/quickstart/network.yaml).\n",
		time.Since(start).Round(time.Second))
	return nil
}

// writeFiles writes the embedded quickstart files under dir.
func writeFiles(dir string) error {
	return fs.WalkDir(quickstart.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := quickstart.Files.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// server is the embedded server.
type server struct {
	url, token string
	c          *client.Client
	cancel     context.CancelFunc
	done       chan error
}

func startServer(ctx context.Context, dir, fab string) (*server, error) {
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &server{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	o := daemon.Options{DataDir: dir, Listen: "127.0.0.1:0", Fabric: fab, NodeCheckInterval: 500 * time.Millisecond, RunPollInterval: time.Second, LogLevel: "info"}
	go func() {
		s.done <- daemon.Run(sctx, o, io.Discard, logf, func(url string) { ready <- url })
		logf.Close()
	}()
	select {
	case s.url = <-ready:
	case err := <-s.done:
		cancel()
		return nil, fmt.Errorf("the embedded server did not start: %w", err)
	case <-ctx.Done():
		cancel()
		<-s.done
		return nil, ctx.Err()
	}
	if s.token, err = client.ReadAdminToken(dir); err != nil {
		s.stop()
		return nil, err
	}
	if s.c, err = client.New(s.url, s.token, client.Options{}); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop stops the server and its node agents.
func (s *server) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
}

// runStep prints a step's command and runs it.
func (s *server) runStep(ctx context.Context, stdout, stderr io.Writer, i, n int, st step, conn []string) error {
	fmt.Fprintf(stdout, "\n[%d/%d] %s\n$ vnetml %s\n", i, n, st.title, shellQuote(st.args))
	var errBuf bytes.Buffer
	code := cli.Run(ctx, append(append([]string(nil), st.args...), conn...), strings.NewReader(""), stdout, io.MultiWriter(stderr, &errBuf))
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case st.fails && code == 0:
		return errors.New("the step meant to show a refusal succeeded")
	case st.fails:
		fmt.Fprintf(stdout, "(refused, as it should be: the error above names what refused it and the fix)\n")
	case code != 0:
		return fmt.Errorf("step %d failed (vnetml %s exited %d)", i, st.args[0], code)
	}
	return nil
}

// printFlows summarizes the flow log: each distinct flow (who, to what,
// which port) with how often it was admitted or refused, and the rule.
func (s *server) printFlows(ctx context.Context, w io.Writer) error {
	var recs []api.FlowRecord
	var after uint64
	for {
		var page api.FlowLogPage
		if err := s.c.GetInto(ctx, fmt.Sprintf("%s?after=%d", api.FlowLogPath, after), &page); err != nil {
			return err
		}
		recs = append(recs, page.Value...)
		if len(page.Value) == 0 || page.Next == after {
			break
		}
		after = page.Next
	}
	names, err := s.serviceNames(ctx)
	if err != nil {
		return err
	}
	type key struct{ from, to, decision, rule string }
	count := map[key]int{}
	for _, r := range recs {
		if r.State == "E" {
			continue // the end of a flow counted at its start
		}
		src, err1 := netip.ParseAddrPort(r.Source)
		dst, err2 := netip.ParseAddrPort(r.Destination)
		if err1 != nil || err2 != nil {
			continue
		}
		k := key{from: role(src.Addr(), names, false), to: fmt.Sprintf("%s:%d", role(dst.Addr(), names, true), dst.Port()), decision: r.Decision, rule: r.Rule}
		count[k]++
	}
	keys := make([]key, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].decision != keys[j].decision {
			return keys[i].decision < keys[j].decision
		}
		return keys[i].from+keys[i].to < keys[j].from+keys[j].to
	})
	fmt.Fprintf(w, "  %-8s %-42s %-46s %6s  %s\n", "DECISION", "FROM", "TO", "FLOWS", "RULE")
	for _, k := range keys {
		d := "Allow"
		if k.decision == "D" {
			d = "Deny"
		}
		fmt.Fprintf(w, "  %-8s %-42s %-46s %6d  %s\n", d, k.from, k.to, count[k], k.rule)
	}
	return nil
}

// serviceNames maps the virtual addresses of the quickstart's services to
// what they are.
func (s *server) serviceNames(ctx context.Context) (map[netip.Addr]string, error) {
	out := map[netip.Addr]string{}
	for _, svc := range []struct{ id, what string }{
		{"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup/providers/Microsoft.Storage/storageAccounts/mlquickstartstore", "storage mlquickstartstore"},
		{"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup/providers/Microsoft.KeyVault/vaults/mlquickstart-kv", "key vault mlquickstart-kv"},
	} {
		var doc struct {
			Properties struct {
				VirtualAddress string `json:"virtualAddress"`
			} `json:"properties"`
		}
		if err := s.c.GetInto(ctx, svc.id, &doc); err != nil {
			return nil, err
		}
		if a, err := netip.ParseAddr(doc.Properties.VirtualAddress); err == nil {
			out[a] = svc.what
		}
	}
	// The inference cluster's front end, and the service's replicas.
	var aks struct {
		Properties struct {
			Properties struct {
				SystemServices []struct{ PublicIPAddress, PrivateIPAddress string }
			}
		}
	}
	if err := s.c.GetInto(ctx, workspaceID+"/computes/myaks", &aks); err == nil {
		for _, sv := range aks.Properties.Properties.SystemServices {
			for _, a := range []string{sv.PublicIPAddress, sv.PrivateIPAddress} {
				if addr, err := netip.ParseAddr(a); err == nil {
					out[addr] = "front end azureml-fe"
				}
			}
		}
	}
	var svc api.Service
	if err := s.c.GetInto(ctx, workspaceID+"/services/myservice", &svc); err == nil {
		for _, r := range svc.Properties.Replicas {
			if addr, err := netip.ParseAddr(r.PodAddress); err == nil {
				out[addr] = "replica " + r.ID
			}
		}
	}
	return out, nil
}

const workspaceID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup/providers/Microsoft.MachineLearningServices/workspaces/myworkspace"

// role names an address of the quickstart: a service, a node, Batch,
// Azure Machine Learning (run history, as a destination), or you.
func role(a netip.Addr, names map[netip.Addr]string, dst bool) string {
	if n, ok := names[a]; ok {
		return n + " (" + a.String() + ")"
	}
	if !dst && netip.MustParsePrefix("198.18.0.0/24").Contains(a) {
		return "Azure Machine Learning (" + a.String() + ")"
	}
	switch {
	case netip.MustParsePrefix("10.0.0.0/24").Contains(a):
		return "node " + a.String()
	case netip.MustParsePrefix("198.18.3.0/24").Contains(a): // BatchNodeManagement.EastUS
		return "Batch node management (" + a.String() + ")"
	case netip.MustParsePrefix("198.18.0.0/24").Contains(a): // AzureMachineLearning.EastUS
		return "run history (" + a.String() + ")"
	case a == netip.MustParseAddr("203.0.113.10"):
		return "you, the CLI (" + a.String() + ")"
	}
	return a.String()
}

func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
