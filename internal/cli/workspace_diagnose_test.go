package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The table groups findings by category, in the API's order, shows only
// the categories with findings (and any the CLI does not know, last), or
// says there are none.
func TestPrintDiagnosis(t *testing.T) {
	cases := []struct {
		name, answer, want string
	}{
		{"healthy", `{"value": {"user_defined_route_results": [], "network_security_rule_results": [], "other_results": []}}`, "No problems found.\n"},
		{"grouped", `{"value": {
			"other_results": [{"code": "NoNodesToCheck", "level": "Information", "message": "Compute b has no nodes."}],
			"zz_future_results": [{"code": "Z", "level": "Warning", "message": "z"}],
			"resource_lock_results": [],
			"user_defined_route_results": [{"code": "ForcedTunnelingWithoutBatchRoutes", "level": "Error", "message": "Compute a: routed away."}],
			"key_vault_results": [{"code": "KeyVaultUnreachable", "level": "Error", "message": "Compute a: vault refused."},
			                      {"code": "KeyVaultUnreachable", "level": "Error", "message": "Compute b: vault refused."}]}}`, `User-defined routes (user_defined_route_results):
Level  Code                               Message
-----  ---------------------------------  -----------------------
Error  ForcedTunnelingWithoutBatchRoutes  Compute a: routed away.

Key vault (key_vault_results):
Level  Code                 Message
-----  -------------------  -------------------------
Error  KeyVaultUnreachable  Compute a: vault refused.
Error  KeyVaultUnreachable  Compute b: vault refused.

Other (other_results):
Level        Code            Message
-----------  --------------  -----------------------
Information  NoNodesToCheck  Compute b has no nodes.

zz_future_results:
Level    Code  Message
-------  ----  -------
Warning  Z     z
`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := printDiagnosis(&b, json.RawMessage(tc.answer)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A workspace without computes has nothing to check in a network: the
// diagnosis says so, and exits 0 as every diagnosis does; a workspace
// that does not exist is NotFound.
func TestWorkspaceDiagnoseWithoutCompute(t *testing.T) {
	s := newDataServer(t)
	s.ok("workspace", "create", "mlws", "-g", "mygroup")
	out := s.ok("workspace", "diagnose", "mlws")
	if !strings.HasPrefix(out, "Other (other_results):\n") || !strings.Contains(out, "Information  NoCompute  The workspace has no compute clusters") {
		t.Errorf("diagnose:\n%s", out)
	}
	var answer struct {
		Value map[string][]finding `json:"value"`
	}
	decode(t, s.ok("workspace", "diagnose", "mlws", "-g", "mygroup", "-o", "json"), &answer)
	if got := answer.Value["other_results"]; len(got) != 1 || got[0].Code != "NoCompute" || len(answer.Value["network_security_rule_results"]) != 0 {
		t.Errorf("diagnose -o json: %+v", answer.Value)
	}
	wantFail(t, s.run("workspace", "diagnose", "nosuch"), exitInput, "NotFound (NAME)", `"nosuch"`)
}
