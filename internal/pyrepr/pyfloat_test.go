package pyrepr_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/internal/pyrepr"
)

func TestAppendFloat(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{1.5, "1.5"},
		{2.0, "2.0"},
		{1e-05, "1e-05"},
		{1e+16, "1e+16"},
		{0.1, "0.1"},
		{1000000.0, "1000000.0"},
		{1.5e+300, "1.5e+300"},
		{0.0001, "0.0001"},
		{0.00012345, "0.00012345"},
		{9999999999999998.0, "9999999999999998.0"},
		{123456789012345678.0, "1.2345678901234568e+17"},
		{1e15, "1000000000000000.0"},
		{-2.5, "-2.5"},
		{-1e-7, "-1e-07"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{1.0 / 3, "0.3333333333333333"},
		{123.456, "123.456"},
		{100, "100.0"},
		{1e22, "1e+22"},
		{0.06564382962477736, "0.06564382962477736"},
		{math.NaN(), "nan"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
	} {
		if got := string(pyrepr.AppendFloat([]byte("x="), c.f)); got != "x="+c.want {
			t.Errorf("AppendFloat(%v) = %q, want %q", c.f, got, "x="+c.want)
		}
	}
}

func TestAppendFloatAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(1000, func() {
		buf = pyrepr.AppendFloat(buf[:0], 0.12142123334563176)
		buf = pyrepr.AppendFloat(buf[:0], 1e-05)
	})
	if n != 0 {
		t.Errorf("AppendFloat allocates %v times per call pair, want 0", n)
	}
}

// TestAppendFloatMatchesPython compares with CPython's repr on floats
// from every range: random bit patterns, decimal-looking values, integers,
// powers of ten around the fixed/exponent switch.
func TestAppendFloatMatchesPython(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is needed to compare with Python's repr: %v", python, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var vals []float64
	for e := -330; e <= 310; e++ {
		for _, m := range []float64{1, 1.5, 9.999999999999999, 2.5} {
			vals = append(vals, m*math.Pow(10, float64(e)))
		}
	}
	// The fixed/exponent switch at 1e-4 and 1e16, a few ulps either side.
	for _, p := range []float64{1e-4, 1e16, 1e-5, 1e15} {
		for _, s := range []float64{1, -1} {
			up, down := s*p, s*p
			for i := 0; i < 4; i++ {
				vals = append(vals, up, down)
				up, down = math.Nextafter(up, math.Inf(1)), math.Nextafter(down, math.Inf(-1))
			}
		}
	}
	// Ranges where a shortest-digits algorithm is easiest to get wrong:
	// subnormals, the smallest normal, 2^53 and the largest doubles,
	// powers of two (closer lower neighbour), few significant bits.
	for _, c := range []float64{5e-324, 0x1p-1022, 0x1p-1022 - 5e-324, 0x1p53, 0x1p52, 0x1p54, math.MaxFloat64, 0x1p1023, 1.5, 0.75} {
		f := c
		for i := 0; i < 20; i++ {
			vals = append(vals, f)
			f = math.Nextafter(f, 0)
		}
	}
	for e := -1074; e <= 1023; e += 7 {
		vals = append(vals, math.Ldexp(1, e), math.Ldexp(1.375, e), math.Ldexp(float64(rng.IntN(1<<20)), e))
	}
	for i := 0; i < 5000; i++ {
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		vals = append(vals, f)
	}
	for i := 0; i < 3000; i++ {
		vals = append(vals, rng.Float64()*math.Pow(10, float64(rng.IntN(40)-20)))
		vals = append(vals, float64(rng.Int64N(1<<62))*-1)
		vals = append(vals, math.Round(rng.Float64()*1e6)/1e3)
	}

	var in bytes.Buffer
	for _, f := range vals {
		fmt.Fprintf(&in, "%x\n", math.Float64bits(f))
	}
	cmd := exec.Command(python, "-c", `
import sys, struct
for line in sys.stdin:
    print(repr(struct.unpack('<d', int(line, 16).to_bytes(8, 'little'))[0]))
`)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run %s: %v", python, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	i, bad := 0, 0
	for sc.Scan() {
		if i >= len(vals) {
			t.Fatalf("python printed more lines than values")
		}
		want := sc.Text()
		if got := string(pyrepr.AppendFloat(nil, vals[i])); got != want {
			bad++
			if bad <= 10 {
				t.Errorf("%s (bits %x): got %q, Python repr %q", strconv.FormatFloat(vals[i], 'g', -1, 64),
					math.Float64bits(vals[i]), got, want)
			}
		}
		i++
	}
	if i != len(vals) {
		t.Fatalf("python printed %d lines for %d values", i, len(vals))
	}
	if bad > 0 {
		t.Errorf("%d of %d floats differ from Python", bad, len(vals))
	}
	t.Logf("compared %d floats with %s", len(vals), strings.TrimSpace(python))
}
