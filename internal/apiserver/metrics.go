package apiserver

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors.
type metrics struct {
	handler        http.Handler
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	compileSeconds prometheus.Histogram
	writes         prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vnetml_api_requests_total", Help: "API requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vnetml_api_request_duration_seconds", Help: "API request latency by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		compileSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vnetml_engine_compile_seconds", Help: "Time to compile the flow engine after a change.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		writes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vnetml_store_writes_total", Help: "Resources written or deleted through the API.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.compileSeconds, m.writes,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vnetml_store_revision", Help: "The store revision of the newest committed write.",
		}, func() float64 { return float64(s.view.Load().rev) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vnetml_engine_revision", Help: "The store revision the flow engine reflects.",
		}, func() float64 {
			if c := s.eng.Load(); c != nil {
				return float64(c.rev)
			}
			return 0
		}),
	)
	// A private registry gets the process and Go collectors the default
	// one would have had.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

func (m *metrics) observeRequest(method, route string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(elapsed.Seconds())
}
