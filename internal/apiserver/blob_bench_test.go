package apiserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	stdnet "net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/fabric"
)

// BenchmarkBlobThroughFabric: a node uploads and downloads a 64 MiB blob
// of its workspace's storage account through the whole data plane (the
// fabric's connection and header, TLS, the firewall decided per request,
// Shared Key verification, the blob store), against the same blob store
// handler behind plain loopback TLS in the same run — the cost of being
// in the virtual cloud. Both sides send 4 MiB blocks signed with the
// account key.
func BenchmarkBlobThroughFabric(b *testing.B) {
	const size = 64 << 20
	e := newDataEnv(b)
	e.firewalledNetwork()
	ctx := context.Background()
	data := make([]byte, size)
	rand.Read(data)

	direct := httptest.NewUnstartedServer(e.data.blobs.Handler(func(*http.Request) (string, bool) { return "mlstore", true }, nil))
	direct.StartTLS()
	defer direct.Close()
	directHC := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (stdnet.Conn, error) {
			var d stdnet.Dialer
			return d.DialContext(ctx, network, direct.Listener.Addr().String())
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	for _, path := range []struct {
		name string
		hc   *http.Client
	}{
		{"fabric", e.fromEndpoint(fabric.Endpoint{NIC: nic})},
		{"direct", directHC},
	} {
		s, err := e.apiClient().Storage(ctx, path.hc, account, client.StorageOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.CreateContainer(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		b.Run(path.name+"/upload", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if err := s.Upload(ctx, "bench", "blob-"+path.name, bytes.NewReader(data), size, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(path.name+"/download", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := s.Download(ctx, "bench", "blob-"+path.name, 0, "", io.Discard, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
