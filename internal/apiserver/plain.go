package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/store"
)

// This file holds the handler plumbing every kind shares: staging a PUT
// in a transaction and answering it; GET, DELETE and list of stored
// documents.

// stager stages the PUT (or, with patch, the merge-patch) of one resource
// in a transaction and reports whether the resource existed. Every
// writable kind has one; the PUT handlers and batch apply share them.
type stager func(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (existed bool, err error)

// putWith is the PUT (and PATCH) handler of a kind: it stages the request
// in its own transaction and answers with the resource as stored, 201 when
// it was created and 200 when it was replaced.
func (s *Server) putWith(stage stager) handlerFunc {
	return func(ctx context.Context, rq *request) (response, error) {
		id := rq.target.id
		existed := false
		var stored *entry
		err := s.write(ctx, rq.principal, func(t *txn) error {
			var err error
			existed, err = stage(t, id, rq.body, condition(rq), rq.http.Method == http.MethodPatch)
			stored = t.get(s.storedKey(id))
			return err
		})
		if err != nil {
			return response{}, err
		}
		// Answer from the version this request wrote (commit filled in its
		// etag), not from a fresh read that a concurrent write could
		// change or delete.
		body, err := s.renderEntry(stored, id)
		if err != nil {
			return response{}, err
		}
		if existed {
			return ok(body)
		}
		return created(body)
	}
}

// storedKey is the key of the document a resource lives in: its own, or
// its parent's for a child resource.
func (s *Server) storedKey(id store.ID) string {
	if k := s.kindOf(id.Type); k != nil && k.child != nil {
		return lower(id.Parent)
	}
	return id.Key
}

// renderEntry renders the resource id from the stored entry holding it.
func (s *Server) renderEntry(e *entry, id store.ID) (any, error) {
	if e == nil {
		return nil, notFound(store.NotFound(id.ID), id)
	}
	k := s.kindOf(e.id.Type)
	if k == nil || k.net == nil {
		return withEtag(e.res.Doc, e.res.Etag), nil
	}
	rendered := s.render(k.net, e.obj, e.res.Etag)
	ck := s.kindOf(id.Type).child
	if ck == nil {
		return rendered, nil
	}
	for _, c := range ck.list(rendered) {
		if strings.EqualFold(ck.name(c), lastSegment(id.ID)) {
			return c, nil
		}
	}
	return nil, notFound(store.NotFound(id.ID), id)
}

// showStored renders a resource stored under its own id.
func (s *Server) showStored(ctx context.Context, id store.ID) (json.RawMessage, error) {
	r, err := s.st.Get(ctx, id.ID)
	if err != nil {
		return nil, notFound(err, id)
	}
	return s.renderStored(r)
}

// stagePlain stages a document stored as-is. guarded says whether locks
// apply (not to locks themselves).
func (t *txn) stagePlain(id store.ID, doc any, cond store.Condition, guarded bool) (bool, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return false, err
	}
	var loc struct {
		Location string `json:"location"`
	}
	_ = json.Unmarshal(b, &loc)
	cur := t.get(id.Key)
	if err := checkCond(cond, id.ID, cur); err != nil {
		return false, err
	}
	if err := t.checkParents(id); err != nil {
		return false, err
	}
	if guarded {
		t.guard(id.ID, false)
	}
	return cur != nil, t.put(id, nil, b, loc.Location)
}

// patched returns the body to decode: body itself for a PUT, body merged
// into the current document for a PATCH.
func patched(cur *entry, body []byte, patch bool, missing func() error) ([]byte, error) {
	if !patch {
		return body, nil
	}
	if cur == nil {
		return nil, missing()
	}
	return mergePatch(cur.res.Doc, body)
}

// getPlain answers GET of a resource stored as-is (locks, watchers).
func (s *Server) getPlain(ctx context.Context, rq *request) (response, error) {
	b, err := s.showStored(ctx, rq.target.id)
	if err != nil {
		return response{}, err
	}
	return ok(b)
}

// notFound turns the store's ResourceNotFound into ARM's message.
func notFound(err error, id store.ID) error {
	if store.IsNotFound(err) {
		if id.ResourceGroup == "" {
			return armerror.New(codeNotFound, "", "The Resource '%s' was not found.", id.ID)
		}
		return armerror.New(codeNotFound, "", "The Resource '%s' under resource group '%s' was not found.", typeAndName(id), id.ResourceGroup)
	}
	return err
}

func typeAndName(id store.ID) string {
	return id.Type + "/" + lastSegment(id.ID)
}

// deletePlain deletes a resource (with everything under it: a group's
// resources, a resource's locks), subject to locks and references.
func (s *Server) deletePlain(ctx context.Context, rq *request) (response, error) {
	return s.deleteStored(ctx, rq, true, nil)
}

func (s *Server) deletePlainUnguarded(ctx context.Context, rq *request) (response, error) {
	return s.deleteStored(ctx, rq, false, nil)
}

// deleteStored deletes a resource and everything under it: 200 when it
// existed, 204 when it did not (as ARM answers). check, if not nil, may
// refuse the deletion of the current version.
func (s *Server) deleteStored(ctx context.Context, rq *request, guarded bool, check func(t *txn, cur *entry) error) (response, error) {
	id := rq.target.id
	existed := false
	err := s.write(ctx, rq.principal, func(t *txn) error {
		cur := t.get(id.Key)
		if cur == nil {
			return nil
		}
		existed = true
		if err := checkCond(condition(rq), id.ID, cur); err != nil {
			return err
		}
		if check != nil {
			if err := check(t, cur); err != nil {
				return err
			}
		}
		if guarded {
			t.guard(cur.id.ID, true)
		}
		t.del(id.Key)
		return nil
	})
	if err != nil {
		return response{}, err
	}
	if !existed {
		return response{status: http.StatusNoContent}, nil
	}
	return response{status: http.StatusOK}, nil
}

// listPlain lists resources of the collection's type under its scope.
func (s *Server) listPlain(ctx context.Context, rq *request) (response, error) {
	return s.listStored(ctx, rq, store.ListOptions{
		Subscription: rq.target.id.Subscription, ResourceGroup: rq.target.id.ResourceGroup, Type: rq.target.listType,
	})
}

// listPage is ARM's list response.
type listPage struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"nextLink,omitempty"`
}

// listStored answers a list from the store, one page per request
// ($top, default and at most 1000; $skipToken continues), each item with
// its etag, leaving out what the caller may not read.
func (s *Server) listStored(ctx context.Context, rq *request, opts store.ListOptions) (response, error) {
	return s.listRendered(ctx, rq, opts, func(r store.Resource) (json.RawMessage, error) {
		return withEtag(r.Doc, r.Etag), nil
	})
}

func (s *Server) listRendered(ctx context.Context, rq *request, opts store.ListOptions, render func(store.Resource) (json.RawMessage, error)) (response, error) {
	opts.Limit = 1000
	if top := rq.query("$top"); top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 1 {
			return response{}, armerror.New(store.CodeInvalidQuery, "$top", "$top=%q is not a positive integer.", top)
		}
		opts.Limit = min(n, 1000)
	}
	opts.Continuation = rq.query("$skipToken")
	page, err := s.st.List(ctx, opts)
	if err != nil {
		return response{}, err
	}
	out := listPage{Value: []json.RawMessage{}}
	for _, r := range page.Resources {
		if auth.Authorize(rq.principal, auth.Read, r.ID) != nil {
			continue
		}
		b, err := render(r)
		if err != nil {
			s.log.Error("stored resource is unreadable", "id", r.ID, "error", err)
			continue
		}
		out.Value = append(out.Value, b)
	}
	if page.Next != "" {
		u := *rq.http.URL
		q := u.Query()
		for k := range q {
			if strings.EqualFold(k, "$skipToken") {
				q.Del(k)
			}
		}
		q.Set("$skipToken", page.Next)
		u.RawQuery = q.Encode()
		out.NextLink = nextLinkBase(rq) + u.RequestURI()
	}
	return ok(out)
}

// nextLinkBase is the scheme and host the client called.
func nextLinkBase(rq *request) string {
	scheme := "http"
	if rq.http.TLS != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: rq.http.Host}).String()
}
