package cli

import (
	"strings"
	"testing"
)

func TestTestIPFlow(t *testing.T) {
	const nicNSG = "testdata/nic-nsg.json" // the example, with an NSG on nva0
	cases := []struct {
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
	for _, tc := range cases {
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
