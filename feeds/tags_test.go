package feeds_test

import (
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/feeds"
)

// TestSplitAgentAddress: address_root and instance_id are the first two
// components of agent_address, as OCS's publisher takes them
// (agent_address.split('.')[0] and [1]).
func TestSplitAgentAddress(t *testing.T) {
	for _, c := range []struct {
		addr, root, instance string
		ok                   bool
	}{
		{"observatory.fake-data1", "observatory", "fake-data1", true},
		{"test_address.test_instance", "test_address", "test_instance", true},
		{"so.site.agent1", "so", "site", true}, // a root with a dot: as OCS, not the instance id
		{"observatory.", "observatory", "", true},
		{".x", "", "x", true},
		{"standalone", "", "", false},
		{"", "", "", false},
	} {
		root, instance, ok := feeds.SplitAgentAddress(c.addr)
		if root != c.root || instance != c.instance || ok != c.ok {
			t.Errorf("SplitAgentAddress(%q) = %q, %q, %v; want %q, %q, %v", c.addr, root, instance, ok, c.root, c.instance, c.ok)
		}
	}
}

// TestTaggedWireRoundTrip: a tagged block's Wire form (influxdb_tags with
// the tags as text) decodes back to the same block, through every Go
// type a decoder may deliver.
func TestTaggedWireRoundTrip(t *testing.T) {
	for _, name := range []string{"ocs_pr467_influxdb_tags", "ocs_0_12_1_fakedata", "influxdb_tags_value_types", "ocs_pr466_single_timestamp"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name, "message.json"))
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := feeds.DecodeEventJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			back, problems, err := feeds.DecodeEvent(m.Args(), nil)
			if err != nil || problems != nil {
				t.Fatalf("DecodeEvent(Wire): %v %v", problems, err)
			}
			if a, b := marshal(t, sorted(render(m, nil, nil))), marshal(t, sorted(render(back, nil, nil))); string(a) != string(b) {
				t.Errorf("after a round trip\n%s\nwant\n%s", b, a)
			}
		})
	}
}

// TestTagValueGoTypes: tag values of every Go type a decoder may deliver
// become Python's str() of them.
func TestTagValueGoTypes(t *testing.T) {
	set := wamp.Dict{
		"_field": "v", "i": int(-1), "i32": int32(5), "u8": uint8(7), "u": uint(9), "u64": uint64(1 << 63),
		"f32": float32(0.25), "jn": json.Number("3"), "jf": json.Number("1e999"), "big": new(big.Int).Lsh(big.NewInt(1), 70),
		"b": false, "s": "x y",
	}
	message := wamp.Dict{"b": wamp.Dict{"block_name": "b", "timestamp": json.Number("1.5"), "data": wamp.Dict{"x": int(1)},
		"influxdb_tags": wamp.Dict{"x": set}}}
	m, problems, err := feeds.DecodeEvent(wamp.List{wamp.List{message, wamp.Dict(wireInfo())}}, nil)
	if err != nil || problems != nil || len(m.Blocks) != 1 {
		t.Fatalf("%+v %v %v", m, problems, err)
	}
	b := m.Blocks[0]
	want := []feeds.Tag{{Key: "b", Value: "False"}, {Key: "big", Value: "1180591620717411303424"}, {Key: "f32", Value: "0.25"},
		{Key: "i", Value: "-1"}, {Key: "i32", Value: "5"}, {Key: "jf", Value: "inf"}, {Key: "jn", Value: "3"},
		{Key: "s", Value: "x y"}, {Key: "u", Value: "9"}, {Key: "u64", Value: "9223372036854775808"}, {Key: "u8", Value: "7"}}
	if !b.Tagged() || !reflect.DeepEqual(b.Timestamps, []float64{1.5}) || len(b.Fields) != 1 || len(b.Tags) != 1 || b.Tags[0].Field != "v" ||
		!reflect.DeepEqual(b.Tags[0].Tags, want) || !reflect.DeepEqual(b.Fields[0].Values, []feeds.Value{feeds.Int(1)}) {
		t.Errorf("block %+v\nwant tags %v", b, want)
	}
}
