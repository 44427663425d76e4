// Package loadgen owns vnetml's HTTP load generation for benchmarks: an
// open-loop generator that sends requests on a fixed schedule (a constant
// rate) whatever the responses do, and measures each latency from the
// request's scheduled send time, so that queueing anywhere (in the server,
// the network or the generator's own connection pool) is counted rather than
// hidden (no coordinated omission); a search for the highest rate whose p99
// stays under a bound ([FindMax]); and an echo backend ([Echo]) for
// baselines.
//
// [Run] is safe to call from several goroutines; a [Config] is read, never
// written.
package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config is one constant-rate run. The zero values of the optional fields
// are documented defaults.
type Config struct {
	URL    string      // http or https
	Method string      // "" is GET, or POST when Body is set
	Body   []byte      // sent with every request
	Header http.Header // added to every request (Host too)

	Rate     float64       // requests per second; > 0
	Duration time.Duration // how long requests are scheduled; > 0

	// Connections is the pool: at most this many requests are in flight
	// at once, each on its own connection (HTTP/1.1, kept alive). A request
	// whose turn comes while all are busy is sent when one frees, and its
	// latency still counts from its turn. 0 is 64.
	Connections int
	// Timeout bounds one request from its actual send to the end of its
	// response body. 0 is 30s.
	Timeout time.Duration
	// Transport replaces the pool's own transport (an http.Transport
	// with Connections idle connections and no proxy; see NewTransport).
	Transport http.RoundTripper
}

const (
	defaultConnections = 64
	defaultTimeout     = 30 * time.Second
)

// NewTransport is the transport Run uses: conns connections to a host at
// most, all kept idle between requests, no proxy (a benchmark goes where
// it is pointed), no compression. tlsConfig may be nil.
func NewTransport(conns int, tlsConfig *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// Result is what a run measured.
type Result struct {
	Rate      float64 `json:"rate"`      // the scheduled rate, requests per second
	Scheduled int     `json:"scheduled"` // requests in the schedule: Rate × Duration
	Sent      int     `json:"sent"`      // requests sent; fewer than Scheduled when the run was cancelled
	Answered  int     `json:"answered"`  // requests that got a response, whatever its status
	OK        int     `json:"ok"`        // responses with a status below 400

	// Errors counts the failed requests by kind: "http 503" for a response
	// with status 503 (any status from 400), else a transport failure:
	// "connection refused", "connect", "timeout", "reset", "eof",
	// "canceled" or "other". ErrorExamples holds the first error of each
	// transport kind.
	Errors        map[string]int    `json:"errors,omitempty"`
	ErrorExamples map[string]string `json:"error_examples,omitempty"`

	// Elapsed runs from the first scheduled send to the last response.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Achieved is the rate at which requests completed, answered or
	// failed: below Rate when the server (or the pool) fell behind.
	Achieved float64 `json:"achieved"`

	// Latency runs from each answered request's scheduled send time to
	// the end of its response body: what a client on that schedule saw.
	Latency Latency `json:"latency"`
	// Service runs from the actual send instead: what a closed-loop tool
	// would report. Far below Latency means requests queued before they
	// could be sent (for a free connection, or for the generator itself).
	Service Latency `json:"service"`
	// Lag is how late requests were sent after their scheduled time.
	Lag Latency `json:"lag"`
}

// Errored is the number of failed requests of every kind.
func (r Result) Errored() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// Run sends cfg's requests on its schedule and measures them. It returns
// when every scheduled request has completed or failed, or when ctx ends:
// then with what was measured so far and ctx's error.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	conns := cfg.Connections
	if conns == 0 {
		conns = defaultConnections
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	rt := cfg.Transport
	if rt == nil {
		tr := NewTransport(conns, nil)
		defer tr.CloseIdleConnections()
		rt = tr
	}
	method := cfg.Method
	if method == "" {
		method = http.MethodGet
		if cfg.Body != nil {
			method = http.MethodPost
		}
	}
	n := int(math.Round(cfg.Rate * cfg.Duration.Seconds()))
	g := &generator{
		cfg:     cfg,
		method:  method,
		client:  &http.Client{Transport: rt, CheckRedirect: noRedirect},
		timeout: timeout,
		n:       n,
		perNS:   float64(time.Second) / cfg.Rate,
	}
	tallies := make([]*tally, min(conns, n))
	var wg sync.WaitGroup
	g.start = time.Now()
	for i := range tallies {
		t := &tally{}
		tallies[i] = t
		wg.Go(func() { g.sender(ctx, t) })
	}
	wg.Wait()
	end := time.Now()

	res := Result{Rate: cfg.Rate, Scheduled: n}
	var lat, svc, lag []time.Duration
	for _, t := range tallies {
		res.Sent += t.sent
		res.Answered += len(t.latency)
		res.OK += t.ok
		lat = append(lat, t.latency...)
		svc = append(svc, t.service...)
		lag = append(lag, t.lag...)
		for k, c := range t.errors {
			if res.Errors == nil {
				res.Errors = map[string]int{}
			}
			res.Errors[k] += c
		}
		for k, e := range t.examples {
			if res.ErrorExamples == nil {
				res.ErrorExamples = map[string]string{}
			}
			if _, ok := res.ErrorExamples[k]; !ok {
				res.ErrorExamples[k] = e
			}
		}
	}
	if last := g.last.Load(); last > 0 {
		res.Elapsed = time.Duration(last)
	} else {
		res.Elapsed = end.Sub(g.start)
	}
	if res.Elapsed > 0 {
		res.Achieved = float64(res.Answered+res.Errored()-res.Errors[kindCanceled]) / res.Elapsed.Seconds()
	}
	res.Latency = Summarize(lat)
	res.Service = Summarize(svc)
	res.Lag = Summarize(lag)
	return res, ctx.Err()
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (cfg Config) check() error {
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil:
		return fmt.Errorf("loadgen: URL %q: %w", cfg.URL, err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("loadgen: URL %q: want http://host/... or https://host/...", cfg.URL)
	case !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0):
		return fmt.Errorf("loadgen: rate %v: want a positive number of requests per second", cfg.Rate)
	case cfg.Duration <= 0:
		return fmt.Errorf("loadgen: duration %v: want a positive duration", cfg.Duration)
	case cfg.Connections < 0:
		return fmt.Errorf("loadgen: %d connections: want 0 (the default, %d) or more", cfg.Connections, defaultConnections)
	case cfg.Timeout < 0:
		return fmt.Errorf("loadgen: timeout %v: want 0 (the default, %v) or more", cfg.Timeout, defaultTimeout)
	case math.Round(cfg.Rate*cfg.Duration.Seconds()) < 1:
		return fmt.Errorf("loadgen: %v/s for %v schedules no request", cfg.Rate, cfg.Duration)
	}
	return nil
}

// generator is one run's schedule, shared by its senders.
type generator struct {
	cfg     Config
	method  string
	client  *http.Client
	timeout time.Duration
	n       int
	perNS   float64 // nanoseconds between scheduled sends
	start   time.Time
	next    atomic.Int64 // the next request to claim
	last    atomic.Int64 // the latest completion, as an offset from start
}

// tally is what one sender measured; senders share nothing while running.
type tally struct {
	sent, ok              int
	latency, service, lag []time.Duration
	errors                map[string]int
	examples              map[string]string
}

func (t *tally) fail(kind string, err error) {
	if t.errors == nil {
		t.errors, t.examples = map[string]int{}, map[string]string{}
	}
	t.errors[kind]++
	if _, ok := t.examples[kind]; !ok && err != nil {
		t.examples[kind] = err.Error()
	}
}

// sender is one connection's loop: it claims the next request of the
// schedule, waits for its time (not at all when it is late already), sends
// it and reads the whole response. Requests are claimed in schedule order,
// so none waits while a later one is sent.
func (g *generator) sender(ctx context.Context, t *tally) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		i := g.next.Add(1) - 1
		if i >= int64(g.n) {
			return
		}
		at := g.start.Add(time.Duration(float64(i) * g.perNS))
		if wait := time.Until(at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		sent := time.Now()
		status, err := g.send(ctx)
		done := time.Now()
		t.sent++
		g.noteDone(done.Sub(g.start))
		t.lag = append(t.lag, sent.Sub(at))
		if err != nil {
			t.fail(kindOf(ctx, err), err)
			continue
		}
		t.latency = append(t.latency, done.Sub(at))
		t.service = append(t.service, done.Sub(sent))
		if status >= 400 {
			t.fail(fmt.Sprintf("http %d", status), nil)
		} else {
			t.ok++
		}
	}
}

func (g *generator) noteDone(off time.Duration) {
	for {
		cur := g.last.Load()
		if int64(off) <= cur || g.last.CompareAndSwap(cur, int64(off)) {
			return
		}
	}
}

func (g *generator) send(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	var body io.Reader
	if g.cfg.Body != nil {
		body = bytes.NewReader(g.cfg.Body)
	}
	req, err := http.NewRequestWithContext(ctx, g.method, g.cfg.URL, body)
	if err != nil {
		return 0, err
	}
	for k, vs := range g.cfg.Header {
		if http.CanonicalHeaderKey(k) == "Host" && len(vs) > 0 {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// The kinds of transport failure in Result.Errors.
const (
	kindRefused  = "connection refused"
	kindConnect  = "connect"
	kindTimeout  = "timeout"
	kindReset    = "reset"
	kindEOF      = "eof"
	kindCanceled = "canceled"
	kindOther    = "other"
)

// kindOf classifies a failed request by the error's type, never its text.
func kindOf(ctx context.Context, err error) string {
	var op *net.OpError
	var ne net.Error
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return kindCanceled // the run ended, not the request
	case errors.Is(err, syscall.ECONNREFUSED):
		return kindRefused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return kindTimeout
	case errors.As(err, &op) && op.Op == "dial":
		return kindConnect
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return kindReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return kindEOF
	}
	return kindOther
}

// Latency summarises a set of durations. Percentiles are exact, by
// nearest rank: P99 is the smallest sample that at least 99% of the
// samples do not exceed. The zero value is an empty set.
type Latency struct {
	Count                    int
	Mean                     time.Duration
	P50, P90, P99, P999, Max time.Duration
}

// Summarize returns the summary of samples, which it sorts in place.
func Summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	var sum float64
	for _, s := range samples {
		sum += float64(s)
	}
	return Latency{
		Count: len(samples),
		Mean:  time.Duration(sum / float64(len(samples))),
		P50:   rank(samples, 50_000),
		P90:   rank(samples, 90_000),
		P99:   rank(samples, 99_000),
		P999:  rank(samples, 99_900),
		Max:   samples[len(samples)-1],
	}
}

// rank is the nearest-rank percentile of sorted samples, q in thousandths
// of a percent: integer arithmetic, since 99.9/100*1000 is not 999 in
// floating point.
func rank(sorted []time.Duration, q int) time.Duration {
	n := len(sorted)
	r := (n*q + 99_999) / 100_000 // ceil(n × q / 100000)
	return sorted[max(r, 1)-1]
}

// MarshalJSON writes durations as milliseconds.
func (l Latency) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return fmt.Appendf(nil, `{"count":%d,"mean_ms":%v,"p50_ms":%v,"p90_ms":%v,"p99_ms":%v,"p99.9_ms":%v,"max_ms":%v}`,
		l.Count, ms(l.Mean), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max)), nil
}
