package daemon

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
)

// Command returns `vnetml server`. It lives here, not in the CLI package,
// because the CLI may not import the server (DESIGN.md §2).
func Command(stdout, stderr io.Writer) *cobra.Command {
	o := Options{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the vnetml server: API, engine and embedded store in one process",
		Long: `Run the vnetml server: the ARM-shaped management API, the flow engine that
answers Network Watcher's questions, and the embedded SQLite store, in one
process with one data directory.

The first start creates an admin token, prints it once and saves it to
<data-dir>/admin.token (mode 0600); 'vnetml login' on the same machine reads
it from there. The server listens on loopback unless told otherwise, and
refuses a non-loopback address without TLS unless given --insecure.
SIGINT or SIGTERM shut it down gracefully; everything acknowledged is on
disk.`,
		Example: `  vnetml server
  vnetml server --data-dir /var/lib/vnetml --listen 0.0.0.0:7878 --tls-cert cert.pem --tls-key key.pem
  vnetml server --quota PublicIPAddresses=10 --service-tags ServiceTags_Public.json`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, o, stdout, stderr, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.DataDir, "data-dir", api.DefaultDataDir(), "the directory of the database and the admin token ($VNETML_DATA_DIR)")
	f.StringVar(&o.Listen, "listen", api.DefaultAddr, "the address to listen on, ADDR:PORT")
	f.StringVar(&o.TLSCert, "tls-cert", "", "a PEM certificate (chain) to serve HTTPS with")
	f.StringVar(&o.TLSKey, "tls-key", "", "the PEM private key of --tls-cert")
	f.BoolVar(&o.Insecure, "insecure", false, "allow a non-loopback --listen without TLS")
	f.StringVar(&o.ServiceTags, "service-tags", "", "a ServiceTags_Public.json to use instead of the built-in local cloud")
	f.StringArrayVar(&o.Quotas, "quota", nil, "override a default quota, NAME=N (repeatable), e.g. PublicIPAddresses=10")
	f.StringVar(&o.PublicIPPool, "public-ip-pool", "", "the CIDR public IP addresses are allocated from (default 198.51.100.0/24)")
	f.BoolVar(&o.RotateAdminToken, "rotate-admin-token", false, "issue a new admin token (the old one stops working)")
	f.StringVar(&o.Fabric, "fabric", "userspace", "the data plane that carries and enforces every connection: userspace (any OS) or linux (network namespaces and nftables; root)")
	f.StringVar(&o.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.LogFormat, "log-format", "text", "text or json")
	cmd.SetContext(context.Background())
	return cmd
}
