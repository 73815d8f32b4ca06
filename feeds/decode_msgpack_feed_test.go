package feeds_test

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/feeds"
)

// sameMessage reports where two messages differ (floats by bits, Info's
// agg_params as trees); "" when they are the same.
func sameMessage(a, b feeds.Message) string {
	ia, ib := a.Info, b.Info
	if ia.AgentAddress != ib.AgentAddress || ia.FeedName != ib.FeedName || ia.Address != ib.Address ||
		ia.Record != ib.Record || ia.SessionID != ib.SessionID {
		return fmt.Sprintf("info %+v vs %+v", ia, ib)
	}
	if (ia.AgentClass == nil) != (ib.AgentClass == nil) || ia.AgentClass != nil && *ia.AgentClass != *ib.AgentClass {
		return fmt.Sprintf("agent_class %v vs %v", ia.AgentClass, ib.AgentClass)
	}
	if (ia.AggParams == nil) != (ib.AggParams == nil) {
		return fmt.Sprintf("agg_params %#v vs %#v", ia.AggParams, ib.AggParams)
	}
	if d := sameDict(ia.AggParams, ib.AggParams, "agg_params"); d != "" {
		return d
	}
	if (a.Blocks == nil) != (b.Blocks == nil) || len(a.Blocks) != len(b.Blocks) {
		return fmt.Sprintf("%d blocks (nil %v) vs %d (nil %v)", len(a.Blocks), a.Blocks == nil, len(b.Blocks), b.Blocks == nil)
	}
	for i, x := range a.Blocks {
		y := b.Blocks[i]
		if x.Name != y.Name || len(x.Timestamps) != len(y.Timestamps) || len(x.Fields) != len(y.Fields) ||
			(x.Tags == nil) != (y.Tags == nil) || len(x.Tags) != len(y.Tags) {
			return fmt.Sprintf("block %d: %q %d timestamps %d fields %d tag sets (nil %v) vs %q %d %d %d (nil %v)", i,
				x.Name, len(x.Timestamps), len(x.Fields), len(x.Tags), x.Tags == nil, y.Name, len(y.Timestamps), len(y.Fields), len(y.Tags), y.Tags == nil)
		}
		for k, ts := range x.Tags {
			us := y.Tags[k]
			if ts.Field != us.Field || !slices.Equal(ts.Tags, us.Tags) || (ts.Tags == nil) != (us.Tags == nil) {
				return fmt.Sprintf("block %q tag set %d: %q %q (nil %v) vs %q %q (nil %v)", x.Name, k,
					ts.Field, ts.Tags, ts.Tags == nil, us.Field, us.Tags, us.Tags == nil)
			}
		}
		for j, t := range x.Timestamps {
			if math.Float64bits(t) != math.Float64bits(y.Timestamps[j]) {
				return fmt.Sprintf("block %q timestamp %d: %v vs %v", x.Name, j, t, y.Timestamps[j])
			}
		}
		for k, f := range x.Fields {
			g := y.Fields[k]
			if f.Name != g.Name || len(f.Values) != len(g.Values) {
				return fmt.Sprintf("block %q field %d: %q (%d values) vs %q (%d)", x.Name, k, f.Name, len(f.Values), g.Name, len(g.Values))
			}
			for j, v := range f.Values {
				w := g.Values[j]
				if v.Kind != w.Kind || math.Float64bits(v.F) != math.Float64bits(w.F) || v.I != w.I || v.B != w.B || v.S != w.S {
					return fmt.Sprintf("block %q field %q value %d: %#v vs %#v", x.Name, f.Name, j, v, w)
				}
			}
		}
	}
	return ""
}

// genericDecode decodes raw as the InfluxDB agent does without the fast
// path: DecodeMsgpackEvent or else nexus's serializer, then DecodeEvent.
// decoded is false when neither decodes it as an EVENT.
func genericDecode(raw []byte) (m feeds.Message, problems []feeds.Problem, err error, decoded bool) {
	ev, ok := feeds.DecodeMsgpackEvent(raw)
	if !ok {
		msg, derr := (&serialize.MessagePackSerializer{}).Deserialize(raw)
		if derr != nil {
			return feeds.Message{}, nil, nil, false
		}
		if ev, ok = msg.(*wamp.Event); !ok {
			return feeds.Message{}, nil, nil, false
		}
	}
	m, problems, err = feeds.DecodeEvent(ev.Arguments, ev.ArgumentsKw)
	return m, problems, err, true
}

// checkFeedDecoder decodes raw with fd and, when fd accepts it, checks
// that the generic path gives the same Message with no problem and no
// error. It returns whether fd accepted raw.
func checkFeedDecoder(t *testing.T, fd *feeds.MsgpackFeedDecoder, raw []byte) bool {
	t.Helper()
	got, ok := fd.Decode(raw)
	if !ok {
		if sameMessage(got, feeds.Message{}) != "" || got.Info.AggParams != nil {
			t.Errorf("declined but returned %+v", got)
		}
		return false
	}
	want, problems, err, decoded := genericDecode(raw)
	switch {
	case !decoded:
		t.Errorf("Decode accepted % x, which the generic path cannot decode", raw)
	case err != nil:
		t.Errorf("Decode accepted % x, DecodeEvent fails: %v", raw, err)
	case problems != nil:
		t.Errorf("Decode accepted % x, DecodeEvent reports %v", raw, problems)
	default:
		if d := sameMessage(got, want); d != "" {
			t.Errorf("% x: fast vs generic: %s", raw, d)
		}
	}
	return true
}

// feedEventBytes serializes with nexus an EVENT carrying args, as a router
// sends it.
func feedEventBytes(t testing.TB, args wamp.List, kwargs wamp.Dict) []byte {
	t.Helper()
	raw, err := (&serialize.MessagePackSerializer{}).Serialize(&wamp.Event{Subscription: 99, Publication: 5,
		Details: wamp.Dict{"topic": "observatory.a.feeds.f"}, Arguments: args, ArgumentsKw: kwargs})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestMsgpackFeedDecoderGolden: every golden event sent through nexus's
// msgpack serializer decodes as the generic path decodes it, and those the
// generic path decodes without problem or error are all accepted.
func TestMsgpackFeedDecoderGolden(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*", "message.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	accepted := 0
	for _, path := range paths {
		name := filepath.Base(filepath.Dir(path))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := feeds.ParseJSON(data)
		args, ok := tree.([]any)
		if err != nil || !ok || containsBig(args) {
			continue // not something msgpack carries
		}
		raw := feedEventBytes(t, args, nil)
		var fd feeds.MsgpackFeedDecoder
		ok = checkFeedDecoder(t, &fd, raw)
		_, problems, err, _ := genericDecode(raw)
		if clean := err == nil && problems == nil; clean != ok {
			t.Errorf("%s: accepted %v, but the generic path gives problems %v, error %v", name, ok, problems, err)
		}
		if ok {
			accepted++
			// Again, with the remembered feed_info.
			checkFeedDecoder(t, &fd, raw)
		}
	}
	if accepted < 3 {
		t.Errorf("only %d golden events accepted", accepted)
	}
}

// randomFeedTree builds the arguments of a random feed event: mostly
// clean recorded messages of several blocks and value kinds, with now and
// then each of the things DecodeEvent reports or rejects. bad is the
// per-mille rate of such oddities.
func randomFeedTree(rng *rand.Rand, bad int) (args []any, kwargs map[string]any) {
	odd := func() bool { return rng.IntN(1000) < bad }
	info := map[string]any{
		"agent_address": "observatory." + randomString(rng),
		"agg_params":    map[string]any{},
		"feed_name":     []string{"temps", "false_temperatures", randomString(rng)}[rng.IntN(3)],
		"address":       "observatory.a.feeds.temps",
		"record":        rng.IntN(8) != 0,
		"session_id":    "1795294463.5561733",
		"agent_class":   "FakeDataAgent",
	}
	if rng.IntN(4) == 0 {
		info["agent_class"] = nil
	}
	switch rng.IntN(6) {
	case 0:
		info["agg_params"] = map[string]any{"frame_length": int64(60), "exclude_influx": []any{false, true, int64(0), "", 0.0, nil, uint64(1)}[rng.IntN(7)]}
	case 1:
		info["agg_params"] = map[string]any{"x": randomTree(rng, 3)}
	}
	for _, k := range []string{"agent_address", "agg_params", "feed_name", "address", "record", "session_id", "agent_class"} {
		if odd() {
			if rng.IntN(2) == 0 {
				delete(info, k)
			} else {
				info[k] = randomTree(rng, 4)
			}
		}
	}
	if odd() {
		info["extra"] = randomTree(rng, 3)
	}

	message := map[string]any{}
	for range rng.IntN(4) {
		name := []string{"temps", "b", "c_1", randomString(rng)}[rng.IntN(4)]
		nt := []int{1, 1, 2, 10, 0, 40}[rng.IntN(6)]
		ts := make([]any, nt)
		for i := range ts {
			switch rng.IntN(4) {
			case 0:
				ts[i] = int64(1795298321 + i)
			case 1:
				ts[i] = uint64(1795298321 + i)
			default:
				ts[i] = 1795298321.578768 + 0.1*float64(i)
			}
			if odd() {
				ts[i] = []any{nil, math.NaN(), math.Inf(1), 1e300, "x", uint64(math.MaxUint64), -1e10, []any{}}[rng.IntN(8)]
			}
		}
		data := map[string]any{}
		for f := range 1 + rng.IntN(12) {
			fname := fmt.Sprintf("ch_%02d", f)
			if odd() {
				fname = []string{"", "1x", "a b", "_", "x-y", randomString(rng)}[rng.IntN(6)]
			}
			n := nt
			if odd() {
				n = rng.IntN(nt + 3)
			}
			vals := make([]any, n)
			kind := rng.IntN(5)
			for i := range vals {
				switch kind {
				case 0, 1:
					vals[i] = rng.NormFloat64()
				case 2:
					vals[i] = randomInt(rng)
				case 3:
					vals[i] = rng.IntN(2) == 0
				default:
					vals[i] = []string{"on", "", "ok é", "s" + randomString(rng)}[rng.IntN(4)]
				}
				if odd() {
					vals[i] = []any{nil, math.NaN(), math.Inf(-1), uint64(1 << 63), uint64(7), "\x00bin", []any{}, map[string]any{}, float64(2), -0.0}[rng.IntN(10)]
				}
			}
			var v any = vals
			if odd() {
				v = randomTree(rng, 4)
			}
			data[fname] = v
		}
		block := map[string]any{"block_name": name, "timestamps": ts, "data": data}
		if nt == 1 && rng.IntN(3) == 0 {
			// A single sample (OCS PR #466): "timestamp" and scalar values.
			single := map[string]any{}
			for k, v := range data {
				if l, ok := v.([]any); ok && len(l) == 1 && !odd() {
					single[k] = l[0]
				} else {
					single[k] = v
				}
			}
			data = single
			block["data"], block["timestamp"] = single, ts[0]
			switch {
			case odd():
				block["timestamps"] = randomTree(rng, 2) // ignored
			case rng.IntN(3) != 0:
				delete(block, "timestamps")
			}
		}
		switch rng.IntN(4) {
		case 0:
			block["influxdb_tags"] = nil // OCS v0.12.1 without tags
		case 1, 2:
			if info["agent_class"] != nil || bad > 0 {
				block["influxdb_tags"] = randomTags(rng, data, odd)
			}
		}
		if odd() {
			switch rng.IntN(6) {
			case 0:
				delete(block, "block_name")
			case 1:
				block["block_name"] = "other"
			case 2:
				delete(block, []string{"timestamps", "data"}[rng.IntN(2)])
			case 3:
				block[[]string{"timestamps", "data", "block_name"}[rng.IntN(3)]] = randomTree(rng, 4)
			case 4:
				block["prefix"] = ""
			default:
				data = map[string]any{}
				block["data"] = data
			}
		}
		var b any = block
		if odd() {
			b = randomTree(rng, 3)
		}
		message[name] = b
	}
	var msg any = message
	if odd() {
		msg = randomTree(rng, 2)
	}
	var pair any = []any{msg, info}
	if odd() {
		pair = []any{[]any{msg}, []any{msg, info, nil}, info, nil}[rng.IntN(4)]
	}
	args = []any{pair}
	if odd() {
		args = [][]any{nil, {}, {pair, pair}}[rng.IntN(3)]
	}
	if odd() {
		kwargs = map[string]any{"x": int64(1)}
	}
	return args, kwargs
}

// randomTags returns influxdb_tags (OCS PR #467) for the data keys of a
// block: mostly valid tag sets of every value type, with now and then
// (odd) each of the things DecodeEvent reports.
func randomTags(rng *rand.Rand, data map[string]any, odd func() bool) any {
	if odd() {
		return []any{[]any{int64(1)}, "x", false, map[string]any{}, randomTree(rng, 3)}[rng.IntN(5)]
	}
	value := func() any {
		if odd() {
			return []any{nil, []any{}, map[string]any{"a": int64(1)}, "\x00b", randomTree(rng, 2)}[rng.IntN(5)]
		}
		return []any{int64(rng.IntN(40)), int64(-7), uint64(1 << 63), 0.5, 2.0, 1e16, math.NaN(), true, false,
			"temperature", "", "a b,c=d", "é", fmt.Sprintf("ch%d", rng.IntN(100))}[rng.IntN(14)]
	}
	tags := map[string]any{}
	keys := make([]string, 0, len(data)+1)
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if rng.IntN(4) == 0 {
		keys = append(keys, "unused")
	}
	for _, k := range keys {
		if odd() {
			continue // no tag set for k
		}
		set := map[string]any{"_field": value()}
		for range rng.IntN(4) {
			set[[]string{"channel", "sensor", "unit", "x_y", "_z"}[rng.IntN(5)]] = value()
		}
		if odd() {
			delete(set, "_field")
		}
		if odd() {
			set[[]string{"feed", "address_root", "instance_id"}[rng.IntN(3)]] = "v"
		}
		var v any = set
		if odd() {
			v = randomTree(rng, 2)
		}
		tags[k] = v
	}
	return tags
}

// randomFeedEvent writes the arguments of randomFeedTree in random msgpack
// encodings, with or without (empty or nil) keyword arguments.
func randomFeedEvent(w *mpWriter, bad int) []byte {
	args, kwargs := randomFeedTree(w.rng, bad)
	n := 5
	if kwargs != nil || w.rng.IntN(4) == 0 {
		n = 6
		if kwargs == nil && w.rng.IntN(2) == 0 {
			kwargs = map[string]any{}
		}
	}
	details := map[string]any{"topic": "observatory.a.feeds.f"}
	if w.rng.IntN(4) == 0 {
		details = map[string]any{}
	}
	if args == nil {
		return eventBytes(w, w.rng.Uint64()>>11, 3, details, nil, kwargs, n)
	}
	return eventBytes(w, w.rng.Uint64()>>11, 3, details, args, kwargs, n)
}

// TestMsgpackFeedDecoderRandomClean: random clean feed events in every
// msgpack encoding are all accepted and decode as the generic path decodes
// them, also when the decoder reuses the previous event's feed_info.
func TestMsgpackFeedDecoderRandomClean(t *testing.T) {
	w := &mpWriter{rng: rand.New(rand.NewPCG(11, 12))}
	var fd feeds.MsgpackFeedDecoder
	tagged, tags := 0, 0
	for i := range 3000 {
		raw := randomFeedEvent(w, 0)
		if !checkFeedDecoder(t, &fd, raw) {
			_, p, err, _ := genericDecode(raw)
			t.Errorf("clean event %d declined (generic: problems %v, error %v): % x", i, p, err, raw)
		}
		if t.Failed() {
			return
		}
		m, _ := fd.Decode(raw)
		for _, b := range m.Blocks {
			if b.Tagged() {
				tagged++
				for _, ts := range b.Tags {
					tags += len(ts.Tags)
				}
			}
		}
	}
	if tagged < 300 || tags < 1000 {
		t.Errorf("%d tagged blocks with %d tags: the generator no longer covers influxdb_tags", tagged, tags)
	}
}

// TestMsgpackFeedDecoderRandomOdd: random feed events with oddities decode
// as the generic path decodes them whenever accepted; those the generic
// path decodes without problem or error (extra keys, absent optional
// feed_info keys, -0.0, ...) are all accepted, the others declined.
func TestMsgpackFeedDecoderRandomOdd(t *testing.T) {
	w := &mpWriter{rng: rand.New(rand.NewPCG(13, 14))}
	var fd feeds.MsgpackFeedDecoder
	accepted, declined := 0, 0
	for range 6000 {
		raw := randomFeedEvent(w, 30)
		if checkFeedDecoder(t, &fd, raw) {
			accepted++
		} else {
			declined++
			if _, p, err, ok := genericDecode(raw); ok && err == nil && p == nil {
				t.Errorf("declined % x, which the generic path decodes without problem", raw)
			}
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("accepted %d, declined %d", accepted, declined)
	if accepted < 1000 || declined < 1000 {
		t.Errorf("accepted %d, declined %d: the generator no longer covers both", accepted, declined)
	}
}

// TestMsgpackFeedDecoderInfoReuse: the remembered feed_info is used only
// for the same bytes; a changed feed_info is decoded again.
func TestMsgpackFeedDecoderInfoReuse(t *testing.T) {
	info := feeds.Info{AgentAddress: "observatory.a", FeedName: "f", Address: "observatory.a.feeds.f", Record: true, SessionID: "1.5",
		AggParams: map[string]any{"frame_length": int64(60)}}
	blk := feeds.Block{Name: "b", Timestamps: []float64{1.5}, Fields: []feeds.Field{{Name: "x", Values: []feeds.Value{feeds.Int(3)}}}}
	var fd feeds.MsgpackFeedDecoder
	for i, mod := range []func(*feeds.Info){
		func(*feeds.Info) {},
		func(*feeds.Info) {},
		func(i *feeds.Info) { i.FeedName = "g" },
		func(i *feeds.Info) { i.Record = false },
		func(i *feeds.Info) { i.AggParams = map[string]any{"exclude_influx": true} },
		func(i *feeds.Info) { i.AggParams = nil },
		func(i *feeds.Info) { c := "C"; i.AgentClass = &c },
	} {
		in := info
		mod(&in)
		raw := feedEventBytes(t, feeds.Message{Info: in, Blocks: []feeds.Block{blk}}.Args(), nil)
		got, ok := fd.Decode(raw)
		if !ok {
			t.Fatalf("event %d declined", i)
		}
		want := feeds.Message{Info: in}
		if in.Recordable() {
			want.Blocks = []feeds.Block{blk}
		}
		if d := sameMessage(got, want); d != "" {
			t.Errorf("event %d: %s", i, d)
		}
		checkFeedDecoder(t, &fd, raw)
	}
}

// TestMsgpackFeedDecoderDeclines: events the fast decoder leaves to the
// generic path, though it could read them.
func TestMsgpackFeedDecoderDeclines(t *testing.T) {
	info := map[string]any{"agent_address": "observatory.a", "agg_params": map[string]any{}, "feed_name": "f",
		"address": "observatory.a.feeds.f", "record": true, "session_id": "1.5", "agent_class": nil}
	block := func(ts any, data any) []any {
		return []any{[]any{map[string]any{"b": map[string]any{"block_name": "b", "timestamps": ts, "data": data}}, info}}
	}
	w := &mpWriter{rng: rand.New(rand.NewPCG(15, 16))}
	ev := func(args []any, kwargs map[string]any, n int) []byte {
		return eventBytes(w, 1, 2, map[string]any{}, args, kwargs, n)
	}
	good := ev(block([]any{1.5}, map[string]any{"x": []any{1.5}}), nil, 5)
	var fd feeds.MsgpackFeedDecoder
	if !checkFeedDecoder(t, &fd, good) {
		t.Fatalf("% x declined", good)
	}
	cases := map[string][]byte{
		"no arguments":     ev(nil, nil, 4),
		"kwargs":           ev(block([]any{1.5}, map[string]any{"x": []any{1.5}}), map[string]any{"k": int64(1)}, 6),
		"two arguments":    ev(append(block([]any{1.5}, map[string]any{}), "x"), nil, 5),
		"null value":       ev(block([]any{1.5}, map[string]any{"x": []any{nil}}), nil, 5),
		"NaN value":        ev(block([]any{1.5}, map[string]any{"x": []any{math.NaN()}}), nil, 5),
		"huge uint":        ev(block([]any{1.5}, map[string]any{"x": []any{uint64(1 << 63)}}), nil, 5),
		"binary string":    ev(block([]any{1.5}, map[string]any{"x": []any{"\x00b"}}), nil, 5),
		"binary value":     ev(block([]any{1.5}, map[string]any{"x": []any{rawMsgpack{0xc4, 1, 'x'}}}), nil, 5),
		"short field":      ev(block([]any{1.5, 2.5}, map[string]any{"x": []any{1.5}}), nil, 5),
		"long field":       ev(block([]any{1.5}, map[string]any{"x": []any{1.5, 2.5}}), nil, 5),
		"bad field name":   ev(block([]any{1.5}, map[string]any{"x y": []any{1.5}}), nil, 5),
		"NaN timestamp":    ev(block([]any{math.NaN()}, map[string]any{"x": []any{1.5}}), nil, 5),
		"huge timestamp":   ev(block([]any{1e300}, map[string]any{"x": []any{1.5}}), nil, 5),
		"null timestamp":   ev(block([]any{nil}, map[string]any{"x": []any{1.5}}), nil, 5),
		"no field":         ev(block([]any{1.5}, map[string]any{}), nil, 5),
		"timestamps null":  ev(block(nil, map[string]any{"x": []any{1.5}}), nil, 5),
		"data a list":      ev(block([]any{1.5}, []any{}), nil, 5),
		"duplicate field":  ev(block([]any{1.5}, rawMsgpack{0x82, 0xa1, 'x', 0x91, 1, 0xa1, 'x', 0x91, 2}), nil, 5),
		"duplicate record": ev([]any{[]any{map[string]any{}, rawMsgpack{0x85, 0xad, 'a', 'g', 'e', 'n', 't', '_', 'a', 'd', 'd', 'r', 'e', 's', 's', 0xa1, 'a', 0xaa, 'a', 'g', 'g', '_', 'p', 'a', 'r', 'a', 'm', 's', 0x80, 0xa9, 'f', 'e', 'e', 'd', '_', 'n', 'a', 'm', 'e', 0xa1, 'f', 0xa6, 'r', 'e', 'c', 'o', 'r', 'd', 0xc3, 0xa6, 'r', 'e', 'c', 'o', 'r', 'd', 0xc2}}}, nil, 5),
	}
	for name, raw := range cases {
		if checkFeedDecoder(t, &fd, raw) {
			t.Errorf("%s: accepted", name)
		}
	}

	// Single samples (OCS PR #466) and influxdb_tags (PR #467).
	classInfo := maps.Clone(info)
	classInfo["agent_class"] = "A"
	with := func(info map[string]any, b map[string]any) []byte {
		b["block_name"] = "b"
		return ev([]any{[]any{map[string]any{"b": b}, info}}, nil, 5)
	}
	tags := func(sets any) map[string]any {
		return map[string]any{"timestamps": []any{1.5}, "data": map[string]any{"x": []any{1.5}}, "influxdb_tags": sets}
	}
	set := map[string]any{"k": int64(1), "_field": "v"}
	for name, raw := range map[string][]byte{
		"single":                 with(info, map[string]any{"timestamp": 1.5, "data": map[string]any{"x": 1.5, "y": "s"}}),
		"single, bad timestamps": with(info, map[string]any{"timestamp": 1.5, "timestamps": "x", "data": map[string]any{"x": 1.5}}),
		"tags null":              with(info, map[string]any{"timestamps": []any{1.5}, "data": map[string]any{"x": []any{1.5}}, "influxdb_tags": nil}),
		"tags":                   with(classInfo, tags(map[string]any{"x": set, "other": map[string]any{"_field": true}})),
		"tags, single":           with(classInfo, map[string]any{"timestamp": int64(2), "data": map[string]any{"x": int64(1)}, "influxdb_tags": map[string]any{"x": set}}),
	} {
		if !checkFeedDecoder(t, &fd, raw) {
			t.Errorf("%s: declined", name)
		}
	}
	for name, raw := range map[string][]byte{
		"single list value":        with(info, map[string]any{"timestamp": 1.5, "data": map[string]any{"x": []any{1.5}}}),
		"single mixed values":      with(info, map[string]any{"timestamp": 1.5, "data": map[string]any{"x": 1.5, "y": []any{1.5}}}),
		"lists mixed values":       with(info, map[string]any{"timestamps": []any{1.5}, "data": map[string]any{"x": []any{1.5}, "y": 1.5}}),
		"single without field":     with(info, map[string]any{"timestamp": 1.5, "data": map[string]any{}}),
		"single NaN timestamp":     with(info, map[string]any{"timestamp": math.NaN(), "data": map[string]any{"x": 1.5}}),
		"single null timestamp":    with(info, map[string]any{"timestamp": nil, "data": map[string]any{"x": 1.5}}),
		"scalars, no timestamp":    with(info, map[string]any{"timestamps": []any{1.5}, "data": map[string]any{"x": 1.5}}),
		"bad timestamps only":      with(info, map[string]any{"timestamps": []any{"x"}, "data": map[string]any{"x": []any{1.5}}}),
		"tags, agent_class null":   with(info, tags(map[string]any{"x": set})),
		"tags, address without .":  with(map[string]any{"agent_address": "a", "agg_params": map[string]any{}, "feed_name": "f", "record": true, "agent_class": "A"}, tags(map[string]any{"x": set})),
		"tags a list":              with(classInfo, tags([]any{set})),
		"tags empty":               with(classInfo, tags(map[string]any{})),
		"tag set missing":          with(classInfo, tags(map[string]any{"y": set})),
		"tag set a string":         with(classInfo, tags(map[string]any{"x": "s"})),
		"no _field":                with(classInfo, tags(map[string]any{"x": map[string]any{"k": "v"}})),
		"unused set without field": with(classInfo, tags(map[string]any{"x": set, "y": map[string]any{}})),
		"null _field":              with(classInfo, tags(map[string]any{"x": map[string]any{"_field": nil}})),
		"null tag":                 with(classInfo, tags(map[string]any{"x": map[string]any{"k": nil, "_field": "v"}})),
		"list tag":                 with(classInfo, tags(map[string]any{"x": map[string]any{"k": []any{}, "_field": "v"}})),
		"binary tag":               with(classInfo, tags(map[string]any{"x": map[string]any{"k": rawMsgpack{0xc4, 1, 'x'}, "_field": "v"}})),
		"NUL string tag":           with(classInfo, tags(map[string]any{"x": map[string]any{"k": "\x00x", "_field": "v"}})),
		"reserved tag":             with(classInfo, tags(map[string]any{"x": map[string]any{"address_root": "r", "_field": "v"}})),
		"duplicate tag":            with(classInfo, tags(map[string]any{"x": rawMsgpack{0x83, 0xa1, 'k', 1, 0xa1, 'k', 2, 0xa6, '_', 'f', 'i', 'e', 'l', 'd', 0xa1, 'v'}})),
		"duplicate _field":         with(classInfo, tags(map[string]any{"x": rawMsgpack{0x82, 0xa6, '_', 'f', 'i', 'e', 'l', 'd', 0xa1, 'v', 0xa6, '_', 'f', 'i', 'e', 'l', 'd', 0xa1, 'w'}})),
		"duplicate tag set":        with(classInfo, tags(rawMsgpack{0x82, 0xa1, 'x', 0x81, 0xa6, '_', 'f', 'i', 'e', 'l', 'd', 0xa1, 'v', 0xa1, 'x', 0x81, 0xa6, '_', 'f', 'i', 'e', 'l', 'd', 0xa1, 'w'})),
	} {
		if checkFeedDecoder(t, &fd, raw) {
			t.Errorf("%s: accepted", name)
		}
		// DecodeEvent reports each (duplicates aside: nexus decides).
		if _, p, err, _ := genericDecode(raw); p == nil && err == nil && !strings.HasPrefix(name, "duplicate") {
			t.Errorf("%s: DecodeEvent reports no problem", name)
		}
	}
	// The feed_info above, without its duplicate, is accepted: the case
	// is declined for the duplicate.
	dupless := ev([]any{[]any{map[string]any{}, rawMsgpack{0x84, 0xad, 'a', 'g', 'e', 'n', 't', '_', 'a', 'd', 'd', 'r', 'e', 's', 's', 0xa1, 'a', 0xaa, 'a', 'g', 'g', '_', 'p', 'a', 'r', 'a', 'm', 's', 0x80, 0xa9, 'f', 'e', 'e', 'd', '_', 'n', 'a', 'm', 'e', 0xa1, 'f', 0xa6, 'r', 'e', 'c', 'o', 'r', 'd', 0xc3}}}, nil, 5)
	if !checkFeedDecoder(t, &fd, dupless) {
		t.Errorf("feed_info without duplicate declined")
	}
}

// TestMsgpackEventHead: the head of an event is what DecodeMsgpackEvent
// decodes, without arguments; MsgpackEventSubscription reads its
// subscription.
func TestMsgpackEventHead(t *testing.T) {
	w := &mpWriter{rng: rand.New(rand.NewPCG(17, 18))}
	for i := range 500 {
		raw := randomFeedEvent(w, 30)
		full, ok := feeds.DecodeMsgpackEvent(raw)
		head, hok := feeds.DecodeMsgpackEventHead(raw)
		sub, sok := feeds.MsgpackEventSubscription(raw)
		if !ok {
			continue
		}
		if !hok || !sok {
			t.Fatalf("event %d: head %v, subscription %v", i, hok, sok)
		}
		if head.Subscription != full.Subscription || head.Publication != full.Publication || sub != full.Subscription ||
			sameTree(head.Details, full.Details, "details") != "" || head.Arguments != nil || head.ArgumentsKw != nil {
			t.Fatalf("event %d: head %+v, subscription %d, full %+v", i, head, sub, full)
		}
	}
	for name, raw := range map[string][]byte{
		"empty":          {},
		"not an event":   {0x95, 17, 1, 2, 0x80, 0x90},
		"args an object": {0x95, 36, 1, 2, 0x80, 0x80},
		"kwargs a list":  {0x96, 36, 1, 2, 0x80, 0x90, 0x90},
		"truncated":      {0x95, 36, 1, 2, 0x80, 0x91},
		"trailing":       {0x95, 36, 1, 2, 0x80, 0x90, 0xc0},
		"binary":         {0x95, 36, 1, 2, 0x80, 0x91, 0xc4, 1, 'x'},
	} {
		if ev, ok := feeds.DecodeMsgpackEventHead(raw); ok {
			t.Errorf("%s: head accepted: %+v", name, ev)
		}
	}
	if sub, ok := feeds.MsgpackEventSubscription(binary.BigEndian.AppendUint32([]byte{0x95, 36, 0xce}, 1<<31)); !ok || sub != 1<<31 {
		t.Errorf("subscription %d %v", sub, ok)
	}
}

// FuzzMsgpackFeedDecoder: whatever the input, what the fast decoder
// accepts decodes as the generic path decodes it (twice: the second time
// with the remembered feed_info).
func FuzzMsgpackFeedDecoder(f *testing.F) {
	w := &mpWriter{rng: rand.New(rand.NewPCG(19, 20))}
	for range 30 {
		f.Add(randomFeedEvent(w, 20))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fd feeds.MsgpackFeedDecoder
		if checkFeedDecoder(t, &fd, raw) {
			checkFeedDecoder(t, &fd, raw)
		}
		feeds.DecodeMsgpackEventHead(raw)
		feeds.MsgpackEventSubscription(raw)
	})
}

// BenchmarkMsgpackFeedDecoder decodes the feed event of
// BenchmarkDecodeMsgpackEvent straight into a Message. Per point.
func BenchmarkMsgpackFeedDecoder(b *testing.B) {
	for _, samples := range []int{10, 1} {
		raw := msgpackEventBytes(b, samples, 10)
		b.Run(fmt.Sprintf("%dsamples", samples), func(b *testing.B) {
			var fd feeds.MsgpackFeedDecoder
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if m, ok := fd.Decode(raw); !ok || len(m.Blocks) != 1 {
					b.Fatal("not decoded")
				}
			}
			reportPoints(b, samples)
		})
	}
}
