package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// txn is one write being prepared: the changes a handler makes against the
// world, checked in full and applied to the store in one transaction by
// commit. It exists only under Server.mu.
type txn struct {
	s     *Server
	ctx   context.Context
	who   auth.Principal
	puts  map[string]*entry // by key: the new version
	dels  map[string]*entry // by key: the version deleted
	order []string          // keys in the order first changed
	// guarded lists what locks must allow: the id the caller addressed
	// (a child's id for a child resource) and whether it is deleted.
	guarded []guard
	// noop reports whether the last put left its resource as it was.
	noop bool
	// labels, in an apply, map the keys the client sent to their places in
	// the request ("resources[3]"); nil for a single request.
	labels map[string]string
	// dryRun checks everything and writes nothing.
	dryRun bool
	// staged are the private addresses taken so far in this transaction
	// by the resources being written, by subnet key (a NIC with a static
	// and a dynamic ip configuration in one subnet).
	staged map[string]map[netip.Addr]bool
	// after run, in order, once the transaction is committed and the
	// engine reflects it (writing a workspace's secrets into its vault);
	// the first error is the write's answer, though it is committed.
	after []func(ctx context.Context) error
}

// afterCommit runs fn once this transaction is committed (never in a dry
// run).
func (t *txn) afterCommit(fn func(ctx context.Context) error) { t.after = append(t.after, fn) }

type guard struct {
	id     string
	delete bool
}

// write runs fn under the write lock and commits what it changed. It
// returns once the change is durable and the engine reflects it.
func (s *Server) write(ctx context.Context, who auth.Principal, fn func(t *txn) error) error {
	return s.writeTxn(ctx, who, false, fn)
}

// writeTxn is write, or with dryRun a check that writes nothing.
func (s *Server) writeTxn(ctx context.Context, who auth.Principal, dryRun bool, fn func(t *txn) error) error {
	t := &txn{s: s, ctx: ctx, who: who, dryRun: dryRun, puts: map[string]*entry{}, dels: map[string]*entry{}}
	var rev int64
	var purge []*entry
	var stopped, fronts []string // computes deleted: their nodes and front ends stop
	var services []string        // web services deleted: their replicas stop
	err := func() error {
		// Unlocked by defer: a stager that panics (a bug) must not leave
		// every later write waiting.
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := fn(t); err != nil {
			return err
		}
		created, deleted := t.servicesChanged()
		if !dryRun {
			// A new storage account or key vault starts empty: whatever a
			// deleted one of its name left is removed before its front end
			// can serve (the engine has not seen it yet).
			for _, e := range created {
				if err := s.purgeData(ctx, e, false); err != nil {
					return err
				}
			}
		}
		purge = deleted
		t.cascadeDeletes()
		stopped, fronts = t.computesDeleted()
		services = t.deletedServices()
		var err error
		rev, err = t.commit()
		return err
	}()
	if err != nil || dryRun {
		return err
	}
	if rev != 0 {
		if err := s.waitEngine(ctx, rev); err != nil {
			return err
		}
	}
	// The replicas first, while their nodes run: they stop and give
	// their pod addresses back.
	for _, id := range services {
		s.retireService(ctx, id)
	}
	for _, id := range fronts {
		s.retireFront(id)
	}
	for _, id := range stopped {
		if err := s.computes.Remove(context.WithoutCancel(ctx), id); err != nil {
			s.log.Warn("stopping the nodes of a deleted compute", "id", id, "error", err)
		}
	}
	for _, e := range purge {
		if err := s.purgeData(ctx, e, true); err != nil {
			return err
		}
	}
	for _, fn := range t.after {
		if err := fn(ctx); err != nil {
			return err
		}
	}
	return nil
}

// get returns the current version of a resource as this transaction sees
// it, or nil.
func (t *txn) get(key string) *entry {
	if e, ok := t.puts[key]; ok {
		return e
	}
	if _, ok := t.dels[key]; ok {
		return nil
	}
	return t.s.world.byKey[key]
}

// each calls fn for every resource this transaction sees, in no order.
func (t *txn) each(fn func(e *entry)) {
	for k, e := range t.s.world.byKey {
		if _, ok := t.puts[k]; ok {
			continue
		}
		if _, ok := t.dels[k]; ok {
			continue
		}
		fn(e)
	}
	for _, e := range t.puts {
		fn(e)
	}
}

// put records a new version of a resource. obj, for the network model's
// kinds, is the prepared model object, and doc is then derived from it.
func (t *txn) put(id store.ID, obj any, doc []byte, loc string) error {
	if obj != nil {
		b, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", id.ID, err)
		}
		doc = b
	}
	cur := t.get(id.Key)
	if cur != nil {
		id.ID = cur.id.ID // ids keep their first spelling
		if bytes.Equal(cur.res.Doc, doc) {
			t.noop = true
			return nil
		}
	}
	t.noop = false
	if _, ok := t.puts[id.Key]; !ok {
		t.order = append(t.order, id.Key)
	}
	delete(t.dels, id.Key)
	t.puts[id.Key] = &entry{id: id, res: store.Resource{ID: id.ID, Type: id.Type, Doc: doc}, obj: obj, loc: normLocation(loc)}
	return nil
}

// del records the deletion of a resource and of everything under it
// (children stored apart, locks on it).
func (t *txn) del(key string) {
	var keys []string
	t.each(func(e *entry) {
		if e.id.Key == key || strings.HasPrefix(e.id.Key, key+"/") {
			keys = append(keys, e.id.Key)
		}
	})
	slices.Sort(keys)
	for _, k := range keys {
		// Something created and deleted in this transaction is simply
		// forgotten: commit writes only keys in puts or dels.
		delete(t.puts, k)
		if base, ok := t.s.world.byKey[k]; ok {
			t.dels[k] = base
			t.order = append(t.order, k)
		}
	}
}

// deleteOwned deletes the resources of ids that exist (skipping "" and
// ids that do not parse), each guarded against locks as a deletion: the
// resources a compute or a cluster owns, in the order given.
func (t *txn) deleteOwned(ids ...string) {
	for _, rid := range ids {
		if rid == "" {
			continue
		}
		k, err := store.ParseID(rid)
		if err != nil {
			continue
		}
		if e := t.get(k.Key); e != nil {
			t.guard(e.id.ID, true)
			t.del(k.Key)
		}
	}
}

// nicsOf returns the ids of the network interfaces tagged as managed by
// owner: a compute's or a cluster's node and front-end interfaces.
func (t *txn) nicsOf(owner string) []string {
	var ids []string
	t.each(func(e *entry) {
		if n, ok := e.obj.(*network.NetworkInterface); ok && strings.EqualFold(n.Tags[tagManagedBy], owner) {
			ids = append(ids, e.id.ID)
		}
	})
	return ids
}

// guard records that locks must allow writing (or deleting) id.
func (t *txn) guard(id string, deleting bool) {
	for i, g := range t.guarded {
		if strings.EqualFold(g.id, id) {
			t.guarded[i].delete = g.delete || deleting
			return
		}
	}
	t.guarded = append(t.guarded, guard{id: id, delete: deleting})
}

// commit checks the transaction and applies it to the store. It returns
// the revision written, 0 when there was nothing to write.
func (t *txn) commit() (int64, error) {
	if len(t.puts) > 0 {
		t.syncPeerings(t.candidate())
		t.guardChildren()
	}
	// Locks refuse a write even when it would change nothing, as ARM does.
	if err := t.checkLocks(); err != nil {
		return 0, err
	}
	if len(t.puts) == 0 && len(t.dels) == 0 {
		return 0, nil
	}
	if err := t.checkQuotas(); err != nil {
		return 0, err
	}
	candidate := t.candidate()
	snap := snapshotOf(candidate)
	refs := referencesOf(snap)
	if err := t.checkInUse(candidate, refs); err != nil {
		return 0, err
	}
	if err := t.validate(snap, refs); err != nil {
		return 0, err
	}
	if t.dryRun {
		return 0, nil
	}
	ops := make([]store.Op, 0, len(t.order))
	var keys []string
	seen := map[string]bool{}
	for _, k := range t.order {
		if seen[k] {
			continue
		}
		seen[k] = true
		base := t.s.world.byKey[k]
		switch {
		case t.puts[k] != nil:
			cond := store.CreateOnly()
			if base != nil {
				cond = store.IfMatch(base.res.Etag)
			}
			ops = append(ops, store.PutOp(t.puts[k].id.ID, t.puts[k].res.Doc, cond))
			keys = append(keys, k)
		case t.dels[k] != nil:
			ops = append(ops, store.DeleteOp(base.id.ID, store.IfMatch(base.res.Etag)))
			keys = append(keys, k)
		}
	}
	if len(ops) == 0 {
		return 0, nil
	}
	res, err := t.s.st.Apply(t.ctx, ops)
	if err != nil {
		return 0, err
	}
	w := t.s.world
	var rev int64
	for i, k := range keys {
		rev = max(rev, res[i].Revision)
		if ops[i].Delete {
			delete(w.byKey, k)
			continue
		}
		e := t.puts[k]
		e.res = res[i]
		w.byKey[k] = e
	}
	if rev == 0 {
		rev, err = t.s.st.Revision(t.ctx)
		if err != nil {
			return 0, err
		}
	}
	t.s.metrics.writes.Add(float64(len(ops)))
	t.s.publish(rev, snap, refs)
	return rev, nil
}

// candidate is the world as it will be after the transaction.
func (t *txn) candidate() map[string]*entry {
	out := make(map[string]*entry, len(t.s.world.byKey)+len(t.puts))
	t.each(func(e *entry) { out[e.id.Key] = e })
	return out
}

// syncPeerings sets each peering's state as Azure reports it:
//
//   - Initiated: the remote network does not peer back (yet);
//   - Connected: it does (and its peering is not Disconnected);
//   - Disconnected: the remote network, or its peering back, went away
//     after the two were connected. A Disconnected peering stays so until
//     it is deleted and created again, even if the remote side peers back.
//
// Networks whose peerings change state are rewritten in this transaction.
func (t *txn) syncPeerings(candidate map[string]*entry) {
	backPeering := func(from *network.VirtualNetwork, remoteID string) (*network.VirtualNetworkPeering, bool) {
		r := candidate[network.Key(remoteID)]
		if r == nil {
			return nil, false
		}
		rv, ok := r.obj.(*network.VirtualNetwork)
		if !ok {
			return nil, false
		}
		for i := range rv.Properties.VirtualNetworkPeerings {
			q := &rv.Properties.VirtualNetworkPeerings[i]
			if q.Properties.RemoteVirtualNetwork != nil && network.SameID(q.Properties.RemoteVirtualNetwork.ID, from.ID) {
				return q, true
			}
		}
		return nil, true
	}
	// A state change on one side can change the other's: iterate until
	// nothing changes (two rounds settle any pair).
	for range 3 {
		settled := true
		keys := make([]string, 0, len(candidate))
		for k, e := range candidate {
			if v, ok := e.obj.(*network.VirtualNetwork); ok && len(v.Properties.VirtualNetworkPeerings) > 0 {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			e := candidate[k]
			v := e.obj.(*network.VirtualNetwork)
			var changed *network.VirtualNetwork
			for i, p := range v.Properties.VirtualNetworkPeerings {
				cur, want := p.Properties.PeeringState, "Disconnected"
				if p.Properties.RemoteVirtualNetwork != nil {
					q, remoteExists := backPeering(v, p.Properties.RemoteVirtualNetwork.ID)
					switch {
					case !remoteExists:
					case cur == "Disconnected":
					case q == nil && cur == "Connected":
					case q == nil:
						want = "Initiated"
					case q.Properties.PeeringState == "Disconnected":
						want = "Initiated"
					default:
						want = "Connected"
					}
				}
				if cur != want {
					if changed == nil {
						changed = clone(v)
					}
					changed.Properties.VirtualNetworkPeerings[i].Properties.PeeringState = want
				}
			}
			if changed != nil {
				settled = false
				_ = t.put(e.id, changed, nil, changed.Location) // a model object always marshals
				candidate[e.id.Key] = t.puts[e.id.Key]
				t.guard(e.id.ID, false) // a locked network's peerings cannot change
			}
		}
		if settled {
			return
		}
	}
}

// guardChildren makes locks apply to the child resources a write of their
// parent changes (a subnet, a rule, a route): a removed child is guarded as
// a delete, and the locks on it go with it; a changed child as a write.
// Without this, a PUT of a network could drop a locked subnet.
func (t *txn) guardChildren() {
	for k, e := range t.puts {
		base := t.s.world.byKey[k]
		kd := t.s.kindOf(e.id.Type)
		if base == nil || e.obj == nil || kd == nil || kd.net == nil {
			continue
		}
		for _, ck := range kd.net.children {
			before := map[string]string{}
			for _, c := range ck.list(base.obj) {
				b, _ := json.Marshal(c)
				before[lower(ck.name(c))] = string(b)
			}
			for _, c := range ck.list(e.obj) {
				n := lower(ck.name(c))
				b, _ := json.Marshal(c)
				if was, ok := before[n]; ok && was != string(b) {
					t.guard(e.id.ID+"/"+ck.segment+"/"+ck.name(c), false)
				}
				delete(before, n)
			}
			for n := range before {
				child := e.id.ID + "/" + ck.segment + "/" + n
				t.guard(child, true)
				t.del(lower(child)) // the locks on it
			}
		}
	}
}

// checkInUse refuses to remove what something that stays refers to: a
// subnet with NICs in it, an attached NSG or route table, a public IP or
// application security group in use.
func (t *txn) checkInUse(candidate map[string]*entry, refs refIndex) error {
	var l armerror.List
	removed := func(id, what, code string) {
		for _, r := range refs.referrers(network.Key(id), false) {
			l.Addf(code, id, "%s %s is in use by %s and cannot be deleted. Remove the reference (or delete %s) first.",
				what, id, r.from, r.from)
		}
	}
	for k, base := range t.s.world.byKey {
		next := candidate[k]
		switch o := base.obj.(type) {
		case *network.VirtualNetwork:
			for _, sn := range o.Properties.Subnets {
				if next == nil || !hasSubnet(next.obj.(*network.VirtualNetwork), sn.Name) {
					for _, r := range refs.referrers(network.Key(sn.ID), false) {
						l.Addf(codeSubnetInUse, sn.ID, "Subnet %s is in use by %s and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet.", sn.Name, r.from)
					}
				}
			}
		case *network.NetworkSecurityGroup:
			if next == nil {
				removed(o.ID, "Network security group", codeNSGInUse)
			}
		case *network.RouteTable:
			if next == nil {
				removed(o.ID, "Route table", codeRouteTableInUse)
			}
		case *network.PublicIPAddress:
			if next == nil {
				removed(o.ID, "Public IP address", codePublicIPInUse)
			}
		case *network.ApplicationSecurityGroup:
			if next == nil {
				removed(o.ID, "Application security group", codeASGInUse)
			}
		case *network.LoadBalancer:
			if next == nil {
				removed(o.ID, "Load balancer", codeLoadBalancerInUse)
			}
		}
	}
	return l.Err()
}

func hasSubnet(v *network.VirtualNetwork, name string) bool {
	return slices.ContainsFunc(v.Properties.Subnets, func(s network.Subnet) bool { return strings.EqualFold(s.Name, name) })
}

// validate runs the model's validation over what the transaction wrote and
// over whatever refers to it (a NIC whose subnet changed).
func (t *txn) validate(snap *network.Snapshot, refs refIndex) error {
	changed := map[string]bool{}
	for k, e := range t.puts {
		if e.obj == nil {
			continue
		}
		changed[k] = true
		for _, r := range refs.referrers(k, true) {
			changed[topLevel(r.from)] = true
		}
	}
	if len(changed) == 0 {
		return nil
	}
	err := snap.ValidateChanged(t.s.tags, func(id string) bool { return changed[topLevel(id)] })
	if err == nil {
		return nil
	}
	e, _ := armerror.As(err)
	// Validation roots targets at the snapshot ("networkSecurityGroups[ml-nsg]");
	// re-root them where the client sent the resource: the request body
	// itself, or its place in an apply.
	roots := map[string]string{}
	for k, p := range t.puts {
		if p.obj == nil {
			continue
		}
		kd := t.s.kinds[lower(p.id.Type)]
		root := kd.net.collection + "[" + kd.net.meta(p.obj).Name + "]"
		label, known := t.label(k)
		if _, dup := roots[root]; dup || !known {
			label = root // two resources of one name, or not the client's: keep the snapshot's root
		}
		roots[root] = label
	}
	return reroot(e, roots)
}

// label says where the client sent the resource with this key: "" for the
// body of a single request, "resources[i]" in an apply. In an apply, false
// for a resource the client did not send (a side effect such as a
// peering's state), whose errors keep the snapshot's root; a single
// request labels every resource "" (it is rarely more than one).
func (t *txn) label(key string) (string, bool) {
	if t.labels == nil {
		return "", true
	}
	l, ok := t.labels[key]
	return l, ok
}

// reroot replaces each target's snapshot root by the label roots gives it.
func reroot(e *armerror.Error, roots map[string]string) *armerror.Error {
	c := *e
	for root, label := range roots {
		rest, ok := strings.CutPrefix(c.Target, root)
		if !ok || rest != "" && rest[0] != '.' && rest[0] != '[' {
			continue
		}
		switch {
		case label == "":
			c.Target = strings.TrimPrefix(rest, ".")
		default:
			c.Target = label + rest
		}
		break
	}
	if len(e.Details) > 0 {
		c.Details = make([]*armerror.Error, len(e.Details))
		for i, d := range e.Details {
			c.Details[i] = reroot(d, roots)
		}
	}
	return &c
}

// topLevel returns the key of the top-level resource an id lies in.
func topLevel(id string) string {
	r, err := network.ParseResourceID(id)
	if err != nil || len(r.Types) <= 1 {
		return network.Key(id)
	}
	return network.Key(network.MakeID(r.Subscription, r.ResourceGroup, r.Provider+"/"+r.Types[0], r.Names[0]))
}
