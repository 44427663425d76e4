// Package apiserver owns vnetml's management API (DESIGN.md §2, §8): the
// ARM-shaped REST surface over the store — subscriptions, resource groups,
// the Microsoft.Network resources of the model with their child resources,
// Microsoft.Authorization/locks, per-subscription quotas — and live Network
// Watcher answers from a flow engine compiled from what is stored.
//
// Writes are serialized by one mutex and checked in full before they reach
// the store: authorization, locks (ScopeLocked), quotas (QuotaExceeded),
// referential integrity (InUse…CannotBeDeleted) and the model's validation,
// with every error reported at once. Each committed write publishes an
// immutable view of the network; a compiler goroutine turns the newest view
// into a flow engine and swaps it in with an atomic pointer, so Network
// Watcher queries never take a lock, never block writers and never see a
// half-applied change. A write returns once the engine reflects it, so a
// client that changed a rule and then asks why a flow is denied gets the
// answer for the rule it wrote.
//
// Handlers return (any, error); one wrapper turns errors into Azure's
// {"error": {...}} shape and status codes (http.go).
package apiserver
