package feeds_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/feeds"
)

// sameTree reports where a and b differ in Go type or value (NaNs equal by
// bits); "" when they are the same.
func sameTree(a, b any, path string) string {
	if fmt.Sprintf("%T", a) != fmt.Sprintf("%T", b) {
		return fmt.Sprintf("%s: %T vs %T", path, a, b)
	}
	switch x := a.(type) {
	case float64:
		if math.Float64bits(x) != math.Float64bits(b.(float64)) {
			return fmt.Sprintf("%s: %v vs %v", path, x, b)
		}
	case []any:
		return sameList(x, b.([]any), path)
	case wamp.List:
		return sameList(x, b.(wamp.List), path)
	case map[string]any:
		return sameDict(x, b.(map[string]any), path)
	case wamp.Dict:
		return sameDict(x, b.(wamp.Dict), path)
	case nil:
	case bool, int64, uint64, string:
		if a != b {
			return fmt.Sprintf("%s: %#v vs %#v", path, a, b)
		}
	default:
		return fmt.Sprintf("%s: unexpected type %T", path, a)
	}
	return ""
}

func sameList(a, b []any, path string) string {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return fmt.Sprintf("%s: list %#v vs %#v", path, a, b)
	}
	for i := range a {
		if d := sameTree(a[i], b[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
			return d
		}
	}
	return ""
}

func sameDict(a, b map[string]any, path string) string {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return fmt.Sprintf("%s: object %#v vs %#v", path, a, b)
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok {
			return fmt.Sprintf("%s: key %q missing", path, k)
		}
		if d := sameTree(v, w, path+"."+k); d != "" {
			return d
		}
	}
	return ""
}

// sameEvent compares DecodeMsgpackEvent's result with nexus's.
func sameEvent(g *wamp.Event, want wamp.Message) string {
	w, ok := want.(*wamp.Event)
	if !ok {
		return fmt.Sprintf("nexus decoded a %T", want)
	}
	if g.Subscription != w.Subscription || g.Publication != w.Publication {
		return fmt.Sprintf("ids %d %d vs %d %d", g.Subscription, g.Publication, w.Subscription, w.Publication)
	}
	if d := sameTree(g.Details, w.Details, "details"); d != "" {
		return d
	}
	if d := sameTree(g.Arguments, w.Arguments, "args"); d != "" {
		return d
	}
	return sameTree(g.ArgumentsKw, w.ArgumentsKw, "kwargs")
}

// checkAgainstNexus decodes raw with both decoders: when DecodeMsgpackEvent
// accepts it, nexus must decode the same event. It returns whether the
// fast decoder accepted it.
func checkAgainstNexus(t *testing.T, raw []byte) bool {
	t.Helper()
	ev, ok := feeds.DecodeMsgpackEvent(raw)
	if !ok {
		if ev != nil {
			t.Errorf("not ok but returned %v", ev)
		}
		return false
	}
	want, err := (&serialize.MessagePackSerializer{}).Deserialize(raw)
	if err != nil {
		t.Errorf("DecodeMsgpackEvent accepted % x, nexus fails: %v", raw, err)
		return true
	}
	if d := sameEvent(ev, want); d != "" {
		t.Errorf("% x: %s", raw, d)
	}
	return true
}

// mpWriter writes msgpack, choosing among the valid encodings of each
// value at random (canonical or not), as different WAMP libraries do.
type mpWriter struct {
	b   []byte
	rng *rand.Rand
}

func (w *mpWriter) byte(c ...byte) { w.b = append(w.b, c...) }

func (w *mpWriter) be(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		w.b = append(w.b, byte(v>>(8*i)))
	}
}

// header writes a string, array or map header of length n: fix is the
// fix-type base (0 if none) with its maximum, first the 8/16/32-bit
// codes (0 where absent).
func (w *mpWriter) header(n int, fix byte, fixMax int, codes [3]byte) {
	var opts []int
	if fix != 0 && n <= fixMax {
		opts = append(opts, -1)
	}
	for i, c := range codes {
		if c != 0 && n < 1<<(8<<i) {
			opts = append(opts, i)
		}
	}
	switch o := opts[w.rng.IntN(len(opts))]; o {
	case -1:
		w.byte(fix | byte(n))
	default:
		w.byte(codes[o])
		w.be(uint64(n), 1<<o)
	}
}

func (w *mpWriter) value(v any) {
	switch x := v.(type) {
	case nil:
		w.byte(0xc0)
	case bool:
		if x {
			w.byte(0xc3)
		} else {
			w.byte(0xc2)
		}
	case float64:
		if f := float32(x); float64(f) == x && w.rng.IntN(2) == 0 {
			w.byte(0xca)
			w.be(uint64(math.Float32bits(f)), 4)
			return
		}
		w.byte(0xcb)
		w.be(math.Float64bits(x), 8)
	case int64:
		w.int(x)
	case uint64:
		w.uint(x)
	case string:
		w.header(len(x), 0xa0, 31, [3]byte{0xd9, 0xda, 0xdb})
		w.b = append(w.b, x...)
	case []any:
		w.header(len(x), 0x90, 15, [3]byte{0, 0xdc, 0xdd})
		for _, e := range x {
			w.value(e)
		}
	case map[string]any:
		w.header(len(x), 0x80, 15, [3]byte{0, 0xde, 0xdf})
		for k, e := range x {
			w.value(k)
			w.value(e)
		}
	case rawMsgpack:
		w.b = append(w.b, x...)
	default:
		panic(fmt.Sprintf("mpWriter: %T", v))
	}
}

// int writes a signed integer in one of its valid encodings.
func (w *mpWriter) int(x int64) {
	var opts []func()
	if x >= 0 && x <= 0x7f {
		opts = append(opts, func() { w.byte(byte(x)) })
	}
	if x >= -32 && x < 0 {
		opts = append(opts, func() { w.byte(byte(int8(x))) })
	}
	for i, c := range []byte{0xd0, 0xd1, 0xd2, 0xd3} {
		bits := 8 << i
		if bits == 64 || (x >= -(1<<(bits-1)) && x < 1<<(bits-1)) {
			opts = append(opts, func() { w.byte(c); w.be(uint64(x), bits/8) })
		}
	}
	if x >= 0 {
		opts = append(opts, func() { w.uint(uint64(x)) })
	}
	opts[w.rng.IntN(len(opts))]()
}

// uint writes an unsigned integer with an unsigned encoding.
func (w *mpWriter) uint(x uint64) {
	var opts []int
	for i := range 4 {
		if i == 3 || x < 1<<(8<<i) {
			opts = append(opts, i)
		}
	}
	i := opts[w.rng.IntN(len(opts))]
	w.byte(0xcc + byte(i))
	w.be(x, 1<<i)
}

// rawMsgpack is written as is.
type rawMsgpack []byte

// randomTree returns a random value of the plain types (objects,
// lists, strings of every length class, integers and floats of every
// range, bools, nil).
func randomTree(rng *rand.Rand, depth int) any {
	k := rng.IntN(12)
	if depth > 6 && k >= 9 {
		k = rng.IntN(9)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return randomInt(rng)
	case 3:
		return rng.Uint64() >> rng.IntN(64)
	case 4:
		return math.Float64frombits(rng.Uint64())
	case 5:
		return []float64{0, -0.5, 1.5, 0.1, 1e300, math.Inf(1), math.NaN(), 1795294463.5561733}[rng.IntN(8)]
	case 6, 7:
		return randomString(rng)
	case 8:
		return rng.NormFloat64()
	case 9, 10:
		l := make([]any, randomLen(rng, depth))
		for i := range l {
			l[i] = randomTree(rng, depth+1)
		}
		return l
	default:
		m := map[string]any{}
		for range randomLen(rng, depth) {
			m[randomString(rng)] = randomTree(rng, depth+1)
		}
		return m
	}
}

func randomInt(rng *rand.Rand) int64 {
	x := int64(rng.Uint64() >> rng.IntN(64))
	if rng.IntN(2) == 0 {
		x = -x
	}
	return x
}

// randomLen returns a container length: long ones (beyond the fix
// encodings) only at the top, short ones below, so trees stay small.
func randomLen(rng *rand.Rand, depth int) int {
	switch rng.IntN(10) {
	case 0:
		return 0
	case 1:
		if depth == 0 {
			return 16 + rng.IntN(300)
		}
	}
	return 1 + rng.IntN(5)
}

func randomString(rng *rand.Rand) string {
	n := []int{0, 1, 5, 31, 32, 255, 256, 70000}[rng.IntN(8)]
	if n == 70000 && rng.IntN(8) != 0 {
		n = 3
	}
	var sb strings.Builder
	for range n {
		sb.WriteByte("abcdefghij_.-\xff\x00é"[rng.IntN(16)])
	}
	return sb.String()
}

// eventBytes writes an EVENT [36, sub, pub, details, args?, kwargs?].
func eventBytes(w *mpWriter, sub, pub uint64, details map[string]any, args []any, kwargs map[string]any, n int) []byte {
	w.b = w.b[:0]
	w.header(n, 0x90, 15, [3]byte{0, 0xdc, 0xdd})
	w.int(int64(wamp.EVENT))
	w.uint(sub)
	w.int(int64(pub >> 1))
	w.value(details)
	if n > 4 {
		w.value(args)
	}
	if n > 5 {
		w.value(kwargs)
	}
	return append([]byte(nil), w.b...)
}

// TestDecodeMsgpackEventMatchesNexus: events with random content in every
// msgpack encoding decode exactly as nexus decodes them (types and
// values), and the fast decoder accepts them all.
func TestDecodeMsgpackEventMatchesNexus(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := &mpWriter{rng: rng}
	for i := range 3000 {
		details := map[string]any{"topic": "observatory.agent.feeds.x"}
		if i%3 == 0 {
			details = map[string]any{}
		}
		var args []any
		var kwargs map[string]any
		n := 4 + i%3
		if n > 4 {
			args = []any{randomTree(rng, 0), randomTree(rng, 0)}[:1+i%2]
		}
		if n > 5 {
			if kwargs, _ = randomTree(rng, 3).(map[string]any); kwargs == nil {
				kwargs = map[string]any{"k": randomTree(rng, 0)}
			}
		}
		raw := eventBytes(w, rng.Uint64(), rng.Uint64(), details, args, kwargs, n)
		if !checkAgainstNexus(t, raw) {
			t.Errorf("event %d not accepted: % x", i, raw)
		}
		if t.Failed() {
			return
		}
	}
}

// TestDecodeMsgpackEventFeedEvents: real feed events, as nexus serializes
// them (and so as the router sends them), decode as nexus decodes them.
func TestDecodeMsgpackEventFeedEvents(t *testing.T) {
	s := &serialize.MessagePackSerializer{}
	data, err := os.ReadFile(filepath.Join("testdata", "fakedata_event", "message.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := feeds.DecodeEventJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	class := "FakeDataAgent"
	info := feeds.Info{AgentAddress: "observatory.fake-data1", AggParams: map[string]any{"frame_length": int64(60), "x": -2.5},
		FeedName: "false_temperatures", Address: "observatory.fake-data1.feeds.false_temperatures", Record: true,
		SessionID: "1795294463.5561733", AgentClass: &class}
	m.Info = info
	for _, ev := range []*wamp.Event{
		{Subscription: 1, Publication: 2, Details: wamp.Dict{"topic": info.Address}, Arguments: m.Args()},
		{Subscription: 1 << 60, Publication: 1 << 40, Details: wamp.Dict{}, Arguments: feeds.EventArgs(map[string]any{"record": int64(3)}, info)},
		{Subscription: 7, Publication: 9, Details: wamp.Dict{}},
		{Subscription: 7, Publication: 9, Details: wamp.Dict{}, ArgumentsKw: wamp.Dict{"a": []any{}}},
	} {
		raw, err := s.Serialize(ev)
		if err != nil {
			t.Fatal(err)
		}
		if !checkAgainstNexus(t, raw) {
			t.Errorf("%v not accepted", ev)
		}
	}
}

// TestDecodeMsgpackEventDeclines: what the fast decoder leaves to nexus.
func TestDecodeMsgpackEventDeclines(t *testing.T) {
	w := &mpWriter{rng: rand.New(rand.NewPCG(3, 4))}
	good := eventBytes(w, 5, 6, map[string]any{}, []any{"x"}, nil, 5)
	if !checkAgainstNexus(t, good) {
		t.Fatalf("% x not accepted", good)
	}
	ev := func(details any, args any, extra ...any) []byte {
		w.b = w.b[:0]
		w.byte(byte(0x95 + len(extra)))
		w.byte(36, 5, 6)
		w.value(details)
		w.value(args)
		for _, e := range extra {
			w.value(e)
		}
		return append([]byte(nil), w.b...)
	}
	cases := map[string][]byte{
		"empty":               {},
		"not an array":        {0x80},
		"not an event":        {0x95, 17, 1, 2, 0x80, 0x90},
		"too short":           {0x93, 36, 1, 2},
		"too long":            ev(map[string]any{}, []any{}, map[string]any{}, nil),
		"truncated":           good[:len(good)-1],
		"trailing bytes":      append(append([]byte(nil), good...), 0xc0),
		"negative id":         {0x95, 36, 0xff, 6, 0x80, 0x90},
		"float id":            {0x95, 36, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0x80, 0x90},
		"details a list":      ev([]any{}, []any{}),
		"args an object":      ev(map[string]any{}, map[string]any{}),
		"args a string":       ev(map[string]any{}, "x"),
		"binary":              ev(map[string]any{}, []any{rawMsgpack{0xc4, 1, 'x'}}),
		"extension":           ev(map[string]any{}, []any{rawMsgpack{0xd4, 1, 'x'}}),
		"timestamp extension": ev(map[string]any{}, []any{rawMsgpack{0xd6, 0xff, 0, 0, 0, 1}}),
		"never used":          ev(map[string]any{}, []any{rawMsgpack{0xc1}}),
		"integer key":         ev(map[string]any{}, []any{rawMsgpack{0x81, 1, 2}}),
		"nil key":             ev(map[string]any{}, []any{rawMsgpack{0x81, 0xc0, 2}}),
		"binary key":          ev(map[string]any{}, []any{rawMsgpack{0x81, 0xc4, 1, 'k', 2}}),
		"duplicate key":       ev(map[string]any{}, []any{rawMsgpack{0x82, 0xd9, 1, 'k', 1, 0xa1, 'k', 2}}),
		"huge array":          ev(map[string]any{}, []any{rawMsgpack{0xdd, 0xff, 0xff, 0xff, 0xff}}),
		"huge object":         ev(map[string]any{}, []any{rawMsgpack{0xdf, 0, 0, 0xff, 0xff}}),
		"huge string":         ev(map[string]any{}, []any{rawMsgpack{0xdb, 0x7f, 0xff, 0xff, 0xff}}),
		"too deep":            ev(map[string]any{}, []any{rawMsgpack(append(bytesOf(0x91, 70), 0xc0))}),
	}
	for name, raw := range cases {
		if got, ok := feeds.DecodeMsgpackEvent(raw); ok || got != nil {
			t.Errorf("%s: accepted: %v", name, got)
		}
	}
	// Nesting up to the limit is decoded.
	deep := ev(map[string]any{}, []any{rawMsgpack(append(bytesOf(0x91, 60), 0xc0))})
	if !checkAgainstNexus(t, deep) {
		t.Errorf("60 levels of nesting not accepted")
	}
}

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

// FuzzDecodeMsgpackEvent: whatever the input, an accepted one decodes as
// nexus decodes it.
func FuzzDecodeMsgpackEvent(f *testing.F) {
	w := &mpWriter{rng: rand.New(rand.NewPCG(5, 6))}
	for range 20 {
		f.Add(eventBytes(w, w.rng.Uint64(), 3, map[string]any{"topic": "a.b"}, []any{randomTree(w.rng, 2)}, nil, 5))
	}
	f.Add(binary.BigEndian.AppendUint16([]byte{0x95, 36, 1, 2, 0x80, 0xdc}, 1))
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkAgainstNexus(t, raw)
	})
}

// BenchmarkDecodeMsgpackEvent decodes a feed event of one block of 10
// float fields (10 samples, 1 sample) as a msgpack subscriber receives
// it: with nexus's serializer, with DecodeMsgpackEvent, and each followed
// by DecodeEvent (what the InfluxDB agent does per event). Per point.
func BenchmarkDecodeMsgpackEvent(b *testing.B) {
	for _, samples := range []int{10, 1} {
		raw := msgpackEventBytes(b, samples, 10)
		nexus := &serialize.MessagePackSerializer{}
		for _, dec := range []struct {
			name   string
			decode func([]byte) (*wamp.Event, bool)
		}{
			{"nexus", func(raw []byte) (*wamp.Event, bool) {
				m, err := nexus.Deserialize(raw)
				ev, ok := m.(*wamp.Event)
				return ev, err == nil && ok
			}},
			{"fast", feeds.DecodeMsgpackEvent},
		} {
			for _, full := range []bool{false, true} {
				name := fmt.Sprintf("%dsamples/%s", samples, dec.name)
				if full {
					name += "+DecodeEvent"
				}
				b.Run(name, func(b *testing.B) {
					b.ReportAllocs()
					b.SetBytes(int64(len(raw)))
					for b.Loop() {
						ev, ok := dec.decode(raw)
						if !ok {
							b.Fatal("not decoded")
						}
						if full {
							if m, _, err := feeds.DecodeEvent(ev.Arguments, ev.ArgumentsKw); err != nil || len(m.Blocks) != 1 {
								b.Fatalf("DecodeEvent: %v", err)
							}
						}
					}
					reportPoints(b, samples)
				})
			}
		}
	}
}

// msgpackEventBytes serializes with nexus an EVENT carrying a recorded
// feed message of one block, samples × fields FakeDataAgent-like floats.
func msgpackEventBytes(b *testing.B, samples, fields int) []byte {
	b.Helper()
	rng := rand.New(rand.NewPCG(8, 9))
	blk := feeds.Block{Name: "temps", Timestamps: make([]float64, samples)}
	for i := range blk.Timestamps {
		blk.Timestamps[i] = 1795298321.578768 + 0.1*float64(i)
	}
	for f := range fields {
		vals := make([]feeds.Value, samples)
		for i := range vals {
			vals[i] = feeds.Float(0.1 + (rng.Float64()-0.5)*0.01)
		}
		blk.Fields = append(blk.Fields, feeds.Field{Name: fmt.Sprintf("channel_%02d", f), Values: vals})
	}
	class := "FakeDataAgent"
	info := feeds.Info{AgentAddress: "observatory.fake-data1", FeedName: "false_temperatures",
		Address: "observatory.fake-data1.feeds.false_temperatures", Record: true,
		SessionID: "1795294463.5561733", AgentClass: &class}
	m := feeds.Message{Info: info, Blocks: []feeds.Block{blk}}
	raw, err := (&serialize.MessagePackSerializer{}).Serialize(&wamp.Event{Subscription: 1234567, Publication: 7654321,
		Details: wamp.Dict{"topic": info.Address}, Arguments: m.Args()})
	if err != nil {
		b.Fatal(err)
	}
	return raw
}
