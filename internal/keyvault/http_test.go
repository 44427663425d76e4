package keyvault

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vnetml/vnetml/internal/armerror"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

const testHost = "vault1.vault.azure.net"

// testAuth is the authorize hook of the tests: no Authorization header is
// 401; X-Test-Deny chooses a denial; every decision is recorded.
type testAuth struct {
	mu  sync.Mutex
	ops []Op
}

func (a *testAuth) authorize(r *http.Request, vaultID string, op Op) error {
	a.mu.Lock()
	a.ops = append(a.ops, op)
	a.mu.Unlock()
	if vaultID != testVault {
		return fmt.Errorf("wrong vault %s", vaultID)
	}
	switch r.Header.Get("X-Test-Deny") {
	case "firewall":
		return &armerror.Error{Code: CodeForbidden, Message: "Client address is not authorized and caller is not a trusted service.",
			Details: []*armerror.Error{{Code: CodeForbiddenByFirewall}}}
	case "policy":
		return armerror.New(CodeForbidden, "", "The user, group or application does not have secrets %s permission.", op)
	case "plain":
		return errors.New("some internal reason that must not be shown")
	}
	if r.Header.Get("Authorization") == "" {
		return armerror.New(CodeUnauthorized, "", "AKV10000: Request is missing a Bearer or PoP token.")
	}
	return nil
}

func newTestHandler(f *fixture) http.Handler {
	a := &testAuth{}
	return f.svc.Handler(func(r *http.Request) (string, bool) {
		if strings.EqualFold(r.Host, testHost) {
			return testVault, true
		}
		return "", false
	}, a.authorize)
}

// do sends one request to h as the test host with a bearer token.
func do(t testing.TB, h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = testHost
	r.Header.Set("Authorization", "Bearer test")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			r.Header.Del(hdr[i])
		} else {
			r.Header.Set(hdr[i], hdr[i+1])
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// exchange is one request and its answer in a golden file.
type exchange struct {
	Request  string          `json:"request"`
	Body     json.RawMessage `json:"body,omitempty"`
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response"`
}

var versionRE = regexp.MustCompile(`[0-9a-f]{32}`)

// normalizer replaces random versions by {v1}, {v2}, … in order of first
// appearance, so that golden files are stable.
type normalizer map[string]string

func (n normalizer) apply(s string) string {
	return versionRE.ReplaceAllStringFunc(s, func(v string) string {
		if _, ok := n[v]; !ok {
			n[v] = fmt.Sprintf("{v%d}", len(n)+1)
		}
		return n[v]
	})
}

// version returns the real version named {vN}.
func (n normalizer) version(name string) string {
	for v, p := range n {
		if p == name {
			return v
		}
	}
	return "missing-" + name
}

type step struct {
	method, path, body string
	hdr                []string
	advance            time.Duration // clock advance before the step
}

func TestHandlerGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"lifecycle", []step{
			{method: "PUT", path: "/secrets/db-password?api-version=7.4", body: `{"value":"hunter2","contentType":"text/plain","tags":{"app":"ml"}}`},
			{method: "PUT", path: "/secrets/db-password?api-version=7.4", body: `{"value":"hunter3","attributes":{"enabled":true,"exp":1900000000}}`, advance: time.Minute},
			{method: "GET", path: "/secrets/db-password?api-version=7.4"},
			{method: "GET", path: "/secrets/db-password/?api-version=7.4"},
			{method: "GET", path: "/secrets/db-password/{v1}?api-version=7.4"},
			{method: "GET", path: "/secrets/db-password/versions?api-version=7.4"},
			{method: "PATCH", path: "/secrets/db-password/{v2}?api-version=7.4", body: `{"attributes":{"enabled":false},"tags":{"state":"off"}}`, advance: time.Minute},
			{method: "GET", path: "/secrets/db-password?api-version=7.4"},
			{method: "GET", path: "/secrets/db-password/{v2}?api-version=7.4"},
			{method: "GET", path: "/secrets?api-version=7.4"},
			{method: "DELETE", path: "/secrets/db-password?api-version=7.4"},
			{method: "GET", path: "/secrets/db-password?api-version=7.4"},
			{method: "DELETE", path: "/secrets/db-password?api-version=7.4"},
		}},
		{"paging", []step{
			{method: "PUT", path: "/secrets/a?api-version=7.4", body: `{"value":"1"}`},
			{method: "PUT", path: "/secrets/b?api-version=7.4", body: `{"value":"2"}`},
			{method: "PUT", path: "/secrets/c?api-version=7.4", body: `{"value":"3"}`},
			{method: "GET", path: "/secrets?api-version=7.4&maxresults=2"},
			{method: "NEXT"}, // follows the previous nextLink
			{method: "GET", path: "/secrets?api-version=7.4&maxresults=0"},
			{method: "GET", path: "/secrets?api-version=7.4&maxresults=26"},
			{method: "GET", path: "/secrets?api-version=7.4&$skiptoken=garbage"},
		}},
		{"validity", []step{
			{method: "PUT", path: "/secrets/later?api-version=7.4", body: `{"value":"x","attributes":{"nbf":1772370000}}`},
			{method: "GET", path: "/secrets/later?api-version=7.4"},
			{method: "PUT", path: "/secrets/gone?api-version=7.4", body: `{"value":"x","attributes":{"exp":1772366400}}`},
			{method: "GET", path: "/secrets/gone?api-version=7.4"},
			{method: "PUT", path: "/secrets/bad?api-version=7.4", body: `{"value":"x","attributes":{"nbf":1772370000,"exp":1772366400}}`},
		}},
		{"errors", []step{
			{method: "GET", path: "/secrets/x"},
			{method: "GET", path: "/secrets/x?api-version=1999-01-01"},
			{method: "GET", path: "/secrets/x?api-version=7.4", hdr: []string{"Authorization", ""}},
			{method: "GET", path: "/secrets/x?api-version=7.4", hdr: []string{"X-Test-Deny", "firewall"}},
			{method: "GET", path: "/secrets/x?api-version=7.4", hdr: []string{"X-Test-Deny", "policy"}},
			{method: "GET", path: "/secrets/x?api-version=7.4", hdr: []string{"X-Test-Deny", "plain"}},
			{method: "GET", path: "/secrets/x?api-version=7.4", hdr: []string{"Host", "other.vault.azure.net"}},
			{method: "GET", path: "/keys/x?api-version=7.4"},
			{method: "POST", path: "/secrets/x?api-version=7.4", body: `{}`},
			{method: "DELETE", path: "/secrets/x/0123456789abcdef0123456789abcdef?api-version=7.4"},
			{method: "PUT", path: "/secrets/bad_name?api-version=7.4", body: `{"value":"x"}`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"value":"x","colour":"red"}`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"value":"x","attributes":{"enabled":true,"hsm":1}}`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"value":"x","Value":"y"}`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"value":5}`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"contentType":"a"}`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `[1]`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"value":"x"} trailing`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"value":"x","attributes":{"exp":1.5}}`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"value":"x","tags":{"a":1}}`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"value":"` + strings.Repeat("v", MaxValueBytes+1) + `"}`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"value":"` + strings.Repeat("v", MaxBodyBytes) + `"}`},
			{method: "PUT", path: "/secrets/x?api-version=7.4", body: `{"value":"x","attributes":{"created":1,"updated":2,"recoveryLevel":"Purgeable"}}`},
			{method: "PATCH", path: "/secrets/x/{v2}?api-version=7.4", body: `{"value":"new"}`},
			{method: "PATCH", path: "/secrets/x/{v2}?api-version=7.4", body: `{"contentType":"application/json"}`},
			{method: "GET", path: "/secrets/x/nothex?api-version=7.4"},
			{method: "GET", path: "/secrets/x/versions/extra?api-version=7.4"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			h := newTestHandler(f)
			norm := normalizer{}
			var got []exchange
			next := ""
			for _, s := range tc.steps {
				f.clock.add(s.advance)
				path := regexp.MustCompile(`\{v\d+\}`).ReplaceAllStringFunc(s.path, norm.version)
				if s.method == "NEXT" {
					s.method, path = "GET", strings.TrimPrefix(next, "https://vault1.vault.azure.net:443")
				}
				var w *httptest.ResponseRecorder
				if len(s.hdr) == 2 && s.hdr[0] == "Host" {
					r := httptest.NewRequest(s.method, path, strings.NewReader(s.body))
					r.Host = s.hdr[1]
					w = httptest.NewRecorder()
					h.ServeHTTP(w, r)
				} else {
					w = do(t, h, s.method, path, s.body, s.hdr...)
				}
				if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("%s %s: Content-Type %q", s.method, path, ct)
				}
				var resp map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
					t.Fatalf("%s %s: response is not JSON: %q", s.method, path, w.Body.String())
				}
				if nl, ok := resp["nextLink"].(string); ok {
					next = nl
				}
				e := exchange{Request: s.method + " " + norm.apply(path), Status: w.Code, Response: sortedItems(norm.apply(w.Body.String()))}
				if s.body != "" && len(s.body) < 1000 {
					if json.Valid([]byte(s.body)) {
						e.Body = json.RawMessage(s.body)
					} else {
						b, _ := json.Marshal(s.body)
						e.Body = b
					}
				}
				got = append(got, e)
			}
			gotJSON, _ := json.MarshalIndent(got, "", "  ")
			file := filepath.Join("testdata", "http", tc.name+".json")
			if *update {
				os.MkdirAll(filepath.Dir(file), 0o755)
				if err := os.WriteFile(file, append(gotJSON, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantJSON, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			var want, have any
			json.Unmarshal(wantJSON, &want)
			json.Unmarshal(gotJSON, &have)
			if diff := cmp.Diff(want, have); diff != "" {
				t.Errorf("%s differs (-want +got; go test -update to accept):\n%s", file, diff)
			}
		})
	}
}

func TestHandlerOps(t *testing.T) {
	f := newFixture(t)
	a := &testAuth{}
	h := f.svc.Handler(func(*http.Request) (string, bool) { return testVault, true }, a.authorize)
	for _, s := range []struct{ method, path, body string }{
		{"PUT", "/secrets/s?api-version=7.4", `{"value":"v"}`},
		{"GET", "/secrets/s?api-version=7.4", ""},
		{"GET", "/secrets?api-version=7.4", ""},
		{"GET", "/secrets/s/versions?api-version=7.4", ""},
		{"PATCH", "/secrets/s?api-version=7.4", `{}`},
		{"DELETE", "/secrets/s?api-version=7.4", ""},
	} {
		if w := do(t, h, s.method, s.path, s.body); w.Code != 200 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, w.Code, w.Body)
		}
	}
	if diff := cmp.Diff([]Op{OpSet, OpGet, OpList, OpList, OpSet, OpDelete}, a.ops); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
}

func TestHandlerBodyNotEchoed(t *testing.T) {
	f := newFixture(t)
	h := newTestHandler(f)
	w := do(t, h, "PUT", "/secrets/x?api-version=7.4", `{"value":"`+strings.Repeat("Q", MaxValueBytes+1)+`"}`)
	if w.Code != 400 || bytes.Contains(w.Body.Bytes(), []byte("QQQQ")) {
		t.Errorf("%d %s", w.Code, w.Body.String()[:min(200, w.Body.Len())])
	}
}

// sortedItems sorts a list response's items by their normalized id: the
// order of versions follows their random hex, not their age.
func sortedItems(body string) json.RawMessage {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) != nil {
		return json.RawMessage(body)
	}
	items, ok := m["value"].([]any)
	if !ok {
		return json.RawMessage(body)
	}
	slices.SortFunc(items, func(a, b any) int {
		return strings.Compare(fmt.Sprint(a.(map[string]any)["id"]), fmt.Sprint(b.(map[string]any)["id"]))
	})
	out, _ := json.Marshal(m)
	return out
}
