package manifest

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/vnetml/vnetml/internal/network"
)

// This file reads ARM resources given verbatim: the whole file as one
// resource, an array or a list response, or the resources lists of a
// manifest. A verbatim document is applied as written, with its name, id
// and type made consistent.

var listSchema = &schema{
	what:   "a list response",
	fields: []string{"value", "nextLink"},
}

// verbatimList reads an array of ARM resources.
func (p *parser) verbatimList(n *yaml.Node, path string) {
	for i, e := range n.Content {
		p.verbatim(e, fmt.Sprintf("%s[%d]", path, i), nil)
	}
}

// listResponse reads ARM's list response, {"value": [...]}.
func (p *parser) listResponse(n *yaml.Node) {
	f := p.fields(n, "", listSchema)
	if f == nil {
		return
	}
	if s, set := f.str("nextLink"); set && s != "" {
		p.errAt(f.vals["nextLink"], "nextLink", "this is one page of a longer list: fetch every page and apply them all, or remove nextLink to apply this page alone")
	}
	v := f.node("value")
	if v == nil {
		return
	}
	if v.Kind != yaml.SequenceNode {
		p.errAt(v, "value", "\"value\" is %s; a list response holds a list of ARM resources", describe(v))
		return
	}
	p.verbatimList(v, "value")
}

// verbatim reads one ARM resource. Under a resource group g, "type" and
// "name" suffice (the name of a child resource is parent/child, as in ARM
// templates); elsewhere the resource needs its full "id".
func (p *parser) verbatim(n *yaml.Node, path string, g *group) {
	if n.Kind != yaml.MappingNode {
		p.errAt(n, path, "an ARM resource is a JSON object with its \"id\" (or, under a resource group, \"type\" and \"name\") and \"properties\", not %s", describe(n))
		return
	}
	errs := len(p.errs)
	v, ok := p.value(n, path, 0)
	if !ok {
		return
	}
	doc := v.(object)
	str := func(key string) (string, *yaml.Node) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Value == key {
				val := n.Content[i+1]
				if s, ok := doc.get(key); ok {
					if s, ok := s.(string); ok {
						return s, val
					}
				}
				p.errAt(val, join(path, key), "%q is %s; want a string", key, describe(val))
				return "", val
			}
		}
		return "", nil
	}
	id, idN := str("id")
	name, nameN := str("name")
	typ, typN := str("type")
	if len(p.errs) > errs {
		return
	}
	var r resID
	switch {
	case idN != nil:
		var why string
		if r, why = parseID(id); why != "" {
			p.errAt(idN, join(path, "id"), "%q is not a resource id: %s; want %s", id, why, idShape)
			return
		}
		if g != nil && r.typ == TypeResourceGroup {
			p.errAt(idN, join(path, "id"), "%q is a resource group: declare resource groups under resourceGroups", id)
			return
		}
		if g != nil && (!strings.EqualFold(r.sub, g.sub) || !strings.EqualFold(r.group, g.name)) {
			p.errAt(idN, join(path, "id"), "%q is in resource group %s of subscription %s, not in %s, whose resources this list holds: move it to that group's resources, or to the top-level resources",
				id, r.group, r.sub, g.name)
			return
		}
		if typN != nil && !strings.EqualFold(typ, r.typ) {
			p.errAt(typN, join(path, "type"), "type %q does not match the id, which is of a %s; correct one of them", typ, r.typ)
		}
		if nameN != nil && !strings.EqualFold(name, r.name()) && !strings.EqualFold(name, strings.Join(r.names, "/")) {
			p.errAt(nameN, join(path, "name"), "name %q does not match the id, which names %q; correct one of them", name, r.name())
		}
	case g == nil && p.inManifest:
		p.errAt(n, path, "missing \"id\": a resource under the top-level resources needs its full id, %s; under resourceGroups[].resources, type and name suffice", idShape)
	case g == nil:
		p.errAt(n, path, "missing \"id\": an ARM resource given on its own needs its full id, %s, which names its resource group; or write a manifest (docs/manifest.md) and list it under resourceGroups[].resources, where type and name suffice", idShape)
	case typN == nil:
		p.errAt(n, path, "missing \"type\": an ARM resource needs its type, e.g. type: %s (or its full \"id\")", network.TypeLoadBalancer)
	case nameN == nil:
		p.errAt(n, path, "missing \"name\": an ARM resource needs its name (or its full \"id\")")
	default:
		id, r, ok = p.idOf(g, path, typ, typN, name, nameN)
		if !ok {
			return
		}
	}
	if len(p.errs) > errs {
		return
	}
	// A resource of a group takes the group's location when it has none,
	// as a typed one does; child and extension resources have none.
	var loc any
	if g != nil && len(r.names) == 1 && r.onGroup && !strings.HasPrefix(strings.ToLower(r.typ), "microsoft.authorization/") {
		loc = g.location
	}
	doc = withHead(doc, r.name(), id, r.typ, loc)
	p.add(n, path, id, r.typ, doc)
}

// idOf builds the id of a resource of group g from its type and name.
func (p *parser) idOf(g *group, path, typ string, typN *yaml.Node, name string, nameN *yaml.Node) (string, resID, bool) {
	ts := strings.Split(typ, "/")
	ns := strings.Split(name, "/")
	for _, t := range ts {
		if t == "" || keyword(t, "providers") || strings.IndexFunc(t, isControl) >= 0 {
			p.errAt(typN, join(path, "type"), "%q is not a resource type: write {namespace}/{type}[/{child type}], e.g. %s", typ, network.TypeLoadBalancer)
			return "", resID{}, false
		}
	}
	switch {
	case len(ts) < 2:
		p.errAt(typN, join(path, "type"), "%q is not a resource type: write {namespace}/{type}[/{child type}], e.g. %s", typ, network.TypeLoadBalancer)
		return "", resID{}, false
	case strings.EqualFold(typ, TypeResourceGroup):
		p.errAt(typN, join(path, "type"), "declare resource groups under resourceGroups")
		return "", resID{}, false
	case len(ns) != len(ts)-1:
		example := "mynetwork/default"
		if len(ts) == 2 {
			example = "lb"
		}
		p.errAt(nameN, join(path, "name"), "a %s is named with %d segment(s) (parent/child for a child resource, as in ARM templates), e.g. %s; %q has %d",
			typ, len(ts)-1, example, name, len(ns))
		return "", resID{}, false
	}
	for _, s := range ns {
		if !p.checkName(nameN, join(path, "name"), s) {
			return "", resID{}, false
		}
	}
	id := network.MakeID(g.sub, g.name, typ, name)
	r, why := parseID(id)
	if why != "" {
		p.errAt(nameN, join(path, "name"), "the id %s this makes is not valid: %s", id, why)
		return "", resID{}, false
	}
	return id, r, true
}

// withHead puts a document's name, id and type first, set to the id's, then
// its location (loc when it has none and loc is not nil), then the rest as
// written.
func withHead(doc object, name, id, typ string, loc any) object {
	out := make(object, 0, len(doc)+4)
	out = append(out, member{"name", name}, member{"id", id}, member{"type", typ})
	if v, ok := doc.get("location"); ok {
		out = append(out, member{"location", v})
	} else if loc != nil {
		out = append(out, member{"location", loc})
	}
	for _, m := range doc {
		switch m.key {
		case "name", "id", "type", "location":
			continue
		}
		out = append(out, m)
	}
	return out
}
