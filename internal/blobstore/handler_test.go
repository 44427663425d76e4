package blobstore

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
)

// TestHandlerOperations runs every operation of the REST subset, in order,
// against one store; later steps depend on earlier ones.
func TestHandlerOperations(t *testing.T) {
	e := newEnv(t, Config{MaxPutSize: 1 << 20, MaxBlockSize: 1 << 10})
	var etag string // of /data/a.txt once written
	block1, block2 := strings.Repeat("x", 1000), "tail"
	steps := []struct {
		name       string
		method     string
		path       string
		body       any
		hdr        []string
		wantStatus int
		wantCode   string
		wantOp     Operation
		check      func(t *testing.T, r resp)
	}{
		{name: "create container", method: "PUT", path: "/data?restype=container", wantStatus: 201, wantOp: OpCreateContainer},
		{name: "create again", method: "PUT", path: "/data?restype=container", wantStatus: 409, wantCode: CodeContainerAlreadyExists},
		{name: "bad container name", method: "PUT", path: "/Data--x?restype=container", wantStatus: 400, wantCode: CodeInvalidResourceName},
		{name: "container needs restype", method: "PUT", path: "/data", wantStatus: 400, wantCode: CodeInvalidQueryParameterValue},
		{name: "container properties", method: "GET", path: "/data?restype=container", wantStatus: 200, wantOp: OpGetContainerProperties,
			check: func(t *testing.T, r resp) { nonEmpty(t, r, "ETag", "Last-Modified") }},
		{name: "list containers", method: "GET", path: "/?comp=list", wantStatus: 200, wantOp: OpListContainers,
			check: func(t *testing.T, r resp) {
				var x enumContainersXML
				mustXML(t, r.body, &x)
				if len(x.Containers) != 1 || x.Containers[0].Name != "data" {
					t.Errorf("containers = %+v", x.Containers)
				}
			}},
		{name: "put into missing container", method: "PUT", path: "/nope/a.txt", body: "x", wantStatus: 404, wantCode: CodeContainerNotFound},
		{name: "put blob", method: "PUT", path: "/data/a.txt", body: "hello, world",
			hdr:        []string{"x-ms-blob-type", "BlockBlob", "Content-Type", "text/plain", "x-ms-meta-Owner", "ml", "Content-MD5", b64md5([]byte("hello, world"))},
			wantStatus: 201, wantOp: OpPutBlob,
			check: func(t *testing.T, r resp) {
				nonEmpty(t, r, "ETag", "Last-Modified")
				etag = r.header.Get("ETag")
				if !strings.HasPrefix(etag, `"0x`) || r.header.Get("Content-MD5") != b64md5([]byte("hello, world")) {
					t.Errorf("ETag %q, Content-MD5 %q", etag, r.header.Get("Content-MD5"))
				}
			}},
		{name: "get blob", method: "GET", path: "/data/a.txt", wantStatus: 200, wantOp: OpGetBlob,
			check: func(t *testing.T, r resp) {
				want := map[string]string{"Content-Type": "text/plain", "Content-Length": "12", "ETag": etag,
					"Content-MD5": b64md5([]byte("hello, world")), "x-ms-meta-owner": "ml", "x-ms-blob-type": "BlockBlob"}
				headers(t, r, want)
				body(t, r, "hello, world")
			}},
		{name: "head blob", method: "HEAD", path: "/data/a.txt", wantStatus: 200, wantOp: OpGetBlobProperties,
			check: func(t *testing.T, r resp) {
				headers(t, r, map[string]string{"Content-Length": "12", "ETag": etag})
				body(t, r, "")
			}},
		{name: "range a-b", method: "GET", path: "/data/a.txt", hdr: []string{"Range", "bytes=0-4"}, wantStatus: 206,
			check: func(t *testing.T, r resp) {
				headers(t, r, map[string]string{"Content-Range": "bytes 0-4/12", "Content-Length": "5"})
				body(t, r, "hello")
			}},
		{name: "x-ms-range a-", method: "GET", path: "/data/a.txt", hdr: []string{"x-ms-range", "bytes=7-"}, wantStatus: 206,
			check: func(t *testing.T, r resp) { body(t, r, "world") }},
		{name: "range -n", method: "GET", path: "/data/a.txt", hdr: []string{"Range", "bytes=-3"}, wantStatus: 206,
			check: func(t *testing.T, r resp) { body(t, r, "rld") }},
		{name: "range past end clamps", method: "GET", path: "/data/a.txt", hdr: []string{"Range", "bytes=10-99"}, wantStatus: 206,
			check: func(t *testing.T, r resp) { body(t, r, "ld") }},
		{name: "range unsatisfiable", method: "GET", path: "/data/a.txt", hdr: []string{"Range", "bytes=12-"}, wantStatus: 416, wantCode: CodeInvalidRange,
			check: func(t *testing.T, r resp) { headers(t, r, map[string]string{"Content-Range": "bytes */12"}) }},
		{name: "range malformed is ignored", method: "GET", path: "/data/a.txt", hdr: []string{"Range", "bytes=x-y"}, wantStatus: 200,
			check: func(t *testing.T, r resp) { body(t, r, "hello, world") }},
		{name: "get if-none-match same etag", method: "GET", path: "/data/a.txt", hdr: []string{"If-None-Match", "ETAG"}, wantStatus: 304},
		{name: "get if-match other etag", method: "GET", path: "/data/a.txt", hdr: []string{"If-Match", `"0x1"`}, wantStatus: 412, wantCode: CodeConditionNotMet},
		{name: "get if-match same etag", method: "GET", path: "/data/a.txt", hdr: []string{"If-Match", "ETAG"}, wantStatus: 200},
		{name: "put if-none-match * on existing", method: "PUT", path: "/data/a.txt", body: "x", hdr: []string{"If-None-Match", "*"}, wantStatus: 409, wantCode: CodeBlobAlreadyExists},
		{name: "put if-match stale", method: "PUT", path: "/data/a.txt", body: "x", hdr: []string{"If-Match", `"0x1"`}, wantStatus: 412, wantCode: CodeConditionNotMet},
		{name: "put if-match on missing blob", method: "PUT", path: "/data/new.txt", body: "x", hdr: []string{"If-Match", "*"}, wantStatus: 412, wantCode: CodeConditionNotMet},
		{name: "put if-none-match * creates", method: "PUT", path: "/data/new.txt", body: "new", hdr: []string{"If-None-Match", "*"}, wantStatus: 201},
		{name: "put if-match current", method: "PUT", path: "/data/a.txt", body: "hello again", hdr: []string{"If-Match", "ETAG"}, wantStatus: 201,
			check: func(t *testing.T, r resp) {
				if r.header.Get("ETag") == etag {
					t.Errorf("ETag did not change on write")
				}
				etag = r.header.Get("ETag")
			}},
		{name: "md5 mismatch", method: "PUT", path: "/data/a.txt", body: "evil", hdr: []string{"Content-MD5", b64md5([]byte("good"))}, wantStatus: 400, wantCode: CodeMd5Mismatch},
		{name: "bad md5 header", method: "PUT", path: "/data/a.txt", body: "x", hdr: []string{"Content-MD5", "nope"}, wantStatus: 400, wantCode: CodeInvalidMd5},
		{name: "content unchanged after failures", method: "GET", path: "/data/a.txt", wantStatus: 200,
			check: func(t *testing.T, r resp) { body(t, r, "hello again"); headers(t, r, map[string]string{"ETag": etag}) }},
		{name: "body too large", method: "PUT", path: "/data/big", body: strings.Repeat("z", 1<<20+1), wantStatus: 413, wantCode: CodeRequestBodyTooLarge},
		{name: "page blob refused", method: "PUT", path: "/data/p", body: "", hdr: []string{"x-ms-blob-type", "PageBlob"}, wantStatus: 400, wantCode: CodeInvalidHeaderValue},
		{name: "put block 1", method: "PUT", path: "/data/blocks.bin?comp=block&blockid=" + blockID(1), body: block1, wantStatus: 201, wantOp: OpPutBlock},
		{name: "put block 2", method: "PUT", path: "/data/blocks.bin?comp=block&blockid=" + blockID(2), body: block2,
			hdr: []string{"Content-MD5", b64md5([]byte(block2))}, wantStatus: 201},
		{name: "put block md5 mismatch", method: "PUT", path: "/data/blocks.bin?comp=block&blockid=" + blockID(3), body: "x",
			hdr: []string{"Content-MD5", b64md5([]byte("y"))}, wantStatus: 400, wantCode: CodeMd5Mismatch},
		{name: "put block too large", method: "PUT", path: "/data/blocks.bin?comp=block&blockid=" + blockID(3), body: strings.Repeat("x", 1025), wantStatus: 413, wantCode: CodeRequestBodyTooLarge},
		{name: "put block bad id", method: "PUT", path: "/data/blocks.bin?comp=block&blockid=%21%21", body: "x", wantStatus: 400, wantCode: CodeInvalidBlockID},
		{name: "uncommitted blob is not visible", method: "GET", path: "/data/blocks.bin", wantStatus: 404, wantCode: CodeBlobNotFound},
		{name: "get uncommitted block list", method: "GET", path: "/data/blocks.bin?comp=blocklist&blocklisttype=all", wantStatus: 200, wantOp: OpGetBlockList,
			check: func(t *testing.T, r resp) {
				var x blockListRespXML
				mustXML(t, r.body, &x)
				want := []blockXML{{blockID(1), 1000}, {blockID(2), 4}}
				if len(x.Committed) != 0 || !reflect.DeepEqual(x.Uncommitted, want) {
					t.Errorf("block list = %+v", x)
				}
			}},
		{name: "commit with unknown block", method: "PUT", path: "/data/blocks.bin?comp=blocklist",
			body: "<BlockList><Latest>" + blockID(9) + "</Latest></BlockList>", wantStatus: 400, wantCode: CodeInvalidBlockList},
		{name: "commit bad xml", method: "PUT", path: "/data/blocks.bin?comp=blocklist", body: "<BlockList><Latest>", wantStatus: 400, wantCode: CodeInvalidXMLDocument},
		{name: "commit md5 mismatch", method: "PUT", path: "/data/blocks.bin?comp=blocklist",
			body: "<BlockList><Latest>" + blockID(1) + "</Latest></BlockList>", hdr: []string{"x-ms-blob-content-md5", b64md5([]byte("no"))},
			wantStatus: 400, wantCode: CodeMd5Mismatch},
		{name: "commit", method: "PUT", path: "/data/blocks.bin?comp=blocklist", wantOp: OpPutBlockList,
			body: `<?xml version="1.0" encoding="utf-8"?><BlockList><Uncommitted>` + blockID(2) + `</Uncommitted><Latest>` + blockID(1) + `</Latest></BlockList>`,
			hdr:  []string{"x-ms-blob-content-type", "application/x-test", "x-ms-blob-content-md5", b64md5([]byte(block2 + block1))}, wantStatus: 201},
		{name: "get committed", method: "GET", path: "/data/blocks.bin", wantStatus: 200,
			check: func(t *testing.T, r resp) {
				body(t, r, block2+block1)
				headers(t, r, map[string]string{"Content-Type": "application/x-test"})
			}},
		{name: "committed block list", method: "GET", path: "/data/blocks.bin?comp=blocklist&blocklisttype=all", wantStatus: 200,
			check: func(t *testing.T, r resp) {
				var x blockListRespXML
				mustXML(t, r.body, &x)
				want := []blockXML{{blockID(2), 4}, {blockID(1), 1000}}
				if !reflect.DeepEqual(x.Committed, want) || len(x.Uncommitted) != 0 {
					t.Errorf("block list = %+v", x)
				}
			}},
		{name: "recommit from committed blocks", method: "PUT", path: "/data/blocks.bin?comp=blocklist",
			body: "<BlockList><Committed>" + blockID(1) + "</Committed></BlockList>", wantStatus: 201},
		{name: "get recommitted", method: "GET", path: "/data/blocks.bin", wantStatus: 200,
			check: func(t *testing.T, r resp) { body(t, r, block1) }},
		{name: "list blobs", method: "GET", path: "/data?restype=container&comp=list&include=metadata", wantStatus: 200, wantOp: OpListBlobs,
			check: func(t *testing.T, r resp) {
				var x enumBlobsXML
				mustXML(t, r.body, &x)
				var names []string
				for _, b := range x.Blobs.Blob {
					names = append(names, b.Name)
				}
				if want := []string{"a.txt", "blocks.bin", "new.txt"}; !reflect.DeepEqual(names, want) {
					t.Errorf("names = %v, want %v", names, want)
				}
				if p := x.Blobs.Blob[0].Properties; p.ContentLength != 11 || p.Etag != strings.Trim(etag, `"`) || p.ContentMD5 != b64md5([]byte("hello again")) {
					t.Errorf("properties = %+v", p)
				}
			}},
		{name: "list bad maxresults", method: "GET", path: "/data?restype=container&comp=list&maxresults=x", wantStatus: 400, wantCode: CodeInvalidQueryParameterValue},
		{name: "list zero maxresults", method: "GET", path: "/data?restype=container&comp=list&maxresults=0", wantStatus: 400, wantCode: CodeOutOfRangeQueryParameterValue},
		{name: "unknown comp", method: "GET", path: "/data/a.txt?comp=tags", wantStatus: 400, wantCode: CodeInvalidQueryParameterValue},
		{name: "unknown method", method: "PATCH", path: "/data/a.txt", wantStatus: 405, wantCode: CodeUnsupportedHTTPVerb},
		{name: "no account", method: "GET", path: "/?comp=list", hdr: []string{"X-Test-No-Account", "1"}, wantStatus: 400, wantCode: CodeInvalidURI},
		{name: "delete blob if-match stale", method: "DELETE", path: "/data/a.txt", hdr: []string{"If-Match", `"0x1"`}, wantStatus: 412, wantCode: CodeConditionNotMet},
		{name: "delete blob", method: "DELETE", path: "/data/a.txt", wantStatus: 202, wantOp: OpDeleteBlob},
		{name: "delete again", method: "DELETE", path: "/data/a.txt", wantStatus: 404, wantCode: CodeBlobNotFound},
		{name: "get deleted", method: "GET", path: "/data/a.txt", wantStatus: 404, wantCode: CodeBlobNotFound,
			check: func(t *testing.T, r resp) {
				var x struct{ Code, Message string }
				mustXML(t, r.body, &x)
				if x.Code != CodeBlobNotFound || !strings.Contains(x.Message, "a.txt") {
					t.Errorf("error body = %s", r.body)
				}
			}},
		{name: "delete container", method: "DELETE", path: "/data?restype=container", wantStatus: 202, wantOp: OpDeleteContainer},
		{name: "get from deleted container", method: "GET", path: "/data/new.txt", wantStatus: 404, wantCode: CodeContainerNotFound},
		{name: "delete container again", method: "DELETE", path: "/data?restype=container", wantStatus: 404, wantCode: CodeContainerNotFound},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			hdr := append([]string(nil), st.hdr...)
			for i := range hdr {
				hdr[i] = strings.ReplaceAll(hdr[i], "ETAG", etag)
			}
			e.setRefuse(nil)
			r := e.do(st.method, st.path, st.body, hdr...)
			if r.status != st.wantStatus || r.code != st.wantCode {
				t.Fatalf("%s %s = %d %q, want %d %q\n%s", st.method, st.path, r.status, r.code, st.wantStatus, st.wantCode, r.body)
			}
			if st.wantOp != 0 && e.lastSeen().Operation != st.wantOp {
				t.Errorf("authorize saw %v, want %v", e.lastSeen().Operation, st.wantOp)
			}
			if st.check != nil {
				st.check(t, r)
			}
		})
	}
	// Nothing is left in the temporary directory after all that.
	assertTmpEmpty(t, e.s)
}

func TestAuthorize(t *testing.T) {
	e := newEnv(t, Config{})
	e.mustContainer("data")
	e.mustPut("/data/dir/x.bin", []byte("x"))
	cases := []struct {
		name       string
		refuse     error
		method     string
		path       string
		wantReq    Request
		wantStatus int
		wantCode   string
	}{
		{"plain error is AuthorizationFailure", errors.New("secret detail"), "GET", "/data/dir/x.bin",
			Request{testAccount, "data", "dir/x.bin", OpGetBlob}, 403, CodeAuthorizationFailure},
		{"typed error keeps its code", armerror.New(CodeAuthenticationFailed, "", "bad signature"), "PUT", "/data/dir/x.bin",
			Request{testAccount, "data", "dir/x.bin", OpPutBlob}, 403, CodeAuthenticationFailed},
		{"unknown code is 403", armerror.New("AuthorizationSourceIPMismatch", "", "firewall"), "GET", "/?comp=list",
			Request{testAccount, "", "", OpListContainers}, 403, "AuthorizationSourceIPMismatch"},
		{"delete kind", errors.New("no"), "DELETE", "/data/dir/x.bin",
			Request{testAccount, "data", "dir/x.bin", OpDeleteBlob}, 403, CodeAuthorizationFailure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.setRefuse(c.refuse)
			r := e.do(c.method, c.path, "body")
			if r.status != c.wantStatus || r.code != c.wantCode {
				t.Fatalf("= %d %q, want %d %q", r.status, r.code, c.wantStatus, c.wantCode)
			}
			if e.lastSeen() != c.wantReq {
				t.Errorf("authorize saw %+v, want %+v", e.lastSeen(), c.wantReq)
			}
			if strings.Contains(string(r.body), "secret detail") {
				t.Errorf("the hook's error text leaked: %s", r.body)
			}
		})
	}
	e.setRefuse(nil)
	if r := e.do("GET", "/data/dir/x.bin", nil); r.status != 200 || string(r.body) != "x" {
		t.Errorf("after refusals the blob is %d %q", r.status, r.body)
	}
	if k := (Request{Operation: OpDeleteBlob}).Kind(); k != KindDelete || k.String() != "delete" {
		t.Errorf("DeleteBlob kind = %v", k)
	}
}

func TestParseRange(t *testing.T) {
	cases := []struct {
		h           string
		size        int64
		off, n      int64
		partial, ok bool
	}{
		{"", 10, 0, 10, false, true},
		{"bytes=0-0", 10, 0, 1, true, true},
		{"bytes=2-5", 10, 2, 4, true, true},
		{"bytes=2-", 10, 2, 8, true, true},
		{"bytes=-3", 10, 7, 3, true, true},
		{"bytes=-30", 10, 0, 10, true, true},
		{"bytes=9-100", 10, 9, 1, true, true},
		{"bytes=10-", 10, 0, 0, false, false},
		{"bytes=-0", 10, 0, 0, false, false},
		{"bytes=0-", 0, 0, 0, false, false},
		{"bytes=5-2", 10, 0, 10, false, true},
		{"bytes=1-2,4-5", 10, 0, 10, false, true},
		{"items=1-2", 10, 0, 10, false, true},
		{"bytes=+1-2", 10, 0, 10, false, true},
		{"bytes=99999999999999999999-", 10, 0, 10, false, true},
		{"bytes=-", 10, 0, 10, false, true},
	}
	for _, c := range cases {
		off, n, partial, ok := parseRange(c.h, c.size)
		if off != c.off || n != c.n || partial != c.partial || ok != c.ok {
			t.Errorf("parseRange(%q, %d) = %d %d %v %v, want %d %d %v %v", c.h, c.size, off, n, partial, ok, c.off, c.n, c.partial, c.ok)
		}
	}
}

func nonEmpty(t *testing.T, r resp, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if r.header.Get(k) == "" {
			t.Errorf("header %s missing", k)
		}
	}
}

func headers(t *testing.T, r resp, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func body(t *testing.T, r resp, want string) {
	t.Helper()
	if string(r.body) != want {
		t.Errorf("body = %q, want %q", truncate(string(r.body), 80), truncate(want, 80))
	}
}

func mustXML(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := xml.Unmarshal(b, v); err != nil {
		t.Fatalf("response is not the expected XML: %v\n%s", err, b)
	}
}

func assertTmpEmpty(t *testing.T, s *Store) {
	t.Helper()
	ents, err := readDirNames(s.tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("temporary directory holds %v", ents)
	}
}

var _ = fmt.Sprint
var _ = http.MethodGet
