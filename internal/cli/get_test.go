package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Every spelling of every type, in any case, names its type; the
// canonical names are unique.
func TestParseType(t *testing.T) {
	seen := map[string]string{}
	for _, typ := range resourceTypes {
		for _, s := range append([]string{typ.name}, typ.aliases...) {
			if o, dup := seen[s]; dup {
				t.Errorf("%q names both %s and %s", s, o, typ.name)
			}
			seen[s] = typ.name
			for _, spelled := range []string{s, strings.ToUpper(s), capitalize(s)} {
				got, err := parseType(spelled)
				if err != nil || got != typ {
					t.Errorf("parseType(%q) = %v, %v; want %s", spelled, got, err, typ.name)
				}
			}
		}
	}
	for in, want := range map[string]string{
		"vnett": "did you mean vnet?", "subnt": "did you mean subnet?", "netwrokinterface": "did you mean nic?",
		"virtual": "did you mean vnet?", "lock5": "did you mean lock?",
	} {
		_, err := parseType(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "The types are subscription, group, vnet") {
			t.Errorf("parseType(%q) = %v; want an error with %q and the list of types", in, err, want)
		}
	}
}

// The ARM type of an id decides which TYPE it may be given with.
func TestArmTypeOfID(t *testing.T) {
	for id, want := range map[string]string{
		testSub:                              armSubscription,
		testGroup:                            armResourceGroup,
		testVNet:                             "Microsoft.Network/virtualNetworks",
		testVNet + "/subnets/default":        "Microsoft.Network/virtualNetworks/subnets",
		testNSG + "/securityRules/x":         "Microsoft.Network/networkSecurityGroups/securityRules",
		testLock:                             armLock,
		testVNet + locksSegment + "/l":       armLock,
		tokensPath + "/ci":                   armToken,
		"/subscriptions/s/resourceGroups/g/": armResourceGroup,
		"/nonsense/a/b":                      "",
	} {
		if got := armTypeOfID(id); !strings.EqualFold(got, want) {
			t.Errorf("armTypeOfID(%q) = %q, want %q", id, got, want)
		}
	}
}

// get lists every type and shows one of each, as a table of its key
// columns.
func TestGetEachType(t *testing.T) {
	s := newTestServer(t)
	s.smallNetwork()
	s.put(testLock, map[string]any{"properties": map[string]any{"level": "CanNotDelete", "notes": "production"}})
	cases := []struct {
		name string
		args []string
		want string // the whole table
	}{
		{"subscriptions", []string{"subs"}, `
Name     SubscriptionId                        State
-------  ------------------------------------  -------
default  00000000-0000-0000-0000-000000000000  Enabled
`},
		{"groups", []string{"rg"}, `
Name              Location  ProvisioningState
----------------  --------  -----------------
mygroup           eastus    Succeeded
NetworkWatcherRG  eastus    Succeeded
`},
		{"group", []string{"resourceGroup", "mygroup"}, `
Name     Location  ProvisioningState
-------  --------  -----------------
mygroup  eastus    Succeeded
`},
		{"vnets", []string{"VNETS", "-g", "mygroup"}, `
Name       ResourceGroup  Location  AddressPrefixes  Subnets  ProvisioningState
---------  -------------  --------  ---------------  -------  -----------------
mynetwork  mygroup        eastus    10.0.0.0/16      2        Succeeded
`},
		{"subnets", []string{"subnets"}, `
Name       VNet       ResourceGroup  AddressPrefix  NSG     RouteTable  ProvisioningState
---------  ---------  -------------  -------------  ------  ----------  -----------------
default    mynetwork  mygroup        10.0.0.0/24    ml-nsg  ml-routes   Succeeded
appliance  mynetwork  mygroup        10.0.1.0/24                        Succeeded
`},
		{"subnet by parent/name", []string{"subnet", "mynetwork/default", "-g", "mygroup"}, `
Name     VNet       ResourceGroup  AddressPrefix  NSG     RouteTable  ProvisioningState
-------  ---------  -------------  -------------  ------  ----------  -----------------
default  mynetwork  mygroup        10.0.0.0/24    ml-nsg  ml-routes   Succeeded
`},
		{"nsgs", []string{"networkSecurityGroups"}, `
Name    ResourceGroup  Location  Rules  ProvisioningState
------  -------------  --------  -----  -----------------
ml-nsg  mygroup        eastus    7      Succeeded
`},
		{"rule", []string{"rule", "AllowBatchNodeManagement", "--nsg", "ml-nsg"}, `
Name                      NSG     Priority  Direction  Access  Protocol  Source               SourcePorts  Destination  DestinationPorts  ProvisioningState
------------------------  ------  --------  ---------  ------  --------  -------------------  -----------  -----------  ----------------  -----------------
AllowBatchNodeManagement  ml-nsg  100       Inbound    Allow   Tcp       BatchNodeManagement  *            *            29876-29877       Succeeded
`},
		{"route tables", []string{"rt"}, `
Name       ResourceGroup  Location  Routes  DisableBgpRoutePropagation  ProvisioningState
---------  -------------  --------  ------  --------------------------  -----------------
ml-routes  mygroup        eastus    2       false                       Succeeded
`},
		{"routes", []string{"routes", "--route-table", "ml-routes", "-g", "mygroup"}, `
Name                   RouteTable  AddressPrefix               NextHopType       NextHopIpAddress  ProvisioningState
---------------------  ----------  --------------------------  ----------------  ----------------  -----------------
batch-node-management  ml-routes   BatchNodeManagement.EastUS  Internet                            Succeeded
onprem-via-appliance   ml-routes   172.16.0.0/12               VirtualAppliance  10.0.1.4          Succeeded
`},
		{"nics", []string{"nic"}, `
Name   ResourceGroup  Location  PrivateIPAddresses  Subnet               NSG  ProvisioningState
-----  -------------  --------  ------------------  -------------------  ---  -----------------
node0  mygroup        eastus    10.0.0.4            mynetwork/default         Succeeded
nva0   mygroup        eastus    10.0.1.4            mynetwork/appliance       Succeeded
`},
		{"public ips", []string{"pip"}, `
Name   ResourceGroup  Location  IPAddress     AllocationMethod  Sku       ProvisioningState
-----  -------------  --------  ------------  ----------------  --------  -----------------
ml-ip  mygroup        eastus    198.51.100.1  Static            Standard  Succeeded
`},
		{"load balancers", []string{"lb"}, `
Name   ResourceGroup  Location  Sku       Frontends  BackendPools  ProvisioningState
-----  -------------  --------  --------  ---------  ------------  -----------------
ml-lb  mygroup        eastus    Standard  ml-ip      1             Succeeded
`},
		{"asgs", []string{"asgs"}, `
Name    ResourceGroup  Location  ProvisioningState
------  -------------  --------  -----------------
ml-asg  mygroup        eastus    Succeeded
`},
		{"watchers", []string{"networkwatchers"}, `
Name                   ResourceGroup     Location  ProvisioningState
---------------------  ----------------  --------  -----------------
NetworkWatcher_eastus  NetworkWatcherRG  eastus    Succeeded
`},
		{"watcher by name", []string{"watcher", "networkwatcher_EASTUS"}, `
Name                   ResourceGroup     Location  ProvisioningState
---------------------  ----------------  --------  -----------------
NetworkWatcher_eastus  NetworkWatcherRG  eastus    Succeeded
`},
		{"locks under the subscription", []string{"locks"}, `
Name  Level         Scope                                                                       Notes
----  ------------  --------------------------------------------------------------------------  ----------
keep  CanNotDelete  /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup  production
`},
		{"lock on a group", []string{"lock", "keep", "-g", "mygroup"}, `
Name  Level         Scope                                                                       Notes
----  ------------  --------------------------------------------------------------------------  ----------
keep  CanNotDelete  /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup  production
`},
		{"empty", []string{"publicips", "-g", "NetworkWatcherRG"}, `
No public IP addresses in resource group NetworkWatcherRG.
`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.run(append([]string{"get"}, tc.args...)...)
			wantOK(t, r)
			if diff := cmp.Diff(strings.TrimPrefix(tc.want, "\n"), r.stdout); diff != "" {
				t.Errorf("get %s (-want +got):\n%s", strings.Join(tc.args, " "), diff)
			}
		})
	}
	t.Run("tokens", func(t *testing.T) {
		r := s.run("get", "tokens")
		wantOK(t, r)
		if !strings.HasPrefix(r.stdout, "Name   Role   Scope  ExpiresOn  CreatedBy  Description\n") ||
			!strings.Contains(r.stdout, "\nadmin  Owner  /                 vnetml     Created by the server") {
			t.Errorf("get tokens:\n%s", r.stdout)
		}
	})
}

// -o json prints the server's documents as they are: one document for a
// name, a JSON array for a list (empty, not null, when there is none).
func TestGetJSONIsVerbatim(t *testing.T) {
	s := newTestServer(t)
	s.smallNetwork()
	ctx := context.Background()
	list := func(path string) string {
		docs, err := s.c.List(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(docs)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"vnet", []string{"vnet", "mynetwork"}, string(s.get(testVNet))},
		{"vnet by id", []string{"vnet", testVNet}, string(s.get(testVNet))},
		{"subnet", []string{"subnet", "default", "--vnet", "mynetwork"}, string(s.get(testVNet + "/subnets/default"))},
		{"rule", []string{"rule", "ml-nsg/DenyInternetInbound"}, string(s.get(testNSG + "/securityRules/DenyInternetInbound"))},
		{"subscription", []string{"subscription", defaultSubscription}, string(s.get(testSub))},
		{"nics", []string{"nics", "-g", "mygroup"}, list(testNet + "/networkInterfaces")},
		{"routes", []string{"routes", "--route-table", "ml-routes"}, list(testRT + "/routes")},
		{"no locks", []string{"locks"}, "[]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.run(append([]string{"get", "-o", "json"}, tc.args...)...)
			wantOK(t, r)
			if diff := cmp.Diff(compact(t, tc.want), compact(t, r.stdout)); diff != "" {
				t.Errorf("(-server +cli):\n%s", diff)
			}
		})
	}
}

// A name without -g is looked for in the whole subscription: a name two
// groups share is refused with both, a missing name with the known ones.
func TestGetNameLookup(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)
	other := testSub + "/resourceGroups/other"
	s.put(other, map[string]any{"location": "eastus"})
	s.put(other+"/providers/Microsoft.Network/virtualNetworks/mynetwork", map[string]any{"location": "eastus",
		"properties": map[string]any{"addressSpace": map[string]any{"addressPrefixes": []string{"10.1.0.0/16"}},
			"subnets": []any{map[string]any{"name": "default", "properties": map[string]any{"addressPrefix": "10.1.0.0/24"}}}}})
	cases := []struct {
		name string
		args []string
		code int
		want []string // on stdout for exit 0, on stderr otherwise
	}{
		{"ambiguous", []string{"vnet", "mynetwork"}, exitInput,
			[]string{`2 virtual networks in subscription 00000000-0000-0000-0000-000000000000 are named "mynetwork"`, "mygroup/mynetwork, other/mynetwork", "give -g GROUP"}},
		{"ambiguous child", []string{"subnet", "default"}, exitInput,
			[]string{`2 subnets`, "mygroup/mynetwork/default, other/mynetwork/default", "give -g GROUP or --vnet"}},
		{"group settles it", []string{"vnet", "mynetwork", "-g", "other"}, exitOK, []string{"10.1.0.0/16"}},
		{"parent settles it", []string{"subnet", "appliance"}, exitOK, []string{"10.0.1.0/24"}},
		{"missing", []string{"nsg", "nope"}, exitInput,
			[]string{`NotFound (NAME): Network security group "nope" was not found in subscription`, "known: mygroup/ml-nsg"}},
		{"missing in a group", []string{"nsg", "nope", "-g", "mygroup"}, exitInput, []string{"ResourceNotFound", "networkSecurityGroups/nope"}},
		{"missing child", []string{"route", "ml-routes/nope"}, exitInput,
			[]string{`Route "nope" was not found in route table ml-routes in subscription`, "known: mygroup/ml-routes/batch-node-management, mygroup/ml-routes/onprem-via-appliance"}},
		{"id of another type", []string{"vnet", testNSG}, exitInput,
			[]string{"is the id of a network security group (TYPE nsg), not of a virtual network"}},
		{"lock on another scope", []string{"lock", "keep"}, exitInput,
			[]string{"ResourceNotFound", "a lock named keep is on " + testGroup + ": give --scope " + testGroup}},
	}
	s.put(testLock, map[string]any{"properties": map[string]any{"level": "ReadOnly"}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.run(append([]string{"get"}, tc.args...)...)
			if tc.code == exitOK {
				wantOK(t, r)
				for _, w := range tc.want {
					if !strings.Contains(r.stdout, w) {
						t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
					}
				}
				return
			}
			wantFail(t, r, tc.code, tc.want...)
		})
	}
}

// Flags that do not fit the type, and missing or extra arguments, are
// usage errors that name the flag or argument, before any request.
func TestGetUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"no type", nil, []string{"MissingArgument (TYPE)", "TYPE is required: one of subscription, group, vnet"}},
		{"unknown type", []string{"vnett"}, []string{"InvalidArgument (TYPE)", `"vnett" is not a resource type; did you mean vnet?`, "get --help"}},
		{"too many", []string{"vnet", "a", "b"}, []string{`unexpected argument "b"`}},
		{"parent flag of another type", []string{"nsg", "--vnet", "x"}, []string{"(--vnet)", "--vnet applies to subnets only"}},
		{"scope for a vnet", []string{"vnet", "--scope", "/"}, []string{"(--scope)", "applies to locks only"}},
		{"scope and group", []string{"locks", "--scope", testGroup, "-g", "mygroup"}, []string{"(--scope)", "not both"}},
		{"group for subscriptions", []string{"subs", "-g", "x"}, []string{"(--resource-group)", "does not apply to subscriptions"}},
		{"slash in a name", []string{"vnet", "a/b"}, []string{"(NAME)", "names have no slash"}},
		{"child name with too many parts", []string{"subnet", "a/b/c"}, []string{"(NAME)", "write VNET/SUBNET, or give --vnet"}},
		{"parent twice", []string{"subnet", "a/b", "--vnet", "c"}, []string{"(--vnet)", "give the virtual network once"}},
		{"bad output", []string{"vnets", "-o", "yaml"}, []string{"(--output)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"get"}, tc.args...)...)
			wantFail(t, r, exitInput, tc.want...)
			if r.stdout != "" {
				t.Errorf("stdout:\n%s", r.stdout)
			}
		})
	}
}

// Without a token anywhere, get says how to get one; without a server, it
// fails as an internal error (exit 1), naming the endpoint.
func TestGetWithoutServer(t *testing.T) {
	r := run(t, "get", "vnets")
	wantFail(t, r, exitInput, "AuthenticationFailed (--token)", "vnetml login")
	r = run(t, "get", "vnets", "--token", "vnm_x", "--endpoint", "http://127.0.0.1:1")
	wantFail(t, r, exitInternal, "ServerUnreachable", "127.0.0.1:1")
}
