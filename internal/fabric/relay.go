package fabric

import (
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
)

// Relay serves an exposed port: every connection ln accepts is spliced to
// a connection dial makes, until the returned Closer is closed (which also
// ends the connections it is carrying). It is how implementations build
// Expose on their Listen.
func Relay(ln net.Listener, dial func() (net.Conn, error), log *slog.Logger) Closer {
	x := &relay{ln: ln, conns: map[net.Conn]struct{}{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go x.serve(c, dial, log)
		}
	}()
	return x
}

// relay is a virtual port served by forwarding to a real one.
type relay struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (x *relay) serve(c net.Conn, dial func() (net.Conn, error), log *slog.Logger) {
	defer c.Close()
	t, err := dial()
	if err != nil {
		log.Warn("fabric: exposed endpoint does not answer", "virtual", x.ln.Addr(), "error", err)
		return
	}
	defer t.Close()
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return
	}
	x.conns[c], x.conns[t] = struct{}{}, struct{}{}
	x.mu.Unlock()
	Splice(c, t)
	x.mu.Lock()
	delete(x.conns, c)
	delete(x.conns, t)
	x.mu.Unlock()
}

func (x *relay) Close() error {
	err := x.ln.Close()
	x.mu.Lock()
	x.closed = true
	for c := range x.conns {
		c.Close()
	}
	x.mu.Unlock()
	return err
}

// Splice copies both ways; when one direction ends it half-closes the
// other side, and when a copy fails it closes both.
func Splice(a, b net.Conn) {
	done := make(chan struct{})
	cp := func(dst, src net.Conn) {
		if _, err := io.Copy(dst, src); err != nil {
			a.Close()
			b.Close()
			return
		}
		closeWrite(dst)
	}
	go func() {
		cp(b, a)
		close(done)
	}()
	cp(a, b)
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// InheritedEnv is the environment a confined process gets from the
// server's: PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TZ, TMPDIR, TERM
// and SYSTEMROOT — never its secrets. Command implementations append
// what the process needs.
func InheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if inheritable(k) {
			env = append(env, kv)
		}
	}
	return env
}

func inheritable(k string) bool {
	switch k {
	case "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ", "TMPDIR", "TERM", "SYSTEMROOT":
		return true
	}
	return strings.HasPrefix(k, "LC_")
}
