// Command vnetml is vnetml's command line (internal/cli), its server
// (internal/daemon), the agent of each compute node (internal/nodeagent)
// and the quickstart (internal/quickstart).
package main

import (
	"os"

	"github.com/vnetml/vnetml/internal/cli"
	"github.com/vnetml/vnetml/internal/daemon"
	"github.com/vnetml/vnetml/internal/nodeagent"
	"github.com/vnetml/vnetml/internal/quickstart"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, daemon.Command, nodeagent.Command, quickstart.Command))
}
