package nodeagent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Command returns `vnetml agent`, the process each compute node is. The
// server starts it (Spawner); nobody runs it by hand, so it is hidden from
// help. Its signature is cli.Extra's: cmd/vnetml adds it to the tree as it
// adds `vnetml server`.
//
// stdout carries one JSON line, {"pid", "management", "control"}, once the
// agent listens; stderr is its log.
func Command(stdout, stderr io.Writer) *cobra.Command {
	var c config
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a compute node's agent (the server starts it)",
		Long: `Run the agent of one compute node. The server starts one per node; it is not
meant to be run by hand.

The agent listens on two loopback ports, the node's management (29876) and
control (29877) ports, which the server exposes at the node's address in the
virtual cloud. Every request must carry Authorization: Bearer <node secret>,
read from --token-file (a file of mode 0600: a secret on the command line is
visible to ps). Once listening it writes agent.json to --state-dir and one
JSON line {"pid", "management", "control"} to stdout, and logs to stderr.

It exits when no authenticated request came on the management port for
--lease, and on SIGTERM or SIGINT; either way it removes agent.json.
Every flag may also be given as an environment variable.`,
		Hidden:        true,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd.Flags()); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewTextHandler(stderr, nil)).With("node", c.NodeID)
			return runAgent(ctx, c, stdout, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.NodeID, "node-id", "", "the node's id ($VNETML_AGENT_NODE_ID)")
	f.StringVar(&c.ClusterID, "cluster", "", "the id of the node's cluster ($VNETML_AGENT_CLUSTER)")
	f.StringVar(&c.TokenFile, "token-file", "", "the file of mode 0600 holding the node secret ($VNETML_AGENT_TOKEN_FILE)")
	f.StringVar(&c.StateDir, "state-dir", "", "the node's state directory, where agent.json goes ($VNETML_AGENT_STATE_DIR)")
	f.DurationVar(&c.Lease, "lease", DefaultLease, "exit when no authenticated management request came for this long ($VNETML_AGENT_LEASE)")
	f.DurationVar(&c.JobGrace, "job-grace", DefaultJobGrace, "how long a canceled or timed-out job, or a stopped replica, has between SIGTERM and SIGKILL ($VNETML_AGENT_JOB_GRACE)")
	f.DurationVar(&c.ReplicaInitTimeout, "replica-init-timeout", DefaultReplicaInitTimeout, "how long a replica's init() may run before the replica fails ($VNETML_AGENT_REPLICA_INIT_TIMEOUT)")
	f.DurationVar(&c.ReplicaBackoff, "replica-backoff", DefaultReplicaBackoff, "the wait before a crashed replica's first restart; it doubles with each crash ($VNETML_AGENT_REPLICA_BACKOFF)")
	f.IntVar(&c.JobUID, "job-uid", -1, "run jobs and replicas as this user id, without capabilities (an agent running as root in a node's network namespace); -1: as the agent ($VNETML_AGENT_JOB_UID)")
	cmd.SetContext(context.Background())
	return cmd
}

// envOf is the environment variable of each flag.
var envOf = map[string]string{
	"node-id":    "VNETML_AGENT_NODE_ID",
	"cluster":    "VNETML_AGENT_CLUSTER",
	"token-file": "VNETML_AGENT_TOKEN_FILE",
	"state-dir":  "VNETML_AGENT_STATE_DIR",
	"lease":      "VNETML_AGENT_LEASE",
	"job-grace":  "VNETML_AGENT_JOB_GRACE",

	"replica-init-timeout": "VNETML_AGENT_REPLICA_INIT_TIMEOUT",
	"replica-backoff":      "VNETML_AGENT_REPLICA_BACKOFF",
	"job-uid":              "VNETML_AGENT_JOB_UID",
}

// flagsFromEnv sets each flag not given on the command line from its
// environment variable, when that is set.
func flagsFromEnv(fs *pflag.FlagSet) error {
	for name, env := range envOf {
		v, ok := os.LookupEnv(env)
		if !ok || fs.Changed(name) {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("$%s: %w", env, err)
		}
	}
	return nil
}
