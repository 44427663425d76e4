package apiserver

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// This file holds what every resource handler needs: names, locations,
// etags and conditions, scope checks, merge patches, normalization.

func lower(s string) string { return strings.ToLower(s) }

// normLocation spells a region as ARM does: "East US" → "eastus".
func normLocation(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }

// withEtag returns doc with its "etag" field set.
func withEtag(doc []byte, etag string) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil || m == nil {
		return doc
	}
	e, _ := json.Marshal(etag)
	m["etag"] = e
	b, err := json.Marshal(m)
	if err != nil {
		return doc
	}
	return b
}

// condition reads If-Match and If-None-Match.
func condition(rq *request) store.Condition {
	return store.Condition{IfMatch: rq.http.Header.Get("If-Match"), IfNoneMatch: rq.http.Header.Get("If-None-Match")}
}

// checkCond checks a condition against a resource's current version (nil
// when it does not exist).
func checkCond(c store.Condition, id string, cur *entry) error {
	if cur == nil {
		return c.Check(id, false, "")
	}
	return c.Check(id, true, cur.res.Etag)
}

// checkName refuses a body whose name or type contradicts the URL.
func checkName(id store.ID, name, typ string) error {
	var l armerror.List
	if name != "" && !strings.EqualFold(name, lastSegment(id.ID)) {
		l.Addf(codeNameMismatch, "name", "The name %q in the body does not match the name %q in the URL; leave it out or make them equal.", name, lastSegment(id.ID))
	}
	if typ != "" && !strings.EqualFold(typ, id.Type) {
		l.Addf(codeTypeMismatch, "type", "The type %q in the body does not match the type %q of the URL; leave it out or make them equal.", typ, id.Type)
	}
	return l.Err()
}

// checkParents refuses to create a resource whose subscription, group or
// parent resource does not exist.
func (t *txn) checkParents(id store.ID) error {
	if id.Subscription != "" && id.Type != typeSubscription {
		sub := "/subscriptions/" + id.Subscription
		if t.get(lower(sub)) == nil {
			return armerror.New(codeSubNotFound, "", "The subscription '%s' could not be found. Create it first (PUT %s).", id.Subscription, sub)
		}
	}
	if id.ResourceGroup != "" && id.Type != typeResourceGroup {
		rg := "/subscriptions/" + id.Subscription + "/resourceGroups/" + id.ResourceGroup
		if t.get(lower(rg)) == nil {
			return armerror.New(codeGroupNotFound, "", "Resource group '%s' could not be found. Create it first (`vnetml apply` a manifest with it, or PUT %s).", id.ResourceGroup, rg)
		}
	}
	if id.Parent != "" && id.Type != typeResourceGroup {
		p, err := store.ParseID(id.Parent)
		if err == nil && p.Type != typeSubscription && p.Type != typeResourceGroup && t.get(p.Key) == nil && !t.isChild(p) {
			return armerror.New(codeParentNotFound, "", "The parent resource '%s' of '%s' was not found. Create it first.", id.Parent, id.ID)
		}
	}
	return nil
}

// isChild reports whether id is a child resource stored inside its parent
// (a subnet, a security rule), and the parent has it.
func (t *txn) isChild(id store.ID) bool {
	k, ok := t.s.kinds[lower(id.Type)]
	if !ok || k.child == nil {
		return false
	}
	parent := t.get(lower(id.Parent))
	if parent == nil || parent.obj == nil {
		return false
	}
	for _, c := range k.child.list(parent.obj) {
		if strings.EqualFold(k.child.name(c), lastSegment(id.ID)) {
			return true
		}
	}
	return false
}

// mergePatch applies an RFC 7386 JSON merge patch to doc.
func mergePatch(doc, patch []byte) ([]byte, error) {
	var d, p any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(patch))
	if err := dec.Decode(&p); err != nil {
		return nil, armerror.New(codeInvalidContent, "", "The patch is not valid JSON: %v.", err)
	}
	if dec.More() {
		return nil, armerror.New(codeInvalidContent, "", "The request body has data after the JSON object; send one object.")
	}
	if _, ok := p.(map[string]any); !ok {
		return nil, armerror.New(codeInvalidContent, "", "A PATCH body is a JSON object whose fields replace the resource's (null removes one).")
	}
	return json.Marshal(mergeValue(d, p))
}

func mergeValue(d, p any) any {
	pm, ok := p.(map[string]any)
	if !ok {
		return p
	}
	dm, ok := d.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(dm, k)
			continue
		}
		dm[k] = mergeValue(dm[k], v)
	}
	return dm
}

// scopeOf returns the id of the subscription or group a collection lists.
func scopeOf(id store.ID) string {
	if id.ID == "" {
		return "/"
	}
	return id.ID
}

// normalizeObj fills ids, types and default rules of a model object.
func normalizeObj(obj any) {
	var s network.Snapshot
	switch o := obj.(type) {
	case *network.VirtualNetwork:
		s.VirtualNetworks = []network.VirtualNetwork{*o}
		s.Normalize()
		*o = s.VirtualNetworks[0]
	case *network.NetworkSecurityGroup:
		s.NetworkSecurityGroups = []network.NetworkSecurityGroup{*o}
		s.Normalize()
		*o = s.NetworkSecurityGroups[0]
	case *network.RouteTable:
		s.RouteTables = []network.RouteTable{*o}
		s.Normalize()
		*o = s.RouteTables[0]
	case *network.ApplicationSecurityGroup:
		s.ApplicationSecGroups = []network.ApplicationSecurityGroup{*o}
		s.Normalize()
		*o = s.ApplicationSecGroups[0]
	case *network.NetworkInterface:
		s.NetworkInterfaces = []network.NetworkInterface{*o}
		s.Normalize()
		*o = s.NetworkInterfaces[0]
	case *network.PublicIPAddress:
		s.PublicIPAddresses = []network.PublicIPAddress{*o}
		s.Normalize()
		*o = s.PublicIPAddresses[0]
	case *network.LoadBalancer:
		s.LoadBalancers = []network.LoadBalancer{*o}
		s.Normalize()
		*o = s.LoadBalancers[0]
	case *network.StorageAccount:
		s.StorageAccounts = []network.StorageAccount{*o}
		s.Normalize()
		*o = s.StorageAccounts[0]
	case *network.KeyVault:
		s.KeyVaults = []network.KeyVault{*o}
		s.Normalize()
		*o = s.KeyVaults[0]
	}
}

// canonical returns id spelled as when the resource was created: ARM ids
// are case-insensitive, and a resource keeps its first spelling.
func (t *txn) canonical(id store.ID) store.ID {
	if cur := t.get(id.Key); cur != nil {
		return cur.id
	}
	return id
}

// inGroup refuses a top-level resource that is not directly in a resource
// group (network resources and watchers are; ARM has no subscription- or
// tenant-level virtual networks, nor one nested under another resource).
func inGroup(id store.ID) error {
	if id.ResourceGroup != "" && strings.EqualFold(id.Parent, "/subscriptions/"+id.Subscription+"/resourceGroups/"+id.ResourceGroup) {
		return nil
	}
	return armerror.New(store.CodeInvalidResourceID, "", "%s resources live directly in a resource group: /subscriptions/{s}/resourceGroups/{g}/providers/%s/{name}; %q is not such an id.",
		id.Type, id.Type, id.ID)
}
