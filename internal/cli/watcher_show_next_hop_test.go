package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// nextHopCases are the destinations of the golden tests, asked offline
// and of a server.
var nextHopCases = []struct{ name, dst string }{
	{"batch-user-tag-route", "198.18.3.9"},
	{"storage-service-endpoint", "198.18.1.9"},
	{"appliance", "172.16.5.5"},
	{"vnet", "10.0.1.4"},
	{"internet", "8.8.8.8"},
	{"reserved-none", "192.168.1.1"},
}

func TestShowNextHop(t *testing.T) {
	for _, tc := range nextHopCases {
		for _, out := range []string{"json", "table"} {
			t.Run(tc.name+"/"+out, func(t *testing.T) {
				r := run(t, "network", "watcher", "show-next-hop", "--resources", example, "--nic", "node0",
					"--source-ip", "10.0.0.4", "--dest-ip", tc.dst, "-o", out)
				wantOK(t, r)
				golden(t, "show-next-hop-"+tc.name+"."+out, r.stdout)
			})
		}
	}
}

func TestShowNextHopBadInput(t *testing.T) {
	base := []string{"network", "watcher", "show-next-hop", "--resources", example}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"missing everything", nil, []string{"3 errors in the command line", "(--nic)", "(--source-ip)", "(--dest-ip)"}},
		{"bad source", []string{"--nic", "node0", "--source-ip", "10.0.0", "--dest-ip", "8.8.8.8"}, []string{"InvalidArgument (--source-ip)", `"10.0.0"`}},
		{"source not the nic's", []string{"--nic", "node0", "--source-ip", "10.0.0.5", "--dest-ip", "8.8.8.8"}, []string{"(--source-ip)", "10.0.0.5 is not an address of network interface node0"}},
		{"unknown nic", []string{"--nic", "node1", "--source-ip", "10.0.0.4", "--dest-ip", "8.8.8.8"}, []string{"NotFound (--nic)", "known: node0, nva0"}},
		{"ipv6", []string{"--nic", "node0", "--source-ip", "10.0.0.4", "--dest-ip", "2001:db8::1"}, []string{"(--dest-ip)", "IPv4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append(base, tc.args...)...)
			wantFail(t, r, exitInput, tc.want...)
		})
	}
}

// Against a server holding the same resources, every packet gets the same
// next hop. The table's explanation line is the server's to give (Network
// Watcher's NextHopResult has none): when the server sends one, it must
// be the offline one.
func TestShowNextHopServer(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)
	for _, tc := range nextHopCases {
		args := []string{"network", "watcher", "show-next-hop", "--nic", "node0", "--source-ip", "10.0.0.4", "--dest-ip", tc.dst}
		t.Run(tc.name+"/json", func(t *testing.T) {
			s.with(t).wantSame(example, append(args, "-o", "json")...)
		})
		t.Run(tc.name+"/table", func(t *testing.T) {
			off, on := s.with(t).both(example, append(args, "-o", "table")...)
			wantOK(t, off)
			wantOK(t, on)
			lines := strings.SplitAfter(off.stdout, "\n")
			withoutExplanation := strings.Join(lines[:3], "")
			if on.stdout != off.stdout && on.stdout != withoutExplanation {
				t.Errorf("(-offline +server):\n%s", cmp.Diff(off.stdout, on.stdout))
			}
		})
	}
}

func TestShowNextHopServerErrors(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)
	base := []string{"network", "watcher", "show-next-hop", "--nic", "node0"}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"source not the nic's", []string{"--source-ip", "10.0.0.5", "--dest-ip", "8.8.8.8"}, []string{"(--source-ip)", "10.0.0.5 is not an address of network interface"}},
		{"ipv6", []string{"--source-ip", "10.0.0.4", "--dest-ip", "2001:db8::1"}, []string{"(--dest-ip)", "IPv4"}},
		{"bad address", []string{"--source-ip", "10.0.0", "--dest-ip", "8.8.8.8"}, []string{"InvalidArgument (--source-ip)"}},
		{"unknown nic", []string{"--nic", "node1", "--source-ip", "10.0.0.4", "--dest-ip", "8.8.8.8"}, []string{"NotFound (--nic)", "known: mygroup/node0, mygroup/nva0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantFail(t, s.with(t).run(append(base, tc.args...)...), exitInput, tc.want...)
		})
	}
}
