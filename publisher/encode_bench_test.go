package publisher_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// The benchmarks encode 5000-point batches of 10 float fields per point
// and report points/s; docs/BENCHMARKS.md has the commands and results.

// fakeDataMessage is a batch as FakeDataAgent's acq produces it (its
// defaults: 9.5 Hz, levels starting at 0.1 moving by uniform(-1, 1) ×
// 0.003 per 1 s report, each sample the level plus uniform(-1, 1) × 0.002):
// values of 16-17 significant digits such as 0.10250430068515494.
func fakeDataMessage(points, channels int) *feeds.Message {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := make([]float64, points)
	for i := range ts {
		ts[i] = 1795294689.578768 + float64(i)/9.5
	}
	fs := make([]feeds.Field, channels)
	levels := make([]float64, channels)
	for c := range fs {
		fs[c] = feeds.Field{Name: fmt.Sprintf("channel_%02d", c), Values: make([]feeds.Value, points)}
		levels[c] = 0.1
	}
	for i := range points {
		for c := range fs {
			if i%10 == 0 {
				levels[c] += (2*rng.Float64() - 1) * 0.003
			}
			fs[c].Values[i] = feeds.Float(levels[c] + (2*rng.Float64()-1)*0.002)
		}
	}
	return msg("observatory.fake-data1", "false_temperatures", ts, fs...)
}

func reportPoints(b *testing.B, points int) {
	b.ReportMetric(float64(points)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkEncode encodes a batch: line and json protocol on
// sine-derived values (benchMessage), and line protocol on a FakeDataAgent
// batch.
func BenchmarkEncode(b *testing.B) {
	for _, c := range []struct {
		name  string
		proto publisher.Protocol
		m     *feeds.Message
	}{
		{"line", publisher.ProtocolLine, benchMessage(5000, 10)},
		{"json", publisher.ProtocolJSON, benchMessage(5000, 10)},
		{"fakedata", publisher.ProtocolLine, fakeDataMessage(5000, 10)},
	} {
		b.Run(c.name, func(b *testing.B) {
			enc := publisher.Encoder{Protocol: c.proto}
			buf, _ := enc.AppendMessage(nil, c.m)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = enc.AppendMessage(buf[:0], c.m)
			}
			reportPoints(b, 5000)
		})
	}
}

// gzipLevels are the klauspost gzip levels benchmarked: StatelessCompression
// (-3), HuffmanOnly (-2), 1 (BestSpeed, the default), 2, 6 and 9
// (BestCompression, the Python agent's level).
var gzipLevels = []int{gzip.StatelessCompression, gzip.HuffmanOnly, gzip.BestSpeed, 2, 6, gzip.BestCompression}

// BenchmarkEncodeGzip is encode plus compression of the FakeDataAgent
// batch with a reused klauspost gzip writer at each level (level1 is what
// the publisher does with --gzip by default). ratio is uncompressed /
// compressed size.
func BenchmarkEncodeGzip(b *testing.B) {
	m := fakeDataMessage(5000, 10)
	for _, level := range gzipLevels {
		b.Run(fmt.Sprintf("level%d", level), func(b *testing.B) {
			var enc publisher.Encoder
			buf, _ := enc.AppendMessage(nil, m)
			var out bytes.Buffer
			zw, err := gzip.NewWriterLevel(io.Discard, level)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = enc.AppendMessage(buf[:0], m)
				out.Reset()
				zw.Reset(&out)
				if _, err := zw.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					b.Fatal(err)
				}
			}
			reportPoints(b, 5000)
			b.ReportMetric(float64(len(buf))/float64(out.Len()), "ratio")
		})
	}
}

// BenchmarkGzip is the compression alone, on the FakeDataAgent batch
// already encoded.
func BenchmarkGzip(b *testing.B) {
	var enc publisher.Encoder
	buf, _ := enc.AppendMessage(nil, fakeDataMessage(5000, 10))
	for _, level := range gzipLevels {
		b.Run(fmt.Sprintf("level%d", level), func(b *testing.B) {
			var out bytes.Buffer
			zw, err := gzip.NewWriterLevel(io.Discard, level)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				zw.Reset(&out)
				if _, err := zw.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					b.Fatal(err)
				}
			}
			reportPoints(b, 5000)
			b.ReportMetric(float64(len(buf))/float64(out.Len()), "ratio")
		})
	}
}
