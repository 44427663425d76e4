package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const exampleManifest = "../../examples/secure-network.yaml"

func TestApply(t *testing.T) {
	s := newTestServer(t)

	dry := s.run("apply", "-f", exampleManifest, "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.stdout, "Plan (dry run") || !strings.Contains(dry.stdout, "would create") {
		t.Fatalf("dry run: %d\n%s%s", dry.code, dry.stdout, dry.stderr)
	}
	if r := s.run("get", "vnet", "mynetwork", "-g", "mygroup"); r.code == 0 {
		t.Fatalf("the dry run wrote: %s", r.stdout)
	}

	first := s.run("apply", "-f", exampleManifest)
	if first.code != 0 || !strings.Contains(first.stdout, "8 created, 0 changed, 0 unchanged.") {
		t.Fatalf("first apply: %d\n%s%s", first.code, first.stdout, first.stderr)
	}
	for _, want := range []string{"created  resourceGroups", "networkSecurityGroups  mygroup/ml-nsg", "mygroup/mynetwork/keep-network"} {
		if !strings.Contains(first.stdout, want) {
			t.Errorf("first apply lacks %q:\n%s", want, first.stdout)
		}
	}
	// The workspace services it declares, with their firewalls.
	for _, tc := range []struct{ typ, name string }{{"storage", "mlworkspacestore"}, {"keyvault", "ml-keyvault"}} {
		r := s.run("get", tc.typ, "-g", "mygroup")
		if r.code != 0 || !strings.Contains(r.stdout, tc.name) || !strings.Contains(r.stdout, "Deny") || !strings.Contains(r.stdout, "198.18.") {
			t.Errorf("get %s: %d\n%s%s", tc.typ, r.code, r.stdout, r.stderr)
		}
	}
	again := s.run("apply", "-f", exampleManifest)
	if again.code != 0 || !strings.Contains(again.stdout, "0 created, 0 changed, 8 unchanged.") {
		t.Fatalf("second apply: %d\n%s%s", again.code, again.stdout, again.stderr)
	}

	// A changed rule is the one change.
	b, err := os.ReadFile(exampleManifest)
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(t.TempDir(), "changed.yaml")
	os.WriteFile(changed, []byte(strings.Replace(string(b), "destinationPorts: 22", "destinationPorts: 2222", 1)), 0o600)
	if r := s.run("apply", "-f", changed); r.code != 0 || !strings.Contains(r.stdout, "0 created, 1 changed, 7 unchanged.") {
		t.Fatalf("changed apply: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Errors the server finds point into the manifest.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(string(b), "addressPrefix: 10.0.0.0/24", "addressPrefix: 10.0.0.0/33", 1)), 0o600)
	r := s.run("apply", "-f", bad)
	if r.code != 2 || !strings.Contains(r.stderr, "bad.yaml:") || !strings.Contains(r.stderr, "mygroup/mynetwork") {
		t.Fatalf("bad apply: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Errors of the manifest itself come before any call.
	typo := filepath.Join(t.TempDir(), "typo.yaml")
	os.WriteFile(typo, []byte(strings.Replace(string(b), "addressSpace:", "adressSpace:", 1)), 0o600)
	if r := s.run("apply", "-f", typo); r.code != 2 || !strings.Contains(r.stderr, `did you mean "addressSpace"`) {
		t.Fatalf("typo: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := s.run("apply"); r.code != 2 || !strings.Contains(r.stderr, "--file is required") {
		t.Fatalf("no file: %d %s", r.code, r.stderr)
	}
	// -o json is the server's answer.
	if r := s.run("apply", "-f", exampleManifest, "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"action": "unchanged"`) {
		t.Fatalf("json: %d %s", r.code, r.stdout)
	}
}
