//go:build !linux

package daemon

import (
	"errors"
	"log/slog"
	"runtime"

	"github.com/vnetml/vnetml/internal/fabric"
)

func newLinuxFabric(*slog.Logger) (fabric.Fabric, error) {
	return nil, errors.New("the linux fabric runs on Linux only (this is " + runtime.GOOS + "); use --fabric userspace")
}
