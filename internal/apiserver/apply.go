package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/store"
)

// ApplyRequest is the body of POST /providers/vnetml.Resources/apply: ARM
// resources, each with its full id, put in order in one transaction — all
// or nothing, as an ARM deployment in complete isolation would be. With
// ?dryRun=true every check runs and nothing is written.
type applyRequest struct {
	Resources []json.RawMessage `json:"resources"`
}

// applyResult says what apply did (or, in a dry run, would do) to each
// resource: created, changed or unchanged.
type applyResult struct {
	DryRun    bool          `json:"dryRun"`
	Resources []applyAction `json:"resources"`
}

type applyAction struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Action string `json:"action"`
}

// Apply actions.
const (
	actionCreated   = "created"
	actionChanged   = "changed"
	actionUnchanged = "unchanged"
)

// maxApplyResources bounds one apply.
const maxApplyResources = 5000

func (s *Server) apply(ctx context.Context, rq *request) (response, error) {
	var req applyRequest
	if err := decodeBody(rq.body, &req); err != nil {
		return response{}, err
	}
	if len(req.Resources) > maxApplyResources {
		return response{}, armerror.New(codeInvalidParameter, "resources", "An apply holds at most %d resources; this one has %d. Split the manifest.", maxApplyResources, len(req.Resources))
	}
	dryRun, _ := strconv.ParseBool(rq.query("dryRun"))
	out := applyResult{DryRun: dryRun, Resources: []applyAction{}}
	err := s.writeTxn(ctx, rq.principal, dryRun, func(t *txn) error {
		var l armerror.List
		for i, raw := range req.Resources {
			at := fmt.Sprintf("resources[%d]", i)
			a, err := s.applyOne(t, rq.principal, raw)
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

// applyOne stages one resource of an apply.
func (s *Server) applyOne(t *txn, p auth.Principal, raw json.RawMessage) (applyAction, error) {
	var hdr struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return applyAction{}, armerror.New(codeInvalidContent, "", "A resource of an apply is a JSON object with its full \"id\": %v.", err)
	}
	if hdr.ID == "" {
		return applyAction{}, armerror.New(codeInvalidContent, "id", "A resource of an apply needs its full resource id in \"id\".")
	}
	id, err := store.ParseID(hdr.ID)
	if err != nil {
		return applyAction{}, err
	}
	k, ok := s.kinds[lower(id.Type)]
	if !ok || k.stage == nil {
		return applyAction{}, unsupportedType(id.Type)
	}
	if err := auth.Authorize(p, auth.Write, id.ID); err != nil {
		return applyAction{}, err
	}
	existed, err := k.stage(t, id, raw, store.Condition{}, false)
	if err != nil {
		return applyAction{}, err
	}
	a := applyAction{ID: id.ID, Type: k.typ, Action: actionCreated}
	switch {
	case existed && t.noop:
		a.Action = actionUnchanged
	case existed:
		a.Action = actionChanged
	}
	return a, nil
}
