package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/client"
)

func secret(verb string, args ...string) []string {
	return append([]string{"keyvault", "secret", verb, "--vault-name", "kv1"}, args...)
}

// A secret goes round: set (from --value and from stdin), show with its
// value, list without it, delete.
func TestKeyVaultSecretRoundTrip(t *testing.T) {
	s := newDataServer(t)
	out := s.ok("keyvault", "create", "kv1", "-g", "mygroup")
	if !strings.Contains(out, "Access policies: admin (secrets: all)") || !strings.Contains(out, "kv1   mygroup        eastus    198.18.") {
		t.Errorf("create:\n%s", out)
	}
	var set client.Secret
	decode(t, s.ok(secret("set", "-n", "db-password", "--value", "s3cret", "-o", "json")...), &set)
	if set.Value != "s3cret" || secretName(set.ID) != "db-password" || secretVersion(set.ID) == "" || !set.Attributes.Enabled {
		t.Errorf("set: %+v", set)
	}
	r := s.runIn("from stdin\n", secret("set", "-n", "token", "--file", "-")...)
	wantOK(t, r)
	if !strings.HasPrefix(r.stdout, "Name   Version") || strings.Contains(r.stdout, "from stdin") {
		t.Errorf("set's table (no value):\n%s", r.stdout)
	}

	var shown client.Secret
	decode(t, s.ok(secret("show", "-n", "db-password", "-o", "json")...), &shown)
	if shown.Value != "s3cret" || shown.ID != set.ID {
		t.Errorf("show: %+v, set %+v", shown, set)
	}
	decode(t, s.ok(secret("show", "-n", "token", "-o", "json")...), &shown)
	if shown.Value != "from stdin\n" {
		t.Errorf("show token: %q", shown.Value)
	}
	if out := s.ok(secret("show", "-n", "db-password")...); !strings.Contains(out, "Value") || !strings.Contains(out, "s3cret") {
		t.Errorf("show's table has no value:\n%s", out)
	}

	var list []client.Secret
	decode(t, s.ok(secret("list", "-o", "json")...), &list)
	names := map[string]bool{}
	for _, l := range list {
		names[secretName(l.ID)] = true
		if l.Value != "" {
			t.Errorf("list shows a value: %+v", l)
		}
	}
	if len(names) != 2 || !names["db-password"] || !names["token"] {
		t.Errorf("list: %+v", list)
	}

	if out := s.ok(secret("delete", "-n", "db-password")...); out != "Deleted secret db-password of key vault kv1.\n" {
		t.Errorf("delete: %q", out)
	}
	wantFail(t, s.run(secret("show", "-n", "db-password")...), exitInput, "SecretNotFound")
	decode(t, s.ok(secret("list", "-o", "json")...), &list)
	if len(list) != 1 {
		t.Errorf("after delete: %+v", list)
	}

	wantFail(t, s.run(secret("set", "-n", "x")...), exitInput, "(--value)")
	wantFail(t, s.run(secret("set", "-n", "x", "--value", "a", "--file", "f")...), exitInput, "(--file)")
	wantFail(t, s.run("keyvault", "secret", "list", "--vault-name", "nosuch"), exitInput, `NotFound (--vault-name): Key vault "nosuch" was not found`, "known: kv1")
	wantFail(t, s.run("keyvault", "create", "kv1", "-g", "mygroup"), exitInput, "Conflict", "vnetml keyvault update kv1")
}

// A vault whose firewall denies by default and has no rules refuses the
// default client address with Key Vault's code and inner code; an IP rule
// admits it.
func TestKeyVaultFirewallRefusesSecrets(t *testing.T) {
	s := newDataServer(t)
	s.ok("keyvault", "create", "kv1", "-g", "mygroup", "--default-action", "Deny", "--bypass", "azureservices")
	r := s.run(secret("set", "-n", "a", "--value", "b")...)
	wantFail(t, r, exitInput, "vnetml: Forbidden: Client address is not authorized and caller is not a trusted service.",
		"Client address: "+api.DefaultClientAddress, "ForbiddenByFirewall", "defaultAction Deny")
	if strings.Contains(r.stderr, "\r") {
		t.Errorf("the refusal keeps Key Vault's CRLF:\n%q", r.stderr)
	}
	wantFail(t, s.run(secret("list")...), exitInput, "ForbiddenByFirewall")

	out := s.ok("keyvault", "update", "kv1", "--add-ip-rule", "203.0.113.0/24")
	if !strings.Contains(out, "IP rules: 203.0.113.0/24") || !strings.Contains(out, "Access policies: admin") {
		t.Errorf("update:\n%s", out)
	}
	s.ok(secret("set", "-n", "a", "--value", "b")...)
	wantFail(t, s.run(secret("show", "-n", "a", "--client-address", "198.51.100.9")...), exitInput, "ForbiddenByFirewall", "198.51.100.9")

	// RBAC instead of access policies, kept across a firewall update.
	s.ok("keyvault", "update", "kv1", "--enable-rbac-authorization")
	s.ok("keyvault", "update", "kv1", "--default-action", "Allow", "--remove-ip-rule", "203.0.113.0/24")
	var kv struct {
		Properties struct {
			EnableRbacAuthorization bool `json:"enableRbacAuthorization"`
			NetworkAcls             struct {
				DefaultAction string            `json:"defaultAction"`
				IPRules       []json.RawMessage `json:"ipRules"`
			} `json:"networkAcls"`
		} `json:"properties"`
	}
	decode(t, s.ok("keyvault", "show", "kv1", "-g", "mygroup", "-o", "json"), &kv)
	if !kv.Properties.EnableRbacAuthorization || kv.Properties.NetworkAcls.DefaultAction != "Allow" || len(kv.Properties.NetworkAcls.IPRules) != 0 {
		t.Errorf("vault: %+v", kv.Properties)
	}
	s.ok(secret("show", "-n", "a", "--client-address", "198.51.100.9")...)
	wantFail(t, s.run("keyvault", "update", "kv1", "--bypass", "Logging"), exitInput, "(--bypass)")
	if out := s.ok("keyvault", "list"); !strings.Contains(out, "kv1   mygroup        eastus") {
		t.Errorf("list:\n%s", out)
	}
	if out := s.ok("keyvault", "delete", "kv1"); out != "Deleted key vault mygroup/kv1\n" {
		t.Errorf("delete: %q", out)
	}
}

// The access policy a new vault gets names --object-id, a token's name
// (admin by default): another token that is not an Owner is refused until
// a vault names it.
func TestKeyVaultAccessPolicyObjectID(t *testing.T) {
	s := newDataServer(t)
	var tok struct {
		Properties struct {
			Secret string `json:"secret"`
		} `json:"properties"`
	}
	r := s.run("token", "create", "ci", "--role", "Contributor", "--scope", testGroup, "-o", "json")
	if r.code != exitOK {
		t.Fatalf("token create: exit %d\n%s", r.code, r.stderr)
	}
	decode(t, r.stdout, &tok)
	ci := func(args ...string) result {
		return runIn(t, "", append(args, "--endpoint", s.url, "--token", tok.Properties.Secret)...)
	}
	s.ok("keyvault", "create", "kv1", "-g", "mygroup")
	wantFail(t, ci(secret("set", "-n", "a", "--value", "b")...), exitInput, "Forbidden", "AccessDenied", "token=ci")
	s.ok("keyvault", "create", "kv2", "-g", "mygroup", "--object-id", "ci")
	wantOK(t, ci("keyvault", "secret", "set", "--vault-name", "kv2", "-n", "a", "--value", "b"))
	wantFail(t, s.run("keyvault", "create", "kv3", "-g", "mygroup", "--object-id", "ci", "--enable-rbac-authorization"), exitInput, "(--object-id)")
}
