package apiserver

import (
	"context"

	"encoding/json"
	"fmt"
	"strconv"

	"github.com/vnetml/vnetml/internal/api"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/store"
)

// maxApplyResources bounds one apply.
const maxApplyResources = 5000

func (s *Server) apply(ctx context.Context, rq *request) (response, error) {
	var req struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if err := decodeBody(rq.body, &req); err != nil {
		return response{}, err
	}
	if len(req.Resources) > maxApplyResources {
		return response{}, armerror.New(codeInvalidParameter, "resources", "An apply holds at most %d resources; this one has %d. Split the manifest.", maxApplyResources, len(req.Resources))
	}
	dryRun := false
	if v := rq.query("dryRun"); v != "" {
		var err error
		if dryRun, err = strconv.ParseBool(v); err != nil {
			return response{}, armerror.New(store.CodeInvalidQuery, "dryRun", "dryRun=%q is not true or false.", v)
		}
	}
	out := api.ApplyResult{DryRun: dryRun, Resources: []api.ApplyAction{}}
	err := s.writeTxn(ctx, rq.principal, dryRun, func(t *txn) error {
		var l armerror.List
		t.labels = map[string]string{}
		for i, raw := range req.Resources {
			at := fmt.Sprintf("resources[%d]", i)
			a, key, err := s.applyOne(t, rq.principal, raw)
			if key != "" {
				if _, seen := t.labels[key]; !seen {
					t.labels[key] = at
				}
			}
			if err != nil {
				e, ok := armerror.As(err)
				if !ok {
					return err
				}
				l.Add(e.WithPrefix(at))
				continue
			}
			out.Resources = append(out.Resources, a)
		}
		return l.Err()
	})
	if err != nil {
		return response{}, err
	}
	return ok(out)
}

// applyOne stages one resource of an apply. key is the stored resource it
// writes (a child's parent), once its id is known.
func (s *Server) applyOne(t *txn, p auth.Principal, raw json.RawMessage) (_ api.ApplyAction, key string, _ error) {
	var hdr struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return api.ApplyAction{}, "", armerror.New(codeInvalidContent, "", "A resource of an apply is a JSON object with its full \"id\": %v.", err)
	}
	if hdr.ID == "" {
		return api.ApplyAction{}, "", armerror.New(codeInvalidContent, "id", "A resource of an apply needs its full resource id in \"id\".")
	}
	id, err := store.ParseID(hdr.ID)
	if err != nil {
		return api.ApplyAction{}, "", err
	}
	key = id.Key
	if k := s.kindOf(id.Type); k != nil && k.child != nil {
		key = lower(id.Parent)
	}
	k, ok := s.kinds[lower(id.Type)]
	if !ok || k.stage == nil {
		return api.ApplyAction{}, key, unsupportedType(id.Type)
	}
	if err := auth.Authorize(p, auth.Write, id.ID); err != nil {
		return api.ApplyAction{}, key, err
	}
	existed, err := k.stage(t, id, raw, store.Condition{}, false)
	if err != nil {
		return api.ApplyAction{}, key, err
	}
	a := api.ApplyAction{ID: id.ID, Type: k.typ, Action: api.ActionCreated}
	switch {
	case existed && t.noop:
		a.Action = api.ActionUnchanged
	case existed:
		a.Action = api.ActionChanged
	}
	return a, key, nil
}
