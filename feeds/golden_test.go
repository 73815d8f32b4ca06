package feeds_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/feeds"
)

var update = flag.Bool("update", false, "rewrite feeds/testdata/*/expected.json from the decoder's output")

// golden is the expected.json format: the decoded message, its problems, or
// the error.
type golden struct {
	Error      string          `json:"error,omitempty"`
	Info       *goldenInfo     `json:"info,omitempty"`
	Recordable bool            `json:"recordable"`
	Blocks     []goldenBlock   `json:"blocks"`
	Problems   []feeds.Problem `json:"problems"`
}

// goldenInfo is feeds.Info with agg_params values written as typed strings
// (see renderAny), so that their Go types are checked too.
type goldenInfo struct {
	AgentAddress string         `json:"agent_address"`
	AggParams    map[string]any `json:"agg_params"`
	FeedName     string         `json:"feed_name"`
	Address      string         `json:"address"`
	Record       bool           `json:"record"`
	SessionID    string         `json:"session_id"`
	AgentClass   *string        `json:"agent_class"`
}

// renderAny writes a decoded value with its Go type: "integer:60",
// "float:2.0", "uint64:...", "bigint:...", "string:x"; lists and objects
// recursively; bool and null as themselves.
func renderAny(v any) any {
	switch x := v.(type) {
	case nil, bool:
		return x
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = renderAny(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = renderAny(e)
		}
		return l
	case float64:
		return "float:" + feeds.FormatFloatRepr(x)
	case int64:
		return "integer:" + strconv.FormatInt(x, 10)
	case uint64:
		return "uint64:" + strconv.FormatUint(x, 10)
	case *big.Int:
		return "bigint:" + x.String()
	case string:
		return "string:" + x
	}
	return "unexpected " + reflect.TypeOf(v).String()
}

type goldenBlock struct {
	Name       string        `json:"name"`
	Timestamps []float64     `json:"timestamps"`
	Fields     []goldenField `json:"fields"`
	Tagged     bool          `json:"tagged,omitempty"`
}

// goldenField lists values as "<kind>:<value>" (floats in Python repr), or
// "absent" for KindInvalid; in a tagged block, its '_field' and its tags as
// [key, value] pairs.
type goldenField struct {
	Name   string      `json:"name"`
	Values []string    `json:"values"`
	Key    string      `json:"key,omitempty"`
	Tags   [][2]string `json:"tags,omitempty"`
}

func renderValue(v feeds.Value) string {
	switch v.Kind {
	case feeds.KindFloat:
		return "float:" + feeds.FormatFloatRepr(v.F)
	case feeds.KindInt:
		return "integer:" + strconv.FormatInt(v.I, 10)
	case feeds.KindBool:
		return "boolean:" + strconv.FormatBool(v.B)
	case feeds.KindString:
		return "string:" + v.S
	case feeds.KindInvalid:
		return "absent"
	}
	return "bad kind " + strconv.Itoa(int(v.Kind))
}

func render(m feeds.Message, problems []feeds.Problem, err error) golden {
	if err != nil {
		return golden{Error: err.Error(), Blocks: []goldenBlock{}, Problems: []feeds.Problem{}}
	}
	info := goldenInfo{AgentAddress: m.Info.AgentAddress, FeedName: m.Info.FeedName, Address: m.Info.Address,
		Record: m.Info.Record, SessionID: m.Info.SessionID, AgentClass: m.Info.AgentClass}
	if m.Info.AggParams != nil {
		info.AggParams = renderAny(m.Info.AggParams).(map[string]any)
	}
	g := golden{Info: &info, Recordable: m.Info.Recordable(), Blocks: []goldenBlock{}, Problems: problems}
	if g.Problems == nil {
		g.Problems = []feeds.Problem{}
	}
	for _, b := range m.Blocks {
		gb := goldenBlock{Name: b.Name, Timestamps: b.Timestamps, Fields: []goldenField{}, Tagged: b.Tagged()}
		if b.Tags != nil && len(b.Tags) != len(b.Fields) {
			gb.Name += fmt.Sprintf(" (%d tag sets for %d fields)", len(b.Tags), len(b.Fields))
		}
		for i, f := range b.Fields {
			gf := goldenField{Name: f.Name, Values: []string{}}
			for _, v := range f.Values {
				gf.Values = append(gf.Values, renderValue(v))
			}
			if i < len(b.Tags) {
				gf.Key = b.Tags[i].Field
				for _, t := range b.Tags[i].Tags {
					gf.Tags = append(gf.Tags, [2]string{t.Key, t.Value})
				}
			}
			gb.Fields = append(gb.Fields, gf)
		}
		g.Blocks = append(g.Blocks, gb)
	}
	return g
}

func marshal(t *testing.T, g golden) []byte {
	t.Helper()
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return append(out, '\n')
}

// sorted returns g with blocks, fields and tags by name and problems in a
// fixed order: what DecodeEvent gives for content whose order Go maps lost.
func sorted(g golden) golden {
	g.Blocks = slices.Clone(g.Blocks)
	slices.SortStableFunc(g.Blocks, func(a, b goldenBlock) int { return cmp.Compare(a.Name, b.Name) })
	for i := range g.Blocks {
		g.Blocks[i].Fields = slices.Clone(g.Blocks[i].Fields)
		slices.SortStableFunc(g.Blocks[i].Fields, func(a, b goldenField) int { return cmp.Compare(a.Name, b.Name) })
		for j := range g.Blocks[i].Fields {
			f := &g.Blocks[i].Fields[j]
			f.Tags = slices.Clone(f.Tags)
			slices.SortStableFunc(f.Tags, func(a, b [2]string) int { return cmp.Compare(a[0], b[0]) })
		}
	}
	g.Problems = slices.Clone(g.Problems)
	slices.SortStableFunc(g.Problems, func(a, b feeds.Problem) int {
		return cmp.Or(cmp.Compare(a.Block, b.Block), cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Index, b.Index))
	})
	return g
}

func containsBig(v any) bool {
	switch x := v.(type) {
	case *big.Int:
		return true
	case []any:
		return slices.ContainsFunc(x, containsBig)
	case map[string]any:
		for _, e := range x {
			if containsBig(e) {
				return true
			}
		}
	}
	return false
}

// viaSerializer sends args through a nexus serializer as an EVENT, the way a
// subscriber receives them, and decodes the result.
func viaSerializer(t *testing.T, s serialize.Serializer, args []any) (feeds.Message, []feeds.Problem, error) {
	t.Helper()
	data, err := s.Serialize(&wamp.Event{Subscription: 1, Publication: 2, Details: wamp.Dict{}, Arguments: args})
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	msg, err := s.Deserialize(data)
	if err != nil {
		t.Fatalf("deserialize: %v", err)
	}
	ev, ok := msg.(*wamp.Event)
	if !ok {
		t.Fatalf("deserialized %T, want *wamp.Event", msg)
	}
	return feeds.DecodeEvent(ev.Arguments, ev.ArgumentsKw)
}

// TestGolden walks feeds/testdata/<case>/message.json (a feed event's WAMP
// arguments as JSON text) and compares DecodeEventJSON's result with
// expected.json. It then checks that the same content decoded by other
// routes gives the same result except for order: as a plain tree
// (ParseJSON), through encoding/json with UseNumber, and through nexus's
// msgpack and CBOR serializers.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "message.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, path := range dirs {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := render(feeds.DecodeEventJSON(data))
			got := marshal(t, want)
			expPath := filepath.Join(dir, "expected.json")
			if *update {
				if err := os.WriteFile(expPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			exp, err := os.ReadFile(expPath)
			if err != nil {
				t.Fatalf("%v (run go test ./feeds -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, exp) {
				t.Errorf("DecodeEventJSON(%s) =\n%s\nwant (%s)\n%s", path, got, expPath, exp)
			}

			tree, err := feeds.ParseJSON(data)
			if err != nil {
				if want.Error == "" {
					t.Errorf("ParseJSON failed (%v) but DecodeEventJSON did not", err)
				}
				return
			}
			args, ok := tree.([]any)
			if !ok {
				if want.Error == "" {
					t.Errorf("args are %T but DecodeEventJSON did not fail", tree)
				}
				return
			}
			wantSorted := marshal(t, sorted(want))
			check := func(route string, m feeds.Message, p []feeds.Problem, err error) {
				t.Helper()
				if got := marshal(t, sorted(render(m, p, err))); !bytes.Equal(got, wantSorted) {
					t.Errorf("%s gives\n%s\nwant (DecodeEventJSON, sorted)\n%s", route, got, wantSorted)
				}
			}
			m, p, err := feeds.DecodeEvent(args, nil)
			check("DecodeEvent(ParseJSON)", m, p, err)

			if json.Valid(data) {
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.UseNumber()
				var v []any
				if err := dec.Decode(&v); err != nil {
					t.Fatalf("encoding/json: %v", err)
				}
				m, p, err := feeds.DecodeEvent(v, nil)
				check("DecodeEvent(encoding/json UseNumber)", m, p, err)
			}

			if containsBig(args) {
				t.Logf("not sent through msgpack/CBOR: holds an integer beyond 64 bits, which Python cannot send there either")
				return
			}
			m, p, err = viaSerializer(t, &serialize.MessagePackSerializer{}, args)
			check("nexus msgpack", m, p, err)
			m, p, err = viaSerializer(t, &serialize.CBORSerializer{}, args)
			check("nexus CBOR", m, p, err)
		})
	}
}

// TestSerializersKeepNumberTypes checks value fidelity (ocs-protocol.md
// §1.1, checklist 2) for the binary serializers: an int published by a
// Python agent stays an integer and 2.0 stays a float.
func TestSerializersKeepNumberTypes(t *testing.T) {
	info := feeds.Info{AgentAddress: "observatory.a", FeedName: "f", Address: "observatory.a.feeds.f",
		Record: true, SessionID: "1.0"}
	message := map[string]any{"b": map[string]any{
		"block_name": "b",
		"timestamps": []any{1.0, 2.0, 3.0},
		"data": map[string]any{
			"i": []any{int64(2), int64(-3), uint64(9223372036854775807)},
			"f": []any{2.0, 1e16, float32(0.5)},
			"u": []any{uint64(18446744073709551615), int64(1), int64(0)},
		},
	}}
	for name, s := range map[string]serialize.Serializer{
		"msgpack": &serialize.MessagePackSerializer{}, "cbor": &serialize.CBORSerializer{},
	} {
		t.Run(name, func(t *testing.T) {
			m, problems, err := viaSerializer(t, s, feeds.EventArgs(message, info))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Blocks) != 1 || len(m.Blocks[0].Fields) != 3 {
				t.Fatalf("blocks = %+v", m.Blocks)
			}
			f, i, u := m.Blocks[0].Fields[0], m.Blocks[0].Fields[1], m.Blocks[0].Fields[2]
			wantF := []feeds.Value{feeds.Float(2), feeds.Float(1e16), feeds.Float(0.5)}
			wantI := []feeds.Value{feeds.Int(2), feeds.Int(-3), feeds.Int(9223372036854775807)}
			wantU := []feeds.Value{{}, feeds.Int(1), feeds.Int(0)}
			if !reflect.DeepEqual(f.Values, wantF) || !reflect.DeepEqual(i.Values, wantI) || !reflect.DeepEqual(u.Values, wantU) {
				t.Errorf("f=%v i=%v u=%v, want %v %v %v", f.Values, i.Values, u.Values, wantF, wantI, wantU)
			}
			if len(problems) != 1 || problems[0].Field != "u" || problems[0].Scope != feeds.ScopeValue {
				t.Errorf("problems = %v, want one for the uint64 above MaxInt64 in u", problems)
			}
		})
	}
}
