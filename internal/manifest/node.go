package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vnetml/vnetml/internal/armerror"
	yaml "go.yaml.in/yaml/v3"
)

// This file reads the YAML tree: a mapping's fields against a schema, and
// the scalars, lists and references manifest fields hold. Every reader
// reports what is wrong at the node's position and returns ok=false; the
// caller goes on with the next field so that all errors are found at once.

// schema lists the fields of one kind of manifest object.
type schema struct {
	what   string            // "a subnet", for messages
	fields []string          // in documentation order
	hints  map[string]string // a common mistake (often the ARM spelling) -> what to write instead
}

// fields is one mapping of the manifest read against its schema.
type fields struct {
	p    *parser
	n    *yaml.Node // the mapping
	path string     // its path in the manifest, e.g. resourceGroups[0].virtualNetworks[1]
	s    *schema
	vals map[string]*yaml.Node
	// meant holds the fields that an unknown key was taken for (did you
	// mean "addressPrefix"?): that one error says it, not a second
	// "missing" one.
	meant map[string]bool
}

// fields reads mapping n: every key must be one of s's fields. It returns
// nil (having reported why) when n is not a mapping.
func (p *parser) fields(n *yaml.Node, path string, s *schema) *fields {
	if n.Kind != yaml.MappingNode {
		p.errAt(n, path, "%s is a mapping of fields (%s), not %s", s.what, strings.Join(s.fields, ", "), describe(n))
		return nil
	}
	f := &fields{p: p, n: n, path: path, s: s, vals: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, ok := p.key(k, path)
		if !ok {
			continue
		}
		if !contains(s.fields, key) {
			p.errAt(k, path, "%s", f.unknownField(key))
			continue
		}
		if _, dup := f.vals[key]; dup {
			p.errAt(k, path, "field %q is given twice; keep one", key)
			continue
		}
		f.vals[key] = v
	}
	return f
}

// unknownField says what to write instead of key.
func (f *fields) unknownField(key string) string {
	s := f.s
	if h, ok := s.hints[key]; ok {
		return fmt.Sprintf("unknown field %q: %s", key, h)
	}
	if m := suggest(key, s.fields); m != "" {
		if f.meant == nil {
			f.meant = map[string]bool{}
		}
		f.meant[m] = true
		return fmt.Sprintf("unknown field %q: did you mean %q?", key, m)
	}
	return fmt.Sprintf("unknown field %q: %s takes %s", short(key), s.what, strings.Join(s.fields, ", "))
}

// short cuts s to a length fit for a message.
func short(s string) string {
	const n = 60
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// key reads a mapping key: a string scalar, not a YAML merge key.
func (p *parser) key(k *yaml.Node, path string) (string, bool) {
	switch {
	case k.Kind != yaml.ScalarNode:
		p.errAt(k, path, "a key is %s; keys are strings", describe(k))
		return "", false
	case k.ShortTag() == "!!merge":
		p.errAt(k, path, "merge keys (<<) are not supported; write the fields out")
		return "", false
	case !utf8.ValidString(k.Value):
		p.errAt(k, path, "a key is not valid UTF-8")
		return "", false
	}
	return k.Value, true
}

// missing reports that required field key is absent, unless an unknown
// field was already taken for it.
func (f *fields) missing(key, hint string) {
	if !f.meant[key] {
		f.p.errAt(f.n, f.path, "missing %q: %s", key, hint)
	}
}

func (f *fields) has(key string) bool {
	v, ok := f.vals[key]
	return ok && !isNull(v)
}

// node returns the value of key, or nil when it is absent or null.
func (f *fields) node(key string) *yaml.Node {
	if v, ok := f.vals[key]; ok && !isNull(v) {
		return v
	}
	return nil
}

func (f *fields) sub(key string) string { return f.path + "." + key }

// str reads an optional string. Numbers and booleans are taken as written
// (a tag value 1.0 is the string "1.0").
func (f *fields) str(key string) (string, bool) {
	v := f.node(key)
	if v == nil {
		return "", false
	}
	return f.p.scalar(v, f.sub(key))
}

// req reads a required, non-empty string.
func (f *fields) req(key, example string) (string, bool) {
	v := f.node(key)
	if v == nil {
		f.missing(key, fmt.Sprintf("%s needs one, e.g. %s: %s", f.s.what, key, example))
		return "", false
	}
	s, ok := f.p.scalar(v, f.sub(key))
	if ok && s == "" {
		f.p.errAt(v, f.sub(key), "%q is empty: write it, e.g. %s: %s", key, key, example)
		return "", false
	}
	return s, ok
}

// name reads the required name of a resource: a string that can stand as
// one segment of an ARM id.
func (f *fields) name(example string) (string, bool) {
	s, ok := f.req("name", example)
	if !ok {
		return "", false
	}
	return s, f.p.checkName(f.vals["name"], f.sub("name"), s)
}

// boolean reads an optional true or false.
func (f *fields) boolean(key string) (v, set bool) {
	n := f.node(key)
	if n == nil {
		return false, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		f.p.errAt(n, f.sub(key), "%q is %s; write true or false", key, describe(n))
		return false, false
	}
	b, err := strconv.ParseBool(n.Value)
	if err != nil { // YAML's True, TRUE, ...
		b = strings.EqualFold(n.Value, "true")
	}
	return b, true
}

// integer reads an optional integer, written as a number (not in quotes).
func (f *fields) integer(key, example string) (v int64, set bool) {
	n := f.node(key)
	if n == nil {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		hint := ""
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			if _, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
				hint = " (without quotes)"
			}
		}
		f.p.errAt(n, f.sub(key), "%q is %s; write an integer%s, e.g. %s: %s", key, describe(n), hint, key, example)
		return 0, false
	}
	var i int64
	if err := n.Decode(&i); err != nil {
		f.p.errAt(n, f.sub(key), "%q is %s, which is out of range; write an integer, e.g. %s: %s", key, n.Value, key, example)
		return 0, false
	}
	return i, true
}

// list reads an optional list; null is an empty one.
func (f *fields) list(key, example string) []*yaml.Node {
	n := f.node(key)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		f.p.errAt(n, f.sub(key), "%q is %s; write a list, e.g. %s: %s", key, describe(n), key, example)
		return nil
	}
	return n.Content
}

// strs reads an optional list of strings.
func (f *fields) strs(key, example string) ([]string, bool) {
	n := f.node(key)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		f.p.errAt(n, f.sub(key), "%q is %s; write a list, e.g. %s: %s", key, describe(n), key, example)
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, e := range n.Content {
		s, good := f.p.scalar(e, fmt.Sprintf("%s[%d]", f.sub(key), i))
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// oneOrMany reads an optional field that takes one string or a list of
// them (a rule's source: sourceAddressPrefix or sourceAddressPrefixes).
func (f *fields) oneOrMany(key string) (one string, many []string, isList, set bool) {
	n := f.node(key)
	if n == nil {
		return "", nil, false, false
	}
	if n.Kind == yaml.SequenceNode {
		many, ok := f.strs(key, "")
		return "", many, true, ok
	}
	one, ok := f.p.scalar(n, f.sub(key))
	return one, nil, false, ok
}

// tags reads an optional mapping of tag names to string values.
func (f *fields) tags() (object, bool) {
	n := f.node("tags")
	if n == nil {
		return nil, false
	}
	path := f.sub("tags")
	if n.Kind != yaml.MappingNode {
		f.p.errAt(n, path, "tags are %s; write a mapping, e.g. tags: {team: ml}", describe(n))
		return nil, false
	}
	out := object{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, ok := f.p.key(k, path)
		if !ok {
			continue
		}
		if seen[key] {
			f.p.errAt(k, path, "tag %q is given twice; keep one", key)
			continue
		}
		seen[key] = true
		val := ""
		if !isNull(v) {
			if val, ok = f.p.scalar(v, path+"."+key); !ok {
				continue
			}
		}
		out = append(out, member{key, val})
	}
	return out, true
}

// scalar reads a string-valued scalar: a string, or a number, boolean or
// date taken as written.
func (p *parser) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.errAt(n, path, "want a string, not %s", describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp", "!!binary":
	default:
		p.errAt(n, path, "the tag %s is not supported; write a plain string", n.Tag)
		return "", false
	}
	if !utf8.ValidString(n.Value) {
		p.errAt(n, path, "the value is not valid UTF-8")
		return "", false
	}
	return n.Value, true
}

// checkName reports whether s can be one segment of an ARM id.
func (p *parser) checkName(n *yaml.Node, path, s string) bool {
	switch {
	case s == "":
		p.errAt(n, path, "the name is empty")
	case strings.Contains(s, "/"):
		p.errAt(n, path, "the name %q contains /; a name is one segment of an ARM id", s)
	case strings.IndexFunc(s, isControl) >= 0:
		p.errAt(n, path, "the name %q contains a control character", s)
	case !utf8.ValidString(s):
		p.errAt(n, path, "the name is not valid UTF-8")
	default:
		return true
	}
	return false
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names what a node is, for messages: "a list", "the string \"x\"".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		v := short(n.Value)
		switch n.ShortTag() {
		case "!!null":
			return "empty"
		case "!!str":
			return strconv.Quote(v)
		case "!!bool":
			return "the boolean " + v
		case "!!int", "!!float":
			return "the number " + v
		}
		return strconv.Quote(v)
	}
	return "empty"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the known word closest to w (case-insensitively), if it is
// close enough to be what the writer meant, else "".
func suggest(w string, known []string) string {
	lw := strings.ToLower(w)
	best, bestD := "", max(2, len(w)/4)+1
	for _, k := range known {
		lk := strings.ToLower(k)
		if lk == lw {
			return k
		}
		if d := armerror.Distance(lw, lk, bestD); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}
