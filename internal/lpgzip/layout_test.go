package lpgzip_test

import (
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/internal/lpgzip"
)

// layoutOf is the Layout of line protocol without escapes or quoted
// strings, as the publisher's encoder records it: a cut before every ','
// after the first space and before the last space of each line.
func layoutOf(src []byte) lpgzip.Layout {
	var l lpgzip.Layout
	start := 0
	for start < len(src) {
		end := len(src)
		if i := bytes.IndexByte(src[start:], '\n'); i >= 0 {
			end = start + i + 1
		}
		line := src[start:end]
		first := bytes.IndexByte(line, ' ')
		last := bytes.LastIndexByte(line, ' ')
		if first >= 0 && last > first {
			for i := first + 1; i < last; i++ {
				if line[i] == ',' {
					l.Cuts = append(l.Cuts, uint32(start+i))
				}
			}
			l.Cuts = append(l.Cuts, uint32(start+last))
		}
		l.Ends = append(l.Ends, end)
		start = end
	}
	return l
}

// randomLayout cuts src into lines and segments at random places.
func randomLayout(rng *rand.Rand, src []byte) lpgzip.Layout {
	var l lpgzip.Layout
	for start := 0; start < len(src); {
		end := min(len(src), start+1+rng.IntN(200))
		for at := start + 1; at < end; at += 1 + rng.IntN(30) {
			l.Cuts = append(l.Cuts, uint32(at))
		}
		l.Ends = append(l.Ends, end)
		start = end
	}
	return l
}

func roundTripLayout(t testing.TB, c *lpgzip.Compressor, src []byte, l lpgzip.Layout) []byte {
	t.Helper()
	z := c.AppendLayout(nil, src, l)
	checkRoundTrip(t, z, src)
	return z
}

// layoutCases are inputs in the publisher's shapes and others.
func layoutCases(rng *rand.Rand) map[string][]byte {
	digits := make([]byte, 50_000)
	for i := range digits {
		digits[i] = "0123456789,= \n"[rng.IntN(14)]
	}
	var mixed bytes.Buffer
	for i := range 3000 {
		switch i % 5 {
		case 0:
			mixed.WriteString("m,feed=f a=12.3457,b=-0.001,c=1.5e-05,d=123456789012345678i 1795294689578768000\n")
		case 1:
			mixed.WriteString("m,feed=f a=12.3461,b=-0.0012,c=2.5e-05,d=123456789012345679i 1795294689684031157\n")
		case 2:
			mixed.WriteString("m,feed=f a=9.9999,b=0.0,c=\"a, b=c \\\"d\\\"\",d=True 1795294689789294314\n")
		case 3:
			mixed.WriteString("m,feed=g s=\"" + strings.Repeat("x", rng.IntN(40)) + "\" 1795294689894557471\n")
		default:
			mixed.WriteString("m,feed=f a=10.0001,b=-0.0001,c=3.5e-05,d=1i 1795294689999820628\n")
		}
	}
	return map[string][]byte{
		"one series":       lineProtocol(rng, 5000, 1, 10),
		"interleaved":      lineProtocol(rng, 3000, 7, 3),
		"300 series":       lineProtocol(rng, 3000, 300, 2),
		"mixed values":     mixed.Bytes(),
		"digits and seps":  digits,
		"long lines":       bytes.Repeat([]byte("m,feed=f "+strings.Repeat("x=1.5,", 10_000)+"y=2 17\n"), 3),
		"same line":        bytes.Repeat([]byte("m,feed=f a=1,b=\"x\" 1\n"), 20_000),
		"no final newline": []byte("m,feed=f a=1 1\nm,feed=f a=2 2"),
		"one byte":         []byte("x"),
		"newline":          []byte("\n"),
	}
}

// TestAppendLayoutRoundTrip compresses with the layout the encoder would
// record, and with random ones: any valid layout must give exactly the
// input back.
func TestAppendLayoutRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for name, src := range layoutCases(rng) {
		t.Run(name, func(t *testing.T) {
			var c lpgzip.Compressor
			roundTripLayout(t, &c, src, layoutOf(src))
			roundTripLayout(t, &c, src, layoutOf(src)) // with statistics
			for range 3 {
				roundTripLayout(t, &c, src, randomLayout(rng, src))
			}
		})
	}
}

// TestAppendLayoutInvalid: a layout that does not describe its input is
// ignored (the output is Append's), never trusted.
func TestAppendLayoutInvalid(t *testing.T) {
	src := []byte("m,feed=f a=1,b=2 1\nm,feed=f a=3,b=4 2\n")
	good := layoutOf(src)
	bad := map[string]lpgzip.Layout{
		"empty":             {},
		"short ends":        {Ends: []int{19}, Cuts: good.Cuts[:1]},
		"long ends":         {Ends: []int{19, 38, 50}, Cuts: good.Cuts},
		"ends not rising":   {Ends: []int{19, 19, 38}, Cuts: good.Cuts},
		"cut at line start": {Ends: good.Ends, Cuts: []uint32{0, 12, 30, 33}},
		"cut at line end":   {Ends: good.Ends, Cuts: []uint32{12, 19, 30, 33}},
		"cuts not rising":   {Ends: good.Ends, Cuts: []uint32{14, 12, 30, 33}},
		"cut past input":    {Ends: good.Ends, Cuts: []uint32{12, 14, 30, 33, 40}},
	}
	for name, l := range bad {
		t.Run(name, func(t *testing.T) {
			var a, b lpgzip.Compressor
			got := roundTripLayout(t, &a, src, l)
			if want := b.Append(nil, src); !bytes.Equal(got, want) {
				t.Errorf("AppendLayout with an invalid layout differs from Append")
			}
		})
	}
}

// TestAppendLayoutRatio: following the layout compresses line protocol as
// well as Append's search for separators, over a stream of batches (the
// statistics carried between calls stay right).
func TestAppendLayoutRatio(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var withLayout, without lpgzip.Compressor
	var in, outLayout, out int
	for i := range 12 {
		src := lineProtocol(rng, 500+rng.IntN(3000), []int{1, 2, 7, 300}[i%4], 10)
		in += len(src)
		outLayout += len(roundTripLayout(t, &withLayout, src, layoutOf(src)))
		out += len(roundTrip(t, &without, src))
	}
	ratio, plain := float64(in)/float64(outLayout), float64(in)/float64(out)
	t.Logf("ratio %.3f with the layout, %.3f without", ratio, plain)
	if ratio < 0.98*plain {
		t.Errorf("ratio %.3f with the layout, want at least 98%% of %.3f without", ratio, plain)
	}
	var std bytes.Buffer
	src := lineProtocol(rng, 5000, 1, 10)
	zw, _ := gzip.NewWriterLevel(&std, gzip.BestSpeed)
	_, _ = zw.Write(src)
	_ = zw.Close()
	z := roundTripLayout(t, &withLayout, src, layoutOf(src))
	if r, stdRatio := float64(len(src))/float64(len(z)), float64(len(src))/float64(std.Len()); r < stdRatio {
		t.Errorf("ratio %.2f, want at least compress/gzip level 1's %.2f", r, stdRatio)
	}
}

func FuzzAppendLayout(f *testing.F) {
	f.Add([]byte("m,feed=f a=1.5,b=2 1700000000000000000\nm,feed=f a=1.25,b=2 1700000000100000000\n"), uint64(1))
	f.Add([]byte("x"), uint64(2))
	f.Fuzz(func(t *testing.T, src []byte, seed uint64) {
		if len(src) == 0 {
			return
		}
		rng := rand.New(rand.NewPCG(seed, seed))
		var c lpgzip.Compressor
		roundTripLayout(t, &c, src, layoutOf(src))
		roundTripLayout(t, &c, src, randomLayout(rng, src))
		twice := append(src, src...)
		roundTripLayout(t, &c, twice, layoutOf(twice))
	})
}

// BenchmarkAppendLayout compresses the batch of BenchmarkAppend following
// its layout, as the publisher does.
func BenchmarkAppendLayout(b *testing.B) {
	src := lineProtocol(rand.New(rand.NewPCG(1, 2)), 5000, 1, 10)
	l := layoutOf(src)
	var c lpgzip.Compressor
	out := roundTripLayout(b, &c, src, l)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		out = c.AppendLayout(out[:0], src, l)
	}
	b.ReportMetric(5000*float64(b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(len(src))/float64(len(out)), "ratio")
}
