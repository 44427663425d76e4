package storageauth

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCollateAzureOrder checks the order Azure Storage's service expects,
// as recorded from its AuthenticationErrorDetail in
// https://github.com/Azure/azure-sdk-for-python/pull/33951 and
// https://github.com/Azure/azure-sdk-for-python/issues/10277.
func TestCollateAzureOrder(t *testing.T) {
	for _, want := range [][]string{{
		"x-ms-blob-type",
		"x-ms-client-request-id",
		"x-ms-date",
		"x-ms-meta-test",
		"x-ms-meta-test-",
		"x-ms-meta-test--",
		"x-ms-meta-test_-",
		"x-ms-meta-test-_",
		"x-ms-meta-test__",
		"x-ms-meta-test_a",
		"x-ms-meta-test_a-",
		"x-ms-meta-test-_a",
		"x-ms-meta-test_a_",
		"x-ms-meta-test_a-_",
		"x-ms-meta-test_z",
		"x-ms-meta-test-a",
		"x-ms-version",
	}, {
		"x-ms-meta-i_",
		"x-ms-meta-i0",
	}, {
		"x-ms-meta-foo_bar",
		"x-ms-meta-foo2_bar",
	}} {
		rng := rand.New(rand.NewPCG(3, 4))
		for range 20 {
			got := slices.Clone(want)
			rng.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
			slices.SortFunc(got, func(a, b string) int { return collate([]byte(a), []byte(b)) })
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("order (-Azure +collate):\n%s", d)
			}
		}
	}
}

// collateRef is collate by its definition: compare the names' primary keys
// (the weights of the characters that are not ignorable), then their
// position-wise secondary weights.
func collateRef(a, b string) int {
	key := func(s string) []int {
		var k []int
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 0x80 {
				k = append(k, len(primaryOrder)+int(c))
			} else if j := strings.IndexByte(primaryOrder, toLower(c)); j >= 0 {
				k = append(k, j+1)
			}
		}
		return k
	}
	if c := slices.Compare(key(a), key(b)); c != 0 {
		return c
	}
	w := func(s string, i int) int {
		switch {
		case i >= len(s):
			return 1
		case s[i] == '\'':
			return 2
		case s[i] == '-':
			return 3
		}
		return 0
	}
	for i := 0; i < max(len(a), len(b)); i++ {
		if c := cmpInt(w(a, i), w(b, i)); c != 0 {
			return c
		}
	}
	return 0
}

func toLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func TestCollateMatchesReference(t *testing.T) {
	const alphabet = "ab_-'0Z.~!+ \x01\xff"
	rng := rand.New(rand.NewPCG(5, 6))
	str := func() string {
		b := make([]byte, rng.IntN(6))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 200000 {
		a, b := str(), str()
		if got, want := collate([]byte(a), []byte(b)), collateRef(a, b); got != want {
			t.Fatalf("collate(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
}
