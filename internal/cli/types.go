package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/network"
)

// resourceType is one TYPE that `vnetml get` and `vnetml delete` accept:
// how users may spell it, where its resources live on the server, and the
// columns of its table.
type resourceType struct {
	name    string   // canonical, as help lists it: vnet
	noun    string   // for messages: virtual network
	plural  string   // for messages: virtual networks
	aliases []string // every other accepted spelling, lower case (singular and plural)
	armType string   // the ARM type of its documents
	scope   typeScope
	// parent is the type a child type lives in (subnets in virtual
	// networks), and parentFlag the flag that names it.
	parent     *resourceType
	parentFlag string
	segment    string // a child's collection segment: subnets
	columns    []column
}

// typeScope says where a type's resources live.
type typeScope int

const (
	scopeTenant       typeScope = iota // /subscriptions/{s}, /providers/vnetml.Authorization/tokens/{t}
	scopeSubscription                  // resource groups
	scopeGroup                         // the network types
	scopeChild                         // subnets, security rules, routes
	scopeLock                          // {scope}/providers/Microsoft.Authorization/locks/{l}
)

// ARM paths of the types outside Microsoft.Network.
const (
	armSubscription   = "Microsoft.Resources/subscriptions"
	armResourceGroup  = "Microsoft.Resources/resourceGroups"
	armLock           = "Microsoft.Authorization/locks"
	armToken          = "vnetml.Authorization/tokens"
	armWatcher        = "Microsoft.Network/networkWatchers"
	armManagedCluster = "Microsoft.ContainerService/managedClusters"
	tokensPath        = "/providers/" + armToken
	locksSegment      = "/providers/" + armLock
)

// column is one column of a type's table.
type column struct {
	header string
	value  func(doc map[string]any) string
}

// The resource types, in the order help lists them.
var (
	subscriptionType = &resourceType{name: "subscription", noun: "subscription", plural: "subscriptions",
		aliases: []string{"subscriptions", "sub", "subs"}, armType: armSubscription, scope: scopeTenant,
		columns: []column{{"Name", docField("displayName")}, {"SubscriptionId", docField("subscriptionId")}, {"State", docField("state")}}}
	groupType = &resourceType{name: "group", noun: "resource group", plural: "resource groups",
		aliases: []string{"groups", "resourcegroup", "resourcegroups", "rg", "rgs"}, armType: armResourceGroup, scope: scopeSubscription,
		columns: []column{{"Name", docField("name")}, {"Location", docField("location")}, {"ProvisioningState", docField("properties.provisioningState")}}}
	vnetType = &resourceType{name: "vnet", noun: "virtual network", plural: "virtual networks",
		aliases: []string{"vnets", "virtualnetwork", "virtualnetworks"}, armType: network.TypeVirtualNetwork, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, {"AddressPrefixes", docField("properties.addressSpace.addressPrefixes")},
			{"Subnets", docCount("properties.subnets")}, stateCol}}
	subnetType = &resourceType{name: "subnet", noun: "subnet", plural: "subnets",
		aliases: []string{"subnets"}, armType: network.TypeSubnet, scope: scopeChild, parent: vnetType, parentFlag: "vnet", segment: "subnets",
		columns: []column{nameCol, {"VNet", parentName}, groupCol, {"AddressPrefix", docField("properties.addressPrefix", "properties.addressPrefixes")},
			{"NSG", docField("properties.networkSecurityGroup")}, {"RouteTable", docField("properties.routeTable")}, stateCol}}
	nsgType = &resourceType{name: "nsg", noun: "network security group", plural: "network security groups",
		aliases: []string{"nsgs", "networksecuritygroup", "networksecuritygroups"}, armType: network.TypeNetworkSecurityGroup, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, {"Rules", docCount("properties.securityRules")}, stateCol}}
	ruleType = &resourceType{name: "rule", noun: "security rule", plural: "security rules",
		aliases: []string{"rules", "securityrule", "securityrules", "nsgrule", "nsgrules"}, armType: network.TypeSecurityRule, scope: scopeChild,
		parent: nsgType, parentFlag: "nsg", segment: "securityRules",
		columns: []column{nameCol, {"NSG", parentName}, {"Priority", docField("properties.priority")}, {"Direction", docField("properties.direction")},
			{"Access", docField("properties.access")}, {"Protocol", docField("properties.protocol")},
			{"Source", docField("properties.sourceAddressPrefix", "properties.sourceAddressPrefixes", "properties.sourceApplicationSecurityGroups")},
			{"SourcePorts", docField("properties.sourcePortRange", "properties.sourcePortRanges")},
			{"Destination", docField("properties.destinationAddressPrefix", "properties.destinationAddressPrefixes", "properties.destinationApplicationSecurityGroups")},
			{"DestinationPorts", docField("properties.destinationPortRange", "properties.destinationPortRanges")}, stateCol}}
	routeTableType = &resourceType{name: "routetable", noun: "route table", plural: "route tables",
		aliases: []string{"routetables", "rt", "rts"}, armType: network.TypeRouteTable, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, {"Routes", docCount("properties.routes")},
			{"DisableBgpRoutePropagation", docBool("properties.disableBgpRoutePropagation")}, stateCol}}
	routeType = &resourceType{name: "route", noun: "route", plural: "routes",
		aliases: []string{"routes"}, armType: network.TypeRoute, scope: scopeChild, parent: routeTableType, parentFlag: "route-table", segment: "routes",
		columns: []column{nameCol, {"RouteTable", parentName}, {"AddressPrefix", docField("properties.addressPrefix")},
			{"NextHopType", docField("properties.nextHopType")}, {"NextHopIpAddress", docField("properties.nextHopIpAddress")}, stateCol}}
	nicType = &resourceType{name: "nic", noun: "network interface", plural: "network interfaces",
		aliases: []string{"nics", "networkinterface", "networkinterfaces"}, armType: network.TypeNetworkInterface, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, {"PrivateIPAddresses", docField("properties.ipConfigurations.*.properties.privateIPAddress")},
			{"Subnet", docField("properties.ipConfigurations.*.properties.subnet")}, {"NSG", docField("properties.networkSecurityGroup")}, stateCol}}
	publicIPType = &resourceType{name: "publicip", noun: "public IP address", plural: "public IP addresses",
		aliases: []string{"publicips", "pip", "pips", "publicipaddress", "publicipaddresses"}, armType: network.TypePublicIPAddress, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, {"IPAddress", docField("properties.ipAddress")},
			{"AllocationMethod", docField("properties.publicIPAllocationMethod")}, {"Sku", docField("sku.name")}, stateCol}}
	loadBalancerType = &resourceType{name: "loadbalancer", noun: "load balancer", plural: "load balancers",
		aliases: []string{"loadbalancers", "lb", "lbs"}, armType: network.TypeLoadBalancer, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, {"Sku", docField("sku.name")},
			{"Frontends", docField("properties.frontendIPConfigurations.*.properties.privateIPAddress", "properties.frontendIPConfigurations.*.properties.publicIPAddress")},
			{"BackendPools", docCount("properties.backendAddressPools")}, stateCol}}
	asgType = &resourceType{name: "asg", noun: "application security group", plural: "application security groups",
		aliases: []string{"asgs", "applicationsecuritygroup", "applicationsecuritygroups"}, armType: network.TypeApplicationSecurityGrp, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, stateCol}}
	storageType = &resourceType{name: "storageaccount", noun: "storage account", plural: "storage accounts",
		aliases: []string{"storageaccounts", "storage", "sa"}, armType: network.TypeStorageAccount, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, {"Address", docField("properties.virtualAddress")},
			{"DefaultAction", docField("properties.networkAcls.defaultAction")}, {"Bypass", docField("properties.networkAcls.bypass")}, stateCol}}
	keyVaultType = &resourceType{name: "keyvault", noun: "key vault", plural: "key vaults",
		aliases: []string{"keyvaults", "vault", "vaults", "kv"}, armType: network.TypeKeyVault, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, {"Address", docField("properties.virtualAddress")},
			{"DefaultAction", docField("properties.networkAcls.defaultAction")}, {"Bypass", docField("properties.networkAcls.bypass")}, stateCol}}
	watcherType = &resourceType{name: "watcher", noun: "network watcher", plural: "network watchers",
		aliases: []string{"watchers", "networkwatcher", "networkwatchers"}, armType: armWatcher, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, stateCol}}
	managedClusterType = &resourceType{name: "managedcluster", noun: "managed cluster", plural: "managed clusters",
		aliases: []string{"managedclusters", "akscluster", "aksclusters", "mc"}, armType: armManagedCluster, scope: scopeGroup,
		columns: []column{nameCol, groupCol, locationCol, {"KubernetesVersion", docField("properties.kubernetesVersion")},
			{"Nodes", docField("properties.agentPoolProfiles.*.count")}, {"VmSize", docField("properties.agentPoolProfiles.*.vmSize")},
			{"Subnet", docField("properties.vnetmlResources.subnet")}, stateCol}}
	lockType = &resourceType{name: "lock", noun: "lock", plural: "locks",
		aliases: []string{"locks"}, armType: armLock, scope: scopeLock,
		columns: []column{nameCol, {"Level", docField("properties.level")}, {"Scope", lockScopeCol}, {"Notes", docField("properties.notes")}}}
	tokenType = &resourceType{name: "token", noun: "token", plural: "tokens",
		aliases: []string{"tokens"}, armType: armToken, scope: scopeTenant,
		columns: []column{nameCol, {"Role", docField("properties.role")}, {"Scope", docField("properties.scope")},
			{"ExpiresOn", docField("properties.expiresOn")}, {"CreatedBy", docField("properties.createdBy")}, {"Description", docField("properties.description")}}}

	resourceTypes = []*resourceType{subscriptionType, groupType, vnetType, subnetType, nsgType, ruleType, routeTableType, routeType,
		nicType, publicIPType, loadBalancerType, asgType, storageType, keyVaultType, workspaceType, datastoreType, computeType, managedClusterType,
		watcherType, lockType, tokenType}
)

// Columns most types share.
var (
	nameCol     = column{"Name", docField("name")}
	groupCol    = column{"ResourceGroup", func(d map[string]any) string { return groupOfID(docStr(d["id"])) }}
	locationCol = column{"Location", docField("location")}
	stateCol    = column{"ProvisioningState", docField("properties.provisioningState")}
)

// parentName is a child's parent's name, from its id.
func parentName(d map[string]any) string {
	if r, err := network.ParseResourceID(docStr(d["id"])); err == nil && len(r.Names) >= 2 {
		return r.Names[len(r.Names)-2]
	}
	return ""
}

// lockScopeCol is the scope a lock is on: its id up to the locks segment.
func lockScopeCol(d map[string]any) string {
	id := docStr(d["id"])
	if i := strings.LastIndex(strings.ToLower(id), strings.ToLower(locksSegment)+"/"); i >= 0 {
		return id[:i]
	}
	return ""
}

// groupOfID is the resource group an id names, or "".
func groupOfID(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}

// parseType finds the type a user's spelling names, case-insensitively;
// an unknown spelling is a usage error listing the types, with the
// nearest ones suggested.
func parseType(s string) (*resourceType, error) {
	key := strings.ToLower(strings.TrimSpace(s))
	for _, t := range resourceTypes {
		if key == t.name || slices.Contains(t.aliases, key) {
			return t, nil
		}
	}
	msg := fmt.Sprintf("%q is not a resource type.", s)
	if sug := suggestTypes(key); len(sug) > 0 {
		msg = fmt.Sprintf("%q is not a resource type; did you mean %s?", s, strings.Join(sug, " or "))
	}
	return nil, usageErr(armerror.New(codeInvalidArgument, "TYPE", "%s The types are %s.", msg, typeNames()))
}

// typeNames lists the canonical type names.
func typeNames() string {
	names := make([]string, len(resourceTypes))
	for i, t := range resourceTypes {
		names[i] = t.name
	}
	return strings.Join(names, ", ")
}

// suggestTypes returns the types one of whose spellings is nearest to s:
// at most two edits away, or starting with it (which counts as one edit).
func suggestTypes(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	best := 3
	for _, t := range resourceTypes {
		d := best + 1
		for _, a := range append([]string{t.name}, t.aliases...) {
			d = min(d, armerror.Distance(s, a, 64))
			if len(s) >= 3 && strings.HasPrefix(a, s) {
				d = min(d, 1)
			}
		}
		switch {
		case d < best:
			best, out = d, []string{t.name}
		case d == best:
			out = append(out, t.name)
		}
	}
	if best > 2 {
		return nil
	}
	return out
}

// typeHelp is the table of types for get's and delete's help.
func typeHelp() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-13s %-28s %s\n", "TYPE", "WHAT IT LISTS", "OTHER SPELLINGS")
	for _, t := range resourceTypes {
		fmt.Fprintf(&b, "  %-13s %-28s %s\n", t.name, t.plural, strings.Join(t.aliases, ", "))
	}
	return strings.TrimRight(b.String(), "\n")
}

// armTypeOfID returns the ARM type of the resource an id names:
// Microsoft.Network/virtualNetworks/subnets, Microsoft.Resources/subscriptions, …
func armTypeOfID(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	p := -1
	for i, s := range parts {
		if strings.EqualFold(s, "providers") {
			p = i
		}
	}
	if p < 0 {
		switch len(parts) {
		case 2:
			return armSubscription
		case 4:
			return armResourceGroup
		}
		return ""
	}
	rest := parts[p+1:]
	if len(rest) < 3 || len(rest)%2 == 0 {
		return ""
	}
	typ := rest[0]
	for i := 1; i < len(rest); i += 2 {
		typ += "/" + rest[i]
	}
	return typ
}

// Table values read from a document decoded into maps.

// docField returns the first non-empty value among paths, formatted: a path
// is dot-separated keys, * stands for every element of a list; lists are
// joined with commas; references ({"id": ...}) are shown by name.
func docField(paths ...string) func(map[string]any) string {
	return func(d map[string]any) string {
		for _, p := range paths {
			var vals []string
			for _, v := range docPick(d, strings.Split(p, ".")) {
				if s := docFormat(v); s != "" {
					vals = append(vals, s)
				}
			}
			if len(vals) > 0 {
				return strings.Join(vals, ",")
			}
		}
		return ""
	}
}

// docBool returns the boolean at path, false when it is absent (as ARM
// omits false).
func docBool(path string) func(map[string]any) string {
	return func(d map[string]any) string {
		for _, v := range docPick(d, strings.Split(path, ".")) {
			if b, ok := v.(bool); ok {
				return strconv.FormatBool(b)
			}
		}
		return "false"
	}
}

// docCount returns the number of elements of the list at path.
func docCount(path string) func(map[string]any) string {
	return func(d map[string]any) string {
		n := 0
		for _, v := range docPick(d, strings.Split(path, ".")) {
			if l, ok := v.([]any); ok {
				n += len(l)
			}
		}
		return strconv.Itoa(n)
	}
}

// docPick returns the values at path in v.
func docPick(v any, path []string) []any {
	if len(path) == 0 {
		if v == nil {
			return nil
		}
		return []any{v}
	}
	switch x := v.(type) {
	case map[string]any:
		return docPick(x[path[0]], path[1:])
	case []any:
		if path[0] != "*" {
			return nil
		}
		var out []any
		for _, e := range x {
			out = append(out, docPick(e, path[1:])...)
		}
		return out
	}
	return nil
}

// docFormat renders one value for a table cell.
func docFormat(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		var parts []string
		for _, e := range x {
			if s := docFormat(e); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ",")
	case map[string]any:
		if id, ok := x["id"].(string); ok {
			return refName(id)
		}
		if n, ok := x["name"].(string); ok {
			return n
		}
	}
	return ""
}

// refName shows a referenced resource by its name path: ml-nsg,
// mynetwork/default.
func refName(id string) string {
	if r, err := network.ParseResourceID(id); err == nil && len(r.Names) > 0 {
		return strings.Join(r.Names, "/")
	}
	return id[strings.LastIndex(id, "/")+1:]
}

func docStr(v any) string {
	s, _ := v.(string)
	return s
}

// decodeDoc decodes a document for the table's columns.
func decodeDoc(raw json.RawMessage) map[string]any {
	var d map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&d) != nil {
		return map[string]any{}
	}
	return d
}

// typeTable is the table of docs of type t.
func typeTable(t *resourceType, docs []json.RawMessage) *table {
	tb := &table{}
	for _, c := range t.columns {
		tb.header = append(tb.header, c.header)
	}
	for _, raw := range docs {
		d := decodeDoc(raw)
		row := make([]string, len(t.columns))
		for i, c := range t.columns {
			row[i] = c.value(d)
		}
		tb.add(row...)
	}
	return tb
}

// capitalize upper-cases the first letter of s, for messages that start
// with a noun.
func capitalize(s string) string {
	for i, r := range s {
		return string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return s
}

// typeFlags are the flags of get and delete that say where a resource is.
type typeFlags struct {
	group      string
	vnet       string
	nsg        string
	routeTable string
	scope      string
}

func (f *typeFlags) register(fs *pflag.FlagSet) {
	fs.VarP(text(&f.group, "GROUP"), "resource-group", "g",
		"the resource group (default: look in the whole subscription); for locks, the group whose locks to manage")
	fs.Var(text(&f.vnet, "VNET"), "vnet", "for subnets: the virtual network (or name the subnet VNET/SUBNET)")
	fs.Var(text(&f.nsg, "NSG"), "nsg", "for security rules: the network security group (or name the rule NSG/RULE)")
	fs.Var(text(&f.routeTable, "TABLE"), "route-table", "for routes: the route table (or name the route TABLE/ROUTE)")
	fs.Var(text(&f.scope, "ID"), "scope",
		"for locks: the id of the locked scope, a subscription, group or resource (default: the group given with -g, else the subscription)")
}

// target is what one get or delete addresses: a type, and a resource of
// it or (without a name) all of them in a scope.
type target struct {
	t      *resourceType
	name   string // the resource's name or full id; "" for a list
	sub    string // the subscription
	group  string
	parent string // a child's parent's name
	scope  string // a lock's scope
}

// newTarget checks the flags against the type and splits NAME.
func newTarget(t *resourceType, name string, f *typeFlags, sub string) (*target, error) {
	x := &target{t: t, name: name, sub: sub, group: f.group}
	var l armerror.List
	for _, p := range []struct {
		flag, value string
		typ         *resourceType
	}{{"vnet", f.vnet, subnetType}, {"nsg", f.nsg, ruleType}, {"route-table", f.routeTable, routeType}} {
		switch {
		case p.value == "":
		case t != p.typ:
			l.Addf(codeInvalidArgument, "--"+p.flag, "--%s applies to %s only, not to %s", p.flag, p.typ.plural, t.plural)
		default:
			x.parent = p.value
		}
	}
	if f.scope != "" {
		if t != lockType {
			l.Addf(codeInvalidArgument, "--scope", "--scope applies to locks only; for %s, give -g GROUP or the resource's full id", t.plural)
		} else if f.group != "" {
			l.Addf(codeInvalidArgument, "--scope", "give the lock's scope with --scope or -g, not both")
		}
		x.scope = f.scope
	}
	if f.group != "" && (t.scope == scopeTenant || t.scope == scopeSubscription) {
		hint := "drop it"
		if t == groupType {
			hint = "name the group instead: TYPE NAME, e.g. `group " + f.group + "`"
		}
		l.Addf(codeInvalidArgument, "--resource-group", "--resource-group does not apply to %s; %s", t.plural, hint)
	}
	if name != "" && !strings.HasPrefix(name, "/") && strings.Contains(name, "/") {
		parts := strings.Split(name, "/")
		switch {
		case t.scope != scopeChild:
			l.Addf(codeInvalidArgument, "NAME", "%q is not a %s name: names have no slash; give the name, or the full resource id starting with /", name, t.noun)
		case len(parts) != 2 || parts[0] == "" || parts[1] == "":
			l.Addf(codeInvalidArgument, "NAME", "%q is not a %s name: write %s/%s, or give --%s", name, t.noun,
				strings.ToUpper(t.parentFlag), strings.ToUpper(t.name), t.parentFlag)
		case x.parent != "" && !strings.EqualFold(x.parent, parts[0]):
			l.Addf(codeInvalidArgument, "--"+t.parentFlag, "NAME %q names %s %q but --%s says %q; give the %s once", name, t.parent.noun, parts[0], t.parentFlag, x.parent, t.parent.noun)
		default:
			x.parent, x.name = parts[0], parts[1]
		}
	}
	if strings.HasPrefix(name, "/") {
		if got := armTypeOfID(name); !strings.EqualFold(got, t.armType) {
			what := "no resource type vnetml serves"
			for _, o := range resourceTypes {
				if strings.EqualFold(got, o.armType) {
					what = "a " + o.noun + " (TYPE " + o.name + ")"
				}
			}
			l.Addf(codeInvalidArgument, "NAME", "%q is the id of %s, not of a %s", name, what, t.noun)
		}
	}
	if l.Len() > 0 {
		return nil, usageErr(l.In("the command line"))
	}
	return x, nil
}

// lockScope is the scope whose locks a lock target addresses.
func (x *target) lockScope() string {
	switch {
	case x.scope != "":
		return strings.TrimRight(x.scope, "/")
	case x.group != "":
		return "/subscriptions/" + x.sub + "/resourceGroups/" + x.group
	}
	return "/subscriptions/" + x.sub
}

// id returns the named resource's id when the flags determine it, false
// when the resource must be looked for by name.
func (x *target) id() (string, bool) {
	if strings.HasPrefix(x.name, "/") {
		return strings.TrimRight(x.name, "/"), true
	}
	switch x.t.scope {
	case scopeTenant:
		if x.t == subscriptionType {
			return "/subscriptions/" + x.name, true
		}
		return tokensPath + "/" + x.name, true
	case scopeSubscription:
		return "/subscriptions/" + x.sub + "/resourceGroups/" + x.name, true
	case scopeLock:
		return x.lockScope() + locksSegment + "/" + x.name, true
	case scopeGroup:
		if x.group != "" {
			return network.MakeID(x.sub, x.group, x.t.armType, x.name), true
		}
	case scopeChild:
		if x.group != "" && x.parent != "" {
			return network.MakeID(x.sub, x.group, x.t.armType, x.parent+"/"+x.name), true
		}
	}
	return "", false
}

// where says where a list or a search looked, for messages.
func (x *target) where() string {
	switch x.t.scope {
	case scopeTenant:
		return "this deployment"
	case scopeLock:
		return "scope " + x.lockScope()
	}
	s := "subscription " + x.sub
	if x.group != "" {
		s = "resource group " + x.group
	}
	if x.t.scope == scopeChild && x.parent != "" {
		s = x.t.parent.noun + " " + x.parent + " in " + s
	}
	return s
}

// collection is the path that lists a top-level type's resources in the
// target's scope.
func (x *target) collection(t *resourceType) string {
	switch t.scope {
	case scopeTenant:
		if t == subscriptionType {
			return "/subscriptions"
		}
		return tokensPath
	case scopeSubscription:
		return "/subscriptions/" + x.sub + "/resourcegroups"
	case scopeLock:
		return x.lockScope() + locksSegment
	}
	if x.group != "" {
		return "/subscriptions/" + x.sub + "/resourceGroups/" + x.group + "/providers/" + t.armType
	}
	return "/subscriptions/" + x.sub + "/providers/" + t.armType
}

// list returns the documents of the target's type in its scope, in the
// server's order; for a child type, the children of every parent in scope
// (of the named parent only, if one is named).
func (x *target) list(ctx context.Context, c *client.Client) ([]json.RawMessage, error) {
	if x.t.scope != scopeChild {
		return c.List(ctx, x.collection(x.t))
	}
	var parents []string
	if id, ok := (&target{t: x.t.parent, name: x.parent, sub: x.sub, group: x.group}).id(); ok && x.parent != "" {
		parents = []string{id}
	} else {
		docs, err := c.List(ctx, x.collection(x.t.parent))
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			var h struct{ ID, Name string }
			if json.Unmarshal(d, &h) == nil && (x.parent == "" || strings.EqualFold(h.Name, x.parent)) {
				parents = append(parents, h.ID)
			}
		}
	}
	out := []json.RawMessage{}
	for _, p := range parents {
		docs, err := c.List(ctx, p+"/"+x.t.segment)
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}

// resolve finds the named resource's id: from the flags when they
// determine it, else by listing the type in scope and matching the name.
// found is false when no resource has the name; more than one is an
// error naming them.
func (x *target) resolve(ctx context.Context, c *client.Client) (id string, found bool, err error) {
	if id, ok := x.id(); ok {
		return id, true, nil
	}
	docs, err := x.list(ctx, c)
	if err != nil {
		return "", false, err
	}
	var matches []string
	for _, d := range docs {
		var h struct{ ID, Name string }
		if json.Unmarshal(d, &h) == nil && strings.EqualFold(h.Name, x.name) {
			matches = append(matches, h.ID)
		}
	}
	switch len(matches) {
	case 0:
		return "", false, nil
	case 1:
		return matches[0], true, nil
	}
	shown := make([]string, len(matches))
	for i, m := range matches {
		shown[i] = x.display(m)
	}
	hint := "give -g GROUP"
	if x.t.scope == scopeChild {
		hint += " or --" + x.t.parentFlag
	}
	return "", false, usageErr(armerror.New(codeInvalidArgument, "NAME", "%d %s in %s are named %q (%s): %s, or the full resource id",
		len(matches), x.t.plural, x.where(), x.name, strings.Join(shown, ", "), hint))
}

// notFound is the error for a name that resolve did not find.
func (x *target) notFound(ctx context.Context, c *client.Client) error {
	msg := fmt.Sprintf("%s %q was not found in %s", capitalize(x.t.noun), x.name, x.where())
	if docs, err := x.list(ctx, c); err == nil {
		var known []string
		for _, d := range docs {
			var h struct{ ID string }
			if json.Unmarshal(d, &h) == nil {
				known = append(known, x.display(h.ID))
			}
		}
		if len(known) > 10 {
			known = append(known[:10], "...")
		}
		if len(known) > 0 {
			msg += "; known: " + strings.Join(known, ", ")
		}
	}
	return armerror.New(codeNotFound, "NAME", "%s", msg)
}

// locksElsewhere lists the scopes under the target's lock scope that hold
// a lock of the target's name: where a lock the user named may be, when
// it is not on the scope they gave (or defaulted to).
func (x *target) locksElsewhere(ctx context.Context, c *client.Client) []string {
	docs, err := c.List(ctx, x.collection(lockType))
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range docs {
		var h struct{ ID, Name string }
		if json.Unmarshal(d, &h) == nil && strings.EqualFold(h.Name, x.name) {
			out = append(out, lockScopeCol(map[string]any{"id": h.ID}))
		}
	}
	return out
}

// lockHint is a hint for a lock that is not where the target looked.
func (x *target) lockHint(ctx context.Context, c *client.Client) string {
	if x.t != lockType || strings.HasPrefix(x.name, "/") {
		return ""
	}
	scopes := x.locksElsewhere(ctx, c)
	if len(scopes) == 0 {
		return ""
	}
	return fmt.Sprintf("; a lock named %s is on %s: give --scope %s", x.name, strings.Join(scopes, " and on "), scopes[0])
}

// display names a resource by its id for messages: the name, with its
// group (and parent) for the network types: mygroup/mynetwork/default.
func (x *target) display(id string) string {
	switch x.t.scope {
	case scopeGroup, scopeChild:
		if r, err := network.ParseResourceID(id); err == nil && len(r.Names) > 0 {
			return r.ResourceGroup + "/" + strings.Join(r.Names, "/")
		}
	case scopeLock:
		return lastSegment(id) + " on " + lockScopeCol(map[string]any{"id": id})
	case scopeSubscription:
		return groupOfID(id)
	}
	return id[strings.LastIndex(id, "/")+1:]
}
