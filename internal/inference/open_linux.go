//go:build linux

package inference

import (
	"net"
	"syscall"
)

// open reports whether an idle connection is still open with nothing to
// read: one non-blocking peek at it. A connection that cannot tell (not a
// socket) is taken as open.
func open(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	ok = true
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: open and quiet. 0 bytes: the replica closed it. A
		// byte: the replica said something unasked, so the connection
		// is not between two answers.
		ok = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return ok && err == nil
}
