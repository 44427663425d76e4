//go:build linux

package netns

import (
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Handle is an open network namespace.
type Handle struct {
	name string
	fd   int
}

// Open opens the namespace at path: a bind mount under /run/netns, or
// /proc/<pid>/ns/net.
func Open(path string) (*Handle, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netns: opening %s: %w", path, err)
	}
	return &Handle{name: path, fd: fd}, nil
}

// OfProcess opens the network namespace of a process.
func OfProcess(pid int) (*Handle, error) { return Open(fmt.Sprintf("/proc/%d/ns/net", pid)) }

// Name is the path the handle was opened with.
func (h *Handle) Name() string { return h.name }

// Close closes the handle (the namespace lives on while anything uses it).
func (h *Handle) Close() error { return unix.Close(h.fd) }

// IsCurrent reports whether h is the namespace of the calling process.
func (h *Handle) IsCurrent() bool {
	var a, b unix.Stat_t
	if unix.Fstat(h.fd, &a) != nil || unix.Stat("/proc/self/ns/net", &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// Do runs fn on an OS thread that has entered h: sockets fn creates
// belong to h for their whole life, and processes it starts are born in
// h. The thread returns to the process's namespace afterwards; a thread
// that cannot is never reused (it stays locked and exits with its
// goroutine).
func (h *Handle) Do(fn func() error) error {
	errc := make(chan error, 1)
	self, err := home()
	if err != nil {
		return err
	}
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(h.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: entering %s: %w", h.name, err)
			return
		}
		err = fn()
		if unix.Setns(self, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// home is the network namespace the process started in, where every
// thread Do borrows goes back to; it is opened once.
var home = sync.OnceValues(func() (int, error) {
	fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("netns: opening this process's network namespace: %w", err)
	}
	return fd, nil
})

// Enter moves the calling thread into h for good: the caller must have
// locked its goroutine to the thread (runtime.LockOSThread) and must never
// unlock it, so that the thread ends with the goroutine. What the thread
// starts from then on (os/exec) is born in h.
func (h *Handle) Enter() error {
	if err := unix.Setns(h.fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("netns: entering %s: %w", h.name, err)
	}
	return nil
}
