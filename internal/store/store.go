// Package store owns vnetml's durable resource state (DESIGN.md §2, §8):
// every resource as its ARM JSON document under its ARM resource id, with an
// etag for optimistic concurrency and a store-wide revision that orders all
// writes and feeds watchers.
//
// The Store interface is defined here for its users (the API server and the
// controllers); backends live in subpackages named after their technology
// (sqlite), and storetest is the conformance suite every backend passes.
// Errors are armerror.Errors with Azure's codes; decide with IsNotFound,
// IsPreconditionFailed and IsConflict, never by text.
//
// The store keeps documents byte for byte and never looks inside them: the
// API server merges the etag into the documents it returns and the model
// validates them before they are written.
package store

import (
	"context"
	"encoding/json"
	"errors"
)

// Resource is one stored resource.
type Resource struct {
	// ID is the resource id as first written: ids are case-insensitive, and
	// a later write spelled differently keeps the first spelling (until the
	// resource is deleted).
	ID string
	// Type is the ARM resource type derived from ID, e.g.
	// Microsoft.Network/virtualNetworks/subnets.
	Type string
	// Doc is the ARM JSON document, exactly the bytes last written. The
	// caller owns it.
	Doc json.RawMessage
	// Etag is an opaque ARM-style weak etag (W/"…") that changes on every
	// write of the resource.
	Etag string
	// Revision is the store-wide revision of the resource's last write (of
	// its deletion, in a Change that deletes it).
	Revision int64
}

// Condition makes a write conditional, as HTTP's If-Match and If-None-Match
// headers do. The zero value writes unconditionally.
type Condition struct {
	// IfMatch, when set, requires the resource to exist with this etag ("*":
	// with any etag); otherwise the write fails with PreconditionFailed.
	IfMatch string
	// IfNoneMatch "*" makes a put create-only: if the resource exists the
	// write fails with Conflict. Any other value fails the write with
	// PreconditionFailed when the resource's current etag equals it.
	IfNoneMatch string
}

// IfMatch returns the condition "the resource still has this etag".
func IfMatch(etag string) Condition { return Condition{IfMatch: etag} }

// CreateOnly returns the condition "the resource does not exist yet".
func CreateOnly() Condition { return Condition{IfNoneMatch: "*"} }

// Op is one write of an Apply: a put of Doc under ID, or a delete.
type Op struct {
	ID     string
	Doc    json.RawMessage // the document to put; must be nil for a delete
	Delete bool
	Cond   Condition
}

// PutOp returns the Op that puts doc under id.
func PutOp(id string, doc json.RawMessage, cond Condition) Op {
	return Op{ID: id, Doc: doc, Cond: cond}
}

// DeleteOp returns the Op that deletes id.
func DeleteOp(id string, cond Condition) Op { return Op{ID: id, Delete: true, Cond: cond} }

// ListOptions selects and pages resources. The zero value lists everything
// in one page. Filters combine with AND; all compare case-insensitively.
//
// Results are ordered by case-folded id. A page ends at the Limit-th
// resource, and its Continuation token resumes strictly after that id, so
// paging through a store that is written to meanwhile returns every
// resource that existed throughout exactly once (in its state when its page
// was read), never returns a resource twice, includes those created after
// the cursor and omits those created before it or deleted before their page
// was read. Each page is a consistent snapshot; the pages together are not.
type ListOptions struct {
	// Subscription and ResourceGroup select by scope; the subscription's and
	// the group's own resources are in their scope.
	Subscription  string
	ResourceGroup string
	Type          string // full ARM type, e.g. Microsoft.Network/virtualNetworks
	// Parent selects the resources under a resource id: its children, their
	// children, and so on (not the parent itself). With Type, the subnets of
	// a virtual network: Parent=vnetID, Type=…/virtualNetworks/subnets.
	Parent string
	// Limit is the page size; 0 means no limit.
	Limit int
	// Continuation is a Page.Next from an earlier call with the same
	// filters; "" starts from the beginning.
	Continuation string
}

// Page is one page of a List.
type Page struct {
	Resources []Resource
	// Next is the continuation token for the next page; "" on the last.
	Next string
	// Revision is the store revision the page was read at: Watch from it to
	// follow every change after the page.
	Revision int64
}

// Event is one committed write transaction (a Put, a Delete or an Apply).
type Event struct {
	Revision int64
	Changes  []Change // in the order written; shared between watchers: do not modify
}

// Change is one resource written by an Event. For a deletion, Resource has
// ID, Type and Revision only.
type Change struct {
	Deleted  bool
	Resource Resource
}

// Store is the durable resource store.
//
// Concurrency: every method is safe for concurrent use. Each Put, Delete and
// Apply is one atomic transaction: it commits entirely, durably, and takes
// the next store-wide revision (one per transaction, strictly increasing
// from 1), or it fails and changes nothing, takes no revision and produces
// no event. Writes are linearizable: a read that starts after a write
// returned sees it. Readers run concurrently with each other and with the
// writer and never see a half-applied transaction.
//
// Conditions are checked inside the transaction, so an If-Match
// read-modify-write loop loses no update however many writers race.
type Store interface {
	// Get returns the resource with the given id (any case).
	Get(ctx context.Context, id string) (Resource, error)
	// List returns one page of the resources that opts selects.
	List(ctx context.Context, opts ListOptions) (Page, error)
	// Put creates or replaces the document under id if cond holds and
	// returns the stored resource (with its new etag and revision).
	Put(ctx context.Context, id string, doc json.RawMessage, cond Condition) (Resource, error)
	// Delete removes the resource if cond holds. A missing resource is
	// ResourceNotFound whatever cond says.
	Delete(ctx context.Context, id string, cond Condition) error
	// Apply runs ops in order in one transaction, each seeing the ones
	// before it, all or nothing, and returns one Resource per op. The
	// error of a failing op carries its index in the message and its id in
	// the target. An empty Apply does nothing and takes no revision.
	Apply(ctx context.Context, ops []Op) ([]Resource, error)
	// Revision returns the revision of the last committed transaction (0 for
	// an empty store).
	Revision(ctx context.Context) (int64, error)
	// Watch delivers, in revision order and each exactly once, every Event
	// committed after fromRevision, until ctx is done or the store closes;
	// then the channel is closed. A watcher that falls too far behind (the
	// backend documents how far) also has its channel closed: when the
	// channel closes while ctx is live, List again and Watch from the
	// page's revision. Watching from a revision the backend no longer
	// remembers fails with RevisionCompacted (IsCompacted).
	Watch(ctx context.Context, fromRevision int64) (<-chan Event, error)
	// Close releases the store; watchers' channels are closed and later
	// calls fail with ErrClosed. Events committed before Close but not yet
	// received may not be delivered: a watcher whose channel closes lists
	// again (after reopening) rather than trusting it saw everything.
	// Close is idempotent.
	Close() error
}

// ErrClosed is returned by every method of a closed Store.
var ErrClosed = errors.New("store: closed")
