//go:build linux

package linux

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckSaysWhatIsMissing: without nft and ip (an empty PATH), the
// fabric refuses to start and names both, with how to install them.
func TestCheckSaysWhatIsMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := check()
	var re *RequirementError
	if !errors.As(err, &re) {
		t.Fatalf("check() = %v, want a *RequirementError", err)
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Error("a RequirementError does not match errors.ErrUnsupported")
	}
	for _, want := range []string{"the nft command", "the ip command", "apt-get install nftables iproute2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}
