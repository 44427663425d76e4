package cli

import "testing"

// effectiveNSGCases are the NICs of the golden tests, asked offline and
// of a server.
var effectiveNSGCases = []struct{ name, resources, nic string }{
	{"subnet", example, "node0"},
	{"nic", "testdata/nic-nsg.json", "nva0"},
	{"none", example, "nva0"},
}

func TestListEffectiveNSG(t *testing.T) {
	for _, tc := range effectiveNSGCases {
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

// Against a server holding the same resources, the effective rules are
// the same, in both formats.
func TestListEffectiveNSGServer(t *testing.T) {
	servers := serversFor(t, example, "testdata/nic-nsg.json")
	for _, tc := range effectiveNSGCases {
		for _, out := range []string{"json", "table"} {
			t.Run(tc.name+"/"+out, func(t *testing.T) {
				servers[tc.resources].with(t).wantSame(tc.resources, "network", "nic", "list-effective-nsg", "--nic", tc.nic, "-o", out)
			})
		}
	}
	r := servers[example].run("network", "nic", "list-effective-nsg", "--nic", "node7", "-g", "mygroup")
	wantFail(t, r, exitInput, "NotFound (--nic)", `"node7" was not found in resource group mygroup (known: node0, nva0)`)
}
