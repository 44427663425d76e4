package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// serviceScoreCmd is `vnetml service score NAME`: the SDK v1's
// Webservice.run(input_data) — a POST to the scoring URI, from outside
// the virtual network.
type serviceScoreCmd struct {
	env          *env
	sf           serviceFlags
	data         string
	dataFile     string
	key          string
	fromNIC      string
	scoringCA    string
	scoringCAPEM []byte // --scoring-ca-cert's content, once checked
}

// maxScoreData bounds the data read from --data-file (the front end's
// default body limit).
const maxScoreData = 100 << 20

func newServiceScoreCmd(e *env) *cobra.Command {
	c := &serviceScoreCmd{env: e}
	cmd := &cobra.Command{
		Use:   "score NAME -w WORKSPACE [-g GROUP] (--data JSON | --data-file FILE) [--from IP | --from-nic NIC] [--key KEY] [--scoring-ca-cert FILE]",
		Short: "Call a web service's scoring URI, from outside the virtual network or from a NIC in it, and print its answer",
		Long: `Call a web service, as the SDK v1's Webservice.run(input_data): POST the
data (JSON: --data, or --data-file, - for stdin) to the service's scoring
URI, http://<front end>:80/api/v1/service/<name>/score, with the
service's primary key (or, for a service with token auth, a new token) as
Authorization: Bearer, unless --key gives the key or token to send.

On an inference cluster with TLS the scoring URI is
https://<host>/api/v1/service/<name>/score, on TCP 443: the host is the
cluster's --ssl-cname, or the one generated for its
--ssl-leaf-domain-label (<label><6 random>.<location>.cloudapp.azure.com),
which the virtual cloud resolves to the front end. The certificate is
verified for that name: a generated one is signed by the deployment CA,
which the CLI trusts; for the cluster's own certificate, give the CA that
issued it with --scoring-ca-cert, unless your system trusts it.

The call comes from --from (default $VNETML_CLIENT_ADDRESS, the login
config, or 203.0.113.10), a client on the Internet: it reaches the front
end's public IP, and the NSG of the inference cluster's subnet judges it
after DNAT, as Azure does. A refusal names the rule; admit your network on
the scoring URI's port — TCP 80, or 443 with TLS (the quickstart admits
203.0.113.0/24 on 80) — or call from an address the rules admit.

--from-nic NIC (a network interface's name or resource id) calls from
inside the virtual network instead, as a process on that interface's VM:
the call leaves from its primary address, its subnet's NSG outbound and
the front end's subnet's NSG inbound judge it — how an inference cluster
behind an internal load balancer, which nothing outside reaches, is
called. Your token needs write access to the interface.

The answer of run() is printed as the service sent it.

Exit status: 0 for an answer; 1 when the service answers an error (401
without a valid key, 503 without a ready replica, 504 past
scoringTimeoutMs, 500 with run()'s traceback), printed; 2 for bad input or
a refusal by the network.`,
		Example: `  vnetml service score mysvc -w myworkspace --data '{"data": [[2, -1], [-2, 1]]}'
  vnetml service score mysvc -w myworkspace --data-file request.json --from 198.51.100.7
  vnetml service score mysvc -w myworkspace --data '{"data": [[1, 2]]}' --from-nic client-vm-nic`,
		Args: serviceArg,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.data, "JSON"), "data", "the request body: JSON, as run(raw_data) receives it")
	f.Var(text(&c.dataFile, "FILE"), "data-file", "a file holding the request body (- for stdin)")
	f.Var(text(&c.sf.srv.clientAddress, "IP"), "from", "the public IPv4 address to call from, which the NSG judges "+
		"(default $VNETML_CLIENT_ADDRESS, the login config, or "+api.DefaultClientAddress+")")
	f.Var(text(&c.fromNIC, "NIC"), "from-nic", "call from this network interface (name or resource id) inside the virtual network, instead of from a public address")
	f.Var(text(&c.key, "KEY"), "key", "the key or token to send (default: the service's primary key, or a new token)")
	f.Var(text(&c.scoringCA, "FILE"), "scoring-ca-cert", "a PEM file of CA certificates to trust for an https scoring URI, besides the deployment CA and the system's")
	c.sf.register(f)
	return cmd
}

// check validates the flags and returns the request body.
func (c *serviceScoreCmd) check() ([]byte, error) {
	var l armerror.List
	c.sf.check(&l)
	var body []byte
	switch {
	case c.data != "" && c.dataFile != "":
		l.Addf(codeInvalidArgument, "--data", "--data and --data-file cannot be combined: give the body inline or in a file")
	case c.data == "" && c.dataFile == "":
		l.Addf(codeMissingArgument, "--data", `give the request body: --data '{"data": [[1, 2]]}', or --data-file FILE (- for stdin)`)
	case c.data != "":
		body = []byte(c.data)
		if !json.Valid(body) {
			l.Addf(codeInvalidArgument, "--data", "--data is not JSON: a scoring call sends a JSON body, such as '{\"data\": [[1, 2]]}'")
		}
	default:
		b, err := c.readData()
		switch {
		case err != nil:
			l.Addf(codeInvalidArgument, "--data-file", "cannot read --data-file %s: %v", c.dataFile, err)
		case len(b) > maxScoreData:
			l.Addf(codeInvalidArgument, "--data-file", "--data-file %s is larger than %s, the front end's limit", c.dataFile, bytesText(maxScoreData))
		case !json.Valid(b):
			l.Addf(codeInvalidArgument, "--data-file", "--data-file %s is not JSON: a scoring call sends a JSON body", c.dataFile)
		}
		body = b
	}
	if c.fromNIC != "" && c.sf.srv.clientAddress != "" {
		l.Addf(codeInvalidArgument, "--from-nic", "--from-nic and --from cannot be combined: call from a network interface or from a public address")
	} else if c.sf.srv.clientAddress != "" {
		if _, e := checkClientAddress(c.sf.srv.clientAddress); e != nil {
			e.Target = "--from"
			l.Add(e)
		}
	}
	if c.scoringCA != "" {
		b, err := os.ReadFile(c.scoringCA)
		switch {
		case err != nil:
			l.Addf(codeInvalidArgument, "--scoring-ca-cert", "cannot read --scoring-ca-cert %s: %v", c.scoringCA, pathErr(err))
		case !bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")):
			l.Addf(codeInvalidArgument, "--scoring-ca-cert", "--scoring-ca-cert %s holds no PEM certificate: give the CA certificate that issued the cluster's certificate", c.scoringCA)
		default:
			c.scoringCAPEM = b
		}
	}
	if l.Len() > 0 {
		return nil, usageErr(l.In("the command line"))
	}
	return body, nil
}

// pathErr drops the path an *os.PathError repeats.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (c *serviceScoreCmd) readData() ([]byte, error) {
	if c.dataFile == "-" {
		return io.ReadAll(io.LimitReader(c.env.stdin, maxScoreData+1))
	}
	f, err := os.Open(c.dataFile)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxScoreData+1))
}

func (c *serviceScoreCmd) run(ctx context.Context, args []string) error {
	body, err := c.check()
	if err != nil {
		return err
	}
	name := args[0]
	cl, r, ws, err := c.sf.open(ctx)
	if err != nil {
		return err
	}
	from, err := r.dataPlaneAddress()
	if err != nil {
		return err
	}
	s, err := getService(ctx, cl, ws, c.sf.workspace, name)
	if err != nil {
		return err
	}
	p := s.Properties
	if p.ScoringURI == "" {
		return armerror.New("ServiceNotReady", "NAME", "Service %s has no scoring URI yet (it is %s); see `vnetml service show %s -w %s`", name, p.State, name, c.sf.workspace)
	}
	credential := c.key
	if credential == "" {
		if credential, err = scoreCredential(ctx, cl, client.ServicePath(ws, name), p); err != nil {
			return err
		}
	}
	var hc *http.Client
	if c.fromNIC != "" {
		hc, err = cl.DataPlaneFromNIC(ctx, c.fromNIC)
	} else {
		hc, err = cl.DataPlane(ctx, from.String())
	}
	if err != nil {
		return err
	}
	if c.scoringCAPEM != nil {
		if hc, err = client.TrustCAs(hc, c.scoringCAPEM); err != nil {
			return err
		}
	}
	res, err := cl.Score(ctx, hc, p.ScoringURI, credential, body)
	if err != nil && c.fromNIC != "" {
		return explainScoreFromNIC(err, name, c.fromNIC)
	} else if err != nil {
		return explainScoreError(err, name, from.String(), p)
	}
	if e := res.Err(); e != nil {
		return &serviceAnswer{name: name, status: res.Status, err: e}
	}
	out := res.Body
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	_, err = c.env.stdout.Write(out)
	return internalErr(err)
}

// scoreCredential is what the service id asks callers for: its primary
// key, a new token, or nothing.
func scoreCredential(ctx context.Context, cl *client.Client, id string, p api.ServiceProperties) (string, error) {
	switch authMode(p) {
	case "token":
		tok, err := cl.ServiceToken(ctx, id)
		return tok.AccessToken, err
	case "key":
		keys, err := cl.ServiceKeys(ctx, id)
		return keys.PrimaryKey, err
	}
	return "", nil
}

// serviceAnswer is a service's HTTP error answer to a scoring call. It is
// not an *armerror.Error on purpose: the CLI reports those as bad input
// (exit 2), and a service's answer — run() raised, no replica is ready,
// the key is not the service's — is the service's, exit 1.
type serviceAnswer struct {
	name   string
	status int
	err    *api.ServiceError
}

func (e *serviceAnswer) Error() string {
	return fmt.Sprintf("service %s answered %d %s: %s: %s", e.name, e.status, http.StatusText(e.status), e.err.Code, e.err.Message)
}

// explainScoreError adds to a scoring call's failure what to change: for
// a refusal by the network, the rule to add on the scoring URI's port (80,
// or 443 with TLS); for a certificate not trusted, --scoring-ca-cert.
func explainScoreError(err error, name, from string, p api.ServiceProperties) error {
	a, ok := armerror.As(err)
	if !ok {
		return err
	}
	switch a.Code {
	case "ConnectionDenied":
		port := scoringPort(p.ScoringURI)
		return armerror.New(a.Code, "--from", "Scoring service %s from %s was refused by the network: %s\n"+
			"Hint: the call reaches the front end of inference cluster %s from the Internet, and the NSG of its subnet judges it: "+
			"admit your network on TCP %s with an inbound rule (source %s/32 or its range, destination port %s), or call from an address the rules admit (--from)",
			name, from, a.Message, p.ComputeTarget, port, from, port)
	case client.CodeScoringCertificateUntrusted:
		return armerror.New(a.Code, "--scoring-ca-cert", "%s\nHint: if inference cluster %s serves your own certificate, give the CA certificate that issued it: --scoring-ca-cert FILE", a.Message, p.ComputeTarget)
	}
	return err
}

// scoringPort is the TCP port of a scoring URI: its own, or its scheme's.
func scoringPort(uri string) string {
	u, err := url.Parse(uri)
	switch {
	case err != nil:
		return "80"
	case u.Port() != "":
		return u.Port()
	case u.Scheme == "https":
		return "443"
	}
	return "80"
}

// explainScoreFromNIC turns a refusal of a call from a network interface
// into a usage error naming the rule (the refusal carries it).
func explainScoreFromNIC(err error, name, nic string) error {
	if a, ok := armerror.As(err); ok && a.Code == "ConnectionDenied" {
		return armerror.New(a.Code, "--from-nic", "Scoring service %s from network interface %s was refused by the network: %s", name, nic, a.Message)
	}
	return err
}
