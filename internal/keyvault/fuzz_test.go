package keyvault

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary methods, paths, queries and bodies to the
// REST handler: it must never panic, never answer 500 and always answer
// with a JSON body.
func FuzzHandler(f *testing.F) {
	fx := newFixture(f)
	h := newTestHandler(fx)
	methods := []string{"GET", "PUT", "PATCH", "DELETE", "POST", "HEAD", "OPTIONS", "get"}
	for _, s := range []struct {
		m          uint8
		path, q, b string
	}{
		{1, "/secrets/a", "api-version=7.4", `{"value":"x","contentType":"t","tags":{"k":"v"},"attributes":{"enabled":true,"nbf":1,"exp":9999999999}}`},
		{0, "/secrets/a", "api-version=7.4", ""},
		{0, "/secrets", "api-version=7.4&maxresults=1", ""},
		{0, "/secrets", "api-version=7.4&$skiptoken=MTov", ""},
		{0, "/secrets/a/versions", "api-version=7.4", ""},
		{2, "/secrets/a/", "api-version=7.4", `{"attributes":{"enabled":false},"tags":null}`},
		{3, "/secrets/a", "api-version=7.4", ""},
		{1, "/secrets/a", "api-version=7.4", `{"value":"\u0000\ud800","attributes":{"exp":-1}}`},
		{1, "/secrets/a", "api-version=7.4", `{"value":"x","attributes":[]}`},
		{1, "/secrets/a", "api-version=7.4", `{"value":"x","attributes":{"nbf":1e300}}`},
		{0, "//secrets/%2F", "api-version=7.4-preview.1", ""},
		{1, "/secrets/a", "api-version=7.4", "\xff\xfe"},
	} {
		f.Add(s.m, s.path, s.q, []byte(s.b))
	}
	f.Fuzz(func(t *testing.T, m uint8, path, query string, body []byte) {
		u := &url.URL{Path: path, RawQuery: query}
		if !strings.HasPrefix(path, "/") {
			u.Path = "/" + path
		}
		r := &http.Request{
			Method: methods[int(m)%len(methods)], URL: u, Host: testHost, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Authorization": {"Bearer fuzz"}},
			Body:   httpBody(body),
		}
		r = r.WithContext(t.Context())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%s %q: %d %s", r.Method, path, query, body, w.Code, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s: response is not JSON: %q", r.Method, path, w.Body)
		}
	})
}

type bodyReader struct{ *strings.Reader }

func (bodyReader) Close() error { return nil }

func httpBody(b []byte) bodyReader { return bodyReader{strings.NewReader(string(b))} }
