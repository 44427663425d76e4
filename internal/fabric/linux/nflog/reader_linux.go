package nflog

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Configuration the Reader asks of the kernel.
const (
	// copyRange is how much of each packet the kernel copies: enough for
	// an IPv4 header with the most options (60 bytes) and the fixed TCP
	// header (20).
	copyRange = 128
	// flushTimeout, in hundredths of a second, is how long the kernel
	// waits for a batch to fill; with a threshold of one it never waits,
	// so this only bounds the delay should the threshold ever be raised.
	flushTimeout = 1
	// qthresh is the number of messages the kernel batches before sending:
	// one, so that each arrives at once.
	qthresh = 1
	// rcvBuf is the socket receive buffer asked for, to absorb bursts.
	rcvBuf = 1 << 20
	// bufSize holds any datagram: with a threshold of one each holds a
	// single message (copyRange bytes of packet and a few hundred of
	// metadata), and batches are bounded by the instance's netlink buffer
	// (NLMSG_GOODSIZE, at most 8 KiB, which the Reader does not raise).
	bufSize = 64 << 10
	// ackTimeout bounds the wait for the kernel's answer to the bind.
	ackTimeout = 5 * time.Second
	// bindSeq is the sequence number of the bind request.
	bindSeq = 1
)

// Reader receives the packets logged to one NFLOG group in one network
// namespace. Read may be called by one goroutine at a time (concurrent
// calls are serialised); Close and Lost may be called from any goroutine,
// at any time.
type Reader struct {
	f      *os.File // the netlink socket, in the runtime poller
	rc     syscall.RawConn
	closed atomic.Bool
	lost   atomic.Uint64

	mu      sync.Mutex // guards the rest, held by Read
	buf     []byte
	pending [][]byte // datagrams that arrived before the bind was acknowledged
	scratch []Packet
	p       parser
}

// Open binds NFLOG group in the network namespace of the calling thread
// and returns a Reader of the packets logged to it. The caller may have
// locked its OS thread and entered a namespace with setns: the socket
// stays in that namespace afterwards, whatever thread reads it.
//
// It asks for NFULNL_COPY_PACKET of the first 128 bytes of each packet
// (any IPv4 and TCP headers), a queue threshold of one message and a
// flush timeout of 10 ms, and sequence numbers (to count loss). It needs
// CAP_NET_ADMIN in the namespace. A group is bound by one socket per
// namespace: while another holds it, Open fails with an error matching
// unix.EPERM (the kernel's answer, the same as for a missing capability).
func Open(group uint16) (*Reader, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("nflog: netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("nflog: bind netlink socket: %w", err)
	}
	// Beyond net.core.rmem_max only with CAP_NET_ADMIN; a smaller buffer
	// still works, it just overflows sooner.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("nflog:%d", group))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("nflog: %w", err)
	}
	r := &Reader{f: f, rc: rc, buf: make([]byte, bufSize)}
	if err := r.bind(group); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// bind sends the configuration of the group in one request — the kernel
// applies the bind command first, then the rest to the new instance
// (nfulnl_recv_config) — and waits for its acknowledgement.
func (r *Reader) bind(group uint16) error {
	req := configRequest(group, bindSeq)
	var werr error
	err := r.rc.Write(func(fd uintptr) bool {
		werr = unix.Sendto(int(fd), req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return werr != unix.EAGAIN
	})
	if err = firstOf(err, werr); err != nil {
		return fmt.Errorf("nflog: send bind of group %d: %w", group, err)
	}
	if err := r.f.SetReadDeadline(time.Now().Add(ackTimeout)); err != nil {
		return fmt.Errorf("nflog: %w", err)
	}
	defer r.f.SetReadDeadline(time.Time{})
	for {
		b, err := r.recv()
		if errors.Is(err, ErrOverflow) {
			continue // lost packets, not the answer: the seq gap will count them
		}
		if err != nil {
			return fmt.Errorf("nflog: bind group %d: waiting for the kernel: %w", group, err)
		}
		found, err := ackErr(b, bindSeq)
		if !found {
			// Packets logged between the bind and its answer.
			r.pending = append(r.pending, slices.Clone(b))
			continue
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EPERM):
			// nfulnl_recv_config answers EPERM both to a caller without
			// the capability and to a bind of a group that another
			// socket holds.
			return fmt.Errorf("nflog: bind group %d: %w (another socket in this network namespace has bound the group, or the caller lacks CAP_NET_ADMIN there)", group, err)
		}
		return fmt.Errorf("nflog: bind group %d: %w", group, err)
	}
}

// configRequest is the NFULNL_MSG_CONFIG request that binds group and
// configures it.
func configRequest(group uint16, seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen, 64)
	ne.PutUint16(b[4:], nfnlSubsysULOG<<8|nfulnlMsgConfig)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	ne.PutUint32(b[8:], seq)
	// nfgenmsg: the family is unused by the bind; res_id is the group.
	b = append(b, unix.AF_UNSPEC, unix.NFNETLINK_V0)
	b = be.AppendUint16(b, group)
	b = appendAttr(b, nfulaCfgCmd, []byte{nfulnlCfgCmdBind})
	// struct nfulnl_msg_config_mode: __be32 copy_range, u8 copy_mode, u8 pad.
	b = appendAttr(b, nfulaCfgMode, append(be.AppendUint32(nil, copyRange), nfulnlCopyPacket, 0))
	b = appendAttr(b, nfulaCfgTimeout, be.AppendUint32(nil, flushTimeout))
	b = appendAttr(b, nfulaCfgQthresh, be.AppendUint32(nil, qthresh))
	b = appendAttr(b, nfulaCfgFlags, be.AppendUint16(nil, nfulnlCfgFSeq))
	ne.PutUint32(b[0:], uint32(len(b)))
	return b
}

// Read blocks until packets are logged and returns them: all the IPv4
// packets of the next datagram that has any (the kernel may batch several
// messages in one). The slice is the caller's.
//
// Errors wrapping ErrOverflow or ErrMalformed are not fatal: read again
// (with ErrMalformed, use the packets returned alongside). After Close,
// Read returns ErrClosed; Close also unblocks a Read in progress.
func (r *Reader) Read() ([]Packet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		b, err := r.datagram()
		if err != nil {
			return nil, err
		}
		r.scratch, err = r.p.parse(b, r.scratch[:0])
		r.lost.Store(r.p.lost)
		if len(r.scratch) == 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		return slices.Clone(r.scratch), err
	}
}

// Lost returns how many logged messages the kernel sent this Reader that
// it never received — dropped in an overflow — counted from gaps in their
// sequence numbers, so known only once a later message has arrived. (The
// kernel can also fail to allocate a message at all; those are not
// counted.)
func (r *Reader) Lost() uint64 { return r.lost.Load() }

// Close closes the socket, which unbinds the group, and unblocks a Read in
// progress. Later calls do nothing.
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	return r.f.Close()
}

// datagram returns the next datagram to parse, valid until the next call.
func (r *Reader) datagram() ([]byte, error) {
	if len(r.pending) > 0 {
		b := r.pending[0]
		r.pending = r.pending[1:]
		return b, nil
	}
	return r.recv()
}

// recv receives the next datagram from the kernel into r.buf.
func (r *Reader) recv() ([]byte, error) {
	for {
		if r.closed.Load() {
			return nil, ErrClosed
		}
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := r.rc.Read(func(fd uintptr) bool {
			for {
				n, _, _, from, rerr = unix.Recvmsg(int(fd), r.buf, nil, 0)
				if rerr != unix.EINTR {
					return rerr != unix.EAGAIN
				}
			}
		})
		if r.closed.Load() {
			return nil, ErrClosed
		}
		switch err = firstOf(err, rerr); {
		case errors.Is(err, unix.ENOBUFS):
			// The kernel sets the socket error once per overflow
			// (netlink_overrun); the queue behind it is intact.
			return nil, ErrOverflow
		case err != nil:
			return nil, fmt.Errorf("nflog: receive: %w", err)
		}
		// Only the kernel may speak for the firewall; a process with
		// CAP_NET_ADMIN in the namespace could otherwise forge records.
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue
		}
		// A datagram larger than the buffer cannot come from this
		// configuration; were one cut short, Parse would report its last
		// message and return those before it.
		return r.buf[:n], nil
	}
}

// ackErr looks in datagram b for the NLMSG_ERROR answering request seq:
// found reports whether it is there, and err is the kernel's refusal (nil
// for an acknowledgement).
func ackErr(b []byte, seq uint32) (found bool, err error) {
	for len(b) >= nlmsgHdrLen {
		l := ne.Uint32(b[0:4])
		if l < nlmsgHdrLen || uint64(l) > uint64(len(b)) {
			return false, nil
		}
		if ne.Uint16(b[4:6]) == nlmsgError && ne.Uint32(b[8:12]) == seq {
			if l < nlmsgHdrLen+4 {
				return true, malformed("netlink error message of %d bytes", l)
			}
			if e := int32(ne.Uint32(b[nlmsgHdrLen:])); e != 0 {
				return true, unix.Errno(-e)
			}
			return true, nil
		}
		b = b[min(align4(int(l)), len(b)):]
	}
	return false, nil
}
