package publisher_test

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/ocsflux/ocsflux/publisher"
)

// BenchmarkEncode encodes a 5000-point batch, 10 float fields per point
// (FakeDataAgent-like values with 16-17 significant digits).
func BenchmarkEncode(b *testing.B) {
	for _, proto := range []publisher.Protocol{publisher.ProtocolLine, publisher.ProtocolJSON} {
		b.Run(string(proto), func(b *testing.B) {
			m := benchMessage(5000, 10)
			enc := publisher.Encoder{Protocol: proto}
			buf, _ := enc.AppendMessage(nil, m)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				buf, _ = enc.AppendMessage(buf[:0], m)
			}
			b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}

// BenchmarkEncodeGzip is encode plus compression with a reused klauspost
// gzip writer, as the publisher does: level 1 (the default), 6 and 9 (the
// Python agent's level).
func BenchmarkEncodeGzip(b *testing.B) {
	for _, level := range []int{gzip.BestSpeed, 6, gzip.BestCompression} {
		b.Run("level"+strconv.Itoa(level), func(b *testing.B) {
			m := benchMessage(5000, 10)
			var enc publisher.Encoder
			buf, _ := enc.AppendMessage(nil, m)
			var out bytes.Buffer
			zw, err := gzip.NewWriterLevel(io.Discard, level)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
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
			b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "points/s")
			b.ReportMetric(float64(len(buf))/float64(out.Len()), "ratio")
		})
	}
}
