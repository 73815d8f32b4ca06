package feeds_test

import (
	"bufio"
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
)

// TestFormatFloatRepr checks Python repr/str of floats on known examples
// (ocs-protocol.md §6.2 and §7.6).
func TestFormatFloatRepr(t *testing.T) {
	cases := []struct {
		f    float64
		want string
	}{
		{1795294463, "1795294463.0"},
		{1795294463.5561733, "1795294463.5561733"},
		{1795294463.718842, "1795294463.718842"},
		{1.5, "1.5"},
		{2, "2.0"},
		{0.1, "0.1"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{-4.25, "-4.25"},
		{1e-05, "1e-05"},
		{0.0001, "0.0001"},
		{0.00012345, "0.00012345"},
		{1e16, "1e+16"},
		{1e15, "1000000000000000.0"},
		{9999999999999998, "9999999999999998.0"},
		{1.5e300, "1.5e+300"},
		{1000000, "1000000.0"},
		{123456789012345678, "1.2345678901234568e+17"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{-1e-7, "-1e-07"},
		{math.NaN(), "nan"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
	}
	for _, c := range cases {
		if got := feeds.FormatFloatRepr(c.f); got != c.want {
			t.Errorf("FormatFloatRepr(%v) = %q, want %q", c.f, got, c.want)
		}
	}
	if got := feeds.FormatSessionID(1795294463); got != "1795294463.0" {
		t.Errorf("FormatSessionID(1795294463) = %q", got)
	}
	if got := feeds.SessionIDFromTime(time.Unix(1795294463, 556173300)); got != "1795294463.5561733" {
		t.Errorf("SessionIDFromTime = %q", got)
	}
	if got := feeds.SessionIDFromTime(time.Unix(1795294463, 0)); got != "1795294463.0" {
		t.Errorf("SessionIDFromTime = %q", got)
	}
	if got := string(feeds.AppendFloatRepr([]byte("x="), 2)); got != "x=2.0" {
		t.Errorf("AppendFloatRepr appended %q", got)
	}
}

// TestFormatFloatReprMatchesPython compares with CPython's repr on random
// floats of every magnitude. It needs /usr/bin/python3.
func TestFormatFloatReprMatchesPython(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is needed as the reference for Python's float repr: %v", python, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var floats []float64
	for e := -330; e <= 310; e++ {
		floats = append(floats, math.Pow(10, float64(e)), -math.Pow(10, float64(e))*rng.Float64())
	}
	for range 3000 {
		floats = append(floats, math.Float64frombits(rng.Uint64()))
	}
	for range 1000 {
		floats = append(floats, 1.7e9+rng.Float64()*1e8, float64(rng.Int64N(1<<60)), rng.Float64())
	}
	var in bytes.Buffer
	for _, f := range floats {
		in.WriteString(strconv.FormatUint(math.Float64bits(f), 16))
		in.WriteByte('\n')
	}
	cmd := exec.Command(python, "-c", `
import struct, sys
for line in sys.stdin:
    print(repr(struct.unpack('<d', struct.pack('<Q', int(line, 16)))[0]))
`)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run %s: %v", python, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	i, bad := 0, 0
	for sc.Scan() {
		want := strings.TrimSpace(sc.Text())
		if got := feeds.FormatFloatRepr(floats[i]); got != want && bad < 20 {
			t.Errorf("FormatFloatRepr(%b) = %q, Python says %q", floats[i], got, want)
			bad++
		}
		i++
	}
	if i != len(floats) {
		t.Fatalf("python printed %d lines for %d floats", i, len(floats))
	}
}

func BenchmarkAppendFloatRepr(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = feeds.AppendFloatRepr(buf[:0], 0.15719005387737342)
	}
}
