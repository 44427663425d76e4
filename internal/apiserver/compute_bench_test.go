package apiserver_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/nodeagent"
)

// BenchmarkClusterProvisioning: a 32-node cluster from PUT to all nodes
// idle (each node: a NIC written through the control plane, an agent
// process, its two ports exposed in the fabric, two management checks
// through the fabric), and then deleted; against starting and stopping
// the same 32 agent processes bare, one after another, in the same run.
func BenchmarkClusterProvisioning(b *testing.B) {
	const nodes = 32
	b.Run("cluster", func(b *testing.B) {
		e := computeEnv(b)
		e.firewalledNetwork()
		e.must(201, "PUT", workspace, `{"location": "eastus"}`)
		for i := 0; b.Loop(); i++ {
			id := fmt.Sprintf("%s/computes/c%d", workspace, i)
			e.must(201, "PUT", id, clusterBody(nodes, nodes))
			e.waitStatus(id, "all idle", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == nodes })
			e.must(200, "DELETE", id, nil)
		}
	})
	b.Run("bare-agents", func(b *testing.B) {
		dir := b.TempDir()
		sp := nodeagent.NewSpawner(nodeagent.SpawnerConfig{
			Command: func(ctx context.Context, args ...string) *exec.Cmd {
				c := exec.CommandContext(ctx, os.Args[0], append([]string{"agent"}, args...)...)
				c.Env = append(os.Environ(), envAgent+"=1", "GORACE=atexit_sleep_ms=0")
				return c
			},
			StateRoot: dir,
		})
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			var agents []*nodeagent.Agent
			for n := range nodes {
				a, err := sp.Start(ctx, nodeagent.NodeSpec{NodeID: fmt.Sprintf("n%d-%d", i, n), ClusterID: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				agents = append(agents, a)
			}
			for _, a := range agents {
				a.Stop(ctx)
			}
		}
	})
}

// BenchmarkNodeCheck: the management loop's CPU per node and round — a
// round checks every node on 29876 (health, which renews the lease) and
// 29877 through the fabric — measured as this process's CPU time (user+system) over rounds
// of a 32-node cluster; the agents' own CPU is not counted.
func BenchmarkNodeCheck(b *testing.B) {
	const nodes = 32
	e := computeEnv(b)
	e.data.interval = time.Hour // rounds only when the benchmark asks
	e.restart()
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)
	e.must(201, "PUT", cluster, clusterBody(nodes, nodes))
	e.waitStatus(cluster, "all idle", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == nodes })
	ctx := context.Background()
	before := cpuTime()
	rounds := 0
	for b.Loop() {
		e.data.ctl.Settled(ctx, cluster)
		rounds++
	}
	b.ReportMetric(float64((cpuTime()-before).Microseconds())/float64(rounds*nodes), "cpu-µs/node-check")
}

// BenchmarkNodeCheckBaseline: the same two requests a node check makes
// (health, which renews the lease, on 29876; health on 29877), straight to
// one agent's loopback ports, without the fabric, in this process's CPU
// time.
func BenchmarkNodeCheckBaseline(b *testing.B) {
	sp := nodeagent.NewSpawner(nodeagent.SpawnerConfig{
		Command: func(ctx context.Context, args ...string) *exec.Cmd {
			c := exec.CommandContext(ctx, os.Args[0], append([]string{"agent"}, args...)...)
			c.Env = append(os.Environ(), envAgent+"=1", "GORACE=atexit_sleep_ms=0")
			return c
		},
		StateRoot: b.TempDir(),
	})
	ctx := context.Background()
	a, err := sp.Start(ctx, nodeagent.NodeSpec{NodeID: "n0", ClusterID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Stop(ctx)
	before := cpuTime()
	n := 0
	for b.Loop() {
		if _, err := a.Health(ctx, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := a.ControlHealth(ctx, nil); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64((cpuTime()-before).Microseconds())/float64(n), "cpu-µs/node-check")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
