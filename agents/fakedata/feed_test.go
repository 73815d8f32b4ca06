package fakedata_test

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/fakedata"
)

const feedTopic = testRoot + ".fake-data1.feeds.false_temperatures"

// pyFloatString is Python's str() of a positive float time.
var pyFloatString = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// feedEvent checks that ev is an OCS feed event, one positional argument
// [message, feed_info] and no keyword arguments, whose feed_info is the
// FakeDataAgent's false_temperatures feed_info, field by field; it returns
// the message.
func feedEvent(t *testing.T, ta *testAgent, ev *wamp.Event, frameLength int) map[string]any {
	t.Helper()
	if len(ev.Arguments) != 1 || len(ev.ArgumentsKw) != 0 {
		t.Fatalf("feed event args %v kwargs %v, want one argument and no kwargs", ev.Arguments, ev.ArgumentsKw)
	}
	pair, ok := ev.Arguments[0].([]any)
	if !ok || len(pair) != 2 {
		t.Fatalf("feed event argument %#v is not a [message, feed_info] pair", ev.Arguments[0])
	}
	info, ok := pair[1].(map[string]any)
	if !ok {
		t.Fatalf("feed_info %#v is not an object", pair[1])
	}
	checkFeedInfo(t, ta, info, fakedata.FeedName, true, frameLength)
	msg, ok := pair[0].(map[string]any)
	if !ok {
		t.Fatalf("message %#v is not an object", pair[0])
	}
	return msg
}

// checkFeedInfo checks a feed_info of the agent: exactly the 7 keys of
// OCS, with the values Python sends (frameLength < 0: agg_params {}).
func checkFeedInfo(t *testing.T, ta *testAgent, info map[string]any, feed string, record bool, frameLength int) {
	t.Helper()
	keys := make([]string, 0, len(info))
	for k := range info {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"address", "agent_address", "agent_class", "agg_params", "feed_name", "record", "session_id"}
	if !slices.Equal(keys, want) {
		t.Errorf("feed_info keys %v, want %v", keys, want)
	}
	str := func(k, v string) {
		if got, _ := info[k].(string); got != v {
			t.Errorf("feed_info %s = %#v, want %q", k, info[k], v)
		}
	}
	str("agent_address", ta.Address())
	str("feed_name", feed)
	str("address", ta.Address()+".feeds."+feed)
	str("agent_class", "FakeDataAgent")
	str("session_id", ta.Runtime().SessionID())
	if sid, _ := info["session_id"].(string); !pyFloatString.MatchString(sid) {
		t.Errorf("feed_info session_id %q is not a Python float string", sid)
	}
	if r, ok := info["record"].(bool); !ok || r != record {
		t.Errorf("feed_info record = %#v, want %v", info["record"], record)
	}
	agg, ok := info["agg_params"].(map[string]any)
	switch {
	case !ok:
		t.Errorf("agg_params %#v is not an object", info["agg_params"])
	case frameLength < 0:
		if len(agg) != 0 {
			t.Errorf("agg_params %v, want {}", agg)
		}
	default:
		if n, isInt := asInt(agg["frame_length"]); len(agg) != 1 || !isInt || n != int64(frameLength) {
			t.Errorf("agg_params %#v, want {\"frame_length\": %d} (an integer)", agg, frameLength)
		}
	}
}

// temps checks that msg is {"temps": {"block_name": "temps", "data":
// {channel: [float...]}, "timestamps": [float...]}} with exactly the given
// channels, every array as long as timestamps and every number a float;
// it returns the timestamps and the data.
func temps(t *testing.T, msg map[string]any, channels []string) ([]float64, map[string][]float64) {
	t.Helper()
	if len(msg) != 1 {
		t.Fatalf("message has blocks %v, want only temps", mapKeys(msg))
	}
	b, ok := msg["temps"].(map[string]any)
	if !ok {
		t.Fatalf("message %#v has no temps block", msg)
	}
	if got := mapKeys(b); !slices.Equal(got, []string{"block_name", "data", "timestamps"}) {
		t.Fatalf("block keys %v, want [block_name data timestamps]", got)
	}
	if b["block_name"] != "temps" {
		t.Errorf("block_name %#v", b["block_name"])
	}
	ts := floats(t, "timestamps", b["timestamps"])
	if len(ts) == 0 {
		t.Fatal("block without samples")
	}
	data, ok := b["data"].(map[string]any)
	if !ok {
		t.Fatalf("data %#v is not an object", b["data"])
	}
	if got := mapKeys(data); !slices.Equal(got, channels) {
		t.Fatalf("data fields %v, want %v", got, channels)
	}
	out := make(map[string][]float64, len(data))
	for k, v := range data {
		out[k] = floats(t, k, v)
		if len(out[k]) != len(ts) {
			t.Errorf("%s has %d values for %d timestamps", k, len(out[k]), len(ts))
		}
	}
	return ts, out
}

// floats checks that v is an array of floats (not integers, even when
// integral).
func floats(t *testing.T, what string, v any) []float64 {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("%s: %#v is not an array", what, v)
	}
	out := make([]float64, len(l))
	for i, e := range l {
		f, ok := e.(float64)
		if !ok {
			t.Fatalf("%s[%d] = %#v (%T), want a float", what, i, e, e)
		}
		out[i] = f
	}
	return out
}

func mapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkSpacing checks that ts continues from prev (NaN: no previous
// sample) with samples 1/rate apart.
func checkSpacing(t *testing.T, prev float64, ts []float64, rate float64) {
	t.Helper()
	for i, x := range ts {
		if i == 0 && math.IsNaN(prev) {
			continue
		}
		p := prev
		if i > 0 {
			p = ts[i-1]
		}
		if d := x - p; math.Abs(d-1/rate) > 1e-6 {
			t.Errorf("timestamps %.7f and %.7f are %.7f apart, want %.7f", p, x, d, 1/rate)
		}
	}
}

// checkRange checks that every value is a plausible level after reports
// reports: 0.1 ± (0.003 × reports + 0.002).
func checkRange(t *testing.T, ch string, i int, v float64, reports int) {
	t.Helper()
	if lim := 0.003*float64(reports) + 0.002; math.Abs(v-0.1) > lim+1e-12 {
		t.Errorf("%s sample %d = %v, outside 0.1 ± %v after %d reports", ch, i, v, lim, reports)
	}
}

// TestFeedEventsLikePython: with the real clock, acq publishes on
// false_temperatures events shaped as the Python agent's
// (reference-output.md §8), field by field; with buffer_time 1 s and one
// report per second an event carries 2-3 s of samples, 1/rate apart and
// continuous across events; a stop flushes the rest; the session data holds
// the last values (checklist 31; feed_info).
func TestFeedEventsLikePython(t *testing.T) {
	t.Parallel() // real time: ~4 s
	const rate = 20
	channels := []string{"channel_00", "channel_01", "channel_02"}
	r := startRouter(t)
	var log *eventLog
	ta := startAgent(t, r, agentSetup{
		opts:      fakedata.Options{Mode: "idle", NumChannels: 3, SampleRate: rate, FrameLength: 42},
		realClock: true,
		subscribe: func(c *client.Client) { log = subscribe(t, c, feedTopic) },
	})
	rep := ta.ops(t, "start", "acq", nil).expect(t, 0, `Started process "acq".`)
	if rep.sess["status"] != "starting" || rep.sess["op_name"] != "acq" {
		t.Errorf("start session %v", rep.sess)
	}

	waitFor(t, 8*time.Second, "first feed event", func() bool { return log.len() >= 1 })
	first, _ := temps(t, feedEvent(t, ta, log.snapshot()[0], 42), channels)
	// 2 or 3 reports of rate samples (±1: the fraction carried between
	// reports), timestamps within 2-3 s.
	if n := len(first); n < 2*rate-1 || n > 3*rate+1 {
		t.Errorf("first event has %d samples, want 2-3 reports of %d", n, rate)
	}
	if span := first[len(first)-1] - first[0]; span < 2-3.0/rate || span > 3 {
		t.Errorf("first event spans %.3f s, want 2-3 s of samples", span)
	}
	// The next report goes into the buffer; stop before the one after
	// would send it, so the stop's flush has to.
	lastSent := first[len(first)-1]
	ta.waitSession(t, "acq", "a report after the first event", func(s map[string]any) bool {
		ts, _ := s["data"].(map[string]any)["timestamp"].(float64)
		return ts > lastSent
	})
	rep = ta.ops(t, "stop", "acq", nil).expect(t, 0, `Requested stop on process acq".`)
	if rep.sess["status"] != "running" {
		t.Errorf("stop reply shows status %v, want the session before the stop (running)", rep.sess["status"])
	}
	done := ta.wait(t, "acq").expect(t, 0, `Operation "acq" is currently not running (SUCCEEDED).`)
	if done.sess["success"] != true || done.sess["status"] != "done" {
		t.Errorf("final session %v", done.sess)
	}
	if m := opMessage(t, done.sess); m != "Acquisition exited cleanly." {
		t.Errorf("acq ended with %q", m)
	}
	data := done.sess["data"].(map[string]any)
	lastTS, _ := data["timestamp"].(float64)
	waitFor(t, 5*time.Second, "the flushed samples", func() bool {
		evs := log.snapshot()
		ts, _ := temps(t, feedEvent(t, ta, evs[len(evs)-1], 42), channels)
		return ts[len(ts)-1] == lastTS
	})

	evs := log.snapshot()
	if len(evs) < 2 {
		t.Fatalf("%d events, want the first and the flush", len(evs))
	}
	prev := math.NaN()
	idx := 0
	var last map[string][]float64
	for e, ev := range evs {
		ts, d := temps(t, feedEvent(t, ta, ev, 42), channels)
		checkSpacing(t, prev, ts, rate)
		if e > 0 && e < len(evs)-1 {
			if span := ts[len(ts)-1] - ts[0]; span < 2-3.0/rate || span > 3 {
				t.Errorf("event %d spans %.3f s, want 2-3 s", e, span)
			}
		}
		for _, ch := range channels {
			for i, v := range d[ch] {
				checkRange(t, ch, idx+i, v, (idx+i)/rate+2)
			}
		}
		prev = ts[len(ts)-1]
		idx += len(ts)
		last = d
	}
	fields := data["fields"].(map[string]any)
	if got := mapKeys(fields); !slices.Equal(got, channels) {
		t.Errorf("session data fields %v", got)
	}
	for _, ch := range channels {
		if v := last[ch][len(last[ch])-1]; fields[ch] != v {
			t.Errorf("session data %s = %v, want the last value sent %v", ch, fields[ch], v)
		}
	}
}

// TestAcqTestMode: test_mode publishes one report and ends; the flush at
// the end sends it at once (buffer_time would hold it). Through a JSON
// client, integral times still arrive as floats.
func TestAcqTestMode(t *testing.T) {
	r := startRouter(t)
	var log *eventLog
	ta := startAgent(t, r, agentSetup{
		opts:      fakedata.Options{Mode: "idle", NumChannels: 2, SampleRate: 2, FrameLength: 60},
		ser:       serialize.JSON,
		subscribe: func(c *client.Client) { log = subscribe(t, c, feedTopic) },
	})
	ta.ops(t, "start", "acq", map[string]any{"test_mode": true}).expect(t, 0, `Started process "acq".`)
	ta.clock.advance(t, 1, time.Second)
	done := ta.wait(t, "acq").expect(t, 0, `Operation "acq" is currently not running (SUCCEEDED).`)
	if m := opMessage(t, done.sess); m != "Acquisition exited cleanly." {
		t.Errorf("acq ended with %q", m)
	}
	waitFor(t, 5*time.Second, "the event", func() bool { return log.len() >= 1 })
	evs := log.snapshot()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	ts, d := temps(t, feedEvent(t, ta, evs[0], 60), []string{"channel_00", "channel_01"})
	if !slices.Equal(ts, []float64{at(0), at(0.5)}) {
		t.Errorf("timestamps %v, want [%v %v]", ts, at(0), at(0.5))
	}
	data := done.sess["data"].(map[string]any)
	if data["timestamp"] != at(0.5) {
		t.Errorf("session data timestamp %#v, want %v", data["timestamp"], at(0.5))
	}
	fields := data["fields"].(map[string]any)
	for ch, vs := range d {
		for i, v := range vs {
			checkRange(t, ch, i, v, 1)
		}
		if fields[ch] != vs[1] {
			t.Errorf("session data %s = %v, want %v", ch, fields[ch], vs[1])
		}
	}
	if len(fields) != 2 || len(data) != 2 {
		t.Errorf("session data %v, want {fields, timestamp}", data)
	}
}

// TestAcqCarriesFractionAndSkips: n = int((next_report − next_timestamp) ×
// rate) per report with the fraction carried (2.5 Hz: 2, 3, 2, 3 samples),
// timestamps 1/rate apart; more than 3 s behind, the missed data is dropped
// and sampling restarts at the current time.
func TestAcqCarriesFractionAndSkips(t *testing.T) {
	const rate = 2.5
	r := startRouter(t)
	var log *eventLog
	ta := startAgent(t, r, agentSetup{
		opts:      fakedata.Options{Mode: "idle", NumChannels: 1, SampleRate: rate, FrameLength: 60},
		subscribe: func(c *client.Client) { log = subscribe(t, c, feedTopic) },
	})
	ta.ops(t, "start", "acq", nil).expect(t, 0, `Started process "acq".`)
	wantLast := []float64{at(0.4), at(1.6), at(2.4), at(3.6)}
	for i, want := range wantLast {
		ta.clock.advance(t, 1, time.Second)
		ta.waitSession(t, "acq", fmt.Sprintf("report %d", i+1), func(s map[string]any) bool {
			ts, _ := s["data"].(map[string]any)["timestamp"].(float64)
			return math.Abs(ts-want) < 1e-6
		})
	}
	ta.clock.advance(t, 1, 5*time.Second) // 4 s late: dropped
	ta.clock.advance(t, 1, time.Second)
	ta.waitSession(t, "acq", "the report after the skip", func(s map[string]any) bool {
		ts, _ := s["data"].(map[string]any)["timestamp"].(float64)
		return math.Abs(ts-at(9.4)) < 1e-6
	})
	ta.ops(t, "stop", "acq", nil).expect(t, 0, `Requested stop on process acq".`)
	ta.wait(t, "acq").expect(t, 0, `Operation "acq" is currently not running (SUCCEEDED).`)

	var all []float64
	waitFor(t, 5*time.Second, "12 samples", func() bool {
		all = nil
		for _, ev := range log.snapshot() {
			ts, _ := temps(t, feedEvent(t, ta, ev, 60), []string{"channel_00"})
			all = append(all, ts...)
		}
		return len(all) >= 12
	})
	var want []float64
	for k := range 10 {
		want = append(want, at(float64(k)/rate))
	}
	want = append(want, at(9), at(9.4))
	if len(all) != len(want) {
		t.Fatalf("timestamps %v, want %v", all, want)
	}
	for i := range want {
		if math.Abs(all[i]-want[i]) > 1e-6 {
			t.Errorf("timestamp %d = %.6f, want %.6f", i, all[i], want[i])
		}
	}
}

// TestAcqDegradation: with degradation_period the session is degraded
// (op_code 8) at once and flips every period.
func TestAcqDegradation(t *testing.T) {
	r := startRouter(t)
	ta := startAgent(t, r, agentSetup{})
	ta.ops(t, "start", "acq", map[string]any{"degradation_period": 2.5}).expect(t, 0, `Started process "acq".`)
	code := func(want int64) func(map[string]any) bool {
		return func(s map[string]any) bool { c, _ := asInt(s["op_code"]); return c == want }
	}
	s := ta.waitSession(t, "acq", "degraded at start", code(8))
	if s["degraded"] != true || s["status"] != "running" {
		t.Errorf("session %v", s)
	}
	ta.clock.advance(t, 1, time.Second) // a report, no flip
	ta.waitSession(t, "acq", "first report", func(s map[string]any) bool { return s["data"].(map[string]any)["timestamp"] != nil })
	if s := ta.ops(t, "status", "acq", nil).sess; s["degraded"] != true {
		t.Errorf("degraded flipped before the period: %v", s)
	}
	ta.clock.advance(t, 1, 1500*time.Millisecond)
	s = ta.waitSession(t, "acq", "not degraded after 2.5 s", code(3))
	if s["degraded"] != false {
		t.Errorf("session %v", s)
	}
	ta.clock.advance(t, 1, 2500*time.Millisecond)
	ta.waitSession(t, "acq", "degraded again after 5 s", code(8))
	s = ta.ops(t, "stop", "acq", nil).expect(t, 0, `Requested stop on process acq".`).sess
	if c, _ := asInt(s["op_code"]); c != 8 {
		t.Errorf("stop reply op_code %v, want 8 (the session before the stop)", s["op_code"])
	}
	ta.wait(t, "acq").expect(t, 0, `Operation "acq" is currently not running (SUCCEEDED).`)
}

// opMessage returns the op's own last message: the one before
// 'Status is now "done".'.
func opMessage(t *testing.T, sess map[string]any) string {
	t.Helper()
	msgs, _ := sess["messages"].([]any)
	if len(msgs) < 2 {
		t.Fatalf("session messages %v", sess["messages"])
	}
	if m, _ := msgs[len(msgs)-1].([]any); len(m) != 2 || m[1] != `Status is now "done".` {
		t.Errorf("last message %v, want the done status", msgs[len(msgs)-1])
	}
	m, _ := msgs[len(msgs)-2].([]any)
	if len(m) != 2 {
		t.Fatalf("message %v", msgs[len(msgs)-2])
	}
	s, _ := m[1].(string)
	return s
}

// TestAcqSlowRateAndNoChannels: below one sample per report, reports
// without samples publish nothing (and do not end test_mode) until a
// sample is due; with no channels the block has timestamps and empty data.
func TestAcqSlowRateAndNoChannels(t *testing.T) {
	r := startRouter(t)
	var log *eventLog
	ta := startAgent(t, r, agentSetup{
		opts:      fakedata.Options{Mode: "idle", NumChannels: 0, SampleRate: 0.4, FrameLength: 60},
		subscribe: func(c *client.Client) { log = subscribe(t, c, feedTopic) },
	})
	ta.ops(t, "start", "acq", map[string]any{"test_mode": true}).expect(t, 0, `Started process "acq".`)
	for range 2 { // int(1 × 0.4) = int(2 × 0.4) = 0 samples
		ta.clock.advance(t, 1, time.Second)
		ta.waitSession(t, "acq", "still running", func(s map[string]any) bool { return s["status"] == "running" })
	}
	ta.clock.advance(t, 1, time.Second) // int(3 × 0.4) = 1 sample, at the start
	done := ta.wait(t, "acq").expect(t, 0, `Operation "acq" is currently not running (SUCCEEDED).`)
	if d := done.sess["data"].(map[string]any); d["timestamp"] != at(0) || len(d["fields"].(map[string]any)) != 0 {
		t.Errorf("session data %v, want no fields and timestamp %v", d, at(0))
	}
	waitFor(t, 5*time.Second, "the event", func() bool { return log.len() >= 1 })
	ts, d := temps(t, feedEvent(t, ta, log.snapshot()[0], 60), []string{})
	if len(ts) != 1 || ts[0] != at(0) || len(d) != 0 {
		t.Errorf("event timestamps %v data %v, want [%v] and {}", ts, d, at(0))
	}
}
