package fabrictest

import (
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// MeasureConnect times connections from dial until ln's side holds them,
// b.N of them, and reports their p50 and p99 (p50-ns, p99-ns): the
// benchmark of connection setup every fabric runs against plain loopback
// in the same run. The accepting side closes first, so that TIME_WAIT is
// kept there, not on the dialer's ephemeral ports (which a long run
// would exhaust).
func MeasureConnect(b *testing.B, ln net.Listener, dial func() (net.Conn, error)) {
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		c, err := dial()
		if err != nil {
			b.Fatal(err)
		}
		s := <-accepted
		lat = append(lat, time.Since(start))
		s.Close()
		c.Close()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// MeasureThroughput writes 256 KiB chunks one way over one connection
// from dial to ln, b.N of them, and reports the bytes per second.
func MeasureThroughput(b *testing.B, ln net.Listener, dial func() (net.Conn, error)) {
	const chunk = 256 << 10
	buf := make([]byte, chunk)
	done := make(chan int64)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(done)
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	c, err := dial()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(chunk)
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	<-done
}
