package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAuthenticate measures Authenticate among 1,000 tokens against
// the naive way: hash the token and compare it with every stored hash.
func BenchmarkAuthenticate(b *testing.B) {
	const n = 1000
	s := &snapshot{bySum: map[[sha256.Size]byte]*entry{}, byName: map[string]*entry{}}
	var (
		entries []*entry
		secret  string
	)
	for i := range n {
		secret = newSecret()
		e := &entry{tok: Token{Name: "t" + strconv.Itoa(i), Properties: TokenProperties{Role: Reader, Scope: "/subscriptions/s1"}}, sum: digest(secret)}
		e.fill()
		s.bySum[e.sum], s.byName[e.tok.Name] = e, e
		entries = append(entries, e)
	}
	a := &Authenticator{now: time.Now}
	a.snap.Store(s)
	h := "Bearer " + secret // the last token: the naive scan's worst case
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Authenticate(context.Background(), h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("naive-scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sum := sha256.Sum256([]byte(h[len("Bearer "):]))
			found := false
			for _, e := range entries {
				if subtle.ConstantTimeCompare(e.sum[:], sum[:]) == 1 {
					found = true
				}
			}
			if !found {
				b.Fatal("not found")
			}
		}
	})
}

// BenchmarkCovers measures covers against its definition, coversSlow.
func BenchmarkCovers(b *testing.B) {
	scope := "/subscriptions/S1/resourceGroups/RG1"
	id := "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/default"
	for _, bm := range []struct {
		name string
		f    func(string, string) bool
	}{{"covers", covers}, {"reference", coversSlow}} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !bm.f(scope, id) {
					b.Fatal("not covered")
				}
			}
		})
	}
}
