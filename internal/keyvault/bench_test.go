package keyvault

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkGet measures Service.Get (a store read, the JSON decode and
// AES-GCM open) against a plain store.Get of the same version document in
// the same loop, and reports p50/p99 of each and their ratio.
func BenchmarkGet(b *testing.B) {
	for _, tc := range []struct {
		name   string
		latest bool // Get "" reads the secret document too
	}{{"version", false}, {"latest", true}} {
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b)
			ctx := context.Background()
			value := make([]byte, 256)
			set, err := f.svc.Set(ctx, testVault, "conn-string", value, SetOptions{ContentType: "text/plain"})
			if err != nil {
				b.Fatal(err)
			}
			version, id := set.Version, versionID(testVault, "conn-string", set.Version)
			if tc.latest {
				version = ""
			}
			var kv, plain []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				if _, err := f.svc.Get(ctx, testVault, "conn-string", version); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := f.st.Get(ctx, id); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				kv, plain = append(kv, t1.Sub(t0)), append(plain, t2.Sub(t1))
			}
			p := func(d []time.Duration, q float64) float64 {
				slices.Sort(d)
				return float64(d[min(len(d)-1, int(q*float64(len(d))))].Nanoseconds())
			}
			b.ReportMetric(p(kv, 0.50), "kv-p50-ns")
			b.ReportMetric(p(kv, 0.99), "kv-p99-ns")
			b.ReportMetric(p(plain, 0.50), "store-p50-ns")
			b.ReportMetric(p(plain, 0.99), "store-p99-ns")
			b.ReportMetric(p(kv, 0.50)/p(plain, 0.50), "ratio-p50")
			b.ReportMetric(p(kv, 0.99)/p(plain, 0.99), "ratio-p99")
		})
	}
}
