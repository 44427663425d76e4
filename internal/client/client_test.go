package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
)

// TestListFollowsNextLinkOnItsOwnServer: a nextLink naming another host
// (the server builds it from the Host header it was sent) is followed on
// the client's own endpoint, so the token never travels elsewhere.
func TestListFollowsNextLinkOnItsOwnServer(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the token went to another host: %s %s", r.Header.Get("Authorization"), r.URL)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Query().Get("api-version") == "" {
			t.Errorf("request without token or api-version: %v", r.URL)
		}
		page := map[string]any{"value": []any{map[string]any{"n": 1}}}
		if r.URL.Query().Get("$skipToken") == "" {
			page["nextLink"] = other.URL + r.URL.Path + "?$skipToken=2&api-version=x"
		} else {
			page["value"] = []any{map[string]any{"n": 2}}
		}
		json.NewEncoder(w).Encode(page)
	}))
	defer srv.Close()
	c, err := New(srv.URL, "tok", Options{})
	if err != nil {
		t.Fatal(err)
	}
	items, err := c.List(context.Background(), "/subscriptions")
	if err != nil || len(items) != 2 {
		t.Fatalf("List = %d items, %v", len(items), err)
	}
}

func TestErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
		w.Write(armerror.New("ScopeLocked", "x", "locked").MarshalEnvelope())
	}))
	defer srv.Close()
	c, _ := New(srv.URL, "tok", Options{})
	if _, err := c.Get(context.Background(), "/subscriptions/s"); armerror.Codes(err)[0] != "ScopeLocked" {
		t.Errorf("Get = %v, want the server's ScopeLocked", err)
	}
	srv.Close()
	if _, err := c.Get(context.Background(), "/subscriptions/s"); armerror.Codes(err)[0] != "ServerUnreachable" {
		t.Errorf("Get of a stopped server = %v", err)
	}
	if _, err := New("ftp://x", "", Options{}); armerror.Codes(err)[0] != "InvalidEndpoint" {
		t.Errorf("New(ftp) = %v", err)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "config.json")
	if c, err := LoadConfig(p); err != nil || c != (Config{}) {
		t.Fatalf("missing config: %v %v", c, err)
	}
	want := Config{Endpoint: "https://x:1", Token: "vnm_x", Subscription: "s"}
	if err := SaveConfig(p, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfig(p)
	if err != nil || got != want {
		t.Fatalf("LoadConfig = %v %v", got, err)
	}
}
