package cli

import "testing"

func TestShowNextHop(t *testing.T) {
	cases := []struct{ name, dst string }{
		{"batch-user-tag-route", "198.18.3.9"},
		{"storage-service-endpoint", "198.18.1.9"},
		{"appliance", "172.16.5.5"},
		{"vnet", "10.0.1.4"},
		{"internet", "8.8.8.8"},
		{"reserved-none", "192.168.1.1"},
	}
	for _, tc := range cases {
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
