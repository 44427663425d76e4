package inference

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// replicaConn is one of the front end's kept-alive connections to a
// replica, used by one call at a time.
type replicaConn struct {
	net.Conn
	pod       netip.Addr
	br        *bufio.Reader // reads through lr
	lr        limitReader
	bw        *bufio.Writer
	idleSince time.Time
	pool      *replicaPool
}

// requestOnly are the caller's headers that stop at the front end besides
// the hop-by-hop ones: the key is the front end's business, and it
// answered Expect itself.
var requestOnly = map[string]bool{"Authorization": true, "Expect": true}

// send writes req to the replica: its line in origin form, Host, the
// headers that travel on, then n bytes of body (Content-Length), or the
// body in chunks when n < 0.
func (rc *replicaConn) send(req *http.Request, body io.Reader, n int64) error {
	bw := rc.bw
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(req.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if req.Host != "" {
		bw.WriteString(req.Host)
	} else {
		bw.WriteString(netip.AddrPortFrom(rc.pod, ReplicaPort).String())
	}
	bw.WriteString("\r\n")
	writeHeaders(bw, req.Header, requestOnly)
	switch {
	case n < 0:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case n > 0 || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(n, 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	if n < 0 {
		cw := httputil.NewChunkedWriter(bw)
		if _, err := io.Copy(cw, body); err != nil {
			return err
		}
		cw.Close()
		bw.WriteString("\r\n") // no trailers
	} else if m, err := io.Copy(bw, body); err != nil {
		return err
	} else if m != n {
		return io.ErrUnexpectedEOF
	}
	return bw.Flush()
}

// Bounds of a replica's answer head: a replica runs the user's code, and
// the front end must not hold whatever it sends.
const (
	// maxAnswerHeadBytes bounds the head of an answer, interim ones
	// included.
	maxAnswerHeadBytes = 1 << 20
	// maxInterimAnswers bounds the interim (1xx) answers before the
	// final one.
	maxInterimAnswers = 8
)

// receive reads the head of the replica's answer to req. Interim answers
// (1xx) are dropped: the front end answered Expect itself.
func (rc *replicaConn) receive(req *http.Request) (*http.Response, error) {
	rc.lr.left, rc.lr.hit = maxAnswerHeadBytes-int64(rc.br.Buffered()), false
	defer func() { rc.lr.left = -1 }()
	for range maxInterimAnswers + 1 {
		resp, err := http.ReadResponse(rc.br, req)
		switch {
		case rc.lr.hit:
			return nil, fmt.Errorf("the replica's answer has a head over %d bytes", maxAnswerHeadBytes)
		case err != nil:
			return nil, err
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("the replica switched protocols, which a scoring call does not")
		case resp.StatusCode < 200:
			continue
		}
		return resp, nil
	}
	return nil, fmt.Errorf("the replica sent over %d interim (1xx) answers", maxInterimAnswers)
}

// clean reports whether the connection is between two answers: the last
// read to its end, nothing more sent.
func (rc *replicaConn) clean() bool { return rc.br.Buffered() == 0 }

// Close closes the connection and forgets it.
func (rc *replicaConn) Close() error {
	rc.pool.forget(rc)
	return rc.Conn.Close()
}

// replicaPool holds a front end's connections to its replicas: idle ones
// by pod address, the most recently used first, and all of them for
// close.
type replicaPool struct {
	dial func(ctx context.Context, pod netip.Addr) (net.Conn, error)

	mu     sync.Mutex
	idle   map[netip.Addr][]*replicaConn
	all    map[*replicaConn]struct{}
	closed bool
}

func newReplicaPool(dial func(ctx context.Context, pod netip.Addr) (net.Conn, error)) *replicaPool {
	return &replicaPool{dial: dial, idle: map[netip.Addr][]*replicaConn{}, all: map[*replicaConn]struct{}{}}
}

// get returns an idle connection to pod that is still open, or a new one.
func (p *replicaPool) get(ctx context.Context, pod netip.Addr) (*replicaConn, error) {
	now := time.Now()
	for {
		p.mu.Lock()
		list := p.idle[pod]
		if len(list) == 0 {
			break
		}
		rc := list[len(list)-1]
		list[len(list)-1] = nil
		p.idle[pod] = list[:len(list)-1]
		p.mu.Unlock()
		// A replica that restarted, or ended a connection, leaves it
		// closed in the pool: asking the kernel costs one system call,
		// sending a call there costs the call.
		if now.Sub(rc.idleSince) < replicaIdleTimeout && open(rc.Conn) {
			return rc, nil
		}
		rc.Close()
	}
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, net.ErrClosed
	}
	c, err := p.dial(ctx, pod)
	if err != nil {
		return nil, err
	}
	rc := &replicaConn{Conn: c, pod: pod, lr: limitReader{r: c, left: -1}, bw: bufio.NewWriterSize(c, relayBufSize), pool: p}
	rc.br = bufio.NewReaderSize(&rc.lr, relayBufSize)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	p.all[rc] = struct{}{}
	return rc, nil
}

// put returns a connection to the idle ones (or closes it, past
// maxIdlePerReplica).
func (p *replicaPool) put(rc *replicaConn) {
	rc.idleSince = time.Now()
	p.mu.Lock()
	if !p.closed && len(p.idle[rc.pod]) < maxIdlePerReplica {
		p.idle[rc.pod] = append(p.idle[rc.pod], rc)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	rc.Close()
}

func (p *replicaPool) forget(rc *replicaConn) {
	p.mu.Lock()
	delete(p.all, rc)
	p.mu.Unlock()
}

// sweep closes the connections idle since before cutoff.
func (p *replicaPool) sweep(cutoff time.Time) {
	var old []*replicaConn
	p.mu.Lock()
	for pod, list := range p.idle {
		kept := list[:0]
		for _, rc := range list {
			if rc.idleSince.Before(cutoff) {
				old = append(old, rc)
			} else {
				kept = append(kept, rc)
			}
		}
		clear(list[len(kept):])
		if len(kept) == 0 {
			delete(p.idle, pod)
		} else {
			p.idle[pod] = kept
		}
	}
	p.mu.Unlock()
	for _, rc := range old {
		rc.Close()
	}
}

// close closes every connection, idle or in use, and the pool.
func (p *replicaPool) close() {
	p.mu.Lock()
	p.closed = true
	all := p.all
	p.all, p.idle = map[*replicaConn]struct{}{}, map[netip.Addr][]*replicaConn{}
	p.mu.Unlock()
	for rc := range all {
		rc.Conn.Close()
	}
}
