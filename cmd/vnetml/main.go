// Command vnetml is vnetml's command line (internal/cli) and its server
// (internal/daemon).
package main

import (
	"os"

	"github.com/vnetml/vnetml/internal/cli"
	"github.com/vnetml/vnetml/internal/daemon"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, daemon.Command)) }
