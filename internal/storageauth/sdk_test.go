package storageauth

// The Azure SDK for Go (azblob) is the oracle here: requests it signs with
// Shared Key, and SAS it makes, must verify; SAS this package makes must
// carry the signatures azblob computes for the same fields. Traffic goes to
// an httptest server on loopback serving the real blob store, whose
// authorize hook runs this package, as the server will.

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/blobstore"
)

const testAccount = "vnetmlacct"

// testNow is the fixed clock of the tests: the server's now, and the
// x-ms-date every SDK request carries.
var testNow = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// testKeys are the account's key1 and key2, fixed so that failures are
// reproducible.
var testKeys = [][]byte{bytes.Repeat([]byte{0x11}, KeySize), bytes.Repeat([]byte{0x22}, KeySize)}

// server is the blob store behind this package's verification.
type server struct {
	t      *testing.T
	srv    *httptest.Server
	caller netip.Addr // the caller's virtual address, for sip

	mu       sync.Mutex
	verified int     // requests that passed verification
	failures []error // verification failures, in order
}

func newServer(t *testing.T) *server {
	t.Helper()
	st, err := blobstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, caller: netip.MustParseAddr("10.1.0.4")}
	accountOf := func(r *http.Request) (string, bool) {
		host, _, _ := strings.Cut(r.Host, ":")
		acct, ok := strings.CutSuffix(host, ".blob.core.windows.net")
		return acct, ok
	}
	s.srv = httptest.NewServer(st.Handler(accountOf, s.authorize))
	t.Cleanup(s.srv.Close)
	return s
}

// authorize is what the server's hook will do: a SAS if the query has one,
// Shared Key otherwise.
func (s *server) authorize(r *http.Request, req blobstore.Request) error {
	err := s.check(r, req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failures = append(s.failures, err)
	} else {
		s.verified++
	}
	return err
}

func (s *server) check(r *http.Request, req blobstore.Request) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	sas, ok, err := ParseSAS(q)
	switch {
	case err != nil:
		return err
	case ok:
		return sas.Verify(req.Account, testKeys, accessOf(req, r), s.caller, r.TLS != nil, testNow)
	}
	return VerifySharedKey(r, req.Account, testKeys, testNow)
}

// accessOf maps the blob store's request onto an Access, as the server
// will (docs/storage-auth.md has the table).
func accessOf(req blobstore.Request, r *http.Request) Access {
	var k Kind
	switch req.Operation {
	case blobstore.OpCreateContainer:
		k = KindCreate
	case blobstore.OpPutBlob, blobstore.OpPutBlockList:
		k = KindWrite
		if r.Header.Get("If-None-Match") == "*" {
			k = KindCreate
		}
	default:
		switch req.Kind() {
		case blobstore.KindRead:
			k = KindRead
		case blobstore.KindWrite:
			k = KindWrite
		case blobstore.KindDelete:
			k = KindDelete
		case blobstore.KindList:
			k = KindList
		}
	}
	return NewAccess(k, req.Container, req.Blob)
}

// take returns and resets the counts.
func (s *server) take() (verified int, failures []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	verified, failures = s.verified, s.failures
	s.verified, s.failures = 0, nil
	return verified, failures
}

// expectVerified fails the test unless at least one request was verified
// since the last call and none failed.
func (s *server) expectVerified(step string) {
	s.t.Helper()
	n, fails := s.take()
	for _, err := range fails {
		s.t.Errorf("%s: verification failed: %v", step, err)
	}
	if n == 0 {
		s.t.Errorf("%s: no request reached verification", step)
	}
}

// hook is a per-call azcore policy that lets a test change each request
// before the SDK signs it; it always pins x-ms-date to testNow.
type hook struct {
	mu sync.Mutex
	fn func(*http.Request)
}

func (h *hook) set(fn func(*http.Request)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fn = fn
}

func (h *hook) Do(req *policy.Request) (*http.Response, error) {
	r := req.Raw()
	// azblob looks x-ms-date up by this exact map key, and sets it only if
	// absent.
	r.Header["x-ms-date"] = []string{testNow.Format(http.TimeFormat)}
	h.mu.Lock()
	fn := h.fn
	h.mu.Unlock()
	if fn != nil {
		fn(r)
	}
	return req.Next()
}

// clientOptions routes every request, whatever its host, to the test server
// on loopback, and installs the hook.
func (s *server) clientOptions(h *hook) azcore.ClientOptions {
	addr := s.srv.Listener.Addr().String()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}}
	s.t.Cleanup(tr.CloseIdleConnections)
	return azcore.ClientOptions{
		Transport:       &http.Client{Transport: tr},
		PerCallPolicies: []policy.Policy{h},
		Retry:           policy.RetryOptions{MaxRetries: -1},
	}
}

const accountURL = "http://" + testAccount + ".blob.core.windows.net/"

func sharedKeyClient(t *testing.T, s *server, key []byte, h *hook) *azblob.Client {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(testAccount, FormatKey(key))
	if err != nil {
		t.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(accountURL, cred, &azblob.ClientOptions{ClientOptions: s.clientOptions(h)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func body(s string) io.ReadSeekCloser { return streaming.NopCloser(strings.NewReader(s)) }

// TestSDKSharedKey runs the blob operations the data plane serves through
// azblob's Shared Key policy; the server verifies each with
// VerifySharedKey.
func TestSDKSharedKey(t *testing.T) {
	ctx := t.Context()
	s := newServer(t)
	h := &hook{}
	c := sharedKeyClient(t, s, testKeys[1], h) // key2: either key verifies

	if _, err := c.CreateContainer(ctx, "data", nil); err != nil {
		t.Fatal("create container:", err)
	}
	s.expectVerified("create container")

	bc := c.ServiceClient().NewContainerClient("data").NewBlockBlobClient("dir/hello world.txt")
	content := "hello, shared key"
	sum := md5.Sum([]byte(content))
	h.set(func(r *http.Request) { r.Header.Set("Content-Language", "en-GB") })
	_, err := bc.Upload(ctx, body(content), &blockblob.UploadOptions{
		// Mixed case, digits and underscores, in the order only Azure's
		// collation gives (i_ before i0).
		Metadata:                map[string]*string{"MixedCase": to.Ptr("v1"), "i0": to.Ptr("a"), "i_": to.Ptr("b"), "Sp": to.Ptr("two  spaces")},
		HTTPHeaders:             &blob.HTTPHeaders{BlobContentType: to.Ptr("text/plain"), BlobContentLanguage: to.Ptr("en")},
		TransactionalValidation: blob.TransferValidationTypeMD5(sum[:]),
		AccessConditions:        &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}},
	})
	h.set(nil)
	if err != nil {
		t.Fatal("put blob:", err)
	}
	s.expectVerified("put blob")

	props, err := bc.GetProperties(ctx, &blob.GetPropertiesOptions{AccessConditions: &blob.AccessConditions{
		ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfModifiedSince: to.Ptr(testNow.Add(-24 * time.Hour))}}})
	if err != nil {
		t.Fatal("get blob properties:", err)
	}
	s.expectVerified("get blob properties")
	if got := props.Metadata; got == nil || *got["Sp"] != "two  spaces" {
		t.Errorf("metadata = %v", got)
	}

	// Put Block (blockid is base64, %-encoded in the query), Put Block
	// List with If-Match.
	big := c.ServiceClient().NewContainerClient("data").NewBlockBlobClient("big.bin")
	ids := []string{"YmxvY2stMDAx", "YmxvY2stMDAy"}
	for i, id := range ids {
		part := strings.Repeat(string(rune('a'+i)), 1000)
		psum := md5.Sum([]byte(part))
		if _, err := big.StageBlock(ctx, id, body(part), &blockblob.StageBlockOptions{TransactionalValidation: blob.TransferValidationTypeMD5(psum[:])}); err != nil {
			t.Fatal("put block:", err)
		}
	}
	s.expectVerified("put block")
	if _, err := big.CommitBlockList(ctx, ids, nil); err != nil {
		t.Fatal("put block list:", err)
	}
	s.expectVerified("put block list")
	p2, err := big.GetProperties(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := big.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{AccessConditions: &blob.AccessConditions{
		ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: p2.ETag}}}); err != nil {
		t.Fatal("put block list with If-Match:", err)
	}
	s.expectVerified("put block list with If-Match")

	// Get Blob with a range (x-ms-range), and with a Range header, which
	// the string-to-sign carries on its own line.
	for _, tc := range []struct {
		name string
		opts *blob.DownloadStreamOptions
		hook func(*http.Request)
		want string
	}{
		{"x-ms-range", &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: 998, Count: 4}}, nil, "aabb"},
		{"Range", nil, func(r *http.Request) { r.Header.Set("Range", "bytes=1-3") }, "aaa"},
	} {
		h.set(tc.hook)
		res, err := big.DownloadStream(ctx, tc.opts)
		h.set(nil)
		if err != nil {
			t.Fatalf("get blob (%s): %v", tc.name, err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || string(got) != tc.want {
			t.Fatalf("get blob (%s) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
		s.expectVerified("get blob " + tc.name)
	}

	// List Blobs a page at a time (prefix, maxresults, then marker), with
	// include=metadata, and with repeated query parameters added before
	// signing.
	for _, name := range []string{"dir/a", "dir/b", "dir/c"} {
		if _, err := c.UploadBuffer(ctx, "data", name, []byte(name), nil); err != nil {
			t.Fatal(err)
		}
	}
	s.take()
	h.set(func(r *http.Request) {
		q := r.URL.Query()
		q["zz"] = []string{"b", "a", "c"}
		q["aa"] = []string{"1"}
		r.URL.RawQuery = q.Encode()
	})
	pager := c.NewListBlobsFlatPager("data", &azblob.ListBlobsFlatOptions{
		Prefix: to.Ptr("dir/"), MaxResults: to.Ptr(int32(2)), Include: container.ListBlobsInclude{Metadata: true}})
	var names []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal("list blobs:", err)
		}
		for _, b := range page.Segment.BlobItems {
			names = append(names, *b.Name)
		}
	}
	h.set(nil)
	s.expectVerified("list blobs")
	if want := "dir/a dir/b dir/c dir/hello world.txt"; strings.Join(names, " ") != want {
		t.Errorf("listed %q, want %q", names, want)
	}

	cpager := c.NewListContainersPager(&azblob.ListContainersOptions{Prefix: to.Ptr("da"), MaxResults: to.Ptr(int32(1))})
	for cpager.More() {
		if _, err := cpager.NextPage(ctx); err != nil {
			t.Fatal("list containers:", err)
		}
	}
	s.expectVerified("list containers")

	if _, err := c.DeleteBlob(ctx, "data", "dir/a", nil); err != nil {
		t.Fatal("delete blob:", err)
	}
	s.expectVerified("delete blob")
	if _, err := c.DeleteContainer(ctx, "data", nil); err != nil {
		t.Fatal("delete container:", err)
	}
	s.expectVerified("delete container")
}

// TestSDKSharedKeyHeaderOrder sends requests whose x-ms-* headers have
// random names over the characters on which Azure's collation and byte
// order disagree; each must verify, so the two sorts agree on all of them.
func TestSDKSharedKeyHeaderOrder(t *testing.T) {
	ctx := t.Context()
	s := newServer(t)
	h := &hook{}
	c := sharedKeyClient(t, s, testKeys[0], h)
	if _, err := c.CreateContainer(ctx, "order", nil); err != nil {
		t.Fatal(err)
	}
	s.take()
	cc := c.ServiceClient().NewContainerClient("order")
	const alphabet = "ab_-'09.~!"
	rng := newRand(7)
	for i := range 50 {
		h.set(func(r *http.Request) {
			for range 6 {
				b := []byte("x-ms-t")
				for range 1 + rng.IntN(4) {
					b = append(b, alphabet[rng.IntN(len(alphabet))])
				}
				r.Header[string(b)] = []string{"v"} // as sent, not canonicalized
			}
		})
		if _, err := cc.GetProperties(ctx, nil); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		h.set(nil)
		s.expectVerified("random header names")
	}
}

// TestSDKSharedKeyWrongKey: a request signed with a key the account does
// not have is answered 403 AuthenticationFailed, which the SDK reports.
func TestSDKSharedKeyWrongKey(t *testing.T) {
	s := newServer(t)
	c := sharedKeyClient(t, s, bytes.Repeat([]byte{0x33}, KeySize), &hook{})
	_, err := c.CreateContainer(t.Context(), "data", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || re.ErrorCode != CodeAuthenticationFailed {
		t.Fatalf("err = %v, want 403 %s", err, CodeAuthenticationFailed)
	}
	_, fails := s.take()
	if len(fails) != 1 {
		t.Fatalf("failures = %v", fails)
	}
	e, _ := armerror.As(fails[0])
	if e == nil || e.Code != CodeAuthenticationFailed || e.Target != "Authorization" || !strings.Contains(e.Message, `\n/vnetmlacct/data\nrestype:container`) {
		t.Fatalf("error = %v", fails[0])
	}
}

func sdkCred(t *testing.T, key []byte) *azblob.SharedKeyCredential {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(testAccount, FormatKey(key))
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// TestSDKServiceSAS verifies service SAS made by azblob's sas package.
func TestSDKServiceSAS(t *testing.T) {
	cred := sdkCred(t, testKeys[0])
	start, expiry := testNow.Add(-time.Hour), testNow.Add(time.Hour)
	for _, tc := range []struct {
		name string
		v    sas.BlobSignatureValues
		a    Access
	}{
		{"blob read", sas.BlobSignatureValues{
			ContainerName: "data", BlobName: "dir/hello world.txt", StartTime: start, ExpiryTime: expiry,
			Permissions: (&sas.BlobPermissions{Read: true}).String()}, NewAccess(KindRead, "data", "dir/hello world.txt")},
		{"blob create with every optional field", sas.BlobSignatureValues{
			ContainerName: "data", BlobName: "a+b=c&d", ExpiryTime: expiry, Protocol: sas.ProtocolHTTPSandHTTP,
			IPRange:     sas.IPRange{Start: net.ParseIP("10.1.0.1"), End: net.ParseIP("10.1.0.9")},
			Permissions: (&sas.BlobPermissions{Create: true, Write: true, Tag: true}).String(), EncryptionScope: "scope1",
			CacheControl: "no-cache", ContentDisposition: "attachment; filename=\"x y.txt\"", ContentEncoding: "gzip",
			ContentLanguage: "fr", ContentType: "text/csv; charset=utf-8"}, NewAccess(KindCreate, "data", "a+b=c&d")},
		{"container list", sas.BlobSignatureValues{
			ContainerName: "data", ExpiryTime: expiry, Permissions: (&sas.ContainerPermissions{Read: true, List: true}).String()},
			NewAccess(KindList, "data", "")},
		{"container covers its blobs", sas.BlobSignatureValues{
			ContainerName: "data", ExpiryTime: expiry, Permissions: (&sas.ContainerPermissions{Delete: true}).String()},
			NewAccess(KindDelete, "data", "any/blob")},
		{"azblob's default version", sas.BlobSignatureValues{Version: "",
			ContainerName: "data", BlobName: "b", ExpiryTime: expiry, Permissions: "r"}, NewAccess(KindRead, "data", "b")},
		{"oldest supported version", sas.BlobSignatureValues{Version: SASVersion,
			ContainerName: "data", BlobName: "b", ExpiryTime: expiry, Permissions: "r"}, NewAccess(KindRead, "data", "b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qp, err := tc.v.SignWithSharedKey(cred)
			if err != nil {
				t.Fatal(err)
			}
			verifyQuery(t, qp.Encode(), tc.a)
		})
	}
}

// TestSDKAccountSAS verifies account SAS made by azblob's sas package.
func TestSDKAccountSAS(t *testing.T) {
	cred := sdkCred(t, testKeys[1])
	v := sas.AccountSignatureValues{
		Protocol: sas.ProtocolHTTPSandHTTP, StartTime: testNow.Add(-time.Minute), ExpiryTime: testNow.Add(time.Minute),
		Permissions:   (&sas.AccountPermissions{Read: true, Write: true, List: true, Create: true, Delete: true, Tag: true}).String(),
		ResourceTypes: (&sas.AccountResourceTypes{Service: true, Container: true, Object: true}).String(),
		IPRange:       sas.IPRange{Start: net.ParseIP("10.1.0.4")}, EncryptionScope: "scope1",
	}
	qp, err := v.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Access{
		NewAccess(KindList, "", ""),
		NewAccess(KindCreate, "data", ""),
		NewAccess(KindRead, "data", "x"),
		NewAccess(KindDelete, "data", "x"),
	} {
		verifyQuery(t, qp.Encode(), a)
	}
}

func verifyQuery(t *testing.T, query string, a Access) {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	s, ok, err := ParseSAS(q)
	if err != nil || !ok {
		t.Fatalf("ParseSAS(%s) = %v, %v", query, ok, err)
	}
	if err := s.Verify(testAccount, testKeys, a, netip.MustParseAddr("10.1.0.4"), true, testNow); err != nil {
		t.Fatalf("Verify(%s, %+v): %v", query, a, err)
	}
}

// TestSDKSASEndToEnd uses SAS URLs with azblob clients that hold no key:
// an account SAS from azblob, and a container SAS from SignServiceSAS.
func TestSDKSASEndToEnd(t *testing.T) {
	ctx := t.Context()
	s := newServer(t)
	opts := s.clientOptions(&hook{})

	acct, err := sas.AccountSignatureValues{
		ExpiryTime:    testNow.Add(time.Hour),
		Permissions:   (&sas.AccountPermissions{Read: true, Write: true, Create: true, List: true, Delete: true}).String(),
		ResourceTypes: (&sas.AccountResourceTypes{Service: true, Container: true, Object: true}).String(),
	}.SignWithSharedKey(sdkCred(t, testKeys[0]))
	if err != nil {
		t.Fatal(err)
	}
	c, err := azblob.NewClientWithNoCredential(accountURL+"?"+acct.Encode(), &azblob.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateContainer(ctx, "data", nil); err != nil {
		t.Fatal("create container with an account SAS:", err)
	}
	if _, err := c.UploadBuffer(ctx, "data", "one", []byte("1"), nil); err != nil {
		t.Fatal("put blob with an account SAS:", err)
	}
	pager := c.NewListContainersPager(nil)
	for pager.More() {
		if _, err := pager.NextPage(ctx); err != nil {
			t.Fatal("list containers with an account SAS:", err)
		}
	}
	s.expectVerified("account SAS")

	q, err := SignServiceSAS(testAccount, testKeys[1], ServiceSASParams{
		Container: "data", Permissions: PermRead | PermCreate | PermWrite | PermList, Expiry: testNow.Add(time.Hour),
		IPRange: IPRange{First: netip.MustParseAddr("10.1.0.0"), Last: netip.MustParseAddr("10.1.0.255")},
	})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := container.NewClientWithNoCredential(accountURL+"data?"+q.Encode(), &container.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.NewBlockBlobClient("two").UploadBuffer(ctx, []byte("22"), nil); err != nil {
		t.Fatal("put blob with a container SAS:", err)
	}
	res, err := cc.NewBlobClient("one").DownloadStream(ctx, nil)
	if err != nil {
		t.Fatal("get blob with a container SAS:", err)
	}
	res.Body.Close()
	bp := cc.NewListBlobsFlatPager(nil)
	for bp.More() {
		if _, err := bp.NextPage(ctx); err != nil {
			t.Fatal("list blobs with a container SAS:", err)
		}
	}
	s.expectVerified("container SAS")

	// The container SAS has no d, and covers no container operation but
	// listing.
	_, err = cc.NewBlobClient("one").Delete(ctx, nil)
	expectResponse(t, err, CodeAuthorizationPermissionMismatch)
	_, err = cc.Delete(ctx, nil)
	expectResponse(t, err, CodeAuthorizationResourceTypeMismatch)
	s.take()

	// A caller outside sip.
	s.caller = netip.MustParseAddr("10.2.0.1")
	_, err = cc.NewBlobClient("one").GetProperties(ctx, nil)
	expectResponse(t, err, CodeAuthorizationSourceIPMismatch)
	s.take()
}

func expectResponse(t *testing.T, err error, code string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != Status(code) || re.ErrorCode != code {
		t.Fatalf("err = %v, want %d %s", err, Status(code), code)
	}
}

// TestSignServiceSASMatchesSDK: for the same fields, SignServiceSAS and
// SignAccountSAS produce azblob's signature (and query), and the result
// verifies.
func TestSignServiceSASMatchesSDK(t *testing.T) {
	cred := sdkCred(t, testKeys[0])
	start, expiry := testNow.Add(-time.Hour), testNow.Add(time.Hour)
	ipr := IPRange{First: netip.MustParseAddr("10.1.0.1"), Last: netip.MustParseAddr("10.1.0.9")}
	for _, tc := range []struct {
		name string
		ours ServiceSASParams
		sdk  sas.BlobSignatureValues
	}{
		{"blob, minimal",
			ServiceSASParams{Container: "data", Blob: "dir/x.txt", Permissions: PermRead, Expiry: expiry},
			sas.BlobSignatureValues{ContainerName: "data", BlobName: "dir/x.txt", Permissions: "r", ExpiryTime: expiry}},
		{"blob, every field",
			ServiceSASParams{Container: "data", Blob: "a b+c", Permissions: PermWrite | PermRead | PermCreate | PermDelete | PermTag,
				Start: start, Expiry: expiry, IPRange: ipr, Protocol: ProtocolHTTPS, EncryptionScope: "s1",
				CacheControl: "no-store", ContentDisposition: "inline", ContentEncoding: "br", ContentLanguage: "de", ContentType: "a/b"},
			sas.BlobSignatureValues{ContainerName: "data", BlobName: "a b+c", Permissions: "wrcdt", StartTime: start, ExpiryTime: expiry,
				IPRange: sas.IPRange{Start: net.ParseIP("10.1.0.1"), End: net.ParseIP("10.1.0.9")}, Protocol: sas.ProtocolHTTPS,
				EncryptionScope: "s1", CacheControl: "no-store", ContentDisposition: "inline", ContentEncoding: "br", ContentLanguage: "de", ContentType: "a/b"}},
		{"container",
			ServiceSASParams{Container: "data", Permissions: PermList | PermRead | PermFilter, Expiry: expiry, Protocol: ProtocolHTTPSAndHTTP},
			sas.BlobSignatureValues{ContainerName: "data", Permissions: "lrf", ExpiryTime: expiry, Protocol: sas.ProtocolHTTPSandHTTP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, version := range []string{SASVersion, sas.Version} {
				tc.ours.Version, tc.sdk.Version = version, version
				ours, err := SignServiceSAS(testAccount, testKeys[0], tc.ours)
				if err != nil {
					t.Fatal(err)
				}
				qp, err := tc.sdk.SignWithSharedKey(cred)
				if err != nil {
					t.Fatal(err)
				}
				if ours.Get("sig") != qp.Signature() {
					t.Fatalf("sv=%s: sig %s, azblob's %s", version, ours.Get("sig"), qp.Signature())
				}
				if ours.Encode() != qp.Encode() {
					t.Errorf("sv=%s: query\n %s\nazblob's\n %s", version, ours.Encode(), qp.Encode())
				}
				k := KindRead
				if tc.ours.Blob == "" {
					k = KindList
				}
				verifyQuery(t, ours.Encode(), NewAccess(k, "data", tc.ours.Blob))
			}
		})
	}

	ours, err := SignAccountSAS(testAccount, testKeys[0], AccountSASParams{
		ResourceTypes: ResourceObject | ResourceService, Permissions: PermList | PermRead | PermCreate | PermUpdate,
		Start: start, Expiry: expiry, IPRange: ipr, Protocol: ProtocolHTTPS, EncryptionScope: "s2", Version: sas.Version,
	})
	if err != nil {
		t.Fatal(err)
	}
	qp, err := sas.AccountSignatureValues{
		ResourceTypes: "so", Permissions: "lrcu", StartTime: start, ExpiryTime: expiry,
		IPRange: sas.IPRange{Start: net.ParseIP("10.1.0.1"), End: net.ParseIP("10.1.0.9")}, Protocol: sas.ProtocolHTTPS, EncryptionScope: "s2",
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	if ours.Get("sig") != qp.Signature() || ours.Encode() != qp.Encode() {
		t.Fatalf("account SAS\n %s\nazblob's\n %s", ours.Encode(), qp.Encode())
	}
	verifyQuery(t, ours.Encode(), NewAccess(KindRead, "c", "b"))
}
