// Package manifest owns the manifest format of `vnetml apply -f FILE`:
// concise YAML (or JSON, which is YAML) that expands to ARM resources, in
// the order they can be applied.
//
// A manifest names resource groups and, in each, the network resources of
// internal/network written flat (a rule's "source" instead of
// properties.sourceAddressPrefix), with references by name; Parse expands it
// to the ARM JSON documents the API takes, with full ids. ARM resources can
// also be given verbatim, inside a manifest or as the whole file (one
// resource, an array, or a list response {"value": [...]}), so that what
// `az ... show -o json` prints can be applied unchanged.
//
// Parse checks the shape only: field names, value types, required fields,
// duplicate names and references. What values mean (prefixes, priorities,
// port ranges) is the server's model validation's business. Every error of
// a file is reported at once, each at its file:line:col, with the fix.
//
// The format is documented for users in docs/manifest.md.
package manifest
