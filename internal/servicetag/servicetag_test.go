package servicetag

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
)

// RealFile is the real Azure tag file kept beside the repository.
const RealFile = "../../../shared/data/ServiceTags_Public.json"

func loadReal(t testing.TB) *Registry {
	t.Helper()
	f, err := os.Open(RealFile)
	if err != nil {
		t.Skipf("real service tag file not available (%v); it lives in ../shared/data", err)
	}
	defer f.Close()
	r, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLoadRealFile(t *testing.T) {
	r := loadReal(t)
	if r.Len() != 3039 || r.ChangeNumber() != 375 || r.Cloud() != "Public" || r.IsLocalCloud() {
		t.Fatalf("Len=%d ChangeNumber=%d Cloud=%q local=%v", r.Len(), r.ChangeNumber(), r.Cloud(), r.IsLocalCloud())
	}
	st, ok := r.Lookup("STORAGE.eastus") // spec §2.1: case-insensitive
	if !ok {
		t.Fatal("Storage.EastUS not found case-insensitively")
	}
	if st.Name != "Storage.EastUS" || len(st.V4) != 119 || len(st.V6) != 5 || st.Region != "eastus" {
		t.Errorf("Storage.EastUS: name %q v4 %d v6 %d region %q; want 119 v4 and 5 v6 kept apart", st.Name, len(st.V4), len(st.V6), st.Region)
	}
	if b, _ := r.Lookup("BatchNodeManagement.EastUS"); b == nil || len(b.V4)+len(b.V6) != 18 {
		t.Errorf("BatchNodeManagement.EastUS: %+v", b)
	}
	if c, _ := r.Lookup("azurecloud.EASTUS"); c == nil || c.Name != "AzureCloud.eastus" {
		t.Errorf("AzureCloud.eastus lookup: %+v", c)
	}
	for _, name := range []string{"VirtualNetwork", "Internet", "AzureLoadBalancer"} {
		if _, ok := r.Lookup(name); ok {
			t.Errorf("%s is computed and must not be published", name)
		}
		if !r.HasTag(strings.ToLower(name)) {
			t.Errorf("HasTag(%s) = false", name)
		}
	}
	if got := r.Suggest("BatchNodeManagment.EastUS", 3); len(got) != 0 && !strings.HasPrefix(strings.ToLower(got[0]), "batch") {
		t.Errorf("Suggest: %v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(strings.NewReader(`{"values":[{"name":"A","properties":{"addressPrefixes":["1.2.3.4/33","bad"]}},{"name":"a"},{"name":"Internet"}]}`))
	codes := armerror.Codes(err)
	if len(codes) != 4 {
		t.Fatalf("want 4 errors (2 prefixes, duplicate, computed), got %v: %v", codes, err)
	}
	if _, err := Load(strings.NewReader(`{"values":`)); err == nil {
		t.Fatal("truncated file accepted")
	}
	for _, empty := range []string{`{}`, `{"values":[]}`, `{"changeNumber":1,"cloud":"Public"}`} {
		if e, ok := armerror.As(func() error { _, err := Load(strings.NewReader(empty)); return err }()); !ok || e.Target != "values" {
			t.Errorf("Load(%s) = %v; want an InvalidServiceTagFile error on values", empty, e)
		}
	}
}

func TestComputedTags(t *testing.T) {
	scope := VNetScope{AddressSpace: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}}
	vn := VirtualNetworkSet(scope)
	for _, a := range []string{"10.0.3.4", "168.63.129.16"} {
		if !vn.Contains(netip.MustParseAddr(a)) {
			t.Errorf("VirtualNetwork lacks %s", a)
		}
	}
	if vn.Contains(netip.MustParseAddr("10.1.0.1")) {
		t.Error("VirtualNetwork holds 10.1.0.1 outside the space")
	}
	local, real := LocalCloud(), &Registry{}
	inet := real.InternetSet(vn)
	for a, want := range map[string]bool{"8.8.8.8": true, "10.0.0.4": false, "172.16.0.1": false, "198.18.1.4": false, "203.0.113.7": false, "168.63.129.16": false} {
		if got := inet.Contains(netip.MustParseAddr(a)); got != want {
			t.Errorf("real-cloud Internet contains %s = %v, want %v", a, got, want)
		}
	}
	linet := local.InternetSet(vn)
	for a, want := range map[string]bool{"198.18.1.4": true, "203.0.113.7": true, "192.168.1.1": false} {
		if got := linet.Contains(netip.MustParseAddr(a)); got != want {
			t.Errorf("local-cloud Internet contains %s = %v, want %v", a, got, want)
		}
	}
	// A 0.0.0.0/0 UDR makes VirtualNetwork everything and Internet empty (spec §1.4).
	scope.RoutePrefixes = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	all := VirtualNetworkSet(scope)
	if !all.Contains(netip.MustParseAddr("8.8.8.8")) || len(real.InternetSet(all).Prefixes()) != 0 {
		t.Error("0/0 route did not widen VirtualNetwork to everything")
	}
}
