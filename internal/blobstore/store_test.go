package blobstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

var ctx = context.Background()

// refList is the slow, obviously correct listing: every name, sorted,
// rolled up by delimiter. It is the oracle for ListBlobs' paging.
func refList(names []string, prefix, delim string) (blobs, prefixes []string) {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, n := range sorted {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(n[len(prefix):], delim); i >= 0 {
				p := n[:len(prefix)+i+len(delim)]
				if len(prefixes) == 0 || prefixes[len(prefixes)-1] != p {
					prefixes = append(prefixes, p)
				}
				continue
			}
		}
		blobs = append(blobs, n)
	}
	return blobs, prefixes
}

// listAll follows NextMarker through every page.
func listAll(t *testing.T, s *Store, o ListOptions) (blobs, prefixes []string, pages int) {
	t.Helper()
	for {
		page, err := s.ListBlobs(ctx, testAccount, "data", o)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if n := len(page.Blobs) + len(page.Prefixes); o.MaxResults > 0 && n > o.MaxResults {
			t.Fatalf("page of %d entries, maxresults %d", n, o.MaxResults)
		}
		for _, b := range page.Blobs {
			blobs = append(blobs, b.Name)
		}
		prefixes = append(prefixes, page.Prefixes...)
		if page.NextMarker == "" {
			return blobs, prefixes, pages
		}
		o.Marker = page.NextMarker
	}
}

func TestListPagingAgainstReference(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateContainer(ctx, testAccount, "data"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab/-"
	seen := map[string]bool{}
	var names []string
	for len(names) < 60 {
		b := make([]byte, 1+rng.IntN(6))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		n := string(b)
		if seen[n] {
			continue
		}
		seen[n] = true
		names = append(names, n)
		if _, err := s.PutBlob(ctx, testAccount, "data", n, strings.NewReader(n), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"", "a", "a/", "b/a", "zz"} {
		for _, delim := range []string{"", "/", "-", "a/"} {
			for _, max := range []int{1, 3, 7, 0} {
				t.Run(fmt.Sprintf("prefix=%q,delim=%q,max=%d", prefix, delim, max), func(t *testing.T) {
					gotB, gotP, _ := listAll(t, s, ListOptions{Prefix: prefix, Delimiter: delim, MaxResults: max})
					wantB, wantP := refList(names, prefix, delim)
					if !reflect.DeepEqual(gotB, wantB) || !reflect.DeepEqual(gotP, wantP) {
						t.Errorf("blobs %q prefixes %q\nwant blobs %q prefixes %q", gotB, gotP, wantB, wantP)
					}
				})
			}
		}
	}
}

// TestListThroughHandler pages a virtual directory tree over HTTP.
func TestListThroughHandler(t *testing.T) {
	e := newEnv(t, Config{})
	e.mustContainer("data")
	for _, n := range []string{"a.txt", "dir/1", "dir/2", "dir/sub/3", "dis", "z"} {
		e.mustPut("/data/"+n, []byte(n))
	}
	type page struct {
		Blobs, Prefixes []string
		Next            string
	}
	get := func(q url.Values) page {
		r := e.do("GET", "/data?restype=container&comp=list&"+q.Encode(), nil)
		if r.status != 200 {
			t.Fatalf("list %v: %d %s", q, r.status, r.body)
		}
		var x enumBlobsXML
		mustXML(t, r.body, &x)
		var p page
		for _, b := range x.Blobs.Blob {
			p.Blobs = append(p.Blobs, b.Name)
		}
		for _, b := range x.Blobs.BlobPrefix {
			p.Prefixes = append(p.Prefixes, b.Name)
		}
		p.Next = x.NextMarker
		return p
	}
	cases := []struct {
		name string
		q    url.Values
		want page
	}{
		{"root with delimiter", url.Values{"delimiter": {"/"}}, page{Blobs: []string{"a.txt", "dis", "z"}, Prefixes: []string{"dir/"}}},
		{"dir with delimiter", url.Values{"delimiter": {"/"}, "prefix": {"dir/"}}, page{Blobs: []string{"dir/1", "dir/2"}, Prefixes: []string{"dir/sub/"}}},
		{"flat prefix", url.Values{"prefix": {"di"}}, page{Blobs: []string{"dir/1", "dir/2", "dir/sub/3", "dis"}}},
		{"page 1", url.Values{"delimiter": {"/"}, "maxresults": {"2"}}, page{Blobs: []string{"a.txt"}, Prefixes: []string{"dir/"}, Next: "dis"}},
		{"page 2", url.Values{"delimiter": {"/"}, "maxresults": {"2"}, "marker": {"dis"}}, page{Blobs: []string{"dis", "z"}}},
		{"maxresults over 5000 clamps", url.Values{"maxresults": {"99999"}, "prefix": {"z"}}, page{Blobs: []string{"z"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := get(c.q); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestNamesCannotEscape puts hostile names through the handler: each is
// refused or stored under the root, round-trips, and creates no file
// named after it.
func TestNamesCannotEscape(t *testing.T) {
	e := newEnv(t, Config{})
	e.mustContainer("data")
	cases := []struct {
		name   string
		refuse bool
	}{
		{"../escape", false},
		{"../../../../../../tmp/escape", false},
		{"/abs/escape", false},
		{"a/../../escape", false},
		{"..", false},
		{".", false},
		{`..\..\escape`, false},
		{"a//b", false},
		{"dir/", false},
		{strings.Repeat("a", MaxBlobNameLength), false},
		{strings.Repeat("é", MaxBlobNameLength), false},
		{strings.Repeat("a", MaxBlobNameLength+1), true},
		{"a\x00b", true},
		{"bad\x01", true},
		{"\xff\xfe", true},
		{"\uFFFE", true},
	}
	for _, c := range cases {
		t.Run(truncate(c.name, 20), func(t *testing.T) {
			u := e.srv.URL + (&url.URL{Path: "/data/" + c.name}).EscapedPath()
			r := e.rawDo("PUT", u, c.name)
			if c.refuse {
				if r.status != 400 || r.code != CodeInvalidResourceName {
					t.Fatalf("PUT = %d %q, want 400 InvalidResourceName", r.status, r.code)
				}
				if err := ValidBlobName(c.name); err == nil {
					t.Errorf("ValidBlobName accepts what the handler refused")
				}
				return
			}
			if r.status != 201 {
				t.Fatalf("PUT = %d %s", r.status, r.body)
			}
			if r := e.rawDo("GET", u, nil); r.status != 200 || string(r.body) != c.name {
				t.Errorf("GET = %d %q", r.status, truncate(string(r.body), 40))
			}
			page, err := e.s.ListBlobs(ctx, testAccount, "data", ListOptions{Prefix: c.name, MaxResults: 1})
			if err != nil || len(page.Blobs) != 1 || page.Blobs[0].Name != c.name {
				t.Errorf("list = %+v, %v", page, err)
			}
		})
	}
	// Nothing outside the root, no file named after a blob inside it.
	parent := filepath.Dir(e.s.Root())
	if ents, _ := readDirNames(parent); len(ents) != 1 {
		t.Errorf("the root's parent holds %v", ents)
	}
	filepath.WalkDir(e.s.Root(), func(path string, d fs.DirEntry, err error) error {
		if strings.Contains(d.Name(), "escape") || strings.Contains(d.Name(), "aaaa") {
			t.Errorf("a file is named after a blob: %s", path)
		}
		return nil
	})
	if _, err := os.Stat("/tmp/escape"); err == nil {
		t.Errorf("/tmp/escape exists")
	}
}

// TestConcurrentPuts races writers of one blob against readers: every read
// sees one whole version (its bytes hash to its Content-MD5 and are one of
// the versions written) and the last writer's version remains.
func TestConcurrentPuts(t *testing.T) {
	e := newEnv(t, Config{})
	e.mustContainer("data")
	const writers, puts = 6, 4
	versions := map[string]bool{}
	var contents [writers][puts][]byte
	for w := range writers {
		for p := range puts {
			b := bytes.Repeat([]byte{byte('A' + w), byte('0' + p)}, (256<<10)+w*40000+p*1000)
			contents[w][p] = b
			sum := md5.Sum(b)
			versions[string(sum[:])] = true
		}
	}
	e.mustPut("/data/hot", contents[0][0])
	var wg sync.WaitGroup
	var done atomic.Bool
	var reads atomic.Int64
	for w := range writers {
		wg.Go(func() {
			for p := range puts {
				if _, err := e.s.PutBlob(ctx, testAccount, "data", "hot", bytes.NewReader(contents[w][p]), PutOptions{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	var rg sync.WaitGroup
	for range 3 {
		rg.Go(func() {
			for !done.Load() || reads.Load() == 0 {
				r := e.do("GET", "/data/hot", nil)
				sum := md5.Sum(r.body)
				if r.status != 200 || !versions[string(sum[:])] || b64md5(r.body) != r.header.Get("Content-MD5") {
					t.Errorf("torn read: status %d, %d bytes", r.status, len(r.body))
					return
				}
				reads.Add(1)
			}
		})
	}
	wg.Wait()
	done.Store(true)
	rg.Wait()
	b, err := e.s.OpenBlob(ctx, testAccount, "data", "hot", Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !versions[string(b.ContentMD5)] {
		t.Errorf("final version is none of those written")
	}
	assertTmpEmpty(t, e.s)
}

// TestFailedWritesLeaveNothing: an MD5 mismatch, an oversized body and a
// failed commit leave neither a blob nor a temporary file, and leave a
// previous version intact.
func TestFailedWritesLeaveNothing(t *testing.T) {
	e := newEnv(t, Config{MaxPutSize: 1 << 20})
	e.mustContainer("data")
	e.mustPut("/data/keep", []byte("v1"))
	e.mustPut("/data/staged?comp=block&blockid="+blockID(1), []byte("block"))
	cases := []struct {
		name, method, path string
		body               any
		hdr                []string
		code               string
	}{
		{"md5 mismatch new", "PUT", "/data/new", "data", []string{"Content-MD5", b64md5([]byte("other"))}, CodeMd5Mismatch},
		{"md5 mismatch existing", "PUT", "/data/keep", "v2", []string{"Content-MD5", b64md5([]byte("other"))}, CodeMd5Mismatch},
		{"blob md5 mismatch", "PUT", "/data/keep", "v2", []string{"x-ms-blob-content-md5", b64md5([]byte("other"))}, CodeMd5Mismatch},
		{"too large chunked", "PUT", "/data/keep", struct{ *bytes.Reader }{bytes.NewReader(make([]byte, 2<<20))}, nil, CodeRequestBodyTooLarge},
		{"commit md5 mismatch", "PUT", "/data/staged?comp=blocklist", "<BlockList><Latest>" + blockID(1) + "</Latest></BlockList>",
			[]string{"x-ms-blob-content-md5", b64md5([]byte("x"))}, CodeMd5Mismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.body, c.hdr...)
			if r.code != c.code {
				t.Fatalf("= %d %q, want %q: %s", r.status, r.code, c.code, r.body)
			}
			assertTmpEmpty(t, e.s)
			if r := e.do("GET", "/data/keep", nil); string(r.body) != "v1" {
				t.Errorf("keep = %q", r.body)
			}
			if r := e.do("GET", "/data/new", nil); r.status != 404 {
				t.Errorf("new exists")
			}
			if r := e.do("GET", "/data/staged", nil); r.status != 404 {
				t.Errorf("staged was committed")
			}
		})
	}
	// The failed commit kept the staged block: it still commits.
	if r := e.do("PUT", "/data/staged?comp=blocklist", "<BlockList><Latest>"+blockID(1)+"</Latest></BlockList>"); r.status != 201 {
		t.Fatalf("commit = %d %s", r.status, r.body)
	}
}

// TestUncommittedBlocksExpire: commit discards the other staged blocks;
// a sweep discards blocks older than BlockTTL by the store's clock.
func TestUncommittedBlocksExpire(t *testing.T) {
	var offset atomic.Int64
	s, err := OpenConfig(t.TempDir(), Config{BlockTTL: time.Hour, Now: func() time.Time {
		return time.Now().Add(time.Duration(offset.Load()))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateContainer(ctx, testAccount, "data"); err != nil {
		t.Fatal(err)
	}
	stage := func(blob string, ids ...int) {
		for _, id := range ids {
			if err := s.PutBlock(ctx, testAccount, "data", blob, blockID(id), strings.NewReader("b"), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	uncommitted := func(blob string) int {
		bl, err := s.GetBlockList(ctx, testAccount, "data", blob, true, true)
		if isCode(err, CodeBlobNotFound) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return len(bl.Uncommitted)
	}
	stage("committed", 1, 2, 3)
	if _, err := s.PutBlockList(ctx, testAccount, "data", "committed", []BlockRef{{ID: blockID(2)}}, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := uncommitted("committed"); n != 0 {
		t.Errorf("after commit %d blocks remain staged", n)
	}
	stage("pending", 1, 2)
	if err := s.SweepBlocks(ctx); err != nil || uncommitted("pending") != 2 {
		t.Fatalf("a fresh sweep dropped blocks (%v)", err)
	}
	offset.Store(int64(2 * time.Hour))
	if err := s.SweepBlocks(ctx); err != nil || uncommitted("pending") != 0 {
		t.Fatalf("an expired sweep kept blocks (%v)", err)
	}
	_, err = s.PutBlockList(ctx, testAccount, "data", "pending", []BlockRef{{ID: blockID(1)}}, PutOptions{})
	if e, ok := armerror.As(err); !ok || e.Code != CodeInvalidBlockList {
		t.Errorf("error is not typed: %v", err)
	}
}

func TestDeleteAccount(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, acct := range []string{"gone", "kept"} {
		if err := s.CreateContainer(ctx, acct, "box"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutBlob(ctx, acct, "box", "b", strings.NewReader("x"), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteAccount(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenBlob(ctx, "gone", "box", "b", Conditions{}); !isCode(err, CodeContainerNotFound) {
		t.Fatalf("a blob of a deleted account: %v, want ContainerNotFound", err)
	}
	if b, err := s.OpenBlob(ctx, "kept", "box", "b", Conditions{}); err != nil {
		t.Fatalf("another account's blob: %v", err)
	} else {
		b.Close()
	}
	if err := s.DeleteAccount(ctx, "never"); err != nil {
		t.Fatalf("an account without data: %v", err)
	}
}
