package cli

import "testing"

func TestShowEffectiveRouteTable(t *testing.T) {
	for _, nic := range []string{"node0", "nva0"} {
		for _, out := range []string{"json", "table"} {
			t.Run(nic+"/"+out, func(t *testing.T) {
				r := run(t, "network", "nic", "show-effective-route-table", "--resources", example, "--nic", nic, "-o", out)
				wantOK(t, r)
				golden(t, "show-effective-route-table-"+nic+"."+out, r.stdout)
			})
		}
	}
}

func TestShowEffectiveRouteTableUnknownNIC(t *testing.T) {
	r := run(t, "network", "nic", "show-effective-route-table", "--resources", example, "--nic", "node7")
	wantFail(t, r, exitInput, "NotFound (--nic)", "known: node0, nva0")
}

// Against a server holding the same resources, the effective routes are
// the same, in both formats.
func TestShowEffectiveRouteTableServer(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)
	for _, nic := range []string{"node0", "nva0", testNIC} {
		for _, out := range []string{"json", "table"} {
			t.Run(lastSegment(nic)+"/"+out, func(t *testing.T) {
				s.with(t).wantSame(example, "network", "nic", "show-effective-route-table", "--nic", nic, "-o", out)
			})
		}
	}
	r := s.run("network", "nic", "show-effective-route-table", "-g", "mygroup")
	wantFail(t, r, exitInput, "MissingArgument (--nic)")
}
