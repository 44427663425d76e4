//go:build linux

package nflog

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite testdata/captured from the kernel (needs root and nft)")

// group is the NFLOG group of the test ruleset.
const group = 5

// ruleset is loaded in each test's namespace: every rule logs to group 5,
// most of them output packets that they then drop, so that sending one
// logs one message and goes no further.
const ruleset = `
table ip t {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp dport 9 log prefix "vml:test" group 5 drop
		udp dport 10 log prefix "vml:udp" group 5 drop
		udp dport 11 log prefix "vml:batch" group 5 drop
		udp dport 13 log prefix "vml:snap" group 5 snaplen 20 drop
		icmp type echo-request log prefix "vml:icmp" group 5 drop
	}
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		ip daddr 127.0.0.2 log prefix "vml:frag" group 5
	}
}
table ip6 t6 {
	chain out {
		type filter hook output priority 0; policy accept;
		udp dport 10 log prefix "vml:v6" group 5 drop
	}
}
`

// readTimeout bounds every wait for the kernel; a message normally
// arrives within microseconds.
const readTimeout = 10 * time.Second

// needKernel skips the test unless it can create network namespaces and
// load rules, and returns the path of nft.
func needKernel(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace, loads nftables rules and binds an NFLOG group")
	}
	nft, err := exec.LookPath("nft")
	if err != nil {
		nft = "/usr/sbin/nft" // often outside a non-login PATH
		if _, err := os.Stat(nft); err != nil {
			t.Skip("needs the nft binary (nftables) to load the logging rules")
		}
	}
	return nft
}

// netns is a fresh network namespace, entered by one OS thread that runs
// the functions given to do and start. The host's namespace is never
// touched: the thread leaves it for good and ends with the test.
type netns struct {
	fns  chan func()
	done chan struct{}
}

// newNetns creates a namespace with lo up and the test ruleset loaded.
func newNetns(t *testing.T, nft string) *netns {
	t.Helper()
	ns := &netns{fns: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(ns.done)
		// Never unlocked: when this goroutine exits the runtime ends the
		// thread instead of reusing it in the wrong namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for fn := range ns.fns {
			fn()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("unshare(CLONE_NEWNET): %v", err)
	}
	t.Cleanup(func() {
		close(ns.fns)
		<-ns.done
	})
	if err := ns.do(func() error { return setLink("lo", 0) }); err != nil {
		t.Fatal(err)
	}
	// Children forked from the locked thread inherit its namespace.
	if err := ns.do(func() error { return run(nft, ruleset, "-f", "-") }); err != nil {
		t.Fatal(err)
	}
	return ns
}

// do runs fn in the namespace and returns its error.
func (ns *netns) do(fn func() error) error { return <-ns.start(fn) }

// start runs fn in the namespace; its error arrives on the channel.
func (ns *netns) start(fn func() error) <-chan error {
	c := make(chan error, 1)
	ns.fns <- func() { c <- fn() }
	return c
}

// open opens a Reader of group in ns, closed when the test ends.
func (ns *netns) open(t *testing.T) *Reader {
	t.Helper()
	var r *Reader
	if err := ns.do(func() (err error) { r, err = Open(group); return err }); err != nil {
		t.Fatalf("Open(%d): %v", group, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func run(name, stdin string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// setLink brings interface name up, first setting its MTU if mtu is not 0.
func setLink(name string, mtu uint32) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if mtu != 0 {
		ifr.SetUint32(mtu)
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFMTU, ifr); err != nil {
			return fmt.Errorf("set MTU of %s: %w", name, err)
		}
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// loIndex is the interface index of lo in the calling thread's namespace.
func loIndex() (uint32, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return ifr.Uint32(), nil
}

// sockaddr is dst as a socket address.
func sockaddr(dst netip.AddrPort) unix.Sockaddr {
	if dst.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(dst.Port()), Addr: dst.Addr().As16()}
}

// dropped is err, unless it is the EPERM of a packet dropped by the
// output chain (after it was logged).
func dropped(err error) error {
	if errors.Is(err, unix.EPERM) {
		return nil
	}
	return err
}

// sendUDP sends a datagram of size bytes to dst, after setup (if any) has
// set options on the socket.
func sendUDP(dst netip.AddrPort, size int, setup func(fd int) error) error {
	family := unix.AF_INET
	if dst.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if setup != nil {
		if err := setup(fd); err != nil {
			return err
		}
	}
	return dropped(unix.Sendto(fd, make([]byte, size), 0, sockaddr(dst)))
}

// sendSYN starts a TCP connection to dst and abandons it: connect sends
// the SYN (through the output hook) before it returns.
func sendSYN(dst netip.AddrPort) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sockaddr(dst)); err != unix.EINPROGRESS {
		return fmt.Errorf("connect %s: %v, want EINPROGRESS", dst, err)
	}
	return nil
}

// ping sends an ICMP echo request to dst.
func ping(dst netip.Addr) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// Type 8 (echo request), code 0, checksum of the rest, id 1, sequence 1.
	msg := []byte{8, 0, 0xf7, 0xfd, 0, 1, 0, 1}
	return dropped(unix.Sendto(fd, msg, 0, sockaddr(netip.AddrPortFrom(dst, 0))))
}

// result is what one Read returned.
type result struct {
	pkts []Packet
	err  error
}

// read reads once, failing the test if nothing arrives in time (the
// cleanup's Close then ends the Read).
func read(t *testing.T, r *Reader) result {
	t.Helper()
	c := make(chan result, 1)
	go func() {
		pkts, err := r.Read()
		c <- result{pkts, err}
	}()
	select {
	case res := <-c:
		return res
	case <-time.After(readTimeout):
		t.Fatalf("nothing logged within %v", readTimeout)
		return result{}
	}
}

// readPackets reads packets, failing the test on an error.
func readPackets(t *testing.T, r *Reader) []Packet {
	t.Helper()
	res := read(t, r)
	if res.err != nil {
		t.Fatalf("Read: %v", res.err)
	}
	return res.pkts
}

// readDatagram returns the next datagram as received, unparsed.
func readDatagram(t *testing.T, r *Reader) []byte {
	t.Helper()
	c := make(chan result, 1)
	var b []byte
	go func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		d, err := r.datagram()
		b = append([]byte(nil), d...)
		c <- result{err: err}
	}()
	select {
	case res := <-c:
		if res.err != nil {
			t.Fatalf("receive: %v", res.err)
		}
		return b
	case <-time.After(readTimeout):
		t.Fatalf("nothing logged within %v", readTimeout)
		return nil
	}
}

// queueEmpty reports whether no datagram waits on the socket.
func queueEmpty(t *testing.T, r *Reader) bool {
	t.Helper()
	var perr error
	err := r.rc.Control(func(fd uintptr) {
		var b [1]byte
		_, _, perr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	})
	if err != nil {
		t.Fatal(err)
	}
	if perr != nil && perr != unix.EAGAIN {
		t.Fatalf("peek: %v", perr)
	}
	return perr == unix.EAGAIN
}

// setQthresh changes the Reader's queue threshold: the kernel then
// batches that many messages per datagram.
func setQthresh(r *Reader, n uint32) error {
	b := make([]byte, nlmsgHdrLen, 32)
	ne.PutUint16(b[4:], nfnlSubsysULOG<<8|nfulnlMsgConfig)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	b = append(b, unix.AF_UNSPEC, unix.NFNETLINK_V0)
	b = be.AppendUint16(b, group)
	b = appendAttr(b, nfulaCfgQthresh, be.AppendUint32(nil, n))
	ne.PutUint32(b[0:], uint32(len(b)))
	var werr error
	err := r.rc.Write(func(fd uintptr) bool {
		werr = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return werr != unix.EAGAIN
	})
	return firstOf(err, werr)
}

var (
	local   = netip.MustParseAddr("127.0.0.1")
	local2  = netip.MustParseAddr("127.0.0.2")
	local6  = netip.MustParseAddr("::1")
	discard = netip.AddrPortFrom(local, 9)
)

// TestReadDroppedSYN is the use the package exists for: a process in a
// namespace dials, a rule logs and drops its SYN, Read returns it.
func TestReadDroppedSYN(t *testing.T) {
	nft := needKernel(t)
	ns := newNetns(t, nft)
	r := ns.open(t)

	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	// Dialled on the namespace's locked thread, so the socket is there.
	dialed := ns.start(func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp4", discard.String())
		if err == nil {
			c.Close()
			return errors.New("dial succeeded through a drop rule")
		}
		return nil
	})
	pkts := readPackets(t, r)
	cancel() // the SYN was logged: stop waiting for an answer that will not come
	if err := <-dialed; err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 1 {
		t.Fatalf("Read returned %d packets, want 1: %+v", len(pkts), pkts)
	}
	p := pkts[0]
	if p.Prefix != "vml:test" || p.Proto != 6 || p.Dst != discard || p.Src.Addr() != local || p.Src.Port() == 0 {
		t.Errorf("packet %+v, want prefix vml:test, TCP 127.0.0.1:* -> %v", p, discard)
	}
	if p.TCPFlags != SYN {
		t.Errorf("TCP flags %#02x, want SYN alone", p.TCPFlags)
	}
	if p.InDev != 0 || p.OutDev == 0 {
		t.Errorf("devices in=%d out=%d, want only an output device (lo)", p.InDev, p.OutDev)
	}
	if n := r.Lost(); n != 0 {
		t.Errorf("Lost() = %d, want 0", n)
	}
}

// TestNamespacesAreSeparate: a group is bound once per namespace, and
// each Reader sees only its own namespace's packets.
func TestNamespacesAreSeparate(t *testing.T) {
	nft := needKernel(t)
	a, b := newNetns(t, nft), newNetns(t, nft)
	ra, rb := a.open(t), b.open(t)

	err := a.do(func() error {
		r, err := Open(group)
		if err == nil {
			r.Close()
		}
		return err
	})
	if !errors.Is(err, unix.EPERM) {
		t.Errorf("second Open(%d) in one namespace: %v, want EPERM", group, err)
	}

	if err := a.do(func() error { return sendSYN(discard) }); err != nil {
		t.Fatal(err)
	}
	if pkts := readPackets(t, ra); len(pkts) != 1 || pkts[0].Prefix != "vml:test" {
		t.Fatalf("reader of a: %+v, want the SYN", pkts)
	}
	// Had a's SYN reached b's reader too, it would be queued first.
	if err := b.do(func() error { return sendUDP(netip.AddrPortFrom(local, 10), 1, nil) }); err != nil {
		t.Fatal(err)
	}
	if pkts := readPackets(t, rb); len(pkts) != 1 || pkts[0].Prefix != "vml:udp" {
		t.Fatalf("reader of b: %+v, want only b's datagram", pkts)
	}
}

// TestOverflow overflows the socket: Read reports it once, goes on, and
// Lost counts exactly the messages the kernel dropped.
func TestOverflow(t *testing.T) {
	nft := needKernel(t)
	ns := newNetns(t, nft)
	r := ns.open(t)
	var serr error
	if err := r.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 0) // the minimum
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	const burst = 200
	if err := ns.do(func() error {
		for range burst {
			if err := sendUDP(netip.AddrPortFrom(local, 10), 1, nil); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if res := read(t, r); !errors.Is(res.err, ErrOverflow) {
		t.Fatalf("Read after a burst of %d: %v, want ErrOverflow", burst, res.err)
	}
	received := 0
	for !queueEmpty(t, r) {
		received += len(readPackets(t, r))
	}
	if received == 0 || received >= burst {
		t.Fatalf("received %d of a burst of %d, want some but not all", received, burst)
	}
	// The queue read dry, the kernel delivers again.
	if err := ns.do(func() error { return sendSYN(discard) }); err != nil {
		t.Fatal(err)
	}
	if pkts := readPackets(t, r); len(pkts) != 1 || pkts[0].Prefix != "vml:test" {
		t.Fatalf("after the overflow: %+v, want the SYN", pkts)
	}
	if got, want := r.Lost(), uint64(burst-received); got != want {
		t.Errorf("Lost() = %d, want %d (%d sent, %d received)", got, want, burst, received)
	}
}

// TestCloseUnblocksRead: Close ends a blocked Read, and later ones.
func TestCloseUnblocksRead(t *testing.T) {
	nft := needKernel(t)
	ns := newNetns(t, nft)
	r := ns.open(t)
	c := make(chan error, 1)
	go func() {
		_, err := r.Read()
		c <- err
	}()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("blocked Read after Close: %v, want ErrClosed", err)
		}
	case <-time.After(readTimeout):
		t.Fatal("Close did not unblock Read")
	}
	if _, err := r.Read(); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Closing released the group: it can be bound again.
	ns.open(t)
}

// TestKernelCaptures checks what Read makes of real kernel messages, one
// kind each, and with -update saves them (testdata/captured) as seeds and
// golden cases for the parser tests, which run anywhere.
func TestKernelCaptures(t *testing.T) {
	nft := needKernel(t)
	ns := newNetns(t, nft)
	r := ns.open(t)
	var lo uint32
	if err := ns.do(func() (err error) { lo, err = loIndex(); return err }); err != nil {
		t.Fatal(err)
	}
	udp := func(dst netip.AddrPort) func() error {
		return func() error { return sendUDP(dst, 1, nil) }
	}
	for _, tc := range []struct {
		name string
		// send makes the kernel log, in the namespace.
		send func() error
		// datagrams is how many datagrams to capture.
		datagrams int
		// want is what each holds (Src ports are checked non-zero, then
		// ignored).
		want [][]Packet
	}{{
		name:      "tcp-syn",
		send:      func() error { return sendSYN(discard) },
		datagrams: 1,
		want:      [][]Packet{{{Prefix: "vml:test", Proto: 6, Dst: discard, OutDev: lo, TCPFlags: SYN}}},
	}, {
		name: "udp-ip-options",
		send: func() error {
			return sendUDP(netip.AddrPortFrom(local, 10), 1, func(fd int) error {
				// Three no-ops and an end of list: IHL 6.
				return unix.SetsockoptString(fd, unix.IPPROTO_IP, unix.IP_OPTIONS, "\x01\x01\x01\x00")
			})
		},
		datagrams: 1,
		want:      [][]Packet{{{Prefix: "vml:udp", Proto: 17, Dst: netip.AddrPortFrom(local, 10), OutDev: lo}}},
	}, {
		name:      "icmp-echo",
		send:      func() error { return ping(local) },
		datagrams: 1,
		want:      [][]Packet{{{Prefix: "vml:icmp", Proto: 1, Dst: netip.AddrPortFrom(local, 0), OutDev: lo}}},
	}, {
		name:      "snaplen",
		send:      udp(netip.AddrPortFrom(local, 13)),
		datagrams: 1,
		// The rule copies 20 bytes: the IP header, no ports.
		want: [][]Packet{{{Prefix: "vml:snap", Proto: 17, Dst: netip.AddrPortFrom(local, 0), OutDev: lo}}},
	}, {
		name: "batch",
		send: func() error {
			if err := setQthresh(r, 3); err != nil {
				return err
			}
			for range 3 {
				if err := sendUDP(netip.AddrPortFrom(local, 11), 1, nil); err != nil {
					return err
				}
			}
			return setQthresh(r, qthresh)
		},
		datagrams: 1,
		want: [][]Packet{{
			{Prefix: "vml:batch", Proto: 17, Dst: netip.AddrPortFrom(local, 11), OutDev: lo},
			{Prefix: "vml:batch", Proto: 17, Dst: netip.AddrPortFrom(local, 11), OutDev: lo},
			{Prefix: "vml:batch", Proto: 17, Dst: netip.AddrPortFrom(local, 11), OutDev: lo},
		}},
	}, {
		name:      "ipv6",
		send:      udp(netip.AddrPortFrom(local6, 10)),
		datagrams: 1,
		want:      [][]Packet{nil}, // logged, and skipped
	}, {
		name: "fragments",
		send: func() error {
			if err := setLink("lo", 1280); err != nil {
				return err
			}
			return sendUDP(netip.AddrPortFrom(local2, 12), 2000, func(fd int) error {
				return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
			})
		},
		datagrams: 2,
		// Seen in prerouting, before reassembly: only the first
		// fragment has the UDP header.
		want: [][]Packet{
			{{Prefix: "vml:frag", Proto: 17, Dst: netip.AddrPortFrom(local2, 12), InDev: lo}},
			{{Prefix: "vml:frag", Proto: 17, Src: netip.AddrPortFrom(local, 0), Dst: netip.AddrPortFrom(local2, 0), InDev: lo}},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ns.do(tc.send); err != nil {
				t.Fatal(err)
			}
			var raw []byte
			var golden strings.Builder
			for i := range tc.datagrams {
				d := readDatagram(t, r)
				raw = append(raw, d...)
				pkts, err := Parse(d)
				if err != nil {
					t.Fatalf("datagram %d: %v", i, err)
				}
				golden.WriteString(render(pkts, err))
				want := tc.want[i]
				// One message per datagram, as Open asks (a threshold of
				// one); a batch ends with NLMSG_DONE.
				w := max(1, len(want))
				if w > 1 {
					w++
				}
				if n := messages(d); n != w {
					t.Errorf("datagram %d holds %d netlink messages, want %d", i, n, w)
				}
				if len(pkts) != len(want) {
					t.Fatalf("datagram %d: %d packets, want %d: %+v", i, len(pkts), len(want), pkts)
				}
				for j, p := range pkts {
					if !want[j].Src.IsValid() {
						// The source port is the kernel's choice: check that
						// it is there when ports are, then ignore it.
						if p.Src.Addr() != local || (p.Src.Port() != 0) != (want[j].Dst.Port() != 0) {
							t.Errorf("datagram %d packet %d: source %v, want 127.0.0.1 with a port iff the destination has one", i, j, p.Src)
						}
						p.Src = netip.AddrPort{}
					}
					if p != want[j] {
						t.Errorf("datagram %d packet %d:\n got %+v\nwant %+v", i, j, p, want[j])
					}
				}
			}
			if *update {
				writeCapture(t, tc.name, raw, golden.String())
			}
		})
	}
}

// messages counts the netlink messages in a datagram.
func messages(b []byte) int {
	n := 0
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b))
		if l < nlmsgHdrLen || l > len(b) {
			break
		}
		n++
		b = b[min(align4(l), len(b)):]
	}
	return n
}

// writeCapture saves a capture as hex and its parse as golden text.
func writeCapture(t *testing.T, name string, raw []byte, golden string) {
	t.Helper()
	dir := filepath.Join("testdata", "captured")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var hex strings.Builder
	fmt.Fprintf(&hex, "# %s: netlink datagrams from nfnetlink_log, as received on little-endian amd64 (see TestKernelCaptures)\n", name)
	for len(raw) > 0 {
		n := min(16, len(raw))
		fmt.Fprintf(&hex, "%x\n", raw[:n])
		raw = raw[n:]
	}
	if err := os.WriteFile(filepath.Join(dir, name+".hex"), []byte(hex.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".golden"), []byte(golden), 0o644); err != nil {
		t.Fatal(err)
	}
}
