package aks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// This file reads the payload's JSON strictly: every field where it may
// be, of the type it must have, each problem once with its path. It
// follows internal/compute's reader (spec_json.go), which is unexported.

// parseBody decodes body into a generic JSON tree, numbers kept as
// json.Number so that counts are checked exactly.
func parseBody(l *armerror.List, body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		l.Addf(CodeInvalidContent, "", "The request content is not valid JSON: %v; send one JSON object.", err)
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		l.Addf(CodeInvalidContent, "", "The request content has data after its JSON object; send one JSON object.")
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		l.Addf(CodeInvalidContent, "", "The request content must be a JSON object, not %s.", jsonKind(v))
		return nil, false
	}
	return m, true
}

// shape lists the fields of one JSON object: those a client may set, and
// those only the service sets (a GET's output, which the SDK's
// AksCompute.update sends back in its PUT), accepted and ignored.
type shape struct {
	known    []string
	readOnly []string
}

// object is one JSON object of a body: its keys matched to the known names
// case-insensitively (ARM's keys are), every other key reported as unknown.
// Values are handed out by canonical name; a value of the wrong JSON type
// is reported once and from then on counts as bad. The object of an absent
// or broken object is empty, so callers chain without checks.
type object struct {
	l    *armerror.List
	path string
	// broken: this object or an ancestor has the wrong JSON type, so what
	// it lacks is not worth reporting.
	broken bool
	vals   map[string]any // canonical name -> value; JSON null left out
	bad    map[string]bool
}

func readObject(l *armerror.List, v any, path string, broken bool, sh shape) *object {
	o := &object{l: l, path: path, broken: broken, vals: map[string]any{}, bad: map[string]bool{}}
	if v == nil {
		return o
	}
	m, ok := v.(map[string]any)
	if !ok {
		l.Addf(CodeInvalidContent, path, "The value of %q must be a JSON object, not %s.", path, jsonKind(v))
		o.broken = true
		return o
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	seen := map[string]string{}
	for _, k := range keys {
		if slices.ContainsFunc(sh.readOnly, func(n string) bool { return strings.EqualFold(n, k) }) {
			continue
		}
		i := slices.IndexFunc(sh.known, func(n string) bool { return strings.EqualFold(n, k) })
		if i < 0 {
			l.Addf(CodeInvalidContent, jsonPath(path, k), "The request content has the unknown field %q%s", k, suggestField(k, sh.known))
			continue
		}
		name := sh.known[i]
		if prev, dup := seen[name]; dup {
			l.Addf(CodeInvalidContent, jsonPath(path, name), "The request content has %q twice (as %q and %q): keys are case-insensitive; keep one.", name, prev, k)
			o.bad[name] = true
			continue
		}
		seen[name] = k
		if m[k] != nil {
			o.vals[name] = m[k]
		}
	}
	return o
}

func (o *object) target(name string) string { return jsonPath(o.path, name) }

// present reports whether name has a value (not null), even a bad one.
func (o *object) present(name string) bool {
	_, ok := o.vals[name]
	return ok || o.bad[name]
}

// value returns name's value unless it is absent or already bad.
func (o *object) value(name string) (any, bool) {
	v, ok := o.vals[name]
	return v, ok && !o.bad[name]
}

func (o *object) fail(name, want string, v any) {
	o.l.Addf(CodeInvalidContent, o.target(name), "The value of %q must be %s, not %s.", name, want, jsonKind(v))
	o.bad[name] = true
}

func (o *object) object(name string, sh shape) *object {
	v, _ := o.value(name)
	c := readObject(o.l, v, o.target(name), o.broken || o.bad[name], sh)
	if c.broken {
		o.bad[name] = true
	}
	return c
}

func (o *object) str(name string) (string, bool) {
	v, ok := o.value(name)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		o.fail(name, "a string", v)
	}
	return s, ok
}

func (o *object) boolean(name string) (bool, bool) {
	v, ok := o.value(name)
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		o.fail(name, "true or false", v)
	}
	return b, ok
}

// integer accepts a JSON number with an integral value in int32's range
// (4 and 4.0 alike, as the service's .NET decoder does).
func (o *object) integer(name string) (int, bool) {
	v, ok := o.value(name)
	if !ok {
		return 0, false
	}
	n, ok := v.(json.Number)
	if !ok {
		o.fail(name, "an integer", v)
		return 0, false
	}
	if i, err := strconv.ParseInt(string(n), 10, 32); err == nil {
		return int(i), true
	}
	if x, err := strconv.ParseFloat(string(n), 64); err == nil && x == math.Trunc(x) && x >= math.MinInt32 && x <= math.MaxInt32 {
		return int(x), true
	}
	o.l.Addf(CodeInvalidContent, o.target(name), "The value of %q must be an integer between %d and %d, not %s.", name, math.MinInt32, math.MaxInt32, n)
	o.bad[name] = true
	return 0, false
}

// tags reads ARM tags: an object of string values. None gives nil.
func (o *object) tags(name string) map[string]string {
	v, ok := o.value(name)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		o.fail(name, "a JSON object of strings", v)
		return nil
	}
	out := make(map[string]string, len(m))
	// In key order: the errors of two bad tags come out the same way
	// every time.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		x := m[k]
		s, ok := x.(string)
		if !ok {
			o.l.Addf(CodeInvalidContent, jsonPath(o.target(name), k), "The value of tag %q must be a string, not %s.", k, jsonKind(x))
			continue
		}
		out[k] = s
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func jsonPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// suggestField proposes the known field closest to k — a typo away, or a
// shortening of it ("vmSize" for agentVmSize) — or lists them all; it ends
// the sentence.
func suggestField(k string, known []string) string {
	best, bestD := "", 3
	lk := strings.ToLower(k)
	for _, n := range known {
		ln := strings.ToLower(n)
		d := armerror.Distance(lk, ln, 3)
		if len(lk) >= 4 && len(ln) >= 4 && (strings.HasPrefix(ln, lk) || strings.HasSuffix(ln, lk) || strings.HasPrefix(lk, ln)) {
			d = min(d, 2)
		}
		if d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return "; the known fields here are " + strings.Join(known, ", ") + "."
}

// objects reads name as an array of objects of shape sh, each reported
// at name[i]; nil when absent or not an array (reported).
func (o *object) objects(name string, sh shape) []*object {
	v, ok := o.value(name)
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		o.fail(name, "an array of objects", v)
		return nil
	}
	out := make([]*object, len(arr))
	for i, x := range arr {
		out[i] = readObject(o.l, x, fmt.Sprintf("%s[%d]", o.target(name), i), o.broken, sh)
	}
	return out
}
