package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// loginCmd is `vnetml login`: check a server and a token, and save them
// for the commands that follow.
type loginCmd struct {
	env           *env
	endpoint      string
	token         string
	tokenFile     string
	dataDir       string
	caCert        string
	subscription  string
	clientAddress string
}

func newLoginCmd(e *env) *cobra.Command {
	c := &loginCmd{env: e}
	cmd := &cobra.Command{
		Use:   "login [--endpoint URL] [--token TOKEN | --token-file FILE | --data-dir DIR] [--ca-cert FILE] [--subscription ID] [--client-address IP]",
		Short: "Log in to a vnetml server: check a token and save it for later commands",
		Long: `Log in to a vnetml server: check that the token works (by listing the
subscriptions it can see), then save the endpoint, token, CA certificate
and subscription in the config file, so that later commands need no
--endpoint or --token.

The token is --token, else the contents of --token-file (- reads stdin),
else the admin token the server wrote in its data directory: DIR/admin.token,
with DIR from --data-dir, $VNETML_DATA_DIR or ~/.vnetml. On the server's
machine, a bare 'vnetml login' logs in as the admin.

The endpoint is --endpoint, else $VNETML_ENDPOINT, else ` + api.DefaultEndpoint + `.
The subscription later commands use is --subscription (it must be one the
token sees), else the default subscription when the token sees it, else the
first one it sees.

The client address is the public IPv4 address the data-plane commands
(vnetml storage blob ..., vnetml keyvault secret ...) call from: storage
accounts' and key vaults' IP rules judge it. It is --client-address, else
$VNETML_CLIENT_ADDRESS, else none saved, which means ` + api.DefaultClientAddress + `.

The config is $VNETML_CONFIG, else config.json in vnetml's directory of the
user's config directory (~/.config/vnetml/config.json on Linux), written
with mode 0600 because it holds the token. Flags and VNETML_ENDPOINT,
VNETML_TOKEN, VNETML_SUBSCRIPTION and VNETML_CLIENT_ADDRESS (and their
flags) still override it command by command.`,
		Example: `  # On the server's machine: the admin token from ~/.vnetml/admin.token
  vnetml login

  # Another machine, with a token an Owner created (vnetml token create)
  vnetml login --endpoint https://vnetml.example.com:7878 --ca-cert ca.pem --token-file ci.token

  # Call storage and key vault data planes as a laptop at 198.51.100.77
  vnetml login --client-address 198.51.100.77`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.endpoint, "URL"), "endpoint", "the vnetml server (default $VNETML_ENDPOINT or "+api.DefaultEndpoint+")")
	f.Var(text(&c.token, "TOKEN"), "token", "the bearer token to log in with (it ends up in shell history: prefer --token-file)")
	f.Var(text(&c.tokenFile, "FILE"), "token-file", "a file holding the token (- reads stdin)")
	f.Var(text(&c.dataDir, "DIR"), "data-dir", "the server's data directory, whose admin.token is used when no token is given (default $VNETML_DATA_DIR or ~/.vnetml)")
	f.Var(text(&c.caCert, "FILE"), "ca-cert", "a PEM file of CA certificates to trust for the server's TLS certificate (default $VNETML_CA_CERT)")
	f.Var(text(&c.subscription, "ID"), "subscription", "the subscription later commands use (default $VNETML_SUBSCRIPTION, or one the token sees)")
	f.Var(text(&c.clientAddress, "IP"), "client-address", "the public IPv4 address data-plane commands call from, which firewalls' IP rules judge "+
		"(default $VNETML_CLIENT_ADDRESS, else "+api.DefaultClientAddress+")")
	return cmd
}

func (c *loginCmd) run(ctx context.Context, _ []string) error {
	token, from, err := c.readToken()
	if err != nil {
		return err
	}
	cfg := client.Config{
		Endpoint:      firstOf(c.endpoint, os.Getenv("VNETML_ENDPOINT"), api.DefaultEndpoint),
		Token:         token,
		CACert:        firstOf(c.caCert, os.Getenv("VNETML_CA_CERT")),
		Subscription:  firstOf(c.subscription, os.Getenv("VNETML_SUBSCRIPTION")),
		ClientAddress: firstOf(c.clientAddress, os.Getenv("VNETML_CLIENT_ADDRESS")),
	}
	if cfg.ClientAddress != "" {
		a, e := checkClientAddress(cfg.ClientAddress)
		if e != nil {
			return usageErr(e)
		}
		cfg.ClientAddress = a.String()
	}
	if cfg.CACert != "" {
		// Later commands may run elsewhere: keep an absolute path.
		if abs, err := filepath.Abs(cfg.CACert); err == nil {
			cfg.CACert = abs
		}
	}
	cl, err := client.New(cfg.Endpoint, cfg.Token, client.Options{CACert: cfg.CACert})
	if err != nil {
		e, _ := armerror.As(err)
		return usageErr(retarget(e, map[string]string{"endpoint": "--endpoint", "ca-cert": "--ca-cert"}))
	}
	docs, err := cl.List(ctx, "/subscriptions")
	if err != nil {
		if a, ok := armerror.As(err); ok && a.Code == "AuthenticationFailed" {
			return armerror.New(a.Code, from, "%s rejects the token from %s: %s", cfg.Endpoint, from, a.Message)
		}
		return err
	}
	subs := make([]subscriptionInfo, 0, len(docs))
	for _, d := range docs {
		var s subscriptionInfo
		if json.Unmarshal(d, &s) == nil {
			subs = append(subs, s)
		}
	}
	if cfg.Subscription, err = pickSubscription(cfg.Subscription, subs); err != nil {
		return err
	}
	path := client.ConfigPath()
	if err := client.SaveConfig(path, cfg); err != nil {
		return internalErr(fmt.Errorf("saving the config to %s: %w (set VNETML_CONFIG to write it elsewhere)", path, err))
	}
	return c.report(cfg, from, path, subs)
}

// subscriptionInfo is what login shows of a subscription.
type subscriptionInfo struct {
	SubscriptionID string `json:"subscriptionId"`
	DisplayName    string `json:"displayName"`
	State          string `json:"state"`
}

// readToken returns the token and where it came from, for messages.
func (c *loginCmd) readToken() (token, from string, err error) {
	var set []string
	for _, f := range []struct{ name, v string }{{"--token", c.token}, {"--token-file", c.tokenFile}, {"--data-dir", c.dataDir}} {
		if f.v != "" {
			set = append(set, f.name)
		}
	}
	if len(set) > 1 {
		return "", "", usageErr(armerror.New(codeInvalidArgument, set[1], "%s: give one source of the token (--data-dir is where the admin token is read from when no token is given)",
			strings.Join(set, " and ")+" cannot be combined"))
	}
	switch {
	case c.token != "":
		return strings.TrimSpace(c.token), "--token", nil
	case c.tokenFile != "":
		var b []byte
		if c.tokenFile == "-" {
			b, err = io.ReadAll(io.LimitReader(c.env.stdin, 64<<10))
		} else {
			b, err = os.ReadFile(c.tokenFile)
		}
		if err != nil {
			return "", "", usageErr(armerror.New(codeInvalidArgument, "--token-file", "cannot read the token file: %v", err))
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", "", usageErr(armerror.New(codeInvalidArgument, "--token-file", "%s is empty: it should hold the token that `vnetml token create` printed", c.tokenFile))
		}
		return tok, c.tokenFile, nil
	}
	dir := firstOf(c.dataDir, api.DefaultDataDir())
	tok, err := client.ReadAdminToken(dir)
	if err != nil {
		target := "--data-dir"
		if errors.Is(err, os.ErrNotExist) && c.dataDir == "" {
			target = "--token"
		}
		return "", "", usageErr(armerror.New(codeMissingArgument, target,
			"no token given, and there is no admin token to use: %v. Give --token or --token-file (an Owner creates tokens with `vnetml token create`), "+
				"or --data-dir of the server on this machine", err))
	}
	return tok, filepath.Join(dir, api.AdminTokenFile), nil
}

// pickSubscription checks a requested subscription against those the
// token sees, or picks one: the default when visible (saved as "", so the
// default applies), else the first.
func pickSubscription(want string, subs []subscriptionInfo) (string, error) {
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.SubscriptionID
		if want != "" && strings.EqualFold(s.SubscriptionID, want) {
			return s.SubscriptionID, nil
		}
	}
	if want != "" {
		seen := "none"
		if len(ids) > 0 {
			seen = strings.Join(ids, ", ")
		}
		return "", usageErr(armerror.New(codeInvalidArgument, "--subscription",
			"the token cannot see subscription %s; it sees %s. Give one of those, or log in with a token for that subscription", want, seen))
	}
	for _, id := range ids {
		if strings.EqualFold(id, defaultSubscription) {
			return "", nil
		}
	}
	if len(ids) > 0 {
		return ids[0], nil
	}
	return "", nil
}

// report prints where the config went and what the token sees.
func (c *loginCmd) report(cfg client.Config, from, path string, subs []subscriptionInfo) error {
	w := c.env.stdout
	current := firstOf(cfg.Subscription, defaultSubscription)
	fmt.Fprintf(w, "Logged in to %s with the token from %s.\n", cfg.Endpoint, from)
	if len(subs) == 0 {
		fmt.Fprintln(w, "The token sees no subscription: its scope holds nothing yet, or it has been narrowed to one that does not exist.")
	} else {
		noun := "subscriptions"
		if len(subs) == 1 {
			noun = "subscription"
		}
		fmt.Fprintf(w, "The token sees %d %s (* marks the one commands use):\n", len(subs), noun)
		t := table{header: []string{"Current", "Name", "SubscriptionId", "State"}}
		for _, s := range subs {
			mark := ""
			if strings.EqualFold(s.SubscriptionID, current) {
				mark = "*"
			}
			t.add(mark, s.DisplayName, s.SubscriptionID, s.State)
		}
		if err := t.write(w); err != nil {
			return err
		}
	}
	if cfg.ClientAddress != "" {
		fmt.Fprintf(w, "Data-plane commands call from client address %s.\n", cfg.ClientAddress)
	}
	_, err := fmt.Fprintf(w, "Saved the endpoint and token to %s (mode 0600).\n", path)
	return internalErr(err)
}

// firstOf returns the first non-empty value.
func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
