//go:build linux

package daemon

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/fabric/linux"
)

// TestKernelFabricDataDir: under the kernel fabric, jobs run as users of
// their own, so the server refuses a data directory other users cannot
// reach, naming the directory to open.
func TestKernelFabricDataDir(t *testing.T) {
	if err := linux.Check(); err != nil {
		t.Skip(err)
	}
	closed := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	o := Options{DataDir: filepath.Join(closed, "data"), Listen: "127.0.0.1:0", Fabric: "linux", LogLevel: "error"}
	err := Run(context.Background(), o, io.Discard, io.Discard, func(string) { t.Error("the server started") })
	codes := armerror.Codes(err)
	if len(codes) == 0 || codes[0] != "FabricUnavailable" || !strings.Contains(err.Error(), "chmod o+x "+closed) {
		t.Fatalf("Run with a data directory under %s (0700): %v, want FabricUnavailable naming it", closed, err)
	}
}
