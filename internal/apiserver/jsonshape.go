package apiserver

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// unknownFields records in l every object key of the JSON document raw that
// the Go value v (a pointer) has no field for, with its JSON path and the
// closest known name. encoding/json silently drops such keys; an API that
// did the same would let a misspelt "prioirty" vanish without a word.
// Keys match fields case-insensitively, as encoding/json does.
func unknownFields(l *armerror.List, raw []byte, v any) {
	var tree any
	if json.Unmarshal(raw, &tree) != nil {
		return // the decoder reports syntax errors
	}
	walkShape(l, tree, reflect.TypeOf(v), "")
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func walkShape(l *armerror.List, node any, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return
	}
	switch n := node.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			fields := jsonFields(t)
			keys := make([]string, 0, len(n))
			for k := range n {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				ft, ok := fields[strings.ToLower(k)]
				if !ok {
					l.Addf(codeInvalidContent, join(path, k),
						"The request content has the unknown field %q%s.", k, suggestField(k, fields))
					continue
				}
				walkShape(l, n[k], ft.typ, join(path, k))
			}
		case reflect.Map:
			for k, child := range n {
				walkShape(l, child, t.Elem(), join(path, k))
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, child := range n {
				walkShape(l, child, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields maps the lower-cased JSON names of t's fields, embedded
// structs flattened, to the fields.
func jsonFields(t reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[strings.ToLower(name)] = jsonField{name: name, typ: f.Type}
	}
	return out
}

// suggestField proposes the known field closest to k, if one is close.
func suggestField(k string, fields map[string]jsonField) string {
	best, bestD := "", 3
	for _, f := range fields {
		if d := armerror.Distance(strings.ToLower(k), strings.ToLower(f.name), 3); d < bestD {
			best, bestD = f.name, d
		}
	}
	if best == "" {
		names := make([]string, 0, len(fields))
		for _, f := range fields {
			names = append(names, f.name)
		}
		sort.Strings(names)
		return "; the known fields here are " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("; did you mean %q?", best)
}
