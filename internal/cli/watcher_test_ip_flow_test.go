package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// nicNSG is the example with an NSG on nva0.
const nicNSG = "testdata/nic-nsg.json"

// testIPFlowCases are the flows of the golden tests, asked offline and of
// a server.
var testIPFlowCases = []struct {
	name                            string
	resources, nic                  string
	direction, proto, local, remote string
}{
	{"allow-batch-inbound", example, "node0", "Inbound", "TCP", "10.0.0.4:29876", "198.18.3.9:443"},
	{"deny-internet-inbound", example, "node0", "Inbound", "TCP", "10.0.0.4:22", "203.0.113.7:50000"},
	{"allow-storage-outbound", example, "node0", "Outbound", "TCP", "10.0.0.4:*", "198.18.1.20:443"},
	{"deny-internet-outbound", example, "node0", "Outbound", "UDP", "10.0.0.4:*", "203.0.113.7:53"},
	{"allow-vnet-outbound", example, "node0", "Outbound", "UDP", "10.0.0.4:40000", "10.0.1.4:53"},
	{"no-nsg", example, "nva0", "Inbound", "TCP", "10.0.1.4:22", "203.0.113.7:50000"},
	{"deny-nic-nsg", nicNSG, "nva0", "Inbound", "TCP", "10.0.1.4:22", "10.0.0.4:50000"},
	{"allow-nic-nsg", nicNSG, "nva0", "Inbound", "TCP", "10.0.1.4:23", "10.0.0.4:50000"},
}

func TestTestIPFlow(t *testing.T) {
	for _, tc := range testIPFlowCases {
		for _, out := range []string{"json", "table"} {
			t.Run(tc.name+"/"+out, func(t *testing.T) {
				r := run(t, "network", "watcher", "test-ip-flow", "--resources", tc.resources, "--nic", tc.nic,
					"--direction", tc.direction, "--protocol", tc.proto, "--local", tc.local, "--remote", tc.remote, "-o", out)
				wantOK(t, r)
				golden(t, "test-ip-flow-"+tc.name+"."+out, r.stdout)
			})
		}
	}
}

// The table's explanation names the deciding NSG, what it is attached to,
// the rule and its priority.
func TestTestIPFlowExplains(t *testing.T) {
	r := run(t, "network", "watcher", "test-ip-flow", "--resources", example, "--nic", "node0",
		"--direction", "Inbound", "--protocol", "TCP", "--local", "10.0.0.4:29876", "--remote", "198.18.3.9:443")
	wantOK(t, r)
	want := "Inbound TCP 198.18.3.9:443 -> 10.0.0.4:29876 allowed by securityRules/AllowBatchNodeManagement " +
		"(priority 100, NSG mygroup/ml-nsg on subnet default)"
	if !strings.Contains(r.stdout, want) {
		t.Errorf("stdout:\n%s\nwant a line:\n%s", r.stdout, want)
	}
}

func TestTestIPFlowBadQuery(t *testing.T) {
	base := []string{"network", "watcher", "test-ip-flow", "--resources", example}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"missing nic", []string{"--direction", "Inbound", "--protocol", "TCP", "--local", "10.0.0.4:1", "--remote", "1.2.3.4:5"},
			[]string{"MissingArgument (--nic)"}},
		{"unknown nic lists known names", []string{"--nic", "node9", "--direction", "Inbound", "--protocol", "TCP", "--local", "10.0.0.4:1", "--remote", "1.2.3.4:5"},
			[]string{"NotFound (--nic)", `"node9"`, "known: node0, nva0"}},
		{"local without port", []string{"--nic", "node0", "--direction", "Inbound", "--protocol", "TCP", "--local", "10.0.0.4", "--remote", "1.2.3.4:5"},
			[]string{"InvalidArgument (--local)", `"10.0.0.4" is not IP:PORT`, "port is missing"}},
		{"local not an address", []string{"--nic", "node0", "--direction", "Inbound", "--protocol", "TCP", "--local", "node0:22", "--remote", "1.2.3.4:5"},
			[]string{"InvalidArgument (--local)", `"node0" is not an IP address`}},
		{"local not the nic's", []string{"--nic", "node0", "--direction", "Inbound", "--protocol", "TCP", "--local", "10.0.0.9:22", "--remote", "1.2.3.4:5"},
			[]string{"(--local)", "10.0.0.9 is not an address of network interface node0"}},
		{"remote port out of range", []string{"--nic", "node0", "--direction", "Inbound", "--protocol", "TCP", "--local", "10.0.0.4:22", "--remote", "1.2.3.4:65536"},
			[]string{"InvalidArgument (--remote)", `port "65536"`}},
		{"bad protocol", []string{"--nic", "node0", "--direction", "Inbound", "--protocol", "ICMP", "--local", "10.0.0.4:22", "--remote", "1.2.3.4:5"},
			[]string{"InvalidArgument (--protocol)", `"ICMP" is not supported`, "TCP or UDP"}},
		{"bad direction", []string{"--nic", "node0", "--direction", "In", "--protocol", "TCP", "--local", "10.0.0.4:22", "--remote", "1.2.3.4:5"},
			[]string{"InvalidArgument (--direction)", `"In" is not Inbound or Outbound`}},
		{"all at once", []string{"--protocol", "*"},
			[]string{"5 errors in the command line", "(--nic)", "(--direction)", "(--protocol)", "(--local)", "(--remote)"}},
		{"queries with query flags", []string{"--queries", "../../examples/secure-network/queries.jsonl", "--nic", "node0"},
			[]string{"(--nic)", "cannot be combined with --queries"}},
		{"queries as a table", []string{"--queries", "../../examples/secure-network/queries.jsonl", "-o", "table"},
			[]string{"(--output)", "JSON lines"}},
		{"missing queries file", []string{"--queries", "testdata/nope.jsonl"},
			[]string{"(--queries)", "testdata/nope.jsonl"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append(base, tc.args...)...)
			wantFail(t, r, exitInput, tc.want...)
			if r.stdout != "" {
				t.Errorf("stdout:\n%s", r.stdout)
			}
		})
	}
}

func TestTestIPFlowQueries(t *testing.T) {
	r := run(t, "network", "watcher", "test-ip-flow", "--resources", example, "--queries", "../../examples/secure-network/queries.jsonl")
	wantOK(t, r)
	golden(t, "test-ip-flow-queries.jsonl", r.stdout)
}

// A bad line gets an {"error": ...} line of its own; every other line is
// still answered, in order, and the command fails at the end.
func TestTestIPFlowQueriesBadLine(t *testing.T) {
	r := run(t, "network", "watcher", "test-ip-flow", "--resources", example, "--queries", "testdata/queries-bad.jsonl", "-o", "json")
	wantFail(t, r, exitInput,
		`testdata/queries-bad.jsonl:2: InvalidArgument (protocol): protocol "ICMP" is not supported`,
		"QueriesFailed (testdata/queries-bad.jsonl): 1 of 3 queries in testdata/queries-bad.jsonl are bad (line 2)")
	golden(t, "test-ip-flow-queries-bad.jsonl", r.stdout)
}

// Lines come from stdin as well; malformed lines of every kind are answered
// with errors naming the field.
func TestTestIPFlowQueriesStdin(t *testing.T) {
	in := strings.Join([]string{
		`{"nic": "node0", "direction": "Outbound", "protocol": "udp", "local": "10.0.0.4:*", "remote": "10.0.0.9:53"}`,
		`not json`,
		`{"nic": "node0", "direction": "Inbound", "protocol": "TCP", "local": "10.0.0.4:1", "remote": "198.18.3.9:443", "extra": 1}`,
		`{"nic": "nodeX", "direction": "Inbound", "protocol": "TCP", "local": "10.0.0.4:1", "remote": "198.18.3.9:443"}`,
		`{"nic": 5}`,
		`{"nic": "node0"} {"nic": "node0"}`,
		`{"nic": "node0", "direction": "Inbound", "protocol": "TCP", "local": "10.0.0.4:29877", "remote": "198.18.3.9:*"}`,
		"\r",
		strings.Repeat(" ", maxQueryLine+10) + "{}",
		`{"nic": "node0", "direction": "Outbound", "protocol": "TCP", "local": "10.0.0.4:1", "remote": "203.0.113.7:443"}`,
	}, "\n") // the last line has no newline
	r := runIn(t, in, "network", "watcher", "test-ip-flow", "--resources", example, "--queries", "-")
	wantFail(t, r, exitInput, "<stdin>:2:", "<stdin>:4: NotFound (nic)", "<stdin>:5: InvalidArgument (nic)",
		"6 of 9 queries in <stdin> are bad (lines 2, 3, 4, 5, 6, 9)")
	golden(t, "test-ip-flow-queries-stdin.jsonl", r.stdout)
}

// Against a server holding the same resources, every flow gets the same
// answer, in both formats, explanation included.
func TestTestIPFlowServer(t *testing.T) {
	servers := serversFor(t, example, nicNSG)
	for _, tc := range testIPFlowCases {
		s := servers[tc.resources]
		for _, out := range []string{"json", "table"} {
			t.Run(tc.name+"/"+out, func(t *testing.T) {
				s.with(t).wantSame(tc.resources, "network", "watcher", "test-ip-flow", "--nic", tc.nic,
					"--direction", tc.direction, "--protocol", tc.proto, "--local", tc.local, "--remote", tc.remote, "-o", out)
			})
		}
	}
	s := servers[example]
	want := run(t, testIPFlow(example)...)
	for name, args := range map[string][]string{
		"in a group":             {"-g", "mygroup"},
		"nic by id":              {"--nic", testNIC},
		"nic in another case":    {"--nic", "NODE0"},
		"case-insensitive enums": {"--direction", "inbound", "--protocol", "tcp"},
	} {
		t.Run(name, func(t *testing.T) {
			r := s.with(t).run(append(testIPFlow(), args...)...)
			wantOK(t, r)
			if diff := cmp.Diff(want.stdout, r.stdout); diff != "" {
				t.Errorf("(-offline +server):\n%s", diff)
			}
		})
	}
}

// --queries asks the server one line at a time: the same lines come out,
// and bad lines are errors with the same targets.
func TestTestIPFlowServerQueries(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)
	r := s.run("network", "watcher", "test-ip-flow", "--queries", "../../examples/secure-network/queries.jsonl")
	wantOK(t, r)
	golden(t, "test-ip-flow-queries.jsonl", r.stdout)

	stdin := strings.Join([]string{
		`{"nic": "node0", "direction": "Outbound", "protocol": "udp", "local": "10.0.0.4:*", "remote": "10.0.0.9:53"}`,
		`not json`,
		`{"nic": "nodeX", "direction": "Inbound", "protocol": "TCP", "local": "10.0.0.4:1", "remote": "198.18.3.9:443"}`,
		`{"nic": "node0", "direction": "Inbound", "protocol": "TCP", "local": "10.0.0.9:1", "remote": "198.18.3.9:443"}`,
		`{"nic": "nodeX", "direction": "Inbound", "protocol": "TCP", "local": "10.0.0.4:1", "remote": "198.18.3.9:443"}`,
		`{"nic": "` + testNIC + `", "direction": "Inbound", "protocol": "TCP", "local": "10.0.0.4:29877", "remote": "198.18.3.9:*"}`,
	}, "\n")
	for name, in := range map[string]struct{ stdin, file string }{
		"bad lines": {"", "testdata/queries-bad.jsonl"},
		"stdin":     {stdin, "-"},
	} {
		t.Run(name, func(t *testing.T) {
			off := runIn(t, in.stdin, "network", "watcher", "test-ip-flow", "--resources", example, "--queries", in.file)
			on := runIn(t, in.stdin, "network", "watcher", "test-ip-flow", "--queries", in.file, "--endpoint", s.url, "--token", s.admin)
			if off.code != exitInput || on.code != exitInput {
				t.Fatalf("exit %d offline, %d against the server; want %d for both", off.code, on.code, exitInput)
			}
			summary := func(stderr string) string { return stderr[strings.LastIndex(stderr, "QueriesFailed"):] }
			if summary(off.stderr) != summary(on.stderr) {
				t.Errorf("summaries differ:\n%s\n%s", off.stderr, on.stderr)
			}
			type line struct {
				Access, RuleName string
				Error            *struct{ Target string }
			}
			decode := func(out string) []line {
				var ls []line
				for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
					var l line
					if err := json.Unmarshal([]byte(s), &l); err != nil {
						t.Fatalf("%v: %s", err, s)
					}
					ls = append(ls, l)
				}
				return ls
			}
			if diff := cmp.Diff(decode(off.stdout), decode(on.stdout)); diff != "" {
				t.Errorf("answers differ (-offline +server):\n%s\noffline:\n%s\nserver:\n%s", diff, off.stdout, on.stdout)
			}
		})
	}
}

// Against a server, --nic is looked up by name in the group or the
// subscription; what cannot be asked is refused naming the flag.
func TestTestIPFlowServerErrors(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)
	other := testSub + "/resourceGroups/other"
	otherNet := other + "/providers/Microsoft.Network"
	s.put(other, map[string]any{"location": "eastus"})
	s.put(otherNet+"/virtualNetworks/othernet", map[string]any{"location": "eastus",
		"properties": map[string]any{"addressSpace": map[string]any{"addressPrefixes": []string{"10.1.0.0/16"}},
			"subnets": []any{map[string]any{"name": "default", "properties": map[string]any{"addressPrefix": "10.1.0.0/24"}}}}})
	s.put(otherNet+"/networkInterfaces/twin", map[string]any{"location": "eastus",
		"properties": map[string]any{"ipConfigurations": []any{map[string]any{"name": "ipconfig1",
			"properties": map[string]any{"subnet": map[string]any{"id": otherNet + "/virtualNetworks/othernet/subnets/default"}}}}}})
	s.put(testNet+"/networkInterfaces/twin", map[string]any{"location": "eastus",
		"properties": map[string]any{"ipConfigurations": []any{map[string]any{"name": "ipconfig1",
			"properties": map[string]any{"subnet": map[string]any{"id": testVNet + "/subnets/default"}}}}}})

	flow := func(nic, local string, more ...string) []string {
		return append([]string{"network", "watcher", "test-ip-flow", "--nic", nic, "--direction", "Inbound", "--protocol", "TCP",
			"--local", local, "--remote", "198.18.3.9:443"}, more...)
	}
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown nic", flow("node9", "10.0.0.4:1"), exitInput,
			[]string{"NotFound (--nic)", `"node9" was not found in subscription`, "known: mygroup/node0, mygroup/nva0, mygroup/twin, other/twin"}},
		{"unknown nic in a group", flow("node9", "10.0.0.4:1", "-g", "other"), exitInput,
			[]string{"NotFound (--nic)", `"node9" was not found in resource group other (known: twin)`}},
		{"ambiguous nic", flow("twin", "10.0.0.5:1"), exitInput,
			[]string{"(--nic)", `2 network interfaces in subscription 00000000-0000-0000-0000-000000000000 are named "twin", in resource groups mygroup, other`, "-g GROUP"}},
		{"missing nic id", flow(testNet+"/networkInterfaces/gone", "10.0.0.4:1"), exitInput, []string{"ResourceNotFound (--nic)"}},
		{"id of another type", flow(testNSG, "10.0.0.4:1"), exitInput, []string{"(--nic)", "is not the id of a network interface"}},
		{"local not the nic's", flow("node0", "10.0.0.9:1"), exitInput, []string{"(--local)", "10.0.0.9 is not an address of network interface"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.with(t).run(tc.args...)
			wantFail(t, r, tc.code, tc.want...)
		})
	}
	t.Run("the group settles it", func(t *testing.T) {
		r := s.with(t).run(flow("twin", "10.1.0.4:29876", "-g", "other", "-o", "json")...)
		wantOK(t, r)
	})
}

// The mode follows --resources: without it a server is needed, and the
// flags of one mode are refused in the other.
func TestNetworkCommandModes(t *testing.T) {
	query := []string{"network", "watcher", "test-ip-flow", "--nic", "node0", "--direction", "Inbound", "--protocol", "TCP",
		"--local", "10.0.0.4:29876", "--remote", "198.18.3.9:443"}
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no resources, no server", query, exitInput, []string{"MissingArgument (--resources)", "vnetml login"}},
		{"server flags offline", append(query, "--resources", example, "-g", "mygroup", "--token", "x"), exitInput,
			[]string{"2 errors", "(--resource-group)", "(--token)", "applies when asking a server"}},
		{"service tags with a server", append(query, "--token", "vnm_x", "--service-tags", "t.json"), exitInput,
			[]string{"(--service-tags)", "a server uses its own service tags"}},
		{"no server there", append(query, "--token", "vnm_x", "--endpoint", "http://127.0.0.1:1"), exitInternal,
			[]string{"ServerUnreachable"}},
		{"no server there for queries", []string{"network", "watcher", "test-ip-flow", "--queries", "../../examples/secure-network/queries.jsonl",
			"--token", "vnm_x", "--endpoint", "http://127.0.0.1:1"}, exitInternal, []string{"ServerUnreachable"}},
		{"nsg list without a server", []string{"network", "nic", "list-effective-nsg", "--nic", "node0"}, exitInput,
			[]string{"(--resources)", "give the resource JSON files to check offline"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			wantFail(t, r, tc.code, tc.want...)
			if r.stdout != "" {
				t.Errorf("stdout:\n%s", r.stdout)
			}
		})
	}
}
