package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/bench/loadgen"
)

func TestRunPrintsTheResult(t *testing.T) {
	srv := httptest.NewServer(loadgen.Echo{})
	defer srv.Close()
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"-url", srv.URL, "-body", `{"x":1}`, "-H", "Authorization: Bearer k", "-rate", "100", "-duration", "200ms", "-json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res struct {
		Scheduled, OK int
		Latency       struct {
			Count int
			P99   float64 `json:"p99_ms"`
		}
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if res.Scheduled != 20 || res.OK != 20 || res.Latency.Count != 20 || res.Latency.P99 <= 0 {
		t.Errorf("%+v", res)
	}

	out.Reset()
	if code := run(t.Context(), []string{"-url", srv.URL, "-rate", "100", "-duration", "100ms"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, s := range []string{"scheduled 10", "latency (from schedule)", "p99.9"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
}

func TestRunMax(t *testing.T) {
	srv := httptest.NewServer(loadgen.Echo{})
	defer srv.Close()
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"-url", srv.URL, "-max", "-p99", "1s", "-start-rate", "50", "-max-rate", "100", "-duration", "100ms"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "max rate 100.0/s") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestRunUsage(t *testing.T) {
	for name, args := range map[string][]string{
		"no url":     {"-rate", "10"},
		"bad header": {"-url", "http://x/", "-H", "nocolon"},
		"two bodies": {"-url", "http://x/", "-body", "a", "-body-file", "b"},
		"extra args": {"-url", "http://x/", "more"},
		"bad flag":   {"-nope"},
	} {
		var out, errb bytes.Buffer
		if code := run(t.Context(), args, &out, &errb); code != 2 {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "open loop") {
		t.Errorf("-h: exit %d:\n%s", code, errb.String())
	}
}

func TestRunEchoStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"-echo", "127.0.0.1:0"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "echo backend on http://127.0.0.1:") {
		t.Errorf("exit %d: %s %s", code, out.String(), errb.String())
	}
}
