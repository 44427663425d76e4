// Command loadgen drives an HTTP endpoint at a constant rate, open-loop,
// and reports latencies measured from each request's scheduled send time
// (package loadgen); or searches for the highest rate whose p99 stays under
// a bound; or serves the echo backend to measure a baseline against.
//
//	loadgen -url http://10.0.0.4/api/v1/service/svc/score -body '{"data": [[1,2]]}' \
//	    -H 'Authorization: Bearer KEY' -rate 200 -duration 30s
//	loadgen -url ... -max -p99 100ms [-start-rate 10] [-max-rate 5000] [-duration 5s]
//	loadgen -echo 127.0.0.1:8080
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/vnetml/vnetml/bench/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// headers is a repeatable -H flag.
type headers http.Header

func (h headers) String() string { return "" }

func (h headers) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("header %q: want 'Name: value'", s)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

type flags struct {
	url, method, body, bodyFile string
	header                      headers
	rate                        float64
	duration, timeout           time.Duration
	conns                       int
	insecure, asJSON            bool

	max                bool
	p99                time.Duration
	startRate, maxRate float64
	maxErrors          float64
	growth, precision  float64

	echo string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f flags
	f.header = headers{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage:
  loadgen -url URL [-rate R] [-duration D] [request and pool flags]     constant rate, open loop
  loadgen -url URL -max -p99 BOUND [-start-rate R] [-max-rate R] ...  highest rate with p99 ≤ BOUND
  loadgen -echo ADDR                                                  serve the echo backend

Latency counts from each request's scheduled send time, so queueing in the
server or in the pool of connections is included. -max steps the rate up
(open loop, -duration per step) until p99 exceeds the bound, then bisects.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.url, "url", "", "the URL to request")
	fs.StringVar(&f.method, "method", "", "the method (default GET, or POST with a body)")
	fs.StringVar(&f.body, "body", "", "the request body")
	fs.StringVar(&f.bodyFile, "body-file", "", "read the request body from this file")
	fs.Var(f.header, "H", "a request header 'Name: value' (repeatable)")
	fs.Float64Var(&f.rate, "rate", 100, "requests per second")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "how long to send (with -max: each step)")
	fs.IntVar(&f.conns, "connections", 64, "the pool: requests in flight at most")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "per request")
	fs.BoolVar(&f.insecure, "insecure", false, "accept any TLS certificate")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fs.BoolVar(&f.max, "max", false, "search for the highest rate with p99 under -p99")
	fs.DurationVar(&f.p99, "p99", 100*time.Millisecond, "with -max: the bound on p99 latency")
	fs.Float64Var(&f.startRate, "start-rate", 10, "with -max: the first rate")
	fs.Float64Var(&f.maxRate, "max-rate", 100000, "with -max: the highest rate tried")
	fs.Float64Var(&f.maxErrors, "max-errors", 0, "with -max: the fraction of a step's requests that may fail")
	fs.Float64Var(&f.growth, "growth", 2, "with -max: the factor between rates until a step fails")
	fs.Float64Var(&f.precision, "precision", 0.05, "with -max: stop bisecting at this relative width")
	fs.StringVar(&f.echo, "echo", "", "serve the echo backend on this address instead")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if f.echo != "" {
		return serveEcho(ctx, f.echo, stdout, stderr)
	}
	cfg, err := f.config()
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	if f.max {
		res, err := loadgen.FindMax(ctx, loadgen.MaxConfig{
			Config: cfg, P99: f.p99, MaxErrorRate: f.maxErrors,
			StartRate: f.startRate, MaxRate: f.maxRate, Growth: f.growth, Precision: f.precision,
		})
		if err != nil && len(res.Steps) == 0 {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
		if f.asJSON {
			writeJSON(stdout, res)
		} else {
			printMax(stdout, res, f.p99)
		}
		if err != nil {
			fmt.Fprintln(stderr, "loadgen: stopped:", err)
			return 1
		}
		return 0
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil && res.Scheduled == 0 {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	if f.asJSON {
		writeJSON(stdout, res)
	} else {
		printResult(stdout, res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen: stopped:", err)
		return 1
	}
	return 0
}

func (f *flags) config() (loadgen.Config, error) {
	if f.url == "" {
		return loadgen.Config{}, errors.New("-url is required")
	}
	cfg := loadgen.Config{
		URL: f.url, Method: f.method, Header: http.Header(f.header),
		Rate: f.rate, Duration: f.duration, Connections: f.conns, Timeout: f.timeout,
	}
	switch {
	case f.body != "" && f.bodyFile != "":
		return cfg, errors.New("-body and -body-file are exclusive")
	case f.body != "":
		cfg.Body = []byte(f.body)
	case f.bodyFile != "":
		b, err := os.ReadFile(f.bodyFile)
		if err != nil {
			return cfg, err
		}
		cfg.Body = b
	}
	if f.insecure {
		cfg.Transport = loadgen.NewTransport(max(f.conns, 1), &tls.Config{InsecureSkipVerify: true})
	}
	return cfg, nil
}

func serveEcho(ctx context.Context, addr string, stdout, stderr io.Writer) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	srv := &http.Server{Handler: loadgen.Echo{}, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "echo backend on http://%s/\n", ln.Addr())
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	return 0
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0fµs", float64(d)/1e3)
}

func printResult(w io.Writer, r loadgen.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "rate %.1f/s scheduled %d sent %d answered %d ok %d failed %d; achieved %.1f/s over %v\n",
		r.Rate, r.Scheduled, r.Sent, r.Answered, r.OK, r.Errored(), r.Achieved, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintln(tw, "\tcount\tmean\tp50\tp90\tp99\tp99.9\tmax\t")
	for _, row := range []struct {
		name string
		l    loadgen.Latency
	}{{"latency (from schedule)", r.Latency}, {"service (from send)", r.Service}, {"send lag", r.Lag}} {
		l := row.l
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.name, l.Count, ms(l.Mean), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max))
	}
	tw.Flush()
	kinds := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "error %s: %d", k, r.Errors[k])
		if ex := r.ErrorExamples[k]; ex != "" {
			fmt.Fprintf(w, " (first: %s)", ex)
		}
		fmt.Fprintln(w)
	}
}

func printMax(w io.Writer, m loadgen.MaxResult, bound time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "rate/s\tachieved/s\tp50\tp99\tmax\tfailed\tverdict")
	for _, s := range m.Steps {
		verdict := "pass"
		if !s.Pass {
			verdict = "FAIL: " + s.Reason
		}
		r := s.Result
		fmt.Fprintf(tw, "%.1f\t%.1f\t%s\t%s\t%s\t%d\t%s\n", s.Rate, r.Achieved, ms(r.Latency.P50), ms(r.Latency.P99), ms(r.Latency.Max), r.Errored(), verdict)
	}
	tw.Flush()
	if m.Rate == 0 {
		fmt.Fprintf(w, "no rate kept p99 under %v\n", bound)
		return
	}
	fmt.Fprintf(w, "max rate %.1f/s with p99 %s ≤ %v\n", m.Rate, ms(m.Best.Latency.P99), bound)
}
