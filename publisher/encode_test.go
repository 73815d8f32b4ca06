package publisher_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/influxdata/influxdb1-client/models"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/internal/pyrepr"
	"github.com/ocsflux/ocsflux/publisher"
)

// TestGolden walks testdata/golden/<case>/: event.json is an OCS feed event
// argument, line.lp the body the Python agent writes with --protocol line
// (worked_example: ocs-protocol.md §7.9; fake_data*: bodies captured from
// the Python agent, reference-output.md §7; floats: Python repr of each
// value), json.lp (when present) what its --protocol json writes (§7.9 and,
// for the captures, timestamps computed with Python's datetime).
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadEvent(t, filepath.Join(dir, "event.json"))
			for _, proto := range []publisher.Protocol{publisher.ProtocolLine, publisher.ProtocolJSON} {
				want, err := os.ReadFile(filepath.Join(dir, string(proto)+".lp"))
				if os.IsNotExist(err) {
					if proto == publisher.ProtocolLine {
						t.Fatalf("missing line.lp")
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				var rejects []publisher.Reject
				enc := publisher.Encoder{Protocol: proto, OnReject: func(r publisher.Reject) { rejects = append(rejects, r) }}
				got, n := enc.AppendMessage([]byte("keep\n"), m)
				if !bytes.HasPrefix(got, []byte("keep\n")) {
					t.Errorf("%s: the caller's bytes were changed", proto)
				}
				got = got[len("keep\n"):]
				if !bytes.Equal(got, want) {
					t.Errorf("%s: body differs\n got: %s\nwant: %s", proto, got, want)
				}
				if wantN := bytes.Count(want, []byte("\n")); n != wantN {
					t.Errorf("%s: %d lines reported, want %d", proto, n, wantN)
				}
				if len(rejects) != 0 {
					t.Errorf("%s: rejects %+v for well-formed input", proto, rejects)
				}
				if _, err := models.ParsePoints(got); err != nil {
					t.Errorf("%s: models.ParsePoints: %v", proto, err)
				}
			}
		})
	}
}

// TestTimestampConversion checks int64(t*1e9) against the values of
// ocs-protocol.md §7.6 and the captures.
func TestTimestampConversion(t *testing.T) {
	for _, c := range []struct {
		t    float64
		line string
	}{
		{1700000000.25, "1700000000249999872"},
		{1795294567.9462838, "1795294567946283776"},
		{1795294720.378768, "1795294720378767872"},
		{1795294722.211002, "1795294722211002112"},
		{-1.5, "-1500000000"},
		{0, "0"},
		{9223372036.854775, "9223372036854774784"},
		// Where appendTimestamp switches between strconv (below 10^16)
		// and its 17-, 18- and 19-digit forms.
		{9999999.999999998, "9999999999999998"},
		{1e7, "10000000000000000"},
		{99999999.99999999, "99999999999999984"},
		{1e8, "100000000000000000"},
		{123456789.5, "123456789500000000"},
		{9.2e9, "9200000000000000000"},
	} {
		m := msg("a", "f", []float64{c.t}, field("x", feeds.Int(1)))
		var enc publisher.Encoder
		got, _ := enc.AppendMessage(nil, m)
		want := "a,feed=f x=1i " + c.line + "\n"
		if string(got) != want {
			t.Errorf("t=%v: got %q, want %q", c.t, got, want)
		}
	}
}

// TestRejects checks that values InfluxDB would refuse are left out and
// reported with their names and reasons, without losing the rest.
func TestRejects(t *testing.T) {
	long := strings.Repeat("x", publisher.MaxStringLen+1)
	okString := strings.Repeat("y", publisher.MaxStringLen)
	cases := []struct {
		name    string
		m       *feeds.Message
		proto   publisher.Protocol
		want    string
		rejects []publisher.Reject
	}{
		{
			name: "nan and inf dropped per field",
			m: msg("a", "f", []float64{1, 2, 3},
				field("x", feeds.Float(math.NaN()), feeds.Float(math.Inf(1)), feeds.Float(math.Inf(-1))),
				field("y", feeds.Int(1), feeds.Int(2), feeds.Int(3))),
			want: "a,feed=f y=1i 1000000000\na,feed=f y=2i 2000000000\na,feed=f y=3i 3000000000\n",
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonNonFinite, Agent: "a", Feed: "f", Field: "x", Count: 1},
				{Reason: publisher.ReasonNonFinite, Agent: "a", Feed: "f", Field: "x", Count: 1},
				{Reason: publisher.ReasonNonFinite, Agent: "a", Feed: "f", Field: "x", Count: 1},
			},
		},
		{
			name: "point without any writable field",
			m:    msg("a", "f", []float64{1}, field("x", feeds.Float(math.NaN()))),
			want: "",
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonNonFinite, Agent: "a", Feed: "f", Field: "x", Count: 1},
				{Reason: publisher.ReasonNoFields, Agent: "a", Feed: "f", Count: 1},
			},
		},
		{
			name: "field key time",
			m:    msg("a", "f", []float64{1, 2}, field("time", feeds.Int(1), feeds.Int(2)), field("v", feeds.Bool(true), feeds.Bool(false))),
			want: "a,feed=f v=True 1000000000\na,feed=f v=False 2000000000\n",
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonTimeField, Agent: "a", Feed: "f", Field: "time", Count: 2},
			},
		},
		{
			name: "bad field keys",
			m: msg("a", "f", []float64{1},
				field("", feeds.Int(1)), field("a\nb", feeds.Int(1)), field(`tr\`, feeds.Int(1)),
				field(`b\,c`, feeds.Int(1)), field("ok", feeds.Int(7))),
			want: "a,feed=f ok=7i 1000000000\n",
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonFieldKey, Agent: "a", Feed: "f", Field: "", Count: 1},
				{Reason: publisher.ReasonFieldKey, Agent: "a", Feed: "f", Field: "a\nb", Count: 1},
				{Reason: publisher.ReasonFieldKey, Agent: "a", Feed: "f", Field: `tr\`, Count: 1},
				{Reason: publisher.ReasonFieldKey, Agent: "a", Feed: "f", Field: `b\,c`, Count: 1},
			},
		},
		{
			name: "long string",
			m:    msg("a", "f", []float64{1}, field("s", feeds.String(long)), field("t", feeds.String(okString))),
			want: `a,feed=f t="` + okString + "\" 1000000000\n",
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonLongString, Agent: "a", Feed: "f", Field: "s", Count: 1},
			},
		},
		{
			// The feeds decoder reports null, list and object values and
			// leaves them absent (KindInvalid): not counted again.
			name: "absent values",
			m:    msg("a", "f", []float64{1, 2}, field("n", feeds.Value{}, feeds.Int(1)), field("v", feeds.Float(0.5), feeds.Value{})),
			want: "a,feed=f v=0.5 1000000000\na,feed=f n=1i 2000000000\n",
		},
		{
			name: "short data array",
			m:    msg("a", "f", []float64{1, 2}, field("x", feeds.Int(1)), field("y", feeds.Int(5), feeds.Int(6))),
			want: "a,feed=f x=1i,y=5i 1000000000\na,feed=f y=6i 2000000000\n",
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonShortData, Agent: "a", Feed: "f", Field: "x", Count: 1},
			},
		},
		{
			name: "timestamps NaN, Inf, overflow, out of range",
			m: msg("a", "f", []float64{math.NaN(), math.Inf(1), 1e300, -9.3e9, 9.3e9, 5},
				field("x", feeds.Int(1), feeds.Int(2), feeds.Int(3), feeds.Int(4), feeds.Int(5), feeds.Int(6))),
			want: "a,feed=f x=6i 5000000000\n",
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonTimestamp, Agent: "a", Feed: "f", Count: 1},
				{Reason: publisher.ReasonTimestamp, Agent: "a", Feed: "f", Count: 1},
				{Reason: publisher.ReasonTimestamp, Agent: "a", Feed: "f", Count: 1},
				{Reason: publisher.ReasonTimestamp, Agent: "a", Feed: "f", Count: 1},
				{Reason: publisher.ReasonTimestamp, Agent: "a", Feed: "f", Count: 1},
			},
		},
		{
			name:  "json: year 10000 and NaN timestamps",
			proto: publisher.ProtocolJSON,
			m: msg("a", "f", []float64{1e12, math.NaN(), 2.5e-06, 3.5e-06, 1.0000005},
				field("x", feeds.Int(1), feeds.Int(2), feeds.Int(3), feeds.Int(4), feeds.Int(5))),
			// Python datetime: 2.5 µs → 2 µs, 3.5 µs → 4 µs (half to even);
			// 1.0000005's double is just above the half.
			want: "a,feed=f x=3i 2000\na,feed=f x=4i 4000\na,feed=f x=5i 1000001000\n",
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonTimestamp, Agent: "a", Feed: "f", Count: 1},
				{Reason: publisher.ReasonTimestamp, Agent: "a", Feed: "f", Count: 1},
			},
		},
		{
			name: "bad measurement",
			m:    msg("#agent", "f", []float64{1, 2}, field("x", feeds.Int(1), feeds.Int(2))),
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonMeasurement, Agent: "#agent", Feed: "f", Count: 2},
			},
		},
		{
			name: "empty feed name",
			m:    msg("a", "", []float64{1}, field("x", feeds.Int(1))),
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonFeedName, Agent: "a", Feed: "", Count: 1},
			},
		},
		{
			name: "measurement with a tab",
			m:    msg("a\tb", "f", []float64{1}, field("x", feeds.Int(1))),
			rejects: []publisher.Reject{
				{Reason: publisher.ReasonMeasurement, Agent: "a\tb", Feed: "f", Count: 1},
			},
		},
		{
			name: "empty message and empty block",
			m: &feeds.Message{Info: feeds.Info{AgentAddress: "a", FeedName: "f", Record: true},
				Blocks: []feeds.Block{{Name: "e", Fields: []feeds.Field{{Name: "x"}}}}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []publisher.Reject
			enc := publisher.Encoder{Protocol: c.proto, OnReject: func(r publisher.Reject) { got = append(got, r) }}
			out, _ := enc.AppendMessage(nil, c.m)
			if string(out) != c.want {
				t.Errorf("body\n got: %q\nwant: %q", out, c.want)
			}
			if !reflect.DeepEqual(got, c.rejects) {
				t.Errorf("rejects\n got: %+v\nwant: %+v", got, c.rejects)
			}
		})
	}
}

// TestEscaping checks that names and strings with every special character
// parse back (influxdb1-client models) to exactly what was sent.
func TestEscaping(t *testing.T) {
	str := "a \"quoted\" \\back\\slash\\, comma, eq=, space  and\nnew\r\nlines\\"
	m := msg(`obs,er vatory=x\y`, `fe ed,=x`, []float64{1.5},
		field(`k e,y=1`, feeds.String(str)),
		field(`q"uote`, feeds.String(`\`)),
		field("ünï", feeds.String("")),
	)
	var enc publisher.Encoder
	enc.OnReject = func(r publisher.Reject) { t.Errorf("unexpected reject %+v", r) }
	out, n := enc.AppendMessage(nil, m)
	if n != 1 {
		t.Fatalf("%d lines, want 1: %q", n, out)
	}
	want := `obs\,er\ vatory=x\y,feed=fe\ ed\,\=x k\ e\,y\=1="a \"quoted\" \\back\\slash\\, comma, eq=, space  and` +
		"\nnew\r\nlines\\\\\",q\"uote=\"\\\\\",ünï=\"\" 1500000000\n"
	if string(out) != want {
		t.Errorf("line\n got: %q\nwant: %q", out, want)
	}
	pts, err := models.ParsePoints(out)
	if err != nil || len(pts) != 1 {
		t.Fatalf("ParsePoints: %d points, %v", len(pts), err)
	}
	p := pts[0]
	if string(p.Name()) != `obs,er vatory=x\y` {
		t.Errorf("measurement %q", p.Name())
	}
	if tags := p.Tags(); len(tags) != 1 || string(tags[0].Key) != "feed" || string(tags[0].Value) != `fe ed,=x` {
		t.Errorf("tags %v", tags)
	}
	fields, err := p.Fields()
	if err != nil {
		t.Fatal(err)
	}
	wantFields := models.Fields{`k e,y=1`: str, `q"uote`: `\`, "ünï": ""}
	if !reflect.DeepEqual(fields, wantFields) {
		t.Errorf("fields\n got: %q\nwant: %q", fields, wantFields)
	}
}

// TestEncoderNoAllocs checks the encode path allocates nothing per point
// once the encoder and the buffer have grown.
func TestEncoderNoAllocs(t *testing.T) {
	m := benchMessage(100, 10)
	m.Blocks[0].Fields = append(m.Blocks[0].Fields, field("s", make([]feeds.Value, 100)...))
	for i := range m.Blocks[0].Fields[10].Values {
		m.Blocks[0].Fields[10].Values[i] = feeds.String(`needs "escaping"`)
	}
	var enc publisher.Encoder
	buf, _ := enc.AppendMessage(nil, m)
	for _, proto := range []publisher.Protocol{publisher.ProtocolLine, publisher.ProtocolJSON} {
		enc.Protocol = proto
		n := testing.AllocsPerRun(20, func() {
			buf, _ = enc.AppendMessage(buf[:0], m)
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per 100-point message, want 0", proto, n)
		}
	}
}

// TestRecordable checks the feed filter: record must be true and
// agg_params.exclude_influx not truthy in Python's sense.
func TestRecordable(t *testing.T) {
	for _, c := range []struct {
		record bool
		agg    map[string]any
		want   bool
	}{
		{true, nil, true},
		{true, map[string]any{"frame_length": 60.0}, true},
		{false, nil, false},
		{true, map[string]any{"exclude_influx": true}, false},
		{true, map[string]any{"exclude_influx": false}, true},
		{true, map[string]any{"exclude_influx": nil}, true},
		{true, map[string]any{"exclude_influx": 1.0}, false},
		{true, map[string]any{"exclude_influx": 0.0}, true},
		{true, map[string]any{"exclude_influx": int64(2)}, false},
		{true, map[string]any{"exclude_influx": "no"}, false}, // non-empty string
		{true, map[string]any{"exclude_influx": ""}, true},
		{true, map[string]any{"exclude_influx": []any{}}, true},
		{true, map[string]any{"exclude_influx": []any{0}}, false},
		{true, map[string]any{"exclude_influx": map[string]any{}}, true},
		{true, map[string]any{"exclude_influx": uint8(1)}, false},
	} {
		info := feeds.Info{Record: c.record, AggParams: c.agg}
		if got := publisher.Recordable(&info); got != c.want {
			t.Errorf("record=%v agg=%v: %v, want %v", c.record, c.agg, got, c.want)
		}
	}
}

// TestGoldenThroughFeedsDecoder runs the golden events through the real
// feeds decoder, then the encoder: the whole path from WAMP JSON to the
// /write body is byte-identical to the Python agent.
func TestGoldenThroughFeedsDecoder(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/golden/*")
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "event.json"))
			if err != nil {
				t.Fatal(err)
			}
			m, problems, err := feeds.DecodeEventJSON(data)
			if err != nil || len(problems) != 0 {
				t.Fatalf("decode: %v %v", err, problems)
			}
			want, err := os.ReadFile(filepath.Join(dir, "line.lp"))
			if err != nil {
				t.Fatal(err)
			}
			var enc publisher.Encoder
			if got, _ := enc.AppendMessage(nil, &m); !bytes.Equal(got, want) {
				t.Errorf("body\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

// refLines is a plain, slow line-protocol encoder written from the rules
// (ocs-protocol.md §7.6 and the Reason docs) for valid names: the oracle of
// TestEncoderMatchesReference. It also counts the rejections the encoder
// reports: each value left out of a written or empty point, each point
// without time or fields, and for a field key "time" all its block's
// samples.
func refLines(m *feeds.Message) (string, uint64) {
	var rejected uint64
	esc := func(s, special string) string {
		var b strings.Builder
		for _, r := range s {
			if strings.ContainsRune(special, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	var out strings.Builder
	for _, b := range m.Blocks {
		for _, f := range b.Fields {
			if f.Name == "time" {
				rejected += uint64(len(b.Timestamps))
			}
		}
		for i, t := range b.Timestamps {
			p := t * 1e9
			if !(p < 0x1p63 && p >= -0x1p63) || int64(p) < models.MinNanoTime || int64(p) > models.MaxNanoTime {
				rejected++
				continue
			}
			var fields []string
			for _, f := range b.Fields {
				if f.Name == "time" {
					continue
				}
				if i >= len(f.Values) {
					rejected++
					continue
				}
				key := esc(f.Name, ",= ") + "="
				switch v := f.Values[i]; v.Kind {
				case feeds.KindFloat:
					if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
						rejected++
					} else {
						fields = append(fields, key+string(pyrepr.AppendFloatStrconv(nil, v.F)))
					}
				case feeds.KindInt:
					fields = append(fields, key+strconv.FormatInt(v.I, 10)+"i")
				case feeds.KindBool:
					fields = append(fields, key+map[bool]string{true: "True", false: "False"}[v.B])
				case feeds.KindString:
					if len(v.S) > publisher.MaxStringLen {
						rejected++
					} else {
						fields = append(fields, key+`"`+esc(v.S, `"\`)+`"`)
					}
				}
			}
			if len(fields) == 0 {
				rejected++
				continue
			}
			fmt.Fprintf(&out, "%s,feed=%s ", esc(m.Info.AgentAddress, ", "), esc(m.Info.FeedName, ",= "))
			for i, f := range fields {
				if i > 0 {
					out.WriteByte(',')
				}
				out.WriteString(f)
			}
			fmt.Fprintf(&out, " %d\n", int64(p))
		}
	}
	return out.String(), rejected
}

// randomMessage builds a message of random blocks, names with characters
// that need escaping, values of every kind (NaN, ±Inf, absent values,
// short data arrays, the field key "time") and times of every range.
func randomMessage(rng *rand.Rand) *feeds.Message {
	name := func() string {
		const chars = "abcxyz_.-09, =ü"
		n := 1 + rng.IntN(12)
		var b strings.Builder
		for range n {
			b.WriteString(string([]rune(chars)[rng.IntN(len([]rune(chars)))]))
		}
		if rng.IntN(20) == 0 {
			return "time"
		}
		return b.String()
	}
	value := func() feeds.Value {
		switch rng.IntN(12) {
		case 0:
			return feeds.Int(rng.Int64() >> rng.IntN(64))
		case 1:
			return feeds.Bool(rng.IntN(2) == 0)
		case 2:
			return feeds.String(`s "q" \b` + name())
		case 3:
			return feeds.Value{} // absent
		case 4:
			return feeds.Float(math.Float64frombits(rng.Uint64())) // NaN and ±Inf now and then
		case 5:
			return feeds.Float([]float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1)}[rng.IntN(5)])
		case 6:
			return feeds.Float(float64(rng.IntN(2000)-1000) / 8)
		default:
			return feeds.Float(0.1 + (2*rng.Float64()-1)*0.01)
		}
	}
	m := &feeds.Message{Info: feeds.Info{AgentAddress: strings.TrimLeft(name(), "#"), FeedName: name(), Record: true}}
	for range 1 + rng.IntN(3) {
		n := rng.IntN(6)
		b := feeds.Block{Name: "b"}
		for range n {
			var t float64
			switch rng.IntN(8) {
			case 0:
				t = (rng.Float64() - 0.5) * 2e10 // also beyond InfluxDB's range
			case 1:
				t = float64(rng.IntN(1e7)) / 1e3 // small, including 0
			case 2:
				t = []float64{math.NaN(), math.Inf(1), -9.3e9, 9.3e9, 1e7}[rng.IntN(5)]
			default:
				t = 1795294689.578768 + rng.Float64()*1e6
			}
			b.Timestamps = append(b.Timestamps, t)
		}
		used := map[string]bool{}
		for range rng.IntN(6) {
			f := feeds.Field{Name: name()}
			if used[f.Name] {
				continue
			}
			used[f.Name] = true
			vals := n
			if rng.IntN(8) == 0 && n > 0 {
				vals = rng.IntN(n) // short data array
			}
			for range vals {
				f.Values = append(f.Values, value())
			}
			b.Fields = append(b.Fields, f)
		}
		m.Blocks = append(m.Blocks, b)
	}
	return m
}

// TestEncoderMatchesReference compares the encoder, line protocol, with
// the plain reference encoder on random messages, and checks that every
// value and point left out was reported.
func TestEncoderMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var enc publisher.Encoder
	var buf []byte
	for i := range 20000 {
		m := randomMessage(rng)
		want, wantRejected := refLines(m)
		var rejected uint64
		enc.OnReject = func(r publisher.Reject) { rejected += r.Count }
		var n int
		buf, n = enc.AppendMessage(buf[:0], m)
		if string(buf) != want {
			t.Fatalf("message %d %+v:\n got: %q\nwant: %q", i, m, buf, want)
		}
		if n != strings.Count(want, "\n") {
			t.Errorf("message %d: %d lines reported, want %d", i, n, strings.Count(want, "\n"))
		}
		if rejected != wantRejected {
			t.Errorf("message %d %+v: %d rejections reported, want %d", i, m, rejected, wantRejected)
		}

	}
}
