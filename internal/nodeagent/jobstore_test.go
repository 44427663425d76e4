package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/job"
	"github.com/vnetml/vnetml/internal/storageauth"
)

// Files over the single-put size go up in blocks; the blob is whole
// either way, and names are escaped segment by segment.
func TestUpload(t *testing.T) {
	t.Parallel()
	c := newTestCloud(t)
	e := c.egress()
	up := newUplink()
	if err := up.set(e.url); err != nil {
		t.Fatal(err)
	}
	cli := newHTTPClient(up.current(), c.ca.Pool())
	defer cli.CloseIdleConnections()
	ctr, err := parseContainer(job.Artifacts{URL: c.sas(artContainer, "", storageauth.PermCreate|storageauth.PermWrite), Prefix: "p/"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(ctr.base)
	tr := newTransfer("Finalizing", testNodeAddr, "upload the outputs to storage account mystore", u)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		maxPut        int64
	}{
		{"empty", "", 10},
		{"one put", "0123456789", 10},
		{"blocks", strings.Repeat("abcdefg", 5) + "xy", 10},
		{"a name/with spaces & ?", "q", 10},
	} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if jerr := (uploader{cli: cli, maxPut: tc.maxPut, block: 7}).upload(context.Background(), ctr, "p/"+tc.name, p, tr); jerr != nil {
			t.Fatalf("%s: %+v", tc.name, jerr)
		}
		if got, ok := c.blob(artContainer, "p/"+tc.name); !ok || got != tc.content {
			t.Errorf("%s: blob %q (exists %v), want %q", tc.name, got, ok, tc.content)
		}
	}
}

// How a failed transfer is explained, for each way it can fail.
func TestTransferExplains(t *testing.T) {
	u, _ := url.Parse("https://" + storageHost + "/c/b?sig=secret")
	tr := newTransfer("Preparing", testNodeAddr, "download the snapshot from storage account mystore", u)
	const head = "Preparing failed: node 10.0.0.5 could not download the snapshot from storage account mystore "
	for _, tc := range []struct {
		name      string
		err       error
		code, msg string
	}{
		{"denied", &url.Error{Op: "Get", URL: u.String(), Err: &proxyRefusal{Status: 403, Denied: true, Destination: "198.18.1.4:443", Message: deniedPrefix + deniedRule}},
			job.CodeNetwork, head + "(198.18.1.4:443): " + deniedRule},
		{"unreachable", &proxyRefusal{Status: 502, Destination: "198.18.1.4:443", Message: "vnetml egress: 198.18.1.4:443 refused the connection: nothing listens"},
			job.CodeNetwork, head + "(198.18.1.4:443): vnetml egress: 198.18.1.4:443 refused the connection: nothing listens"},
		{"timed out", &proxyRefusal{Status: 504, Message: "vnetml egress: connecting to 198.18.1.4:443 timed out: i/o timeout"},
			job.CodeNetwork, head + "(mystore.blob.core.windows.net:443): vnetml egress: connecting to 198.18.1.4:443 timed out: i/o timeout"},
		{"proxy credentials", &proxyRefusal{Status: 407, Message: "vnetml egress: this proxy serves only the processes of its endpoint"},
			job.CodeSystem, head + "(mystore.blob.core.windows.net:443): the node's egress proxy refused the node's credentials: vnetml egress: this proxy serves only the processes of its endpoint"},
		{"deadline", &url.Error{Op: "Get", URL: u.String(), Err: context.DeadlineExceeded},
			job.CodeNetwork, head + "(mystore.blob.core.windows.net:443): no answer in time: context deadline exceeded"},
		{"other", &url.Error{Op: "Get", URL: u.String(), Err: errors.New("EOF")},
			job.CodeNetwork, head + "(mystore.blob.core.windows.net:443): EOF"},
	} {
		got := tr.failed(tc.err)
		if d := cmp.Diff(&job.Error{Code: tc.code, Message: tc.msg}, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
		if strings.Contains(got.Message, "secret") {
			t.Errorf("%s: the message shows the SAS: %s", tc.name, got.Message)
		}
	}

	resp := func(code int, body string) *http.Response {
		return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), Header: http.Header{},
			Body: http.NoBody, ContentLength: int64(len(body))}
	}
	withBody := func(r *http.Response, body string) *http.Response {
		r.Body = readCloser{strings.NewReader(body)}
		return r
	}
	for _, tc := range []struct {
		name      string
		resp      *http.Response
		code, msg string
	}{
		{"firewall", withBody(resp(403, ""), `<?xml version="1.0"?><Error><Code>AuthorizationFailure</Code><Message>Not authorized.
RequestId:abc
Time:2024</Message></Error>`), job.CodeNetwork, head + "(mystore.blob.core.windows.net:443): the storage account's firewall refused it: AuthorizationFailure: Not authorized."},
		{"missing", withBody(resp(404, ""), `<Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.</Message></Error>`),
			job.CodeSnapshot, head + "(mystore.blob.core.windows.net:443): BlobNotFound: The specified blob does not exist."},
		{"sas", withBody(resp(403, ""), `<Error><Code>AuthenticationFailed</Code><Message>Signature did not match.</Message></Error>`),
			job.CodeSystem, head + "(mystore.blob.core.windows.net:443): storage answered 403 Forbidden: AuthenticationFailed: Signature did not match."},
	} {
		if d := cmp.Diff(&job.Error{Code: tc.code, Message: tc.msg}, tr.refused(tc.resp, job.CodeSnapshot)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// Outputs are the regular files under outputs/, never what a link
// points to.
func TestOutputsSkipsLinks(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.txt", "d/b.txt", "d/e/c.txt"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(f), 0o600)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
		t.Skip("no symlinks:", err)
	}
	os.Symlink("/etc", filepath.Join(dir, "etc"))
	got, err := outputs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a.txt", "d/b.txt", "d/e/c.txt"}, got); d != "" {
		t.Errorf("outputs (-want +got):\n%s", d)
	}
	if got, err := outputs(filepath.Join(dir, "none")); err != nil || len(got) != 0 {
		t.Errorf("no outputs directory: %v, %v", got, err)
	}
}

// The cache keeps the most recently used snapshots.
func TestSnapshotCachePrunes(t *testing.T) {
	c := &snapshotCache{dir: t.TempDir(), keep: 2}
	now := time.Now()
	for i, name := range []string{"a", "b", "c", "d"} {
		p := c.path(name)
		os.WriteFile(p, nil, 0o600)
		at := now.Add(time.Duration(i) * time.Minute)
		if name == "a" {
			at = now.Add(time.Hour) // used last
		}
		os.Chtimes(p, at, at)
	}
	c.prune()
	var left []string
	for _, name := range []string{"a", "b", "c", "d"} {
		if _, err := os.Stat(c.path(name)); err == nil {
			left = append(left, name)
		}
	}
	if d := cmp.Diff([]string{"a", "d"}, left); d != "" {
		t.Errorf("kept (-want +got):\n%s", d)
	}
}
