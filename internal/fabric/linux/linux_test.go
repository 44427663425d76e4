//go:build linux

package linux_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/fabrictest"
	"github.com/vnetml/vnetml/internal/fabric/linux"
)

// newFabric returns a kernel fabric closed with the test, or skips the
// test with the reason when this machine cannot run one.
func newFabric(t testing.TB) *linux.Fabric {
	t.Helper()
	if err := linux.Check(); err != nil {
		t.Skip(err)
	}
	f, err := linux.New(linux.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("closing the fabric: %v", err)
		}
	})
	return f
}

func TestConformance(t *testing.T) {
	fabrictest.Run(t, fabrictest.Harness{
		New: func(t *testing.T) fabric.Fabric { return newFabric(t) },
		ListenAs: func(t *testing.T, f fabric.Fabric, ep fabric.Endpoint) (ln net.Listener, err error) {
			derr := f.(*linux.Fabric).Do(ep, func() error {
				ln, err = net.Listen("tcp", "127.0.0.1:0")
				return nil
			})
			return ln, errors.Join(err, derr)
		},
		Forge: func(t *testing.T, f fabric.Fabric, src, dst netip.AddrPort) (net.Conn, error) {
			return nil, forge(f.(*linux.Fabric), fabric.Endpoint{NIC: fabrictest.Node1}, src, dst)
		},
	})
}

// forge sends a SYN from inside from's namespace with a source address
// that is not its own, as a process with raw sockets could (IP_TRANSPARENT
// binds any address), and leaves without waiting: the router drops it.
func forge(f *linux.Fabric, from fabric.Endpoint, src, dst netip.AddrPort) error {
	err := f.Do(from, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_TRANSPARENT, 1); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src.Addr().As4(), Port: int(src.Port())}); err != nil {
			return err
		}
		err = unix.Connect(fd, &unix.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())})
		if errors.Is(err, unix.EINPROGRESS) {
			return errors.New("forged SYN sent; no answer awaited")
		}
		return err
	})
	return err
}
