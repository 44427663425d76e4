package cli

import "testing"

func TestListEffectiveNSG(t *testing.T) {
	cases := []struct{ name, resources, nic string }{
		{"subnet", example, "node0"},
		{"nic", "testdata/nic-nsg.json", "nva0"},
		{"none", example, "nva0"},
	}
	for _, tc := range cases {
		for _, out := range []string{"json", "table"} {
			t.Run(tc.name+"/"+out, func(t *testing.T) {
				r := run(t, "network", "nic", "list-effective-nsg", "--resources", tc.resources, "--nic", tc.nic, "-o", out)
				wantOK(t, r)
				golden(t, "list-effective-nsg-"+tc.name+"."+out, r.stdout)
			})
		}
	}
}

func TestListEffectiveNSGUnknownNIC(t *testing.T) {
	r := run(t, "network", "nic", "list-effective-nsg", "--resources", example, "--nic", "node7")
	wantFail(t, r, exitInput, "NotFound (--nic)", `"node7"`, "known: node0, nva0")
}
