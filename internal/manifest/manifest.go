package manifest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
)

// Resource is one ARM resource a manifest declares, in apply order.
type Resource struct {
	ID     string          // full ARM id, e.g. /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{n}
	Type   string          // ARM type, e.g. Microsoft.Network/virtualNetworks; Microsoft.Resources/resourceGroups; Microsoft.Authorization/locks
	Doc    json.RawMessage // the ARM JSON document to PUT: {"name","id","type","location"?,"tags"?,"properties":{...}}
	Source string          // "file:line" where it was declared, for messages
}

// Defaults fill what a manifest leaves out. The zero value is valid.
type Defaults struct {
	Subscription string // used when the manifest names none; "" means network.DefaultSubscription
	Location     string // e.g. "eastus"; used when neither the resource nor its group names one
}

// MaxBytes is the largest manifest Parse reads.
const MaxBytes = 4 << 20

// Error codes of Parse.
const (
	CodeInvalidManifest = "InvalidManifest"       // anything wrong inside the file
	CodeTooLarge        = "RequestEntityTooLarge" // the file is larger than MaxBytes
)

// maxErrors bounds the details of one error: past a hundred, the rest are
// more of the same. maxKept bounds the errors kept to choose them from, so
// that a file of a million mistakes costs no more than one of a thousand.
const (
	maxErrors = 100
	maxKept   = 10 * maxErrors
)

// Parse reads one manifest. name is the file name used in errors. Every error is reported at once
// as an *armerror.Error: the one error, or one of code InvalidManifest whose Details hold them all in
// file order. Each has Target "file:line:col" (file:line for a YAML syntax error; the file alone for
// the file as a whole) and a message that begins with the field's path in the manifest and says what
// to write instead (resourceGroups[0].virtualNetworks[0].subnets[0]: unknown field "adressPrefix":
// did you mean "addressPrefix"?). A file larger than MaxBytes is refused with CodeTooLarge.
//
// The resources come in apply order: resource groups; then, group by group, application security
// groups, network security groups, route tables, public IPs, virtual networks, storage accounts,
// key vaults and other (verbatim) resources, network interfaces; then locks on resources; then locks on resource groups, last,
// so that a ReadOnly lock never blocks the creation of a resource it covers.
func Parse(name string, data []byte, d Defaults) ([]Resource, error) {
	if len(data) > MaxBytes {
		return nil, armerror.New(CodeTooLarge, name, "%s is %d bytes, more than the %d a manifest may have; split it into several files", name, len(data), MaxBytes)
	}
	p := &parser{file: name, d: d}
	if p.d.Subscription == "" {
		p.d.Subscription = network.DefaultSubscription
	}
	root := p.decode(data)
	if root != nil {
		p.root(root)
	}
	p.checkIDs()
	if len(p.errs) > 0 {
		return nil, p.err()
	}
	return p.ordered(), nil
}

// parser holds the state of one Parse.
type parser struct {
	file       string
	d          Defaults
	inManifest bool // the file is a manifest, not ARM resources alone
	tentative  bool // declarations are under a resource group whose name is wrong
	errs       []posErr
	dropped    int // errors past maxKept, counted only
	items      []item
}

type posErr struct {
	line, col int
	e         *armerror.Error
}

// item is a resource as declared, before ordering.
type item struct {
	res       Resource
	id        resID
	node      *yaml.Node // where it is declared
	path      string
	tentative bool // its group's name is wrong, so its id is a guess
}

// errAt reports an error at node n (nil for the whole file), for the field
// at path.
func (p *parser) errAt(n *yaml.Node, path, format string, args ...any) {
	if len(p.errs) >= maxKept {
		p.dropped++
		return
	}
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	pe := posErr{e: &armerror.Error{Code: CodeInvalidManifest, Target: p.file, Message: msg}}
	if n != nil && n.Line > 0 {
		pe.line, pe.col = n.Line, n.Column
		pe.e.Target = fmt.Sprintf("%s:%d:%d", p.file, n.Line, n.Column)
	}
	p.errs = append(p.errs, pe)
}

// err is every error reported, in file order.
func (p *parser) err() error {
	slices.SortStableFunc(p.errs, func(a, b posErr) int {
		return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.col, b.col))
	})
	if len(p.errs) == 1 {
		return p.errs[0].e
	}
	total := len(p.errs) + p.dropped
	msg := fmt.Sprintf("%d errors in %s; see details", total, p.file)
	n := len(p.errs)
	if n > maxErrors {
		msg = fmt.Sprintf("%d errors in %s; the first %d are in details", total, p.file, maxErrors)
		n = maxErrors
	}
	details := make([]*armerror.Error, n)
	for i := range details {
		details[i] = p.errs[i].e
	}
	return &armerror.Error{Code: CodeInvalidManifest, Target: p.file, Message: msg, Details: details}
}

var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// decode reads the file's one YAML document and returns its root node, or
// nil when there is none or it cannot be used (having reported why). Empty
// documents (a trailing ---) are skipped.
func (p *parser) decode(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(jsonAsYAML(data)))
	var root *yaml.Node
	for {
		var doc yaml.Node
		err := safeDecode(dec, &doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.syntaxError(err)
			return nil
		}
		n := &doc
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			n = n.Content[0]
		}
		if n.Kind == yaml.DocumentNode || n.Kind == 0 || isNull(n) {
			continue
		}
		if root != nil {
			p.errAt(n, "", "a second YAML document starts here; a manifest is one document: list every resource group under one resourceGroups")
			return nil
		}
		root = n
	}
	if root == nil {
		p.errAt(nil, "", "%s is empty: write a manifest (docs/manifest.md) or ARM resources as JSON", p.file)
		return nil
	}
	if p.aliases(root); len(p.errs) > 0 {
		return nil
	}
	return root
}

// safeDecode is dec.Decode, with a panic of the YAML library (on input it
// did not foresee) turned into an error.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

// syntaxError reports a YAML syntax error. The library gives a line but no
// column, and for some errors the line before the one at fault.
func (p *parser) syntaxError(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errs = append(p.errs, posErr{line: line, e: armerror.New(CodeInvalidManifest, fmt.Sprintf("%s:%d", p.file, line),
			"not valid YAML (or JSON): %s; check the indentation, brackets and quotes on line %d and the next", m[2], line)})
		return
	}
	p.errAt(nil, "", "not valid YAML (or JSON): %s", strings.TrimPrefix(msg, "yaml: "))
}

// aliases refuses YAML aliases (*name) anywhere: expanding them is how a
// small file becomes a huge document, and a manifest does not need them.
func (p *parser) aliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		p.errAt(n, "", "aliases (*%s) are not supported; write the value out", n.Value)
		return
	}
	for _, c := range n.Content {
		if len(p.errs) >= maxErrors {
			return
		}
		p.aliases(c)
	}
}

var manifestSchema = &schema{
	what:   "a manifest",
	fields: []string{"subscription", "location", "resourceGroups", "resources"},
	hints: map[string]string{
		"resourceGroup":             "list resource groups under resourceGroups, e.g. resourceGroups: [{name: mygroup}]",
		"groups":                    "list resource groups under resourceGroups, e.g. resourceGroups: [{name: mygroup}]",
		"name":                      "a manifest has no name: name its resource groups under resourceGroups (and an ARM resource given on its own needs its \"id\")",
		"virtualNetworks":           "declare resources inside their resource group: resourceGroups: [{name: mygroup, virtualNetworks: [...]}]",
		"networkSecurityGroups":     "declare resources inside their resource group: resourceGroups: [{name: mygroup, networkSecurityGroups: [...]}]",
		"routeTables":               "declare resources inside their resource group: resourceGroups: [{name: mygroup, routeTables: [...]}]",
		"networkInterfaces":         "declare resources inside their resource group: resourceGroups: [{name: mygroup, networkInterfaces: [...]}]",
		"publicIPAddresses":         "declare resources inside their resource group: resourceGroups: [{name: mygroup, publicIPAddresses: [...]}]",
		"applicationSecurityGroups": "declare resources inside their resource group: resourceGroups: [{name: mygroup, applicationSecurityGroups: [...]}]",
		"storageAccounts":           "declare resources inside their resource group: resourceGroups: [{name: mygroup, storageAccounts: [...]}]",
		"keyVaults":                 "declare resources inside their resource group: resourceGroups: [{name: mygroup, keyVaults: [...]}]",
		"locks":                     "declare locks on the resource group or resource they protect: resourceGroups: [{name: mygroup, locks: [...]}]",
	},
}

// root dispatches on the shape of the file: a manifest, an ARM resource, an
// array of them, a list response, or an ARM template (refused).
func (p *parser) root(n *yaml.Node) {
	switch n.Kind {
	case yaml.SequenceNode:
		p.verbatimList(n, "")
		return
	case yaml.MappingNode:
	default:
		p.errAt(n, "", "%s holds %s; want a manifest (a mapping with resourceGroups, see docs/manifest.md) or ARM resources (a JSON object, an array of them, or {\"value\": [...]})", p.file, describe(n))
		return
	}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode {
			keys[k.Value] = k
		}
	}
	for _, k := range []string{"$schema", "contentVersion"} {
		if at, ok := keys[k]; ok {
			p.errAt(at, "", "this is an ARM template, which vnetml does not evaluate: copy the template's resources, with literal values instead of [expressions], under resourceGroups[].resources of a manifest (docs/manifest.md)")
			return
		}
	}
	switch {
	case keys["id"] != nil || keys["type"] != nil || keys["properties"] != nil:
		p.verbatim(n, "", nil)
	case keys["value"] != nil && keys["resourceGroups"] == nil:
		p.listResponse(n)
	default:
		p.manifest(n)
	}
}

func (p *parser) manifest(n *yaml.Node) {
	p.inManifest = true
	f := p.fields(n, "", manifestSchema)
	if f == nil {
		return
	}
	if s, ok := f.str("subscription"); ok && p.checkName(f.vals["subscription"], "subscription", s) {
		p.d.Subscription = s
	}
	if s, ok := f.str("location"); ok && s != "" {
		p.d.Location = s
	}
	for i, g := range f.list("resourceGroups", "[{name: mygroup, location: eastus}]") {
		p.group(g, fmt.Sprintf("resourceGroups[%d]", i))
	}
	for i, r := range f.list("resources", `[{id: /subscriptions/…/resourceGroups/mygroup/providers/Microsoft.Network/loadBalancers/lb, properties: {…}}]`) {
		p.verbatim(r, fmt.Sprintf("resources[%d]", i), nil)
	}
}

// add records a resource declared at n.
func (p *parser) add(n *yaml.Node, path, id, typ string, doc any) {
	r, why := parseID(id)
	if why != "" || !strings.EqualFold(r.typ, typ) {
		if why == "" {
			why = "its type is not " + typ
		}
		p.errAt(n, path, "this declares %s, which is not a valid resource id: %s; shorten or change the names", id, why)
		return
	}
	p.items = append(p.items, item{
		res:       Resource{ID: id, Type: typ, Doc: encode(doc), Source: fmt.Sprintf("%s:%d", p.file, n.Line)},
		id:        r,
		node:      n,
		path:      path,
		tentative: p.tentative,
	})
}

// checkIDs reports resources declared twice (ARM ids are case-insensitive),
// among those whose ids are known.
func (p *parser) checkIDs() {
	seen := make(map[string]*item, len(p.items))
	for i := range p.items {
		it := &p.items[i]
		if it.tentative {
			continue
		}
		k := network.Key(it.res.ID)
		if first, dup := seen[k]; dup {
			p.errAt(it.node, it.path, "%s %q is declared twice, first at %s (names are case-insensitive); remove or rename one",
				it.res.Type, it.id.name(), first.res.Source)
			continue
		}
		seen[k] = it
	}
}

// ordered returns the resources in apply order (see Parse). The order is
// a function of the declaration order that a second pass over its own
// output leaves unchanged, so that the expanded documents, applied
// verbatim, are applied in the same order.
func (p *parser) ordered() []Resource {
	type key struct {
		phase, group, rank, seq int
	}
	groups := map[string]int{}
	keys := make([]key, len(p.items))
	for i, it := range p.items {
		k := key{phase: phase(it.id), seq: i}
		if k.phase == 1 {
			g := strings.ToLower(it.id.sub + "/" + it.id.group)
			idx, ok := groups[g]
			if !ok {
				idx = len(groups)
				groups[g] = idx
			}
			k.group, k.rank = idx, rank(it.res.Type)
		}
		keys[i] = k
	}
	idx := make([]int, len(p.items))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		ka, kb := keys[a], keys[b]
		return cmp.Or(cmp.Compare(ka.phase, kb.phase), cmp.Compare(ka.group, kb.group),
			cmp.Compare(ka.rank, kb.rank), cmp.Compare(ka.seq, kb.seq))
	})
	out := make([]Resource, len(idx))
	for i, j := range idx {
		out[i] = p.items[j].res
	}
	return out
}

// phase is a resource's place in the apply order: 0 resource groups, 1
// resources, 2 locks on resources, 3 locks on resource groups.
func phase(r resID) int {
	switch {
	case r.typ == TypeResourceGroup:
		return 0
	case strings.EqualFold(r.typ, TypeLock) && r.onGroup:
		return 3
	case strings.EqualFold(r.typ, TypeLock):
		return 2
	}
	return 1
}

// rank orders the resources of one group so that what is referred to comes
// before what refers to it.
func rank(typ string) int {
	for i, t := range [...]string{
		network.TypeApplicationSecurityGrp,
		network.TypeNetworkSecurityGroup,
		network.TypeRouteTable,
		network.TypePublicIPAddress,
		network.TypeVirtualNetwork,
	} {
		if strings.EqualFold(typ, t) {
			return i
		}
	}
	if strings.EqualFold(typ, network.TypeNetworkInterface) {
		return 6
	}
	// Storage accounts and key vaults (their firewalls name subnets), load
	// balancers, subnets given on their own, anything else: in file order.
	return 5
}
