package cli

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// serverFlags say which server a command talks to and as whom. Each value
// comes from its flag, else the environment (VNETML_ENDPOINT,
// VNETML_TOKEN, VNETML_SUBSCRIPTION), else the config `vnetml login`
// wrote, else the default (the local server, the default subscription).
type serverFlags struct {
	endpoint     string
	token        string
	caCert       string
	subscription string
}

func (f *serverFlags) register(fs *pflag.FlagSet) {
	fs.Var(text(&f.endpoint, "URL"), "endpoint", "the vnetml server (default $VNETML_ENDPOINT, the login config, or "+api.DefaultEndpoint+")")
	fs.Var(text(&f.token, "TOKEN"), "token", "the bearer token (default $VNETML_TOKEN or the login config)")
	fs.Var(text(&f.caCert, "FILE"), "ca-cert", "a PEM file of CA certificates to trust for the server's TLS certificate")
	fs.Var(text(&f.subscription, "ID"), "subscription", "the subscription (default $VNETML_SUBSCRIPTION, the login config, or "+defaultSubscription+")")
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
	return out, nil
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
