// Package archtest guards vnetml's architecture with tests: the dependency
// direction of DESIGN.md §2 (the flow engine does no I/O; the CLI reaches
// the server only through the client) and a doc comment on every package.
package archtest
