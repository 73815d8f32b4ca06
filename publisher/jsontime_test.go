package publisher_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// TestJSONTimestampsMatchPython compares the --protocol json timestamps with
// Python's datetime.fromtimestamp on random times.
func TestJSONTimestampsMatchPython(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is needed to compare with Python's datetime: %v", python, err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var ts []float64
	for i := 0; i < 3000; i++ {
		ts = append(ts, 1.7e9+rng.Float64()*2e8)
		ts = append(ts, (rng.Float64()-0.5)*1e10)
		ts = append(ts, float64(rng.IntN(1e9))+float64(rng.IntN(1e6))/1e6+5e-7)
	}
	var in bytes.Buffer
	for _, f := range ts {
		fmt.Fprintf(&in, "%x\n", math.Float64bits(f))
	}
	cmd := exec.Command(python, "-c", `
import sys, struct, datetime
e = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
for line in sys.stdin:
    t = struct.unpack('<d', int(line, 16).to_bytes(8, 'little'))[0]
    dt = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
    print(((dt - e) // datetime.timedelta(microseconds=1)) * 1000)
`)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run %s: %v", python, err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(ts) {
		t.Fatalf("python printed %d lines for %d times", len(lines), len(ts))
	}
	bad := 0
	for i, f := range ts {
		m := msg("a", "f", []float64{f}, field("x", feeds.Int(1)))
		enc := publisher.Encoder{Protocol: publisher.ProtocolJSON}
		got, _ := enc.AppendMessage(nil, m)
		want := "a,feed=f x=1i " + lines[i] + "\n"
		if string(got) != want {
			bad++
			if bad <= 10 {
				t.Errorf("t=%v: got %q, want %q", f, got, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d timestamps differ from Python", bad, len(ts))
	}
}
