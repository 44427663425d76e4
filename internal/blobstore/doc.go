// Package blobstore owns the blob data plane of vnetml's storage accounts:
// containers and block blobs kept on disk under one root directory, and an
// http.Handler that speaks the subset of Azure Blob Storage's REST API that
// Azure ML clients (the Azure SDKs, azcopy, the ML datastore) use.
//
// Every write is streamed into a temporary file, fsynced and renamed into
// place, so a reader sees either the old blob or the new one, never a torn or
// partial one, and a crash leaves at most an orphan temporary file that Open
// removes. Blob names are never used as file names: a blob's file is named by
// the SHA-256 of its name, and its properties (name included) travel in a
// trailer inside the same file, so one rename publishes data and properties
// together. See docs/blobstore.md for the layout and the REST subset.
//
// Authentication and the storage firewall are not this package's business:
// Store.Handler takes an authorize hook that sees every Request (account,
// container, blob, operation) before anything is read or written.
//
// A Store is safe for concurrent use. One Store owns its root: two Stores (or
// processes) must not open the same root, since Open clears its temporary
// directory.
package blobstore
