package flow_test

import (
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
)

// amlNet is the 2019 article's setup: subnet default (10.0.0.0/24) with NSG
// ml-nsg and optional route table, node NIC at 10.0.0.5, an appliance NIC
// at 10.0.1.4, a storage account and a key vault with firewalls.
func amlNet(t testing.TB, nsgRules []string, routes, subnetExtra, storageACL, vaultACL string, extra ...string) *flow.Engine {
	rt := ""
	var docs []string
	if routes != "" {
		rt = `,"routeTable":{"id":"` + sub + `/routeTables/rt"}`
		docs = append(docs, `{"type":"Microsoft.Network/routeTables","id":"`+sub+`/routeTables/rt","name":"rt","location":"eastus","properties":{"routes":`+routes+`}}`)
	}
	vnet := `{"type":"Microsoft.Network/virtualNetworks","id":"` + sub + `/virtualNetworks/mynetwork","name":"mynetwork","location":"eastus",
	  "properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[
	    {"name":"default","properties":{"addressPrefix":"10.0.0.0/24","networkSecurityGroup":{"id":"` + sub + `/networkSecurityGroups/ml-nsg"}` + rt + subnetExtra + `}},
	    {"name":"fw","properties":{"addressPrefix":"10.0.1.0/24"}}]}}`
	fw := `{"type":"Microsoft.Network/networkInterfaces","id":"` + sub + `/networkInterfaces/fw","name":"fw","location":"eastus","properties":{
	  "enableIPForwarding":true,"ipConfigurations":[{"name":"c","properties":{"privateIPAddress":"10.0.1.4","subnet":{"id":"` + subnetID("mynetwork", "fw") + `"}}}]}}`
	st := `{"type":"Microsoft.Storage/storageAccounts","id":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/mystore","name":"mystore","location":"eastus","properties":{` + storageACL + `}}`
	kv := `{"type":"Microsoft.KeyVault/vaults","id":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/myvault","name":"myvault","location":"eastus","properties":{` + vaultACL + `}}`
	docs = append(docs, vnet, fw, st, kv, nsgJSON("ml-nsg", nsgRules...), nicJSON("node0", subnetID("mynetwork", "default"), "10.0.0.5", ""))
	if len(extra) > 0 { // a public IP for node1
		docs = append(docs, extra...)
		docs = append(docs, nicJSON("node1", subnetID("mynetwork", "default"), "10.0.0.6", "", `"publicIPAddress":{"id":"`+sub+`/publicIPAddresses/pip"}`))
	}
	return compile(t, docs...)
}

const (
	workspaceID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
	storageID   = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/mystore"
	vaultID     = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/myvault"
)

var allowBNM = rule("allow-bnm", 120, "Inbound", "Allow", "Tcp",
	`"sourceAddressPrefix":"BatchNodeManagement","sourcePortRange":"*","destinationAddressPrefix":"*","destinationPortRange":"29876-29877"`)
var denyAllIn = rule("deny-all", 100, "Inbound", "Deny", "*", any4)

func path(t *testing.T, e *flow.Engine, src, dst flow.Endpoint, port uint16) flow.PathVerdict {
	t.Helper()
	v, err := e.Path(src, dst, network.ProtoTCP, 40000, port)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	node    = flow.Endpoint{NIC: "node0"}
	batch   = flow.Endpoint{Addr: ip("198.18.3.9")}
	laptop  = flow.Endpoint{Addr: ip("203.0.113.7")}
	store   = flow.Endpoint{Addr: ip("198.18.1.4"), Service: storageID}
	vault   = flow.Endpoint{Addr: ip("198.18.2.4"), Service: vaultID}
	trusted = flow.Endpoint{Addr: ip("198.18.0.10"), Trusted: true}
)

func TestNodeManagementPath(t *testing.T) {
	// The DESIGN's example: a deny-all at 100 refuses Batch management.
	e := amlNet(t, []string{denyAllIn, allowBNM}, "", "", "", "")
	v := path(t, e, batch, node, 29876)
	if v.Access != flow.Deny {
		t.Fatalf("want Deny, got %s", v.Explain())
	}
	want := "TCP 198.18.3.9:40000 -> 10.0.0.5:29876 denied at NSG inbound by securityRules/deny-all (priority 100, NSG rg/ml-nsg on subnet default)" +
		". Allow inbound from service tag BatchNodeManagement on TCP port 29876 with priority 100, moving securityRules/deny-all to a higher number"
	if got := v.Explain(); got != want {
		t.Errorf("explanation:\n got %s\nwant %s", got, want)
	}
	// Fixing the priority admits it.
	e = amlNet(t, []string{allowBNM, rule("deny-all", 200, "Inbound", "Deny", "*", any4)}, "", "", "", "")
	if v := path(t, e, batch, node, 29877); v.Access != flow.Allow {
		t.Errorf("want Allow, got %s", v.Explain())
	}
}

func TestForcedTunnelingBreaksInbound(t *testing.T) { // spec §3.3, AML-2019
	tunnel := `[{"name":"to-fw","properties":{"addressPrefix":"0.0.0.0/0","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.1.4"}}]`
	e := amlNet(t, []string{allowBNM}, tunnel, "", "", "")
	v := path(t, e, batch, node, 29876)
	h := v.Refusal()
	if h == nil || h.Stage != flow.StageReturnRoute || h.Rule != "routes/to-fw" {
		t.Fatalf("want a return-route refusal by routes/to-fw, got %s", v.Explain())
	}
	if !strings.Contains(h.Hint, "BatchNodeManagement") || !strings.Contains(h.Hint, "next hop Internet") {
		t.Errorf("hint should say to route BatchNodeManagement to Internet: %q", h.Hint)
	}
	// The article's fix: a route for the BatchNodeManagement prefixes with next hop Internet.
	fixed := `[{"name":"to-fw","properties":{"addressPrefix":"0.0.0.0/0","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.1.4"}},
	  {"name":"bnm","properties":{"addressPrefix":"BatchNodeManagement.EastUS","nextHopType":"Internet"}}]`
	e = amlNet(t, []string{allowBNM}, fixed, "", "", "")
	if v := path(t, e, batch, node, 29876); v.Access != flow.Allow {
		t.Errorf("with the fix: %s", v.Explain())
	}
	// Outbound through the appliance reaches the internet when the appliance forwards.
	if v := path(t, e, node, flow.Endpoint{Addr: ip("8.8.8.8")}, 443); v.Access != flow.Allow || v.Hops[2].Stage != flow.StageAppliance {
		t.Errorf("outbound via the appliance: %s %+v", v.Explain(), v.Hops)
	}
}

func TestApplianceWithoutForwarding(t *testing.T) {
	routes := `[{"name":"to-nowhere","properties":{"addressPrefix":"0.0.0.0/0","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.1.99"}}]`
	e := amlNet(t, nil, routes, "", "", "")
	v := path(t, e, node, flow.Endpoint{Addr: ip("8.8.8.8")}, 443)
	if h := v.Refusal(); h == nil || h.Stage != flow.StageRoute || !strings.Contains(h.Hint, "IP forwarding") {
		t.Fatalf("want a route refusal about IP forwarding, got %s", v.Explain())
	}
	routes = `[{"name":"drop","properties":{"addressPrefix":"198.18.1.0/24","nextHopType":"None"}}]`
	e = amlNet(t, nil, routes, "", "", "")
	if v := path(t, e, node, store, 443); v.Refusal() == nil || v.Refusal().Rule != "routes/drop" {
		t.Errorf("route None: %s", v.Explain())
	}
}

func TestStorageFirewall(t *testing.T) { // spec §5
	denyWithVNet := `"networkAcls":{"defaultAction":"Deny","bypass":"AzureServices","ipRules":[{"value":"203.0.113.0/28","action":"Allow"}],
	  "virtualNetworkRules":[{"id":"` + subnetID("mynetwork", "default") + `","action":"Allow"}]}`
	withSE := `,"serviceEndpoints":[{"service":"Microsoft.Storage"}]`
	cases := []struct {
		name    string
		acl, se string
		src     flow.Endpoint
		want    flow.Verdict
		rule    string
		hintHas string
	}{
		{"no firewall", "", "", node, flow.Allow, "defaultAction Allow", ""},
		{"vnet rule through the service endpoint", denyWithVNet, withSE, node, flow.Allow, "virtualNetworkRules " + subnetID("mynetwork", "default"), ""},
		{"same region without endpoint: ipRules do not apply", denyWithVNet, "", node, flow.Deny, "defaultAction Deny", "enable the Microsoft.Storage service endpoint on subnet default"},
		{"client in ipRules", denyWithVNet, "", laptop, flow.Allow, "ipRules 203.0.113.0/28", ""},
		{"client outside ipRules", denyWithVNet, "", flow.Endpoint{Addr: ip("203.0.113.99")}, flow.Deny, "defaultAction Deny", "ipRules"},
		{"trusted service with bypass", denyWithVNet, "", trusted, flow.Allow, "bypass AzureServices", ""},
		{"trusted service without bypass", `"networkAcls":{"defaultAction":"Deny","bypass":"None"}`, "", trusted, flow.Deny, "defaultAction Deny", "bypass AzureServices"},
		{"public access disabled", `"publicNetworkAccess":"Disabled"`, "", laptop, flow.Deny, "publicNetworkAccess Disabled", "private endpoint"},
		{"resource instance rule", `"networkAcls":{"defaultAction":"Deny","bypass":"None","resourceAccessRules":[{"resourceId":"` + workspaceID + `"}]}`, "",
			flow.Endpoint{Addr: ip("198.18.0.10"), Resource: workspaceID}, flow.Allow, "resourceAccessRules " + workspaceID, ""},
		{"resource instance with public access disabled", `"publicNetworkAccess":"Disabled","networkAcls":{"defaultAction":"Deny","resourceAccessRules":[{"resourceId":"` + workspaceID + `"}]}`, "",
			flow.Endpoint{Addr: ip("198.18.0.10"), Resource: workspaceID}, flow.Allow, "resourceAccessRules " + workspaceID, ""},
		{"vnet rule still provisioning", `"networkAcls":{"defaultAction":"Deny","virtualNetworkRules":[{"id":"` + subnetID("mynetwork", "default") + `","state":"Provisioning"}]}`, withSE,
			node, flow.Deny, "defaultAction Deny", "add subnet default"},
		{"vnet rule succeeded", `"networkAcls":{"defaultAction":"Deny","virtualNetworkRules":[{"id":"` + subnetID("mynetwork", "default") + `","state":"Succeeded"}]}`, withSE,
			node, flow.Allow, "virtualNetworkRules " + subnetID("mynetwork", "default"), ""},
		{"other resource instance", `"networkAcls":{"defaultAction":"Deny","bypass":"None","resourceAccessRules":[{"resourceId":"` + workspaceID + `"}]}`, "",
			flow.Endpoint{Addr: ip("198.18.0.10"), Resource: workspaceID + "2"}, flow.Deny, "defaultAction Deny", "ipRules"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := amlNet(t, nil, "", c.se, c.acl, "")
			v := path(t, e, c.src, store, 443)
			last := v.Hops[len(v.Hops)-1]
			if v.Access != c.want || last.Stage != flow.StageFirewall || last.Rule != c.rule {
				t.Fatalf("got %s (last hop %+v), want %s by %q", v.Explain(), last, c.want, c.rule)
			}
			if c.want == flow.Deny && (last.Code != "AuthorizationFailure" || !strings.Contains(last.Hint, c.hintHas)) {
				t.Errorf("denial code %q hint %q; want AuthorizationFailure and a hint containing %q", last.Code, last.Hint, c.hintHas)
			}
		})
	}
}

func TestKeyVaultFirewall(t *testing.T) { // spec §6
	acl := `"networkAcls":{"defaultAction":"Deny","bypass":"None","virtualNetworkRules":[{"id":"` + subnetID("mynetwork", "default") + `"}]}`
	e := amlNet(t, nil, "", `,"serviceEndpoints":[{"service":"Microsoft.KeyVault"}]`, "", acl)
	if v := path(t, e, node, vault, 443); v.Access != flow.Allow {
		t.Errorf("node through the endpoint: %s", v.Explain())
	}
	v := path(t, e, laptop, vault, 443)
	if h := v.Refusal(); h == nil || h.Code != "ForbiddenByFirewall" {
		t.Errorf("laptop: %s", v.Explain())
	}
	if v := path(t, e, trusted, vault, 443); v.Access != flow.Deny {
		t.Errorf("bypass None must not admit trusted services: %s", v.Explain())
	}
}

func TestOutboundNSGBeforeRoute(t *testing.T) {
	denyOut := rule("deny-internet-out", 200, "Outbound", "Deny", "*",
		`"sourceAddressPrefix":"*","sourcePortRange":"*","destinationAddressPrefix":"Internet","destinationPortRange":"*"`)
	allowStorage := rule("allow-storage", 100, "Outbound", "Allow", "Tcp",
		`"sourceAddressPrefix":"VirtualNetwork","sourcePortRange":"*","destinationAddressPrefix":"Storage.EastUS","destinationPortRange":"443"`)
	e := amlNet(t, []string{denyOut}, "", "", "", "")
	v := path(t, e, node, store, 443)
	want := "TCP 10.0.0.5:40000 -> 198.18.1.4:443 denied at NSG outbound by securityRules/deny-internet-out (priority 200, NSG rg/ml-nsg on subnet default)" +
		". Allow outbound to service tag Storage on TCP port 443 with a priority below 200"
	if got := v.Explain(); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	e = amlNet(t, []string{denyOut, allowStorage}, "", "", "", "")
	if v := path(t, e, node, store, 443); v.Access != flow.Allow {
		t.Errorf("with allow-storage: %s", v.Explain())
	}
}

func TestIntraVNetPath(t *testing.T) {
	e := amlNet(t, nil, "", "", "", "")
	if v := path(t, e, node, flow.Endpoint{Addr: ip("10.0.1.4")}, 22); v.Access != flow.Allow || len(v.Hops) != 3 {
		t.Errorf("node -> fw: %s %+v", v.Explain(), v.Hops)
	}
	v := path(t, e, node, flow.Endpoint{Addr: ip("10.0.9.9")}, 22)
	if h := v.Refusal(); h == nil || h.Stage != flow.StageDelivery {
		t.Errorf("to an address no NIC holds: %s", v.Explain())
	}
}

func TestTracker(t *testing.T) {
	var tr flow.Tracker
	k := flow.FlowKey{Proto: network.ProtoTCP, Src: ap("198.18.3.9:40000"), Dst: ap("10.0.0.5:29876")}
	if tr.Established(k.Reverse()) {
		t.Fatal("empty tracker admits")
	}
	tr.Admit(k)
	if !tr.Established(k.Reverse()) || !tr.Established(k) {
		t.Fatal("return traffic of an admitted flow not admitted")
	}
	other := flow.FlowKey{Proto: network.ProtoUDP, Src: k.Dst, Dst: k.Src}
	if tr.Established(other) {
		t.Fatal("other protocol admitted")
	}
	tr.Forget(k)
	if tr.Len() != 0 || tr.Established(k.Reverse()) {
		t.Fatal("Forget left the flow")
	}
}

// A firewall decision allocates nothing: the data plane asks it per request.
func TestFirewallAllocatesNothing(t *testing.T) {
	acl := `"networkAcls":{"defaultAction":"Deny","ipRules":[{"value":"203.0.113.0/28"}],"virtualNetworkRules":[{"id":"` + subnetID("mynetwork", "default") + `"}]}`
	e := amlNet(t, nil, "", "", acl, "")
	c := flow.Caller{Addr: ip("203.0.113.9"), Subnet: subnetID("mynetwork", "other")}
	if a := testing.AllocsPerRun(1000, func() { e.Firewall(storageID, c) }); a != 0 {
		t.Errorf("Firewall allocates %v times per call", a)
	}
}

func TestZeroFirewallVerdict(t *testing.T) {
	e := amlNet(t, nil, "", "", "", "")
	v, ok := e.Firewall("/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/none", flow.Caller{})
	if ok || v.Service() != "" || v.Kind() != "" || v.Code() != "" || v.RuleText() != "" {
		t.Errorf("unknown service: ok=%v verdict %+v", ok, v)
	}
}
