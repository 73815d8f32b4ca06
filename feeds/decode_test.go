package feeds_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/feeds"
)

func wireInfo() map[string]any {
	return map[string]any{
		"agent_address": "observatory.a", "agg_params": map[string]any{}, "feed_name": "f",
		"address": "observatory.a.feeds.f", "record": true, "session_id": "1.0", "agent_class": "A",
	}
}

// TestDecodeEventGoTypes feeds the Go types a local nexus peer or another
// decoder may hand over (wamp.List/wamp.Dict, int, int32, uint32, float32,
// json.Number, *big.Int) and checks the kinds.
func TestDecodeEventGoTypes(t *testing.T) {
	message := wamp.Dict{"b": wamp.Dict{
		"block_name": "b",
		"timestamps": wamp.List{int(1), json.Number("2.5"), float32(3.5), uint64(4), int32(5), json.Number("6")},
		"data": wamp.Dict{
			"v": wamp.List{int(1), int32(-2), uint32(3), float32(0.25), json.Number("5"), json.Number("6.0")},
			"w": wamp.List{int8(1), uint16(2), json.Number("9223372036854775808"), big.NewInt(7), uint(9), json.Number("1e999")},
		},
	}}
	m, problems, err := feeds.DecodeEvent(wamp.List{wamp.List{message, wamp.Dict(wireInfo())}}, wamp.Dict{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Blocks) != 1 {
		t.Fatalf("blocks = %+v", m.Blocks)
	}
	b := m.Blocks[0]
	if want := []float64{1, 2.5, 3.5, 4, 5, 6}; !reflect.DeepEqual(b.Timestamps, want) {
		t.Errorf("timestamps = %v, want %v", b.Timestamps, want)
	}
	wantV := []feeds.Value{feeds.Int(1), feeds.Int(-2), feeds.Int(3), feeds.Float(0.25), feeds.Int(5), feeds.Float(6)}
	wantW := []feeds.Value{feeds.Int(1), feeds.Int(2), {}, {}, feeds.Int(9), {}}
	if !reflect.DeepEqual(b.Fields[0].Values, wantV) || !reflect.DeepEqual(b.Fields[1].Values, wantW) {
		t.Errorf("v = %v\nw = %v\nwant %v\n%v", b.Fields[0].Values, b.Fields[1].Values, wantV, wantW)
	}
	if n := feeds.Dropped(problems, feeds.ScopeValue); n != 3 {
		t.Errorf("dropped values = %d, want 3 (2^63, big int, 1e999): %v", n, problems)
	}
}

func TestDecodeEventErrors(t *testing.T) {
	msg := map[string]any{}
	cases := []struct {
		name   string
		args   []any
		kwargs map[string]any
		want   string
	}{
		{"kwargs", []any{[]any{msg, wireInfo()}}, map[string]any{"x": 1}, "1 keyword arguments, want none"},
		{"nil args", nil, nil, "0 arguments"},
		{"two args", []any{msg, wireInfo()}, nil, "2 arguments"},
		{"not a list", []any{"x"}, nil, "argument is a string"},
		{"info is list", []any{[]any{msg, []any{}}}, nil, "feed_info is a list"},
		{"session_id int", []any{[]any{msg, func() map[string]any { i := wireInfo(); i["session_id"] = 1.5; return i }()}}, nil,
			`feed_info (agent "observatory.a", feed "f") "session_id" is a float, want a string`},
		{"agent_class int", []any{[]any{msg, func() map[string]any { i := wireInfo(); i["agent_class"] = int64(1); return i }()}}, nil,
			`"agent_class" is an integer, want a string or null`},
		{"agent_address missing", []any{[]any{msg, func() map[string]any { i := wireInfo(); delete(i, "agent_address"); return i }()}}, nil,
			`feed_info (agent "", feed "f") has no "agent_address"`},
		{"record binary", []any{[]any{msg, func() map[string]any { i := wireInfo(); i["record"] = []byte{1}; return i }()}}, nil,
			`"record" is binary, want a bool`},
	}
	for _, c := range cases {
		_, _, err := feeds.DecodeEvent(c.args, c.kwargs)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, feeds.ErrBadEvent) {
			t.Errorf("%s: err = %v, want ErrBadEvent with %q", c.name, err, c.want)
		}
	}
	if _, _, err := feeds.DecodeEventJSON([]byte(`[[{}, {}]] x`)); !errors.Is(err, feeds.ErrBadEvent) {
		t.Errorf("trailing data: err = %v", err)
	}
}

func TestTruthyAndRecordable(t *testing.T) {
	truthy := []any{true, int64(1), uint64(2), -1, 0.5, math.NaN(), float32(1), "no", "False", []any{0}, map[string]any{"a": nil},
		json.Number("1"), big.NewInt(-1), []byte{0}, struct{}{}}
	falsy := []any{nil, false, int64(0), uint64(0), 0, 0.0, math.Copysign(0, -1), float32(0), "", []any{}, map[string]any{},
		json.Number("0"), json.Number("0.0"), big.NewInt(0), []byte{}, wamp.List{}, wamp.Dict{}}
	for _, v := range truthy {
		if !feeds.Truthy(v) {
			t.Errorf("Truthy(%#v) = false", v)
		}
	}
	for _, v := range falsy {
		if feeds.Truthy(v) {
			t.Errorf("Truthy(%#v) = true", v)
		}
	}
	info := feeds.Info{Record: true}
	if !info.Recordable() {
		t.Error("record true, no agg_params: not recordable")
	}
	info.AggParams = map[string]any{"exclude_influx": "yes"}
	if info.Recordable() {
		t.Error("exclude_influx 'yes': recordable")
	}
	info = feeds.Info{Record: false}
	if info.Recordable() {
		t.Error("record false: recordable")
	}
}

func TestInfoWire(t *testing.T) {
	info := feeds.Info{AgentAddress: "observatory.a", FeedName: "f", Address: feeds.FeedAddress("observatory.a", "f"),
		Record: false, SessionID: "1795294463.0"}
	w := info.Wire()
	want := map[string]any{"agent_address": "observatory.a", "agg_params": map[string]any{}, "feed_name": "f",
		"address": "observatory.a.feeds.f", "record": false, "session_id": "1795294463.0", "agent_class": nil}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("Wire() = %v\nwant %v", w, want)
	}
	hb := map[string]any{"acq": int64(1)}
	args := feeds.EventArgs(hb, info)
	m, problems, err := feeds.DecodeEvent(args, nil)
	if err != nil || problems != nil || m.Blocks != nil || !reflect.DeepEqual(m.Info, info) {
		t.Errorf("heartbeat event decodes to %+v %v %v", m, problems, err)
	}
}

func TestProblemString(t *testing.T) {
	p := feeds.Problem{Agent: "observatory.a", Feed: "f", Block: "b", Field: "x", Scope: feeds.ScopeValue,
		Index: 3, Count: 2, Reason: "value is null", Value: "null"}
	want := `agent observatory.a feed f block "b" field "x": 2 values dropped (first at sample 3): value is null (first: null)`
	if got := p.String(); got != want {
		t.Errorf("String() = %q\nwant %q", got, want)
	}
	p = feeds.Problem{Agent: "observatory.a", Feed: "f", Scope: feeds.ScopeMessage, Index: -1, Count: 1, Reason: "message is a list"}
	if got, want := p.String(), "agent observatory.a feed f: 1 message dropped: message is a list"; got != want {
		t.Errorf("String() = %q\nwant %q", got, want)
	}
	ps := []feeds.Problem{{Scope: feeds.ScopeSample, Count: 2, Points: 2}, {Scope: feeds.ScopeBlock, Count: 1, Points: 5}, {Scope: feeds.ScopeValue, Count: 4}}
	if feeds.PointsLost(ps) != 7 || feeds.Dropped(ps, feeds.ScopeValue) != 4 {
		t.Errorf("PointsLost = %d, Dropped(value) = %d", feeds.PointsLost(ps), feeds.Dropped(ps, feeds.ScopeValue))
	}
}

// TestParseJSON checks the Python-compatible JSON reader behind
// DecodeEventJSON.
func TestParseJSON(t *testing.T) {
	good := map[string]any{
		`[1, -2, 2.0, 1e16, 1E2, -0.5e-3, NaN, Infinity, -Infinity, 18446744073709551615, 0]`: []any{
			int64(1), int64(-2), 2.0, 1e16, 100.0, -0.0005, math.NaN(), math.Inf(1), math.Inf(-1), uint64(math.MaxUint64), int64(0)},
		`{"a": {"b": [true, false, null]}, "a": "last"}`: map[string]any{"a": "last"},
		`"\u00e9\ud83d\ude00\n\"\\\/\b\f\r\t"`:           "é😀\n\"\\/\b\f\r\t",
		`"\ud800x"`:                                      "\ufffdx",
		" \t\n[ ] ":                                      []any{},
		`{}`:                                             map[string]any{},
	}
	for in, want := range good {
		got, err := feeds.ParseJSON([]byte(in))
		if err != nil {
			t.Errorf("ParseJSON(%s): %v", in, err)
			continue
		}
		if !deepEqualNaN(got, want) {
			t.Errorf("ParseJSON(%s) = %#v, want %#v", in, got, want)
		}
	}
	bad := []string{``, `[`, `[1,]`, `{"a" 1}`, `{"a":1,}`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `-NaN`, `nan`, `"abc`,
		"\"a\x01\"", `"\x"`, `"\u12"`, `tru`, `[1] [2]`, `{1: 2}`, strings.Repeat("[", 1001) + strings.Repeat("]", 1001)}
	for _, in := range bad {
		if v, err := feeds.ParseJSON([]byte(in)); err == nil {
			t.Errorf("ParseJSON(%q) = %v, want an error", in, v)
		}
	}
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	if _, err := feeds.ParseJSON([]byte(deep)); err != nil {
		t.Errorf("1000 levels: %v", err)
	}
	big1, err := feeds.ParseJSON([]byte(`-9223372036854775809`))
	if b, ok := big1.(*big.Int); err != nil || !ok || b.String() != "-9223372036854775809" {
		t.Errorf("big int: %#v %v", big1, err)
	}
}

func deepEqualNaN(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y))) && math.Signbit(x) == math.Signbit(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEqualNaN(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestDecodeEventSparseBlock: a publisher cannot make the decoder allocate
// far more than it sent. A block of 200 000 timestamps whose 50 fields hold
// one value each keeps memory bounded: the short fields are dropped, and
// with them every sample.
func TestDecodeEventSparseBlock(t *testing.T) {
	const nt, nf = 200000, 50
	ts := make([]any, nt)
	for i := range ts {
		ts[i] = float64(1700000000 + i)
	}
	data := map[string]any{"full": make([]any, nt)}
	for i := range nt {
		data["full"].([]any)[i] = int64(i)
	}
	for f := range nf {
		data["f"+strconv.Itoa(f)] = []any{1.0}
	}
	message := map[string]any{"b": map[string]any{"block_name": "b", "timestamps": ts, "data": data}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, problems, err := feeds.DecodeEvent(feeds.EventArgs(message, feeds.Info{AgentAddress: "a", FeedName: "f", Record: true}), nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Blocks) != 1 || len(m.Blocks[0].Fields) != 1 || len(m.Blocks[0].Timestamps) != nt {
		t.Fatalf("want block b with only the full field, got %d blocks", len(m.Blocks))
	}
	if n := feeds.Dropped(problems, feeds.ScopeField); n != nf {
		t.Errorf("dropped fields = %d, want %d", n, nf)
	}
	// 51 fields × 200 000 values × 48 bytes would be 490 MB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
		t.Errorf("decoding allocated %d MB", alloc>>20)
	}
}
