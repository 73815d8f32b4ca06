package wampjson_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

const python = "/usr/bin/python3"

// TestFloatsMatchPython compares AppendFloat with CPython's json.dumps on
// random floats of every magnitude, and checks that Python reads the
// tokens we write back as the same floats.
func TestFloatsMatchPython(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is needed for this test (Debian python3): %v", python, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	floats := []float64{2, 1e16, 1e15, 0.0001, 0.00001, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1)}
	for range 3000 {
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) {
			continue
		}
		floats = append(floats, f)
	}
	for range 1000 {
		// Integral floats across the range where JSON encoders go wrong.
		floats = append(floats, math.Trunc(rng.Float64()*math.Pow(10, float64(rng.IntN(25)))))
	}
	var in strings.Builder
	for _, f := range floats {
		in.WriteString(strconv.FormatUint(math.Float64bits(f), 10))
		in.WriteByte('\n')
	}
	script := `
import json, struct, sys
for line in sys.stdin:
    f = struct.unpack('<d', struct.pack('<Q', int(line)))[0]
    print(json.dumps(f))
`
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running %s: %v", python, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(floats) {
		t.Fatalf("python printed %d lines for %d floats", len(lines), len(floats))
	}
	bad := 0
	for i, f := range floats {
		got := string(wampjson.AppendFloat(nil, f))
		if got != lines[i] {
			bad++
			if bad <= 10 {
				t.Errorf("float %v (bits %x): we write %s, Python writes %s", f, math.Float64bits(f), got, lines[i])
			}
		}
	}
	if bad > 10 {
		t.Errorf("%d floats differ in total", bad)
	}
}

// TestPythonReadsOurJSON has Python's json module decode a document we
// wrote, and checks types and values survive.
func TestPythonReadsOurJSON(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is needed for this test (Debian python3): %v", python, err)
	}
	doc, err := wampjson.Marshal(map[string]any{
		"int": int64(2), "float": 2.0, "big": 1e16, "nan": math.NaN(), "inf": math.Inf(-1),
		"s": "é\"\n\x01", "list": []any{true, nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys
d = json.loads(sys.stdin.read())
print(sorted((k, type(v).__name__, repr(v)) for k, v in d.items()))
`
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python could not read %s: %v\n%s", doc, err, out)
	}
	want := `[('big', 'float', '1e+16'), ('float', 'float', '2.0'), ('inf', 'float', '-inf'), ('int', 'int', '2'), ('list', 'list', '[True, None]'), ('nan', 'float', 'nan'), ('s', 'str', '\'é"\\n\\x01\'')]`
	if strings.TrimSpace(string(out)) != want {
		t.Errorf("python read\n%s\nwant\n%s", out, want)
	}
}
