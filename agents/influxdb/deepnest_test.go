package influxdb_test

import (
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// TestDeeplyNestedEventCounted: a feed event nesting a value deeper than
// the WAMP decoder allows (1023 levels) is counted in events_dropped and
// logged with its topic and the reason, at warn level; before, the client
// library dropped it at debug level and nothing counted it.
func TestDeeplyNestedEventCounted(t *testing.T) {
	srv := influxtest.Start(t)
	r := startRouter(t)
	ia := startInflux(t, r, testOptions(srv.URL, "deep", "record"), "", nil)
	ia.waitRecording(t)
	c, err := r.ConnectLocal(client.Config{}) // the router's own decoder would refuse it from a WebSocket client
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	const agent = testRoot + ".deep"
	var v any = 1.5
	for range 1100 {
		v = []any{v}
	}
	info := map[string]any{"agent_address": agent, "feed_name": "f", "record": true, "agg_params": map[string]any{},
		"address": agent + ".feeds.f", "session_id": "1", "agent_class": "DeepAgent"}
	msg := map[string]any{"b": map[string]any{"block_name": "b", "timestamps": []any{1.8e9},
		"data": map[string]any{"x": []any{v}, "y": []any{0.25}}}}
	next := time.Now()
	waitFor(t, 10*time.Second, "the deep event logged", func() bool {
		if time.Now().After(next) { // until the subscription is surely in place
			next = time.Now().Add(200 * time.Millisecond)
			if err := c.Publish(agent+".feeds.f", nil, wamp.List{wamp.List{msg, info}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		return len(ia.logs.lines("level=WARN", "cannot decode", "topic="+agent+".feeds.f", "nested deeper than 1023 levels")) > 0
	})
	ia.waitSession(t, "events_dropped counted", 5*time.Second, func(s map[string]any) bool {
		d, _ := s["data"].(map[string]any)
		n, _ := asInt(d["events_dropped"])
		return n >= 1
	})
}
