package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/vnetml/vnetml/internal/apiserver"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/compute"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/nodeagent"
)

// NodesDir is where the node agents' state directories live.
const NodesDir = "nodes"

// newNodes returns the compute controller: its nodes are `vnetml agent`
// processes of this very executable, their network interfaces made by
// the server (srv, set once it exists).
func newNodes(o Options, fab fabric.Fabric, srv *atomic.Pointer[apiserver.Server], log *slog.Logger) (*compute.Controller, error) {
	command := o.AgentCommand
	if command == nil {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		command = func(ctx context.Context, args ...string) *exec.Cmd {
			c := exec.CommandContext(ctx, exe, append([]string{"agent"}, args...)...)
			c.Env = agentEnv()
			return c
		}
	}
	var confine func(context.Context, nodeagent.NodeSpec, *exec.Cmd) (*exec.Cmd, error)
	if o.Fabric == "linux" {
		// The kernel fabric confines the agent to its node's namespace:
		// its jobs and replicas are born there, and every packet of theirs
		// meets the rules.
		//
		// Its jobs and replicas run as a user of the node's own, without
		// capabilities: as root they could leave the namespace. That user
		// must reach its directory under the node's state directory: the
		// data directory and the nodes' root are opened to traversal (not
		// listing; what is in them is the server's alone, mode 0600 or
		// 0700).
		for _, d := range []string{o.DataDir, filepath.Join(o.DataDir, NodesDir)} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
			if err := os.Chmod(d, 0o711); err != nil {
				return nil, err
			}
		}
		abs, err := filepath.Abs(o.DataDir)
		if err != nil {
			return nil, err
		}
		for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
				return nil, armerror.New("FabricUnavailable", "--data-dir",
					"--data-dir %s: %s is not searchable by other users, and the kernel fabric runs jobs as users of their own, who must reach their directories under the data directory. Give it the execute bit for others (chmod o+x %s) or choose a data directory elsewhere (under /var/lib, say).", o.DataDir, d, d)
			}
			if d == filepath.Dir(d) {
				break
			}
		}
		uids := &jobUIDs{}
		confine = func(ctx context.Context, spec nodeagent.NodeSpec, cmd *exec.Cmd) (*exec.Cmd, error) {
			args := append(cmd.Args[1:], "--job-uid", strconv.Itoa(uids.take()))
			c, err := fab.Command(ctx, fabric.Endpoint{NIC: spec.NIC, Addr: spec.Addr}, cmd.Path, args...)
			if err != nil {
				return nil, err
			}
			c.Env = append(cmd.Env, "VNETML_ADDRESS="+spec.Addr.String())
			return c, nil
		}
	}
	sp := nodeagent.NewSpawner(nodeagent.SpawnerConfig{
		Command:   command,
		Confine:   confine,
		StateRoot: filepath.Join(o.DataDir, NodesDir),
		Logger:    log,
	})
	return compute.New(compute.Config{
		Fabric:   fab,
		Agents:   compute.NodeAgents(sp),
		Platform: platform{srv},
		ManagementAddr: func(loc string) (netip.Addr, bool) {
			if s := srv.Load(); s != nil {
				return s.ManagementAddr(loc)
			}
			return netip.Addr{}, false
		},
		ManagerAddr: func(tag, loc string) (netip.Addr, bool) {
			if s := srv.Load(); s != nil {
				return s.ManagerAddr(tag, loc)
			}
			return netip.Addr{}, false
		},
		Interval: o.NodeCheckInterval,
		Logger:   log,
	}), nil
}

// platform is the server as the controller's Platform, once it exists.
type platform struct {
	srv *atomic.Pointer[apiserver.Server]
}

var errStarting = errors.New("the server is starting")

func (p platform) CreateNIC(ctx context.Context, c compute.Cluster, node string) (string, netip.Addr, error) {
	s := p.srv.Load()
	if s == nil {
		return "", netip.Addr{}, errStarting
	}
	return s.CreateNIC(ctx, c, node)
}

func (p platform) DeleteNIC(ctx context.Context, id string) error {
	s := p.srv.Load()
	if s == nil {
		return errStarting
	}
	return s.DeleteNIC(ctx, id)
}

func (p platform) NodeNICs(clusterID string) map[string]string {
	if s := p.srv.Load(); s != nil {
		return s.NodeNICs(clusterID)
	}
	return nil
}

// agentEnv is the environment of a node agent: what a process needs to
// run, none of the server's settings or secrets (the agent takes its
// configuration from its flags and its secret from a file).
func agentEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// jobUIDs hands each node started under the kernel fabric a user id of
// its own for its jobs and replicas, from a range no distribution gives
// to accounts: distinct for every node this server starts (a previous
// server's agents are reaped, not adopted), so that a job reaches no
// other node's files or processes.
type jobUIDs struct{ next atomic.Int64 }

const firstJobUID = 2_000_000

func (u *jobUIDs) take() int { return firstJobUID + int(u.next.Add(1)) }
