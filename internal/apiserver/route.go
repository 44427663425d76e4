package apiserver

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/store"
)

// targetKind says what a URL path addresses.
type targetKind int

const (
	targetResource      targetKind = iota // a resource or scope: GET, PUT, PATCH, DELETE
	targetCollection                      // the resources of one type under a scope or parent: GET
	targetAction                          // an action on a resource: POST
	targetSubscriptions                   // /subscriptions: GET
)

// target is a parsed request path.
type target struct {
	kind targetKind
	// id is the resource (targetResource), the resource acted on
	// (targetAction), or the scope or parent listed under
	// (targetCollection; zero for tenant scope).
	id       store.ID
	action   string // targetAction: the action's name, e.g. ipFlowVerify
	listType string // targetCollection: the ARM type listed
}

// parseTarget parses an ARM request path.
func parseTarget(method, escaped string) (target, error) {
	path, err := url.PathUnescape(escaped)
	if err != nil || strings.Contains(escaped, "%2F") || strings.Contains(escaped, "%2f") {
		return target{}, armerror.New(store.CodeInvalidResourceID, "", "The request path %q is not a valid resource path; names may not contain an escaped slash.", escaped)
	}
	path = strings.TrimSuffix(path, "/")
	if strings.EqualFold(path, "/subscriptions") {
		return target{kind: targetSubscriptions}, nil
	}
	if id, ok := store.TryParseID(path); ok {
		return target{kind: targetResource, id: id}, nil
	}
	cut := strings.LastIndexByte(path, '/')
	if cut <= 0 {
		return target{}, notAPath(path)
	}
	prefix, last := path[:cut], path[cut+1:]
	if parent, ok := store.TryParseID(prefix); ok {
		if method == http.MethodPost {
			return target{kind: targetAction, id: parent, action: last}, nil
		}
		if parent.Type == typeSubscription && strings.EqualFold(last, "resourceGroups") {
			return target{kind: targetCollection, id: parent, listType: typeResourceGroup}, nil
		}
		return target{kind: targetCollection, id: parent, listType: parent.Type + "/" + last}, nil
	}
	// {scope}/providers/{namespace}/{type}: the resources of a type in a
	// scope (tenant, subscription, group, or a resource for locks).
	pcut := strings.LastIndexByte(prefix, '/')
	if pcut < 0 {
		return target{}, notAPath(path)
	}
	scopePath, ns := prefix[:pcut], prefix[pcut+1:]
	if !strings.HasSuffix(strings.ToLower(scopePath), "/providers") && !strings.EqualFold(scopePath, "/providers") {
		return target{}, notAPath(path)
	}
	scopePath = scopePath[:len(scopePath)-len("/providers")]
	t := target{kind: targetCollection, listType: ns + "/" + last}
	if scopePath != "" {
		scope, ok := store.TryParseID(scopePath)
		if !ok {
			return target{}, notAPath(path)
		}
		t.id = scope
	}
	return t, nil
}

func notAPath(path string) error {
	return armerror.New(store.CodeInvalidResourceID, "", "The request path %q addresses no resource, collection or action; "+
		"want /subscriptions/{s}/resourceGroups/{g}/providers/{namespace}/{type}/{name}, a collection of such resources, or an action under one.", path)
}

// handlerFunc answers one routed request.
type handlerFunc func(ctx context.Context, rq *request) (response, error)

// route is a handler with what it needs to be authorized for.
type route struct {
	h    handlerFunc
	name string      // for metrics: a low-cardinality route name
	act  auth.Action // checked against the target's id before the handler runs
	list bool        // a list: authorized against the scope, items filtered
	self bool        // the handler authorizes (token management)
	// stage, for PUT and PATCH, stages the write; the handler is then
	// putWith(stage).
	stage stager
}

// route finds the handler for a method and target.
func (s *Server) route(method string, t target) (route, error) {
	switch t.kind {
	case targetSubscriptions:
		if method == http.MethodGet {
			return route{h: s.listSubscriptions, name: "subscriptions.list", act: auth.Read, list: true}, nil
		}
	case targetResource:
		k, ok := s.kinds[strings.ToLower(t.id.Type)]
		if !ok {
			return route{name: "unknown"}, unsupportedType(t.id.Type)
		}
		if r, ok := k.methods[method]; ok {
			return r, nil
		}
		return route{name: k.name}, methodNotAllowed(method, t.id.Type, k.methods)
	case targetAction:
		k, ok := s.kinds[strings.ToLower(t.id.Type)]
		if !ok {
			return route{name: "unknown"}, unsupportedType(t.id.Type)
		}
		for name, r := range k.actions {
			if strings.EqualFold(name, t.action) {
				if method != http.MethodPost {
					break
				}
				return r, nil
			}
		}
		return route{name: k.name}, armerror.New(codeNotSupported, "", "%s has no action %q%s.", t.id.Type, t.action, actionList(k))
	case targetCollection:
		if t.id.ID == "" && strings.EqualFold(t.listType, typeApply) && method == http.MethodPost {
			return route{h: s.apply, name: "apply", self: true}, nil
		}
		k, ok := s.kinds[strings.ToLower(t.listType)]
		if !ok || k.list == nil {
			return route{name: "unknown"}, unsupportedType(t.listType)
		}
		if method == http.MethodGet {
			return *k.list, nil
		}
		return route{name: k.name}, armerror.New(codeMethodNotAllowed, "", "A collection of %s answers GET only, not %s.", t.listType, method)
	}
	return route{name: "unknown"}, armerror.New(codeMethodNotAllowed, "", "%s is not supported here.", method)
}

func unsupportedType(typ string) error {
	return armerror.New(codeTypeMismatch, "", "The resource type %q is not served by vnetml; it serves subscriptions, resourceGroups, "+
		"Microsoft.Network virtualNetworks (subnets), networkSecurityGroups (securityRules), routeTables (routes), networkInterfaces, "+
		"publicIPAddresses, loadBalancers, applicationSecurityGroups and networkWatchers, Microsoft.Storage/storageAccounts, "+
		"Microsoft.KeyVault/vaults, Microsoft.ContainerRegistry/registries, Microsoft.ContainerService/managedClusters, "+
		"Microsoft.MachineLearningServices/workspaces (datastores, computes, services), "+
		"and Microsoft.Authorization/locks.", typ)
}

func methodNotAllowed(method, typ string, methods map[string]route) error {
	var ms []string
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if _, ok := methods[m]; ok {
			ms = append(ms, m)
		}
	}
	return armerror.New(codeMethodNotAllowed, "", "%s is not supported on %s; use %s.", method, typ, strings.Join(ms, ", "))
}

func actionList(k *kind) string {
	if len(k.actions) == 0 {
		return ""
	}
	var names []string
	for n := range k.actions {
		names = append(names, n)
	}
	return "; its actions are " + strings.Join(names, ", ")
}
