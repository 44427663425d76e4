package apiserver

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/store"
)

// subscriptionDoc is a subscription as ARM shows it, plus its quotas.
type subscriptionDoc struct {
	ID             string            `json:"id,omitempty"`
	SubscriptionID string            `json:"subscriptionId,omitempty"`
	DisplayName    string            `json:"displayName,omitempty"`
	State          string            `json:"state,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	// Quotas override the server's default limits for this subscription
	// (every region), by usage name, e.g. {"PublicIPAddresses": 20}.
	Quotas map[string]int64 `json:"quotas,omitempty"`
	Etag   string           `json:"etag,omitempty"`
}

// getSubscription answers any caller whose scope lies in the subscription,
// as listing subscriptions does.
func (s *Server) getSubscription(ctx context.Context, rq *request) (response, error) {
	if !overlaps(rq.principal.Scope, rq.target.id.ID) {
		return response{}, auth.Authorize(rq.principal, auth.Read, rq.target.id.ID)
	}
	r, err := s.st.Get(ctx, rq.target.id.ID)
	if err != nil {
		if store.IsNotFound(err) {
			return response{}, armerror.New(codeSubNotFound, "", "The subscription '%s' could not be found.", rq.target.id.Subscription)
		}
		return response{}, err
	}
	return ok(withEtag(r.Doc, r.Etag))
}

// stageSubscription stages a subscription: its display name, tags and
// quota overrides.
func (s *Server) stageSubscription(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	cur := t.get(id.Key)
	if err := checkCond(cond, id.ID, cur); err != nil {
		return false, err
	}
	body, err := patched(cur, body, patch, func() error {
		return armerror.New(codeSubNotFound, "", "The subscription '%s' could not be found; PATCH changes an existing one, PUT creates one.", id.Subscription)
	})
	if err != nil {
		return false, err
	}
	var d subscriptionDoc
	if err := decodeBody(body, &d); err != nil {
		return false, err
	}
	if d.SubscriptionID != "" && !strings.EqualFold(d.SubscriptionID, id.Subscription) {
		return false, armerror.New(codeInvalidParameter, "subscriptionId", "The subscriptionId %q in the body does not match %q in the URL.", d.SubscriptionID, id.Subscription)
	}
	if d.Quotas, err = canonicalQuotas(d.Quotas); err != nil {
		return false, err
	}
	// Quotas bound what every user of the subscription may create; only an
	// Owner of the whole deployment may move them, as raising an Azure
	// quota is a request to Microsoft, not to the subscription's owner.
	var was subscriptionDoc
	if cur != nil {
		_ = json.Unmarshal(cur.res.Doc, &was)
	}
	if !maps.Equal(was.Quotas, d.Quotas) && !(t.who.Role == auth.Owner && t.who.Scope == "/") {
		return false, armerror.New(codeAuthorization, "quotas",
			"The client '%s' may not change the quotas of subscription '%s': only an Owner of the whole deployment (scope /) may. Ask the deployment's administrator (the admin token's holder).",
			t.who.TokenID, id.Subscription)
	}
	d.ID, d.SubscriptionID, d.State, d.Etag = id.ID, id.Subscription, "Enabled", ""
	if d.DisplayName == "" {
		d.DisplayName = id.Subscription
	}
	b, err := json.Marshal(d)
	if err != nil {
		return false, err
	}
	t.guard(id.ID, false)
	return cur != nil, t.put(id, nil, b, "")
}

// deleteSubscription deletes a subscription that holds nothing but its
// own locks.
func (s *Server) deleteSubscription(ctx context.Context, rq *request) (response, error) {
	return s.deleteStored(ctx, rq, true, func(t *txn, cur *entry) error {
		var inside []string
		t.each(func(e *entry) {
			if strings.EqualFold(e.id.Subscription, cur.id.Subscription) && e.id.Key != cur.id.Key &&
				!(strings.EqualFold(e.id.Type, typeLock) && lower(e.id.Parent) == cur.id.Key) {
				inside = append(inside, e.id.ID)
			}
		})
		if len(inside) == 0 {
			return nil
		}
		slices.Sort(inside)
		return armerror.New(codeSubNotEmpty, "", "The subscription '%s' still holds %d resources (%s); delete its resource groups first.",
			cur.id.Subscription, len(inside), strings.Join(inside[:min(len(inside), 5)], ", "))
	})
}

// listSubscriptions lists the subscriptions the caller can see anything of.
func (s *Server) listSubscriptions(ctx context.Context, rq *request) (response, error) {
	page, err := s.st.List(ctx, store.ListOptions{Type: typeSubscription})
	if err != nil {
		return response{}, err
	}
	out := listPage{Value: []json.RawMessage{}}
	for _, r := range page.Resources {
		if !overlaps(rq.principal.Scope, r.ID) {
			continue
		}
		out.Value = append(out.Value, withEtag(r.Doc, r.Etag))
	}
	return ok(out)
}

// overlaps reports whether one of two scopes contains the other.
func overlaps(a, b string) bool {
	if a == "/" || b == "/" {
		return true
	}
	a, b = lower(a), lower(b)
	return a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

// groupDoc is a resource group as ARM shows it.
type groupDoc struct {
	ID         string            `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Type       string            `json:"type,omitempty"`
	Location   string            `json:"location"`
	ManagedBy  string            `json:"managedBy,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties struct {
		ProvisioningState string `json:"provisioningState,omitempty"`
	} `json:"properties"`
	Etag string `json:"etag,omitempty"`
}

func (s *Server) getResourceGroup(ctx context.Context, rq *request) (response, error) {
	r, err := s.st.Get(ctx, rq.target.id.ID)
	if err != nil {
		if store.IsNotFound(err) {
			return response{}, armerror.New(codeGroupNotFound, "", "Resource group '%s' could not be found.", rq.target.id.ResourceGroup)
		}
		return response{}, err
	}
	return ok(withEtag(r.Doc, r.Etag))
}

// stageGroup stages a resource group; its location is fixed once created.
func (s *Server) stageGroup(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	id = t.canonical(id)
	cur := t.get(id.Key)
	if err := checkCond(cond, id.ID, cur); err != nil {
		return false, err
	}
	body, err := patched(cur, body, patch, func() error {
		return armerror.New(codeGroupNotFound, "", "Resource group '%s' could not be found; PATCH changes an existing group, PUT creates one.", id.ResourceGroup)
	})
	if err != nil {
		return false, err
	}
	var d groupDoc
	if err := decodeBody(body, &d); err != nil {
		return false, err
	}
	if err := checkName(id, d.Name, d.Type); err != nil {
		return false, err
	}
	if err := checkGroupName(id.ResourceGroup); err != nil {
		return false, err
	}
	if err := t.checkParents(id); err != nil {
		return false, err
	}
	d.Location = normLocation(d.Location)
	if d.Location == "" {
		return false, armerror.New(codeLocationRequired, "location", "The location property is required for a resource group, e.g. \"location\": \"eastus\".")
	}
	if cur != nil && cur.loc != d.Location {
		return false, armerror.New("InvalidResourceGroupLocation", "location", "Invalid resource group location '%s'. The Resource group already exists in location '%s'.", d.Location, cur.loc)
	}
	d.ID, d.Name, d.Type, d.Etag = id.ID, id.ResourceGroup, typeResourceGroup, ""
	d.Properties.ProvisioningState = succeeded
	b, err := json.Marshal(d)
	if err != nil {
		return false, err
	}
	t.guard(id.ID, false)
	return cur != nil, t.put(id, nil, b, d.Location)
}

// checkGroupName applies ARM's rule: 1-90 characters, letters, digits,
// underscores, parentheses, hyphens and periods, not ending in a period.
func checkGroupName(name string) error {
	bad := len(name) == 0 || len(name) > 90 || strings.HasSuffix(name, ".")
	for _, r := range name {
		if !(r == '_' || r == '(' || r == ')' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			bad = true
		}
	}
	if bad {
		return armerror.New("InvalidResourceGroup", "name", "The resource group name %q is invalid: use 1-90 letters, digits, underscores, parentheses, hyphens and periods, not ending in a period.", name)
	}
	return nil
}

func (s *Server) listResourceGroups(ctx context.Context, rq *request) (response, error) {
	return s.listStored(ctx, rq, store.ListOptions{Subscription: rq.target.id.Subscription, Type: typeResourceGroup})
}

// ensureDefaultSubscription creates the default subscription in an empty
// deployment.
func (s *Server) ensureDefaultSubscription(ctx context.Context) error {
	for _, e := range s.world.byKey {
		if e.id.Type == typeSubscription {
			return nil
		}
	}
	id, _ := store.ParseID("/subscriptions/" + DefaultSubscription)
	b, _ := json.Marshal(subscriptionDoc{ID: id.ID, SubscriptionID: DefaultSubscription, DisplayName: "default", State: "Enabled"})
	return s.write(ctx, auth.Principal{TokenID: "vnetml", Role: auth.Owner, Scope: "/"}, func(t *txn) error {
		return t.put(id, nil, b, "")
	})
}
