package inference

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Review tests of the relay as it was first committed (22d62a5; the line
// numbers below are that commit's): each failed on it and passes since its
// fix. Those that compare run the reference (oracle_test.go) too, which
// shows what the old front end did. None sleeps: they wait on reads with
// deadlines.

// reviewWait bounds how long a test waits for something the fixed front
// end does at once.
const reviewWait = 10 * time.Second

// takeOverReplica stops the mirror replica id and serves its loopback
// port (the exposure's target) with serve instead, one goroutine a
// connection the front end opens to it. Everything is closed at cleanup.
func takeOverReplica(t *testing.T, e *testEnv, id string, serve func(net.Conn)) {
	t.Helper()
	port, _ := e.nodes.replicaPort(id)
	mirrorMu.Lock()
	srv := mirrorServers[port]
	mirrorMu.Unlock()
	if srv == nil {
		t.Fatalf("replica %s is not a mirror replica", id)
	}
	srv.Close()
	// Closing a listener releases its port once the goroutine blocked in
	// its Accept lets go of the socket: until then, binding it fails.
	var ln net.Listener
	for deadline := time.Now().Add(reviewWait); ; runtime.Gosched() {
		var err error
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("taking over replica %s's port %d: %v", id, port, err)
		}
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// expectEnd reads c until the front end ends the connection: io.EOF (or a
// reset) within reviewWait passes; a read timeout means the front end
// still holds the connection open.
func expectEnd(t *testing.T, br *bufio.Reader, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(reviewWait))
	_, err := io.Copy(io.Discard, br)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		return // EOF (Copy's nil) or a reset: ended
	}
	t.Fatalf("%s: the front end answered with Connection: close but kept the connection open for %v more (it is still reading the refused body)", what, reviewWait)
}

// TestReviewRelayRefusedBodyEndsConnection: once the front end has given
// its own final answer with Connection: close to a call whose body it will
// not pass on, it must stop reading the caller. In 22d62a5, exchange's
// deferred req.Body.Close() (relay.go:257) reads the rest of the body to its
// end — http.ReadRequest's body drains fully on Close — with no read
// deadline: an unauthenticated caller can declare any length (or send
// chunks forever) and hold the goroutine and the connection as long as it
// likes, and the service's body limit does not bound what the front end
// reads. net/http's server closed these connections after the answer.
// 7ed04c7 fixed it (the body is never closed); this also covers a chunked
// body past the limit, which TestRelayRefusalDoesNotReadTheBody does not.
func TestReviewRelayRefusedBodyEndsConnection(t *testing.T) {
	e, _ := diffEnv(t)

	t.Run("unauthenticated, Content-Length past what the front end reads away", func(t *testing.T) {
		c := e.dialFront(t)
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		head := "POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n"
		// More than maxDiscard, so the front end gives up on the body.
		body := bytes.Repeat([]byte("a"), maxDiscard+64<<10)
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			c.Write(append([]byte(head), body...))
		}()
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
			t.Fatalf("got %d (close %v); want 401 with Connection: close", resp.StatusCode, resp.Close)
		}
		expectEnd(t, br, c, "a 401 to a call with a large body")
		c.Close()
		<-wrote
	})

	t.Run("chunked body past the service's limit", func(t *testing.T) {
		c := e.dialFront(t)
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		// One chunk of 1024 bytes (diffLimit is 200), and no last chunk.
		req := "POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + diffKey +
			"\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + strings.Repeat("b", 1024) + "\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
			t.Fatalf("got %d (close %v); want 413 with Connection: close", resp.StatusCode, resp.Close)
		}
		expectEnd(t, br, c, "a 413 to a chunked body past the limit")
	})
}

// reviewFront is a front end a review test runs against: the reference
// (net/http's server and ReverseProxy with the same route, oracle_test.go),
// which shows what the old front end did, and the relay.
type reviewFront struct {
	name string
	dial func(t *testing.T) net.Conn
}

func reviewFronts(t *testing.T, e *testEnv, f *front) []reviewFront {
	ref := serveReference(t, f)
	return []reviewFront{
		{"reference", func(t *testing.T) net.Conn {
			c, err := net.Dial("tcp", ref)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"relay", func(t *testing.T) net.Conn { return e.dialFront(t) }},
	}
}

// TestReviewRelayReplicaHeadBounded: the head of a replica's answer is read
// with no bound (replicaconn.go:77, http.ReadResponse on the pooled
// connection; 1xx heads are skipped in a loop with no bound either): a
// replica — the user's scoring code — that sends an endless head makes the
// server process buffer all of it, and the front end then relays it to the
// caller. net/http's Transport stopped at MaxResponseHeaderBytes (10 MB by
// default, 1xx heads included) and the old front end answered 502.
func TestReviewRelayReplicaHeadBounded(t *testing.T) {
	e, f := diffEnv(t)
	const headBytes = 12 << 20
	takeOverReplica(t, e, "diff-0", func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		bw := bufio.NewWriterSize(c, 64<<10)
		bw.WriteString("HTTP/1.1 200 OK\r\n")
		pad := strings.Repeat("p", 8<<10)
		for i := 0; i*len(pad) < headBytes; i++ {
			if _, err := fmt.Fprintf(bw, "X-Pad-%d: %s\r\n", i, pad); err != nil {
				return // the front end gave up: what a bounded reader does
			}
		}
		bw.WriteString("Content-Length: 2\r\n\r\nok")
		bw.Flush()
	})
	for _, fe := range reviewFronts(t, e, f) {
		t.Run(fe.name, func(t *testing.T) {
			c := fe.dial(t)
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			io.WriteString(c, "POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+diffKey+"\r\nContent-Length: 2\r\n\r\n{}")
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "POST"})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("a replica's %d MiB answer head was read whole and relayed (%d, %d header fields); want 502 past a bound, as net/http's Transport gave",
					headBytes>>20, resp.StatusCode, len(resp.Header))
			}
		})
	}
}

// TestReviewRelayStatusLineFromReplica: relay writes the replica's status
// line text as it came (relay.go:453, resp.Status), and http.ReadResponse
// does not check the reason phrase: a bare CR, NUL or other control bytes
// reach the caller (RFC 9112 §4: reason-phrase is HTAB / SP / VCHAR /
// obs-text). A lenient client that ends lines at a bare CR then reads a
// header the replica injected. The old server wrote its own status line.
func TestReviewRelayStatusLineFromReplica(t *testing.T) {
	e, f := diffEnv(t)
	takeOverReplica(t, e, "diff-0", func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\rSet-Cookie: injected=1\x00\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	for _, fe := range reviewFronts(t, e, f) {
		t.Run(fe.name, func(t *testing.T) {
			c := fe.dial(t)
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(c, "POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+diffKey+"\r\nContent-Length: 2\r\n\r\n{}")
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range []byte(strings.TrimSuffix(line, "\r\n")) {
				if b < 0x20 && b != '\t' || b == 0x7f {
					t.Fatalf("the caller's status line carries a control byte %#x from the replica: %q", b, line)
				}
			}
		})
	}
}

// TestReviewRelayHTTP10KeepAliveOwnAnswer: an HTTP/1.0 caller that asks
// for keep-alive is kept only when the answer says so (Connection:
// keep-alive); without it the caller takes the connection as ending with
// the answer. relay() says it, but the front end's own answers
// (caller.answer, relay.go:253) do not, while the front end still keeps
// the connection and waits up to frontIdleTimeout for the next request:
// an HTTP/1.0 client (ab -k, say) that reads to the end waits two minutes
// for every own answer (the health check at /, a 401, a 404). net/http's
// server wrote Connection: keep-alive.
func TestReviewRelayHTTP10KeepAliveOwnAnswer(t *testing.T) {
	e, f := diffEnv(t)
	for _, fe := range reviewFronts(t, e, f) {
		t.Run(fe.name, func(t *testing.T) {
			c := fe.dial(t)
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(c)
			ask := func() (*http.Response, error) {
				if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"); err != nil {
					return nil, err
				}
				resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
				if err != nil {
					return nil, err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp, nil
			}
			first, err := ask()
			if err != nil {
				t.Fatal(err)
			}
			if strings.EqualFold(first.Header.Get("Connection"), "keep-alive") {
				return // kept, and said so
			}
			if second, err := ask(); err == nil {
				t.Fatalf("the front end kept an HTTP/1.0 caller's connection (it answered a second request, %d) after an answer without Connection: keep-alive (%q): the caller is told it ends", second.StatusCode, first.Header)
			}
		})
	}
}

// TestReviewRelayCallerHangUpReleasesReplica: a caller that hangs up while
// its call waits on the replica. The old front end saw it (net/http's
// server reads the connection in the background and cancels the request's
// context; ReverseProxy then closes its connection to the replica). The
// relay reads nothing from the caller until the answer is relayed
// (exchange, relay.go:317-322; its only context is the front end's), so
// each abandoned call keeps a replica connection, an in-flight count (the
// autoscaler's signal) and a goroutine until the replica answers: a caller
// can fire calls and hang up at no cost of its own.
func TestReviewRelayCallerHangUpReleasesReplica(t *testing.T) {
	e, f := diffEnv(t)
	got := make(chan struct{}, 1)
	ended := make(chan error, 1)
	takeOverReplica(t, e, "diff-0", func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		got <- struct{}{}
		// Answer nothing; wait for the front end to let the call go.
		c.SetReadDeadline(time.Now().Add(reviewWait))
		_, err = br.ReadByte()
		ended <- err
	})
	for _, fe := range reviewFronts(t, e, f) {
		t.Run(fe.name, func(t *testing.T) {
			c := fe.dial(t)
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(c, "POST /api/v1/service/diff/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+diffKey+"\r\nContent-Length: 2\r\n\r\n{}")
			select {
			case <-got:
			case <-time.After(30 * time.Second):
				t.Fatal("the call never reached the replica")
			}
			c.Close() // the caller hangs up
			err := <-ended
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the caller hung up, but the front end kept its call on the replica's connection for %v more", reviewWait)
			}
		})
	}
}
