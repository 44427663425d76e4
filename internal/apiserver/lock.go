package apiserver

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/store"
)

// Lock levels (Microsoft.Authorization/locks).
const (
	lockCanNotDelete = "CanNotDelete"
	lockReadOnly     = "ReadOnly"
)

// lockDoc is a management lock as ARM shows it.
type lockDoc struct {
	ID         string         `json:"id,omitempty"`
	Name       string         `json:"name,omitempty"`
	Type       string         `json:"type,omitempty"`
	Etag       string         `json:"etag,omitempty"`
	Properties lockProperties `json:"properties"`
}

type lockProperties struct {
	Level  string      `json:"level"`
	Notes  string      `json:"notes,omitempty"`
	Owners []lockOwner `json:"owners,omitempty"`
}

type lockOwner struct {
	ApplicationID string `json:"applicationId"`
}

// stageLock stages a lock. Only an Owner of the locked scope may write
// one (locks are Microsoft.Authorization/locks/*, an Owner's action in
// Azure); locks never block their own management.
func (s *Server) stageLock(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	if id.Subscription == "" {
		return false, armerror.New(store.CodeInvalidResourceID, "", "A lock is on a subscription, a resource group or a resource: {scope}/providers/Microsoft.Authorization/locks/{name}; %q has no such scope.", id.ID)
	}
	if err := checkLockName(lastSegment(id.ID)); err != nil {
		return false, err
	}
	if err := requireOwner(t.who, id.Parent, "write locks"); err != nil {
		return false, err
	}
	id = t.canonical(id)
	cur := t.get(id.Key)
	body, err := patched(cur, body, patch, func() error { return notFound(store.NotFound(id.ID), id) })
	if err != nil {
		return false, err
	}
	var doc lockDoc
	if err := decodeBody(body, &doc); err != nil {
		return false, err
	}
	if err := checkName(id, doc.Name, doc.Type); err != nil {
		return false, err
	}
	switch {
	case strings.EqualFold(doc.Properties.Level, lockCanNotDelete):
		doc.Properties.Level = lockCanNotDelete
	case strings.EqualFold(doc.Properties.Level, lockReadOnly):
		doc.Properties.Level = lockReadOnly
	default:
		return false, armerror.New("LockLevelInvalid", "properties.level",
			"The lock level %q is not valid; use CanNotDelete (authorized users can read and modify but not delete) or ReadOnly (they can only read).", doc.Properties.Level)
	}
	if len(doc.Properties.Notes) > 512 {
		return false, armerror.New(codeInvalidParameter, "properties.notes", "Lock notes are at most 512 characters; these are %d.", len(doc.Properties.Notes))
	}
	doc.ID, doc.Name, doc.Type, doc.Etag = id.ID, lastSegment(id.ID), typeLock, ""
	return t.stagePlain(id, doc, cond, false)
}

// deleteLock deletes a lock; Owners only.
func (s *Server) deleteLock(ctx context.Context, rq *request) (response, error) {
	if err := requireOwner(rq.principal, rq.target.id.Parent, "delete locks"); err != nil {
		return response{}, err
	}
	return s.deletePlainUnguarded(ctx, rq)
}

// requireOwner refuses a principal that is not an Owner over scope.
func requireOwner(p auth.Principal, scope, what string) error {
	if p.Role == auth.Owner {
		return auth.Authorize(p, auth.Write, scope)
	}
	return armerror.New(codeAuthorization, "", "The client '%s' with role %s does not have authorization to %s over scope '%s'. Only an Owner may; "+
		"ask an Owner of the scope for a token with role Owner.", p.TokenID, p.Role, what, scope)
}

// listLocks lists the locks at and under a scope.
func (s *Server) listLocks(ctx context.Context, rq *request) (response, error) {
	return s.listStored(ctx, rq, store.ListOptions{
		Subscription: rq.target.id.Subscription, ResourceGroup: rq.target.id.ResourceGroup,
		Type: typeLock, Parent: parentFilter(rq.target.id),
	})
}

// parentFilter lists under a resource, or a whole scope for a subscription
// or group (whose filters already select it).
func parentFilter(id store.ID) string {
	if id.Type == typeSubscription || id.Type == typeResourceGroup || id.ID == "" {
		return ""
	}
	return id.ID
}

// activeLock is a lock that applies to a write.
type activeLock struct {
	id, scope, level string
}

// checkLocks refuses a transaction that a lock forbids: a ReadOnly lock at
// or above what it writes or deletes, a CanNotDelete lock at or above what
// it deletes, or any lock below what it deletes (deleting a group deletes
// its locked resources).
func (t *txn) checkLocks() error {
	var locks []activeLock
	for _, e := range t.s.world.byKey {
		if e.id.Type != typeLock && !strings.EqualFold(e.id.Type, typeLock) {
			continue
		}
		var d lockDoc
		if json.Unmarshal(e.res.Doc, &d) != nil {
			continue
		}
		locks = append(locks, activeLock{id: e.id.ID, scope: e.id.Parent, level: d.Properties.Level})
	}
	if len(locks) == 0 {
		return nil
	}
	var l armerror.List
	for _, g := range t.guarded {
		key := lower(g.id)
		for _, lk := range locks {
			sk := lower(lk.scope)
			above := key == sk || strings.HasPrefix(key, sk+"/")
			below := strings.HasPrefix(sk, key+"/")
			op := "write"
			if g.delete {
				op = "delete"
			}
			if above && (lk.level == lockReadOnly || g.delete) || below && g.delete {
				l.Addf(codeScopeLocked, g.id,
					"The scope '%s' cannot perform %s operation because following scope(s) are locked: '%s'. Please remove the lock and try again "+
						"(lock %s, level %s; an Owner removes it with `vnetml delete lock %s --scope %s`).",
					g.id, op, lk.scope, lk.id, lk.level, lastSegment(lk.id), lk.scope)
			}
		}
	}
	return l.Err()
}

func lastSegment(id string) string {
	return id[strings.LastIndexByte(id, '/')+1:]
}

// checkLockName applies ARM's naming rule for locks: 1–90 characters, none
// of < > % & : \ ? / or a control character, and not "." or "..".
func checkLockName(name string) error {
	bad := len(name) == 0 || len(name) > 90 || name == "." || name == ".." ||
		strings.ContainsAny(name, `<>%&:\?/`) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f })
	if bad {
		return armerror.New("InvalidLockName", "name", "The lock name %q is invalid: use 1-90 characters, none of < > %% & : \\ ? / or control characters.", name)
	}
	return nil
}
