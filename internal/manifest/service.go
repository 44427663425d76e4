package manifest

import (
	"fmt"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/vnetml/vnetml/internal/network"
)

// This file expands the workspace services of a resource group, storage
// accounts and key vaults, with their firewalls (properties.networkAcls,
// network.NetworkRuleSet). Their names are checked here, as Azure checks
// them, because they are global (part of a host name) and a wrong one would
// otherwise fail only when applied.

var storageSchema = &schema{
	what:   "a storage account",
	fields: []string{"name", "location", "tags", "sku", "kind", "publicNetworkAccess", "firewall", "locks"},
	hints: map[string]string{
		"networkAcls":    `write "firewall": {defaultAction: Deny, ipRules: [...], virtualNetworkRules: [...]}`,
		"networkRuleSet": `write "firewall": {defaultAction: Deny, ipRules: [...], virtualNetworkRules: [...]}`,
		"properties":     flat,
	},
}

var vaultSchema = &schema{
	what:   "a key vault",
	fields: []string{"name", "location", "tags", "tenantId", "sku", "publicNetworkAccess", "firewall", "locks"},
	hints: map[string]string{
		"networkAcls": `write "firewall": {defaultAction: Deny, ipRules: [...], virtualNetworkRules: [...]}`,
		"kind":        "a key vault has no kind; its sku is standard or premium",
		"properties":  flat,
	},
}

var firewallSchema = &schema{
	what:   "a firewall",
	fields: []string{"defaultAction", "bypass", "ipRules", "virtualNetworkRules"},
	hints: map[string]string{
		"ipAddresses": `write "ipRules": [203.0.113.0/24]`,
		"subnets":     `write "virtualNetworkRules": [mynetwork/default]`,
		"action":      `write "defaultAction": Allow or Deny; the rules themselves always allow`,
	},
}

// Virtual network rules written as mappings; only a key vault's has a flag.
var (
	storageVNetRuleSchema = &schema{
		what:   "a storage account's virtual network rule",
		fields: []string{"subnet"},
		hints: map[string]string{
			"id":                               `write "subnet": the subnet's name (mynetwork/default) or full id`,
			"ignoreMissingVnetServiceEndpoint": "a storage account's rule has no such flag (key vaults only): add the Microsoft.Storage service endpoint to the subnet",
		},
	}
	vaultVNetRuleSchema = &schema{
		what:   "a key vault's virtual network rule",
		fields: []string{"subnet", "ignoreMissingVnetServiceEndpoint"},
		hints:  map[string]string{"id": `write "subnet": the subnet's name (mynetwork/default) or full id`},
	}
)

// Azure's naming rules (as internal/apiserver applies them).
var (
	storageName = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	vaultName   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$`)
)

func (p *parser) storageAccount(n *yaml.Node, path string, g *group) {
	f := p.fields(n, path, storageSchema)
	if f == nil {
		return
	}
	errs := len(p.errs)
	id, doc, ok := p.head(f, g, network.TypeStorageAccount, "mlworkspacestore")
	if name := f.vals["name"]; ok && !storageName.MatchString(name.Value) {
		hint := ""
		if s := strings.Map(lowerAlnum, name.Value); storageName.MatchString(s) {
			hint = fmt.Sprintf(", e.g. %s", s)
		}
		p.errAt(name, f.sub("name"), "%q is not a storage account name: write 3 to 24 lowercase letters and digits, no hyphens%s (the name is global: it is the host name NAME.blob.core.windows.net)", name.Value, hint)
	}
	doc = append(doc, member{"sku", object{{"name", f.strOr("sku", "Standard_LRS")}}})
	if s, set := f.str("kind"); set {
		doc = append(doc, member{"kind", s})
	}
	props := object{}
	if acls, set := p.firewall(f, g, true); set {
		props = append(props, member{"networkAcls", acls})
	}
	if s, set := f.str("publicNetworkAccess"); set {
		props = append(props, member{"publicNetworkAccess", s})
	}
	if ok && len(p.errs) == errs {
		p.add(n, path, id, network.TypeStorageAccount, append(doc, member{"properties", props}))
	}
	p.locks(f, id, ok)
}

func (p *parser) keyVault(n *yaml.Node, path string, g *group) {
	f := p.fields(n, path, vaultSchema)
	if f == nil {
		return
	}
	errs := len(p.errs)
	id, doc, ok := p.head(f, g, network.TypeKeyVault, "ml-keyvault")
	if name := f.vals["name"]; ok && (!vaultName.MatchString(name.Value) || strings.Contains(name.Value, "--")) {
		p.errAt(name, f.sub("name"), "%q is not a key vault name: write 3 to 24 letters, digits and hyphens that start with a letter, end with a letter or digit and have no two hyphens in a row, e.g. ml-keyvault (the name is global: it is the host name NAME.vault.azure.net)", name.Value)
	}
	props := object{}
	if s, set := f.str("tenantId"); set {
		props = append(props, member{"tenantId", s})
	}
	props = append(props, member{"sku", object{{"name", f.strOr("sku", "standard")}}})
	if acls, set := p.firewall(f, g, false); set {
		props = append(props, member{"networkAcls", acls})
	}
	if s, set := f.str("publicNetworkAccess"); set {
		props = append(props, member{"publicNetworkAccess", s})
	}
	if ok && len(p.errs) == errs {
		p.add(n, path, id, network.TypeKeyVault, append(doc, member{"properties", props}))
	}
	p.locks(f, id, ok)
}

// firewall reads the optional firewall of a storage account (storage) or a
// key vault as network.NetworkRuleSet. Storage's rules carry "action":
// "Allow"; a key vault's have none.
func (p *parser) firewall(of *fields, g *group, storage bool) (object, bool) {
	n := of.node("firewall")
	if n == nil {
		return nil, false
	}
	f := p.fields(n, of.sub("firewall"), firewallSchema)
	if f == nil {
		return nil, false
	}
	bypass := "AzureServices"
	switch s, list, isList, set := f.oneOrMany("bypass"); {
	case set && isList && len(list) == 0:
		p.errAt(f.vals["bypass"], f.sub("bypass"), "\"bypass\" is an empty list: write None to let no trusted service through, or list them, e.g. bypass: [AzureServices]")
	case set && isList:
		bypass = strings.Join(list, ", ")
	case set:
		bypass = s
	}
	action, _ := f.req("defaultAction", "Deny")
	acls := object{{"bypass", bypass}, {"defaultAction", action}}
	if ips, set := f.strs("ipRules", "[203.0.113.0/24]"); set {
		rules := make([]any, len(ips))
		for i, ip := range ips {
			rule := object{{"value", ip}}
			if storage {
				rule = append(rule, member{"action", network.AccessAllow})
			}
			rules[i] = rule
		}
		acls = append(acls, member{"ipRules", rules})
	}
	if list := f.list("virtualNetworkRules", "[mynetwork/default]"); list != nil {
		rules := make([]any, 0, len(list))
		for i, e := range list {
			if r, good := p.vnetRule(e, fmt.Sprintf("%s[%d]", f.sub("virtualNetworkRules"), i), g, storage); good {
				rules = append(rules, r)
			}
		}
		acls = append(acls, member{"virtualNetworkRules", rules})
	}
	return acls, true
}

// vnetRule reads one virtual network rule: a subnet reference, or a
// mapping {subnet, ignoreMissingVnetServiceEndpoint} (the flag for key
// vaults only).
func (p *parser) vnetRule(n *yaml.Node, path string, g *group, storage bool) (object, bool) {
	const example = "mynetwork/default"
	if n.Kind != yaml.MappingNode {
		id, ok := p.reference(n, path, g, network.TypeSubnet, example)
		if !ok {
			return nil, false
		}
		if storage {
			return object{{"id", id}, {"action", network.AccessAllow}}, true
		}
		return object{{"id", id}}, true
	}
	s := vaultVNetRuleSchema
	if storage {
		s = storageVNetRuleSchema
	}
	f := p.fields(n, path, s)
	sn := f.node("subnet")
	if sn == nil {
		if !hasKey(n, "id") { // its hint already says to write subnet
			f.missing("subnet", "a virtual network rule names a subnet, e.g. subnet: "+example)
		}
		return nil, false
	}
	id, ok := p.reference(sn, f.sub("subnet"), g, network.TypeSubnet, example)
	rule := object{{"id", id}}
	if storage {
		rule = append(rule, member{"action", network.AccessAllow})
	}
	if b, set := f.boolean("ignoreMissingVnetServiceEndpoint"); set {
		rule = append(rule, member{"ignoreMissingVnetServiceEndpoint", b})
	}
	return rule, ok
}

// hasKey reports whether mapping n has key k.
func hasKey(n *yaml.Node, k string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == k {
			return true
		}
	}
	return false
}

// lowerAlnum keeps what a storage account name may hold, lowercased.
func lowerAlnum(r rune) rune {
	switch {
	case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
		return r
	case 'A' <= r && r <= 'Z':
		return r + 'a' - 'A'
	}
	return -1
}

// ARM types of the workspace and what it links that the network model
// does not hold.
const (
	TypeWorkspace         = "Microsoft.MachineLearningServices/workspaces"
	TypeContainerRegistry = "Microsoft.ContainerRegistry/registries"
)

var workspaceSchema = &schema{
	what:   "a workspace",
	fields: []string{"name", "location", "tags", "description", "friendlyName", "storageAccount", "keyVault", "containerRegistry", "locks"},
	hints: map[string]string{
		"storage":    `write "storageAccount": the name of a storage account in this group (or its id)`,
		"vault":      `write "keyVault": the name of a key vault in this group (or its id)`,
		"registry":   `write "containerRegistry": the name of a registry in this group (or its id)`,
		"properties": flat,
	},
}

var workspaceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$`)

// workspace reads an Azure ML workspace: its storage account, key vault
// and container registry by name in the group (or id); those left out are
// created with it (see internal/apiserver's workspaces).
func (p *parser) workspace(n *yaml.Node, path string, g *group) {
	f := p.fields(n, path, workspaceSchema)
	if f == nil {
		return
	}
	errs := len(p.errs)
	id, doc, ok := p.head(f, g, TypeWorkspace, "myworkspace")
	if name := f.vals["name"]; ok && !workspaceName.MatchString(name.Value) {
		p.errAt(name, f.sub("name"), "%q is not a workspace name: write 3 to 33 letters, digits, '-' and '_', starting with a letter or digit", name.Value)
	}
	props := object{}
	for _, s := range []string{"description", "friendlyName"} {
		if v, set := f.str(s); set {
			props = append(props, member{s, v})
		}
	}
	for _, r := range []struct{ field, typ, example string }{
		{"storageAccount", network.TypeStorageAccount, "mlworkspacestore"},
		{"keyVault", network.TypeKeyVault, "ml-keyvault"},
		{"containerRegistry", TypeContainerRegistry, "mlregistry"},
	} {
		if rn := f.node(r.field); rn != nil {
			if ref, good := p.reference(rn, f.sub(r.field), g, r.typ, r.example); good {
				props = append(props, member{r.field, ref})
			}
		}
	}
	if ok && len(p.errs) == errs {
		p.add(n, path, id, TypeWorkspace, append(doc, member{"properties", props}))
	}
	p.locks(f, id, ok)
}
