package inference

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"testing"
)

// referenceFront is the front end as net/http's server and
// httputil.ReverseProxy make it, deciding each call with the same route as
// the relay (relay.go). It is the oracle the relay is tested against
// (TestRelayAgreesWithReference): slow, and plainly right about HTTP —
// framing, hop-by-hop headers, Connection, HEAD, bodies in chunks. Its
// transport asks for no compression, as the relay does not.
func referenceFront(f *front) http.Handler {
	type targetKey struct{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = r.In.Context().Value(targetKey{}).(string)
			r.Out.Header.Del("Authorization")
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				ap, err := netip.ParseAddrPort(addr)
				if err != nil {
					return nil, err
				}
				return f.dial(ctx, ap.Addr())
			},
			DisableCompression: true,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeOwn(w, ownAnswer{http.StatusRequestEntityTooLarge, "RequestTooLarge", fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit)})
				return
			}
			writeOwn(w, ownAnswer{http.StatusBadGateway, "ReplicaUnreachable", "the front end lost the replica: " + err.Error()})
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sp, sl, own := f.route(r.Context(), r.Method, r.URL.Path, r.Header.Get("Authorization"), r.ContentLength)
		if own != nil {
			writeOwn(w, *own)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, sp.maxBody())
		ctx := context.WithValue(r.Context(), targetKey{}, netip.AddrPortFrom(sl.pod, ReplicaPort).String())
		proxy.ServeHTTP(w, r.WithContext(ctx))
	})
}

func writeOwn(w http.ResponseWriter, a ownAnswer) {
	w.Header().Set("Content-Type", "application/json")
	if a.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", wwwAuthenticate)
	}
	w.WriteHeader(a.status)
	w.Write(jsonError(a.code, a.msg))
}

// serveReference serves referenceFront(f) on a loopback port, and returns
// its address.
func serveReference(tb testing.TB, f *front) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: referenceFront(f)}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
