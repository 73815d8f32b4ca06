package site_test

import (
	"math"
	"testing"

	"github.com/ocsflux/ocsflux/site"
)

// Expected texts are CPython 3.11's repr().
func TestPyFloatRepr(t *testing.T) {
	for _, tt := range []struct {
		f    float64
		want string
	}{
		{1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {9999999999999998, "9999999999999998.0"},
		{1e-4, "0.0001"}, {1e-5, "1e-05"}, {0.0001234, "0.0001234"}, {123456789012345678, "1.2345678901234568e+17"},
		{0.1, "0.1"}, {100, "100.0"}, {math.Copysign(0, -1), "-0.0"}, {5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"}, {1.5e300, "1.5e+300"}, {2.5, "2.5"}, {-1e-7, "-1e-07"},
		{math.NaN(), "nan"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
	} {
		if got := site.PyFloatRepr(tt.f); got != tt.want {
			t.Errorf("PyFloatRepr(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestPyStrRepr(t *testing.T) {
	for in, want := range map[string]string{
		"it's": `"it's"`, `a"b`: `'a"b'`, "x\\y\n": `'x\\y\n'`, `both'"`: `'both\'"'`, "": "''",
	} {
		if got := site.PyStrRepr(in); got != want {
			t.Errorf("PyStrRepr(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParsePythonNumbers(t *testing.T) {
	ints := map[string]int64{"8086": 8086, " +12 ": 12, "007": 7, "1_000": 1000, "-5": -5}
	for in, want := range ints {
		if got, err := site.ParsePyInt(in); err != nil || got != want {
			t.Errorf("ParsePyInt(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.0", "0x10", "1__0", "_1", "1_", "1e3", "one"} {
		if _, err := site.ParsePyInt(in); err == nil {
			t.Errorf("ParsePyInt(%q) accepted", in)
		}
	}
	floats := map[string]float64{"9.5": 9.5, "5": 5, " 1e3 ": 1000, "1_0.5": 10.5, ".5": 0.5, "1.": 1, "-Infinity": math.Inf(-1), "1e400": math.Inf(1)}
	for in, want := range floats {
		if got, err := site.ParsePyFloat(in); err != nil || got != want {
			t.Errorf("ParsePyFloat(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if f, err := site.ParsePyFloat("nan"); err != nil || !math.IsNaN(f) {
		t.Errorf("ParsePyFloat(nan) = %v, %v", f, err)
	}
	for _, in := range []string{"", "0x1p3", "1__0", "fast", "1e", "."} {
		if _, err := site.ParsePyFloat(in); err == nil {
			t.Errorf("ParsePyFloat(%q) accepted", in)
		}
	}
}

func TestSizesAndDurations(t *testing.T) {
	sizes := map[string]int64{"4MiB": 4 << 20, "4mi": 4 << 20, "64MB": 64e6, "1GiB": 1 << 30, "512 KiB": 512 << 10, "1500": 1500, "7B": 7}
	for in, want := range sizes {
		if got, err := site.ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "4 parsecs", "99999999999TiB"} {
		if _, err := site.ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) accepted", in)
		}
	}
	for in, want := range map[string]string{"1s": "1s", "500ms": "500ms", "90": "1m30s", "7d": "7d", "1.5d": "36h", "2h0m": "2h"} {
		d, err := site.ParseDuration(in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", in, err)
			continue
		}
		if got := site.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(ParseDuration(%q)) = %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{"", "soon", "inf", "nan", "1x"} {
		if _, err := site.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	if got := site.FormatBytes(4 << 20); got != "4MiB" {
		t.Errorf("FormatBytes = %q", got)
	}
}
