//go:build linux

package linux_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/fabrictest"
)

// TestMain lets the test binary act as a confined process: with
// VNETML_LINUX_CHILD set it runs that probe and exits.
func TestMain(m *testing.M) {
	if probe := os.Getenv("VNETML_LINUX_CHILD"); probe != "" {
		os.Exit(child(probe))
	}
	os.Exit(m.Run())
}

// child runs one probe: "dial ADDR" prints "connected" or the error;
// "resolve NAME" prints the addresses.
func child(probe string) int {
	verb, arg, _ := strings.Cut(probe, " ")
	switch verb {
	case "dial":
		c, err := net.DialTimeout("tcp", arg, 2*time.Second)
		if err != nil {
			fmt.Println("error:", err)
			return 0
		}
		c.Close()
		fmt.Println("connected")
	case "resolve":
		addrs, err := net.DefaultResolver.LookupHost(context.Background(), arg)
		if err != nil {
			fmt.Println("error:", err)
			return 0
		}
		fmt.Println(strings.Join(addrs, " "))
	}
	return 0
}

// confined runs the test binary as a process of ep and returns what its
// probe printed.
func confined(t *testing.T, f fabric.Fabric, ep fabric.Endpoint, probe string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, err := f.Command(ctx, ep, exe)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, "VNETML_LINUX_CHILD="+probe)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", probe, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestConfinement: a process started in a node's namespace resolves the
// platform's names, reaches what the rules allow, and nothing of the
// host: not its loopback services, not its real addresses.
func TestConfinement(t *testing.T) {
	f := newFabric(t)
	f.Apply(fabrictest.Engine(t))
	node0 := fabric.Endpoint{NIC: fabrictest.Node0}

	// A service on the host's loopback.
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	go func() {
		for {
			c, err := host.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if got := confined(t, f, node0, "dial "+host.Addr().String()); !strings.HasPrefix(got, "error:") {
		t.Errorf("a confined process reached the host's loopback service: %s", got)
	}
	// The host's own addresses (other than loopback).
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.(*net.IPNet).IP)
		if !ok || ip.Unmap().IsLoopback() || !ip.Unmap().Is4() {
			continue
		}
		real, err := net.Listen("tcp", netip.AddrPortFrom(ip.Unmap(), 0).String())
		if err != nil {
			continue
		}
		got := confined(t, f, node0, "dial "+real.Addr().String())
		real.Close()
		if !strings.HasPrefix(got, "error:") {
			t.Errorf("a confined process reached the host at %s: %s", ip, got)
		}
	}

	// The platform's names, and a service the rules allow (storage:443).
	f.SetName("fabstore.blob.core.windows.net", netip.MustParseAddr("198.18.1.4"))
	if got := confined(t, f, node0, "resolve fabstore.blob.core.windows.net"); got != "198.18.1.4" {
		t.Errorf("resolving a registered name in the namespace: %q", got)
	}
	if got := confined(t, f, node0, "resolve example.com"); !strings.HasPrefix(got, "error:") {
		t.Errorf("an unknown name resolved: %q", got)
	}
	ctx := context.Background()
	ln, err := f.Listen(ctx, fabric.Endpoint{Addr: netip.MustParseAddr("198.18.1.4")}, 443)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan fabric.Peer, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p, _ := fabric.PeerOf(c)
		accepted <- p
		bufio.NewReader(c).ReadByte()
		c.Close()
	}()
	if got := confined(t, f, node0, "dial fabstore.blob.core.windows.net:443"); got != "connected" {
		t.Errorf("the allowed flow to storage: %s", got)
	}
	p := <-accepted
	if !strings.EqualFold(p.Src.NIC, fabrictest.Node0) {
		t.Errorf("the service saw %+v, want node0's NIC", p.Src)
	}
	// A flow the NSG denies (outbound SMB to storage), from the process.
	ln445, err := f.Listen(ctx, fabric.Endpoint{Addr: netip.MustParseAddr("198.18.1.4")}, 445)
	if err != nil {
		t.Fatal(err)
	}
	defer ln445.Close()
	if got := confined(t, f, node0, "dial 198.18.1.4:445"); !strings.Contains(got, "timeout") {
		t.Errorf("the flow deny-smb-out refuses: %s, want a timeout (dropped)", got)
	}
}
