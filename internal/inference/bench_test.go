package inference

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/bench/loadgen"
	"github.com/vnetml/vnetml/internal/api"
)

// BenchmarkRouter measures the front end against calling its replica
// directly, in the same run (issue 8): an open-loop, constant-rate load
// (bench/loadgen: each latency counts from the request's scheduled send
// time) sent to three targets one after the other —
//
//   - direct: the replica at its loopback port;
//   - proxy: a bare httputil.ReverseProxy on loopback in front of the same
//     replica, set up as the front end's (the reference: what one more
//     HTTP hop costs on this machine, with no fabric, key or routing);
//   - fe: the front end, as a caller at an address the NSG admits: a
//     connection to the front end's public address through the fabric
//     (engine decision and authenticated PROXY header per connection),
//     the key checked, the service found, then the reverse proxy to the
//     replica's pod address through the fabric and the pod's exposure,
//     which relays to the replica's port.
//
// Each rate=R sub-benchmark reports every target's p50, p99 and p99.9 in
// µs, what the front end adds to direct, and the CPU spent per request
// (this process — load generator, proxies, fabric, Go replica — plus the
// Python replica's process, from /proc; absent elsewhere). max searches
// each target's highest rate with p99 under -router.p99
// (loadgen.FindMax) and reports the ratios to direct.
//
// Backends: the Go echo handler (loadgen.Echo), and the real scoring
// server (runtime/python/vnetml_score.py, one worker, a trivial run()),
// skipped without python3.
//
//	go test ./internal/inference -run '^$' -bench Router
//
// Every measurement runs once, whatever -benchtime says (runOnce), so
// ns/op means nothing: the reported metrics are the figures. The
// -router.* flags set the rates and durations.
func BenchmarkRouter(b *testing.B) {
	b.Run("echo", func(b *testing.B) {
		benchRouter(b, goEcho, "", parseRates(b, *routerRates), 1000)
	})
	b.Run("python", func(b *testing.B) {
		if err := havePython(); err != nil {
			b.Skip(err)
		}
		benchRouter(b, pythonScore, benchEntry, parseRates(b, *routerPyRates), 200)
	})
}

var (
	routerRates    = flag.String("router.rates", "1000,2000", "BenchmarkRouter: constant rates (requests/s) against the Go echo backend")
	routerPyRates  = flag.String("router.pyrates", "200,500", "BenchmarkRouter: constant rates (requests/s) against the Python scoring server")
	routerDuration = flag.Duration("router.duration", 2*time.Second, "BenchmarkRouter: how long each constant-rate run lasts, per target")
	routerStep     = flag.Duration("router.step", time.Second, "BenchmarkRouter: how long each step of the throughput search lasts")
	routerP99      = flag.Duration("router.p99", 100*time.Millisecond, "BenchmarkRouter: the p99 bound of the throughput search")
)

// benchEntry is the entry script of the Python replicas: the sum of each
// row, as little work in run() as a model can do.
const benchEntry = `import json

def init():
    pass

def run(raw_data):
    return [sum(row) for row in json.loads(raw_data)["data"]]
`

const (
	benchKey  = "bench-primary-key-0123456789abcdef"
	benchBody = `{"data": [[1, 2], [3, 4]]}`
	benchPath = "/api/v1/service/bench/score"
	// benchConns is the load generator's pool (loadgen's default).
	benchConns = 64
)

// benchTarget is where a run sends its requests.
type benchTarget struct {
	name string
	url  string
	// pool is the target's pool of benchConns connections, kept for the
	// whole benchmark: callers keep their connections alive, and each
	// run measures the steady state, not connection setup.
	pool *http.Transport
}

func benchRouter(b *testing.B, be backend, entry string, rates []float64, startRate float64) {
	e := newEnv(b, be, entry)
	sp := spec("bench")
	sp.Keys = []string{benchKey}
	e.deploy(b, sp, api.ServiceHealthy)
	port, pid := e.nodes.replicaPort("bench-0")
	if port == 0 {
		b.Fatal("the replica has no port")
	}
	replicaAddr := "127.0.0.1:" + strconv.Itoa(port)
	proxyAddr := bareProxy(b, replicaAddr)
	feTransport := loadgen.NewTransport(benchConns, nil)
	feTransport.DialContext = e.dialer(admitted)
	targets := []benchTarget{
		{"direct", "http://" + replicaAddr + benchPath, loadgen.NewTransport(benchConns, nil)},
		{"proxy", "http://" + proxyAddr + benchPath, loadgen.NewTransport(benchConns, nil)},
		{"fe", scoreURL("bench"), feTransport},
	}
	header := http.Header{"Authorization": {"Bearer " + benchKey}, "Content-Type": {"application/json"}}
	cfg := func(t benchTarget, rate float64, d time.Duration) loadgen.Config {
		return loadgen.Config{URL: t.url, Body: []byte(benchBody), Header: header, Rate: rate, Duration: d,
			Connections: benchConns, Timeout: 10 * time.Second, Transport: t.pool}
	}
	ctx := context.Background()

	// Every target answers alike, and none is measured cold: the pools
	// of connections (the callers' and the proxies' to the replica), the
	// replica's threads and everyone's code are warm before the first
	// run.
	var want string
	for _, t := range targets {
		b.Cleanup(t.pool.CloseIdleConnections)
		req, _ := http.NewRequest(http.MethodPost, t.url, strings.NewReader(benchBody))
		req.Header = header.Clone()
		resp, err := t.pool.RoundTrip(req)
		if err != nil {
			b.Fatalf("%s: %v", t.name, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || want != "" && string(got) != want {
			b.Fatalf("%s answered %s %q (the first target %q)", t.name, resp.Status, got, want)
		}
		want = string(got)
		if _, err := loadgen.Run(ctx, cfg(t, slices.Max(rates), time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	us := func(x time.Duration) float64 { return float64(x) / 1e3 }

	for _, rate := range rates {
		runOnce(b, "rate="+strconv.FormatFloat(rate, 'f', -1, 64), func(b *testing.B, report func(float64, string)) {
			res := map[string]loadgen.Result{}
			failed := 0
			for _, t := range targets {
				cpu0, cpuOK := cpuTime(pid)
				r, err := loadgen.Run(ctx, cfg(t, rate, *routerDuration))
				cpu1, _ := cpuTime(pid)
				if err != nil {
					b.Fatal(err)
				}
				res[t.name] = r
				failed += r.Errored()
				report(us(r.Latency.P50), t.name+"-p50-us")
				report(us(r.Latency.P99), t.name+"-p99-us")
				report(us(r.Latency.P999), t.name+"-p99.9-us")
				cpu := ""
				if cpuOK && r.Sent > 0 {
					per := (cpu1 - cpu0) / time.Duration(r.Sent)
					report(us(per), t.name+"-cpu-us/req")
					cpu = fmt.Sprintf(", CPU %v per request", per.Round(time.Microsecond))
				}
				b.Logf("%-6s %5.0f/s: achieved %5.0f/s, p50 %v, p99 %v, p99.9 %v, max %v%s, %d of %d failed %v",
					t.name, rate, r.Achieved, r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Latency.Max, cpu, r.Errored(), r.Scheduled, r.Errors)
			}
			d, f := res["direct"], res["fe"]
			report(us(f.Latency.P50-d.Latency.P50), "added-p50-us")
			report(us(f.Latency.P99-d.Latency.P99), "added-p99-us")
			report(us(f.Latency.P999-d.Latency.P999), "added-p99.9-us")
			report(float64(failed), "failed")
		})
	}

	runOnce(b, "max", func(b *testing.B, report func(float64, string)) {
		found := map[string]float64{}
		for _, t := range targets {
			m, err := loadgen.FindMax(ctx, loadgen.MaxConfig{Config: cfg(t, 0, *routerStep), P99: *routerP99, StartRate: startRate})
			if err != nil {
				b.Fatal(err)
			}
			found[t.name] = m.Rate
			if testing.Verbose() {
				for _, s := range m.Steps {
					fmt.Fprintf(os.Stderr, "%s %-6s %6.0f/s: pass %-5v %s\n", b.Name(), t.name, s.Rate, s.Pass, s.Reason)
				}
			}
			b.Logf("%-6s highest rate with p99 ≤ %v: %.0f/s (there p50 %v, p99 %v, p99.9 %v), %d steps",
				t.name, *routerP99, m.Rate, m.Best.Latency.P50, m.Best.Latency.P99, m.Best.Latency.P999, len(m.Steps))
			report(m.Rate, t.name+"-max-rps")
		}
		if found["direct"] > 0 {
			report(found["proxy"]/found["direct"], "proxy/direct")
			report(found["fe"]/found["direct"], "fe/direct")
		}
	})
}

// runOnce runs measure as the sub-benchmark name, once. The framework
// calls a sub-benchmark again with a larger b.N when the first call took
// less than -benchtime, but a measurement here is a fixed schedule of
// load, not a loop to repeat: later calls report the first one's metrics.
func runOnce(b *testing.B, name string, measure func(b *testing.B, report func(v float64, unit string))) {
	type metric struct {
		v    float64
		unit string
	}
	var metrics []metric
	measured := false
	b.Run(name, func(b *testing.B) {
		if !measured {
			measured = true
			measure(b, func(v float64, unit string) { metrics = append(metrics, metric{v, unit}) })
		}
		for _, m := range metrics {
			b.ReportMetric(m.v, m.unit)
		}
	})
}

// bareProxy serves the reference target: httputil.ReverseProxy to the
// replica's loopback address, with the front end's transport settings,
// dropping the key as the front end does. It returns its address.
func bareProxy(b *testing.B, replicaAddr string) string {
	b.Helper()
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", replicaAddr
			r.Out.Header.Del("Authorization")
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// cpuTime is the CPU time, user and system, this process and the process
// pid (when not 0) have used, from Linux's /proc (false elsewhere).
func cpuTime(pid int) (time.Duration, bool) {
	total := time.Duration(0)
	for _, p := range []string{"self", strconv.Itoa(pid)} {
		if p == "0" {
			continue
		}
		raw, err := os.ReadFile("/proc/" + p + "/stat")
		if err != nil {
			return 0, false
		}
		// The fields after the command's closing parenthesis start with
		// the state (field 3); utime and stime are fields 14 and 15, in
		// clock ticks (USER_HZ, 100 a second on Linux).
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			return 0, false
		}
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total, true
}

func parseRates(tb testing.TB, s string) []float64 {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			tb.Fatalf("rate %q: want a positive number of requests per second", f)
		}
		out = append(out, r)
	}
	return out
}
