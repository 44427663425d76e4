package apiserver_test

import (
	"strings"
	"testing"
)

// token creates a token with a role on a scope and returns its secret.
func (e *env) token(name, role, scope string) string {
	e.t.Helper()
	r := e.must(201, "PUT", "/providers/vnetml.Authorization/tokens/"+name,
		`{"properties": {"role": "`+role+`", "scope": "`+scope+`"}}`).json(e.t)
	return r["properties"].(map[string]any)["secret"].(string)
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	e.must(201, "PUT", sub+"/resourceGroups/other", groupBody)

	for _, tok := range []string{"", "vnm_not-a-token"} {
		r := e.callAs(tok, "GET", vnet, nil)
		if r.status != 401 || r.errorOf(t).Code != "AuthenticationFailed" || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("token %q: %d %s", tok, r.status, r.body)
		}
	}

	reader := e.token("reader", "Reader", rg)
	contrib := e.token("contrib", "Contributor", rg)

	if r := e.callAs(reader, "GET", vnet, nil); r.status != 200 {
		t.Errorf("reader GET: %d %s", r.status, r.body)
	}
	if r := e.callAs(reader, "POST", nic+"/effectiveNetworkSecurityGroups", nil); r.status != 200 {
		t.Errorf("reader query: %d %s", r.status, r.body)
	}
	// Watchers live in NetworkWatcherRG; queries are authorized on the NIC.
	if r := e.callAs(reader, "POST", nw+"/ipFlowVerify", verifyBody("Inbound", "10.0.0.4", "198.18.3.9", 29876, 443)); r.status != 200 {
		t.Errorf("group reader asking about its NIC: %d %s", r.status, r.body)
	}
	other := e.token("other", "Reader", sub+"/resourceGroups/other")
	if r := e.callAs(other, "POST", nw+"/ipFlowVerify", verifyBody("Inbound", "10.0.0.4", "198.18.3.9", 29876, 443)); r.status != 403 {
		t.Errorf("reader of another group asking about the NIC: %d %s", r.status, r.body)
	}
	if r := e.callAs(reader, "PUT", nsg, nsgBody); r.status != 403 || r.errorOf(t).Code != "AuthorizationFailed" {
		t.Errorf("reader PUT: %d %s", r.status, r.body)
	}
	if r := e.callAs(contrib, "PUT", nsg, nsgBody); r.status != 200 {
		t.Errorf("contributor PUT: %d %s", r.status, r.body)
	}
	if r := e.callAs(contrib, "PUT", sub+"/resourceGroups/other/providers/Microsoft.Network/networkSecurityGroups/x", nsgBody); r.status != 403 {
		t.Errorf("contributor outside its group: %d %s", r.status, r.body)
	}
	if r := e.callAs(contrib, "PUT", rg+"/providers/Microsoft.Authorization/locks/l", `{"properties": {"level": "ReadOnly"}}`); r.status != 403 {
		t.Errorf("contributor writing a lock: %d %s", r.status, r.body)
	}
	// Lists leave out what the caller may not read.
	groups := e.callAs(reader, "GET", sub+"/resourceGroups", nil)
	if groups.status != 200 || strings.Contains(string(groups.body), "/other") || !strings.Contains(string(groups.body), "mygroup") {
		t.Errorf("reader lists groups: %d %s", groups.status, groups.body)
	}
	if r := e.callAs(reader, "PUT", "/providers/vnetml.Authorization/tokens/escalate", `{"properties": {"role": "Owner", "scope": "/"}}`); r.status != 403 {
		t.Errorf("reader creating a token: %d %s", r.status, r.body)
	}
	toks := e.must(200, "GET", "/providers/vnetml.Authorization/tokens", nil)
	if !strings.Contains(string(toks.body), "reader") || strings.Contains(string(toks.body), reader) {
		t.Errorf("token list: %s", toks.body)
	}
	e.must(200, "DELETE", "/providers/vnetml.Authorization/tokens/reader", nil)
	if r := e.callAs(reader, "GET", vnet, nil); r.status != 401 {
		t.Errorf("revoked token: %d %s", r.status, r.body)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	e.secureNetwork()
	if r := e.callAs("", "GET", "/healthz", nil); r.status != 200 || !strings.Contains(string(r.body), `"ok"`) {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
	r := e.callAs("", "GET", "/metrics", nil)
	for _, want := range []string{"vnetml_api_requests_total", "vnetml_engine_compile_seconds", "vnetml_engine_revision", `route="virtualNetworks.put"`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestWhoAmI(t *testing.T) {
	e := newEnv(t)
	m := e.must(200, "GET", "/providers/vnetml.Authorization/whoami", nil).json(t)
	if m["tokenName"] != "admin" || m["role"] != "Owner" || m["scope"] != "/" {
		t.Fatalf("whoami: %v", m)
	}
	e.wantError(401, "AuthenticationFailed", "GET", "/providers/vnetml.Authorization/whoami", nil, "Authorization", "Bearer vnm_nope")
}
