package auth

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestCoversMatchesReference checks covers, which folds ASCII in place,
// against coversSlow, its definition by network.Key, on seeded random ids
// built from pieces that collide in interesting ways: prefixes of each
// other, other cases, trailing and doubled slashes, non-ASCII letters that
// fold (É, the Kelvin sign, which shrinks, Ⱥ and İ, which grow) and one that network.Key keeps apart (ſ).
func TestCoversMatchesReference(t *testing.T) {
	pieces := []string{"subscriptions", "SUBSCRIPTIONS", "ſubscriptions", "s1", "S1", "s10", "resourceGroups", "rg", "RG", "rg2",
		"providers", "Microsoft.Network", "É", "é", "\u212a", "k", "K", "ka", "\u212aa", "İ", "i", "\u0130x", "Ⱥ", "ⱥ", "\xff", ""}
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func() string {
		if rng.IntN(20) == 0 {
			return "/"
		}
		var b strings.Builder
		for range rng.IntN(5) {
			b.WriteByte('/')
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		if rng.IntN(8) == 0 {
			b.WriteByte('/')
		}
		return b.String()
	}
	for range 200_000 {
		scope, id := gen(), gen()
		if rng.IntN(3) == 0 { // make covered pairs common
			id = scope + gen()
		}
		if got, want := covers(scope, id), coversSlow(scope, id); got != want {
			t.Fatalf("covers(%q, %q) = %v, reference says %v", scope, id, got, want)
		}
	}
}
