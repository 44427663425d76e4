package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// testIPFlowCmd is `vnetml network watcher test-ip-flow`: Network Watcher's
// IP flow verify, one query from flags or many from a JSON lines file.
type testIPFlowCmd struct {
	env       *env
	res       resourceFlags
	net       serverSide
	out       outputFlag
	nic       string
	direction string
	protocol  string
	local     string
	remote    string
	queries   string
}

func newTestIPFlowCmd(e *env) *cobra.Command {
	c := &testIPFlowCmd{env: e}
	cmd := &cobra.Command{
		Use:   "test-ip-flow [--resources FILE | -g GROUP] --nic NIC --direction Inbound|Outbound --protocol TCP|UDP --local IP:PORT --remote IP:PORT",
		Short: "Test whether the NSGs of a network interface allow a TCP or UDP flow",
		Long: `Test whether the network security groups of a network interface allow a TCP or
UDP flow, as 'az network watcher test-ip-flow' (Network Watcher's IP flow
verify) does, and name the rule that decided.

Inbound flows go from --remote to --local, outbound flows from --local to
--remote; --local must be an address of the network interface. Inbound, the
subnet's NSG is evaluated before the NIC's; outbound, the NIC's before the
subnet's; the first Deny decides, and when both allow the rule of the NSG
evaluated last is reported.

A port may be * (any port), as Network Watcher accepts for the source port;
vnetml treats * as port 0, which matches only rules whose port range
includes 0, such as *.

With --resources, the command checks resource files offline. Without it,
it asks the vnetml server (see 'vnetml login'): --nic is the name of a
network interface on the server, looked for in the resource group given
with -g or in the whole subscription, or its full id, and the network
watcher of the subscription and the NIC's region answers. The answers are
the same in both modes.

With --queries, every line of a JSON lines file is one query
  {"nic": "node0", "direction": "Inbound", "protocol": "TCP",
   "local": "10.0.0.4:29876", "remote": "198.18.3.9:443"}
and one JSON result line is printed per query, in order: {"access",
"ruleName"}, or {"error": {"code", "message", "target"}} for a bad line.
Blank lines are skipped. Offline, the engine is compiled once for all
queries; against a server, each query is one request, and each network
interface is looked up once.

Exit status: 0 when the flow is decided (Allow and Deny alike), 2 for bad
input (including any bad --queries line), 1 for an internal failure.`,
		Example: `  # Why is Batch node management traffic allowed to node0?
  vnetml network watcher test-ip-flow --resources examples/secure-network/network.json \
      --nic node0 --direction Inbound --protocol TCP --local 10.0.0.4:29876 --remote 198.18.3.9:443

  # Azure's JSON answer
  vnetml network watcher test-ip-flow --resources network.json --resources nics.json \
      --nic node0 --direction Outbound --protocol UDP --local '10.0.0.4:*' --remote 10.0.0.5:53 -o json

  # Many queries at once
  vnetml network watcher test-ip-flow --resources examples/secure-network/network.json \
      --queries examples/secure-network/queries.jsonl

  # Ask the server (after vnetml login) about its network interface node0
  vnetml network watcher test-ip-flow -g mygroup --nic node0 --direction Inbound --protocol TCP \
      --local 10.0.0.4:29876 --remote 198.18.3.9:443`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	c.res.register(f)
	c.net.register(f)
	f.Var(text(&c.nic, "NIC"), "nic", "the network interface: its name or full resource id")
	f.Var(text(&c.direction, "Inbound|Outbound"), "direction", "the flow's direction relative to the network interface")
	f.Var(text(&c.protocol, "TCP|UDP"), "protocol", "the flow's protocol")
	f.Var(text(&c.local, "IP:PORT"), "local", "the network interface's end of the flow (the port may be *)")
	f.Var(text(&c.remote, "IP:PORT"), "remote", "the other end of the flow (the port may be *)")
	f.Var(text(&c.queries, "FILE"), "queries",
		"JSON lines of queries {\"nic\", \"direction\", \"protocol\", \"local\", \"remote\"} instead of the flags above (- reads stdin); "+
			"prints one JSON result line per query")
	c.out.register(f)
	return cmd
}

// Where IP flow verify's field names (as flow.QueryError reports them) are
// given: flags, or the fields of a --queries line.
var (
	testIPFlowFlags = map[string]string{
		"targetResourceId": "--nic", "targetNicResourceId": "--nic", "direction": "--direction", "protocol": "--protocol",
		"localIPAddress": "--local", "localPort": "--local", "remoteIPAddress": "--remote", "remotePort": "--remote",
	}
	testIPFlowFields = map[string]string{
		"targetResourceId": "nic", "targetNicResourceId": "nic", "direction": "direction", "protocol": "protocol",
		"localIPAddress": "local", "localPort": "local", "remoteIPAddress": "remote", "remotePort": "remote",
	}
)

func (c *testIPFlowCmd) run(ctx context.Context, _ []string) error {
	if c.queries != "" {
		return c.runQueries(ctx)
	}
	var l armerror.List
	offline := c.net.check(&l, &c.res)
	in := verifyInput{c.nic, c.direction, c.protocol, c.local, c.remote}
	q := parseVerifyQuery(&l, in, "--")
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	if !offline {
		return c.runServer(ctx, in, q)
	}
	eng, err := c.res.load(ctx, c.env)
	if err != nil {
		return err
	}
	res, err := eng.IPFlowVerify(q)
	if err != nil {
		return queryError(err, testIPFlowFlags)
	}
	return c.print(res, eng.ExplainVerify(q, res))
}

// print prints an answer: Azure's JSON, or a table and the explanation.
func (c *testIPFlowCmd) print(res flow.VerifyResult, explanation string) error {
	if c.out.json() {
		return writeJSON(c.env.stdout, res)
	}
	t := table{header: []string{"Access", "RuleName"}}
	t.add(res.Access, res.RuleName)
	if err := t.write(c.env.stdout); err != nil {
		return err
	}
	if explanation == "" {
		return nil
	}
	_, err := fmt.Fprintln(c.env.stdout, explanation)
	return internalErr(err)
}

// runServer asks the server's network watcher.
func (c *testIPFlowCmd) runServer(ctx context.Context, in verifyInput, q flow.VerifyQuery) error {
	s, err := c.net.open()
	if err != nil {
		return err
	}
	res, err := s.verify(ctx, in, q, "--nic", testIPFlowFlags)
	if err != nil {
		return err
	}
	return c.print(flow.VerifyResult{Access: res.Access, RuleName: res.RuleName}, res.Explanation)
}

// verify asks the watcher of the NIC's region about one flow. Errors name
// the flags or fields in names (nicTarget for the NIC).
func (s *session) verify(ctx context.Context, in verifyInput, q flow.VerifyQuery, nicTarget string, names map[string]string) (api.FlowVerifyResult, error) {
	nic, err := s.nic(ctx, in.NIC, nicTarget)
	if err != nil {
		return api.FlowVerifyResult{}, err
	}
	w, err := s.watcher(ctx, nic)
	if err != nil {
		return api.FlowVerifyResult{}, err
	}
	port := func(text string, ap netip.AddrPort) string {
		if strings.HasSuffix(text, ":*") {
			return "*"
		}
		return strconv.Itoa(int(ap.Port()))
	}
	res, err := s.c.IPFlowVerify(ctx, w, api.FlowVerifyRequest{
		TargetResourceID: nic.id,
		Direction:        q.Direction.String(),
		Protocol:         strings.ToUpper(q.Protocol.String()),
		LocalIPAddress:   q.Local.Addr().String(),
		LocalPort:        port(in.Local, q.Local),
		RemoteIPAddress:  q.Remote.Addr().String(),
		RemotePort:       port(in.Remote, q.Remote),
	})
	return res, askErr(err, names)
}

// verifyInput is one query as the user wrote it: flags, or a --queries line.
type verifyInput struct {
	NIC       string `json:"nic"`
	Direction string `json:"direction"`
	Protocol  string `json:"protocol"`
	Local     string `json:"local"`
	Remote    string `json:"remote"`
}

// parseVerifyQuery checks every field of in and records every problem in
// l; targets are the field names prefixed with prefix ("--" for flags).
func parseVerifyQuery(l *armerror.List, in verifyInput, prefix string) flow.VerifyQuery {
	var q flow.VerifyQuery
	given := func(field, value, want string) bool {
		if value == "" {
			l.Addf(codeMissingArgument, prefix+field, "%s%s is required: %s", prefix, field, want)
			return false
		}
		return true
	}
	if given("nic", in.NIC, "the network interface's name or resource id") {
		q.NIC = in.NIC
	}
	if given("direction", in.Direction, "Inbound or Outbound") {
		d, ok := flow.ParseDirection(in.Direction)
		if !ok {
			l.Addf(codeInvalidArgument, prefix+"direction", "direction %q is not Inbound or Outbound", in.Direction)
		}
		q.Direction = d
	}
	if given("protocol", in.Protocol, "TCP or UDP") {
		p, err := parseFlowProtocol(in.Protocol)
		if err != nil {
			l.Addf(codeInvalidArgument, prefix+"protocol", "%v", err)
		}
		q.Protocol = p
	}
	if given("local", in.Local, "the network interface's address and port, IP:PORT") {
		ap, err := parseEndpoint(in.Local)
		if err != nil {
			l.Addf(codeInvalidArgument, prefix+"local", "%v", err)
		}
		q.Local = ap
	}
	if given("remote", in.Remote, "the other end's address and port, IP:PORT") {
		ap, err := parseEndpoint(in.Remote)
		if err != nil {
			l.Addf(codeInvalidArgument, prefix+"remote", "%v", err)
		}
		q.Remote = ap
	}
	return q
}

// parseFlowProtocol accepts TCP or UDP in any case: the protocols IP flow
// verify checks.
func parseFlowProtocol(s string) (network.Protocol, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return network.ProtoTCP, nil
	case "udp":
		return network.ProtoUDP, nil
	}
	return 0, fmt.Errorf("protocol %q is not supported: IP flow verify checks TCP or UDP flows", s)
}

// parseEndpoint parses IP:PORT, where PORT may be * (port 0). IPv6
// addresses are written [addr]:port.
func parseEndpoint(s string) (netip.AddrPort, error) {
	bad := func(why string) (netip.AddrPort, error) {
		return netip.AddrPort{}, fmt.Errorf("%q is not IP:PORT (%s); write e.g. 10.0.0.4:443, or 10.0.0.4:* for any port", s, why)
	}
	host, port, ok := cutLast(s, ":")
	if !ok || strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
		if _, err := netip.ParseAddr(s); err == nil {
			return bad("the port is missing")
		}
		return bad("want an address, a colon and a port")
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return bad(fmt.Sprintf("%q is not an IP address", host))
	}
	if port == "*" {
		return netip.AddrPortFrom(a, 0), nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || port[0] == '+' {
		return bad(fmt.Sprintf("port %q is not a number from 0 to 65535 or *", port))
	}
	return netip.AddrPortFrom(a, uint16(n)), nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// maxQueryLine bounds one --queries line; a longer line is reported as bad
// and skipped, and the lines after it are still answered.
const maxQueryLine = 64 << 10

// runQueries answers every line of the --queries file with one engine,
// streaming: one line in, one line out.
func (c *testIPFlowCmd) runQueries(ctx context.Context) error {
	var set []string
	for _, f := range []struct{ name, v string }{
		{"--nic", c.nic}, {"--direction", c.direction}, {"--protocol", c.protocol}, {"--local", c.local}, {"--remote", c.remote},
	} {
		if f.v != "" {
			set = append(set, f.name)
		}
	}
	if len(set) > 0 {
		return usageErr(armerror.New(codeInvalidArgument, set[0],
			"%s cannot be combined with --queries: each line of the queries file is a whole query", strings.Join(set, ", ")))
	}
	if c.out.set && !c.out.json() {
		return usageErr(armerror.New(codeInvalidArgument, "--output", "--queries prints JSON lines; -o table is not supported with it"))
	}
	var l armerror.List
	offline := c.net.check(&l, &c.res)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	name := c.queries
	var in io.Reader = c.env.stdin
	if name == "-" {
		name = stdinName
		if slices.Contains(c.res.files, "-") || c.res.serviceTags == "-" {
			return usageErr(armerror.New(codeInvalidArgument, "--queries", "--queries and --resources (or --service-tags) cannot both read stdin"))
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return usageErr(armerror.New(codeInvalidArgument, "--queries", "cannot read queries file: %v", err))
		}
		defer f.Close()
		in = f
	}
	var answer func(line []byte, long bool) (any, *armerror.Error, error)
	if offline {
		eng, err := c.res.load(ctx, c.env)
		if err != nil {
			return err
		}
		answer = func(line []byte, long bool) (any, *armerror.Error, error) {
			res, qerr := answerQueryLine(eng, line, long)
			if qerr != nil {
				return nil, qerr, nil
			}
			return res, nil, nil
		}
	} else {
		s, err := c.net.open()
		if err != nil {
			return err
		}
		answer = func(line []byte, long bool) (any, *armerror.Error, error) {
			return s.answerQueryLine(ctx, line, long)
		}
	}

	br := bufio.NewReaderSize(in, 64<<10)
	bw := bufio.NewWriter(c.env.stdout)
	var (
		buf    []byte
		failed []int
		total  int
		lineNo int
	)
	for {
		if err := ctx.Err(); err != nil {
			bw.Flush()
			return err
		}
		if br.Buffered() == 0 {
			// The next read may block (a pipe): let answers so far out.
			if err := bw.Flush(); err != nil {
				return internalErr(err)
			}
		}
		line, long, err := nextLine(br, buf, maxQueryLine)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			bw.Flush()
			return usageErr(armerror.New(codeInvalidArgument, "--queries", "reading %s: %v", name, err))
		}
		buf = line[:0]
		lineNo++
		line = bytes.TrimSpace(line)
		if len(line) == 0 && !long {
			continue
		}
		total++
		var out []byte
		res, qerr, err := answer(line, long)
		if err != nil {
			bw.Flush()
			return err
		}
		if qerr != nil {
			failed = append(failed, lineNo)
			fmt.Fprintf(c.env.stderr, "vnetml: %s:%d: %v\n", name, lineNo, qerr)
			e := *qerr
			e.Message = fmt.Sprintf("line %d: %s", lineNo, e.Message)
			out = e.MarshalEnvelope()
		} else if out, err = json.Marshal(res); err != nil {
			return internalErr(err)
		}
		bw.Write(out)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return internalErr(err)
	}
	if len(failed) > 0 {
		lines := make([]string, len(failed))
		for i, n := range failed {
			lines[i] = strconv.Itoa(n)
		}
		if len(lines) > 10 {
			lines = append(lines[:10], "...")
		}
		plural := ""
		if len(failed) > 1 {
			plural = "s"
		}
		return armerror.New(codeQueriesFailed, name, "%d of %d queries in %s are bad (line%s %s); each has an {\"error\": ...} line in the output",
			len(failed), total, name, plural, strings.Join(lines, ", "))
	}
	return nil
}

// answerQueryLine parses one --queries line and asks the engine.
func answerQueryLine(eng *flow.Engine, line []byte, long bool) (flow.VerifyResult, *armerror.Error) {
	_, q, bad := parseQueryLine(line, long)
	if bad != nil {
		return flow.VerifyResult{}, bad
	}
	res, err := eng.IPFlowVerify(q)
	if err != nil {
		return flow.VerifyResult{}, queryError(err, testIPFlowFields)
	}
	return res, nil
}

// answerQueryLine parses one --queries line and asks the server. A bad
// line is an *armerror.Error; an error ends the command.
func (s *session) answerQueryLine(ctx context.Context, line []byte, long bool) (any, *armerror.Error, error) {
	in, q, bad := parseQueryLine(line, long)
	if bad != nil {
		return nil, bad, nil
	}
	res, err := s.verify(ctx, in, q, "nic", testIPFlowFields)
	if err != nil {
		if a, ok := armerror.As(err); ok && !fatal(a) {
			return nil, a, nil
		}
		return nil, nil, err
	}
	return flow.VerifyResult{Access: res.Access, RuleName: res.RuleName}, nil, nil
}

// parseQueryLine parses one --queries line.
func parseQueryLine(line []byte, long bool) (verifyInput, flow.VerifyQuery, *armerror.Error) {
	var in verifyInput
	if long {
		return in, flow.VerifyQuery{}, armerror.New("InvalidRequestContent", "", "the line is longer than %d bytes", maxQueryLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return in, flow.VerifyQuery{}, armerror.New(codeInvalidArgument, te.Field, "field %s is a JSON %s, want a string", te.Field, te.Value)
		}
		return in, flow.VerifyQuery{}, armerror.New("InvalidRequestContent", "",
			"not a query object {\"nic\", \"direction\", \"protocol\", \"local\", \"remote\"}: %v", err)
	}
	if dec.More() {
		return in, flow.VerifyQuery{}, armerror.New("InvalidRequestContent", "", "more than one JSON value on the line: give one query per line")
	}
	var l armerror.List
	q := parseVerifyQuery(&l, in, "")
	if l.Len() > 0 {
		return in, flow.VerifyQuery{}, l.In("the query")
	}
	return in, q, nil
}

// nextLine reads the next line, without its end, reusing buf. A line longer
// than max is consumed whole and reported with long set (its text dropped).
// It returns io.EOF only when no line is left.
func nextLine(br *bufio.Reader, buf []byte, max int) (line []byte, long bool, err error) {
	line = buf[:0]
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) <= max+1 { // +1: the newline
			line = append(line, frag...)
		} else {
			long = true
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 && !long {
				return nil, false, io.EOF
			}
			return line, long, nil
		case err != nil:
			return nil, false, err
		}
		return bytes.TrimRight(line, "\r\n"), long, nil
	}
}
