package agents_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/agents"
)

// feedFixture is an agent with a recorded feed (buffer_time as given, the
// agent clock under test control) and an unrecorded one, plus a test client
// subscribed to both.
type feedFixture struct {
	*fixture
	rec, raw       *agents.Feed
	recLog, rawLog *eventLog
	clock          *atomic.Int64
}

func newFeedFixture(t *testing.T, buffer time.Duration) *feedFixture {
	t.Helper()
	ff := &feedFixture{clock: &atomic.Int64{}}
	ff.clock.Store(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).UnixNano())
	ff.fixture = newFixture(t, nil, func(a *agents.Agent) {
		agents.SetClock(a, func() time.Time { return time.Unix(0, ff.clock.Load()) })
		var err error
		if ff.rec, err = a.RegisterFeed(agents.FeedSpec{Name: "temps", Record: true, AggParams: map[string]any{"frame_length": 60}, BufferTime: buffer}); err != nil {
			t.Fatal(err)
		}
		if ff.raw, err = a.RegisterFeed(agents.FeedSpec{Name: "notes"}); err != nil {
			t.Fatal(err)
		}
		// Not connected yet: sending fails and the data is dropped.
		err = ff.rec.PublishSample("early", 1, map[string]any{"x": 1.0})
		if buffer > 0 {
			must(t, err) // buffered
			err = ff.rec.Flush()
		}
		if !errors.Is(err, agents.ErrNotConnected) {
			t.Errorf("publish before joining: %v, want ErrNotConnected", err)
		}
	})
	ff.recLog = subscribeLog(t, ff.c, ff.rec.Topic(), "")
	ff.rawLog = subscribeLog(t, ff.c, ff.raw.Topic(), "")
	return ff
}

// blocks returns the message of recorded event i as blocks.
func (ff *feedFixture) blocks(t *testing.T, i int) map[string]any {
	t.Helper()
	events, _ := ff.recLog.snapshot()
	msg, info := feedEvent(t, events[i])
	checkFeedInfo(t, info, ff.addr, "temps", true, map[string]any{"frame_length": 60}, ff.ra.SessionID())
	return msg.(map[string]any)
}

// TestFeedPublish: single-sample and multi-sample messages produce OCS
// block events with types kept (int stays int, float stays float); the
// unrecorded feed publishes its message unchanged.
func TestFeedPublish(t *testing.T) {
	ff := newFeedFixture(t, 0)
	if err := ff.rec.PublishSample("temps", 1795298321.5, map[string]any{"channel_00": 2.0, "count": 3, "ok": true, "state": "on"}); err != nil {
		t.Fatal(err)
	}
	if err := ff.rec.PublishBlock("temps", []float64{1795298322, 1795298322.5},
		map[string]any{"channel_00": []float64{0.1, 0.2}, "count": []int{4, 5}, "ok": []bool{false, true}, "state": []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	if err := ff.rec.Publish(map[string]any{"block_name": "other", "timestamps": []any{1.0}, "data": map[string]any{"v": []any{int64(7)}}}); err != nil {
		t.Fatal(err)
	}
	if err := ff.raw.Publish(map[string]any{"anything": []any{1, "x", nil}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "recorded events", func() bool { return ff.recLog.len() >= 3 })
	b0 := ff.blocks(t, 0)
	temps := b0["temps"].(map[string]any)
	if keysOf(temps) != "block_name,data,timestamps" || temps["block_name"] != "temps" {
		t.Fatalf("block %v", temps)
	}
	data := temps["data"].(map[string]any)
	if v := data["channel_00"].([]any)[0]; v != 2.0 {
		t.Errorf("float 2.0 arrived as %#v", v)
	}
	if v, ok := asInt(data["count"].([]any)[0]); !ok || v != 3 {
		t.Errorf("int 3 arrived as %#v", data["count"])
	}
	if data["ok"].([]any)[0] != true || data["state"].([]any)[0] != "on" {
		t.Errorf("data %v", data)
	}
	if ts := temps["timestamps"].([]any); len(ts) != 1 || ts[0] != 1795298321.5 {
		t.Errorf("timestamps %v", ts)
	}
	b1 := ff.blocks(t, 1)["temps"].(map[string]any)
	if ts := b1["timestamps"].([]any); len(ts) != 2 || ts[0] != 1795298322.0 {
		t.Errorf("multi-sample timestamps %#v", ts)
	}
	if d := b1["data"].(map[string]any); len(d["state"].([]any)) != 2 || d["state"].([]any)[1] != "b" {
		t.Errorf("multi-sample data %v", d)
	}
	if len(ff.blocks(t, 2)) != 1 || ff.blocks(t, 2)["other"] == nil {
		t.Errorf("dict-shaped publish: %v", ff.blocks(t, 2))
	}
	waitFor(t, 5*time.Second, "raw event", func() bool { return ff.rawLog.len() >= 1 })
	events, _ := ff.rawLog.snapshot()
	msg, info := feedEvent(t, events[0])
	checkFeedInfo(t, info, ff.addr, "notes", false, map[string]any{}, ff.ra.SessionID())
	if l := msg.(map[string]any)["anything"].([]any); len(l) != 3 || l[1] != "x" || l[2] != nil {
		t.Errorf("raw message %v", msg)
	}
}

// TestFeedBuffering: with buffer_time 1 s samples accumulate until a
// publish comes at least 1 s after the first buffered one; Flush sends the
// rest (ocs-protocol.md §6.4).
func TestFeedBuffering(t *testing.T) {
	ff := newFeedFixture(t, time.Second)
	step := func(d time.Duration) { ff.clock.Add(int64(d)) }
	must(t, ff.rec.PublishSample("temps", 1, map[string]any{"a": 1.0}))
	step(500 * time.Millisecond)
	must(t, ff.rec.PublishSample("temps", 2, map[string]any{"a": 2.0}))
	must(t, ff.rec.PublishSample("volts", 2, map[string]any{"v": 5}))
	if n := ff.recLog.len(); n != 0 {
		t.Fatalf("%d events before buffer_time passed", n)
	}
	step(500 * time.Millisecond)
	must(t, ff.rec.PublishSample("temps", 3, map[string]any{"a": 3.0}))
	waitFor(t, 5*time.Second, "flushed event", func() bool { return ff.recLog.len() == 1 })
	msg := ff.blocks(t, 0)
	if msg["early"] != nil {
		t.Errorf("data of a failed send was kept: %v", msg)
	}
	if ts := msg["temps"].(map[string]any)["timestamps"].([]any); len(ts) != 3 {
		t.Errorf("temps timestamps %v, want 3 samples", ts)
	}
	if ts := msg["volts"].(map[string]any)["timestamps"].([]any); len(ts) != 1 {
		t.Errorf("volts timestamps %v", ts)
	}
	must(t, ff.rec.PublishSample("temps", 4, map[string]any{"a": 4.0}))
	must(t, ff.rec.Flush())
	waitFor(t, 5*time.Second, "flush", func() bool { return ff.recLog.len() == 2 })
	msg = ff.blocks(t, 1)
	if len(msg) != 1 || len(msg["temps"].(map[string]any)["timestamps"].([]any)) != 1 {
		t.Errorf("after Flush: %v (only blocks with samples are sent)", msg)
	}
	must(t, ff.rec.Flush()) // nothing pending: no event
	must(t, ff.rec.PublishSample("temps", 5, map[string]any{"a": 5.0}))
	step(time.Second)
	must(t, ff.rec.PublishSample("temps", 6, map[string]any{"a": 6.0}))
	waitFor(t, 5*time.Second, "third event", func() bool { return ff.recLog.len() == 3 })
	if ts := ff.blocks(t, 2)["temps"].(map[string]any)["timestamps"].([]any); len(ts) != 2 || ts[0] != 5.0 {
		t.Errorf("third event timestamps %v", ts)
	}
}

// TestFeedChecks: OCS's field-name rules and value types, block structure
// and message shape are checked before buffering, with errors naming the
// feed, block and field (ocs-protocol.md §6.4, §6.5).
func TestFeedChecks(t *testing.T) {
	ff := newFeedFixture(t, time.Hour)
	valid := []string{"temp_1", "T", "__x2", "channel_00", "a_", "_", "___"}
	for _, name := range valid {
		if err := ff.rec.PublishSample("b_"+name, 1, map[string]any{name: 1.0}); err != nil {
			t.Errorf("field %q rejected: %v", name, err)
		}
	}
	invalid := map[string]string{
		"":                       "Empty field name encountered, please enter a valid field name.",
		"1abc":                   "message 'data' block contains the key 1abc, which does not start with a letter (after any number of leading underscores.)",
		"_9":                     "does not start with a letter",
		"__1_":                   "does not start with a letter",
		"a-b":                    "message 'data' block contains the key a-b with the invalid character '-'. Valid characters are a-z, A-Z, 0-9, and underscore.",
		"a b":                    "invalid character ' '",
		"a.b":                    "invalid character '.'",
		"temp°":                  "invalid character '°'",
		strings.Repeat("a", 256): "exceeds the valid length of 255 characters.",
	}
	for name, want := range invalid {
		err := ff.rec.PublishSample("x", 1, map[string]any{name: 1.0})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ff.rec.Topic()) {
			t.Errorf("field %q: %v, want %q", name, err, want)
		}
	}
	if err := ff.rec.PublishSample("x", 1, map[string]any{"v": nil}); err == nil || !strings.Contains(err.Error(), "invalid data type: <class 'NoneType'>") {
		t.Errorf("null value: %v", err)
	}
	if err := ff.rec.PublishSample("x", 1, map[string]any{"v": []float64{1}}); err == nil || !strings.Contains(err.Error(), "<class 'list'>") {
		t.Errorf("list in a single sample: %v", err)
	}
	if err := ff.rec.PublishBlock("x", []float64{1, 2}, map[string]any{"v": []any{1.0, map[string]any{}}}); err == nil || !strings.Contains(err.Error(), "<class 'dict'>") {
		t.Errorf("dict in a block: %v", err)
	}
	if err := ff.rec.PublishBlock("x", []float64{1, 2}, map[string]any{"v": []float64{1}}); err == nil || !strings.Contains(err.Error(), "1 values for 2 timestamps") {
		t.Errorf("short data: %v", err)
	}
	must(t, ff.rec.PublishSample("fixed", 1, map[string]any{"a": 1.0, "b": 2.0}))
	for _, d := range []map[string]any{{"a": 1.0}, {"a": 1.0, "c": 1.0}, {"a": 1.0, "b": 2.0, "c": 3.0}} {
		if err := ff.rec.PublishSample("fixed", 2, d); err == nil || !strings.HasSuffix(err.Error(), "Block structure does not match: fixed") {
			t.Errorf("structure %v: %v", d, err)
		}
	}
	if err := ff.rec.Publish(map[string]any{"block_name": "x", "data": map[string]any{"a": 1.0}}); err == nil ||
		!strings.HasSuffix(err.Error(), "Invalid message when record=True.  keys=dict_keys(['block_name', 'data'])") {
		t.Errorf("no timestamp(s): %v", err)
	}
	if err := ff.raw.PublishSample("x", 1, map[string]any{"a": 1.0}); err == nil {
		t.Error("PublishSample on an unrecorded feed accepted")
	}
	if _, err := ff.ra.RegisterFeed(agents.FeedSpec{Name: "temps"}); err == nil {
		t.Error("duplicate feed accepted")
	}
	if _, err := ff.ra.RegisterFeed(agents.FeedSpec{Name: "heartbeat"}); err == nil {
		t.Error("a second heartbeat feed accepted")
	}
	if _, err := ff.ra.RegisterFeed(agents.FeedSpec{Name: "a.b"}); err == nil {
		t.Error("feed name with a dot accepted")
	}
}
