// Package daemon owns the `vnetml server` process: its data directory, the
// embedded store, the admin token's first issue, the listener (loopback by
// default, TLS when given a certificate), logs, and a graceful shutdown. It
// wires the store, auth and the API server together and nothing else.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vnetml/vnetml/internal/apiserver"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/dataplane"
	"github.com/vnetml/vnetml/internal/fabric/proxyproto"
	"github.com/vnetml/vnetml/internal/inference"
	"github.com/vnetml/vnetml/internal/runs"
	"github.com/vnetml/vnetml/internal/servicetag"
	"github.com/vnetml/vnetml/internal/store/sqlite"
)

// Options configure a server process.
type Options struct {
	DataDir          string
	Listen           string // ADDR:PORT
	TLSCert, TLSKey  string
	Insecure         bool     // allow a non-loopback listener without TLS
	ServiceTags      string   // a ServiceTags_Public.json; "" for the built-in local cloud
	Quotas           []string // NAME=N overrides of the default quotas
	PublicIPPool     string   // CIDR
	RotateAdminToken bool
	Fabric           string // the data plane: userspace (the default) or linux
	LogLevel         string // debug, info, warn, error
	LogFormat        string // text or json
	// AgentCommand starts `vnetml agent ARGS...` for a compute node; nil
	// runs this executable's agent command. Tests, whose executable is
	// the test binary, give their own.
	AgentCommand func(ctx context.Context, args ...string) *exec.Cmd
	// NodeCheckInterval is how often compute nodes are checked (0: 2s).
	NodeCheckInterval time.Duration
	// RunPollInterval is how often a busy node is asked about its run
	// (0: 2s).
	RunPollInterval time.Duration
}

// Files in the data directory.
const (
	DBFile        = "vnetml.db"
	FabricKeyFile = "fabric.key" // authenticates the fabric's connection headers (0600)
)

// shutdownGrace bounds how long in-flight requests may finish on shutdown.
const shutdownGrace = 30 * time.Second

// check validates the options and returns every problem at once.
func (o *Options) check() (quotas apiserver.Quotas, pool netip.Prefix, err error) {
	var l armerror.List
	if o.DataDir == "" {
		l.Addf("InvalidArgument", "--data-dir", "--data-dir is empty; give a directory for the database and the admin token.")
	}
	host, _, splitErr := net.SplitHostPort(o.Listen)
	if splitErr != nil {
		l.Addf("InvalidArgument", "--listen", "--listen %q is not ADDR:PORT, e.g. 127.0.0.1:7878: %v", o.Listen, splitErr)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		l.Addf("InvalidArgument", "--tls-cert", "--tls-cert and --tls-key go together: give both or neither.")
	}
	if splitErr == nil && o.TLSCert == "" && !o.Insecure && !isLoopback(host) {
		l.Addf("InsecureListener", "--listen",
			"--listen %s is not a loopback address and no TLS certificate is given: tokens would cross the network in clear text. Give --tls-cert and --tls-key, or --insecure if something else encrypts the traffic.", o.Listen)
	}
	quotas = apiserver.DefaultQuotas()
	for _, q := range o.Quotas {
		name, val, ok := strings.Cut(q, "=")
		n, err := strconv.ParseInt(val, 10, 64)
		canon, known := apiserver.CanonicalQuotaName(name)
		switch {
		case !ok || err != nil || n < 0:
			l.Addf("InvalidArgument", "--quota", "--quota %q is not NAME=N with N ≥ 0.", q)
		case !known:
			l.Addf("InvalidArgument", "--quota", "--quota %q: no quota is named %q; the quotas are %s.", q, name, strings.Join(apiserver.QuotaNames(), ", "))
		default:
			quotas[canon] = n
		}
	}
	switch o.Fabric {
	case "", "userspace", "linux":
	default:
		l.Addf("InvalidArgument", "--fabric", "--fabric %q: the data planes are userspace (the default, any OS) and linux (network namespaces and nftables; root).", o.Fabric)
	}
	if o.PublicIPPool != "" {
		p, err := netip.ParsePrefix(o.PublicIPPool)
		if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
			l.Addf("InvalidArgument", "--public-ip-pool", "--public-ip-pool %q is not an IPv4 CIDR of at least 4 addresses, e.g. 198.51.100.0/24.", o.PublicIPPool)
		}
		pool = p.Masked()
	}
	if e := l.In("the server's flags"); e != nil {
		return nil, netip.Prefix{}, e
	}
	return quotas, pool, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// Run runs a server until ctx is done, then shuts it down gracefully:
// the listener closes, requests in flight get shutdownGrace to finish, and
// the store is closed last. ready, if not nil, is called with the
// listener's URL once it accepts connections. The admin token is printed
// to stdout the first time only.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer, ready func(url string)) error {
	quotas, pool, err := o.check()
	if err != nil {
		return err
	}
	log := newLogger(stderr, o.LogLevel, o.LogFormat)
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	tags := servicetag.LocalCloud()
	if o.ServiceTags != "" {
		f, err := os.Open(o.ServiceTags)
		if err != nil {
			return armerror.New("InvalidArgument", "--service-tags", "Reading the service tag file: %v.", err)
		}
		tags, err = servicetag.Load(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	var tlsCfg *tls.Config
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return armerror.New("InvalidArgument", "--tls-cert", "Loading the TLS certificate and key: %v.", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	st, err := sqlite.Open(ctx, filepath.Join(o.DataDir, DBFile))
	if err != nil {
		return err
	}
	defer st.Close()
	authn, err := auth.New(ctx, st, nil)
	if err != nil {
		return err
	}
	secret, created, err := authn.Bootstrap(ctx, o.DataDir, o.RotateAdminToken)
	switch {
	case errors.Is(err, auth.ErrAdminFile):
		log.Warn("the admin token file is missing or stale; start the server once with --rotate-admin-token to issue a new one", "error", err)
	case err != nil:
		return err
	case created:
		fmt.Fprintf(stdout, "Admin token (shown once; also saved to %s, mode 0600):\n  %s\n",
			filepath.Join(o.DataDir, auth.AdminFile), secret)
	}
	key, err := proxyproto.LoadOrCreateKey(filepath.Join(o.DataDir, FabricKeyFile))
	if err != nil {
		return err
	}
	fab, err := newFabric(o.Fabric, key, log)
	if err != nil {
		return err
	}
	defer fab.Close()
	ws, err := openWorkspaceServices(ctx, o.DataDir, log)
	if err != nil {
		return err
	}
	defer ws.close()
	var srvp atomic.Pointer[apiserver.Server]
	dp, err := dataplane.New(dataplane.Config{
		Fabric: fab, Blobs: ws.blobs, Files: ws.files, Secrets: ws.secrets, Auth: authn, CA: ws.ca, Logger: log,
		AccountKeys: func(ctx context.Context, id string) ([][]byte, error) {
			if s := srvp.Load(); s != nil {
				return s.AccountKeys(ctx, id)
			}
			return nil, errors.New("the server is starting")
		},
	})
	if err != nil {
		return err
	}
	defer dp.Close()
	nodes, err := newNodes(o, fab, &srvp, log)
	if err != nil {
		return err
	}
	// Stopping the server stops every node agent: no process is left.
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		nodes.Close(sctx)
	}()
	runStore, err := sqlite.Open(ctx, filepath.Join(o.DataDir, RunsDBFile))
	if err != nil {
		return err
	}
	defer runStore.Close()
	runSvc, err := runs.New(runs.Config{Store: runStore, Dir: filepath.Join(o.DataDir, RunsDir), Fabric: fab, Nodes: nodes,
		Platform: runPlatform{srv: &srvp, blobs: ws.blobs, files: ws.files}, CA: ws.ca, Logger: log, PollInterval: o.RunPollInterval})
	if err != nil {
		return err
	}
	// Runs stop before the nodes do: a node stopping at shutdown is not
	// a node lost (the next server finds the runs again).
	defer runSvc.Close()
	services := inference.New(inference.Config{Fabric: fab, Nodes: nodes, Platform: servicePlatform{&srvp}, Logger: log, Interval: o.NodeCheckInterval})
	defer services.Close()
	srv, err := apiserver.New(ctx, apiserver.Config{Store: st, Tags: tags, Auth: authn, Logger: log, Quotas: quotas, PublicIPPool: pool, Fabric: fab,
		Keyring: ws.keyring, Secrets: ws.secrets, DataPlane: dp, CAPEM: ws.ca.CertPEM(), CA: ws.ca, Computes: nodes, Runs: runSvc, Inference: services})
	if err != nil {
		return err
	}
	srvp.Store(srv)
	defer srv.Close()
	if err := srv.StartComputes(ctx); err != nil {
		return err
	}
	if err := runSvc.Start(ctx); err != nil {
		return err
	}
	srv.StartServices(ctx)
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go ws.sweep(sweepCtx, log)

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return armerror.New("ListenFailed", "--listen", "Listening on %s: %v. Is another server running there? Pick another address with --listen.", o.Listen, err)
	}
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	// Requests run under a context canceled when shutdown starts, so that
	// long polls (flow-log --follow) end at once instead of holding the
	// shutdown for their whole wait.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs := &http.Server{
		BaseContext:       func(net.Listener) context.Context { return base },
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	hs.RegisterOnShutdown(cancelBase)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("vnetml server listening", "url", url, "dataDir", o.DataDir)
	fmt.Fprintf(stdout, "vnetml server listening on %s (data in %s)\n", url, o.DataDir)
	if ready != nil {
		ready(url)
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		// Close the connections still open, so that no handler runs on
		// after the store closes.
		hs.Close()
		log.Warn("requests still running at shutdown were cut off", "error", err)
	}
	return nil
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
