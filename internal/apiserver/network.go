package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// kindOf returns the kind of a resource type; routing guarantees it exists.
func (s *Server) kindOf(typ string) *kind { return s.kinds[lower(typ)] }

// render returns a model object as a GET shows it: a copy with computed
// back-references and the etag (children carry their parent's etag: they
// change when it does).
func (s *Server) render(k *netKind, obj any, etag string) any {
	c := k.clone(obj)
	s.view.Load().refs.decorate(c)
	k.meta(c).Etag = etag
	for _, ck := range k.children {
		for _, ch := range ck.list(c) {
			setEtag(ch, etag)
		}
	}
	return c
}

func setEtag(child any, etag string) {
	switch c := child.(type) {
	case *network.Subnet:
		c.Etag = etag
	case *network.VirtualNetworkPeering:
		c.Etag = etag
	case *network.SecurityRule:
		c.Etag = etag
	case *network.Route:
		c.Etag = etag
	}
}

// renderStored decodes and renders a stored network resource.
func (s *Server) renderStored(r store.Resource) (json.RawMessage, error) {
	k := s.kindOf(r.Type)
	if k == nil || k.net == nil {
		return withEtag(r.Doc, r.Etag), nil
	}
	obj, err := k.net.decode(r.Doc)
	if err != nil {
		return nil, err
	}
	return json.Marshal(s.render(k.net, obj, r.Etag))
}

func (s *Server) getNetwork(ctx context.Context, rq *request) (response, error) {
	r, err := s.st.Get(ctx, rq.target.id.ID)
	if err != nil {
		return response{}, notFound(err, rq.target.id)
	}
	b, err := s.renderStored(r)
	if err != nil {
		return response{}, err
	}
	return ok(b)
}

func (s *Server) listNetwork(ctx context.Context, rq *request) (response, error) {
	return s.listRendered(ctx, rq, store.ListOptions{
		Subscription: rq.target.id.Subscription, ResourceGroup: rq.target.id.ResourceGroup, Type: rq.target.listType,
	}, s.renderStored)
}

func (s *Server) putNetwork(ctx context.Context, rq *request) (response, error) {
	return s.writeNetwork(ctx, rq, func(*entry) ([]byte, error) { return rq.body, nil })
}

// patchNetwork merges the body into the resource (RFC 7386) and writes the
// result as a PUT would, with the same checks.
func (s *Server) patchNetwork(ctx context.Context, rq *request) (response, error) {
	return s.writeNetwork(ctx, rq, func(cur *entry) ([]byte, error) {
		if cur == nil {
			return nil, armerror.New(codeNotFound, "", "The Resource '%s' under resource group '%s' was not found; PATCH changes an existing resource, PUT creates one.",
				typeAndName(rq.target.id), rq.target.id.ResourceGroup)
		}
		return mergePatch(cur.res.Doc, rq.body)
	})
}

// writeNetwork creates or replaces a top-level network resource with the
// document body returns for the current version.
func (s *Server) writeNetwork(ctx context.Context, rq *request, body func(cur *entry) ([]byte, error)) (response, error) {
	id := rq.target.id
	k := s.kindOf(id.Type)
	existed := false
	var stored *entry
	err := s.write(ctx, rq.principal, func(t *txn) error {
		cur := t.get(id.Key)
		existed = cur != nil
		if err := checkCondition(rq, id.ID, cur); err != nil {
			return err
		}
		b, err := body(cur)
		if err != nil {
			return err
		}
		obj, err := k.net.decode(b)
		if err != nil {
			return err
		}
		m := k.net.meta(obj)
		if err := checkName(id, m.Name, m.Type); err != nil {
			return err
		}
		if err := t.checkParents(id); err != nil {
			return err
		}
		m.Name, m.ID, m.Type, m.Etag, m.ResourceGroup = lastSegment(id.ID), id.ID, k.typ, "", ""
		m.Location = normLocation(m.Location)
		if m.Location == "" {
			return armerror.New(codeLocationRequired, "location", "The location property is required for this definition; give the region, e.g. \"location\": \"eastus\".")
		}
		var old any
		if cur != nil {
			old = cur.obj
			if cur.loc != "" && cur.loc != m.Location {
				return armerror.New(codeInvalidLocation, "location", "The resource '%s' already exists in location '%s'; a resource cannot move to '%s'. Delete and recreate it, or keep the location.", id.ID, cur.loc, m.Location)
			}
		}
		k.net.prepare(obj, old)
		normalizeObj(obj)
		if err := t.allocate(obj, old); err != nil {
			return err
		}
		t.guard(id.ID, false)
		if err := t.put(id, obj, nil, m.Location); err != nil {
			return err
		}
		if v, ok := obj.(*network.VirtualNetwork); ok && cur == nil {
			if err := t.ensureWatcher(id.Subscription, v.Location); err != nil {
				return err
			}
		}
		stored = t.puts[id.Key]
		return nil
	})
	if err != nil {
		return response{}, err
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	return response{status, s.render(k.net, stored.obj, stored.res.Etag)}, nil
}

func (s *Server) deleteNetwork(ctx context.Context, rq *request) (response, error) {
	return s.deleteStored(ctx, rq, true)
}

// Child resources (subnets, peerings, security rules, routes) are stored
// inside their parent's document; these handlers edit the parent.

// childTarget splits a child id into its parent's id and kind.
func (s *Server) childTarget(id store.ID) (store.ID, *kind, *childKind, error) {
	pid, err := store.ParseID(id.Parent)
	if err != nil {
		return store.ID{}, nil, nil, err
	}
	return pid, s.kindOf(pid.Type), s.kindOf(id.Type).child, nil
}

func parentMissing(id store.ID) error {
	return armerror.New(codeParentNotFound, "", "The parent resource '%s' of '%s' was not found. Create it first.", id.Parent, id.ID)
}

func (s *Server) getChild(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	pid, pk, ck, err := s.childTarget(id)
	if err != nil {
		return response{}, err
	}
	r, err := s.st.Get(ctx, pid.ID)
	if err != nil {
		if store.IsNotFound(err) {
			return response{}, parentMissing(id)
		}
		return response{}, err
	}
	obj, err := pk.net.decode(r.Doc)
	if err != nil {
		return response{}, err
	}
	rendered := s.render(pk.net, obj, r.Etag)
	for _, c := range ck.list(rendered) {
		if strings.EqualFold(ck.name(c), lastSegment(id.ID)) {
			return ok(c)
		}
	}
	return response{}, notFound(store.NotFound(id.ID), id)
}

func (s *Server) listChildren(ctx context.Context, rq *request) (response, error) {
	pid := rq.target.id
	pk := s.kindOf(pid.Type)
	ck := s.kindOf(rq.target.listType).child
	r, err := s.st.Get(ctx, pid.ID)
	if err != nil {
		return response{}, notFound(err, pid)
	}
	obj, err := pk.net.decode(r.Doc)
	if err != nil {
		return response{}, err
	}
	rendered := s.render(pk.net, obj, r.Etag)
	out := struct {
		Value []any `json:"value"`
	}{Value: ck.list(rendered)}
	return ok(out)
}

func (s *Server) putChild(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	pid, pk, ck, err := s.childTarget(id)
	if err != nil {
		return response{}, err
	}
	child, err := ck.decode(rq.body)
	if err != nil {
		return response{}, err
	}
	if err := checkChildName(id, child, ck); err != nil {
		return response{}, err
	}
	existed := false
	var stored *entry
	err = s.write(ctx, rq.principal, func(t *txn) error {
		cur := t.get(pid.Key)
		if cur == nil {
			return parentMissing(id)
		}
		parent := pk.net.clone(cur.obj)
		for _, c := range ck.list(parent) {
			if strings.EqualFold(ck.name(c), lastSegment(id.ID)) {
				existed = true
			}
		}
		if err := condition(rq).Check(id.ID, existed, cur.res.Etag); err != nil {
			return err
		}
		ck.prepare(child)
		ck.set(parent, child)
		pk.net.prepare(parent, cur.obj)
		normalizeObj(parent)
		t.guard(id.ID, false)
		if err := t.put(cur.id, parent, nil, cur.loc); err != nil {
			return err
		}
		stored = t.puts[pid.Key]
		return nil
	})
	if err != nil {
		return response{}, err
	}
	rendered := s.render(pk.net, stored.obj, stored.res.Etag)
	for _, c := range ck.list(rendered) {
		if strings.EqualFold(ck.name(c), lastSegment(id.ID)) {
			if existed {
				return ok(c)
			}
			return created(c)
		}
	}
	return response{}, armerror.New(codeInternal, "", "the written child %s is missing from its parent", id.ID)
}

// checkChildName sets the child's name from the URL, refusing a body that
// names another.
func checkChildName(id store.ID, child any, ck *childKind) error {
	name := lastSegment(id.ID)
	if n := ck.name(child); n != "" && !strings.EqualFold(n, name) {
		return armerror.New(codeNameMismatch, "name", "The name %q in the body does not match the name %q in the URL; leave it out or make them equal.", n, name)
	}
	switch c := child.(type) {
	case *network.Subnet:
		c.Name = name
	case *network.VirtualNetworkPeering:
		c.Name = name
	case *network.SecurityRule:
		c.Name = name
	case *network.Route:
		c.Name = name
	}
	return nil
}

func (s *Server) deleteChild(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	pid, pk, ck, err := s.childTarget(id)
	if err != nil {
		return response{}, err
	}
	existed := false
	err = s.write(ctx, rq.principal, func(t *txn) error {
		cur := t.get(pid.Key)
		if cur == nil {
			return nil
		}
		parent := pk.net.clone(cur.obj)
		if !ck.remove(parent, lastSegment(id.ID)) {
			return nil
		}
		existed = true
		if err := condition(rq).Check(id.ID, true, cur.res.Etag); err != nil {
			return err
		}
		pk.net.prepare(parent, cur.obj)
		normalizeObj(parent)
		t.guard(id.ID, true)
		return t.put(cur.id, parent, nil, cur.loc)
	})
	if err != nil {
		return response{}, err
	}
	if !existed {
		return response{status: http.StatusNoContent}, nil
	}
	return response{status: http.StatusOK}, nil
}
