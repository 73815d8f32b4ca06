package feeds_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/transport/serialize"

	"github.com/ocsflux/ocsflux/feeds"
)

func testInfo() feeds.Info {
	class := "FakeDataAgent"
	return feeds.Info{
		AgentAddress: "observatory.fake-data1",
		AggParams:    map[string]any{"frame_length": int64(60)},
		FeedName:     "false_temperatures",
		Record:       true,
		SessionID:    feeds.FormatSessionID(1795294463.5561733),
		AgentClass:   &class,
	}
}

func newBuffer(t *testing.T, bufferTime time.Duration) *feeds.Buffer {
	t.Helper()
	b, err := feeds.NewBuffer(feeds.BufferConfig{Info: testInfo(), BufferTime: bufferTime})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sample(ts float64, v float64) feeds.Sample {
	return feeds.Sample{BlockName: "temps", Timestamp: ts, Data: map[string]feeds.Value{
		"channel_00": feeds.Float(v), "channel_01": feeds.Float(-v),
	}}
}

var t0 = time.Unix(1795294463, 0)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func TestBufferTimeZeroSendsAtOnce(t *testing.T) {
	b := newBuffer(t, 0)
	for i := range 3 {
		msg, ok, err := b.AddSample(at(float64(i)), sample(float64(i), 0.1))
		if err != nil || !ok {
			t.Fatalf("publish %d: ok=%v err=%v, want sent at once", i, ok, err)
		}
		if len(msg.Blocks) != 1 || len(msg.Blocks[0].Timestamps) != 1 || msg.Blocks[0].Timestamps[0] != float64(i) {
			t.Errorf("publish %d sent %+v", i, msg.Blocks)
		}
		if msg.Info.Address != "observatory.fake-data1.feeds.false_temperatures" {
			t.Errorf("address = %q", msg.Info.Address)
		}
	}
	if _, ok := b.Flush(); ok {
		t.Error("Flush after everything was sent returned something to publish")
	}
}

// TestBufferTimeRule follows OCS's rule: no timer; a pending buffer is
// flushed by the first add at which now − start ≥ buffer_time.
func TestBufferTimeRule(t *testing.T) {
	b := newBuffer(t, time.Second)
	steps := []struct {
		at   float64
		sent int // samples in the event sent by this add; 0 = none
	}{
		{0, 0}, {0.5, 0}, {0.999, 0}, {1.0, 4}, // 4 publishes: 0, 0.5, 0.999, 1.0
		{1.2, 0}, {2.1, 0}, {2.2, 3}, // start 1.2: 2.2 − 1.2 ≥ 1
		{10, 0}, // a new buffer starts at 10 however long the pause was
	}
	for _, s := range steps {
		msg, ok, err := b.AddSample(at(s.at), sample(s.at, s.at))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case s.sent == 0 && ok:
			t.Errorf("add at %v sent %d samples, want none", s.at, len(msg.Blocks[0].Timestamps))
		case s.sent > 0 && !ok:
			t.Errorf("add at %v sent nothing, want %d samples", s.at, s.sent)
		case s.sent > 0:
			if n := len(msg.Blocks[0].Timestamps); n != s.sent {
				t.Errorf("add at %v sent %d samples, want %d", s.at, n, s.sent)
			}
			if got := msg.Blocks[0].Timestamps[s.sent-1]; got != s.at {
				t.Errorf("last timestamp %v, want %v", got, s.at)
			}
		}
	}
	msg, ok := b.Flush()
	if !ok || len(msg.Blocks) != 1 || !reflect.DeepEqual(msg.Blocks[0].Timestamps, []float64{10}) {
		t.Errorf("Flush = %+v, %v; want the sample at 10", msg.Blocks, ok)
	}
	f := msg.Blocks[0].Fields
	if len(f) != 2 || f[0].Name != "channel_00" || f[0].Values[0] != feeds.Float(10) || f[1].Values[0] != feeds.Float(-10) {
		t.Errorf("fields = %+v", f)
	}
	if _, ok := b.Flush(); ok {
		t.Error("second Flush returned something to publish")
	}
}

func TestBufferChecks(t *testing.T) {
	b := newBuffer(t, time.Hour)
	if _, _, err := b.AddSample(at(0), feeds.Sample{BlockName: "temps", Data: map[string]feeds.Value{"ok": feeds.Int(1), "bad-name": feeds.Int(2)}}); err == nil ||
		!strings.Contains(err.Error(), "with the invalid character '-'") {
		t.Errorf("bad field name: err = %v", err)
	} else {
		var fe *feeds.FieldNameError
		if !errors.As(err, &fe) || fe.Name != "bad-name" {
			t.Errorf("error %v does not wrap the *FieldNameError", err)
		}
	}
	if _, _, err := b.AddSample(at(0), feeds.Sample{BlockName: "temps", Data: map[string]feeds.Value{"x": {}}}); err == nil ||
		!strings.Contains(err.Error(), `field "x": message 'data' block contains invalid data type: invalid`) {
		t.Errorf("invalid value: err = %v", err)
	}
	// The failed publishes did not fix the block's structure.
	if _, _, err := b.AddSample(at(0), feeds.Sample{BlockName: "temps", Data: map[string]feeds.Value{"a": feeds.Int(1), "b": feeds.String("s")}}); err != nil {
		t.Fatalf("first valid publish: %v", err)
	}
	for _, data := range []map[string]feeds.Value{
		{"a": feeds.Int(1)},
		{"a": feeds.Int(1), "b": feeds.Int(2), "c": feeds.Int(3)},
		{"a": feeds.Int(1), "c": feeds.Int(3)},
	} {
		_, _, err := b.AddSample(at(1), feeds.Sample{BlockName: "temps", Timestamp: 1, Data: data})
		want := "publish to feed observatory.fake-data1.feeds.false_temperatures: Block structure does not match: temps"
		if err == nil || err.Error() != want {
			t.Errorf("fields %v: err = %v, want %q", data, err, want)
		}
	}
	// Multi-sample publishes: same set in another order is fine.
	_, _, err := b.AddBlock(at(2), feeds.Block{Name: "temps", Timestamps: []float64{2, 3}, Fields: []feeds.Field{
		{Name: "b", Values: []feeds.Value{feeds.Bool(true), feeds.Float(2.5)}},
		{Name: "a", Values: []feeds.Value{feeds.Int(2), feeds.Int(3)}},
	}})
	if err != nil {
		t.Fatalf("AddBlock: %v", err)
	}
	bad := []struct {
		blk  feeds.Block
		want string
	}{
		{feeds.Block{Name: "temps", Timestamps: []float64{4}, Fields: []feeds.Field{{Name: "a", Values: []feeds.Value{feeds.Int(1)}}}},
			"Block structure does not match: temps"},
		{feeds.Block{Name: "temps", Timestamps: []float64{4}, Fields: []feeds.Field{
			{Name: "a", Values: []feeds.Value{feeds.Int(1)}}, {Name: "b", Values: []feeds.Value{}}}},
			`field "b" has 0 values for 1 timestamps`},
		{feeds.Block{Name: "temps", Timestamps: []float64{4}, Fields: []feeds.Field{
			{Name: "a", Values: []feeds.Value{feeds.Int(1)}}, {Name: "a", Values: []feeds.Value{feeds.Int(1)}}}},
			`duplicate field "a"`},
		{feeds.Block{Name: "temps", Timestamps: []float64{4}, Fields: []feeds.Field{
			{Name: "a", Values: []feeds.Value{{Kind: 99}}}, {Name: "b", Values: []feeds.Value{feeds.Int(1)}}}},
			"invalid data type: kind(99)"},
		{feeds.Block{Name: "other", Timestamps: []float64{4}, Fields: []feeds.Field{{Name: "1x", Values: []feeds.Value{feeds.Int(1)}}}},
			"which does not start with a letter"},
	}
	for _, c := range bad {
		if _, _, err := b.AddBlock(at(3), c.blk); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("AddBlock(%+v): err = %v, want %q", c.blk, err, c.want)
		}
	}
	msg, ok := b.Flush()
	want := []feeds.Block{{Name: "temps", Timestamps: []float64{0, 2, 3}, Fields: []feeds.Field{
		{Name: "a", Values: []feeds.Value{feeds.Int(1), feeds.Int(2), feeds.Int(3)}},
		{Name: "b", Values: []feeds.Value{feeds.String("s"), feeds.Bool(true), feeds.Float(2.5)}},
	}}}
	if !ok || !reflect.DeepEqual(msg.Blocks, want) {
		t.Errorf("Flush = %+v, want %+v", msg.Blocks, want)
	}
}

// TestBufferBlocksAndWire checks block order (first publish), that values
// are copied, that an empty flush is still an event ({}), and that what a
// Buffer publishes decodes back to the same message through msgpack.
func TestBufferBlocksAndWire(t *testing.T) {
	b := newBuffer(t, time.Second)
	vals := []feeds.Value{feeds.Float(2), feeds.Int(2)}
	if _, _, err := b.AddBlock(at(0), feeds.Block{Name: "zz", Timestamps: []float64{1.5, 2.5},
		Fields: []feeds.Field{{Name: "v", Values: vals}}}); err != nil {
		t.Fatal(err)
	}
	vals[0] = feeds.String("changed after publish")
	if _, _, err := b.AddSample(at(0.5), feeds.Sample{BlockName: "aa", Timestamp: 3,
		Data: map[string]feeds.Value{"s": feeds.String("x"), "ok": feeds.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	msg, ok, err := b.AddBlock(at(1), feeds.Block{Name: "empty", Fields: []feeds.Field{{Name: "e", Values: nil}}})
	if err != nil || !ok {
		t.Fatalf("third publish: ok=%v err=%v", ok, err)
	}
	if len(msg.Blocks) != 2 || msg.Blocks[0].Name != "zz" || msg.Blocks[1].Name != "aa" {
		t.Fatalf("blocks %+v, want zz then aa (first-publish order), empty left out", msg.Blocks)
	}
	if msg.Blocks[0].Fields[0].Values[0] != feeds.Float(2) {
		t.Errorf("buffered value changed with the caller's slice: %v", msg.Blocks[0].Fields[0].Values)
	}

	got, problems, err := viaSerializer(t, &serialize.MessagePackSerializer{}, msg.Args())
	if err != nil || len(problems) != 0 {
		t.Fatalf("decode: %v %v", err, problems)
	}
	wantInfo := msg.Info
	if !reflect.DeepEqual(got.Info, wantInfo) {
		t.Errorf("info round trip: %+v, want %+v", got.Info, wantInfo)
	}
	// Decoded blocks come in name order.
	if len(got.Blocks) != 2 || !reflect.DeepEqual(got.Blocks[0], msg.Blocks[1]) || !reflect.DeepEqual(got.Blocks[1], msg.Blocks[0]) {
		t.Errorf("blocks round trip: %+v, want %+v", got.Blocks, msg.Blocks)
	}

	// Only the empty block is pending now; a flush publishes {}.
	if _, _, err := b.AddBlock(at(5), feeds.Block{Name: "empty", Fields: []feeds.Field{{Name: "e"}}}); err != nil {
		t.Fatal(err)
	}
	msg, ok = b.Flush()
	if !ok || len(msg.Blocks) != 0 || len(msg.Wire()) != 0 {
		t.Errorf("flush of an empty buffer: ok=%v blocks=%v wire=%v; want an event with {}", ok, msg.Blocks, msg.Wire())
	}
	args := msg.Args()
	pair := args[0].([]any)
	if len(args) != 1 || len(pair) != 2 {
		t.Errorf("Args() = %v, want one argument, the pair [message, feed_info]", args)
	}
}

func TestBufferConfigValidate(t *testing.T) {
	info := testInfo()
	cfg := feeds.BufferConfig{Info: info}
	if err := cfg.Validate(); err != nil || cfg.Info.Address != "observatory.fake-data1.feeds.false_temperatures" {
		t.Errorf("Validate: %v, address %q", err, cfg.Info.Address)
	}
	for name, mut := range map[string]func(*feeds.BufferConfig){
		"record false":  func(c *feeds.BufferConfig) { c.Info.Record = false },
		"no agent":      func(c *feeds.BufferConfig) { c.Info.AgentAddress = "" },
		"no feed":       func(c *feeds.BufferConfig) { c.Info.FeedName = "" },
		"negative time": func(c *feeds.BufferConfig) { c.BufferTime = -time.Second },
	} {
		c := feeds.BufferConfig{Info: info}
		mut(&c)
		if _, err := feeds.NewBuffer(c); err == nil {
			t.Errorf("%s: NewBuffer accepted it", name)
		}
	}
}
