package apiserver_test

import (
	"strings"
	"testing"
)

// otherSub is a subscription the scoped token of the review-8 tests has
// no role in.
const otherSub = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/theirs/providers/Microsoft.Network"

// scopedTunnelEnv is the firewalled network, plus a VNet of another
// subscription with NICs named secretnic-b and node0 (as the scoped
// token's own node0), and a Contributor token scoped to mygroup.
func scopedTunnelEnv(t *testing.T) (*env, string) {
	e := newDataEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", "/subscriptions/11111111-1111-1111-1111-111111111111", `{}`)
	e.must(201, "PUT", strings.TrimSuffix(otherSub, "/providers/Microsoft.Network"), groupBody)
	e.must(201, "PUT", otherSub+"/virtualNetworks/theirnet", `{"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
		"subnets": [{"name": "default", "properties": {"addressPrefix": "10.9.0.0/24"}}]}}`)
	for i, name := range []string{"secretnic-b", "node0"} {
		e.must(201, "PUT", otherSub+"/networkInterfaces/"+name, `{"location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
			"privateIPAddress": "10.9.0.`+string(rune('4'+i))+`", "subnet": {"id": "`+otherSub+`/virtualNetworks/theirnet/subnets/default"}}}]}}`)
	}
	tok := e.must(201, "PUT", "/providers/vnetml.Authorization/tokens/mine", `{"properties": {"role": "Contributor", "scope": "`+rg+`"}}`).json(t)
	return e, tok["properties"].(map[string]any)["secret"].(string)
}

// TestReview8TunnelNICNotFoundLeaksOtherSubscriptions: a NIC name that
// resolves to nothing is refused without listing the deployment's NIC
// names — those of subscriptions the token has no role in among them.
func TestReview8TunnelNICNotFoundLeaksOtherSubscriptions(t *testing.T) {
	e, secret := scopedTunnelEnv(t)
	got := e.connect(t, "mlstore.blob.core.windows.net:443", "Proxy-Authorization", "Bearer "+secret, "X-Vnetml-Client-Nic", "no-such-nic")
	if strings.HasPrefix(got, "200") {
		t.Fatalf("a NIC that does not exist: %s", got)
	}
	if !strings.Contains(got, "no-such-nic") {
		t.Errorf("the refusal %q does not name the NIC asked for", got)
	}
	if strings.Contains(got, "secretnic-b") {
		t.Errorf("the refusal to a token scoped to %s names another subscription's NIC: %s", rg, got)
	}
}

// TestReview8TunnelNICNameOfAnotherSubscription: a name only another
// subscription's NIC has is refused as one that does not exist, not with
// a 403 that confirms the NIC is there.
func TestReview8TunnelNICNameOfAnotherSubscription(t *testing.T) {
	e, secret := scopedTunnelEnv(t)
	none := e.connect(t, "mlstore.blob.core.windows.net:443", "Proxy-Authorization", "Bearer "+secret, "X-Vnetml-Client-Nic", "no-such-nic")
	theirs := e.connect(t, "mlstore.blob.core.windows.net:443", "Proxy-Authorization", "Bearer "+secret, "X-Vnetml-Client-Nic", "secretnic-b")
	if none[:3] != theirs[:3] {
		t.Errorf("a name nobody has: %s\nanother subscription's NIC's name: %s\nwant the same answer", none, theirs)
	}
}

// TestReview8TunnelNICNameAmbiguousAcrossSubscriptions: node0 names the
// token's own NIC and one of a subscription it has no role in; the name
// means the one it may use, instead of a refusal as ambiguous.
func TestReview8TunnelNICNameAmbiguousAcrossSubscriptions(t *testing.T) {
	e, secret := scopedTunnelEnv(t)
	if got := e.connect(t, "mlstore.blob.core.windows.net:443", "Proxy-Authorization", "Bearer "+secret, "X-Vnetml-Client-Nic", "node0"); !strings.HasPrefix(got, "200") {
		t.Errorf("calling from node0 with a token scoped to %s: %s, want its own node0", rg, got)
	}
	// The admin, who may use both, must say which.
	if got := e.connect(t, "mlstore.blob.core.windows.net:443", "Proxy-Authorization", "Bearer "+e.admin, "X-Vnetml-Client-Nic", "node0"); !strings.HasPrefix(got, "400") || !strings.Contains(got, "ambiguous") {
		t.Errorf("calling from node0 as the admin: %s, want 400 ambiguous", got)
	}
}
