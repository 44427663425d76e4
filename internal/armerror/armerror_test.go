package armerror

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestListErr(t *testing.T) {
	var l List
	if l.Err() != nil {
		t.Fatal("empty list has an error")
	}
	l.Addf("SecurityRuleConflict", "properties.securityRules[1]", "rule %s conflicts", "b")
	if e, ok := As(l.Err()); !ok || e.Code != "SecurityRuleConflict" || len(e.Details) != 0 {
		t.Fatalf("one error: %+v", l.Err())
	}
	var inner List
	inner.Addf("InvalidCIDRNotation", "addressPrefix", "bad")
	l.Merge("virtualNetworks[v].properties.subnets[0].properties", &inner)
	err := l.Err()
	if got, want := Codes(err), []string{"SecurityRuleConflict", "InvalidCIDRNotation"}; !cmp.Equal(got, want) {
		t.Fatalf("Codes = %v, want %v", got, want)
	}
	e, _ := As(fmt.Errorf("wrapped: %w", err))
	if e.Code != "InvalidRequestContent" || e.Details[1].Target != "virtualNetworks[v].properties.subnets[0].properties.addressPrefix" {
		t.Fatalf("combined error: %+v", e)
	}
}

func TestWithPrefix(t *testing.T) {
	for _, c := range []struct{ prefix, target, want string }{
		{"", "a.b", "a.b"},
		{"p", "", "p"},
		{"p", "[0].x", "p[0].x"},
		{"p", "x", "p.x"},
	} {
		if got := New("C", c.target, "m").WithPrefix(c.prefix).Target; got != c.want {
			t.Errorf("WithPrefix(%q) of %q = %q, want %q", c.prefix, c.target, got, c.want)
		}
	}
}

func TestEnvelope(t *testing.T) {
	e := &Error{Code: "ScopeLocked", Message: "m", Target: "t", Details: []*Error{{Code: "D", Message: "d"}}}
	var back Envelope
	if err := json.Unmarshal(e.MarshalEnvelope(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, back.Error); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got := e.Error(); got != "ScopeLocked (t): m\n  D: d" {
		t.Errorf("Error() = %q", got)
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		limit int
		want  int
	}{
		{"priority", "prioirty", 5, 2},
		{"addressPrefix", "adressPrefix", 5, 1},
		{"", "abc", 5, 3},
		{"same", "same", 3, 0},
		{"short", "a much longer word", 3, 3},
		{"kitten", "sitting", 10, 3},
	} {
		if got := Distance(tc.a, tc.b, tc.limit); got != tc.want {
			t.Errorf("Distance(%q, %q, %d) = %d, want %d", tc.a, tc.b, tc.limit, got, tc.want)
		}
	}
}
