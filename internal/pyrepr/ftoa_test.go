package pyrepr_test

import (
	"flag"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/ocsflux/ocsflux/internal/pyrepr"
)

// randomFloats is how many random bit patterns TestAppendFloatRandom
// compares (go test -run AppendFloatRandom -pyfloat.random 100000000 for
// a long run).
var randomFloats = flag.Int("pyfloat.random", 2_000_000, "random float64 bit patterns compared with strconv")

// checkPyFloats compares AppendFloat with the strconv-based oracle on
// every value gen yields (gen calls yield until it returns false), on all
// cores, and reports the first differences.
func checkPyFloats(t *testing.T, name string, gen func(yield func(float64) bool)) {
	t.Helper()
	const chunk = 4096
	ch := make(chan []float64, runtime.GOMAXPROCS(0))
	var (
		mu       sync.Mutex
		bad, all int
	)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got, want []byte
			nbad := 0
			n := 0
			for vals := range ch {
				for _, f := range vals {
					got = pyrepr.AppendFloat(got[:0], f)
					want = pyrepr.AppendFloatStrconv(want[:0], f)
					n++
					if string(got) != string(want) {
						nbad++
						if nbad <= 5 {
							t.Errorf("%s: AppendFloat(%#x) = %q, strconv says %q", name, math.Float64bits(f), got, want)
						}
					}
				}
			}
			mu.Lock()
			bad += nbad
			all += n
			mu.Unlock()
		}()
	}
	buf := make([]float64, 0, chunk)
	gen(func(f float64) bool {
		buf = append(buf, f)
		if len(buf) == chunk {
			ch <- buf
			buf = make([]float64, 0, chunk)
		}
		return true
	})
	ch <- buf
	close(ch)
	wg.Wait()
	if bad > 0 {
		t.Errorf("%s: %d of %d floats differ", name, bad, all)
	}
	t.Logf("%s: %d floats compared", name, all)
}

// neighbours yields f and the n doubles on either side of it.
func neighbours(yield func(float64) bool, f float64, n int) {
	up, down := f, f
	yield(f)
	for range n {
		up, down = math.Nextafter(up, math.Inf(1)), math.Nextafter(down, math.Inf(-1))
		yield(up)
		yield(down)
	}
}

// TestAppendFloatRandom compares with strconv on random bit patterns
// (all exponents equally likely) and on random 17-digit numbers in the
// range FakeDataAgent produces.
func TestAppendFloatRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	checkPyFloats(t, "random bits", func(yield func(float64) bool) {
		for range *randomFloats {
			yield(math.Float64frombits(rng.Uint64()))
		}
	})
	checkPyFloats(t, "fakedata-like", func(yield func(float64) bool) {
		for range 200_000 {
			yield(0.1 + (2*rng.Float64()-1)*0.01)
			yield(1795294689.578768 + rng.Float64()*1e6)
		}
	})
}

// TestAppendFloatRanges compares with strconv where a Schubfach
// implementation can go wrong: every binary exponent at the ends of its
// significand range, powers of two (the closer lower boundary), values
// with few significant bits (exact products), short decimals, integers and
// the 2^53 neighbourhood, the fixed/exponent switches at 1e-4 and 1e16,
// subnormals and the ends of the range.
func TestAppendFloatRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	checkPyFloats(t, "exponents", func(yield func(float64) bool) {
		for exp := uint64(0); exp < 0x7ff; exp++ {
			for _, m := range []uint64{0, 1, 2, 3, 4, 5, 1 << 51, 1<<51 + 1, 1<<52 - 1, 1<<52 - 2, 1<<52 - 3} {
				yield(math.Float64frombits(exp<<52 | m))
			}
			for range 64 {
				yield(math.Float64frombits(exp<<52 | rng.Uint64()>>12))
			}
		}
	})
	checkPyFloats(t, "few significant bits", func(yield func(float64) bool) {
		for exp := uint64(0); exp < 0x7ff; exp++ {
			for top := uint64(0); top < 1<<9; top++ {
				yield(math.Float64frombits(exp<<52 | top<<43))
				yield(math.Float64frombits(exp<<52 | top)) // few bits in a subnormal
			}
		}
	})
	checkPyFloats(t, "short decimals", func(yield func(float64) bool) {
		for e := -330; e <= 310; e++ {
			for d := 1; d <= 120; d++ {
				f, _ := strconv.ParseFloat(strconv.Itoa(d)+"e"+strconv.Itoa(e), 64)
				neighbours(yield, f, 1)
			}
			for range 30 {
				d := rng.Uint64N(1e17)
				f, _ := strconv.ParseFloat(strconv.FormatUint(d, 10)+"e"+strconv.Itoa(e), 64)
				neighbours(yield, f, 1)
				f, _ = strconv.ParseFloat(strconv.FormatUint(d%1e6, 10)+"e"+strconv.Itoa(e), 64)
				yield(f)
			}
			f, _ := strconv.ParseFloat("1e"+strconv.Itoa(e), 64)
			neighbours(yield, f, 8)
		}
	})
	checkPyFloats(t, "integers", func(yield func(float64) bool) {
		for i := range 200_000 {
			yield(float64(i))
			yield(float64(-i))
		}
		for _, c := range []float64{1 << 52, 1 << 53, 1 << 54, 1e15, 1e16, 1e17, 1 << 63, 1 << 64} {
			neighbours(yield, c, 3000)
		}
		for range 200_000 {
			yield(float64(rng.Int64N(1 << 53)))
			yield(float64(rng.Int64()))
			yield(math.Ldexp(float64(rng.Int64N(1<<53)), -rng.IntN(60)))
		}
	})
	checkPyFloats(t, "switch points", func(yield func(float64) bool) {
		for _, c := range []float64{1e-4, 1e-5, 1e16, 1e15, 9.999999999999999e15, 9.9999e-5} {
			neighbours(yield, c, 3000)
			neighbours(yield, -c, 100)
		}
	})
	checkPyFloats(t, "extremes", func(yield func(float64) bool) {
		for i := range uint64(100_000) {
			yield(math.Float64frombits(i))             // smallest subnormals
			yield(math.Float64frombits(1<<52 - 1 - i)) // largest subnormals
		}
		for range 100_000 {
			yield(math.Float64frombits(rng.Uint64N(1 << 52)))
		}
		neighbours(yield, 0x1p-1022, 3000) // smallest normal
		neighbours(yield, math.MaxFloat64, 0)
		for i := range uint64(3000) {
			yield(math.Float64frombits(0x7fefffffffffffff - i))
		}
	})
}

// FuzzAppendFloat compares with the strconv-based oracle and checks that
// the text reads back as the same double.
func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, 1.5, 0.1, 1e-5, 1e16, 9999999999999998, 5e-324, math.MaxFloat64, 0.06564382962477736, 1795294689.578768} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		got := pyrepr.AppendFloat([]byte("x"), v)
		want := pyrepr.AppendFloatStrconv([]byte("x"), v)
		if string(got) != string(want) {
			t.Fatalf("AppendFloat(%#x) = %q, strconv says %q", bits, got, want)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		back, err := strconv.ParseFloat(string(got[1:]), 64)
		if err != nil || math.Float64bits(back) != bits {
			t.Fatalf("%q reads back as %#x (%v), want %#x", got[1:], math.Float64bits(back), err, bits)
		}
	})
}

// BenchmarkAppendFloat formats FakeDataAgent-like values (17 significant
// digits), short decimals, integers and exponent-form values, with
// AppendFloat and with the strconv-based oracle it replaced.
func BenchmarkAppendFloat(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	sets := map[string][]float64{}
	for range 1024 {
		sets["fakedata"] = append(sets["fakedata"], 0.1+(2*rng.Float64()-1)*0.01)
		sets["short"] = append(sets["short"], float64(rng.IntN(100000))/1000)
		sets["integer"] = append(sets["integer"], float64(rng.IntN(1000000)))
		sets["exponent"] = append(sets["exponent"], math.Float64frombits(rng.Uint64()>>2|1<<62))
	}
	for _, name := range []string{"fakedata", "short", "integer", "exponent"} {
		vals := sets[name]
		for _, impl := range []struct {
			name string
			fn   func([]byte, float64) []byte
		}{{"ours", pyrepr.AppendFloat}, {"strconv", pyrepr.AppendFloatStrconv}} {
			b.Run(name+"/"+impl.name, func(b *testing.B) {
				buf := make([]byte, 0, 64)
				i := 0
				for b.Loop() {
					buf = impl.fn(buf[:0], vals[i&1023])
					i++
				}
			})
		}
	}
}

// TestEightDigits compares EightDigits with strconv on the edges of its
// table halves and on a million values spread over 0-99999999.
func TestEightDigits(t *testing.T) {
	check := func(r uint32) {
		var b [8]byte
		w := pyrepr.EightDigits(r)
		for i := range b {
			b[i] = byte(w >> (8 * i))
		}
		want := strconv.Itoa(int(r))
		for len(want) < 8 {
			want = "0" + want
		}
		if string(b[:]) != want {
			t.Fatalf("EightDigits(%d) = %q, want %q", r, b[:], want)
		}
	}
	for _, r := range []uint32{0, 1, 9, 10, 9999, 10000, 10001, 99990000, 99999999} {
		check(r)
	}
	for i := range uint32(1_000_000) {
		check(i * 99_991 % 100_000_000)
	}
}
