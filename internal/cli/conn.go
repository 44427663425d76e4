package cli

import (
	"net/netip"
	"os"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// serverFlags say which server a command talks to and as whom. Each value
// comes from its flag, else the environment (VNETML_ENDPOINT,
// VNETML_TOKEN, VNETML_SUBSCRIPTION, VNETML_CLIENT_ADDRESS), else the
// config `vnetml login` wrote, else the default (the local server, the
// default subscription, api.DefaultClientAddress).
type serverFlags struct {
	endpoint     string
	token        string
	caCert       string
	subscription string
	// clientAddress is the public IPv4 address the data-plane commands
	// call storage accounts and key vaults from; "" means
	// api.DefaultClientAddress. Only those commands register its flag.
	clientAddress string
}

func (f *serverFlags) register(fs *pflag.FlagSet) {
	fs.Var(text(&f.endpoint, "URL"), "endpoint", "the vnetml server (default $VNETML_ENDPOINT, the login config, or "+api.DefaultEndpoint+")")
	fs.Var(text(&f.token, "TOKEN"), "token", "the bearer token (default $VNETML_TOKEN or the login config)")
	fs.Var(text(&f.caCert, "FILE"), "ca-cert", "a PEM file of CA certificates to trust for the server's TLS certificate")
	fs.Var(text(&f.subscription, "ID"), "subscription", "the subscription (default $VNETML_SUBSCRIPTION, the login config, or "+defaultSubscription+")")
}

// registerClientAddress adds --client-address, for the commands that reach
// the data planes of storage accounts and key vaults.
func (f *serverFlags) registerClientAddress(fs *pflag.FlagSet) {
	fs.Var(text(&f.clientAddress, "IP"), "client-address", "the public IPv4 address to call the data plane from, which firewalls' IP rules judge "+
		"(default $VNETML_CLIENT_ADDRESS, the login config, or "+api.DefaultClientAddress+")")
}

// defaultSubscription is the subscription every server creates first.
const defaultSubscription = "00000000-0000-0000-0000-000000000000"

// resolved fills every unset value from the environment, the config and
// the defaults.
func (f *serverFlags) resolved() (serverFlags, error) {
	out := *f
	cfg, err := client.LoadConfig(client.ConfigPath())
	if err != nil {
		return out, err
	}
	pick := func(p *string, env, fromConfig, def string) {
		switch {
		case *p != "":
		case os.Getenv(env) != "":
			*p = os.Getenv(env)
		case fromConfig != "":
			*p = fromConfig
		default:
			*p = def
		}
	}
	pick(&out.endpoint, "VNETML_ENDPOINT", cfg.Endpoint, api.DefaultEndpoint)
	pick(&out.token, "VNETML_TOKEN", cfg.Token, "")
	pick(&out.caCert, "VNETML_CA_CERT", cfg.CACert, "")
	pick(&out.subscription, "VNETML_SUBSCRIPTION", cfg.Subscription, defaultSubscription)
	pick(&out.clientAddress, "VNETML_CLIENT_ADDRESS", cfg.ClientAddress, "")
	return out, nil
}

// dataPlaneAddress returns the resolved client address, checked: the
// address itself (api.DefaultClientAddress when none is configured), or a
// usage error when it is not a public IPv4 address.
func (f *serverFlags) dataPlaneAddress() (netip.Addr, error) {
	s := f.clientAddress
	if s == "" {
		s = api.DefaultClientAddress
	}
	a, err := checkClientAddress(s)
	if err != nil {
		return netip.Addr{}, usageErr(err)
	}
	return a, nil
}

// checkClientAddress parses a client address (--client-address,
// VNETML_CLIENT_ADDRESS or the config's clientAddress): a public IPv4
// address.
func checkClientAddress(s string) (netip.Addr, *armerror.Error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, armerror.New(codeInvalidArgument, "--client-address",
			"client address %q is not an IPv4 address: give the public IPv4 address you call from, e.g. %s (--client-address, VNETML_CLIENT_ADDRESS or vnetml login --client-address)",
			s, api.DefaultClientAddress)
	}
	if p, bad := api.NonPublic(a); bad {
		return netip.Addr{}, armerror.New(codeInvalidArgument, "--client-address",
			"client address %s is in %s, which is not a public address: a client outside the virtual network calls from a public IPv4 address such as %s",
			a, p, api.DefaultClientAddress)
	}
	return a, nil
}

// client returns a client for the resolved server.
func (f *serverFlags) client() (*client.Client, serverFlags, error) {
	r, err := f.resolved()
	if err != nil {
		return nil, r, err
	}
	if r.token == "" {
		return nil, r, usageErr(armerror.New("AuthenticationFailed", "--token",
			"No token: pass --token, set VNETML_TOKEN, or run `vnetml login` (on the server's machine it reads the admin token from the data directory)."))
	}
	c, err := client.New(r.endpoint, r.token, client.Options{CACert: r.caCert})
	if err != nil {
		e, _ := armerror.As(err)
		return nil, r, usageErr(e)
	}
	return c, r, nil
}
