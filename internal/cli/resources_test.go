package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/servicetag"
)

// verify is a test-ip-flow query the example answers with Allow.
var verify = []string{"--nic", "node0", "--direction", "Inbound", "--protocol", "TCP",
	"--local", "10.0.0.4:29876", "--remote", "198.18.3.9:443", "-o", "json"}

func testIPFlow(resources ...string) []string {
	args := []string{"network", "watcher", "test-ip-flow"}
	for _, r := range resources {
		args = append(args, "--resources", r)
	}
	return append(args, verify...)
}

// Every way of handing the same network in gives the same answer.
func TestResourceInputs(t *testing.T) {
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	want := run(t, testIPFlow(example)...)
	wantOK(t, want)
	cases := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"stdin", string(data), testIPFlow("-")},
		{"directory", "", testIPFlow("testdata/split")},
		{"files one by one", "", testIPFlow("testdata/split/vnet.json", "testdata/split/nsg.json", "testdata/split/routes.json",
			"testdata/split/nics.json", "testdata/split/firewalls.json", "testdata/split/subnet-default.json")},
		{"child before parent", "", testIPFlow("testdata/split/subnet-default.json", "testdata/split/vnet.json", "testdata/split/nsg.json",
			"testdata/split/routes.json", "testdata/split/nics.json", "testdata/split/firewalls.json")},
		{"nic by id", "", append(testIPFlow(example), "--nic",
			"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup/providers/Microsoft.Network/networkInterfaces/node0")},
		{"case-insensitive enums", "", []string{"network", "watcher", "test-ip-flow", "--resources", example, "--nic", "node0",
			"--direction", "inbound", "--protocol", "tcp", "--local", "10.0.0.4:29876", "--remote", "198.18.3.9:443", "-o", "JSON"}},
		{"service tag file", "", append(testIPFlow(example), "--service-tags", "../servicetag/localcloud.json")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runIn(t, tc.stdin, tc.args...)
			wantOK(t, r)
			if r.stdout != want.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want.stdout)
			}
		})
	}
}

// Bad input exits 2 and names the file, the field and the problem.
func TestResourceErrors(t *testing.T) {
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{
		{"missing file", "", testIPFlow("testdata/nope.json"),
			[]string{"(--resources)", "testdata/nope.json", "no such file"}},
		{"missing resources flag", "", append([]string{"network", "watcher", "test-ip-flow"}, verify...),
			[]string{"MissingArgument (--resources)"}},
		{"bad JSON names the line", "", testIPFlow("testdata/bad-json.json"),
			[]string{"testdata/bad-json.json", "line 6", "not valid JSON"}},
		{"bad JSON on stdin", "[{]", testIPFlow("-"),
			[]string{"<stdin>", "line 1"}},
		{"stdin twice", "", testIPFlow("-", "-"),
			[]string{"(--resources)", "only once"}},
		{"template expression", "", testIPFlow("testdata/template-expression.json"),
			[]string{"InvalidTemplate", "testdata/template-expression.json", "resources[0].location", "[resourceGroup().location]"}},
		{"every validation error", "", testIPFlow("testdata/invalid.json"),
			[]string{"3 errors in the resources",
				"SecurityRuleInvalidPriority (testdata/invalid.json:networkSecurityGroups[ml-nsg].properties.securityRules[0].properties.priority)",
				"SecurityRuleInvalidPortRange (testdata/invalid.json:networkSecurityGroups[ml-nsg].properties.securityRules[1].properties.destinationPortRange)",
				"InvalidPrivateIPAddress (testdata/invalid.json:networkInterfaces[node0].properties.ipConfigurations[0].properties.privateIPAddress)"}},
		{"error in a child file names that file", "", testIPFlow("testdata/split", "testdata/bad-rule.json"),
			[]string{"SecurityRuleInvalidPriority (testdata/bad-rule.json:networkSecurityGroups[ml-nsg].properties.securityRules[7].properties.priority)",
				"AllowSsh"}},
		{"child without parent", "", testIPFlow("testdata/orphan-subnet.json"),
			[]string{"ParentResourceNotFound (testdata/orphan-subnet.json:", "othernetwork"}},
		{"errors of several files", "", testIPFlow("testdata/bad-json.json", "testdata/template-expression.json"),
			[]string{"2 errors in the resources", "testdata/bad-json.json", "testdata/template-expression.json"}},
		{"bad service tag file", "", append(testIPFlow(example), "--service-tags", "testdata/bad-tags.json"),
			[]string{"InvalidServiceTagFile (testdata/bad-tags.json:values[0].properties.addressPrefixes[0])", "20.38.0.0/330"}},
		{"missing service tag file", "", append(testIPFlow(example), "--service-tags", "testdata/nope.json"),
			[]string{"(--service-tags)", "testdata/nope.json"}},
		{"empty directory", "", testIPFlow(t.TempDir()),
			[]string{"(--resources)", "no *.json files"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runIn(t, tc.stdin, tc.args...)
			wantFail(t, r, exitInput, tc.want...)
			if r.stdout != "" {
				t.Errorf("an answer was printed for bad input:\n%s", r.stdout)
			}
		})
	}
}

// A validation error is never shadowed: the engine does not run on
// resources Azure would reject.
func TestInvalidResourcesGiveNoAnswer(t *testing.T) {
	for _, cmd := range [][]string{
		{"network", "watcher", "show-next-hop", "--nic", "node0", "--source-ip", "10.0.0.4", "--dest-ip", "8.8.8.8"},
		{"network", "nic", "list-effective-nsg", "--nic", "node0"},
		{"network", "nic", "show-effective-route-table", "--nic", "node0"},
	} {
		t.Run(strings.Join(cmd[:3], " "), func(t *testing.T) {
			r := run(t, append(cmd, "--resources", "testdata/invalid.json")...)
			wantFail(t, r, exitInput, "testdata/invalid.json:networkSecurityGroups[ml-nsg]")
			if r.stdout != "" {
				t.Errorf("stdout: %s", r.stdout)
			}
		})
	}
}

// What the engine could not use is reported on stderr; the answer stands.
func TestEngineWarnings(t *testing.T) {
	var f servicetag.File
	if err := json.Unmarshal(servicetag.LocalCloudJSON(), &f); err != nil {
		t.Fatal(err)
	}
	f.Values = slices.DeleteFunc(f.Values, func(v servicetag.Value) bool { return strings.HasPrefix(v.Name, "AzureKeyVault") })
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	tags := filepath.Join(t.TempDir(), "tags.json")
	if err := os.WriteFile(tags, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, append(testIPFlow(example), "--service-tags", tags)...)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if want := "vnetml: warning: subnet default: service endpoint Microsoft.KeyVault"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr:\n%s\nwant %q", r.stderr, want)
	}
	if !strings.Contains(r.stdout, `"access": "Allow"`) {
		t.Errorf("stdout: %s", r.stdout)
	}
}

// Errors in resources read from stdin name <stdin>.
func TestStdinErrorsNamed(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid.json")
	if err != nil {
		t.Fatal(err)
	}
	r := runIn(t, string(data), testIPFlow("-")...)
	wantFail(t, r, exitInput, "(<stdin>:networkSecurityGroups[ml-nsg].properties.securityRules[0].properties.priority)")
}
