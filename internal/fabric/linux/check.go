//go:build linux

package linux

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// Requirements says what the kernel fabric needs, for messages and docs.
const Requirements = "the linux fabric needs Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN), " +
	"nftables (the nft command and the nf_tables, nf_conntrack, nf_nat and nfnetlink_log kernel modules) " +
	"and iproute2 (the ip command); on Debian: apt-get install nftables iproute2"

// Check reports whether this machine can run the kernel fabric: it
// creates a throwaway namespace and loads a table with the features the
// fabric uses (conntrack, NAT, interval sets, verdict maps, NFLOG) there.
// The error says what is missing.
func Check() error { return checkOnce() }

var checkOnce = sync.OnceValue(check)

func check() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (running as uid "+fmt.Sprint(os.Geteuid())+")")
	}
	for _, cmd := range []string{"nft", "ip"} {
		if _, err := exec.LookPath(cmd); err != nil {
			missing = append(missing, "the "+cmd+" command")
		}
	}
	if len(missing) > 0 {
		return &RequirementError{Missing: missing}
	}
	name := fmt.Sprintf("%scheck-%d", namePrefix, os.Getpid())
	ctx := context.Background()
	delNetns(name)
	if err := addNetns(ctx, name); err != nil {
		return &RequirementError{Missing: []string{"network namespaces (" + err.Error() + ")"}}
	}
	defer delNetns(name)
	ns, err := openNetns(name)
	if err != nil {
		return &RequirementError{Missing: []string{"network namespaces (" + err.Error() + ")"}}
	}
	defer ns.close()
	probe := `table ip probe {
	set s {
		type ipv4_addr; flags interval;
		elements = { 10.0.0.0/8 }
	}
	chain c {
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname vmap { "x" : jump c }
		ip saddr @s th dport { 1-2 } log prefix "probe" group 7 drop
	}
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "x" dnat to ip daddr map { 192.0.2.1 : 10.0.0.1 }
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "x" snat to 192.0.2.2
	}
}
`
	if err := ns.run(ctx, probe, "nft", "-f", "-"); err != nil {
		return &RequirementError{Missing: []string{"nftables with conntrack, NAT and NFLOG (" + err.Error() + ")"}}
	}
	return nil
}

// RequirementError says what the machine lacks for the kernel fabric.
type RequirementError struct{ Missing []string }

func (e *RequirementError) Error() string {
	return "the linux fabric cannot run here: missing " + strings.Join(e.Missing, "; ") + ". " + Requirements
}

// Is makes a RequirementError match errors.ErrUnsupported.
func (e *RequirementError) Is(target error) bool { return target == errors.ErrUnsupported }
