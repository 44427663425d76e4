package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is vnetml's version, set at link time with
// -ldflags "-X github.com/vnetml/vnetml/internal/cli.version=v1.2.3";
// without it the module version of the build (or "devel") is used.
var version string

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// versionCmd is `vnetml version`.
type versionCmd struct {
	env *env
	out outputFlag
}

func newVersionCmd(e *env) *cobra.Command {
	c := &versionCmd{env: e}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print vnetml's version",
		Long:  "Print vnetml's version, and the Go version and platform it was built for.",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	c.out.register(cmd.Flags())
	return cmd
}

func (c *versionCmd) run(_ context.Context, _ []string) error {
	v := struct {
		Version  string `json:"version"`
		Go       string `json:"go"`
		Platform string `json:"platform"`
	}{buildVersion(), runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH}
	if c.out.json() {
		return writeJSON(c.env.stdout, v)
	}
	_, err := fmt.Fprintf(c.env.stdout, "vnetml %s (%s, %s)\n", v.Version, v.Go, v.Platform)
	return internalErr(err)
}
