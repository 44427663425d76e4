package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"

	"github.com/vnetml/vnetml/internal/apiserver"
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
		confine = func(ctx context.Context, spec nodeagent.NodeSpec, cmd *exec.Cmd) (*exec.Cmd, error) {
			c, err := fab.Command(ctx, fabric.Endpoint{NIC: spec.NIC, Addr: spec.Addr}, cmd.Path, cmd.Args[1:]...)
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
