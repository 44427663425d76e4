package userspace_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/fabrictest"
	"github.com/vnetml/vnetml/internal/fabric/proxyproto"
	"github.com/vnetml/vnetml/internal/fabric/userspace"
)

func TestConformance(t *testing.T) {
	fabrictest.Run(t, fabrictest.Harness{
		New: func(t *testing.T) fabric.Fabric { return userspace.New(userspace.Options{}) },
		// A local process connects to the loopback port behind the virtual
		// address and sends a header claiming src, signed with a key of its
		// own (it cannot know the deployment's).
		ListenAs: func(*testing.T, fabric.Fabric, fabric.Endpoint) (net.Listener, error) {
			return net.Listen("tcp", "127.0.0.1:0")
		},
		Forge: func(t *testing.T, f fabric.Fabric, src, dst netip.AddrPort) (net.Conn, error) {
			real, ok := f.(*userspace.Fabric).RealAddr(dst)
			if !ok {
				t.Fatalf("no listener behind %s", dst)
			}
			c, err := net.Dial("tcp", real.String())
			if err != nil {
				return nil, err
			}
			if err := proxyproto.Write(c, proxyproto.Header{Src: src, Dst: dst}, proxyproto.NewKey()); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	})
}
