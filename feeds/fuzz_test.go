package feeds_test

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gammazero/nexus/v3/transport/serialize"

	"github.com/ocsflux/ocsflux/feeds"
)

// checkDecoded checks the guarantees DecodeEvent documents.
func checkDecoded(t *testing.T, m feeds.Message, problems []feeds.Problem, err error) {
	t.Helper()
	if err != nil {
		if len(m.Blocks) != 0 || problems != nil {
			t.Errorf("error %v with blocks %v or problems %v", err, m.Blocks, problems)
		}
		return
	}
	if !m.Info.Recordable() && (m.Blocks != nil || problems != nil) {
		t.Errorf("feed not recordable but blocks %v, problems %v", m.Blocks, problems)
	}
	for _, b := range m.Blocks {
		n := len(b.Timestamps)
		if n == 0 {
			t.Errorf("block %q without samples", b.Name)
		}
		if _, _, ok := feeds.SplitAgentAddress(m.Info.AgentAddress); b.Tagged() && (m.Info.AgentClass == nil || !ok) {
			t.Errorf("tagged block %q without agent_class or address_root.instance_id", b.Name)
		}
		if b.Tagged() && len(b.Tags) != len(b.Fields) {
			t.Errorf("block %q: %d tag sets for %d fields", b.Name, len(b.Tags), len(b.Fields))
		}
		for _, ts := range b.Tags {
			for _, tag := range ts.Tags {
				if tag.Key == feeds.FieldTag || tag.Key == feeds.TagFeed || tag.Key == feeds.TagAddressRoot || tag.Key == feeds.TagInstanceID {
					t.Errorf("block %q: tag %q", b.Name, tag.Key)
				}
			}
		}
		for _, ts := range b.Timestamps {
			if p := ts * 1e9; !(p > -(1<<63) && p < 1<<63) {
				t.Errorf("block %q: timestamp %v is not a valid InfluxDB time", b.Name, ts)
			}
		}
		for _, f := range b.Fields {
			if err := feeds.VerifyFieldName(f.Name); err != nil {
				t.Errorf("block %q: field %q: %v", b.Name, f.Name, err)
			}
			if len(f.Values) != n {
				t.Errorf("block %q field %q: %d values for %d timestamps", b.Name, f.Name, len(f.Values), n)
			}
			for _, v := range f.Values {
				if v.Kind > feeds.KindString {
					t.Errorf("block %q field %q: kind %d", b.Name, f.Name, v.Kind)
				}
				if v.Kind == feeds.KindFloat && (math.IsNaN(v.F) || math.IsInf(v.F, 0)) {
					t.Errorf("block %q field %q: non-finite float %v", b.Name, f.Name, v.F)
				}
			}
		}
		for i := range n {
			has := false
			for _, f := range b.Fields {
				has = has || (i < len(f.Values) && f.Values[i].Kind != feeds.KindInvalid)
			}
			if !has {
				t.Errorf("block %q: sample %d has no value", b.Name, i)
			}
		}
	}
	absent := 0
	for _, b := range m.Blocks {
		for _, f := range b.Fields {
			for _, v := range f.Values {
				if v.Kind == feeds.KindInvalid {
					absent++
				}
			}
		}
	}
	if absent > feeds.Dropped(problems, feeds.ScopeValue) {
		t.Errorf("%d absent values but only %d reported", absent, feeds.Dropped(problems, feeds.ScopeValue))
	}
	for _, p := range problems {
		if p.Count <= 0 || p.Scope < feeds.ScopeMessage || p.Scope > feeds.ScopeValue || p.Reason == "" ||
			p.Agent != m.Info.AgentAddress || p.Feed != m.Info.FeedName {
			t.Errorf("bad problem %+v", p)
		}
	}
}

func addGoldenSeeds(f *testing.F, encode func([]byte) []byte) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*", "message.json"))
	if len(paths) == 0 {
		f.Fatal("no golden cases to seed the fuzzer")
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if seed := encode(data); seed != nil {
			f.Add(seed)
		}
	}
}

// FuzzDecodeEventJSON: never panics, keeps the documented guarantees, and
// agrees with DecodeEvent on the same content read as a plain tree.
func FuzzDecodeEventJSON(f *testing.F) {
	addGoldenSeeds(f, func(b []byte) []byte { return b })
	f.Add([]byte(`[[{"b":{"block_name":"b","timestamps":[1,NaN],"data":{"x":[1,-Infinity],"y":[null]}}},` +
		`{"agent_address":"a","agg_params":{"exclude_influx":0},"feed_name":"f","address":"a.feeds.f","record":true,"session_id":"1.0","agent_class":null}]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, problems, err := feeds.DecodeEventJSON(data)
		checkDecoded(t, m, problems, err)
		tree, perr := feeds.ParseJSON(data)
		args, ok := tree.([]any)
		if perr != nil || !ok {
			if err == nil {
				t.Errorf("DecodeEventJSON accepted what ParseJSON rejects (%v)", perr)
			}
			return
		}
		m2, p2, err2 := feeds.DecodeEvent(args, nil)
		a, b := sorted(render(m, problems, err)), sorted(render(m2, p2, err2))
		if !reflect.DeepEqual(a, b) {
			t.Errorf("DecodeEventJSON and DecodeEvent differ:\n%s\n%s", marshal(t, a), marshal(t, b))
		}
	})
}

// FuzzDecodeEvent decodes arbitrary msgpack (as nexus's serializer delivers
// it) as an event's arguments: never panics, keeps the guarantees.
func FuzzDecodeEvent(f *testing.F) {
	s := &serialize.MessagePackSerializer{}
	addGoldenSeeds(f, func(b []byte) []byte {
		tree, err := feeds.ParseJSON(b)
		if err != nil || containsBig(tree) {
			return nil
		}
		out, err := s.SerializeDataItem(tree)
		if err != nil {
			f.Fatal(err)
		}
		return out
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if err := s.DeserializeDataItem(data, &v); err != nil {
			return
		}
		args, ok := v.([]any)
		if !ok {
			args = []any{v}
		}
		m, problems, err := feeds.DecodeEvent(args, nil)
		checkDecoded(t, m, problems, err)
	})
}
