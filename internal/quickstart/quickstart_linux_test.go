//go:build linux

package quickstart

import (
	"testing"

	"github.com/vnetml/vnetml/internal/fabric/linux"
)

// TestQuickstartKernelFabric runs the whole quickstart on the kernel
// fabric: the nodes' agents, the run and the scoring replica in network
// namespaces, every packet decided by nftables.
func TestQuickstartKernelFabric(t *testing.T) {
	if err := linux.Check(); err != nil {
		t.Skip(err)
	}
	runQuickstart(t, "--fabric", "linux")
}
