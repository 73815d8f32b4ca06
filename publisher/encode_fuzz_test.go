package publisher_test

import (
	"math"
	"regexp"
	"testing"

	"github.com/influxdata/influxdb1-client/models"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// plainName matches names every OCS component produces; they must never be
// rejected.
var plainName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// FuzzEncoder: whatever the names, strings, floats and times, the encoder
// either writes one line that influxdb1-client's parser reads back to
// exactly the same measurement, tag, fields and time, or reports every
// value it left out.
func FuzzEncoder(f *testing.F) {
	f.Add("observatory.ls240", "temperatures", "mode", "t_1", "auto", math.Float64bits(1.5), int64(3), true, 1700000000.5)
	f.Add(`a,b c`, `f=g h`, `k"e y`, `x\y`, "q\"uo\\te\nline", math.Float64bits(1e-5), int64(-4), false, -1.25)
	f.Add(`m\`, `f\`, `k\`, `time`, `\`, math.Float64bits(math.NaN()), int64(math.MinInt64), true, math.Inf(1))
	f.Add("#m", "", "", "v", "", math.Float64bits(1e300), int64(0), false, 9.3e9)
	f.Add("ü m", "é\u00a0", "\x00", "k", "s", math.Float64bits(-0.0), int64(1), true, 0.0)
	f.Fuzz(func(t *testing.T, agent, feed, skey, fkey, sval string, fbits uint64, ival int64, bval bool, ts float64) {
		fval := math.Float64frombits(fbits)
		if skey == fkey || skey == "n" || fkey == "n" || skey == "b" || fkey == "b" {
			return // distinct keys keep the comparison simple
		}
		m := msg(agent, feed, []float64{ts},
			field(skey, feeds.String(sval)), field(fkey, feeds.Float(fval)),
			field("n", feeds.Int(ival)), field("b", feeds.Bool(bval)))
		rejected := map[string]publisher.Reason{}
		pointRejected := false
		enc := publisher.Encoder{OnReject: func(r publisher.Reject) {
			if r.Field != "" || r.Reason == publisher.ReasonFieldKey {
				rejected[r.Field] = r.Reason
			} else {
				pointRejected = true
			}
		}}
		out, n := enc.AppendMessage(nil, m)

		if n == 0 {
			if !pointRejected || len(out) != 0 {
				t.Fatalf("no line (%q) and no point rejection", out)
			}
			if plainName.MatchString(agent) && plainName.MatchString(feed) && ts > -9e9 && ts < 9e9 && ts == ts {
				t.Fatalf("plain point rejected: agent %q feed %q t %v", agent, feed, ts)
			}
			return
		}
		if n != 1 || pointRejected {
			t.Fatalf("%d lines, point rejected %v: %q", n, pointRejected, out)
		}
		pts, err := models.ParsePoints(out)
		if err != nil || len(pts) != 1 {
			t.Fatalf("ParsePoints(%q): %d points, %v", out, len(pts), err)
		}
		p := pts[0]
		if string(p.Name()) != agent {
			t.Errorf("measurement %q, want %q (line %q)", p.Name(), agent, out)
		}
		if tags := p.Tags(); len(tags) != 1 || string(tags[0].Key) != "feed" || string(tags[0].Value) != feed {
			t.Errorf("tags %q, want feed=%q (line %q)", tags, feed, out)
		}
		if got := p.UnixNano(); got != int64(ts*1e9) {
			t.Errorf("time %d, want %d", got, int64(ts*1e9))
		}
		got, err := p.Fields()
		if err != nil {
			t.Fatalf("fields of %q: %v", out, err)
		}
		want := models.Fields{"n": ival, "b": bval}
		if _, ok := rejected[skey]; !ok {
			want[skey] = sval
		} else if plainName.MatchString(skey) && skey != "time" && len(sval) <= publisher.MaxStringLen {
			t.Errorf("plain field %q rejected (%s)", skey, rejected[skey])
		}
		if _, ok := rejected[fkey]; !ok {
			want[fkey] = fval
		} else if plainName.MatchString(fkey) && fkey != "time" && !math.IsNaN(fval) && !math.IsInf(fval, 0) {
			t.Errorf("plain field %q rejected (%s)", fkey, rejected[fkey])
		}
		if len(got) != len(want) {
			t.Fatalf("fields %q, want %q (line %q)", got, want, out)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("field %q = %#v, want %#v (line %q)", k, got[k], v, out)
			}
		}
	})
}
