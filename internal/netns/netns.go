// Package netns owns entering Linux network namespaces from Go: a Handle
// on a namespace (named, or a process's), and Do, which runs a function on
// an OS thread inside it, so that the sockets it creates belong to that
// namespace for their whole life and the processes it starts are born
// there. The kernel fabric builds its namespaces with it; the node agent's
// spawner reaches agents that run inside one. On other systems every
// namespace is the host's: Open fails and Do is not needed.
package netns

import "errors"

// ErrUnsupported is returned where network namespaces do not exist.
var ErrUnsupported = errors.New("netns: network namespaces are a Linux feature")
