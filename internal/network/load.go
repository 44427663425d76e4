package network

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
)

// MaxDocumentBytes bounds what Decode reads from one source.
const MaxDocumentBytes = 64 << 20

// Decode reads resources from r into s. The input is one resource object, an
// array of them, a list response {"value": [...]}, or an ARM template whose
// "resources" carry literal values. source names the input in errors.
//
// Child resources given on their own (a subnet as `az network vnet subnet
// show` prints it, a security rule, a route, a peering) are merged into
// their parent when Decode is done with every source; call Finish after the
// last Decode. Every error of the input is reported, each with a target of
// the form "source: path".
func (s *Snapshot) Decode(source string, r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxDocumentBytes+1))
	if err != nil {
		return armerror.New("InvalidRequestContent", source, "reading %s: %v", source, err)
	}
	if len(data) > MaxDocumentBytes {
		return armerror.New("RequestEntityTooLarge", source, "%s is larger than %d bytes", source, MaxDocumentBytes)
	}
	return s.DecodeBytes(source, data)
}

// DecodeBytes is Decode over a byte slice.
func (s *Snapshot) DecodeBytes(source string, data []byte) error {
	var errs armerror.List
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return armerror.New("InvalidRequestContent", source, "%s is empty: want a resource object, an array, {\"value\": [...]} or an ARM template", source)
	}
	var items []json.RawMessage
	var paths []string
	switch data[0] {
	case '[':
		if err := json.Unmarshal(data, &items); err != nil {
			return jsonError(source, "", data, err)
		}
		for i := range items {
			paths = append(paths, fmt.Sprintf("[%d]", i))
		}
	case '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(data, &probe); err != nil {
			return jsonError(source, "", data, err)
		}
		if v, ok := probe["value"]; ok && probe["type"] == nil {
			if err := json.Unmarshal(v, &items); err != nil {
				return jsonError(source, "value", v, err)
			}
			for i := range items {
				paths = append(paths, fmt.Sprintf("value[%d]", i))
			}
		} else if rs, ok := probe["resources"]; ok && (probe["$schema"] != nil || probe["contentVersion"] != nil) {
			var top []json.RawMessage
			if err := json.Unmarshal(rs, &top); err != nil {
				return jsonError(source, "resources", rs, err)
			}
			for i, raw := range top {
				flattenTemplate(raw, fmt.Sprintf("resources[%d]", i), "", "", &items, &paths)
			}
			for i := range items {
				if exprs := findExpressions(items[i], paths[i]); len(exprs) > 0 {
					for _, e := range exprs {
						errs.Add(rooted(source, "", e))
					}
					items[i] = nil
				}
			}
		} else {
			items, paths = []json.RawMessage{data}, []string{""}
		}
	default:
		return armerror.New("InvalidRequestContent", source, "%s is not JSON: want a resource object, an array, {\"value\": [...]} or an ARM template", source)
	}
	for i, raw := range items {
		if raw == nil {
			continue
		}
		if err := s.decodeOne(raw); err != nil {
			e, _ := armerror.As(err)
			errs.Add(rooted(source, paths[i], e))
		}
	}
	return errs.Err()
}

// errTarget names a place in a source: "source:path", or the source alone
// for the whole document.
func errTarget(source, path string) string {
	switch {
	case path == "":
		return source
	case source == "":
		return path
	}
	return source + ":" + path
}

// rooted roots e's target (a path inside one item) at the item's path in
// source: "source:path.target".
func rooted(source, path string, e *armerror.Error) *armerror.Error {
	c := e.WithPrefix(path)
	c.Target = errTarget(source, c.Target)
	return c
}

// jsonError turns a decoding error into an ARM error naming the line.
func jsonError(source, path string, data []byte, err error) error {
	msg := err.Error()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		msg = fmt.Sprintf("line %d: %v", line, se)
	case errors.As(err, &te):
		field := te.Field
		if path != "" && field != "" {
			field = path + "." + field
		} else if field == "" {
			field = path
		}
		what := "the value"
		if field != "" {
			what = "field " + field
		}
		if source != "" {
			what = source + ": " + what
		}
		return armerror.New("InvalidRequestContent", errTarget(source, field), "%s is %s, want %s", what, te.Value, te.Type)
	}
	return armerror.New("InvalidRequestContent", errTarget(source, path), "%s is not valid JSON: %s", source, msg)
}

// flattenTemplate appends a template resource and, after it, its nested
// child resources ("resources": [...]) as standalone children: a nested
// child's type and name are relative to its parent's, as ARM resolves them
// ("subnets" under a virtual network is Microsoft.Network/virtualNetworks/subnets,
// named "vnet/subnet").
func flattenTemplate(raw json.RawMessage, path, parentType, parentName string, items *[]json.RawMessage, paths *[]string) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		*items, *paths = append(*items, raw), append(*paths, path) // decodeOne reports it
		return
	}
	var typ, name string
	_ = json.Unmarshal(obj["type"], &typ)
	_ = json.Unmarshal(obj["name"], &name)
	if parentType != "" {
		if !strings.Contains(typ, "/") {
			typ = parentType + "/" + typ
			obj["type"], _ = json.Marshal(typ)
		}
		if !strings.Contains(name, "/") {
			name = parentName + "/" + name
			obj["name"], _ = json.Marshal(name)
		}
	}
	nested := obj["resources"]
	delete(obj, "resources")
	flat, err := json.Marshal(obj)
	if err != nil {
		flat = raw
	}
	*items, *paths = append(*items, flat), append(*paths, path)
	var children []json.RawMessage
	if len(nested) > 0 && json.Unmarshal(nested, &children) == nil {
		for j, c := range children {
			flattenTemplate(c, fmt.Sprintf("%s.resources[%d]", path, j), typ, name, items, paths)
		}
	}
}

// findExpressions reports every ARM template expression ("[...]") in a
// template resource; vnetml reads literal values only.
func findExpressions(raw json.RawMessage, path string) []*armerror.Error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil // decodeOne reports it
	}
	var out []*armerror.Error
	var walk func(v any, p string)
	walk = func(v any, p string) {
		switch t := v.(type) {
		case string:
			if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") && !strings.HasPrefix(t, "[[") {
				out = append(out, armerror.New("InvalidTemplate", p,
					"template expression %s is not supported: vnetml reads templates with literal values only; replace it with its value (az deployment group export, or the resource's own JSON from az ... show)", t))
			}
		case []any:
			for i, e := range t {
				walk(e, fmt.Sprintf("%s[%d]", p, i))
			}
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(t)) {
				if k == "dependsOn" || k == "apiVersion" || k == "condition" || k == "copy" || k == "comments" {
					continue
				}
				walk(t[k], p+"."+k)
			}
		}
	}
	walk(v, path)
	return out
}

// header is what decodeOne reads first to dispatch on the type.
type header struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	Type string `json:"type"`
}

func (s *Snapshot) decodeOne(raw json.RawMessage) error {
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		return jsonError("", "", raw, err)
	}
	typ := h.Type
	if typ == "" && h.ID != "" {
		if r, err := ParseResourceID(h.ID); err == nil {
			typ = r.Type()
		}
	}
	if typ == "" {
		return armerror.New("InvalidResourceType", "type", "the resource %q has no type and no id to infer it from: give \"type\", e.g. %q", h.Name, TypeVirtualNetwork)
	}
	if h.Name == "" && h.ID == "" {
		return armerror.New("InvalidResourceName", "name", "a %s has no name", typ)
	}
	if h.ID != "" {
		if _, err := ParseResourceID(h.ID); err != nil {
			return armerror.New("InvalidResourceId", "id", "%v", err)
		}
	}
	into := func(dst any) error {
		if err := json.Unmarshal(raw, dst); err != nil {
			return jsonError("", "", raw, err)
		}
		return nil
	}
	switch {
	case strings.EqualFold(typ, TypeVirtualNetwork):
		var v VirtualNetwork
		if err := into(&v); err != nil {
			return err
		}
		s.VirtualNetworks = append(s.VirtualNetworks, v)
	case strings.EqualFold(typ, TypeNetworkSecurityGroup):
		var v NetworkSecurityGroup
		if err := into(&v); err != nil {
			return err
		}
		s.NetworkSecurityGroups = append(s.NetworkSecurityGroups, v)
	case strings.EqualFold(typ, TypeApplicationSecurityGrp):
		var v ApplicationSecurityGroup
		if err := into(&v); err != nil {
			return err
		}
		s.ApplicationSecGroups = append(s.ApplicationSecGroups, v)
	case strings.EqualFold(typ, TypeRouteTable):
		var v RouteTable
		if err := into(&v); err != nil {
			return err
		}
		s.RouteTables = append(s.RouteTables, v)
	case strings.EqualFold(typ, TypeNetworkInterface):
		var v NetworkInterface
		if err := into(&v); err != nil {
			return err
		}
		s.NetworkInterfaces = append(s.NetworkInterfaces, v)
	case strings.EqualFold(typ, TypePublicIPAddress):
		var v PublicIPAddress
		if err := into(&v); err != nil {
			return err
		}
		s.PublicIPAddresses = append(s.PublicIPAddresses, v)
	case strings.EqualFold(typ, TypeLoadBalancer):
		var v LoadBalancer
		if err := into(&v); err != nil {
			return err
		}
		s.LoadBalancers = append(s.LoadBalancers, v)
	case strings.EqualFold(typ, TypePrivateEndpoint):
		var v PrivateEndpoint
		if err := into(&v); err != nil {
			return err
		}
		s.PrivateEndpoints = append(s.PrivateEndpoints, v)
	case strings.EqualFold(typ, TypeVirtualNetworkGateway):
		var v VirtualNetworkGateway
		if err := into(&v); err != nil {
			return err
		}
		s.VirtualNetworkGateways = append(s.VirtualNetworkGateways, v)
	case strings.EqualFold(typ, TypeLocalNetworkGateway):
		var v LocalNetworkGateway
		if err := into(&v); err != nil {
			return err
		}
		s.LocalNetworkGateways = append(s.LocalNetworkGateways, v)
	case strings.EqualFold(typ, TypeConnection):
		var v Connection
		if err := into(&v); err != nil {
			return err
		}
		s.Connections = append(s.Connections, v)
	case strings.EqualFold(typ, TypeStorageAccount):
		var v StorageAccount
		if err := into(&v); err != nil {
			return err
		}
		s.StorageAccounts = append(s.StorageAccounts, v)
	case strings.EqualFold(typ, TypeKeyVault):
		var v KeyVault
		if err := into(&v); err != nil {
			return err
		}
		s.KeyVaults = append(s.KeyVaults, v)
	case strings.EqualFold(typ, TypeSubnet), strings.EqualFold(typ, TypePeering),
		strings.EqualFold(typ, TypeSecurityRule), strings.EqualFold(typ, TypeRoute):
		parent, err := childParent(h, typ)
		if err != nil {
			return err
		}
		s.Children = append(s.Children, Child{ParentID: parent, Type: typ, Raw: raw})
	default:
		return armerror.New("InvalidResourceType", "type",
			"resource type %q is not part of vnetml's network model (supported: Microsoft.Network virtualNetworks, subnets, virtualNetworkPeerings, networkSecurityGroups, securityRules, applicationSecurityGroups, routeTables, routes, networkInterfaces, publicIPAddresses, loadBalancers, privateEndpoints, virtualNetworkGateways, localNetworkGateways, connections; Microsoft.Storage/storageAccounts; Microsoft.KeyVault/vaults)", typ)
	}
	return nil
}

// childParent finds the parent id of a standalone child resource: from its id,
// or from a template-style name "parent/child".
func childParent(h header, typ string) (string, error) {
	if h.ID != "" {
		r, _ := ParseResourceID(h.ID)
		return r.Parent().String(), nil
	}
	parent, _, ok := strings.Cut(h.Name, "/")
	if !ok {
		return "", armerror.New("InvalidResourceName", "name", "a standalone %s needs an id or a name of the form parent/child (got %q)", typ, h.Name)
	}
	ts := strings.Split(typ, "/")
	return MakeID(DefaultSubscription, DefaultResourceGroup, strings.Join(ts[:len(ts)-1], "/"), parent), nil
}

// Child is a child resource read on its own, waiting to be merged into its
// parent by Finish.
type Child struct {
	ParentID string
	Type     string
	Raw      json.RawMessage
}

// Finish merges standalone child resources into their parents (replacing a
// child of the same name), then normalizes. A child whose parent is not in
// the snapshot is an error.
func (s *Snapshot) Finish() error {
	var errs armerror.List
	s.Normalize()
	for _, c := range s.Children {
		if err := s.mergeChild(c); err != nil {
			errs.Add(err)
		}
	}
	s.Children = nil
	s.Normalize()
	return errs.Err()
}

func (s *Snapshot) mergeChild(c Child) *armerror.Error {
	var h header
	_ = json.Unmarshal(c.Raw, &h)
	name := h.Name
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	bad := func(err error) *armerror.Error {
		return armerror.New("InvalidRequestContent", name, "%s %q: %v", c.Type, name, err)
	}
	missing := func(kind string) *armerror.Error {
		return armerror.New("ParentResourceNotFound", "id",
			"%s %q belongs to %s %s, which is not among the resources read; add the parent's JSON (az ... show) to the inputs", c.Type, name, kind, c.ParentID)
	}
	switch {
	case strings.EqualFold(c.Type, TypeSubnet), strings.EqualFold(c.Type, TypePeering):
		var v *VirtualNetwork
		for i := range s.VirtualNetworks {
			if SameID(s.VirtualNetworks[i].ID, c.ParentID) {
				v = &s.VirtualNetworks[i]
			}
		}
		if v == nil {
			return missing("virtual network")
		}
		if strings.EqualFold(c.Type, TypeSubnet) {
			var sn Subnet
			if err := json.Unmarshal(c.Raw, &sn); err != nil {
				return bad(err)
			}
			sn.Name = name
			v.Properties.Subnets = replaceByName(v.Properties.Subnets, sn, func(x Subnet) string { return x.Name })
		} else {
			var p VirtualNetworkPeering
			if err := json.Unmarshal(c.Raw, &p); err != nil {
				return bad(err)
			}
			p.Name = name
			v.Properties.VirtualNetworkPeerings = replaceByName(v.Properties.VirtualNetworkPeerings, p, func(x VirtualNetworkPeering) string { return x.Name })
		}
	case strings.EqualFold(c.Type, TypeSecurityRule):
		var n *NetworkSecurityGroup
		for i := range s.NetworkSecurityGroups {
			if SameID(s.NetworkSecurityGroups[i].ID, c.ParentID) {
				n = &s.NetworkSecurityGroups[i]
			}
		}
		if n == nil {
			return missing("network security group")
		}
		var r SecurityRule
		if err := json.Unmarshal(c.Raw, &r); err != nil {
			return bad(err)
		}
		r.Name = name
		n.Properties.SecurityRules = replaceByName(n.Properties.SecurityRules, r, func(x SecurityRule) string { return x.Name })
	case strings.EqualFold(c.Type, TypeRoute):
		var t *RouteTable
		for i := range s.RouteTables {
			if SameID(s.RouteTables[i].ID, c.ParentID) {
				t = &s.RouteTables[i]
			}
		}
		if t == nil {
			return missing("route table")
		}
		var r Route
		if err := json.Unmarshal(c.Raw, &r); err != nil {
			return bad(err)
		}
		r.Name = name
		t.Properties.Routes = replaceByName(t.Properties.Routes, r, func(x Route) string { return x.Name })
	}
	return nil
}

func replaceByName[T any](list []T, v T, name func(T) string) []T {
	for i := range list {
		if strings.EqualFold(name(list[i]), name(v)) {
			list[i] = v
			return list
		}
	}
	return append(list, v)
}
