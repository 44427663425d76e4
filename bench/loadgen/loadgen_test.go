package loadgen

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestOpenLoopCountsTheStall: the backend stalls for 300 ms on one request
// while holding a lock every request needs (a GC pause, a global lock).
// Requests scheduled during the stall are sent anyway (the schedule does
// not wait for responses), and their latency, measured from their
// scheduled time, includes the rest of the stall. With one connection they
// cannot even be sent until it ends, so their service time (from the
// actual send, what a closed-loop tool reports) hides the stall.
func TestOpenLoopCountsTheStall(t *testing.T) {
	const (
		rate    = 200 // a request every 5 ms
		stallAt = 20  // the request scheduled at 100 ms
		stall   = 300 * time.Millisecond
	)
	for _, conns := range []int{1, 8} {
		t.Run(strings.Repeat("c", conns), func(t *testing.T) {
			var mu sync.Mutex
			var seen atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if seen.Add(1) == stallAt+1 {
					select { // the stall is what is measured, not a synchronisation
					case <-time.After(stall):
					case <-r.Context().Done():
					}
				}
			}))
			defer srv.Close()
			res, err := Run(t.Context(), Config{URL: srv.URL, Rate: rate, Duration: time.Second, Connections: conns})
			if err != nil {
				t.Fatal(err)
			}
			if res.Scheduled != rate || res.Sent != rate || res.Answered != rate || res.OK != rate || res.Errored() != 0 {
				t.Fatalf("scheduled %d sent %d answered %d ok %d errors %v, want %d of each and no error",
					res.Scheduled, res.Sent, res.Answered, res.OK, res.Errors, rate)
			}
			// About 60 requests are scheduled during the stall, each waiting
			// out what is left of it: the top 15% wait more than 150 ms.
			if res.Latency.P90 < 100*time.Millisecond || res.Latency.Max < stall {
				t.Errorf("latency p90 %v max %v: the stall is not counted for the requests scheduled during it", res.Latency.P90, res.Latency.Max)
			}
			if conns == 1 {
				if res.Service.P90 >= 100*time.Millisecond {
					t.Errorf("service p90 %v: with one connection only the stalled request itself is slow once sent", res.Service.P90)
				}
				if res.Lag.P90 < 100*time.Millisecond {
					t.Errorf("lag p90 %v: requests scheduled during the stall were sent late", res.Lag.P90)
				}
			}
		})
	}
}

// TestScheduleIsOpenLoop: every request of the schedule is sent before the
// first one is answered, when the backend answers none until all arrived.
func TestScheduleIsOpenLoop(t *testing.T) {
	const n = 20
	var arrived atomic.Int64
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	res, err := Run(t.Context(), Config{URL: srv.URL, Rate: 100, Duration: 200 * time.Millisecond, Connections: n, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != n {
		t.Fatalf("ok %d of %d: %v %v", res.OK, n, res.Errors, res.ErrorExamples)
	}
	// The first request waited for the last to be scheduled (190 ms later).
	if res.Latency.Max < 190*time.Millisecond {
		t.Errorf("max latency %v, want at least the 190 ms the schedule spans", res.Latency.Max)
	}
}

func TestErrorsCounted(t *testing.T) {
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/"
	}
	serve := func(t *testing.T, h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		timeout time.Duration
		ok      int
		errors  map[string]int
	}{
		{
			name: "every fourth is a 503",
			url: func(t *testing.T) string {
				var n atomic.Int64
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					if n.Add(1)%4 == 0 {
						w.WriteHeader(http.StatusServiceUnavailable)
					}
				})
			},
			ok:     15,
			errors: map[string]int{"http 503": 5},
		},
		{
			name:   "nothing listens",
			url:    refused,
			errors: map[string]int{"connection refused": 20},
		},
		{
			name: "no answer within the timeout",
			url: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			},
			timeout: 50 * time.Millisecond,
			errors:  map[string]int{"timeout": 20},
		},
		{
			name: "connection closed without an answer",
			url: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					c, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						c.Close()
					}
				})
			},
			errors: map[string]int{"eof": 20},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(t.Context(), Config{URL: tt.url(t), Rate: 100, Duration: 200 * time.Millisecond, Timeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != 20 || res.OK != tt.ok {
				t.Errorf("sent %d ok %d, want 20 and %d", res.Sent, res.OK, tt.ok)
			}
			if d := cmp.Diff(tt.errors, res.Errors); d != "" {
				t.Errorf("errors (-want +got):\n%s\nexamples: %v", d, res.ErrorExamples)
			}
			if res.Errored() != 20-tt.ok {
				t.Errorf("Errored() %d", res.Errored())
			}
		})
	}
}

func TestRunStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 5 {
			cancel()
		}
	}))
	defer srv.Close()
	res, err := Run(ctx, Config{URL: srv.URL, Rate: 100, Duration: time.Hour})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if res.Sent < 5 || res.Sent >= res.Scheduled {
		t.Errorf("sent %d of %d", res.Sent, res.Scheduled)
	}
}

func TestRunRejectsConfig(t *testing.T) {
	ok := Config{URL: "http://127.0.0.1:1/", Rate: 10, Duration: time.Second}
	for name, mut := range map[string]func(*Config){
		"no URL":        func(c *Config) { c.URL = "" },
		"not http":      func(c *Config) { c.URL = "ftp://x/" },
		"no rate":       func(c *Config) { c.Rate = 0 },
		"negative rate": func(c *Config) { c.Rate = -1 },
		"no duration":   func(c *Config) { c.Duration = 0 },
		"no request":    func(c *Config) { c.Rate, c.Duration = 1, time.Millisecond },
		"conns":         func(c *Config) { c.Connections = -1 },
	} {
		c := ok
		mut(&c)
		if _, err := Run(t.Context(), c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRequestCarriesMethodBodyHeaders(t *testing.T) {
	type seen struct{ method, body, header, host string }
	got := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, string(b), r.Header.Get("Authorization"), r.Host}
	}))
	defer srv.Close()
	_, err := Run(t.Context(), Config{
		URL: srv.URL, Body: []byte(`{"data": [1]}`), Rate: 10, Duration: 100 * time.Millisecond,
		Header: http.Header{"Authorization": {"Bearer k"}, "Host": {"svc.example"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := seen{"POST", `{"data": [1]}`, "Bearer k", "svc.example"}
	if s := <-got; s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
}

// percentileRef is the definition, computed the slow way: the smallest
// sample v such that at least p% of the samples are ≤ v.
func percentileRef(samples []time.Duration, p float64) time.Duration {
	s := slices.Clone(samples)
	slices.Sort(s)
	for i, v := range s {
		if i+1 < len(s) && s[i+1] == v {
			continue // the last of its ties: i+1 samples are ≤ v
		}
		if float64(i+1)*100 >= p*float64(len(s))*(1-1e-12) {
			return v
		}
	}
	return 0
}

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	uniform := make([]time.Duration, 1000)
	for i := range uniform {
		uniform[i] = time.Duration(i+1) * ms
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(uniform), func(i, j int) { uniform[i], uniform[j] = uniform[j], uniform[i] })
	// 9,000 fast requests and 1,000 slow ones: p90 is fast, p99 slow.
	bimodal := make([]time.Duration, 0, 10_000)
	for range 9000 {
		bimodal = append(bimodal, ms)
	}
	for range 1000 {
		bimodal = append(bimodal, 100*ms)
	}
	tests := []struct {
		name    string
		samples []time.Duration
		want    Latency
	}{
		{"empty", nil, Latency{}},
		{"one", []time.Duration{7 * ms}, Latency{1, 7 * ms, 7 * ms, 7 * ms, 7 * ms, 7 * ms, 7 * ms}},
		{"uniform 1..1000 ms", uniform, Latency{1000, 500500 * time.Microsecond, 500 * ms, 900 * ms, 990 * ms, 999 * ms, 1000 * ms}},
		{"bimodal", bimodal, Latency{10_000, 10_900 * time.Microsecond, ms, ms, 100 * ms, 100 * ms, 100 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, Summarize(tt.samples)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestSummarizeAgainstReference: random sets, including sizes where
// p × n is an exact integer (where floating point rounds wrong).
func TestSummarizeAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 300 {
		n := 1 + r.IntN(2000)
		if i%3 == 0 {
			n = 1000 * (1 + r.IntN(3))
		}
		s := make([]time.Duration, n)
		for j := range s {
			s[j] = time.Duration(r.ExpFloat64() * float64(time.Millisecond))
			if r.IntN(10) == 0 {
				s[j] = s[r.IntN(j+1)] // ties
			}
		}
		want := Latency{
			P50: percentileRef(s, 50), P90: percentileRef(s, 90), P99: percentileRef(s, 99), P999: percentileRef(s, 99.9),
			Max: slices.Max(s), Count: n,
		}
		got := Summarize(slices.Clone(s))
		got.Mean = 0
		if got != want {
			t.Fatalf("n=%d: got %+v, want %+v", n, got, want)
		}
	}
}

// TestFindMaxSearch drives the search with a fake server whose p99 stays
// under the bound up to 437 requests per second.
func TestFindMaxSearch(t *testing.T) {
	const capacity = 437.0
	fake := func(fail func(rate float64) bool) func(context.Context, Config) (Result, error) {
		return func(_ context.Context, c Config) (Result, error) {
			r := Result{Rate: c.Rate, Scheduled: 100, Sent: 100, Answered: 100, OK: 100, Latency: Latency{P99: time.Millisecond}}
			if fail(c.Rate) {
				r.Latency.P99 = time.Second
			}
			return r, nil
		}
	}
	overCapacity := func(rate float64) bool { return rate > capacity }
	tests := []struct {
		name     string
		mc       MaxConfig
		fail     func(float64) bool
		lo, hi   float64
		maxSteps int
	}{
		{"found within 5%", MaxConfig{P99: 50 * time.Millisecond}, overCapacity, capacity * 0.95, capacity, 30},
		{"growth 1.5, 1%", MaxConfig{P99: 50 * time.Millisecond, Growth: 1.5, Precision: 0.01}, overCapacity, capacity * 0.99, capacity, 30},
		{"start over capacity", MaxConfig{P99: 50 * time.Millisecond, StartRate: 1000}, overCapacity, capacity * 0.95, capacity, 30},
		{"ceiling", MaxConfig{P99: 50 * time.Millisecond, MaxRate: 300}, overCapacity, 300, 300, 30},
		{"never passes", MaxConfig{P99: 50 * time.Millisecond, MaxSteps: 8}, func(float64) bool { return true }, 0, 0, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := findMax(t.Context(), tt.mc, fake(tt.fail))
			if err != nil {
				t.Fatal(err)
			}
			if res.Rate < tt.lo || res.Rate > tt.hi {
				t.Errorf("max %v, want in [%v, %v]; steps %v", res.Rate, tt.lo, tt.hi, rates(res.Steps))
			}
			if len(res.Steps) > tt.maxSteps {
				t.Errorf("%d steps", len(res.Steps))
			}
			for _, s := range res.Steps {
				if s.Pass != !tt.fail(s.Rate) {
					t.Errorf("step %v judged %v: %s", s.Rate, s.Pass, s.Reason)
				}
				if s.Rate > res.Rate && s.Pass {
					t.Errorf("step %v passed, above the result %v", s.Rate, res.Rate)
				}
			}
			if res.Rate > 0 && res.Best.Rate != res.Rate {
				t.Errorf("best step at %v, result %v", res.Best.Rate, res.Rate)
			}
		})
	}
}

func rates(steps []Step) []float64 {
	var r []float64
	for _, s := range steps {
		r = append(r, s.Rate)
	}
	return r
}

func TestFindMaxJudgesErrors(t *testing.T) {
	mc := MaxConfig{P99: time.Second, MaxErrorRate: 0.01}
	mc.fill()
	for _, c := range []struct {
		errs int
		pass bool
	}{{0, true}, {1, true}, {2, false}} {
		r := Result{Scheduled: 100, Errors: map[string]int{"http 503": c.errs}}
		if pass, why := mc.judge(r); pass != c.pass {
			t.Errorf("%d errors of 100: pass %v (%s)", c.errs, pass, why)
		}
	}
}

// TestFindMaxAgainstEcho runs a short real search, as a smoke test.
func TestFindMaxAgainstEcho(t *testing.T) {
	srv := httptest.NewServer(Echo{})
	defer srv.Close()
	res, err := FindMax(t.Context(), MaxConfig{
		Config:    Config{URL: srv.URL, Body: []byte("x"), Duration: 100 * time.Millisecond},
		P99:       time.Second,
		StartRate: 50,
		MaxRate:   200,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rate != 200 || len(res.Steps) != 3 {
		t.Errorf("max %v after steps %v, want 200 after 50, 100, 200", res.Rate, rates(res.Steps))
	}
}

func TestEcho(t *testing.T) {
	srv := httptest.NewServer(Echo{MaxBody: 8})
	defer srv.Close()
	for _, c := range []struct {
		body   io.Reader
		status int
		want   string
	}{
		{strings.NewReader(`{"a":1}`), 200, `{"a":1}`},
		{strings.NewReader(``), 200, ``},
		{io.MultiReader(strings.NewReader(`chunk`)), 200, `chunk`}, // length unknown: sent chunked
		{strings.NewReader(`123456789`), 413, ""},
		{io.MultiReader(strings.NewReader(`123456789`)), 413, ""},
	} {
		resp, err := http.Post(srv.URL, "application/json", c.body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || (c.status == 200 && (string(b) != c.want || resp.Header.Get("Content-Type") != "application/json")) {
			t.Errorf("%d %q %q, want %d %q", resp.StatusCode, b, resp.Header.Get("Content-Type"), c.status, c.want)
		}
	}
}

// TestEchoLargeBody: a body past the server's read-ahead comes back whole.
func TestEchoLargeBody(t *testing.T) {
	srv := httptest.NewServer(Echo{})
	defer srv.Close()
	body := strings.Repeat("x", 1<<20)
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || string(got) != body {
		t.Fatalf("echoed %d bytes (%v), want %d", len(got), err, len(body))
	}
}
