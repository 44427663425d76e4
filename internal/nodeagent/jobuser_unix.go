//go:build unix

package nodeagent

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// A job's user: an agent started with --job-uid runs its jobs and
// replicas as that user, not as itself. The kernel fabric starts its
// agents as root inside a node's namespace; a job running as root there
// could enter another namespace (the host's, through /proc/1/ns/net) or
// reconfigure its own. As an ordinary user it has no capabilities: it
// cannot leave the namespace, open raw sockets or change its addresses,
// and the rules the kernel enforces are all the network it has.

// handOver gives dir and everything in it to uid, and lets uid traverse
// the directories above it up to the state directory (mode 0711: enter,
// not list), so that the job reaches its own directory and nothing else.
func handOver(dir, stateDir string, uid int) error {
	if uid < 0 {
		return nil
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			return err
		}
		if d == filepath.Clean(stateDir) || d == filepath.Dir(d) {
			break
		}
	}
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
}

// runAs makes cmd run as uid (and gid uid, no supplementary groups).
func runAs(cmd *exec.Cmd, uid int) {
	if uid < 0 {
		return
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), NoSetGroups: true}
}

// publicPath keeps the entries of a PATH that any user may search (every
// directory on the way has the execute bit for others): a job run as its
// own user finds its commands there, not in the agent's private
// directories (a pyenv under /root, say).
func publicPath(path string) string {
	var keep []string
	for _, dir := range filepath.SplitList(path) {
		if searchable(dir) {
			keep = append(keep, dir)
		}
	}
	return strings.Join(keep, string(filepath.ListSeparator))
}

func searchable(dir string) bool {
	if !filepath.IsAbs(dir) {
		return false
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}
