package lpgzip_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/internal/lpgzip"
)

// gunzip decompresses with the standard library's reader, which checks
// the CRC-32 and the length in the trailer.
func gunzip(t testing.TB, z []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	r.Multistream(false)
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if rest, _ := io.ReadAll(r); len(rest) != 0 {
		t.Fatalf("data after the gzip member")
	}
	return out
}

func roundTrip(t testing.TB, c *lpgzip.Compressor, src []byte) []byte {
	t.Helper()
	z := c.Append(nil, src)
	checkRoundTrip(t, z, src)
	return z
}

// checkRoundTrip fails t unless z decompresses to src.
func checkRoundTrip(t testing.TB, z, src []byte) {
	t.Helper()
	if got := gunzip(t, z); !bytes.Equal(got, src) {
		i := 0
		for i < len(got) && i < len(src) && got[i] == src[i] {
			i++
		}
		t.Fatalf("round trip of %d bytes gave %d bytes, first difference at %d", len(src), len(got), i)
	}
}

// lineProtocol builds n lines of float fields over the given series, in
// the publisher's format.
func lineProtocol(rng *rand.Rand, n, series, fields int) []byte {
	var b bytes.Buffer
	ts := int64(1795294689578768000)
	for i := range n {
		fmt.Fprintf(&b, "observatory.fake-data%d,feed=false_temperatures ", i%series)
		for f := range fields {
			if f > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "channel_%02d=%v", f, 0.1+rng.Float64()*0.004)
		}
		ts += 105263157
		fmt.Fprintf(&b, " %d\n", ts)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 200_000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	digits := make([]byte, 100_000)
	for i := range digits {
		digits[i] = "0123456789,= \n"[rng.IntN(14)]
	}
	longLine := []byte("m,feed=f " + strings.Repeat("x=1.5,", 10_000) + "y=2 17\n")
	cases := map[string][]byte{
		"empty":            nil,
		"one byte":         []byte("x"),
		"newline":          []byte("\n"),
		"no final newline": []byte("m,feed=f a=1 1\nm,feed=f a=2 2"),
		"one series":       lineProtocol(rng, 5000, 1, 10),
		"interleaved":      lineProtocol(rng, 3000, 7, 3),
		"300 series":       lineProtocol(rng, 3000, 300, 2),
		"random bytes":     random,
		"digits and seps":  digits,
		"long lines":       bytes.Repeat(longLine, 5),
		"same byte":        bytes.Repeat([]byte{'7'}, 100_000),
		"same line":        bytes.Repeat([]byte("m,feed=f a=1,b=\"x\" 1\n"), 20_000),
		"strings": []byte("m,feed=f s=\"a \\\"quoted\\\", =string\\\\\",t=True 1\n" +
			"m,feed=f s=\"a \\\"quoted\\\", =strong\\\\\",t=False 2\n"),
		"escaped names": []byte("a\\ b\\,c,feed=x\\=y k\\ 1=1i 1\na\\ b\\,c,feed=x\\=y k\\ 1=2i 2\n"),
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			var c lpgzip.Compressor
			roundTrip(t, &c, src)
			roundTrip(t, &c, src) // with statistics from the first call
		})
	}
}

// TestReuse compresses a stream of batches of different shapes with one
// Compressor; the statistics carried between calls must never break the
// output.
func TestReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var c lpgzip.Compressor
	for i := range 60 {
		var src []byte
		switch i % 4 {
		case 0:
			src = lineProtocol(rng, 1+rng.IntN(3000), 1+rng.IntN(10), 1+rng.IntN(20))
		case 1:
			src = make([]byte, rng.IntN(5000))
			for k := range src {
				src[k] = byte(rng.Uint32())
			}
		case 2:
			src = bytes.Repeat([]byte("m,feed=f a=True 1\n"), rng.IntN(3000))
		default:
			src = []byte(strings.Repeat("é", rng.IntN(2000)))
		}
		roundTrip(t, &c, src)
	}
}

// TestRatio checks that line protocol is actually compressed, about as
// well as by a general compressor at its fastest level.
func TestRatio(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	src := lineProtocol(rng, 5000, 1, 10)
	var c lpgzip.Compressor
	roundTrip(t, &c, src)
	z := roundTrip(t, &c, src)
	var std bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&std, gzip.BestSpeed)
	_, _ = zw.Write(src)
	_ = zw.Close()
	ratio, stdRatio := float64(len(src))/float64(len(z)), float64(len(src))/float64(std.Len())
	t.Logf("ratio %.2f (compress/gzip level 1: %.2f)", ratio, stdRatio)
	if ratio < 0.9*stdRatio {
		t.Errorf("ratio %.2f, want at least 90%% of compress/gzip's %.2f", ratio, stdRatio)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("m,feed=f a=1.5,b=2 1700000000000000000\nm,feed=f a=1.25,b=2 1700000000100000000\n"))
	f.Add([]byte("x"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, src []byte) {
		var c lpgzip.Compressor
		roundTrip(t, &c, src)
		roundTrip(t, &c, append(src, src...))
	})
}
