package blobstore

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzNamesAndListing: no input panics the handler; any name the store
// accepts round-trips through put, list and get; every listing answer is
// 200 with well-formed XML honouring prefix and maxresults, or a 400.
func FuzzNamesAndListing(f *testing.F) {
	f.Add("a/b/c", "a/", "/", "", 2)
	f.Add("../../etc/passwd", "..", "/", "..", 1)
	f.Add("dir/", "", "", "zzz", 0)
	f.Add("é/\u00a0x", "é", "é", "", -3)
	f.Add("a\x00b", "\x00", "", "\xff", 5001)
	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	if err := s.CreateContainer(ctx, testAccount, "data"); err != nil {
		f.Fatal(err)
	}
	h := s.Handler(func(*http.Request) (string, bool) { return testAccount, true }, nil)
	serve := func(method, path, rawQuery, body string) *httptest.ResponseRecorder {
		r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Host: "example"}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	f.Fuzz(func(t *testing.T, name, prefix, delim, marker string, max int) {
		w := serve("PUT", "/data/"+name, "", name)
		accepted := ValidBlobName(name) == nil
		if (w.Code == 201) != accepted {
			t.Fatalf("PUT %q = %d, ValidBlobName accepts: %v", name, w.Code, accepted)
		}
		if accepted {
			if w := serve("GET", "/data/"+name, "", ""); w.Code != 200 || w.Body.String() != name {
				t.Fatalf("GET %q = %d %q", name, w.Code, w.Body.String())
			}
			page, err := s.ListBlobs(ctx, testAccount, "data", ListOptions{Prefix: name, MaxResults: 1})
			if err != nil || len(page.Blobs) != 1 || page.Blobs[0].Name != name {
				t.Fatalf("list prefix %q = %+v %v", name, page, err)
			}
		}
		q := url.Values{"restype": {"container"}, "comp": {"list"}, "prefix": {prefix}, "delimiter": {delim},
			"marker": {marker}, "maxresults": {strconv.Itoa(max)}}
		w = serve("GET", "/data", q.Encode(), "")
		switch w.Code {
		case 200:
			var x enumBlobsXML
			if err := xml.Unmarshal(w.Body.Bytes(), &x); err != nil {
				t.Fatalf("list XML: %v\n%s", err, w.Body.String())
			}
			if n := len(x.Blobs.Blob) + len(x.Blobs.BlobPrefix); max > 0 && n > max {
				t.Fatalf("%d entries for maxresults %d", n, max)
			}
			for _, b := range x.Blobs.Blob {
				if !strings.HasPrefix(b.Name, prefix) || b.Name < marker {
					t.Fatalf("listed %q for prefix %q marker %q", b.Name, prefix, marker)
				}
			}
		case 400:
			if max > 0 {
				t.Fatalf("list refused: %s", w.Body.String())
			}
		default:
			t.Fatalf("list = %d %s", w.Code, w.Body.String())
		}
		// Raw paths and queries never panic either.
		serve("GET", "/"+name, marker, "")
		serve("PUT", "/data/"+name, "comp=blocklist", prefix)
		if accepted {
			if w := serve("DELETE", "/data/"+name, "", ""); w.Code != 202 {
				t.Fatalf("DELETE %q = %d", name, w.Code)
			}
		}
	})
}
