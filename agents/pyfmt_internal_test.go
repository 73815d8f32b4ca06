package agents

import (
	"math"
	"math/big"
	"testing"
)

// Expected texts were produced with CPython 3.11 (repr/str of the same
// values).
func TestPyFloatRepr(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{1795294463.5561733, "1795294463.5561733"},
		{1795294463, "1795294463.0"},
		{1795294463.718842, "1795294463.718842"},
		{2, "2.0"},
		{-2, "-2.0"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1.5, "1.5"},
		{0.1, "0.1"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{0.000012345, "1.2345e-05"},
		{1e15, "1000000000000000.0"},
		{1e16, "1e+16"},
		{1.5e16, "1.5e+16"},
		{123456789012345678, "1.2345678901234568e+17"},
		{1e100, "1e+100"},
		{1e-100, "1e-100"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.NaN(), "nan"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{9999999999999998, "9999999999999998.0"},
	}
	for _, c := range cases {
		if got := pyFloatRepr(c.in); got != c.want {
			t.Errorf("pyFloatRepr(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPyStrAndRepr(t *testing.T) {
	big1 := new(big.Int).Lsh(big.NewInt(1), 70)
	cases := []struct {
		in       any
		str, rep string
	}{
		{"yes", "yes", "'yes'"},
		{"it's", "it's", `"it's"`},
		{`both ' and "`, `both ' and "`, `'both \' and "'`},
		{"tab\tnl\n\\", "tab\tnl\n\\", `'tab\tnl\n\\'`},
		{"\x01\x7f", "\x01\x7f", `'\x01\x7f'`},
		{"température", "température", "'température'"},
		{"\u00a0", "\u00a0", `'\xa0'`},
		{"\u200b", "\u200b", `'\u200b'`},
		{true, "True", "True"},
		{false, "False", "False"},
		{nil, "None", "None"},
		{int64(-3), "-3", "-3"},
		{uint64(math.MaxUint64), "18446744073709551615", "18446744073709551615"},
		{big1, "1180591620717411303424", "1180591620717411303424"},
		{1.0, "1.0", "1.0"},
		{[]any{int64(1), "a", true, nil, 2.5}, "[1, 'a', True, None, 2.5]", "[1, 'a', True, None, 2.5]"},
		{pyTuple{int64(1)}, "(1,)", "(1,)"},
		{pyTuple{int64(1), "b"}, "(1, 'b')", "(1, 'b')"},
		{map[string]any{"b": int64(2), "a": []any{}}, "{'a': [], 'b': 2}", "{'a': [], 'b': 2}"},
		{[]byte("x'"), `b"x'"`, `b"x'"`},
	}
	for _, c := range cases {
		if got := pyStr(c.in); got != c.str {
			t.Errorf("pyStr(%#v) = %q, want %q", c.in, got, c.str)
		}
		if got := pyRepr(c.in); got != c.rep {
			t.Errorf("pyRepr(%#v) = %q, want %q", c.in, got, c.rep)
		}
	}
}

func TestPyEqual(t *testing.T) {
	cases := []struct {
		a, b any
		want bool
	}{
		{int64(1), 1.0, true},
		{true, int64(1), true},
		{false, 0.0, true},
		{int64(2), true, false},
		{"a", "a", true},
		{"1", int64(1), false},
		{nil, nil, true},
		{nil, int64(0), false},
		{[]any{int64(1), "x"}, []any{1.0, "x"}, true},
		{[]any{int64(1)}, pyTuple{int64(1)}, false},
		{map[string]any{"a": int64(1)}, map[string]any{"a": 1.0}, true},
		{math.NaN(), math.NaN(), false},
		{uint64(math.MaxUint64), float64(math.MaxUint64), false}, // 2**64-1 != 2.0**64
	}
	for _, c := range cases {
		if got := pyEqual(c.a, c.b); got != c.want {
			t.Errorf("pyEqual(%#v, %#v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	in := map[string]any{
		"i": 3, "u": uint64(7), "f": float32(0.5), "l": []float64{1, 2},
		"m": map[string]int{"x": 1}, "s": []string{"a"},
	}
	got := normalize(in).(map[string]any)
	if got["i"] != int64(3) || got["u"] != int64(7) || got["f"] != 0.5 {
		t.Errorf("scalars: %#v", got)
	}
	if l := got["l"].([]any); len(l) != 2 || l[0] != 1.0 {
		t.Errorf("list: %#v", got["l"])
	}
	if m := got["m"].(map[string]any); m["x"] != int64(1) {
		t.Errorf("map: %#v", got["m"])
	}
	if s := got["s"].([]any); s[0] != "a" {
		t.Errorf("strings: %#v", got["s"])
	}
}
