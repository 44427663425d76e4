package daemon

import (
	"log/slog"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/proxyproto"
	"github.com/vnetml/vnetml/internal/fabric/userspace"
)

// newFabric starts the data plane the server was asked for: userspace
// (any OS), or linux (the kernel enforces every packet; its requirements
// are checked first, and a machine without them is told what is missing).
func newFabric(kind string, key proxyproto.Key, log *slog.Logger) (fabric.Fabric, error) {
	if kind == "linux" {
		f, err := newLinuxFabric(log)
		if err != nil {
			return nil, armerror.New("FabricUnavailable", "--fabric", "--fabric linux: %v", err)
		}
		return f, nil
	}
	return userspace.New(userspace.Options{Key: key, Logger: log}), nil
}
