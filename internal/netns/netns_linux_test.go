//go:build linux

package netns_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"

	"github.com/vnetml/vnetml/internal/netns"
)

// TestDo: a socket made inside a fresh namespace lives there (its
// loopback is not the host's), and the calling thread's namespace is
// unchanged afterwards.
func TestDo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("entering a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2's ip is not installed")
	}
	name := fmt.Sprintf("vnetml-netns-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	h, err := netns.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.IsCurrent() {
		t.Fatal("a new namespace is the current one")
	}
	self, err := netns.OfProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	if !self.IsCurrent() {
		t.Fatal("this process's namespace is not the current one")
	}
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	// Inside, loopback is down and is not the host's: the host's port is
	// not there.
	err = h.Do(func() error {
		c, err := net.Dial("tcp", host.Addr().String())
		if err == nil {
			c.Close()
		}
		return err
	})
	if err == nil {
		t.Fatal("a socket made inside the namespace reached the host's loopback")
	}
	// Outside again.
	c, err := net.Dial("tcp", host.Addr().String())
	if err != nil {
		t.Fatalf("after Do, the host's loopback: %v", err)
	}
	c.Close()
}
