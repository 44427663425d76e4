// Command vnetml is vnetml's command line; see internal/cli.
package main

import (
	"os"

	"github.com/vnetml/vnetml/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
