package userspace_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

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
		fabrictest.MeasureConnect(b, ln, func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) })
	})
	b.Run("fabric", func(b *testing.B) {
		ln, err := f.Listen(ctx, node0, 29876)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		dst := netip.AddrPortFrom(node0.Addr, 29876)
		fabrictest.MeasureConnect(b, ln, func() (net.Conn, error) { return f.Dial(ctx, batch, dst) })
	})
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
	b.Run("direct", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		fabrictest.MeasureThroughput(b, ln, func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) })
	})
	b.Run("fabric", func(b *testing.B) {
		ln, err := f.Listen(ctx, node0, 29877)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		fabrictest.MeasureThroughput(b, ln, func() (net.Conn, error) { return f.Dial(ctx, batch, netip.AddrPortFrom(node0.Addr, 29877)) })
	})
}
