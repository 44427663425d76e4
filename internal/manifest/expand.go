package manifest

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/vnetml/vnetml/internal/network"
)

// This file expands the typed sections of a resource group into ARM
// documents spelled as internal/network's types marshal them.

// group is a resource group being expanded.
type group struct {
	sub, name, id, location string
}

// placeholder stands for a name that could not be read, so that the rest
// of the declaration is still checked; the resource itself is not added.
const placeholder = "-"

const flat = `manifest fields are written flat, without "properties"; to give a resource's ARM JSON as it is, list it under the group's resources`

var groupSchema = &schema{
	what: "a resource group",
	fields: []string{"name", "location", "tags", "locks", "applicationSecurityGroups", "networkSecurityGroups",
		"routeTables", "publicIPAddresses", "virtualNetworks", "storageAccounts", "keyVaults", "networkInterfaces", "workspaces", "resources"},
	hints: map[string]string{
		"nsgs":             `write "networkSecurityGroups"`,
		"securityGroups":   `write "networkSecurityGroups"`,
		"asgs":             `write "applicationSecurityGroups"`,
		"vnets":            `write "virtualNetworks"`,
		"nics":             `write "networkInterfaces"`,
		"publicIPs":        `write "publicIPAddresses"`,
		"vaults":           `write "keyVaults"`,
		"storage":          `write "storageAccounts"`,
		"subnets":          "subnets belong to a virtual network: virtualNetworks: [{name: mynetwork, addressSpace: [10.0.0.0/16], subnets: [...]}]",
		"routes":           "routes belong to a route table: routeTables: [{name: myroutes, routes: [...]}]",
		"rules":            "rules belong to a network security group: networkSecurityGroups: [{name: mynsg, rules: [...]}]",
		"properties":       flat,
		"resourceGroup":    `a resource group is named by "name"`,
		"subscription":     "the subscription is named once, at the top of the manifest",
		"loadBalancers":    `give load balancers as ARM JSON under "resources", e.g. resources: [{type: Microsoft.Network/loadBalancers, name: lb, properties: {...}}]`,
		"privateEndpoints": `give other resources as ARM JSON under "resources", with type and name`,
	},
}

func (p *parser) group(n *yaml.Node, path string) {
	f := p.fields(n, path, groupSchema)
	if f == nil {
		return
	}
	name, ok := f.name("mygroup")
	if !ok {
		name = placeholder
	}
	p.tentative = !ok
	defer func() { p.tentative = false }()
	loc := p.d.Location
	if s, set := f.str("location"); set && s != "" {
		loc = s
	}
	if loc == "" {
		p.errAt(n, path, "resource group %q has no location: write location: eastus on the group, or once at the top of the manifest", name)
	}
	g := &group{sub: p.d.Subscription, name: name, location: loc}
	g.id = "/subscriptions/" + g.sub + "/resourceGroups/" + name
	doc := object{{"name", name}, {"id", g.id}, {"type", TypeResourceGroup}, {"location", loc}}
	if tags, set := f.tags(); set {
		doc = append(doc, member{"tags", tags})
	}
	if ok {
		p.add(n, path, g.id, TypeResourceGroup, doc)
	}
	p.locks(f, g.id, ok)
	for i, e := range f.list("applicationSecurityGroups", "[{name: web}]") {
		p.asg(e, fmt.Sprintf("%s.applicationSecurityGroups[%d]", path, i), g)
	}
	for i, e := range f.list("networkSecurityGroups", "[{name: mynsg, rules: [...]}]") {
		p.nsg(e, fmt.Sprintf("%s.networkSecurityGroups[%d]", path, i), g)
	}
	for i, e := range f.list("routeTables", "[{name: myroutes, routes: [...]}]") {
		p.routeTable(e, fmt.Sprintf("%s.routeTables[%d]", path, i), g)
	}
	for i, e := range f.list("publicIPAddresses", "[{name: pip0, sku: Standard, allocationMethod: Static}]") {
		p.publicIP(e, fmt.Sprintf("%s.publicIPAddresses[%d]", path, i), g)
	}
	for i, e := range f.list("virtualNetworks", "[{name: mynetwork, addressSpace: [10.0.0.0/16], subnets: [...]}]") {
		p.vnet(e, fmt.Sprintf("%s.virtualNetworks[%d]", path, i), g)
	}
	for i, e := range f.list("storageAccounts", "[{name: mlworkspacestore, firewall: {defaultAction: Deny}}]") {
		p.storageAccount(e, fmt.Sprintf("%s.storageAccounts[%d]", path, i), g)
	}
	for i, e := range f.list("keyVaults", "[{name: ml-keyvault, firewall: {defaultAction: Deny}}]") {
		p.keyVault(e, fmt.Sprintf("%s.keyVaults[%d]", path, i), g)
	}
	for i, e := range f.list("networkInterfaces", "[{name: nic0, subnet: mynetwork/default}]") {
		p.nic(e, fmt.Sprintf("%s.networkInterfaces[%d]", path, i), g)
	}
	for i, e := range f.list("workspaces", "[{name: myworkspace, storageAccount: mlworkspacestore, keyVault: ml-keyvault}]") {
		p.workspace(e, fmt.Sprintf("%s.workspaces[%d]", path, i), g)
	}
	for i, e := range f.list("resources", "[{type: Microsoft.Network/loadBalancers, name: lb, properties: {...}}]") {
		p.verbatim(e, fmt.Sprintf("%s.resources[%d]", path, i), g)
	}
}

// head reads what every resource has, name, location and tags, and returns
// the resource's id and the start of its document.
func (p *parser) head(f *fields, g *group, typ, example string) (id string, doc object, ok bool) {
	name, ok := f.name(example)
	if !ok {
		name = placeholder
	}
	id = network.MakeID(g.sub, g.name, typ, name)
	loc := g.location
	if s, set := f.str("location"); set && s != "" {
		loc = s
	}
	doc = object{{"name", name}, {"id", id}, {"type", typ}, {"location", loc}}
	if tags, set := f.tags(); set {
		doc = append(doc, member{"tags", tags})
	}
	return id, doc, ok
}

var lockSchema = &schema{
	what:   "a lock",
	fields: []string{"name", "level", "notes"},
	hints:  map[string]string{"lockLevel": `write "level": CanNotDelete or ReadOnly`},
}

var lockLevels = []string{"CanNotDelete", "ReadOnly"}

// locks reads the locks of f, on the resource or group whose id is scope.
func (p *parser) locks(f *fields, scope string, scopeOK bool) {
	for i, n := range f.list("locks", "[{name: no-delete, level: CanNotDelete}]") {
		path := fmt.Sprintf("%s[%d]", f.sub("locks"), i)
		lf := p.fields(n, path, lockSchema)
		if lf == nil {
			continue
		}
		name, ok := lf.name("no-delete")
		level, good := lf.req("level", "CanNotDelete")
		if good {
			if m := suggest(level, lockLevels); strings.EqualFold(m, level) {
				level = m
			} else {
				hint := ""
				if m != "" {
					hint = fmt.Sprintf("did you mean %q? ", m)
				}
				p.errAt(lf.vals["level"], lf.sub("level"), "%q is not a lock level: %swrite CanNotDelete (may be read and changed, not deleted) or ReadOnly (may only be read)", level, hint)
				good = false
			}
		}
		props := object{{"level", level}}
		if notes, set := lf.str("notes"); set {
			props = append(props, member{"notes", notes})
		}
		id := scope + "/providers/" + TypeLock + "/" + name
		if ok && good && scopeOK {
			p.add(n, path, id, TypeLock, object{{"name", name}, {"id", id}, {"type", TypeLock}, {"properties", props}})
		}
	}
}

// unique reports a child resource (a subnet, a rule) named twice in its
// parent. seen maps case-folded names to where they were declared.
func (p *parser) unique(seen map[string]*yaml.Node, n *yaml.Node, path, what, name string) {
	if name == placeholder {
		return
	}
	k := strings.ToLower(name)
	if first, dup := seen[k]; dup {
		p.errAt(n, path, "%s %q is declared twice here, first on line %d (names are case-insensitive); remove or rename one", what, name, first.Line)
		return
	}
	seen[k] = n
}

// refs reads a list of references to resources of type typ, as ARM's
// [{"id": ...}].
func (p *parser) refs(f *fields, key string, g *group, typ, example string) ([]any, bool) {
	list := f.list(key, "["+example+"]")
	if list == nil {
		return nil, false
	}
	out := make([]any, 0, len(list))
	for i, n := range list {
		if id, ok := p.reference(n, fmt.Sprintf("%s[%d]", f.sub(key), i), g, typ, example); ok {
			out = append(out, ref(id))
		}
	}
	return out, true
}

// refField reads an optional reference to a resource of type typ.
func (p *parser) refField(f *fields, key string, g *group, typ, example string) (object, bool) {
	n := f.node(key)
	if n == nil {
		return nil, false
	}
	id, ok := p.reference(n, f.sub(key), g, typ, example)
	if !ok {
		return nil, false
	}
	return ref(id), true
}

var asgSchema = &schema{
	what:   "an application security group",
	fields: []string{"name", "location", "tags", "locks"},
	hints:  map[string]string{"properties": flat},
}

func (p *parser) asg(n *yaml.Node, path string, g *group) {
	f := p.fields(n, path, asgSchema)
	if f == nil {
		return
	}
	id, doc, ok := p.head(f, g, network.TypeApplicationSecurityGrp, "web")
	if ok {
		p.add(n, path, id, network.TypeApplicationSecurityGrp, append(doc, member{"properties", object{}}))
	}
	p.locks(f, id, ok)
}

var nsgSchema = &schema{
	what:   "a network security group",
	fields: []string{"name", "location", "tags", "rules", "locks"},
	hints: map[string]string{
		"securityRules": `write the rules under "rules"`,
		"properties":    flat,
	},
}

var ruleSchema = &schema{
	what: "a security rule",
	fields: []string{"name", "priority", "direction", "access", "protocol", "source", "sourcePorts",
		"destination", "destinationPorts", "description", "sourceApplicationSecurityGroups", "destinationApplicationSecurityGroups"},
	hints: map[string]string{
		"sourceAddressPrefix":        `write "source": one prefix or service tag, or a list of prefixes`,
		"sourceAddressPrefixes":      `write "source": one prefix or service tag, or a list of prefixes`,
		"destinationAddressPrefix":   `write "destination": one prefix or service tag, or a list of prefixes`,
		"destinationAddressPrefixes": `write "destination": one prefix or service tag, or a list of prefixes`,
		"sourcePortRange":            `write "sourcePorts": one port or range, or a list of them`,
		"sourcePortRanges":           `write "sourcePorts": one port or range, or a list of them`,
		"destinationPortRange":       `write "destinationPorts": one port or range, or a list of them`,
		"destinationPortRanges":      `write "destinationPorts": one port or range, or a list of them`,
		"port":                       `write "destinationPorts" (and "sourcePorts", which is "*" when omitted)`,
		"ports":                      `write "destinationPorts" (and "sourcePorts", which is "*" when omitted)`,
		"properties":                 flat,
	},
}

func (p *parser) nsg(n *yaml.Node, path string, g *group) {
	f := p.fields(n, path, nsgSchema)
	if f == nil {
		return
	}
	id, doc, ok := p.head(f, g, network.TypeNetworkSecurityGroup, "mynsg")
	rules := []any{}
	seen := map[string]*yaml.Node{}
	for i, rn := range f.list("rules", "[{name: allow-ssh, priority: 100, protocol: Tcp, destinationPorts: 22}]") {
		if r, good := p.rule(rn, fmt.Sprintf("%s.rules[%d]", path, i), g, seen); good {
			rules = append(rules, r)
		} else {
			ok = false
		}
	}
	if ok {
		p.add(n, path, id, network.TypeNetworkSecurityGroup, append(doc, member{"properties", object{{"securityRules", rules}}}))
	}
	p.locks(f, id, ok)
}

func (p *parser) rule(n *yaml.Node, path string, g *group, seen map[string]*yaml.Node) (object, bool) {
	f := p.fields(n, path, ruleSchema)
	if f == nil {
		return nil, false
	}
	errs := len(p.errs)
	name, ok := f.name("allow-ssh")
	if ok {
		p.unique(seen, n, path, "security rule", name)
	}
	props := object{}
	if s, set := f.str("description"); set {
		props = append(props, member{"description", s})
	}
	props = append(props, member{"protocol", f.strOr("protocol", "*")})
	props = f.oneOrManyInto(props, "sourcePorts", "sourcePortRange", "sourcePortRanges", "*")
	props = f.oneOrManyInto(props, "destinationPorts", "destinationPortRange", "destinationPortRanges", "*")
	for _, side := range [...]string{"source", "destination"} {
		asgs, hasASGs := p.refs(f, side+"ApplicationSecurityGroups", g, network.TypeApplicationSecurityGrp, "web")
		def := "*"
		if hasASGs {
			def = "" // a side takes prefixes or application security groups
		}
		props = f.oneOrManyInto(props, side, side+"AddressPrefix", side+"AddressPrefixes", def)
		if hasASGs {
			props = append(props, member{side + "ApplicationSecurityGroups", asgs})
		}
	}
	props = append(props, member{"access", f.strOr("access", network.AccessAllow)})
	if prio, set := f.integer("priority", "100"); set {
		props = append(props, member{"priority", prio})
	} else if f.node("priority") == nil {
		f.missing("priority", "a security rule needs one, e.g. priority: 100 (100 to 4096; lower numbers are matched first)")
	}
	props = append(props, member{"direction", f.strOr("direction", network.DirectionInbound)})
	return object{{"name", name}, {"properties", props}}, len(p.errs) == errs
}

// strOr reads an optional string with a default.
func (f *fields) strOr(key, def string) string {
	if s, set := f.str(key); set {
		return s
	}
	return def
}

// oneOrManyInto appends field key, written one or many, as ARM's singular
// or plural property; def ("" for none) when it is absent.
func (f *fields) oneOrManyInto(props object, key, one, many, def string) object {
	s, list, isList, set := f.oneOrMany(key)
	switch {
	case set && isList:
		all := make([]any, len(list))
		for i, x := range list {
			all[i] = x
		}
		return append(props, member{many, all})
	case set:
		return append(props, member{one, s})
	case def != "":
		return append(props, member{one, def})
	}
	return props
}

var routeTableSchema = &schema{
	what:   "a route table",
	fields: []string{"name", "location", "tags", "disableBgpRoutePropagation", "routes", "locks"},
	hints:  map[string]string{"properties": flat},
}

var routeSchema = &schema{
	what:   "a route",
	fields: []string{"name", "addressPrefix", "nextHopType", "nextHopIpAddress"},
	hints: map[string]string{
		"nextHop":    `write "nextHopType" (and "nextHopIpAddress" for a VirtualAppliance)`,
		"properties": flat,
	},
}

func (p *parser) routeTable(n *yaml.Node, path string, g *group) {
	f := p.fields(n, path, routeTableSchema)
	if f == nil {
		return
	}
	errs := len(p.errs)
	id, doc, ok := p.head(f, g, network.TypeRouteTable, "myroutes")
	routes := []any{}
	seen := map[string]*yaml.Node{}
	for i, rn := range f.list("routes", "[{name: to-fw, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4}]") {
		rpath := fmt.Sprintf("%s.routes[%d]", path, i)
		rf := p.fields(rn, rpath, routeSchema)
		if rf == nil {
			continue
		}
		name, good := rf.name("to-fw")
		if good {
			p.unique(seen, rn, rpath, "route", name)
		}
		prefix, _ := rf.req("addressPrefix", "0.0.0.0/0")
		hop, _ := rf.req("nextHopType", "VirtualAppliance")
		props := object{{"addressPrefix", prefix}, {"nextHopType", hop}}
		if ip, set := rf.str("nextHopIpAddress"); set {
			props = append(props, member{"nextHopIpAddress", ip})
		}
		routes = append(routes, object{{"name", name}, {"properties", props}})
	}
	props := object{{"routes", routes}}
	if b, set := f.boolean("disableBgpRoutePropagation"); set {
		props = append(props, member{"disableBgpRoutePropagation", b})
	}
	if ok && len(p.errs) == errs {
		p.add(n, path, id, network.TypeRouteTable, append(doc, member{"properties", props}))
	}
	p.locks(f, id, ok)
}

var publicIPSchema = &schema{
	what:   "a public IP address",
	fields: []string{"name", "location", "tags", "sku", "allocationMethod", "version", "ipAddress", "idleTimeoutInMinutes", "locks"},
	hints: map[string]string{
		"publicIPAllocationMethod": `write "allocationMethod": Static or Dynamic`,
		"publicIPAddressVersion":   `write "version": IPv4 or IPv6`,
		"properties":               flat,
	},
}

func (p *parser) publicIP(n *yaml.Node, path string, g *group) {
	f := p.fields(n, path, publicIPSchema)
	if f == nil {
		return
	}
	errs := len(p.errs)
	id, doc, ok := p.head(f, g, network.TypePublicIPAddress, "pip0")
	if sku, set := f.str("sku"); set {
		doc = append(doc, member{"sku", object{{"name", sku}}})
	}
	props := object{}
	if s, set := f.str("ipAddress"); set {
		props = append(props, member{"ipAddress", s})
	}
	if s, set := f.str("allocationMethod"); set {
		props = append(props, member{"publicIPAllocationMethod", s})
	}
	if s, set := f.str("version"); set {
		props = append(props, member{"publicIPAddressVersion", s})
	}
	if i, set := f.integer("idleTimeoutInMinutes", "4"); set {
		props = append(props, member{"idleTimeoutInMinutes", i})
	}
	if ok && len(p.errs) == errs {
		p.add(n, path, id, network.TypePublicIPAddress, append(doc, member{"properties", props}))
	}
	p.locks(f, id, ok)
}

var vnetSchema = &schema{
	what:   "a virtual network",
	fields: []string{"name", "location", "tags", "addressSpace", "dnsServers", "subnets", "peerings", "locks"},
	hints: map[string]string{
		"addressPrefixes":        `write "addressSpace": [10.0.0.0/16]`,
		"addressPrefix":          `write "addressSpace": [10.0.0.0/16]`,
		"virtualNetworkPeerings": `write "peerings"`,
		"dhcpOptions":            `write "dnsServers": [10.0.0.4]`,
		"properties":             flat,
	},
}

var subnetSchema = &schema{
	what:   "a subnet",
	fields: []string{"name", "addressPrefix", "networkSecurityGroup", "routeTable", "serviceEndpoints"},
	hints: map[string]string{
		"addressPrefixes": `write "addressPrefix", with a list for several: addressPrefix: [10.0.0.0/24, 10.1.0.0/24]`,
		"nsg":             `write "networkSecurityGroup"`,
		"properties":      flat,
	},
}

var endpointSchema = &schema{
	what:   "a service endpoint",
	fields: []string{"service", "locations"},
}

var peeringSchema = &schema{
	what:   "a peering",
	fields: []string{"name", "remoteVirtualNetwork", "allowVirtualNetworkAccess", "allowForwardedTraffic", "allowGatewayTransit", "useRemoteGateways"},
	hints:  map[string]string{"properties": flat},
}

func (p *parser) vnet(n *yaml.Node, path string, g *group) {
	f := p.fields(n, path, vnetSchema)
	if f == nil {
		return
	}
	errs := len(p.errs)
	id, doc, ok := p.head(f, g, network.TypeVirtualNetwork, "mynetwork")
	space, set := f.strs("addressSpace", "[10.0.0.0/16]")
	if !set && f.node("addressSpace") == nil {
		f.missing("addressSpace", "a virtual network needs one, e.g. addressSpace: [10.0.0.0/16]")
	}
	props := object{{"addressSpace", object{{"addressPrefixes", anys(space)}}}}
	subnets := []any{}
	seen := map[string]*yaml.Node{}
	for i, sn := range f.list("subnets", "[{name: default, addressPrefix: 10.0.0.0/24}]") {
		if s, good := p.subnet(sn, fmt.Sprintf("%s.subnets[%d]", path, i), g, seen); good {
			subnets = append(subnets, s)
		}
	}
	props = append(props, member{"subnets", subnets})
	if f.has("peerings") {
		peerings := []any{}
		seen := map[string]*yaml.Node{}
		for i, pn := range f.list("peerings", "[{name: to-hub, remoteVirtualNetwork: hub}]") {
			if pr, good := p.peering(pn, fmt.Sprintf("%s.peerings[%d]", path, i), g, seen); good {
				peerings = append(peerings, pr)
			}
		}
		props = append(props, member{"virtualNetworkPeerings", peerings})
	}
	if dns, set := f.strs("dnsServers", "[10.0.0.4]"); set {
		props = append(props, member{"dhcpOptions", object{{"dnsServers", anys(dns)}}})
	}
	if ok && len(p.errs) == errs {
		p.add(n, path, id, network.TypeVirtualNetwork, append(doc, member{"properties", props}))
	}
	p.locks(f, id, ok)
}

func (p *parser) subnet(n *yaml.Node, path string, g *group, seen map[string]*yaml.Node) (object, bool) {
	f := p.fields(n, path, subnetSchema)
	if f == nil {
		return nil, false
	}
	name, ok := f.name("default")
	if ok {
		p.unique(seen, n, path, "subnet", name)
	}
	props := object{}
	switch ap := f.node("addressPrefix"); {
	case ap == nil:
		f.missing("addressPrefix", "a subnet needs one, e.g. addressPrefix: 10.0.0.0/24")
	case ap.Kind == yaml.ScalarNode && ap.Value == "":
		p.errAt(ap, f.sub("addressPrefix"), "\"addressPrefix\" is empty: write it, e.g. addressPrefix: 10.0.0.0/24")
	}
	props = f.oneOrManyInto(props, "addressPrefix", "addressPrefix", "addressPrefixes", "")
	if r, set := p.refField(f, "networkSecurityGroup", g, network.TypeNetworkSecurityGroup, "mynsg"); set {
		props = append(props, member{"networkSecurityGroup", r})
	}
	if r, set := p.refField(f, "routeTable", g, network.TypeRouteTable, "myroutes"); set {
		props = append(props, member{"routeTable", r})
	}
	if list := f.list("serviceEndpoints", "[Microsoft.Storage, Microsoft.KeyVault]"); list != nil {
		eps := make([]any, 0, len(list))
		for i, e := range list {
			epath := fmt.Sprintf("%s.serviceEndpoints[%d]", path, i)
			if e.Kind == yaml.ScalarNode {
				if s, good := p.scalar(e, epath); good {
					eps = append(eps, object{{"service", s}})
				}
				continue
			}
			ef := p.fields(e, epath, endpointSchema)
			if ef == nil {
				continue
			}
			s, _ := ef.req("service", "Microsoft.Storage")
			ep := object{{"service", s}}
			if locs, set := ef.strs("locations", "[eastus]"); set {
				ep = append(ep, member{"locations", anys(locs)})
			}
			eps = append(eps, ep)
		}
		props = append(props, member{"serviceEndpoints", eps})
	}
	return object{{"name", name}, {"properties", props}}, ok
}

func (p *parser) peering(n *yaml.Node, path string, g *group, seen map[string]*yaml.Node) (object, bool) {
	f := p.fields(n, path, peeringSchema)
	if f == nil {
		return nil, false
	}
	name, ok := f.name("to-hub")
	if ok {
		p.unique(seen, n, path, "peering", name)
	}
	props := object{}
	if r, set := p.refField(f, "remoteVirtualNetwork", g, network.TypeVirtualNetwork, "hub"); set {
		props = append(props, member{"remoteVirtualNetwork", r})
	} else if f.node("remoteVirtualNetwork") == nil {
		f.missing("remoteVirtualNetwork", "a peering needs the name or id of the virtual network it connects to, e.g. remoteVirtualNetwork: hub")
	}
	for _, k := range peeringSchema.fields[2:] {
		if b, set := f.boolean(k); set {
			props = append(props, member{k, b})
		}
	}
	return object{{"name", name}, {"properties", props}}, ok
}

var nicSchema = &schema{
	what: "a network interface",
	fields: []string{"name", "location", "tags", "subnet", "privateIPAddress", "publicIPAddress", "applicationSecurityGroups",
		"networkSecurityGroup", "enableIPForwarding", "enableAcceleratedNetworking", "locks"},
	hints: map[string]string{
		"ipConfigurations":          "a network interface's one IP configuration is written flat: subnet, privateIPAddress, publicIPAddress, applicationSecurityGroups",
		"privateIPAllocationMethod": "it is Static when privateIPAddress is given and Dynamic otherwise",
		"properties":                flat,
	},
}

func (p *parser) nic(n *yaml.Node, path string, g *group) {
	f := p.fields(n, path, nicSchema)
	if f == nil {
		return
	}
	errs := len(p.errs)
	id, doc, ok := p.head(f, g, network.TypeNetworkInterface, "nic0")
	ip := object{}
	method := "Dynamic"
	if s, set := f.str("privateIPAddress"); set {
		ip = append(ip, member{"privateIPAddress", s})
		method = "Static"
	}
	ip = append(ip, member{"privateIPAllocationMethod", method})
	if r, set := p.refField(f, "subnet", g, network.TypeSubnet, "mynetwork/default"); set {
		ip = append(ip, member{"subnet", r})
	} else if f.node("subnet") == nil {
		f.missing("subnet", "a network interface needs one, e.g. subnet: mynetwork/default")
	}
	if r, set := p.refField(f, "publicIPAddress", g, network.TypePublicIPAddress, "pip0"); set {
		ip = append(ip, member{"publicIPAddress", r})
	}
	if asgs, set := p.refs(f, "applicationSecurityGroups", g, network.TypeApplicationSecurityGrp, "web"); set {
		ip = append(ip, member{"applicationSecurityGroups", asgs})
	}
	props := object{{"ipConfigurations", []any{object{{"name", "ipconfig1"}, {"properties", ip}}}}}
	if r, set := p.refField(f, "networkSecurityGroup", g, network.TypeNetworkSecurityGroup, "mynsg"); set {
		props = append(props, member{"networkSecurityGroup", r})
	}
	for _, k := range [...]string{"enableIPForwarding", "enableAcceleratedNetworking"} {
		if b, set := f.boolean(k); set {
			props = append(props, member{k, b})
		}
	}
	if ok && len(p.errs) == errs {
		p.add(n, path, id, network.TypeNetworkInterface, append(doc, member{"properties", props}))
	}
	p.locks(f, id, ok)
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}
