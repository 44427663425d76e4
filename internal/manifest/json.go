package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// Documents are built as ordered JSON values so that keys come out in the
// order ARM prints them (name, id, type, location, ..., properties) and a
// verbatim resource keeps the order it was written in:
//
//	object      {"k": v, ...} in order
//	[]any       [v, ...]
//	string
//	json.Number a number, as its JSON text
//	bool, nil

// member is one key of an object.
type member struct {
	key string
	val any
}

// object is a JSON object whose keys keep their order.
type object []member

// get returns the value of key, and whether it is present.
func (o object) get(key string) (any, bool) {
	for _, m := range o {
		if m.key == key {
			return m.val, true
		}
	}
	return nil, false
}

// set replaces the value of key, or appends it.
func (o object) set(key string, v any) object {
	for i := range o {
		if o[i].key == key {
			o[i].val = v
			return o
		}
	}
	return append(o, member{key, v})
}

// ref is ARM's reference to another resource, {"id": "..."}.
func ref(id string) object { return object{{"id", id}} }

// encode renders v as compact JSON.
func encode(v any) json.RawMessage {
	var b bytes.Buffer
	writeJSON(&b, v)
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case object:
		b.WriteByte('{')
		for i, m := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, m.key)
			b.WriteByte(':')
			writeJSON(b, m.val)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case string:
		writeString(b, t)
	case json.Number:
		b.WriteString(string(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case nil:
		b.WriteString("null")
	default:
		panic(fmt.Sprintf("manifest: cannot encode %T", v)) // a bug in this package, not an input
	}
}

// writeString writes s as a JSON string that YAML reads back unchanged:
// besides what JSON must escape, it escapes what YAML refuses or folds
// (see yamlUnsafe), so that a document the package wrote is itself valid
// input.
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s { // s is valid UTF-8: every string is checked as it is read
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || yamlUnsafe(r):
			writeEscape(b, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// yamlUnsafe reports the characters JSON may hold raw in a string but YAML
// may not: DEL and the C1 controls, which YAML refuses; NEL, U+2028 and
// U+2029, which it reads as line breaks; the BOM and the non-characters
// U+FFFE and U+FFFF.
func yamlUnsafe(r rune) bool {
	return r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff
}

// writeEscape writes a BMP rune as \uXXXX.
func writeEscape(b *bytes.Buffer, r rune) {
	const hex = "0123456789abcdef"
	b.WriteString(`\u`)
	b.WriteByte(hex[r>>12&0xf])
	b.WriteByte(hex[r>>8&0xf])
	b.WriteByte(hex[r>>4&0xf])
	b.WriteByte(hex[r&0xf])
}

// maxDepth bounds the nesting of a verbatim resource; ARM documents are
// far shallower.
const maxDepth = 64

// jsonNumber matches JSON's number syntax; a YAML number written so is
// kept as written, others (0x1f, +1, .5) are normalized.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// value converts a YAML node to a JSON value, reporting what JSON cannot
// hold (keys given twice, NaN, custom tags) at its position.
func (p *parser) value(n *yaml.Node, path string, depth int) (any, bool) {
	if depth > maxDepth {
		p.errAt(n, path, "the value is nested more than %d levels deep", maxDepth)
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		if t := n.ShortTag(); t != "!!map" {
			p.errAt(n, path, "the tag %s is not supported; write a plain mapping", n.Tag)
			return nil, false
		}
		out := make(object, 0, len(n.Content)/2)
		seen := make(map[string]bool, len(n.Content)/2)
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, ok1 := p.key(n.Content[i], path)
			if !ok1 {
				ok = false
				continue
			}
			if seen[k] {
				p.errAt(n.Content[i], path, "key %q is given twice; keep one", k)
				ok = false
				continue
			}
			seen[k] = true
			v, ok2 := p.value(n.Content[i+1], join(path, k), depth+1)
			ok = ok && ok2
			out = append(out, member{k, v})
		}
		return out, ok
	case yaml.SequenceNode:
		if t := n.ShortTag(); t != "!!seq" {
			p.errAt(n, path, "the tag %s is not supported; write a plain list", n.Tag)
			return nil, false
		}
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, e := range n.Content {
			v, good := p.value(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
			ok = ok && good
			out = append(out, v)
		}
		return out, ok
	case yaml.ScalarNode:
		return p.scalarValue(n, path)
	}
	p.errAt(n, path, "want a value, not %s", describe(n))
	return nil, false
}

func (p *parser) scalarValue(n *yaml.Node, path string) (any, bool) {
	switch n.ShortTag() {
	case "!!null":
		return nil, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			p.errAt(n, path, "%s is not a boolean; write true or false", describe(n))
			return nil, false
		}
		return b, true
	case "!!int":
		var i any
		if err := n.Decode(&i); err != nil {
			p.errAt(n, path, "%s is not an integer", describe(n))
			return nil, false
		}
		switch t := i.(type) {
		case int:
			return json.Number(strconv.FormatInt(int64(t), 10)), true
		case int64:
			return json.Number(strconv.FormatInt(t, 10)), true
		case uint64:
			return json.Number(strconv.FormatUint(t, 10)), true
		}
		p.errAt(n, path, "%s is not an integer", describe(n))
		return nil, false
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			p.errAt(n, path, "%s is not a number", describe(n))
			return nil, false
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			p.errAt(n, path, "%s has no JSON form; write a finite number", describe(n))
			return nil, false
		}
		if jsonNumber.MatchString(n.Value) {
			return json.Number(n.Value), true // as written: 1.50 stays 1.50
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
	}
	return p.scalar(n, path) // strings, dates and binary as written
}

// join appends a key to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonAsYAML rewrites, in a JSON document, what YAML reads differently:
// the escape \/ (which YAML lacks) becomes /, and the characters of
// yamlUnsafe, raw in a string, become \u escapes. Other input is returned
// as it is. Columns after a rewrite on its line shift a little.
func jsonAsYAML(data []byte) []byte {
	if !json.Valid(data) {
		return data
	}
	var out []byte // nil until something changes
	in := false
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '"':
			in = !in
		case in && c == '\\':
			if data[i+1] == '/' { // valid JSON: a backslash is never last
				out = append(cut(out, data, i), '/')
				i += 2
				continue
			}
			if out != nil {
				out = append(out, c, data[i+1])
			}
			i += 2
			continue
		case in && c >= 0x7f:
			r, size := utf8.DecodeRune(data[i:])
			if yamlUnsafe(r) {
				var b bytes.Buffer
				writeEscape(&b, r)
				out = append(cut(out, data, i), b.Bytes()...)
				i += size
				continue
			}
			if out != nil {
				out = append(out, data[i:i+size]...)
			}
			i += size
			continue
		}
		if out != nil {
			out = append(out, c)
		}
		i++
	}
	if out == nil {
		return data
	}
	return out
}

// cut starts the rewritten copy of data, with everything before offset i,
// the first time something changes.
func cut(out, data []byte, i int) []byte {
	if out == nil {
		out = make([]byte, 0, len(data)+64)
		out = append(out, data[:i]...)
	}
	return out
}
