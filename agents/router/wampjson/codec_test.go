package wampjson_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

func TestUnmarshalTypes(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{`2`, int64(2)},
		{`-2`, int64(-2)},
		{`0`, int64(0)},
		{`-0`, int64(0)},
		{`2.0`, 2.0},
		{`1e16`, 1e16},
		{`1E+2`, 100.0},
		{`-1.5e-3`, -1.5e-3},
		{`9223372036854775807`, int64(math.MaxInt64)},
		{`9223372036854775808`, uint64(1 << 63)},
		{`18446744073709551616`, 18446744073709551616.0},
		{`1e400`, math.Inf(1)},
		{`Infinity`, math.Inf(1)},
		{`-Infinity`, math.Inf(-1)},
		{`true`, true},
		{`false`, false},
		{`null`, nil},
		{` "a\"b\\c\/\n\u00e9\ud83d\ude00" `, "a\"b\\c/\né😀"},
		{`"\ud800x"`, "\ufffdx"},
		{`[]`, []any{}},
		{`{}`, map[string]any{}},
		{`[1, 2.5, "x", [null], {"k": false}]`, []any{int64(1), 2.5, "x", []any{nil}, map[string]any{"k": false}}},
		{"\"\\u0000AAE=\"", "\x00AAE="},
	}
	for _, c := range cases {
		got, err := wampjson.Unmarshal([]byte(c.in))
		if err != nil {
			t.Errorf("Unmarshal(%s): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Unmarshal(%s) = %#v (%T), want %#v (%T)", c.in, got, got, c.want, c.want)
		}
	}
}

func TestUnmarshalNaN(t *testing.T) {
	got, err := wampjson.Unmarshal([]byte(`[NaN, 1]`))
	if err != nil {
		t.Fatal(err)
	}
	l := got.([]any)
	if f, ok := l[0].(float64); !ok || !math.IsNaN(f) {
		t.Errorf("NaN decoded as %#v", l[0])
	}
}

func TestUnmarshalWAMPBinary(t *testing.T) {
	got, err := wampjson.UnmarshalWAMP([]byte("[\"\\u0000AAE=\", \"\\u0000not base64!\", \"plain\"]"))
	if err != nil {
		t.Fatal(err)
	}
	want := []any{[]byte{0, 1}, "\x00not base64!", "plain"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for _, in := range []string{
		``, ` `, `[`, `[1,]`, `{"a"}`, `{"a":1,}`, `{1:2}`, `01`, `1.`, `1e`, `-`, `+1`,
		`.5`, `nan`, `inf`, `"abc`, "\"a\x01\"", `"\x"`, `"\u12"`, `[1] 2`, `tru`, "\"\xff\"",
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	} {
		if v, err := wampjson.Unmarshal([]byte(in)); err == nil {
			t.Errorf("Unmarshal(%q) = %#v, want an error", in, v)
		}
	}
}

func TestMarshal(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{int64(2), `2`},
		{2.0, `2.0`},
		{1e16, `1e+16`},
		{float32(0.5), `0.5`},
		{math.NaN(), `NaN`},
		{math.Inf(1), `Infinity`},
		{math.Inf(-1), `-Infinity`},
		{uint64(math.MaxUint64), `18446744073709551615`},
		{int8(-3), `-3`},
		{"é\"\\\n\x01\xff", `"é\"\\\n\u0001\ufffd"`},
		{[]byte{0, 1}, "\"\\u0000AAE=\""},
		{map[string]any{"b": 1, "a": []any{true, nil}}, `{"a":[true,null],"b":1}`},
		{wamp.Dict{"x": wamp.List{wamp.URI("u"), wamp.ID(7)}}, `{"x":["u",7]}`},
		{[]string{"a", "b"}, `["a","b"]`},
		{map[int]string{1: "x"}, `{"1":"x"}`},
		{[2]float64{1, 2}, `[1.0,2.0]`},
		{(*int)(nil), `null`},
		{json.Number("12"), `12`},
		{struct {
			A int `json:"a"`
		}{3}, `{"a":3}`},
	}
	for _, c := range cases {
		got, err := wampjson.Marshal(c.in)
		if err != nil {
			t.Errorf("Marshal(%#v): %v", c.in, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("Marshal(%#v) = %s, want %s", c.in, got, c.want)
		}
	}
	if _, err := wampjson.Marshal(json.Number("1x")); err == nil {
		t.Error("Marshal(json.Number(\"1x\")) succeeded")
	}
}

func TestMarshalIndent(t *testing.T) {
	got, err := wampjson.MarshalIndent(map[string]any{"a": []any{int64(1), 2.0}, "b": map[string]any{}}, "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a\": [\n    1,\n    2.0\n  ],\n  \"b\": {}\n}"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestAppendFloatPythonRepr checks values whose Python repr is well known.
func TestAppendFloatPythonRepr(t *testing.T) {
	cases := []struct {
		f    float64
		want string
	}{
		{2, "2.0"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{0.1, "0.1"},
		{1.0 / 3, "0.3333333333333333"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{1.5e-7, "1.5e-07"},
		{1e15, "1000000000000000.0"},
		{1e16, "1e+16"},
		{1e21, "1e+21"},
		{1e22, "1e+22"},
		{123456789012345680, "1.2345678901234568e+17"},
		{9007199254740993, "9007199254740992.0"},
		{1795294567.9462838, "1795294567.9462838"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{-2.5, "-2.5"},
	}
	for _, c := range cases {
		if got := string(wampjson.AppendFloat(nil, c.f)); got != c.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", c.f, got, c.want)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{`[1,2.0,"x",{"a":null}]`, `NaN`, `-Infinity`, `1e16`, `"\u00e9"`, `{"k":[true,false]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := wampjson.UnmarshalWAMP(data)
		if err != nil {
			return
		}
		enc, err := wampjson.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", v, err)
		}
		v2, err := wampjson.UnmarshalWAMP(enc)
		if err != nil {
			t.Fatalf("re-decoding %q: %v", enc, err)
		}
		enc2, err := wampjson.Marshal(v2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("not stable: %q then %q", enc, enc2)
		}
		if !sameValue(v, v2) {
			t.Fatalf("round trip changed %#v into %#v", v, v2)
		}
	})
}

// sameValue is reflect.DeepEqual that treats NaN as equal to NaN.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y && math.Signbit(x) == math.Signbit(y) || math.IsNaN(x) && math.IsNaN(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
