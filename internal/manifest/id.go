package manifest

import (
	"fmt"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/vnetml/vnetml/internal/network"
)

// ARM types the manifest writes besides internal/network's.
const (
	TypeResourceGroup = "Microsoft.Resources/resourceGroups"
	TypeLock          = "Microsoft.Authorization/locks"
)

const (
	maxIDLength = 4096
	idShape     = "/subscriptions/{subscription}/resourceGroups/{group}[/providers/{namespace}/{type}/{name}...]"
)

// resID is a parsed ARM id of a resource group or of a resource in one.
type resID struct {
	sub, group string
	typ        string   // the full type of the id's last providers section; TypeResourceGroup for a group
	names      []string // the names of that section ([group] for a group)
	// onGroup is true when the last providers section sits right under the
	// group: an ordinary resource, or a lock on the group itself (not an
	// extension of another resource, such as a lock on a virtual network).
	onGroup bool
}

func (r resID) name() string { return r.names[len(r.names)-1] }

func (r resID) groupID() string { return "/subscriptions/" + r.sub + "/resourceGroups/" + r.group }

// parseID parses an id of a resource group or of a resource inside one,
// including child resources (…/virtualNetworks/v/subnets/s) and extension
// resources (…/virtualNetworks/v/providers/Microsoft.Authorization/locks/l).
// It accepts what internal/store accepts there, and why says what is wrong
// otherwise.
func parseID(id string) (r resID, why string) {
	switch {
	case id == "":
		return r, "it is empty"
	case len(id) > maxIDLength:
		return r, fmt.Sprintf("it is longer than %d bytes", maxIDLength)
	case !utf8.ValidString(id):
		return r, "it is not valid UTF-8"
	case strings.IndexFunc(id, isControl) >= 0:
		return r, "it contains a control character"
	case id[0] != '/':
		return r, "it does not start with /"
	case strings.HasSuffix(id, "/"):
		return r, "it ends with /"
	}
	segs := strings.Split(id[1:], "/")
	for _, s := range segs {
		if s == "" {
			return r, "it has an empty segment (//)"
		}
	}
	if len(segs) < 4 || !keyword(segs[0], "subscriptions") || !keyword(segs[2], "resourceGroups") {
		return r, "it does not start with /subscriptions/{subscription}/resourceGroups/{group}"
	}
	r.sub, r.group = segs[1], segs[3]
	if len(segs) == 4 {
		r.typ, r.names = TypeResourceGroup, []string{r.group}
		return r, ""
	}
	for i := 4; i < len(segs); {
		if !keyword(segs[i], "providers") {
			return r, fmt.Sprintf("found %q where providers/{namespace} belongs", segs[i])
		}
		if i+1 == len(segs) {
			return r, "providers has no namespace"
		}
		r.onGroup = i == 4
		ns := segs[i+1]
		var types []string
		r.names = nil
		for i += 2; i < len(segs) && !keyword(segs[i], "providers"); i += 2 {
			if i+1 == len(segs) {
				return r, fmt.Sprintf("type %q has no name", segs[i])
			}
			types = append(types, segs[i])
			r.names = append(r.names, segs[i+1])
		}
		if len(types) == 0 {
			return r, fmt.Sprintf("providers/%s has no {type}/{name}", ns)
		}
		r.typ = ns + "/" + strings.Join(types, "/")
		if strings.EqualFold(r.typ, TypeResourceGroup) || strings.EqualFold(r.typ, "Microsoft.Resources/subscriptions") {
			return r, "a resource group's id is " + "/subscriptions/{subscription}/resourceGroups/{group}"
		}
	}
	return r, ""
}

// keyword reports whether seg is the ASCII keyword kw in any case (as ARM
// and internal/store read ids; strings.EqualFold would also take
// "ſubscriptions").
func keyword(seg, kw string) bool {
	if len(seg) != len(kw) {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if lower(seg[i]) != lower(kw[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// kinds names the types a manifest refers to, for messages.
var kinds = map[string]string{
	network.TypeNetworkSecurityGroup:   "network security group",
	network.TypeRouteTable:             "route table",
	network.TypeApplicationSecurityGrp: "application security group",
	network.TypePublicIPAddress:        "public IP address",
	network.TypeVirtualNetwork:         "virtual network",
	network.TypeSubnet:                 "subnet",
	network.TypeStorageAccount:         "storage account",
	network.TypeKeyVault:               "key vault",
	TypeContainerRegistry:              "container registry",
}

// reference resolves a reference to a resource of type typ: a name in
// group g (for a subnet, "vnet/subnet"), or a full id, kept as written. The
// resource need not be in the manifest: it may already exist.
func (p *parser) reference(n *yaml.Node, path string, g *group, typ, example string) (string, bool) {
	kind := kinds[typ]
	if n.Kind == yaml.MappingNode {
		hint := "a name in this resource group, e.g. " + example
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "id" && n.Content[i+1].Kind == yaml.ScalarNode {
				hint = "the id itself, " + n.Content[i+1].Value
			}
		}
		p.errAt(n, path, "a %s is named by a string, not by an ARM reference {id: ...}: write %s", kind, hint)
		return "", false
	}
	s, ok := p.scalar(n, path)
	if !ok {
		return "", false
	}
	if strings.HasPrefix(s, "/") {
		r, why := parseID(s)
		switch {
		case why != "":
			p.errAt(n, path, "%q is not a resource id: %s; write a name in this resource group, e.g. %s, or a full id %s", s, why, example, idShape)
			return "", false
		case !strings.EqualFold(r.typ, typ):
			p.errAt(n, path, "%q is the id of a %s; write the name or id of a %s (%s)", s, r.typ, kind, typ)
			return "", false
		}
		return s, true
	}
	parts := strings.Split(s, "/")
	want := 1
	if typ == network.TypeSubnet {
		want = 2
	}
	if len(parts) != want || s == "" {
		switch {
		case typ == network.TypeSubnet && len(parts) == 1:
			p.errAt(n, path, "%q names no virtual network: write vnet/subnet, e.g. %s, or the subnet's full id", s, example)
		case typ != network.TypeSubnet && len(parts) == 2 && parts[0] != "" && parts[1] != "":
			p.errAt(n, path, "%q is not a name: to name a %s in another resource group, write its full id, e.g. %s",
				s, kind, network.MakeID(g.sub, parts[0], typ, parts[1]))
		default:
			p.errAt(n, path, "%q is neither a %s name (e.g. %s) nor a full id %s", s, kind, example, idShape)
		}
		return "", false
	}
	for _, part := range parts {
		if !p.checkName(n, path, part) {
			return "", false
		}
	}
	return network.MakeID(g.sub, g.name, typ, s), true
}
