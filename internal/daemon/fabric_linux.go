//go:build linux

package daemon

import (
	"log/slog"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/linux"
)

func newLinuxFabric(log *slog.Logger) (fabric.Fabric, error) {
	return linux.New(linux.Options{Logger: log})
}
