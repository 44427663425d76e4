package sqlite_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// benchDoc is a realistic virtual network document (~700 bytes).
func benchDoc(name string) []byte {
	return fmt.Appendf(nil, `{"name":%q,"type":"Microsoft.Network/virtualNetworks","location":"eastus",`+
		`"tags":{"env":"bench","owner":"ml-platform"},"properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},`+
		`"subnets":[{"name":"default","properties":{"addressPrefix":"10.0.0.0/24",`+
		`"networkSecurityGroup":{"id":"/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/ml-nsg"},`+
		`"serviceEndpoints":[{"service":"Microsoft.Storage"},{"service":"Microsoft.KeyVault"}]}},`+
		`{"name":"aks","properties":{"addressPrefix":"10.0.1.0/24"}}],"enableDdosProtection":false}}`, name, sub)
}

// BenchmarkPut measures a durable Put (synchronous=FULL: one fsync of the
// WAL per commit) against the floor for any durable store on the same
// disk: appending the same bytes to a file with Write+Sync. Each iteration
// does one of each, timed separately, so the ratio comes from one run.
func BenchmarkPut(b *testing.B) {
	dir := b.TempDir()
	s := openAt(b, filepath.Join(dir, "vnetml.db"))
	f, err := os.OpenFile(filepath.Join(dir, "baseline.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const ids = 1000 // inserts, then updates of the same rows
	docs := make([][]byte, ids)
	keys := make([]string, ids)
	for i := range ids {
		keys[i] = vnetID("rg", fmt.Sprintf("vnet-%04d", i))
		docs[i] = benchDoc(fmt.Sprintf("vnet-%04d", i))
	}
	c := ctx(b)
	var putTime, syncTime time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.Put(c, keys[i%ids], docs[i%ids], store.Condition{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := f.Write(docs[i%ids]); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		putTime += t1.Sub(t0)
		syncTime += time.Since(t1)
		i++
	}
	b.ReportMetric(float64(putTime.Nanoseconds())/float64(i), "put-ns/op")
	b.ReportMetric(float64(syncTime.Nanoseconds())/float64(i), "write+sync-ns/op")
	b.ReportMetric(float64(putTime)/float64(syncTime), "x-write+sync")
}

// BenchmarkGet measures Get of a stored resource against an in-memory map
// lookup that also copies the document (what any store must hand back).
// The map side is timed over 64 lookups per iteration so that the timer's
// own cost does not swamp it.
func BenchmarkGet(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "vnetml.db"))
	c := ctx(b)
	const ids = 1000
	keys := make([]string, ids)
	m := map[string]store.Resource{}
	for i := range ids {
		keys[i] = vnetID("rg", fmt.Sprintf("vnet-%04d", i))
		r, err := s.Put(c, keys[i], benchDoc(fmt.Sprintf("vnet-%04d", i)), store.Condition{})
		if err != nil {
			b.Fatal(err)
		}
		m[network.Key(keys[i])] = r
	}
	var getTime, mapTime time.Duration
	var sink int
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t0 := time.Now()
		r, err := s.Get(c, keys[i%ids])
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for j := range 64 {
			r := m[network.Key(keys[(i+j)%ids])]
			sink += len(bytes.Clone(r.Doc))
		}
		getTime += t1.Sub(t0)
		mapTime += time.Since(t1)
		sink += len(r.Doc)
		i++
	}
	if sink == 0 {
		b.Fatal("nothing read")
	}
	mapPer := float64(mapTime.Nanoseconds()) / float64(i*64)
	b.ReportMetric(float64(getTime.Nanoseconds())/float64(i), "get-ns/op")
	b.ReportMetric(mapPer, "map-ns/op")
	b.ReportMetric(float64(getTime.Nanoseconds())/float64(i)/mapPer, "x-map")
}

// BenchmarkOpen measures Open of a database holding 10,000 resources: the
// migration check and quick_check run on every start.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "vnetml.db")
	s := openAt(b, path)
	c := ctx(b)
	const n, batch = 10000, 500
	for i := 0; i < n; i += batch {
		ops := make([]store.Op, batch)
		for j := range ops {
			name := fmt.Sprintf("vnet-%05d", i+j)
			ops[j] = store.PutOp(vnetID("rg", name), benchDoc(name), store.Condition{})
		}
		if _, err := s.Apply(c, ops); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	for b.Loop() {
		s := openAt(b, path)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
