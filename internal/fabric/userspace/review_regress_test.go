package userspace_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/fabrictest"
	"github.com/vnetml/vnetml/internal/fabric/proxyproto"
	"github.com/vnetml/vnetml/internal/fabric/userspace"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// Regressions for defects an independent review found.

// overlapping compiles two unpeered networks with the same space: nic-a
// (NSG denies the Internet) and nic-b (public IP, NSG allows port 22),
// both at 10.0.0.4.
func overlapping(t *testing.T) *flow.Engine {
	const sub = "/subscriptions/s/resourceGroups/%s/providers/Microsoft.Network"
	var docs []string
	for _, g := range []string{"a", "b"} {
		p := fmt.Sprintf(sub, g)
		access := "Deny"
		if g == "b" {
			access = "Allow"
		}
		docs = append(docs, fmt.Sprintf(`{"id": "%[1]s/networkSecurityGroups/nsg-%[2]s", "name": "nsg-%[2]s", "location": "eastus", "properties": {"securityRules": [
			{"name": "ssh", "properties": {"priority": 100, "direction": "Inbound", "access": %[3]q, "protocol": "Tcp", "sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}]}},
		{"id": "%[1]s/virtualNetworks/vnet-%[2]s", "name": "vnet-%[2]s", "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
			"subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": "%[1]s/networkSecurityGroups/nsg-%[2]s"}}}]}},
		{"id": "%[1]s/publicIPAddresses/pip-%[2]s", "name": "pip-%[2]s", "location": "eastus", "properties": {"ipAddress": "198.51.100.%[4]d"}},
		{"id": "%[1]s/networkInterfaces/nic-%[2]s", "name": "nic-%[2]s", "location": "eastus", "properties": {"ipConfigurations": [{"name": "ip", "properties": {
			"privateIPAddress": "10.0.0.4", "subnet": {"id": "%[1]s/virtualNetworks/vnet-%[2]s/subnets/s"}, "publicIPAddress": {"id": "%[1]s/publicIPAddresses/pip-%[2]s"}}}]}}`,
			p, g, access, map[string]int{"a": 8, "b": 9}[g]))
	}
	var snap network.Snapshot
	if err := snap.DecodeBytes("overlap", []byte("["+strings.Join(docs, ",")+"]")); err != nil {
		t.Fatal(err)
	}
	if err := snap.Finish(); err != nil {
		t.Fatal(err)
	}
	return flow.Compile(&snap, servicetag.LocalCloud())
}

func TestReviewOverlappingNetworks(t *testing.T) {
	f := userspace.New(userspace.Options{})
	defer f.Close()
	f.Apply(overlapping(t))
	ctx := context.Background()
	addr := netip.MustParseAddr("10.0.0.4")
	nicA := "/subscriptions/s/resourceGroups/a/providers/Microsoft.Network/networkInterfaces/nic-a"
	nicB := "/subscriptions/s/resourceGroups/b/providers/Microsoft.Network/networkInterfaces/nic-b"
	la, err := f.Listen(ctx, fabric.Endpoint{NIC: nicA, Addr: addr}, 22)
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	client := fabric.Endpoint{Addr: netip.MustParseAddr("203.0.113.7")}
	// nic-b's rule admits the connection, but only nic-a listens: it must
	// not reach nic-a.
	if c, err := f.Dial(ctx, client, netip.MustParseAddrPort("198.51.100.9:22")); err == nil {
		c.Close()
		t.Fatal("a connection for nic-b was delivered to nic-a's listener")
	} else if !errors.As(err, new(*fabric.Refused)) {
		t.Fatalf("%v, want nothing listening on nic-b", err)
	}
	lb, err := f.Listen(ctx, fabric.Endpoint{NIC: nicB, Addr: addr}, 22)
	if err != nil {
		t.Fatalf("nic-b cannot listen at its own address: %v", err)
	}
	defer lb.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := lb.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := f.Dial(ctx, client, netip.MustParseAddrPort("198.51.100.9:22"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case s := <-accepted:
		s.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("nic-b's listener got nothing")
	}
	if _, err := f.Dial(ctx, client, netip.MustParseAddrPort("198.51.100.8:22")); !errors.As(err, new(*fabric.Denied)) {
		t.Fatalf("to nic-a's public IP: %v, want its NSG's denial", err)
	}
}

// A header signed with the right key but for another address is refused.
func TestReviewHeaderForAnotherAddress(t *testing.T) {
	key := proxyproto.NewKey()
	f := userspace.New(userspace.Options{Key: key})
	defer f.Close()
	f.Apply(fabrictest.Engine(t))
	ctx := context.Background()
	node1 := fabric.Endpoint{NIC: fabrictest.Node1, Addr: netip.MustParseAddr("10.0.0.5")}
	ln, err := f.Listen(ctx, node1, 8080)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	real, _ := f.RealAddr(netip.MustParseAddrPort("10.0.0.5:8080"))
	c, err := net.Dial("tcp", real.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	proxyproto.Write(c, proxyproto.Header{Src: netip.MustParseAddrPort("198.18.3.9:5000"), Dst: netip.MustParseAddrPort("10.0.0.4:29876")}, key)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := bufio.NewReader(c).ReadByte(); err == nil {
		t.Fatal("the listener kept a connection whose header is for another address")
	}
}

// A confined process does not inherit the server's secrets.
func TestReviewCommandEnvironment(t *testing.T) {
	t.Setenv("VNETML_TOKEN", "vnm_secret")
	t.Setenv("VNETML_MASTER_KEY", "00")
	f := userspace.New(userspace.Options{})
	defer f.Close()
	cmd, err := f.Command(context.Background(), fabric.Endpoint{Addr: netip.MustParseAddr("10.0.0.4")}, "true")
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(cmd.Env, "\n")
	if strings.Contains(env, "vnm_secret") || strings.Contains(env, "VNETML_MASTER_KEY") {
		t.Errorf("the confined environment holds the server's secrets:\n%s", env)
	}
	if !strings.Contains(env, "HTTP_PROXY=http://vnetml:") || (os.Getenv("PATH") != "" && !strings.Contains(env, "PATH=")) {
		t.Errorf("the confined environment lacks its proxy or PATH:\n%s", env)
	}
	// Another local process, without the credentials, is not served.
	var proxyAddr string
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, "HTTP_PROXY=http://"); ok {
			_, proxyAddr, _ = strings.Cut(v, "@")
		}
	}
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT 198.18.1.4:443 HTTP/1.1\r\nHost: 198.18.1.4:443\r\n\r\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 407") {
		t.Errorf("a CONNECT without credentials got %q, want 407", line)
	}
}
