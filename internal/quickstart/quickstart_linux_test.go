//go:build linux

package quickstart

import (
	"os"
	"path/filepath"
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
	// Jobs run as users of their own, who must reach the data directory
	// under the test's temporary directory.
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	runQuickstart(t, dir, "--fabric", "linux")
}
