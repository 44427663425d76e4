package servicetag

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// BenchmarkLoad: reading the real tag file (4 MB, 93k prefixes) into a
// registry, against decoding the same bytes into generic JSON values
// (encoding/json's floor for this input), in the same run.
func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile(RealFile)
	if err != nil {
		b.Skipf("real service tag file not available: %v", err)
	}
	b.Run("registry", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := Load(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json-any", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
