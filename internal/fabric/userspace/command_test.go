package userspace_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/fabric"
	"github.com/vnetml/vnetml/internal/fabric/fabrictest"
	"github.com/vnetml/vnetml/internal/fabric/userspace"
)

// TestMain doubles as the confined child of TestCommand: with
// VNETML_TEST_FETCH set, it fetches that URL with Go's standard client,
// which honours HTTP_PROXY, and prints the status and body.
func TestMain(m *testing.M) {
	if u := os.Getenv("VNETML_TEST_FETCH"); u != "" {
		resp, err := http.Get(u)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(0)
		}
		b, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s", resp.StatusCode, b)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCommand: a process started with Command reaches the virtual cloud
// (storage sees node0's public IP: no service endpoint, so SNAT)
// through its endpoint's proxy — by address and by a platform service's
// name — and is refused with the deciding rule where the rules say no.
func TestCommand(t *testing.T) {
	f := userspace.New(userspace.Options{})
	defer f.Close()
	f.Apply(fabrictest.Engine(t))
	store := fabric.Endpoint{Addr: netip.MustParseAddr("198.18.1.4")}
	node0 := fabric.Endpoint{NIC: fabrictest.Node0, Addr: netip.MustParseAddr("10.0.0.4")}
	ctx := context.Background()
	for _, port := range []uint16{80, 445} {
		ln, err := f.Listen(ctx, store, port)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "blob %s from %s", r.URL.Path, r.RemoteAddr)
		}))
	}
	f.SetName("mystore.blob.core.windows.net", store.Addr)
	fetch := func(url string) string {
		cmd, err := f.Command(ctx, node0, os.Args[0], "-test.run=^$")
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(cmd.Env, "VNETML_TEST_FETCH="+url)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		return string(out)
	}
	if got := fetch("http://198.18.1.4/x"); !strings.HasPrefix(got, "200 blob /x from 198.51.100.4:") {
		t.Errorf("by address: %q", got)
	}
	if got := fetch("http://mystore.blob.core.windows.net/y"); !strings.HasPrefix(got, "200 blob /y from 198.51.100.4:") {
		t.Errorf("by name: %q", got)
	}
	if got := fetch("http://198.18.1.4:445/z"); !strings.HasPrefix(got, "403 ") || !strings.Contains(got, "deny-smb-out") {
		t.Errorf("a denied port: %q", got)
	}
	if got := fetch("http://198.18.1.4:8081/"); !strings.HasPrefix(got, "502 ") || !strings.Contains(got, "nothing listens") {
		t.Errorf("a port nothing listens on: %q", got)
	}
	if got := fetch("http://nowhere.example/"); !strings.HasPrefix(got, "502 ") {
		t.Errorf("an unknown name: %q", got)
	}
}
