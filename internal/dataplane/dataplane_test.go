package dataplane

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/blobstore"
	"github.com/vnetml/vnetml/internal/storageauth"
)

// The end-to-end tests of the front ends (firewall matrix, auth, restart)
// are in internal/apiserver, where a whole server runs; these are the
// package's own pieces.

func TestRefusalLimit(t *testing.T) {
	var l refusalLimit
	k := netip.MustParseAddrPort("198.18.1.4:443")
	other := netip.MustParseAddrPort("198.18.1.5:443")
	t0 := time.Unix(1000, 0)
	for i := range refusalsLogged {
		if _, ok := l.admit(k, t0); !ok {
			t.Fatalf("refusal %d of the first second was not logged", i+1)
		}
	}
	for range 5 {
		if _, ok := l.admit(k, t0.Add(500*time.Millisecond)); ok {
			t.Fatal("a refusal beyond the limit was logged")
		}
	}
	if _, ok := l.admit(other, t0); !ok {
		t.Fatal("another front end's refusal was held back by this one's flood")
	}
	extra, ok := l.admit(k, t0.Add(time.Second))
	if !ok || extra != 5 {
		t.Fatalf("next second: logged %v, %d left out reported; want true, 5", ok, extra)
	}
	if extra, _ := l.admit(k, t0.Add(time.Second)); extra != 0 {
		t.Fatalf("the count of left-out refusals was reported twice (%d)", extra)
	}
}

func TestStorageKind(t *testing.T) {
	put := func(hdr string) *http.Request {
		r, _ := http.NewRequest(http.MethodPut, "https://a.blob.core.windows.net/c/b", nil)
		if hdr != "" {
			r.Header.Set("If-None-Match", hdr)
		}
		return r
	}
	cases := []struct {
		r    *http.Request
		op   blobstore.Operation
		want storageauth.Kind
	}{
		{put(""), blobstore.OpCreateContainer, storageauth.KindCreate},
		{put("*"), blobstore.OpPutBlob, storageauth.KindCreate},
		{put(""), blobstore.OpPutBlob, storageauth.KindWrite},
		{put(""), blobstore.OpPutBlock, storageauth.KindWrite},
		{put(""), blobstore.OpDeleteBlob, storageauth.KindDelete},
		{put(""), blobstore.OpListBlobs, storageauth.KindList},
		{put(""), blobstore.OpGetBlob, storageauth.KindRead},
		{put(""), blobstore.OpGetBlockList, storageauth.KindRead},
	}
	for _, c := range cases {
		if got := storageKind(c.r, blobstore.Request{Operation: c.op}); got != c.want {
			t.Errorf("%v: %v, want %v", c.op, got, c.want)
		}
	}
}
