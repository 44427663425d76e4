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
//
// The copy is shallow (the object and its child slices): decorate and the
// etags replace fields, they never write into what the published object
// shares.
func (s *Server) render(k *netKind, obj any, etag string) any {
	c := k.shallow(obj)
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
	b, err := s.showStored(ctx, rq.target.id)
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

// stageNetwork stages a PUT (or, with patch, a merge-patch) of a
// top-level network resource.
func (s *Server) stageNetwork(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	if err := inGroup(id); err != nil {
		return false, err
	}
	id = t.canonical(id)
	k := s.kindOf(id.Type)
	cur := t.get(id.Key)
	if err := checkCond(cond, id.ID, cur); err != nil {
		return false, err
	}
	if patch {
		if cur == nil {
			return false, armerror.New(codeNotFound, "", "The Resource '%s' under resource group '%s' was not found; PATCH changes an existing resource, PUT creates one.",
				typeAndName(id), id.ResourceGroup)
		}
		var err error
		if body, err = mergePatch(cur.res.Doc, body); err != nil {
			return false, err
		}
	}
	obj, err := k.net.decode(body)
	if err != nil {
		return false, err
	}
	m := k.net.meta(obj)
	if err := checkName(id, m.Name, m.Type); err != nil {
		return false, err
	}
	if err := t.checkParents(id); err != nil {
		return false, err
	}
	m.Name, m.ID, m.Type, m.Etag, m.ResourceGroup = lastSegment(id.ID), id.ID, k.typ, "", ""
	m.Location = normLocation(m.Location)
	if m.Location == "" {
		return false, armerror.New(codeLocationRequired, "location", "The location property is required for this definition; give the region, e.g. \"location\": \"eastus\".")
	}
	var old any
	if cur != nil {
		old = cur.obj
		if cur.loc != "" && cur.loc != m.Location {
			return false, armerror.New(codeInvalidLocation, "location", "The resource '%s' already exists in location '%s'; a resource cannot move to '%s'. Delete and recreate it, or keep the location.", id.ID, cur.loc, m.Location)
		}
	}
	k.net.prepare(obj, old)
	normalizeObj(obj)
	if err := t.allocate(obj, old); err != nil {
		return false, err
	}
	t.guard(id.ID, false)
	if err := t.put(id, obj, nil, m.Location); err != nil {
		return false, err
	}
	if _, ok := obj.(*network.StorageAccount); ok && cur == nil {
		if err := t.putAccountKeys(id.ID, ""); err != nil {
			return false, err
		}
	}
	if v, ok := obj.(*network.VirtualNetwork); ok && cur == nil {
		if err := t.ensureWatcher(id.Subscription, v.Location); err != nil {
			return false, err
		}
	}
	return cur != nil, nil
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
	c, err := s.showChild(ctx, rq.target.id)
	if err != nil {
		return response{}, err
	}
	return ok(c)
}

// showChild renders a child resource from its stored parent.
func (s *Server) showChild(ctx context.Context, id store.ID) (any, error) {
	pid, pk, ck, err := s.childTarget(id)
	if err != nil {
		return nil, err
	}
	r, err := s.st.Get(ctx, pid.ID)
	if err != nil {
		if store.IsNotFound(err) {
			return nil, parentMissing(id)
		}
		return nil, err
	}
	obj, err := pk.net.decode(r.Doc)
	if err != nil {
		return nil, err
	}
	rendered := s.render(pk.net, obj, r.Etag)
	for _, c := range ck.list(rendered) {
		if strings.EqualFold(ck.name(c), lastSegment(id.ID)) {
			return c, nil
		}
	}
	return nil, notFound(store.NotFound(id.ID), id)
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

// stageChild stages a PUT of a child resource: an edit of its parent.
func (s *Server) stageChild(t *txn, id store.ID, body []byte, cond store.Condition, _ bool) (bool, error) {
	pid, pk, ck, err := s.childTarget(id)
	if err != nil {
		return false, err
	}
	child, err := ck.decode(body)
	if err != nil {
		return false, err
	}
	if err := checkChildName(id, child, ck); err != nil {
		return false, err
	}
	cur := t.get(pid.Key)
	if cur == nil {
		return false, parentMissing(id)
	}
	parent := pk.net.clone(cur.obj)
	existed := false
	for _, c := range ck.list(parent) {
		if strings.EqualFold(ck.name(c), lastSegment(id.ID)) {
			existed = true
			ck.setName(child, ck.name(c)) // names keep their first spelling
		}
	}
	if err := cond.Check(id.ID, existed, cur.res.Etag); err != nil {
		return false, err
	}
	ck.prepare(child)
	ck.set(parent, child)
	pk.net.prepare(parent, cur.obj)
	normalizeObj(parent)
	t.guard(id.ID, false)
	return existed, t.put(cur.id, parent, nil, cur.loc)
}

// checkChildName sets the child's name from the URL, refusing a body that
// names another.
func checkChildName(id store.ID, child any, ck *childKind) error {
	name := lastSegment(id.ID)
	if n := ck.name(child); n != "" && !strings.EqualFold(n, name) {
		return armerror.New(codeNameMismatch, "name", "The name %q in the body does not match the name %q in the URL; leave it out or make them equal.", n, name)
	}
	ck.setName(child, name)
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
