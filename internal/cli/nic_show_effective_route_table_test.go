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
