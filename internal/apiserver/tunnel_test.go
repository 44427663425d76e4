package apiserver_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	stdnet "net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// connect sends a raw CONNECT to the API and returns the status line.
func (e *env) connect(t *testing.T, target string, hdr ...string) string {
	t.Helper()
	c, err := stdnet.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target)
	for i := 0; i+1 < len(hdr); i += 2 {
		req += hdr[i] + ": " + hdr[i+1] + "\r\n"
	}
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Status // the tunnel: its body is the connection
	}
	b := make([]byte, 400)
	n, _ := resp.Body.Read(b)
	resp.Body.Close()
	return resp.Status + " " + string(b[:n])
}

// TestTunnel: the CONNECT tunnel that outside clients reach the data
// planes through needs a token, a public client address and a host the
// virtual cloud resolves; a network refusal is a 403 naming the rule.
func TestTunnel(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	bearer := "Bearer " + e.admin
	cases := []struct {
		name, target, want string
		hdr                []string
	}{
		{"no token", "mlstore.blob.core.windows.net:443", "407", nil},
		{"a wrong token", "mlstore.blob.core.windows.net:443", "407", []string{"Proxy-Authorization", "Bearer vnm_nope"}},
		{"a private address", "mlstore.blob.core.windows.net:443", "400", []string{"Proxy-Authorization", bearer, "X-Vnetml-Client-Address", "10.0.0.9"}},
		{"a platform address (BatchNodeManagement)", "mlstore.blob.core.windows.net:443", "400", []string{"Proxy-Authorization", bearer, "X-Vnetml-Client-Address", "198.18.3.9"}},
		{"not an address", "mlstore.blob.core.windows.net:443", "400", []string{"Proxy-Authorization", bearer, "X-Vnetml-Client-Address", "laptop"}},
		{"an unknown host", "nosuch.blob.core.windows.net:443", "502", []string{"Proxy-Authorization", bearer}},
		{"no port", "mlstore.blob.core.windows.net", "400", []string{"Proxy-Authorization", bearer}},
		{"allowed", "mlstore.blob.core.windows.net:443", "200", []string{"Proxy-Authorization", bearer}},
		{"basic auth", "mlvault.vault.azure.net:443", "200", []string{"Proxy-Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("vnetml:"+e.admin))}},
		// The account's address holds nothing but its front ends.
		{"another port", "mlstore.blob.core.windows.net:8080", "403", []string{"Proxy-Authorization", bearer}},
	}
	for _, c := range cases {
		if got := e.connect(t, c.target, c.hdr...); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// A public IP of the deployment is not a client's.
	pip := e.must(201, "PUT", net+"/publicIPAddresses/pip0", `{"location": "eastus"}`).json(t)
	addr := pip["properties"].(map[string]any)["ipAddress"].(string)
	if got := e.connect(t, "mlstore.blob.core.windows.net:443", "Proxy-Authorization", bearer, "X-Vnetml-Client-Address", addr); !strings.HasPrefix(got, "400") {
		t.Errorf("claiming public IP %s: %s", addr, got)
	}
	// A node's private address is not reachable from the Internet.
	if got := e.connect(t, "10.0.0.4:22", "Proxy-Authorization", bearer); !strings.HasPrefix(got, "403") {
		t.Errorf("to a node's private address from outside: %s", got)
	}
}

// TestTunnelRefusalReachesTheClient: the explanation of a refused
// CONNECT reaches the client's error, not just "Forbidden".
func TestTunnelRefusalReachesTheClient(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	hc, err := e.apiClient().DataPlane(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = hc.Get("https://nosuch.blob.core.windows.net/")
	if err == nil || !strings.Contains(err.Error(), "does not resolve in the virtual cloud") {
		t.Fatalf("an unknown account: %v, want the server's explanation", err)
	}
}

// TestTunnelEndsWithItsToken: revoking the token a tunnel was opened
// with closes the tunnel at the next check.
func TestTunnelEndsWithItsToken(t *testing.T) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	tok := e.must(201, "PUT", "/providers/vnetml.Authorization/tokens/shortlived", `{"properties": {"role": "Contributor", "scope": "/"}}`).json(t)
	secret := tok["properties"].(map[string]any)["secret"].(string)
	c, err := stdnet.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT mlstore.blob.core.windows.net:443 HTTP/1.1\r\nHost: mlstore.blob.core.windows.net:443\r\nProxy-Authorization: Bearer %s\r\n\r\n", secret)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	e.must(200, "DELETE", "/providers/vnetml.Authorization/tokens/shortlived", nil)
	// The tunnel closes: a read ends (EOF or reset) instead of blocking.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the tunnel answered after its token was revoked")
	} else if ne, ok := err.(stdnet.Error); ok && ne.Timeout() {
		t.Fatal("the tunnel stayed open after its token was revoked")
	}
}
