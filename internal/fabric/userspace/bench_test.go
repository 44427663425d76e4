package userspace_test

import (
	"context"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/fabrictest"
	"github.com/vnetml/vnetml/internal/fabric/userspace"
)

// BenchmarkConnect: the time from dialing to the accepting side holding
// the connection with its virtual source — through the fabric (the path
// verdict, the flow log, the loopback connection, the authenticated header
// written and checked) and, as the baseline in the same run, a plain
// loopback dial and accept.
func BenchmarkConnect(b *testing.B) {
	f := userspace.New(userspace.Options{})
	defer f.Close()
	f.Apply(fabrictest.Engine(b))
	node0 := fabric.Endpoint{NIC: fabrictest.Node0, Addr: netip.MustParseAddr("10.0.0.4")}
	batch := fabric.Endpoint{Addr: netip.MustParseAddr("198.18.3.9")}
	ctx := context.Background()

	b.Run("direct", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		measureConnect(b, ln, func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) })
	})
	b.Run("fabric", func(b *testing.B) {
		ln, err := f.Listen(ctx, node0, 29876)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		dst := netip.AddrPortFrom(node0.Addr, 29876)
		measureConnect(b, ln, func() (net.Conn, error) { return f.Dial(ctx, batch, dst) })
	})
}

func measureConnect(b *testing.B, ln net.Listener, dial func() (net.Conn, error)) {
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
		c.Close()
		s.Close()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkThroughput: bulk bytes one way over one connection through the
// fabric, against a plain loopback connection in the same run.
func BenchmarkThroughput(b *testing.B) {
	f := userspace.New(userspace.Options{})
	defer f.Close()
	f.Apply(fabrictest.Engine(b))
	node0 := fabric.Endpoint{NIC: fabrictest.Node0, Addr: netip.MustParseAddr("10.0.0.4")}
	batch := fabric.Endpoint{Addr: netip.MustParseAddr("198.18.3.9")}
	ctx := context.Background()
	const chunk = 256 << 10
	buf := make([]byte, chunk)

	run := func(b *testing.B, ln net.Listener, dial func() (net.Conn, error)) {
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
	b.Run("direct", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		run(b, ln, func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) })
	})
	b.Run("fabric", func(b *testing.B) {
		ln, err := f.Listen(ctx, node0, 29877)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		run(b, ln, func() (net.Conn, error) { return f.Dial(ctx, batch, netip.AddrPortFrom(node0.Addr, 29877)) })
	})
}
