package feeds_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/feeds"
)

// msgpackEvent builds a recorded feed event of one block with the given
// samples × float fields and returns its arguments as a msgpack subscriber
// receives them from nexus.
func msgpackEvent(b *testing.B, samples, fields int) (wamp.List, wamp.Dict) {
	b.Helper()
	ts := make([]any, samples)
	for i := range ts {
		ts[i] = 1795298321.578768 + 0.2*float64(i)
	}
	data := map[string]any{}
	for f := range fields {
		vals := make([]any, samples)
		for i := range vals {
			vals[i] = 0.1 + 0.001*float64(f) + 0.0001*float64(i)
		}
		data[fmt.Sprintf("channel_%02d", f)] = vals
	}
	class := "FakeDataAgent"
	info := feeds.Info{AgentAddress: "observatory.fake-data1", AggParams: map[string]any{"frame_length": 60},
		FeedName: "false_temperatures", Address: "observatory.fake-data1.feeds.false_temperatures", Record: true,
		SessionID: "1795294463.5561733", AgentClass: &class}
	message := map[string]any{"temps": map[string]any{"block_name": "temps", "data": data, "timestamps": ts}}
	s := &serialize.MessagePackSerializer{}
	raw, err := s.Serialize(&wamp.Event{Subscription: 1, Publication: 2, Details: wamp.Dict{}, Arguments: feeds.EventArgs(message, info)})
	if err != nil {
		b.Fatal(err)
	}
	msg, err := s.Deserialize(raw)
	if err != nil {
		b.Fatal(err)
	}
	ev := msg.(*wamp.Event)
	return ev.Arguments, ev.ArgumentsKw
}

func reportPoints(b *testing.B, pointsPerOp int) {
	points := float64(b.N) * float64(pointsPerOp)
	b.ReportMetric(points/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/points, "ns/point")
}

// BenchmarkDecodeEvent decodes msgpack-decoded feed events: 10 samples × 10
// float fields, and a single sample of 10 fields.
func BenchmarkDecodeEvent(b *testing.B) {
	for _, size := range []struct{ samples, fields int }{{10, 10}, {1, 10}} {
		b.Run(fmt.Sprintf("%dsamples_x_%dfields", size.samples, size.fields), func(b *testing.B) {
			args, kwargs := msgpackEvent(b, size.samples, size.fields)
			b.ReportAllocs()
			for b.Loop() {
				m, problems, err := feeds.DecodeEvent(args, kwargs)
				if err != nil || problems != nil || len(m.Blocks) != 1 {
					b.Fatalf("decode: %v %v", err, problems)
				}
			}
			reportPoints(b, size.samples)
		})
	}
}

// BenchmarkDecodeEventJSON decodes the reference FakeDataAgent event (16
// channels × 15 samples) from JSON text.
func BenchmarkDecodeEventJSON(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "fakedata_event", "message.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := feeds.DecodeEventJSON(data); err != nil {
			b.Fatal(err)
		}
	}
	reportPoints(b, 15)
}
