package apiserver

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// Quotas are limits by usage name, per subscription and region (or per
// parent resource for the …Per… names). Spec §10.
type Quotas map[string]int64

// Usage names, as Azure's Microsoft.Network usages API spells them.
const (
	quotaVirtualNetworks = "VirtualNetworks"
	quotaNSGs            = "NetworkSecurityGroups"
	quotaRulesPerNSG     = "SecurityRulesPerNetworkSecurityGroup"
	quotaRouteTables     = "RouteTables"
	quotaRoutesPerTable  = "RoutesPerRouteTable"
	quotaPublicIPs       = "PublicIPAddresses"
	quotaLoadBalancers   = "LoadBalancers"
	quotaNICs            = "NetworkInterfaces"
	quotaASGs            = "ApplicationSecurityGroups"
	quotaSubnetsPerVNet  = "SubnetsPerVirtualNetwork"
	quotaStorageAccounts = "StorageAccounts"
)

// DefaultQuotas returns Azure's default network limits (spec §10; the
// public IP limit is the older per-subscription default of 1,000).
func DefaultQuotas() Quotas {
	return Quotas{
		quotaVirtualNetworks: 1000,
		quotaNSGs:            5000,
		quotaRulesPerNSG:     1000,
		quotaRouteTables:     200,
		quotaRoutesPerTable:  400,
		quotaPublicIPs:       1000,
		quotaLoadBalancers:   1000,
		quotaNICs:            65536,
		quotaASGs:            3000,
		quotaSubnetsPerVNet:  3000,
		quotaStorageAccounts: 250,
	}
}

// QuotaNames lists the usage names in a stable order.
func QuotaNames() []string {
	names := make([]string, 0, len(DefaultQuotas()))
	for n := range DefaultQuotas() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// CanonicalQuotaName returns the usage name spelled as vnetml spells it.
func CanonicalQuotaName(name string) (string, bool) {
	for n := range DefaultQuotas() {
		if strings.EqualFold(n, name) {
			return n, true
		}
	}
	return "", false
}

// canonicalQuotas checks quota overrides and spells their names as vnetml
// does; a name given twice (in two spellings) is an error.
func canonicalQuotas(q map[string]int64) (map[string]int64, error) {
	if len(q) == 0 {
		return nil, nil
	}
	var l armerror.List
	out := map[string]int64{}
	names := make([]string, 0, len(q))
	for n := range q {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		v := q[n]
		c, ok := CanonicalQuotaName(n)
		switch {
		case !ok:
			l.Addf(codeInvalidParameter, "quotas."+n, "%q is not a quota; the quotas are %s.", n, strings.Join(QuotaNames(), ", "))
		case v < 0:
			l.Addf(codeInvalidParameter, "quotas."+n, "A quota is a count, not %d.", v)
		default:
			if _, dup := out[c]; dup {
				l.Addf(codeInvalidParameter, "quotas."+n, "The quota %s is given twice, in two spellings.", c)
			}
			out[c] = v
		}
	}
	return out, l.Err()
}

// limit returns the limit of a usage in a subscription: the
// subscription's override, else the server's.
func (t *txn) limit(subscription, name string) int64 {
	if e := t.get(lower("/subscriptions/" + subscription)); e != nil {
		var d subscriptionDoc
		if json.Unmarshal(e.res.Doc, &d) == nil {
			if v, ok := d.Quotas[name]; ok {
				return v // stored canonical (canonicalQuotas)
			}
		}
	}
	return t.s.quotas[name]
}

// usage counts the resources of a type in a subscription and region.
func (t *txn) usage(typ, subscription, loc string) int64 {
	var n int64
	t.each(func(e *entry) {
		if strings.EqualFold(e.id.Type, typ) && strings.EqualFold(e.id.Subscription, subscription) && e.loc == loc {
			n++
		}
	})
	return n
}

// checkQuotas refuses a transaction that creates a resource beyond its
// subscription's limit in its region, or grows a resource's children
// (rules, routes, subnets) beyond theirs. A limit lowered below the usage
// blocks growth only, never an unrelated update.
func (t *txn) checkQuotas() error {
	var l armerror.List
	counted := map[string]bool{}
	for k, e := range t.puts {
		kd := t.s.kindOf(e.id.Type)
		if kd == nil || kd.net == nil {
			continue
		}
		base := t.s.world.byKey[k]
		if base == nil && kd.net.quota != "" {
			group := kd.net.quota + "|" + lower(e.id.Subscription) + "|" + e.loc
			if !counted[group] {
				counted[group] = true
				used := t.usage(e.id.Type, e.id.Subscription, e.loc)
				before := used - t.created(e.id.Type, e.id.Subscription, e.loc)
				if lim := t.limit(e.id.Subscription, kd.net.quota); used > lim {
					l.Add(quotaError(kd.net.quota, lim, before, used-before, e.id.Subscription, e.loc))
				}
			}
		}
		for _, c := range perParent(e.obj) {
			was := int64(0)
			if base != nil {
				for _, pc := range perParent(base.obj) {
					if pc.name == c.name {
						was = pc.count
					}
				}
			}
			if lim := t.limit(e.id.Subscription, c.name); c.count > lim && c.count > was {
				l.Add(quotaError(c.name, lim, was, c.count-was, e.id.Subscription, e.loc).WithPrefix(e.id.ID))
			}
		}
	}
	return l.Err()
}

// created counts the resources of a type this transaction creates.
func (t *txn) created(typ, subscription, loc string) int64 {
	var n int64
	for k, e := range t.puts {
		if t.s.world.byKey[k] == nil && strings.EqualFold(e.id.Type, typ) && strings.EqualFold(e.id.Subscription, subscription) && e.loc == loc {
			n++
		}
	}
	return n
}

type childCount struct {
	name  string
	count int64
}

// perParent counts the children limited per parent resource.
func perParent(obj any) []childCount {
	switch o := obj.(type) {
	case *network.NetworkSecurityGroup:
		return []childCount{{quotaRulesPerNSG, int64(len(o.Properties.SecurityRules))}}
	case *network.RouteTable:
		return []childCount{{quotaRoutesPerTable, int64(len(o.Properties.Routes))}}
	case *network.VirtualNetwork:
		return []childCount{{quotaSubnetsPerVNet, int64(len(o.Properties.Subnets))}}
	}
	return nil
}

func quotaError(name string, limit, usage, more int64, subscription, loc string) *armerror.Error {
	return armerror.New(codeQuotaExceeded, "",
		"Operation could not be completed as it results in exceeding approved %s quota. Limit: %d, current usage: %d, additional required: %d (subscription %s, region %s). "+
			"Raise the limit for this subscription with a PATCH of /subscriptions/%s setting \"quotas\": {\"%s\": N}, or for every subscription by starting the server with --quota %s=N.",
		name, limit, usage, more, subscription, loc, subscription, name, name)
}

// usageDoc is one entry of the usages API.
type usageDoc struct {
	ID           string    `json:"id"`
	Name         usageName `json:"name"`
	CurrentValue int64     `json:"currentValue"`
	Limit        int64     `json:"limit"`
	Unit         string    `json:"unit"`
}

type usageName struct {
	Value          string `json:"value"`
	LocalizedValue string `json:"localizedValue"`
}

// listUsages answers GET /subscriptions/{s}/providers/Microsoft.Network/
// locations/{location}/usages: every per-region quota with its usage.
func (s *Server) listUsages(ctx context.Context, rq *request) (response, error) {
	id := rq.target.id
	if id.ResourceGroup != "" || !strings.EqualFold(id.Parent, "/subscriptions/"+id.Subscription) {
		return response{}, armerror.New(store.CodeInvalidResourceID, "", "Usages are per subscription and region: /subscriptions/{s}/providers/Microsoft.Network/locations/{region}/usages.")
	}
	if err := auth.Authorize(rq.principal, auth.Read, "/subscriptions/"+id.Subscription); err != nil {
		return response{}, err
	}
	loc := normLocation(lastSegment(id.ID))
	byType := map[string]string{
		quotaVirtualNetworks: network.TypeVirtualNetwork, quotaNSGs: network.TypeNetworkSecurityGroup,
		quotaRouteTables: network.TypeRouteTable, quotaPublicIPs: network.TypePublicIPAddress,
		quotaLoadBalancers: network.TypeLoadBalancer, quotaNICs: network.TypeNetworkInterface,
		quotaASGs: network.TypeApplicationSecurityGrp,
	}
	out := struct {
		Value []usageDoc `json:"value"`
	}{Value: []usageDoc{}}
	s.mu.Lock()
	t := &txn{s: s, ctx: ctx}
	for _, name := range QuotaNames() {
		typ, ok := byType[name]
		if !ok {
			continue
		}
		out.Value = append(out.Value, usageDoc{
			ID:           id.ID + "/usages/" + name,
			Name:         usageName{Value: name, LocalizedValue: name},
			CurrentValue: t.usage(typ, id.Subscription, loc),
			Limit:        t.limit(id.Subscription, name),
			Unit:         "Count",
		})
	}
	s.mu.Unlock()
	return ok(out)
}
