package lpgzip_test

import (
	"math/rand/v2"
	"testing"

	"github.com/ocsflux/ocsflux/internal/lpgzip"
)

// BenchmarkAppend compresses 5000 lines of 10 float fields (about 1.9 MB).
// The publisher's benchmarks measure it together with encoding on
// FakeDataAgent-like values.
func BenchmarkAppend(b *testing.B) {
	src := lineProtocol(rand.New(rand.NewPCG(1, 2)), 5000, 1, 10)
	var c lpgzip.Compressor
	out := c.Append(nil, src)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		out = c.Append(out[:0], src)
	}
	b.ReportMetric(5000*float64(b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(len(src))/float64(len(out)), "ratio")
}
