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

	"golang.org/x/sys/unix"

	netnsx "github.com/vnetml/vnetml/internal/netns"
)

// netnsDir is where iproute2 keeps named network namespaces (bind mounts
// of their nsfs inodes); `ip netns` and `ip -n` find them there.
const netnsDir = "/run/netns"

// netns is a named network namespace of the fabric.
type netns struct {
	name string
	*netnsx.Handle
}

// openNetns opens a named namespace that exists.
func openNetns(name string) (*netns, error) {
	h, err := netnsx.Open(filepath.Join(netnsDir, name))
	if err != nil {
		return nil, err
	}
	return &netns{name: name, Handle: h}, nil
}

func (n *netns) close() error { return n.Close() }

// do runs fn inside n (netns.Handle.Do).
func (n *netns) do(fn func() error) error { return n.Do(fn) }

// sysctl writes net sysctls (paths under /proc/sys/net, e.g.
// "ipv4/ip_forward") in n: /proc/sys/net shows the namespace of the
// thread that opens it.
func (n *netns) sysctl(kv ...string) error {
	return n.do(func() error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := os.WriteFile("/proc/sys/net/"+kv[i], []byte(kv[i+1]), 0); err != nil {
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
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if unix.Kill(pid, 0) == nil || !errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			continue
		}
		delNetns(e.Name())
	}
}

// namePrefix begins the name of every namespace a fabric makes.
const namePrefix = "vnetml-"
