//go:build !linux

package inference

import "net"

// open cannot peek at a connection here: an idle one is taken as open.
func open(net.Conn) bool { return true }
