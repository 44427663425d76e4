package blobstore

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

const testAccount = "vnetmlacct"

// env is a store served over loopback by httptest.
type env struct {
	t   testing.TB
	s   *Store
	srv *httptest.Server
	mu  sync.Mutex
	// seen records the last Request the authorize hook saw.
	seen Request
	// refuse, if set, is returned by the authorize hook.
	refuse error
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	s, err := OpenConfig(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, s: s}
	h := s.Handler(func(r *http.Request) (string, bool) {
		if r.Header.Get("X-Test-No-Account") != "" {
			return "", false
		}
		return testAccount, true
	}, func(r *http.Request, req Request) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.seen = req
		return e.refuse
	})
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

type resp struct {
	status int
	header http.Header
	body   []byte
	code   string // x-ms-error-code
}

// do sends one request; body may be nil, a string, []byte or io.Reader.
func (e *env) do(method, path string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	if res.Header.Get("x-ms-request-id") == "" || res.Header.Get("x-ms-version") == "" {
		e.t.Errorf("%s %s: response lacks x-ms-request-id or x-ms-version: %v", method, path, res.Header)
	}
	return resp{status: res.StatusCode, header: res.Header, body: data, code: res.Header.Get("x-ms-error-code")}
}

func (e *env) mustContainer(name string) {
	e.t.Helper()
	if r := e.do("PUT", "/"+name+"?restype=container", nil); r.status != 201 {
		e.t.Fatalf("create container %s: %d %s", name, r.status, r.body)
	}
}

func (e *env) mustPut(path string, body []byte, hdr ...string) resp {
	e.t.Helper()
	r := e.do("PUT", path, body, hdr...)
	if r.status != 201 {
		e.t.Fatalf("PUT %s: %d %s", path, r.status, r.body)
	}
	return r
}

func b64md5(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func blockID(i int) string {
	return base64.StdEncoding.EncodeToString([]byte{'b', byte(i >> 8), byte(i)})
}

// rawDo sends a request to a full URL (for paths http.NewRequest would
// normalise or refuse).
func (e *env) rawDo(method, rawURL string, body any) resp {
	e.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		e.t.Fatal(err)
	}
	var rd io.Reader
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	}
	req, err := http.NewRequest(method, e.srv.URL, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.URL = u
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: data, code: res.Header.Get("x-ms-error-code")}
}

func (e *env) lastSeen() Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seen
}

func (e *env) setRefuse(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refuse = err
	e.seen = Request{}
}
