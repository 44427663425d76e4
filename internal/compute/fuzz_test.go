package compute

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetml/vnetml/internal/armerror"
)

func fuzzSeeds(f *testing.F) {
	for _, doc := range []map[string]any{
		minimal(), full(),
		set(minimal(), "properties.properties.vnet", map[string]any{"resourceGroup": "netrg", "name": "vnet1", "subnet": "train"}),
		set(minimal(), "properties.properties.vnet", map[string]any{"resourceGroup": "netrg"}),
		set(minimal(), "properties.properties.scaleSettings.minNodeCount", 9),
		set(minimal(), "properties.properties.userAccountCredentials", map[string]any{"adminUserName": "u", "adminUserPassword": "Passw0rd"}),
	} {
		f.Add(mustJSON(f, doc))
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"properties":1}`, `{"properties":{"properties":[]}}`,
		`{"properties":{"computeType":"AmlCompute","properties":{"scaleSettings":{"maxNodeCount":1e400}}}}`,
		`{"properties":{"computeType":"AmlCompute","properties":{"scaleSettings":{"maxNodeCount":4,"nodeIdleTimeBeforeScaleDown":"P1W2DT3H4M5.5S"}}}}`,
		`{"Properties":{"properties":{},"PROPERTIES":{}}}`,
	} {
		f.Add([]byte(s))
	}
}

// checkErr fails unless err is nil or an *armerror.Error (with every detail
// one too, each with a code and a message).
func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	e, ok := err.(*armerror.Error)
	if !ok {
		t.Fatalf("error %v is a %T, not an *armerror.Error", err, err)
	}
	for _, d := range append([]*armerror.Error{e}, e.Details...) {
		if d.Code == "" || d.Message == "" {
			t.Fatalf("error without code or message: %+v", d)
		}
	}
}

// checkSpec fails unless s keeps DecodeSpec's promises (DecodeStored's
// when stored: a user name may come without its withheld password).
func checkSpec(t *testing.T, s Spec, stored bool) {
	t.Helper()
	if _, ok := LookupSize(s.Location, s.VMSize); !ok {
		t.Fatalf("size %q not in the catalog of %q", s.VMSize, s.Location)
	}
	if s.MinNodes < 0 || s.MaxNodes < s.MinNodes {
		t.Fatalf("scale %d..%d", s.MinNodes, s.MaxNodes)
	}
	if s.IdleBeforeScaleDown < 0 || s.IdleBeforeScaleDown%time.Second != 0 {
		t.Fatalf("idle %v", s.IdleBeforeScaleDown)
	}
	if !slices.Contains([]string{PriorityDedicated, PriorityLowPriority}, s.VMPriority) ||
		!slices.Contains([]string{RemoteLoginEnabled, RemoteLoginDisabled}, s.RemoteLoginPortPublicAccess) {
		t.Fatalf("unnormalised enumerations: %q, %q", s.VMPriority, s.RemoteLoginPortPublicAccess)
	}
	if !s.EnableNodePublicIP && s.SubnetID == "" {
		t.Fatal("no public IP outside a VNet")
	}
	secret := s.AdminUserPassword != "" || s.AdminUserSSHKey != ""
	if secret && s.AdminUserName == "" || !secret && s.AdminUserName != "" && !stored {
		t.Fatalf("credentials half given: %q", s.AdminUserName)
	}
}

// FuzzDecodeSpec: no panic, errors are *armerror.Error, and what decodes
// keeps its promises and survives Properties → DecodeSpec unchanged.
func FuzzDecodeSpec(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := DecodeSpec(body, testCtx)
		checkErr(t, err)
		if err != nil {
			if d := cmp.Diff(Spec{}, s); d != "" {
				t.Fatalf("spec on error is not zero:\n%s", d)
			}
			return
		}
		checkSpec(t, s, false)
		again, err := DecodeSpec(wrap(t, s), testCtx)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", wrap(t, s), err)
		}
		if d := cmp.Diff(s, again); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
		back, err := DecodeStored(mustJSON(t, s.Properties()), testCtx)
		if err != nil {
			t.Fatalf("DecodeStored(Properties()): %v", err)
		}
		if d := cmp.Diff(stored(s), back); d != "" {
			t.Fatalf("stored round trip (-want +got):\n%s", d)
		}
		if f := Immutable(s, again); f != "" {
			t.Fatalf("Immutable(s, s again) = %q", f)
		}
	})
}

// FuzzDecodeStored: no panic, errors are *armerror.Error.
func FuzzDecodeStored(f *testing.F) {
	fuzzSeeds(f)
	s, err := DecodeSpec(mustJSON(f, full()), testCtx)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mustJSON(f, s.Properties()))
	f.Fuzz(func(t *testing.T, props []byte) {
		s, err := DecodeStored(props, testCtx)
		checkErr(t, err)
		if err == nil {
			checkSpec(t, s, true)
		}
	})
}

// FuzzDecodeUpdate: no panic, errors are *armerror.Error, and an update
// changes the scale settings only, keeping them valid.
func FuzzDecodeUpdate(f *testing.F) {
	fuzzSeeds(f)
	f.Add([]byte(`{"properties":{"properties":{"scaleSettings":{"minNodeCount":2,"nodeIdleTimeBeforeScaleDown":"PT5M"}}}}`))
	cur, err := DecodeSpec(mustJSON(f, full()), testCtx)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := DecodeUpdate(body, cur)
		checkErr(t, err)
		if err != nil {
			return
		}
		checkSpec(t, s, false)
		s.MinNodes, s.MaxNodes, s.IdleBeforeScaleDown = cur.MinNodes, cur.MaxNodes, cur.IdleBeforeScaleDown
		if d := cmp.Diff(cur, s); d != "" {
			t.Fatalf("an update changed more than the scale settings:\n%s", d)
		}
	})
}

// FuzzParseIdle: no panic; what parses is whole seconds and renders back to
// a duration that parses to the same.
func FuzzParseIdle(f *testing.F) {
	for _, s := range []string{"PT1800S", "PT1H30M", "P1DT0.5S", "P1W", "PT", "P1M", "PT1,5M"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, why := parseIdle(s)
		if why != "" {
			return
		}
		if d < 0 || d%time.Second != 0 {
			t.Fatalf("parseIdle(%q) = %v", s, d)
		}
		if again, why := parseIdle(formatIdle(d)); why != "" || again != d {
			t.Fatalf("parseIdle(formatIdle(%v)) = %v, %q", d, again, why)
		}
	})
}
