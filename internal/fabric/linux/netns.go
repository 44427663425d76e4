//go:build linux

package linux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	netnsx "github.com/vnetml/vnetml/internal/netns"
)

// netnsDir is where iproute2 keeps named network namespaces (bind mounts
// of their nsfs inodes); `ip netns` and `ip -n` find them there.
const netnsDir = "/run/netns"

// netns is a named network namespace of the fabric.
//
// Its handle is closed (Apply removing a port or router, Close) while
// Listen, Dial, Expose, Do or a reader may still be entering it from the
// topology they loaded: the descriptor is closed only once the last of
// them has left, and do refuses once close was called — setns on a closed
// descriptor whose number the process gave to another namespace would
// make the socket there.
type netns struct {
	name string
	h    *netnsx.Handle

	mu     sync.Mutex
	users  int
	closed bool
}

// errNamespaceGone is returned by do after close.
var errNamespaceGone = errors.New("fabric: the namespace was deleted (the network changed, or the fabric closed)")

// openNetns opens a named namespace that exists.
func openNetns(name string) (*netns, error) {
	h, err := netnsx.Open(filepath.Join(netnsDir, name))
	if err != nil {
		return nil, err
	}
	return &netns{name: name, h: h}, nil
}

func (n *netns) close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	if n.users == 0 {
		return n.h.Close()
	}
	return nil
}

// do runs fn inside n (netns.Handle.Do).
func (n *netns) do(fn func() error) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return fmt.Errorf("%s: %w", n.name, errNamespaceGone)
	}
	n.users++
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.users--
		if n.closed && n.users == 0 {
			n.h.Close()
		}
		n.mu.Unlock()
	}()
	return n.h.Do(fn)
}

// sysctl writes net sysctls (paths under /proc/sys/net, e.g.
// "ipv4/ip_forward") in n: /proc/sys/net shows the namespace of the
// thread that opens it.
func (n *netns) sysctl(kv ...string) error {
	return n.do(func() error {
		for i := 0; i+1 < len(kv); i += 2 {
			err := os.WriteFile("/proc/sys/net/"+kv[i], []byte(kv[i+1]), 0)
			if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(kv[i], "ipv6/") {
				continue // a kernel without IPv6 has nothing to disable
			}
			if err != nil {
				return fmt.Errorf("sysctl net.%s=%s in %s: %w", strings.ReplaceAll(kv[i], "/", "."), kv[i+1], n.name, err)
			}
		}
		return nil
	})
}

// run runs a command in n with stdin and returns its error with what it
// printed.
func (n *netns) run(ctx context.Context, stdin string, name string, args ...string) error {
	return n.do(func() error { return run(ctx, stdin, name, args...) })
}

// run runs a command in the calling thread's namespace.
func run(ctx context.Context, stdin string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return nil
}

// ipBatch runs iproute2 commands, one per line, in namespace ns ("" for
// the host's). It stops at the first that fails.
func ipBatch(ctx context.Context, ns string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	return run(ctx, strings.Join(lines, "\n")+"\n", "ip", args...)
}

// addNetns creates named namespaces.
func addNetns(ctx context.Context, names ...string) error {
	lines := make([]string, len(names))
	for i, n := range names {
		lines[i] = "netns add " + n
	}
	return ipBatch(ctx, "", lines)
}

// delNetns deletes named namespaces (their interfaces go with them); a
// namespace already gone is no error.
func delNetns(names ...string) error {
	var errs []error
	for _, n := range names {
		p := filepath.Join(netnsDir, n)
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sweep deletes the namespaces of fabrics whose process is gone: a fabric
// names its namespaces vnetml-<pid>-..., so that a crash leaves nothing
// that a later start does not clear.
func sweep() {
	for _, dir := range []string{netnsDir, etcNetns} {
		sweepDir(dir)
	}
}

// sweepDir deletes the namespaces (or their /etc/netns directories) under
// dir whose fabric's process is gone.
func sweepDir(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok {
			continue
		}
		rest = strings.TrimPrefix(rest, "check-") // Check's throwaway namespace
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if unix.Kill(pid, 0) == nil || !errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			continue
		}
		if dir == etcNetns {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		} else {
			delNetns(e.Name())
		}
	}
}

// namePrefix begins the name of every namespace a fabric makes.
const namePrefix = "vnetml-"
